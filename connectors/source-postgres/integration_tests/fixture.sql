-- Test tables of the acceptance tests (integration_tests/acceptance-setup.sh loads them).
-- No `timestamp` (without time zone) column yet: source-postgres reads it as
-- zone-less date-time (Airbyte's timestamp_without_timezone), which CAT
-- accepts but `sluice test` (lib/schema.c is_date_time) rejects.
CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, active boolean, balance numeric(10,2),
  tags text[], updated_at timestamptz NOT NULL);
INSERT INTO users VALUES
  (1, 'Ada', true, 10.50, '{math,engines}', '2024-01-01 10:00:00+00'),
  (2, 'Grace', false, 0.00, '{}', '2024-01-02 11:30:00+00'),
  (3, 'Linus', true, NULL, NULL, '2024-01-03 09:15:00+00');
CREATE TABLE orders (user_id integer NOT NULL, line integer NOT NULL, item text, placed_on date,
  PRIMARY KEY (user_id, line));
INSERT INTO orders VALUES (1, 1, 'book', '2024-02-01'), (1, 2, 'pen', '2024-02-03'), (2, 1, 'lamp', '2024-02-02');
