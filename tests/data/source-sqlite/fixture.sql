-- source-sqlite e2e fixture: every type family, a view, reserved and mixed-case names.
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, active BOOLEAN,
  born DATE, wakes TIME, updated_at DATETIME, photo BLOB, price DECIMAL(10,2), doc JSON, big BIGINT);
INSERT INTO users VALUES
  (1, 'Ada', 1.5, 1, '1815-12-10', '07:30:00', '2024-01-01 10:00:00', x'00ff10', 12.25, '{"a":1}', 9223372036854775807),
  (2, 'Alan', NULL, 0, NULL, NULL, '2024-01-02 10:00:00', NULL, 3, NULL, -9223372036854775808),
  (3, 'Grace', 'not a number', 1, NULL, NULL, '2024-01-02 10:00:00', NULL, NULL, NULL, NULL),
  (4, 'nul' || char(0) || 'byte', 2, 0, NULL, NULL, '2024-01-03 10:00:00', NULL, NULL, NULL, NULL),
  (5, CAST(x'41ff42' AS TEXT), 3, 1, NULL, NULL, '2024-01-04 10:00:00', NULL, NULL, NULL, NULL);
CREATE TABLE "Order"("select" TEXT, "MixedCase" INT, "from" INTEGER, PRIMARY KEY("from"));
INSERT INTO "Order" VALUES ('a', 1, 10), ('b', 2, 20);
CREATE TABLE events(kind TEXT, at INTEGER);
INSERT INTO events VALUES ('x', 1), ('y', 1), ('z', 2), ('w', 2), ('v', 3);
CREATE TABLE pairs(a INTEGER, b TEXT, v TEXT, PRIMARY KEY(a, b)) WITHOUT ROWID;
INSERT INTO pairs VALUES (1, 'a', 'p'), (1, 'b', 'q'), (2, 'a', 'r');
CREATE VIEW grown_ups AS SELECT id, name FROM users WHERE id <= 2;
