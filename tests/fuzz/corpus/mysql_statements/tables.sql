-- table: orders
-- sql_mode: STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION
-- character_set_client: utf8mb4
-- collation_connection: utf8mb4_general_ci
CREATE TABLE `orders` (
  `id` int(11) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- table: t2
CREATE TABLE `t2` (`a` text);
