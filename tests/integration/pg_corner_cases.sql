-- A PostgreSQL 15 database full of corner cases for dump/restore round trips.
-- Load with: psql -X -v ON_ERROR_STOP=1 -q -d src -f pg_corner_cases.sql
-- (not in a single transaction: ALTER TYPE ... ADD VALUE must commit before use).
--
-- Source and target databases live on the same server, so the cluster-wide
-- roles created here exist for the restore too.

SET client_min_messages = warning;

-- ---------------------------------------------------------------------------
-- Roles (cluster-wide, created idempotently)
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bd_reader') THEN
        CREATE ROLE bd_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bd owner "x"') THEN
        CREATE ROLE "bd owner ""x""" NOLOGIN;
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- Extensions (all shipped in Debian's postgresql-15 package)
-- ---------------------------------------------------------------------------
CREATE SCHEMA ext;
CREATE EXTENSION citext;
CREATE EXTENSION hstore SCHEMA ext;
CREATE EXTENSION pg_trgm;

-- ---------------------------------------------------------------------------
-- Schemas with awkward names
-- ---------------------------------------------------------------------------
CREATE SCHEMA "my schema";
CREATE SCHEMA "we""ird";
CREATE SCHEMA "ünï©ødé";
CREATE SCHEMA "CamelCase";
COMMENT ON SCHEMA "my schema" IS 'a schema with a space';
COMMENT ON SCHEMA "we""ird" IS 'it''s "weird"';
GRANT USAGE ON SCHEMA "my schema" TO PUBLIC;
GRANT USAGE ON SCHEMA "we""ird" TO bd_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA "my schema" GRANT SELECT ON TABLES TO bd_reader;

-- ---------------------------------------------------------------------------
-- Types: enum, domains, composite, ranges, collation, text search
-- ---------------------------------------------------------------------------
CREATE TYPE "my schema".mood AS ENUM ('sad', 'ok', 'happy', 'ü with space', 'it''s');
CREATE TYPE public.empty_enum AS ENUM ();
CREATE DOMAIN public.posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN public.email AS citext
    CONSTRAINT email_has_at CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE DOMAIN public.nonempty_text AS text DEFAULT 'n/a' NOT NULL CHECK (length(VALUE) > 0);
CREATE TYPE public.address AS (street text, zip varchar(10), "the city" text);
CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
COMMENT ON TYPE "my schema".mood IS 'how are you';
COMMENT ON DOMAIN public.posint IS 'positive integer';
CREATE COLLATION public.ci_und (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION public."C numeric" (provider = icu, locale = 'en-u-kn-true');
CREATE TEXT SEARCH CONFIGURATION public.my_english (COPY = pg_catalog.english);

-- enum value added later, sorting in the middle
ALTER TYPE "my schema".mood ADD VALUE 'meh' BEFORE 'ok';

-- ---------------------------------------------------------------------------
-- Functions, procedures, aggregates, operators
-- ---------------------------------------------------------------------------
CREATE FUNCTION public.add_one(i integer) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT AS 'SELECT i + 1';
CREATE FUNCTION public.norm(t text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(t)) $$;
CREATE FUNCTION "my schema"."fn with space"(a integer DEFAULT 2, OUT doubled integer, OUT tripled integer)
    LANGUAGE plpgsql AS $$
BEGIN
    doubled := a * 2;
    tripled := a * 3;
END
$$;
CREATE PROCEDURE public.noop_proc(INOUT x integer)
    LANGUAGE plpgsql AS $$ BEGIN x := x; END $$;
CREATE FUNCTION public.int_sum_sfunc(state bigint, v integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS 'SELECT coalesce(state, 0) + coalesce(v, 0)';
CREATE AGGREGATE public.my_sum(integer) (SFUNC = public.int_sum_sfunc, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.text_eq_ci(a text, b text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS 'SELECT lower(a) = lower(b)';
CREATE OPERATOR public.=~~= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.text_eq_ci);
COMMENT ON FUNCTION public.add_one(integer) IS 'adds one';
REVOKE EXECUTE ON FUNCTION public.add_one(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.add_one(integer) TO bd_reader;

-- Trigger function that rewrites rows on INSERT: a restore that loads data
-- with triggers already in place would change the data.
CREATE FUNCTION public.shout() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.msg := upper(NEW.msg) || '!';
    NEW.touched := NEW.touched + 1;
    RETURN NEW;
END
$$;

-- ---------------------------------------------------------------------------
-- Every common type
-- ---------------------------------------------------------------------------
CREATE TABLE public.all_types (
    id              integer PRIMARY KEY,
    c_bool          boolean,
    c_int2          smallint,
    c_int4          integer,
    c_int8          bigint,
    c_numeric       numeric,
    c_numeric_p     numeric(12, 4),
    c_float4        real,
    c_float8        double precision,
    c_money         money,
    c_char          char(5),
    c_varchar       varchar(10),
    c_text          text,
    c_name          name,
    c_qchar         "char",
    c_bytea         bytea,
    c_date          date,
    c_time          time,
    c_timetz        time with time zone,
    c_ts            timestamp,
    c_tstz          timestamptz,
    c_interval      interval,
    c_uuid          uuid,
    c_inet          inet,
    c_cidr          cidr,
    c_macaddr       macaddr,
    c_macaddr8      macaddr8,
    c_bit           bit(8),
    c_varbit        bit varying(20),
    c_json          json,
    c_jsonb         jsonb,
    c_xml           xml,
    c_tsvector      tsvector,
    c_tsquery       tsquery,
    c_point         point,
    c_line          line,
    c_lseg          lseg,
    c_box           box,
    c_path          path,
    c_polygon       polygon,
    c_circle        circle,
    c_int4range     int4range,
    c_numrange      numrange,
    c_tstzrange     tstzrange,
    c_daterange     daterange,
    c_multirange    int4multirange,
    c_floatrange    public.floatrange,
    c_pg_lsn        pg_lsn,
    c_oid           oid,
    c_mood          "my schema".mood,
    c_posint        public.posint,
    c_email         public.email,
    c_address       public.address,
    c_addresses     public.address[],
    c_citext        citext,
    c_hstore        ext.hstore,
    c_int_arr       integer[],
    c_int_arr2      integer[][],
    c_text_arr      text[],
    c_mood_arr      "my schema".mood[],
    c_jsonb_arr     jsonb[],
    c_ci            text COLLATE public.ci_und
);
COMMENT ON TABLE public.all_types IS 'one column per type';
COMMENT ON COLUMN public.all_types.c_bytea IS 'has NUL bytes';

INSERT INTO public.all_types VALUES
(1, true, 32767, 2147483647, 9223372036854775807,
 'NaN', 12345678.1234, 'NaN', 'NaN', 12.34,
 'ab', 'ünï©ødé', E'tab\there\nnewline\\backslash', 'a name', 'x',
 '\x00010203ff00'::bytea,
 'infinity', '24:00:00', '23:59:59.999999+14', 'infinity', 'infinity',
 '178000000 years',
 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.100.128/25', '10.0.0.0/8',
 '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'10101010', B'1',
 '{"b": 1, "a": [1, 2, {"c": null}], "a": "dup"}',
 '{"b": 1, "a": [1, 2, {"c": null}], "u": "\u00fc", "n": 1.0e10}',
 '<doc a="1"><x>&amp;&lt;</x><!-- c --></doc>',
 'a fat cat sat:1A on the mat:2B', 'fat & (rat | cat)',
 '(1,2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]',
 '((0,0),(1,1),(2,0))', '<(0,0),5>',
 '[1,10)', '(,5.5]', '["2020-01-01 00:00:00+00","2021-01-01 00:00:00+00")', 'empty',
 '{[1,3), [5,7)}', '[1.5,2.5]', '16/B374D848', 4294967295,
 'meh', 1, 'Someone@Example.COM', ROW('Main St 1', '12345', 'Zürich'),
 ARRAY[ROW('a', '1', 'x'), ROW(NULL, NULL, NULL)]::public.address[],
 'CamelCase', 'a=>1, "b c"=>NULL, "k\"q"=>"v\\w"',
 '{1,NULL,3}', '{{1,2},{3,4}}',
 ARRAY['a,b', 'c"d', E'e\\f', 'NULL', NULL, '', ' sp ', '{}', E'new\nline'],
 '{sad,meh,"ü with space","it''s"}', ARRAY['{"a":1}'::jsonb, 'null'::jsonb], 'MiXeD'),
(2, false, -32768, -2147483648, -9223372036854775808,
 'Infinity', -0.0001, 'Infinity', '-0', -92233720368547758.08,
 '', '', '', '', E'\\',
 ''::bytea,
 '-infinity', '00:00:00', '00:00:00-12', '-infinity', '-infinity',
 '-178000000 years',
 '00000000-0000-0000-0000-000000000000', '::1/128', '2001:db8::/32',
 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', B'00000000', B'',
 '[]', '{}', 'just text, no root element', '', '!x',
 '(-1.5e300,1e-300)', '{0,1,0}', '[(1e308,1e308),(-1e308,-1e308)]', '(0,0),(0,0)', '((0,0))',
 '((0,0))', '<(0,0),0>',
 'empty', '(,)', '(,)', '[-infinity,infinity]',
 '{}', '[-infinity,infinity]', '0/0', 0,
 'sad', 2147483647, 'x@y', ROW(E'a\\b', '', ''),
 '{}',
 '', '',
 '{}', '[0:2]={7,8,9}',
 '{}', '{}', '{}', 'mixed'),
(3, NULL, 0, 0, 0,
 '-Infinity', 0, '-Infinity', '-Infinity', 0,
 'abcde', 'abcdefghij', E'\\.', E'we"ird\'', NULL,
 NULL,
 '4713-01-01 BC', '12:34:56.789', '12:34:56+05:30', '4713-01-01 00:00:00 BC', '294276-12-31 23:59:59.999999+00',
 '-1 year 2 mons -3 days 04:05:06.789',
 'ffffffff-ffff-ffff-ffff-ffffffffffff', '0.0.0.0', '0.0.0.0/0',
 '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff:ff:ff', B'11111111', B'11111111110000000000',
 'null', 'null', '<?xml version="1.0"?><r/>', 'x:1,2,3', 'a <-> b',
 '(0,-0)', '{1,0,-5}', '[(1,2),(3,4)]', '(2,2),(1,1)', '((1,1),(2,2),(3,3))',
 '((-1,-1),(1,1),(1,-1))', '<(1,1),1e-10>',
 '[-2147483648,2147483647)', '[0,0]', '[2000-01-01,)', '(,2000-01-01)',
 '{[-10,-5), [0,1), [100,)}', '(-infinity,0)', 'FFFFFFFF/FFFFFFFF', 1,
 'it''s', 42, 'a.b+c@d.e', NULL,
 ARRAY[NULL]::public.address[],
 'ǅungla', '"" => ""',
 '{NULL,NULL}', '{{NULL,1},{2,NULL}}',
 '{"\\\\","\"","\t",NULL,"\\N"}', '{}', ARRAY[NULL]::jsonb[], NULL),
(4, true, 1, 1, 1,
 '0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001',
 99999999.9999, 1.17549435e-38, 4.9e-324, -0.01,
 '  x  ', ' ', E'\\N', 'x', ' ',
 '\x5c4e'::bytea,
 '2000-02-29', '00:00:00.000001', '00:00:00+00', '2000-01-01 00:00:00', '1970-01-01 00:00:00+00',
 '0',
 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'fe80::1/64', '192.168.0.0/16',
 '08-00-2b-01-02-03', '0800.2b01.0203.0405', B'00000001', B'0101',
 E'"\\u0000 escaped NUL in json"', '"\u00e9"', '<a>ünï©ødé 📦</a>', '', 'a:*',
 '(1e-300,-1e300)', '{0,-1,0}', '[(0,0),(0,0)]', '(1e10,1e10),(-1e10,-1e10)', '[(0,0)]',
 '((0,0),(0,0),(0,0))', '<(-1,-1),1e300>',
 '(1,2)', '[1.5,1.5]', 'empty', '[2020-02-29,2020-03-01]',
 '{[1,2), [2,3)}', 'empty', '0/1', 12345,
 'ü with space', 1, 'ünï©ødé@example.com', ROW('', NULL, ''),
 ARRAY[ROW('"quoted"', ',', '(paren)')]::public.address[],
 'a', NULL,
 '{-2147483648,2147483647}', '{{{1}}}',
 '{"a b","c\\d","e,f","{g}","h\"i"}', NULL, NULL, 'ß'),
(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL);

-- bytea holding every byte value, and lots of NULs
CREATE TABLE public.bytes (
    id    integer PRIMARY KEY,
    data  bytea NOT NULL,
    note  text
);
INSERT INTO public.bytes
SELECT 1, string_agg(set_byte('\x00'::bytea, 0, b), ''::bytea ORDER BY b), 'all 256 byte values'
FROM generate_series(0, 255) AS b;
INSERT INTO public.bytes VALUES
    (2, '\x00000000000000000000'::bytea, 'ten NULs'),
    (3, '\x5c2e0a5c2e0d0a095c4e'::bytea, 'backslash-dot, CR LF, tab, backslash-N'),
    (4, ''::bytea, 'empty');
-- a TOASTed incompressible value (~300 kB)
INSERT INTO public.bytes
SELECT 5, string_agg(sha256(int4send(i)), ''::bytea ORDER BY i), 'toasted random-looking'
FROM generate_series(1, 10000) AS i;

-- text that trips up COPY text format and line-based tools
CREATE TABLE "my schema"."tricky text" (
    "id"            integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "the value"     text,
    "Mixed Case"    text,
    "we""ird col"   varchar(100),
    "ünï©ødé 📦"    text
);
INSERT INTO "my schema"."tricky text" ("the value", "Mixed Case", "we""ird col", "ünï©ødé 📦") VALUES
    ('', 'empty string', NULL, 'NULL vs empty'),
    (NULL, 'null', '', 'empty vs NULL'),
    (E'\\.', 'end-of-copy marker alone', 'x', 'x'),
    (E'line 1\n\\.\nline 3', 'end-of-copy marker inside', 'x', 'x'),
    (E'\\N', 'backslash N', '\N', 'x'),
    (E'a\tb\tc', 'tabs', E'\t', E'\t\t'),
    (E'cr\rlf\ncrlf\r\n', 'line ends', E'\n', E'\r'),
    (E'back\\slash\\\\double', 'backslashes', '\', '\\'),
    ('NULL', 'the word NULL', 'null', 'Null'),
    (E'\u00a0nbsp \u200b zero-width \ufeff bom', 'invisible', 'x', 'x'),
    ('😀 🇩🇪 👨‍👩‍👧 𝕏', 'emoji', '📦', '📦'),
    (repeat('long ', 40000), 'TOASTed compressible', 'x', 'x'),
    ('"quoted" ''single'' `back`', 'quotes', '"', ''''),
    (E'\x01\x02\x7f', 'control chars', E'\x1b[0m', 'x'),
    ('COPY x FROM stdin;', 'SQL-looking', '\.', '\copy');

-- NULL-only and empty-string-only columns, and a table with no columns
CREATE TABLE public.nulls_and_empties (a text, b text, c integer);
INSERT INTO public.nulls_and_empties VALUES (NULL, '', NULL), ('', NULL, 0), (NULL, NULL, NULL), ('', '', NULL);

CREATE TABLE public."no columns" ();
INSERT INTO public."no columns" DEFAULT VALUES;
INSERT INTO public."no columns" DEFAULT VALUES;
INSERT INTO public."no columns" DEFAULT VALUES;

CREATE TABLE public.empty_table (id integer PRIMARY KEY, v text);
CREATE TABLE public."no columns, no rows" ();

-- A dropped column in the middle (attisdropped) and columns added later.
CREATE TABLE public.dropped_cols (a integer, b text, c integer, d text);
INSERT INTO public.dropped_cols VALUES (1, 'b1', 10, 'd1'), (2, 'b2', 20, 'd2');
ALTER TABLE public.dropped_cols DROP COLUMN b;
ALTER TABLE public.dropped_cols ADD COLUMN e text DEFAULT 'default e';
ALTER TABLE public.dropped_cols ADD COLUMN f timestamptz DEFAULT '2001-02-03 04:05:06+00';
INSERT INTO public.dropped_cols (a, c, d) VALUES (3, 30, 'd3');

-- ---------------------------------------------------------------------------
-- Identifiers: every quoting rule
-- ---------------------------------------------------------------------------
CREATE TABLE "we""ird"."tab""le" ("col""umn" integer PRIMARY KEY, "select" text, " " text);
INSERT INTO "we""ird"."tab""le" VALUES (1, 'reserved word column', 'column named by a space');
CREATE TABLE "ünï©ødé"."📦 boxes" ("größe" numeric, "名前" text, "emoji 😀" text);
INSERT INTO "ünï©ødé"."📦 boxes" VALUES (1.5, '箱', '😀'), (NULL, 'ä', '');
CREATE TABLE "CamelCase"."MixedTable" ("Id" integer, "id" integer, "ID" integer);
INSERT INTO "CamelCase"."MixedTable" VALUES (1, 2, 3);
CREATE TABLE public."a.b" ("x.y" integer);
INSERT INTO public."a.b" VALUES (1);
CREATE TABLE public."t;drop table x;--" (v text);
INSERT INTO public."t;drop table x;--" VALUES ('sql injection in a name');
CREATE TABLE public."abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc" (v integer);
INSERT INTO public."abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc" VALUES (63);
COMMENT ON TABLE "we""ird"."tab""le" IS E'comment with \'quotes\', "doubles" and a\nnewline';
COMMENT ON COLUMN "we""ird"."tab""le"."col""umn" IS 'ünï©ødé comment 📦';
GRANT SELECT ON "we""ird"."tab""le" TO bd_reader;
GRANT SELECT ("select") ON "we""ird"."tab""le" TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Sequences, identity columns, serials, generated columns
-- ---------------------------------------------------------------------------
CREATE SEQUENCE public.seq_called START 100 INCREMENT 7;
SELECT setval('public.seq_called', 12345);
CREATE SEQUENCE public.seq_not_called START 1;
SELECT setval('public.seq_not_called', 50, false);
CREATE SEQUENCE public.seq_untouched START 42;
CREATE SEQUENCE public.seq_desc INCREMENT -3 MINVALUE -1000 MAXVALUE -1 START -1;
SELECT nextval('public.seq_desc') FROM generate_series(1, 5);
CREATE SEQUENCE public.seq_small AS smallint CYCLE MAXVALUE 10;
SELECT nextval('public.seq_small') FROM generate_series(1, 13);
CREATE SEQUENCE "we""ird"."se""q" CACHE 10;
SELECT nextval('"we""ird"."se""q"');
COMMENT ON SEQUENCE public.seq_called IS 'at 12345';

CREATE TABLE public.identities (
    a integer GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 10),
    b bigint GENERATED BY DEFAULT AS IDENTITY,
    s serial,
    v text
);
INSERT INTO public.identities (v) SELECT 'row ' || i FROM generate_series(1, 20) i;
INSERT INTO public.identities (a, b, v) OVERRIDING SYSTEM VALUE VALUES (1, -5, 'overridden');
INSERT INTO public.identities (b, v) VALUES (999999, 'explicit by default');
SELECT setval(pg_get_serial_sequence('public.identities', 'b'), 5000);

CREATE TABLE public.orders (
    id       bigserial PRIMARY KEY,
    price    numeric(10, 2) NOT NULL,
    qty      integer NOT NULL DEFAULT 1,
    total    numeric GENERATED ALWAYS AS (price * qty) STORED,
    label    text GENERATED ALWAYS AS (public.norm('  Order ' || qty::text)) STORED
);
INSERT INTO public.orders (price, qty) SELECT i * 1.5, i % 7 + 1 FROM generate_series(1, 100) i;

-- ---------------------------------------------------------------------------
-- Constraints and indexes
-- ---------------------------------------------------------------------------
CREATE TABLE public.constrained (
    id        integer PRIMARY KEY,
    code      text NOT NULL,
    a         integer,
    b         integer,
    during    tsrange,
    email     public.email,
    CONSTRAINT code_format CHECK (code ~ '^[A-Z]{3}-[0-9]+$'),
    CONSTRAINT a_lt_b CHECK (a < b) NO INHERIT,
    CONSTRAINT code_unique UNIQUE (code),
    CONSTRAINT ab_unique UNIQUE NULLS NOT DISTINCT (a, b),
    CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)
);
INSERT INTO public.constrained
SELECT i, 'ABC-' || i, i, i + 1,
       tsrange('2020-01-01'::timestamp + i * interval '1 day', '2020-01-01'::timestamp + (i + 1) * interval '1 day'),
       'user' || i || '@example.com'
FROM generate_series(1, 300) i;
INSERT INTO public.constrained VALUES (0, 'ZZZ-0', NULL, NULL, NULL, NULL);
-- rows that violate a constraint added later as NOT VALID
INSERT INTO public.constrained VALUES (-1, 'NEG-1', 5000, 5001, NULL, NULL);
ALTER TABLE public.constrained ADD CONSTRAINT id_nonneg CHECK (id >= 0) NOT VALID;
COMMENT ON CONSTRAINT code_format ON public.constrained IS 'three letters, dash, digits';

CREATE INDEX constrained_lower_code ON public.constrained (lower(code));
CREATE INDEX constrained_partial ON public.constrained (a) WHERE a % 2 = 0;
CREATE UNIQUE INDEX constrained_incl ON public.constrained (id) INCLUDE (code);
CREATE INDEX constrained_desc ON public.constrained (b DESC NULLS FIRST, a);
CREATE INDEX constrained_brin ON public.constrained USING brin (id) WITH (pages_per_range = 4);
CREATE INDEX constrained_hash ON public.constrained USING hash (code);
CREATE INDEX constrained_trgm ON public.constrained USING gin (code gin_trgm_ops);
CREATE INDEX constrained_collate ON public.constrained (code COLLATE "C");
CREATE INDEX constrained_fn ON public.constrained (public.add_one(a));
COMMENT ON INDEX public.constrained_partial IS 'even a only';
ALTER TABLE public.constrained CLUSTER ON constrained_incl;
ALTER TABLE public.constrained ALTER COLUMN code SET STATISTICS 500;
ALTER TABLE public.constrained ALTER COLUMN a SET (n_distinct = -0.5);
ALTER TABLE public.constrained SET (fillfactor = 70, autovacuum_enabled = false);
ALTER TABLE public.constrained REPLICA IDENTITY FULL;
CREATE STATISTICS public.constrained_ab_stats (dependencies, ndistinct) ON a, b FROM public.constrained;

-- Foreign keys: a deferrable cycle, a self reference, a NOT VALID FK with
-- violating rows, ON DELETE actions.
CREATE TABLE public.fk_a (id integer PRIMARY KEY, b_id integer NOT NULL, v text);
CREATE TABLE public.fk_b (id integer PRIMARY KEY, a_id integer NOT NULL, v text);
ALTER TABLE public.fk_a ADD CONSTRAINT fk_a_b FOREIGN KEY (b_id) REFERENCES public.fk_b (id)
    DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE public.fk_b ADD CONSTRAINT fk_b_a FOREIGN KEY (a_id) REFERENCES public.fk_a (id)
    DEFERRABLE INITIALLY IMMEDIATE;
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO public.fk_a SELECT i, i, 'a' || i FROM generate_series(1, 50) i;
INSERT INTO public.fk_b SELECT i, 51 - i, 'b' || i FROM generate_series(1, 50) i;
COMMIT;
-- Comments on post-data objects (as in PostgreSQL's regression database):
-- each must be restored after its object, the foreign key's after the keys.
COMMENT ON CONSTRAINT fk_a_b ON public.fk_a IS 'the deferred half of the cycle';
COMMENT ON CONSTRAINT fk_b_pkey ON public.fk_b IS 'a primary key';
COMMENT ON INDEX public.constrained_partial IS 'even a only';
ALTER TABLE public.fk_b RENAME CONSTRAINT fk_b_a TO "Fk B→A";
COMMENT ON CONSTRAINT "Fk B→A" ON public.fk_b IS 'quoted name';

CREATE TABLE public.tree (
    id integer PRIMARY KEY,
    parent integer REFERENCES public.tree (id) ON DELETE CASCADE,
    name text
);
INSERT INTO public.tree VALUES (1, NULL, 'root'), (2, 1, 'child'), (3, 2, 'grandchild'), (4, 1, 'child 2');

CREATE TABLE public.fk_loose (id integer PRIMARY KEY, tree_id integer);
INSERT INTO public.fk_loose VALUES (1, 1), (2, 999);
ALTER TABLE public.fk_loose ADD CONSTRAINT fk_loose_tree FOREIGN KEY (tree_id)
    REFERENCES public.tree (id) ON UPDATE CASCADE ON DELETE SET NULL NOT VALID;

-- ---------------------------------------------------------------------------
-- Partitioning: range with default, list with hash sub-partitions, a
-- partition with a different column order, a detached ex-partition.
-- ---------------------------------------------------------------------------
CREATE TABLE public.measurements (
    id      bigint NOT NULL,
    logdate date NOT NULL,
    value   numeric,
    note    text,
    PRIMARY KEY (id, logdate)
) PARTITION BY RANGE (logdate);
CREATE TABLE public.measurements_2020 PARTITION OF public.measurements
    FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE public.measurements_2021 PARTITION OF public.measurements
    FOR VALUES FROM ('2021-01-01') TO ('2022-01-01') WITH (fillfactor = 90);
-- created separately with its own column order, then attached
CREATE TABLE public.measurements_2022 (note text, value numeric, logdate date NOT NULL, id bigint NOT NULL);
ALTER TABLE public.measurements ATTACH PARTITION public.measurements_2022
    FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE public.measurements_default PARTITION OF public.measurements DEFAULT;
CREATE INDEX measurements_value_idx ON public.measurements (value);
INSERT INTO public.measurements
SELECT i, date '2019-06-01' + (i % 1500), i / 7.0, CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || i END
FROM generate_series(1, 5000) i;
COMMENT ON TABLE public.measurements_default IS 'catch-all partition';

CREATE TABLE "my schema".events (
    region  text NOT NULL,
    id      integer NOT NULL,
    payload jsonb
) PARTITION BY LIST (region);
CREATE TABLE "my schema"."events eu" PARTITION OF "my schema".events
    FOR VALUES IN ('de', 'fr', 'ünï') PARTITION BY HASH (id);
CREATE TABLE "my schema"."events eu h0" PARTITION OF "my schema"."events eu" FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE "my schema"."events eu h1" PARTITION OF "my schema"."events eu" FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE "my schema"."events us" PARTITION OF "my schema".events FOR VALUES IN ('us', NULL);
CREATE TABLE "my schema"."events other" PARTITION OF "my schema".events DEFAULT;
INSERT INTO "my schema".events
SELECT (ARRAY['de', 'fr', 'ünï', 'us', 'jp', 'br'])[1 + i % 6], i, jsonb_build_object('i', i, 'sq', i * i)
FROM generate_series(1, 3000) i;
CREATE INDEX events_payload_gin ON "my schema".events USING gin (payload jsonb_path_ops);

CREATE TABLE public.detached_part (LIKE public.measurements);
ALTER TABLE public.measurements ATTACH PARTITION public.detached_part
    FOR VALUES FROM ('1990-01-01') TO ('1991-01-01');
INSERT INTO public.measurements VALUES (1, '1990-05-05', 1, 'then detached');
ALTER TABLE public.measurements DETACH PARTITION public.detached_part;

-- ---------------------------------------------------------------------------
-- Inheritance: a parent with its own rows, children with extra columns,
-- multiple inheritance, a CHECK inherited from the parent.
-- ---------------------------------------------------------------------------
CREATE TABLE public.vehicles (
    id   integer NOT NULL,
    name text,
    CONSTRAINT vehicles_id_pos CHECK (id > 0)
);
CREATE TABLE public.cars (wheels integer DEFAULT 4) INHERITS (public.vehicles);
CREATE TABLE public.boats (draft numeric) INHERITS (public.vehicles);
CREATE TABLE public.amphibians (propeller boolean) INHERITS (public.cars, public.boats);
INSERT INTO public.vehicles VALUES (1, 'generic'), (2, 'another generic');
INSERT INTO public.cars VALUES (10, 'car', 4), (11, 'trike', 3);
INSERT INTO public.boats VALUES (20, 'boat', 1.2);
INSERT INTO public.amphibians VALUES (30, 'duck', 4, 0.5, true);
COMMENT ON TABLE public.vehicles IS 'query with ONLY to see the parent''s own rows';
-- Children whose column order is not their parent's.  A column added to the
-- parent after the child exists comes last in the child (after the child's
-- own); restored, the child takes the parent's columns first (pg_dump writes
-- only its own columns and INHERITS).  A child declared with its own columns
-- first, then INHERIT, is written with all of them, and CREATE TABLE ...
-- INHERITS puts the parent's first too.  Values of one type side by side
-- (b/z text, n/w numeric) would load into each other's column silently if a
-- COPY went by position; the child is large enough for ctid ranges at
-- --chunk-size 1MB.
CREATE TABLE public.reorder_parent (id integer NOT NULL, a text);
CREATE TABLE public.reorder_child (b text, n numeric) INHERITS (public.reorder_parent);
ALTER TABLE public.reorder_parent ADD COLUMN z text;
ALTER TABLE public.reorder_parent ADD COLUMN w numeric;
INSERT INTO public.reorder_parent VALUES (0, 'parent', 'pz', 0.5);
INSERT INTO public.reorder_child (id, a, b, n, z, w)
    SELECT g, 'a' || g, 'b' || md5(g::text), g / 7.0, 'z' || md5((g + 1)::text), g * 3
    FROM generate_series(1, 60000) g;
CREATE TABLE public.reorder_parent2 (id integer NOT NULL, a text);
CREATE TABLE public.reorder_own (b text, a text, id integer NOT NULL, c integer);
ALTER TABLE public.reorder_own INHERIT public.reorder_parent2;
INSERT INTO public.reorder_own VALUES ('b1', 'a1', 1, 10), ('b2', NULL, 2, 20);

-- ---------------------------------------------------------------------------
-- Triggers, rules, RLS, unlogged tables
-- ---------------------------------------------------------------------------
CREATE TABLE public.shouting (id integer PRIMARY KEY, msg text, touched integer DEFAULT 0);
INSERT INTO public.shouting VALUES (1, 'hello', 0), (2, 'world', 0);
CREATE TRIGGER shouting_shout BEFORE INSERT OR UPDATE ON public.shouting
    FOR EACH ROW EXECUTE FUNCTION public.shout();
INSERT INTO public.shouting (id, msg) VALUES (3, 'after trigger');
CREATE TRIGGER shouting_disabled BEFORE DELETE ON public.shouting
    FOR EACH ROW EXECUTE FUNCTION public.shout();
ALTER TABLE public.shouting DISABLE TRIGGER shouting_disabled;
COMMENT ON TRIGGER shouting_shout ON public.shouting IS 'upper-cases msg';
-- two triggers whose qualified names (schema.table.trigger) share their first
-- 63 bytes: PostgreSQL's regression database has such a pair, which the
-- object inventory once cut to a 'name' and listed twice
CREATE TRIGGER shouting_audit_trigger_with_a_rather_long_name_on_update_1 AFTER UPDATE ON public.shouting
    FOR EACH ROW EXECUTE FUNCTION public.shout();
CREATE TRIGGER shouting_audit_trigger_with_a_rather_long_name_on_update_2 AFTER UPDATE ON public.shouting
    FOR EACH ROW EXECUTE FUNCTION public.shout();
ALTER TABLE public.shouting DISABLE TRIGGER shouting_audit_trigger_with_a_rather_long_name_on_update_1;
ALTER TABLE public.shouting DISABLE TRIGGER shouting_audit_trigger_with_a_rather_long_name_on_update_2;

CREATE TABLE public.audit_log (id serial PRIMARY KEY, what text);
CREATE RULE shouting_log AS ON DELETE TO public.shouting
    DO ALSO INSERT INTO public.audit_log (what) VALUES ('deleted ' || OLD.id);
INSERT INTO public.audit_log (what) VALUES ('seed');

CREATE TABLE public.secrets (
    id      integer PRIMARY KEY,
    owner   name NOT NULL DEFAULT current_user,
    secret  text
);
INSERT INTO public.secrets VALUES (1, 'postgres', 's1'), (2, 'bd_reader', 's2'), (3, 'nobody', 's3');
ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY secrets_own ON public.secrets USING (owner = current_user);
CREATE POLICY secrets_reader ON public.secrets FOR SELECT TO bd_reader USING (true);
CREATE POLICY secrets_restrict ON public.secrets AS RESTRICTIVE FOR INSERT
    WITH CHECK (secret IS NOT NULL);
COMMENT ON POLICY secrets_own ON public.secrets IS 'only your own rows';
GRANT SELECT, INSERT ON public.secrets TO bd_reader;
ALTER TABLE public.secrets OWNER TO "bd owner ""x""";

CREATE UNLOGGED TABLE public.scratch (k text PRIMARY KEY, v jsonb);
INSERT INTO public.scratch SELECT 'k' || i, jsonb_build_object('i', i) FROM generate_series(1, 100) i;

-- ---------------------------------------------------------------------------
-- Views and materialized views
-- ---------------------------------------------------------------------------
CREATE VIEW public.v_orders AS
    SELECT id, total FROM public.orders WHERE total > 10;
CREATE VIEW public.v_checked WITH (security_barrier = true) AS
    SELECT id, code, a FROM public.constrained WHERE a > 100
    WITH LOCAL CHECK OPTION;
CREATE RECURSIVE VIEW public.v_tree (id, path) AS
    SELECT id, name FROM public.tree WHERE parent IS NULL
    UNION ALL
    SELECT t.id, v.path || '/' || t.name FROM public.tree t JOIN v_tree v ON t.parent = v.id;
CREATE VIEW "my schema"."view of ""tricky""" AS
    SELECT "id", "the value" FROM "my schema"."tricky text";
COMMENT ON VIEW public.v_orders IS 'orders over 10';
GRANT SELECT ON public.v_orders TO PUBLIC;

CREATE MATERIALIZED VIEW public.mv_order_stats AS
    SELECT qty, count(*) AS n, sum(total) AS sum_total FROM public.orders GROUP BY qty;
CREATE UNIQUE INDEX mv_order_stats_qty ON public.mv_order_stats (qty);
CREATE MATERIALIZED VIEW public.mv_on_mv AS
    SELECT sum(n) AS orders, max(sum_total) AS biggest FROM public.mv_order_stats;
CREATE MATERIALIZED VIEW public.mv_unpopulated AS SELECT id FROM public.orders WITH NO DATA;
-- a matview whose content is stale relative to its query: restore must not
-- silently change what the source had (pg_dump refreshes; the content is
-- compared after restore, so keep it fresh here)
COMMENT ON MATERIALIZED VIEW public.mv_on_mv IS 'depends on mv_order_stats';

-- ---------------------------------------------------------------------------
-- Large objects
-- ---------------------------------------------------------------------------
SELECT lo_from_bytea(424242, convert_to('hello, large object', 'UTF8'));
SELECT lo_from_bytea(424243, ''::bytea);
SELECT lo_from_bytea(424244, (SELECT string_agg(sha256(int4send(i)), ''::bytea ORDER BY i)
                              FROM generate_series(1, 50000) AS i));  -- 1.6 MB
SELECT lo_from_bytea(424245, (SELECT string_agg(set_byte('\x00'::bytea, 0, b), ''::bytea ORDER BY b)
                              FROM generate_series(0, 255) AS b));
COMMENT ON LARGE OBJECT 424242 IS 'a greeting';
COMMENT ON LARGE OBJECT 424244 IS 'big one';
GRANT SELECT ON LARGE OBJECT 424242 TO PUBLIC;
ALTER LARGE OBJECT 424245 OWNER TO bd_reader;
CREATE TABLE public.lo_refs (id integer PRIMARY KEY, blob oid);
INSERT INTO public.lo_refs VALUES (1, 424242), (2, 424243), (3, 424244), (4, 424245);

-- ---------------------------------------------------------------------------
-- A large-ish table (~200k rows) for chunked/parallel dumps
-- ---------------------------------------------------------------------------
CREATE TABLE public.big (
    id        bigint PRIMARY KEY,
    grp       integer NOT NULL,
    payload   text,
    created   timestamptz NOT NULL,
    flags     bit(4)
);
INSERT INTO public.big
SELECT i, i % 97,
       CASE WHEN i % 1000 = 0 THEN NULL
            WHEN i % 1000 = 1 THEN E'tab\tnl\nbs\\'
            ELSE md5(i::text) || ' ' || repeat(chr(97 + i % 26), i % 40) END,
       timestamptz '2020-01-01 00:00:00+00' + i * interval '17 seconds',
       (i % 16)::bit(4)
FROM generate_series(1, 200000) i;
CREATE INDEX big_grp ON public.big (grp);

-- A table without a primary key or any unique index (chunking by ctid)
CREATE TABLE public.big_nopk (n integer, t text);
INSERT INTO public.big_nopk SELECT i % 1000, 'x' || i FROM generate_series(1, 50000) i;
INSERT INTO public.big_nopk SELECT 1, 'duplicate' FROM generate_series(1, 10);

-- ---------------------------------------------------------------------------
-- Publication (catalog only) and final housekeeping
-- ---------------------------------------------------------------------------
SET client_min_messages = error;  -- "wal_level is insufficient" warning
CREATE PUBLICATION pub_orders FOR TABLE public.orders, public.tree WITH (publish = 'insert, update');
COMMENT ON PUBLICATION pub_orders IS 'catalog-only publication';
ANALYZE;
