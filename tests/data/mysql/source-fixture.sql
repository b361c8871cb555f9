-- source-mysql e2e fixture: every type family, a view, reserved and mixed-case names.
SET NAMES utf8mb4;
CREATE TABLE users (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  score DOUBLE,
  ratio FLOAT,
  active TINYINT(1),
  small TINYINT UNSIGNED,
  huge BIGINT UNSIGNED,
  price DECIMAL(30,10),
  born DATE,
  wakes TIME(3),
  updated_at DATETIME(6),
  seen TIMESTAMP NULL,
  doc JSON,
  photo VARBINARY(16),
  mood ENUM('happy','it''s fine','sad'),
  tags SET('a','b'),
  flag BIT(1),
  mask BIT(12),
  bio TEXT
) DEFAULT CHARSET=utf8mb4;
INSERT INTO users VALUES
 (1, 'Ada', 1.5, 1.1, 1, 255, 18446744073709551615, 12345678901234567890.0123456789, '1815-12-10', '07:30:00.125',
  '2024-01-01 10:00:00.000000', '2024-01-01 10:00:00', '{"a": [1, 2]}', X'00FF10', 'it''s fine', 'a,b', b'1', b'101000000001', 'nul\0byte'),
 (2, 'Alan', NULL, NULL, 0, 0, 0, -0.5, NULL, NULL, '2024-01-02 10:00:00.000000', NULL, NULL, NULL, NULL, '', b'0', b'0', NULL),
 (3, 'Grace', -2.5e300, 0, NULL, NULL, NULL, NULL, '0000-00-00', '-838:59:59', '2024-01-02 10:00:00.000000', NULL, '[]', X'', 'sad', NULL, NULL, NULL, '日本語'),
 (4, 'Linus', 0, NULL, NULL, NULL, NULL, 0, '2000-02-29', '23:59:59', '2024-01-03 10:00:00.500000', NULL, NULL, NULL, 'happy', NULL, NULL, NULL, ''),
 (5, 'Barbara', 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-01-04 10:00:00.000000', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE `Order` (`select` VARCHAR(10), `MixedCase` INT, `from` INT NOT NULL, PRIMARY KEY (`from`)) DEFAULT CHARSET=utf8mb4;
INSERT INTO `Order` VALUES ('a', 1, 10), ('b', 2, 20);
CREATE TABLE events (kind VARCHAR(5), at INT) DEFAULT CHARSET=utf8mb4;
INSERT INTO events VALUES ('x', 1), ('y', 1), ('z', 2), ('w', 2), ('v', 3);
CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(5) NOT NULL, v VARCHAR(5), PRIMARY KEY (a, b)) DEFAULT CHARSET=utf8mb4;
INSERT INTO pairs VALUES (1, 'a', 'p'), (1, 'B', 'q'), (2, 'a', 'r');
CREATE VIEW grown_ups AS SELECT id, name FROM users WHERE id <= 2;
