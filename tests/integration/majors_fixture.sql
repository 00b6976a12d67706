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
