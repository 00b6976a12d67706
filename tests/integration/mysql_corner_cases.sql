-- Corner cases for the MySQL/MariaDB dump and restore round trip.  Loaded by
-- tests/integration/mysql_test.sh into an empty database with the mariadb
-- client (it uses DELIMITER); compared after the round trip by
-- mysql_compare.sh.  Written for MariaDB 10.11 (Debian 12); the UUID column
-- falls back to CHAR(36) on servers without the UUID type.
SET NAMES utf8mb4;
SET time_zone = '+00:00';
SET SESSION max_recursive_iterations = 1000000;
SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION';
SET foreign_key_checks = 0;

-- ---------------------------------------------------------------------------
-- Binary strings: every byte value, the TSV escapes (\0 \b \n \r \t \Z \\),
-- the NULL lookalikes, and BINARY padding.
-- ---------------------------------------------------------------------------
CREATE TABLE bin_data (
    id   INT NOT NULL PRIMARY KEY,
    b    BLOB,
    vb   VARBINARY(300),
    fb   BINARY(8),
    tb   TINYBLOB,
    lb   LONGBLOB,
    note VARCHAR(40)
) ENGINE=InnoDB;

INSERT INTO bin_data VALUES
 (1, X'00', X'00', X'00', X'00', X'00', 'single NUL'),
 (2, X'1A', X'1A1A', X'1A', X'1A', X'1A', 'ctrl-Z (\\Z)'),
 (3, X'5C', X'5C5C', X'5C4E', X'5C', X'5C4E', 'backslash, backslash-N'),
 (4, X'09', X'0A', X'0D', X'08', X'090A0D08005C1A', 'tab, newline, CR, backspace'),
 (5, '', '', '', '', '', 'empty strings'),
 (6, NULL, NULL, NULL, NULL, NULL, 'all NULL'),
 (7, 'NULL', 'NULL', 'NULL', 'NULL', 'NULL', 'the string NULL'),
 (8, '\\N', '\\N', '\\N', '\\N', '\\N', 'backslash N'),
 (9, X'FF00FE01', X'C3A9FF', X'0000000000000000', X'80', X'EFBBBF', 'invalid UTF-8, BOM'),
 (10, NULL, X'0D0A0D0A', X'2020', X'0A', NULL, 'CRLF, spaces padded in BINARY'),
 (11, X'5C30', X'5C74', X'5C6E', X'5C5A', X'5C5C5C', 'literal backslash sequences'),
 (12, X'22272C3B60', X'2527', X'60', X'27', X'222227', 'quotes, comma, semicolon, backtick');

-- Every byte 0..255 in one value, and a 1 MB blob of all bytes repeated.
INSERT INTO bin_data (id, b, vb, lb, note)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 255)
SELECT 13, GROUP_CONCAT(CHAR(i USING binary) ORDER BY i SEPARATOR ''),
       GROUP_CONCAT(CHAR(255 - i USING binary) ORDER BY i SEPARATOR ''),
       REPEAT(GROUP_CONCAT(CHAR(i USING binary) ORDER BY i SEPARATOR ''), 4096),
       'all 256 bytes'
FROM n;

-- ---------------------------------------------------------------------------
-- BIT, ENUM, SET
-- ---------------------------------------------------------------------------
CREATE TABLE bits (
    id  INT NOT NULL PRIMARY KEY,
    b1  BIT(1),
    b7  BIT(7),
    b64 BIT(64),
    b64d BIT(64) NOT NULL DEFAULT b'1010'
);
INSERT INTO bits VALUES
 (1, b'0', b'0', b'0', b'0'),
 (2, b'1', b'1111111', b'1111111111111111111111111111111111111111111111111111111111111111', b'1'),
 (3, NULL, NULL, NULL, DEFAULT),
 (4, b'1', b'1011010', b'1000000000000000000000000000000000000000000000000000000000000000', b'0111111111111111111111111111111111111111111111111111111111111111'),
 (5, b'0', b'0001010', b'0000000000000000000000000000000000000000000000000000000000001010', b'0000000000000000000000000000000000000000000000000000000001011100');

CREATE TABLE enums_sets (
    id INT NOT NULL PRIMARY KEY,
    e  ENUM('small', 'medium', 'large', '', 'with space', 'quote''s', 'tab	in', 'ünï'),
    s  SET('a', 'b', 'c', 'd e', 'ß'),
    en ENUM('x', 'y') NOT NULL DEFAULT 'y'
) DEFAULT CHARSET=utf8mb4;
INSERT INTO enums_sets VALUES
 (1, 'small', 'a', 'x'),
 (2, '', '', 'y'),
 (3, NULL, NULL, 'x'),
 (4, 'with space', 'a,c', 'y'),
 (5, 'quote''s', 'a,b,c,d e,ß', 'x'),
 (6, 'tab	in', 'd e', 'y'),
 (7, 'ünï', 'ß,a', DEFAULT);

-- ---------------------------------------------------------------------------
-- JSON (in MariaDB an alias of LONGTEXT with a JSON_VALID check)
-- ---------------------------------------------------------------------------
CREATE TABLE json_doc (
    id INT NOT NULL PRIMARY KEY,
    j  JSON,
    jn JSON NOT NULL
);
INSERT INTO json_doc VALUES
 (1, '{"a": 1, "b": [1, 2, {"c": null}], "s": "tab\\tnewline\\nquote\\"bs\\\\"}', '{}'),
 (2, NULL, 'null'),
 (3, '"just a string with emoji 😀 and \\u00e9"', '[]'),
 (4, '[1.5e300, -0, 12345678901234567890, true, false]', '{"nested": {"deep": {"deeper": [[], {}]}}}'),
 (5, '{"key with \\"quotes\\"": "ünïcödé", "": ""}', '"NULL"');

-- ---------------------------------------------------------------------------
-- Numbers
-- ---------------------------------------------------------------------------
CREATE TABLE numbers (
    id   INT NOT NULL PRIMARY KEY,
    d65  DECIMAL(65,30),
    d10  DECIMAL(10,0) UNSIGNED,
    ti   TINYINT,
    bu   BIGINT UNSIGNED,
    bs   BIGINT,
    fl   FLOAT,
    db   DOUBLE,
    mi   MEDIUMINT ZEROFILL
);
INSERT INTO numbers VALUES
 (1, 99999999999999999999999999999999999.999999999999999999999999999999, 9999999999, 127, 18446744073709551615, 9223372036854775807, 0.5, 1.7976931348623157e308, 1),
 (2, -99999999999999999999999999999999999.999999999999999999999999999999, 0, -128, 0, -9223372036854775808, -1.25, -2.2250738585072014e-308, 8388607),
 (3, 0.000000000000000000000000000001, 1, 0, 1, 0, 0, 0.1, 0),
 (4, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, -0.5, 42, -1, 9007199254740993, -1, 3.0e38, 1e-300, 42);
-- FLOAT values the server prints with 6 significant digits ("0.0526316",
-- "1.67772e+07"): a dump of that text would not give the stored value back.
INSERT INTO numbers (id, fl, db) VALUES
 (6, 1/19, 1e0/19),
 (7, 16777216, 0.1e0 + 0.2e0),
 (8, 1.2345678, 123456789.123456789),
 (9, -3.4028234e38, 4.9e-324);

-- ---------------------------------------------------------------------------
-- Dates and times
-- ---------------------------------------------------------------------------
CREATE TABLE temporal (
    id  INT NOT NULL PRIMARY KEY,
    d   DATE,
    dt  DATETIME(6),
    ts  TIMESTAMP(6) NULL DEFAULT NULL,
    t   TIME(6),
    t0  TIME,
    y   YEAR,
    upd TIMESTAMP NOT NULL DEFAULT '2001-02-03 04:05:06' ON UPDATE CURRENT_TIMESTAMP
);
INSERT INTO temporal VALUES
 (1, '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59.000000', '-838:59:59', 1901, '2001-02-03 04:05:06'),
 (2, '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.000000', '838:59:59', 2155, '2020-02-29 12:00:00'),
 (3, '2024-02-29', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456', '-00:00:01.500000', '-00:00:01', 0, '2024-03-31 01:30:00'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, '2001-02-03 04:05:06'),
 (5, '1970-01-01', '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00.000001', '00:00:00.000001', '00:00:00', 2000, '2001-02-03 04:05:06'),
 (6, '2000-01-01', '1999-12-31 23:59:59.500000', '2021-06-15 08:00:00.000000', '-12:34:56.789012', '100:00:00', 1999, '2001-02-03 04:05:06');

-- Zero dates only exist under a permissive sql_mode: the dump must record it
-- and the restore must load them the same way.
SET SESSION sql_mode = '';
CREATE TABLE zero_dates (
    id INT NOT NULL PRIMARY KEY,
    d  DATE NOT NULL DEFAULT '0000-00-00',
    dt DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
    ts TIMESTAMP NULL DEFAULT NULL
);
INSERT INTO zero_dates VALUES
 (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
 (2, '2020-00-15', '2020-01-00 10:00:00', NULL),
 (3, DEFAULT, DEFAULT, '2010-10-10 10:10:10');
SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION';

-- ---------------------------------------------------------------------------
-- Spatial types (SRID kept in the value; MariaDB's REF_SYSTEM_ID attribute)
-- ---------------------------------------------------------------------------
CREATE TABLE geo (
    id   INT NOT NULL PRIMARY KEY,
    p    POINT NOT NULL,
    poly POLYGON,
    g    GEOMETRY,
    gs   GEOMETRY REF_SYSTEM_ID=4326,
    ls   LINESTRING,
    mp   MULTIPOINT,
    gc   GEOMETRYCOLLECTION,
    SPATIAL INDEX sp_p (p)
) ENGINE=InnoDB;
INSERT INTO geo VALUES
 (1, ST_GeomFromText('POINT(1 2)'),
     ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 2))'),
     ST_GeomFromText('POINT(-122.4194 37.7749)', 4326),
     ST_GeomFromText('POINT(2.3522 48.8566)', 4326),
     ST_GeomFromText('LINESTRING(0 0,1 1,2 1.5)'),
     ST_GeomFromText('MULTIPOINT(0 0,1e10 -1e-10)'),
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')),
 (2, ST_GeomFromText('POINT(0 0)'), NULL, NULL, NULL, NULL, NULL, NULL),
 (3, ST_GeomFromText('POINT(-0.000001 123456789.123456789)', 3857),
     ST_GeomFromText('POLYGON((0 0,1 0,0 1,0 0))', 3857),
     ST_GeomFromText('POLYGON((0 0,1 0,0 1,0 0))'),
     ST_GeomFromText('LINESTRING(1 1,2 2)', 4326),
     NULL, NULL, NULL);

-- ---------------------------------------------------------------------------
-- Generated columns: never dumped, recomputed on restore (one is indexed)
-- ---------------------------------------------------------------------------
CREATE TABLE gen_cols (
    id   INT NOT NULL PRIMARY KEY,
    a    INT,
    b    INT,
    s    INT AS (a + b) VIRTUAL,
    p    BIGINT AS (a * b) STORED,
    j    JSON,
    jk   VARCHAR(20) AS (JSON_VALUE(j, '$.k')) VIRTUAL,
    name VARCHAR(20),
    up   VARCHAR(20) AS (UPPER(name)) PERSISTENT,
    KEY k_jk (jk),
    KEY k_p (p)
);
INSERT INTO gen_cols (id, a, b, j, name) VALUES
 (1, 1, 2, '{"k": "one"}', 'abc'),
 (2, NULL, 5, '{"k": "two"}', NULL),
 (3, -7, 100000, '{}', 'ÿé'),
 (4, 2147483647, -1, NULL, '');

-- ---------------------------------------------------------------------------
-- UUID (MariaDB 10.7+ type), else CHAR(36)
-- ---------------------------------------------------------------------------
SET @uuid_type = IF((SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'uuid') > 0, 'UUID', 'CHAR(36)');
SET @ddl = CONCAT('CREATE TABLE uuids (id ', @uuid_type, ' NOT NULL PRIMARY KEY, other ', @uuid_type, ' NULL, note VARCHAR(20))');
PREPARE s FROM @ddl;
EXECUTE s;
DEALLOCATE PREPARE s;
INSERT INTO uuids VALUES
 ('00000000-0000-0000-0000-000000000000', NULL, 'nil'),
 ('ffffffff-ffff-ffff-ffff-ffffffffffff', '123e4567-e89b-12d3-a456-426614174000', 'max'),
 ('6ccd780c-baba-1026-9564-5b8c656024db', '6ccd780c-baba-1026-9564-5b8c656024db', 'v1');

-- ---------------------------------------------------------------------------
-- Character sets side by side; the table default is latin1
-- ---------------------------------------------------------------------------
CREATE TABLE charsets (
    id   INT NOT NULL PRIMARY KEY,
    l1   VARCHAR(60),
    u8   VARCHAR(60) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
    u3   VARCHAR(60) CHARACTER SET utf8mb3,
    ub   VARCHAR(60) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    asc1 CHAR(10) CHARACTER SET ascii,
    txt  TEXT CHARACTER SET utf8mb4,
    l1t  TEXT
) DEFAULT CHARSET=latin1 COMMENT='latin1 table, utf8mb4 columns; comment with ''quote'' and ünï';
INSERT INTO charsets VALUES
 (1, 'café Ÿ€', 'emoji 😀🏳️‍🌈👨‍👩‍👧', 'café', 'Ünïcödé', 'plain', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 中文 and عربى', 'naïve façade'),
 (2, '', '', '', '', '', '', ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 'tab	and
newline', 'tab	and
newline', 'back\\slash', '\\N', 'NULL', 'NULL', '\\N'),
 (5, 'trailing   ', 'trailing   ', ' leading', 'x', 'pad  ', CONCAT('ctrl-z', CHAR(26), 'nul', CHAR(0)), CONCAT(CHAR(0), CHAR(26)));

-- ---------------------------------------------------------------------------
-- NULL versus its lookalikes in text columns
-- ---------------------------------------------------------------------------
CREATE TABLE nulls (
    id INT NOT NULL PRIMARY KEY,
    v  VARCHAR(20),
    c  CHAR(5),
    t  TEXT,
    i  INT
);
INSERT INTO nulls VALUES
 (1, NULL, NULL, NULL, NULL),
 (2, 'NULL', 'NULL', 'NULL', 0),
 (3, '\\N', '\\N', '\\N', -1),
 (4, '', '', '', NULL),
 (5, 'N', '\\', '\\\\N', 1),
 (6, ' ', ' ', ' ', 2);

-- ---------------------------------------------------------------------------
-- Keys and engines: no key (with duplicate rows), MyISAM, composite PK with a
-- string first, an empty table, a partitioned table
-- ---------------------------------------------------------------------------
CREATE TABLE no_key (
    a INT,
    b VARCHAR(10)
);
INSERT INTO no_key VALUES (1, 'x'), (1, 'x'), (1, 'x'), (2, NULL), (NULL, NULL), (NULL, NULL), (3, '');

CREATE TABLE myisam_t (
    id   INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    body TEXT,
    FULLTEXT KEY ft_body (body)
) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4;
INSERT INTO myisam_t (body) VALUES ('full text search in myisam'), ('second row'), (NULL);

CREATE TABLE composite_pk (
    region VARCHAR(10) NOT NULL,
    n      INT NOT NULL,
    day    DATE NOT NULL,
    val    DECIMAL(8,2),
    PRIMARY KEY (region, n, day),
    UNIQUE KEY u_val (val, region)
);
INSERT INTO composite_pk VALUES
 ('eu', 1, '2024-01-01', 1.50), ('eu', 1, '2024-01-02', 2.50), ('us', 1, '2024-01-01', NULL),
 ('us', 2, '2024-01-01', NULL), ('', 0, '1000-01-01', 0.00), ('ap', -5, '9999-12-31', -999999.99);

CREATE TABLE empty_t (
    id INT NOT NULL PRIMARY KEY,
    v  VARCHAR(10) DEFAULT 'dflt' COMMENT 'column comment with ''quotes'''
);

CREATE TABLE parted (
    id INT NOT NULL,
    created DATE NOT NULL,
    v VARCHAR(20),
    PRIMARY KEY (id, created)
) PARTITION BY RANGE (YEAR(created)) (
    PARTITION p2019 VALUES LESS THAN (2020),
    PARTITION p2020 VALUES LESS THAN (2021),
    PARTITION pmax VALUES LESS THAN MAXVALUE
);
INSERT INTO parted VALUES (1, '2019-05-05', 'a'), (2, '2020-05-05', 'b'), (3, '2030-01-01', 'c');

CREATE TABLE checks_defaults (
    id    INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    qty   INT NOT NULL DEFAULT 1 CHECK (qty > 0),
    price DECIMAL(10,2) NOT NULL DEFAULT (qty * 2.5),
    label VARCHAR(30) NOT NULL DEFAULT 'it''s \\ default',
    CONSTRAINT chk_price CHECK (price >= 0)
);
INSERT INTO checks_defaults (qty) VALUES (1), (4);
INSERT INTO checks_defaults (qty, price, label) VALUES (2, 0, '');

-- ---------------------------------------------------------------------------
-- A large table: 50,000 rows, enough for several chunks at a small --chunk-size
-- ---------------------------------------------------------------------------
CREATE TABLE big (
    id      BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    grp     INT NOT NULL,
    payload VARCHAR(100) NOT NULL,
    amount  DECIMAL(12,2),
    created DATETIME(3) NOT NULL,
    flags   BIT(8),
    raw     VARBINARY(16),
    KEY k_grp (grp)
) ENGINE=InnoDB;
INSERT INTO big (id, grp, payload, amount, created, flags, raw)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
SELECT i, i % 97, CONCAT('row ', i, ' ', MD5(i), IF(i % 10 = 0, '\ttab\\bs\nnl', '')),
       IF(i % 13 = 0, NULL, (i * 37) % 100000 / 100),
       TIMESTAMP('2020-01-01') + INTERVAL i * 17 SECOND + INTERVAL (i % 1000) * 1000 MICROSECOND,
       i % 256, UNHEX(MD5(i))
FROM n;
-- Holes in the key range (chunking by key ranges must not lose or repeat rows)
DELETE FROM big WHERE id BETWEEN 20001 AND 30000 OR id % 1009 = 0;

-- A big table keyed by a string, and a big table without any key.
CREATE TABLE big_strkey (
    k VARCHAR(40) NOT NULL PRIMARY KEY,
    v INT NOT NULL
) DEFAULT CHARSET=utf8mb4;
INSERT INTO big_strkey
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
SELECT CONCAT(CHAR(65 + i % 26), '-', MD5(i), IF(i % 100 = 0, ' é', '')), i FROM n;

CREATE TABLE big_nokey (
    a INT,
    b VARCHAR(40)
);
INSERT INTO big_nokey
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
SELECT i % 500, MD5(i % 700) FROM n;

-- ---------------------------------------------------------------------------
-- AUTO_INCREMENT counter above the largest id
-- ---------------------------------------------------------------------------
CREATE TABLE ai_gap (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    v  VARCHAR(10)
);
INSERT INTO ai_gap (v) VALUES ('one'), ('two'), ('three'), ('four');
DELETE FROM ai_gap WHERE id = 4;
ALTER TABLE ai_gap AUTO_INCREMENT = 1000;

-- ---------------------------------------------------------------------------
-- Foreign keys: plain with cascades, a self-reference, a two-table cycle
-- ---------------------------------------------------------------------------
CREATE TABLE parent (
    id   INT NOT NULL PRIMARY KEY,
    name VARCHAR(20) NOT NULL,
    UNIQUE KEY u_name (name)
);
CREATE TABLE child (
    id        INT NOT NULL PRIMARY KEY,
    parent_id INT,
    pname     VARCHAR(20),
    CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_child_pname FOREIGN KEY (pname) REFERENCES parent (name) ON DELETE SET NULL
);
-- "child" sorts before "parent": loading in name order needs FK checks off.
INSERT INTO parent VALUES (1, 'p1'), (2, 'p2'), (3, 'p3');
INSERT INTO child VALUES (10, 1, 'p1'), (11, 1, NULL), (12, 2, 'p3'), (13, NULL, NULL);

CREATE TABLE employees (
    id         INT NOT NULL PRIMARY KEY,
    manager_id INT,
    name       VARCHAR(20),
    CONSTRAINT fk_emp_manager FOREIGN KEY (manager_id) REFERENCES employees (id)
);
-- Rows whose manager comes later in key order.
INSERT INTO employees VALUES (1, 3, 'reports to 3'), (2, 1, 'reports to 1'), (3, NULL, 'boss'), (4, 4, 'self');

CREATE TABLE cyc_a (
    id   INT NOT NULL PRIMARY KEY,
    b_id INT
);
CREATE TABLE cyc_b (
    id   INT NOT NULL PRIMARY KEY,
    a_id INT,
    CONSTRAINT fk_b_a FOREIGN KEY (a_id) REFERENCES cyc_a (id)
);
ALTER TABLE cyc_a ADD CONSTRAINT fk_a_b FOREIGN KEY (b_id) REFERENCES cyc_b (id);
INSERT INTO cyc_a VALUES (1, 1), (2, NULL);
INSERT INTO cyc_b VALUES (1, 1), (2, 2);

-- ---------------------------------------------------------------------------
-- Awkward names: spaces, backticks, unicode, a reserved word, characters the
-- repository must percent-encode, two names that differ only by case, and two
-- that collide if '%' were not encoded.
-- ---------------------------------------------------------------------------
CREATE TABLE `odd ``name`` ü 表` (
    `col with space` INT NOT NULL PRIMARY KEY,
    `back``tick`     VARCHAR(10),
    `ünïcödé 列`     VARCHAR(10),
    `select`         INT,
    `a.b-c%d`        INT
);
INSERT INTO `odd ``name`` ü 表` VALUES (1, '`', 'ü', 1, 2), (2, NULL, '表', NULL, NULL);

CREATE TABLE `my.table-1%` (id INT NOT NULL PRIMARY KEY, v VARCHAR(5));
INSERT INTO `my.table-1%` VALUES (1, 'dot');
CREATE TABLE `sp ace` (id INT NOT NULL PRIMARY KEY, v VARCHAR(10));
CREATE TABLE `sp%20ace` (id INT NOT NULL PRIMARY KEY, v VARCHAR(10));
INSERT INTO `sp ace` VALUES (1, 'space');
INSERT INTO `sp%20ace` VALUES (1, 'percent'), (2, 'two');
CREATE TABLE `CaseT` (id INT NOT NULL PRIMARY KEY, v VARCHAR(10));
CREATE TABLE `caset` (id INT NOT NULL PRIMARY KEY, v VARCHAR(10));
INSERT INTO `CaseT` VALUES (1, 'upper');
INSERT INTO `caset` VALUES (1, 'lower'), (2, 'lower 2');
CREATE TABLE `back\slash` (id INT NOT NULL PRIMARY KEY);
INSERT INTO `back\slash` VALUES (1), (2), (3);
CREATE TABLE t_64_chars_long_name_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (
    id INT NOT NULL PRIMARY KEY,
    parent INT,
    CONSTRAINT `fk odd name` FOREIGN KEY (parent) REFERENCES `odd ``name`` ü 表` (`col with space`)
);
INSERT INTO t_64_chars_long_name_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa VALUES (1, 1), (2, 2), (3, NULL);

-- ---------------------------------------------------------------------------
-- Triggers (restore must create them after the data: re-firing them would
-- change counters and add audit rows)
-- ---------------------------------------------------------------------------
CREATE TABLE audited (
    id    INT NOT NULL PRIMARY KEY,
    n     INT NOT NULL DEFAULT 0,
    label VARCHAR(30)
);
CREATE TABLE audit_log (
    seq   INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    what  VARCHAR(60) NOT NULL
);

DELIMITER //
CREATE TRIGGER trg_audited_bi BEFORE INSERT ON audited FOR EACH ROW
BEGIN
    -- a comment; with a semicolon
    SET NEW.n = NEW.n + 1;
    IF NEW.label IS NULL THEN
        SET NEW.label = 'filled by trigger';
    END IF;
END//
CREATE TRIGGER trg_audited_ai AFTER INSERT ON audited FOR EACH ROW
    INSERT INTO audit_log (what) VALUES (CONCAT('insert ', NEW.id, ' «', IFNULL(NEW.label, ''), '»'))//
CREATE TRIGGER trg_audited_ai2 AFTER INSERT ON audited FOR EACH ROW PRECEDES trg_audited_ai
    INSERT INTO audit_log (what) VALUES (CONCAT('first ', NEW.id))//
CREATE TRIGGER `trg odd ``name``` BEFORE UPDATE ON `odd ``name`` ü 表` FOR EACH ROW
    SET NEW.`select` = IFNULL(OLD.`select`, 0) + 1//
DELIMITER ;

INSERT INTO audited (id, n, label) VALUES (1, 0, 'first'), (2, 10, NULL), (3, 5, 'emoji 😀');

-- A trigger created under a different sql_mode (PIPES_AS_CONCAT changes ||).
SET SESSION sql_mode = 'PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION';
CREATE TRIGGER trg_child_bu BEFORE UPDATE ON child FOR EACH ROW SET NEW.pname = NEW.pname || '';
SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION';

-- ---------------------------------------------------------------------------
-- Views depending on views; created so that name order is the wrong order
-- ---------------------------------------------------------------------------
CREATE VIEW m_base_view AS
    SELECT grp, COUNT(*) AS cnt, SUM(amount) AS total FROM big GROUP BY grp;
CREATE ALGORITHM=MERGE VIEW z_mid_view AS
    SELECT grp, cnt FROM m_base_view WHERE cnt > 100;
CREATE ALGORITHM=TEMPTABLE SQL SECURITY INVOKER VIEW a_top_view AS
    SELECT z.grp, z.cnt, p.name FROM z_mid_view AS z LEFT JOIN parent AS p ON p.id = z.grp;
CREATE VIEW v_checked AS
    SELECT id, qty FROM checks_defaults WHERE qty > 1 WITH CASCADED CHECK OPTION;
CREATE VIEW `view with ``odd`` name` AS
    SELECT `col with space` AS `col alias ü`, 'literal ''q'' \\ 😀' AS lit FROM `odd ``name`` ü 表`;

-- ---------------------------------------------------------------------------
-- Routines
-- ---------------------------------------------------------------------------
DELIMITER //
CREATE FUNCTION f_add(a INT, b INT) RETURNS INT
    DETERMINISTIC
    COMMENT 'adds; has a ''quote'''
BEGIN
    DECLARE r INT DEFAULT 0; -- semicolons inside
    SET r = a + b;
    RETURN r;
END//
CREATE FUNCTION f_emoji() RETURNS VARCHAR(20) CHARSET utf8mb4
    NO SQL
    RETURN 'smile 😀'//
CREATE PROCEDURE p_fill(IN how_many INT, OUT inserted INT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE i INT DEFAULT 0;
    WHILE i < how_many DO
        INSERT INTO audit_log (what) VALUES (CONCAT('p_fill ', i));
        SET i = i + 1;
    END WHILE;
    SET inserted = i;
END//
CREATE PROCEDURE `proc ``odd`` ü`()
    SELECT 'odd', f_add(1, 2), f_emoji()//
-- A body with lines that look like the statement file's own separators.
CREATE PROCEDURE p_separators()
    SELECT 'first
-- statement
-- table: not_a_table
-- length: 1
last' AS s//
DELIMITER ;

SET SESSION sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION';
CREATE FUNCTION f_ansi(x VARCHAR(10)) RETURNS VARCHAR(30) DETERMINISTIC RETURN 'prefix-' || "x";
SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION';

-- ---------------------------------------------------------------------------
-- Events (the test server runs with event_scheduler=OFF)
-- ---------------------------------------------------------------------------
DELIMITER //
CREATE EVENT ev_daily
    ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00'
    ON COMPLETION PRESERVE
    DISABLE
    COMMENT 'daily cleanup'
    DO BEGIN
        DELETE FROM audit_log WHERE seq < 0;
        INSERT INTO audit_log (what) VALUES ('ev_daily');
    END//
CREATE EVENT ev_once
    ON SCHEDULE AT '2036-06-01 12:00:00'
    ON COMPLETION PRESERVE
    ENABLE
    DO INSERT INTO audit_log (what) VALUES ('ev_once')//
DELIMITER ;

-- ---------------------------------------------------------------------------
-- Objects created by clients with other character sets (character_set_client
-- and collation_connection are part of each object), and routines created
-- while the database had another default collation (DATABASE_COLLATION).
-- Under latin1 the file's UTF-8 'é' is read as the two characters 'Ã©': the
-- restore must send the text back in latin1 to get the same object.
-- ---------------------------------------------------------------------------
SET NAMES latin1;
CREATE VIEW v_latin1 AS SELECT 'café' AS word, id FROM parent;
CREATE TRIGGER trg_latin1 BEFORE INSERT ON checks_defaults FOR EACH ROW SET NEW.label = IFNULL(NEW.label, 'défaut');
CREATE FUNCTION f_latin1() RETURNS VARCHAR(20) DETERMINISTIC RETURN 'latin1 é';
CREATE EVENT ev_latin1 ON SCHEDULE AT '2037-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE
    DO INSERT INTO audit_log (what) VALUES ('latin1 é');
SET NAMES utf8mb3 COLLATE utf8mb3_bin;
CREATE VIEW v_utf8mb3 AS SELECT 'ü 表' AS word;
CREATE PROCEDURE p_utf8mb3() SELECT 'ü 表' AS word;
SET NAMES utf8mb4;
ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE FUNCTION f_dbcoll_bin() RETURNS INT DETERMINISTIC RETURN 1;
CREATE TRIGGER trg_dbcoll_bin AFTER DELETE ON parent FOR EACH ROW SET @deleted = OLD.id;
ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;

-- ---------------------------------------------------------------------------
-- A large table keyed on a composite primary key (leading integer column)
-- ---------------------------------------------------------------------------
CREATE TABLE big_composite (
    tenant  INT NOT NULL,
    seq     INT NOT NULL,
    payload VARCHAR(60) NOT NULL,
    PRIMARY KEY (tenant, seq)
) ENGINE=InnoDB;
INSERT INTO big_composite
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
SELECT i % 7 - 3, i, CONCAT('c ', MD5(i)) FROM n;

SET foreign_key_checks = 1;
