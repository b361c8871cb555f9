-- Test tables of the acceptance tests (integration_tests/acceptance-setup.sh loads them).
-- No DATETIME column yet: source-mysql reads it as zone-less date-time
-- ("2024-01-01T10:00:00.000000", Airbyte's timestamp_without_timezone), which
-- CAT accepts but `sluice test` (lib/schema.c is_date_time) rejects.
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, active TINYINT(1), balance DECIMAL(10,2),
  updated_at TIMESTAMP NOT NULL DEFAULT '2024-01-01 00:00:00');
INSERT INTO users VALUES
  (1, 'Ada', 1, 10.50, '2024-01-01 10:00:00'),
  (2, 'Grace', 0, 0.00, '2024-01-02 11:30:00'),
  (3, 'Linus', 1, NULL, '2024-01-03 09:15:00');
CREATE TABLE orders (user_id INT NOT NULL, line INT NOT NULL, item VARCHAR(40), placed_on DATE,
  PRIMARY KEY (user_id, line));
INSERT INTO orders VALUES (1, 1, 'book', '2024-02-01'), (1, 2, 'pen', '2024-02-03'), (2, 1, 'lamp', '2024-02-02');
