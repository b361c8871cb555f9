-- source-postgres e2e fixture: every mapped type, edge values, awkward names.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE types (
  id serial PRIMARY KEY, i2 smallint, i4 posint, i8 bigint, f4 real, f8 double precision,
  n numeric(30,10), nn numeric, b boolean, d date, t time, ttz timetz, ts timestamp,
  tstz timestamptz, u uuid, j json, jb jsonb, ai int[], at text[], by bytea, m mood, tx text,
  iv interval, vc varchar(10), ch char(3));
INSERT INTO types (i2, i4, i8, f4, f8, n, nn, b, d, t, ttz, ts, tstz, u, j, jb, ai, at, by, m, tx, iv, vc, ch) VALUES
 (32767, 1, 9223372036854775807, 1.5, 0.1, 12345678901234567890.0123456789, 'NaN', true,
  '2024-01-31', '12:34:56.789', '12:00:00+05:30', '2024-01-31 12:34:56.123456',
  '2024-01-31 12:34:56+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2], "s": "\u0000x"}',
  '{"b": null, "k": [true]}', '{1,2,NULL}', '{"a b","c\"d",NULL,"NULL","","{x}"}',
  '\x00ff0a5c09', 'happy', E'tab\there\nnewline \\ back \u00e9 \U0001F600 "q"', 'P1DT2H', 'short', 'ab'),
 (-32768, 2147483647, -9223372036854775808, 'NaN', '-Infinity', -0.0000000001,
  1e-20, false, 'infinity', '00:00:00', '23:59:59-08', '-infinity', '1999-12-31 23:59:59.999999+00',
  NULL, '[]', '"str"', '{{1,2},{3,4}}', '{}', '', 'sad', '', '-1 year', '', NULL),
 (NULL, NULL, NULL, 3.4e38, 1.7976931348623157e308, NULL,
  (repeat('9', 200) || '.5')::numeric, NULL, '0044-03-15 BC', NULL, NULL, '2000-02-29 00:00:00', 'infinity',
  NULL, 'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- Reserved words and mixed case as table and column names.
CREATE TABLE "Select" ("From" int PRIMARY KEY, "order" text, "Group By" timestamp, "user" int);
INSERT INTO "Select" SELECT g, 'o' || g, '2024-01-01'::timestamp + g * interval '1 minute', g % 3
  FROM generate_series(1, 30) g;
-- Keyset resume: 1000 rows in primary key order; cursor ties every 10 rows.
CREATE TABLE events (id int PRIMARY KEY, upd timestamp NOT NULL, note text);
INSERT INTO events SELECT g, '2024-01-01'::timestamp + (g / 10) * interval '1 hour', 'e' || g
  FROM generate_series(1, 1000) g;
-- No primary key: resumed by ctid (full refresh) or by cursor alone.
CREATE TABLE logs (seq int, msg text);
INSERT INTO logs SELECT g, 'm' || g FROM generate_series(1, 500) g;
CREATE VIEW recent AS SELECT id, note FROM events WHERE id > 990;
CREATE SCHEMA other;
CREATE TABLE other.things (id int PRIMARY KEY, name text);
INSERT INTO other.things VALUES (1, 'one'), (2, 'two');
