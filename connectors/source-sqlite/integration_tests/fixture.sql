-- Test database of the acceptance tests (integration_tests/acceptance-setup.sh builds it).
-- No DATETIME/TIMESTAMP column yet: source-sqlite reads them as zone-less
-- date-time ("2024-01-01T10:00:00", as Airbyte's timestamp_without_timezone),
-- which CAT accepts but `sluice test` (lib/schema.c is_date_time) rejects.
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active BOOLEAN, score REAL, updated_at TEXT);
INSERT INTO users VALUES
  (1, 'Ada', 1, 9.5, '2024-01-01T10:00:00Z'),
  (2, 'Grace', 0, 7.25, '2024-01-02T11:30:00Z'),
  (3, 'Linus', 1, NULL, '2024-01-03T09:15:00Z');
CREATE TABLE orders (user_id INTEGER NOT NULL, line INTEGER NOT NULL, item TEXT, placed_on DATE,
  PRIMARY KEY (user_id, line));
INSERT INTO orders VALUES (1, 1, 'book', '2024-02-01'), (1, 2, 'pen', '2024-02-03'), (2, 1, 'lamp', '2024-02-02');
