-- One database for the PostgreSQL major matrix (majors_test.sh): loads on
-- every major from 12 to 18.  Roles are the cluster's: created beforehand.
CREATE EXTENSION hstore;
CREATE SCHEMA "Odd Schema" AUTHORIZATION mj_owner;
CREATE TABLE "Odd Schema"."Odd ""Table""" (id int PRIMARY KEY, "Val ue" text, h hstore);
INSERT INTO "Odd Schema"."Odd ""Table"""
SELECT g, 'v' || g || E'\t''"', hstore('k' || g, 'x') FROM generate_series(1, 300) g;
ALTER TABLE "Odd Schema"."Odd ""Table""" OWNER TO mj_owner;
GRANT USAGE ON SCHEMA "Odd Schema" TO mj_reader;
GRANT SELECT ON "Odd Schema"."Odd ""Table""" TO mj_reader, "Mj ""odd"" Role";
COMMENT ON TABLE "Odd Schema"."Odd ""Table""" IS 'odd, isn''t it';

CREATE TABLE public.measure (id int, at date NOT NULL, v numeric) PARTITION BY RANGE (at);
CREATE TABLE public.measure_2024 PARTITION OF public.measure FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.measure_2025 PARTITION OF public.measure FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO public.measure SELECT g, date '2024-01-01' + g, g * 1.5 FROM generate_series(1, 700) g;
CREATE INDEX measure_at ON public.measure (at);

CREATE TABLE public.secrets (id serial PRIMARY KEY, owner name NOT NULL DEFAULT current_user, body text);
INSERT INTO public.secrets (owner, body) SELECT 'u' || g, 'secret ' || g FROM generate_series(1, 50) g;
ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY secrets_own ON public.secrets USING (owner = current_user);
CREATE POLICY secrets_reader ON public.secrets FOR SELECT TO mj_reader USING (true);
GRANT SELECT ON public.secrets TO mj_reader;

SELECT lo_from_bytea(500001, convert_to('hello from an older major', 'UTF8'));
SELECT lo_from_bytea(500002, (SELECT string_agg(sha256(int4send(i)), ''::bytea ORDER BY i)
                              FROM generate_series(1, 20000) AS i));
SELECT lo_from_bytea(500003, ''::bytea);
COMMENT ON LARGE OBJECT 500001 IS 'a greeting';
GRANT SELECT ON LARGE OBJECT 500001 TO mj_reader;
GRANT SELECT, UPDATE ON LARGE OBJECT 500002 TO "Mj ""odd"" Role" WITH GRANT OPTION;
ALTER LARGE OBJECT 500002 OWNER TO mj_owner;
CREATE TABLE public.lo_refs (id integer PRIMARY KEY, blob oid);
INSERT INTO public.lo_refs VALUES (1, 500001), (2, 500002), (3, 500003);

-- Built-in types dumped, restored, migrated and verified as binary COPY
-- (engines/pg/pg_copybin.h): what every major 12..18 must receive as the
-- older one sent it.  "Odd Table" (hstore) and public.moods (an enum) stay text.
CREATE TABLE public.bin_types (id int PRIMARY KEY, b bytea, ts timestamptz, t timestamp, d date,
	iv interval, n numeric, f8 float8, f4 real, ta text[], ia int[], j jsonb, js json, u uuid,
	ip inet, r int4range, tv tsvector, bits varbit, c char(3), pt point, o oid);
INSERT INTO public.bin_types VALUES
	(1, '\x00ff10', '2024-01-02 03:04:05.123456+02', 'infinity', '-infinity',
	 '1 year 2 mons 3 days 04:05:06.7', 'NaN', 'Infinity', '-0', '{a,"b c",NULL,"\"q\""}',
	 '{{1,2},{3,NULL}}', '{"k": [1, 2.50, null], "é": "ü"}', '{"a" : 1}',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.0.0.1/8', '[1,5)', 'a:1 b:2 ü', B'1011', 'ab',
	 '(1.5,-2)', 4294967295),
	(2, '', '1970-01-01 00:00:00+00', '2000-02-29 23:59:59.999999', '0044-03-15 BC', '-1 day',
	 '-0.000000000000000000001', 'NaN', '-Infinity', '{}', '{}', '[]', '""', NULL, '::1', 'empty', '', B'', '',
	 '(0,0)', 0),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL);
INSERT INTO public.bin_types (id, b, ts, n, ta)
SELECT g, decode(md5(g::text), 'hex'), timestamptz '2020-01-01 UTC' + g * interval '1 min',
	g / 7.0, ARRAY['x' || g, NULL] FROM generate_series(4, 400) g;
CREATE TABLE public.bin_empty (id int, v bytea);
CREATE TYPE public.mood AS ENUM ('sad', 'ok');
CREATE TABLE public.moods (id int, m public.mood, rel regclass);
INSERT INTO public.moods VALUES (1, 'ok', 'pg_class'), (2, NULL, NULL);
