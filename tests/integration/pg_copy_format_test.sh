#!/usr/bin/env bash
# Binary COPY (engines/pg/pg_copybin.h): tables whose every column has a
# built-in type with a stable binary form are dumped, restored, migrated and
# verified as binary COPY; any other table (an enum, a domain, a reg* type,
# an extension's type beside built-in ones) as text.  Checks the manifest's
# per-table "format" and the digest's, that every stored chunk of a split
# table is a whole binary COPY stream, round trips with restore --verify
# (bytea, timestamptz, arrays, numeric NaN and Infinity, NULLs, an empty
# table, a table without columns), --copy-format text (a manifest without
# any "format", as every dump written before binary COPY), migrate both
# ways, and a bad --copy-format refused with exit 2.  A restore into tables
# whose column types differ from the dumped ones (binary data cannot load into
# them) is refused before any row is loaded, naming table, column and types.
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start
REPO="$BD_TMP/repo"
SRC_URI="$(pg_uri src)"

note "a database of binary and text tables"
db_create src
check "the database loads" psql_q src "
CREATE EXTENSION citext;
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE bin_types (id int PRIMARY KEY, b bytea, ts timestamptz, n numeric, f8 float8,
	ta text[], ia int[], j jsonb, iv interval, r numrange, tv tsvector, c \"char\", nm name, u uuid);
INSERT INTO bin_types VALUES
	(1, '\\x00ff', '2024-01-02 03:04:05.123456+02', 'NaN', 'NaN', '{a,\"b c\",NULL}', '{{1,2},{3,4}}',
	 '{\"k\": [1, 2.5]}', '1 day 2 hours', '[1.5,2)', 'a:1 b', 'x', 'name', gen_random_uuid()),
	(2, '', '-infinity', 'Infinity', '-Infinity', '{}', '{NULL}', 'null', '-1 mons', 'empty', '', '', '', NULL),
	(3, NULL, NULL, '-Infinity', '-0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE bin_empty (id int, v bytea);
CREATE TABLE bin_nocols ();
INSERT INTO bin_nocols SELECT FROM generate_series(1, 3);
CREATE TABLE bin_big (id int, v bytea, at timestamptz);
INSERT INTO bin_big SELECT g, decode(repeat(md5(g::text), 40), 'hex'), now() - g * interval '1 s'
	FROM generate_series(1, 12000) g;
CREATE TABLE text_enum (id int, m mood);
INSERT INTO text_enum VALUES (1, 'ok'), (2, NULL);
CREATE TABLE text_domain (id int, p posint);
INSERT INTO text_domain VALUES (1, 5);
CREATE TABLE text_citext (id int, e citext, b bytea);
INSERT INTO text_citext VALUES (1, 'A@b', '\\x01');
CREATE TABLE text_reg (id int, rel regclass, ty regtype);
INSERT INTO text_reg VALUES (1, 'pg_class', 'int4'), (2, 'public.bin_types', 'public.mood');
CREATE TABLE text_enum_array (id int, ms mood[]);
INSERT INTO text_enum_array VALUES (1, '{sad,ok}');
CREATE TABLE text_aclitem (id int, a aclitem);
INSERT INTO text_aclitem VALUES (1, 'postgres=r/postgres');
ANALYZE;"

# --------------------------------------------------------------------------
note "dump: per-table formats in the manifest and its digest"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --jobs 2 --chunk-size 256kB
assert_rc "dump succeeds" 0
ID="$(last_line)"
B="$REPO/src/backups/$ID"
cat >"$BD_TMP/formats.py" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))["info"]
for t in info["tables"]:
    print("table", t["name"], t.get("format", "text"), len(t["chunks"]))
for t in info["digest"]["tables"]:
    print("digest", t["name"], t.get("format", "text"))
PY
python3 "$BD_TMP/formats.py" "$B/manifest.json" >"$BD_TMP/formats.txt"
for t in bin_types bin_empty bin_nocols bin_big; do
	check "$t is dumped in binary" grep -q "^table $t binary " "$BD_TMP/formats.txt"
	check "$t's digest is of binary rows" grep -q "^digest $t binary$" "$BD_TMP/formats.txt"
done
for t in text_enum text_domain text_citext text_reg text_enum_array text_aclitem; do
	check "$t is dumped as text" grep -q "^table $t text " "$BD_TMP/formats.txt"
	check "$t's digest is of text rows" grep -q "^digest $t text$" "$BD_TMP/formats.txt"
done
nchunks="$(awk '$2 == "bin_big" && $1 == "table" {print $4}' "$BD_TMP/formats.txt")"
check "bin_big is split into chunks ($nchunks)" test "${nchunks:-0}" -gt 1
cat >"$BD_TMP/streams.py" <<'PY'
import json, subprocess, sys
b = sys.argv[1]
m = json.load(open(b + "/manifest.json"))
bad = 0
for t in m["info"]["tables"]:
    for c in t["chunks"]:
        data = subprocess.run(["zstd", "-dcq", b + "/" + c], check=True, capture_output=True).stdout
        binary = data.startswith(b"PGCOPY\n\xff\r\n\0") and data.endswith(b"\xff\xff")
        if binary != (t.get("format") == "binary"):
            print("chunk", c, "of", t["name"], "is not a whole", t.get("format", "text"), "stream")
            bad += 1
sys.exit(1 if bad else 0)
PY
check "every binary chunk is a whole binary COPY stream, every text chunk is not" \
	python3 "$BD_TMP/streams.py" "$B"

note "restore --verify of the binary dump"
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID" --to "$(pg_uri dst)" --create --jobs 2 --verify
assert_rc "restore --verify succeeds" 0
assert_output_contains "the restore was verified" "verified against backup"
check "the restored database matches the source" pg_compare src dst
assert_eq "numeric NaN and Infinity, float -0 came back" "NaN|Infinity|-Infinity|-0" \
	"$(psql_q dst "SELECT string_agg(x, '|' ORDER BY o) FROM (SELECT 1 o, n::text x FROM bin_types WHERE id = 1 UNION ALL SELECT 2, n::text FROM bin_types WHERE id = 2 UNION ALL SELECT 3, n::text FROM bin_types WHERE id = 3 UNION ALL SELECT 4, f8::text FROM bin_types WHERE id = 3) s")"

note "a table under 4 chunks: one binary COPY cut into objects, each a whole stream"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name srccut --jobs 2 --chunk-size 3MB
assert_rc "dump --chunk-size 3MB succeeds" 0
IDC="$(last_line)"
python3 "$BD_TMP/formats.py" "$REPO/srccut/backups/$IDC/manifest.json" >"$BD_TMP/formats-cut.txt"
ncut="$(awk '$2 == "bin_big" && $1 == "table" {print $4}' "$BD_TMP/formats-cut.txt")"
check "bin_big is written into several objects ($ncut)" test "${ncut:-0}" -gt 1
check "each of them is a whole binary COPY stream" python3 "$BD_TMP/streams.py" "$REPO/srccut/backups/$IDC"
run "$DBRESTORE" restore --repo "$REPO" --name srccut --to "$(pg_uri dstcut)" --create --jobs 2 --verify
assert_rc "restore --verify of the cut objects succeeds (rows per object match)" 0
check "the restored database matches the source" pg_compare src dstcut

note "restore --verify notices a changed binary table"
psql_q dst "UPDATE bin_types SET b = '\\x00fe' WHERE id = 1" >/dev/null
run "$DBRESTORE" verify --repo "$REPO" --name src --backup "$ID" --to "$(pg_uri dst)"
assert_rc "verify of a changed table exits 1" 1
assert_output_contains "the difference names the table" "public.bin_types: rows differ"

# --------------------------------------------------------------------------
note "--copy-format text: a manifest without formats, as before binary COPY"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name srctext --copy-format text --chunk-size 256kB
assert_rc "dump --copy-format text succeeds" 0
IDT="$(last_line)"
check "the text dump's manifest names no table format, as before binary COPY" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))["info"]
sys.exit(any("format" in t for t in i["tables"] + i["digest"]["tables"]))' "$REPO/srctext/backups/$IDT/manifest.json"
check "every chunk of the text dump is text" python3 "$BD_TMP/streams.py" "$REPO/srctext/backups/$IDT"
run "$DBRESTORE" restore --repo "$REPO" --name srctext --to "$(pg_uri dsttext)" --create --jobs 2 --verify
assert_rc "restore --verify of the text dump succeeds" 0
check "the text dump restores to the same database" pg_compare src dsttext

note "bad --copy-format values exit 2"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --copy-format binary
assert_rc "dump --copy-format binary exits 2" 2
assert_output_contains "the error names the option" "copy-format"
run "$DBRESTORE" migrate --from "$SRC_URI" --to "$(pg_uri never)" --create --copy-format csv
assert_rc "migrate --copy-format csv exits 2" 2
check_not "nothing was created" db_exists never

# --------------------------------------------------------------------------
note "migrate: binary tables copied in binary, verified in binary; and --copy-format text"
run "$DBRESTORE" --log-level debug migrate --from "$SRC_URI" --to "$(pg_uri mig)" --create --jobs 2 --chunk-size 256kB
assert_rc "migrate succeeds (verified)" 0
assert_output_contains "migrate verified the copy" "verified against the source's snapshot"
check "the migrated database matches the source" pg_compare src mig
run "$DBRESTORE" migrate --from "$SRC_URI" --to "$(pg_uri migtext)" --create --jobs 2 --copy-format text
assert_rc "migrate --copy-format text succeeds (verified)" 0
check "the text migration matches the source" pg_compare src migtext


# --------------------------------------------------------------------------
note "restore into tables of other column types than the dumped ones: refused before any row"
db_create typesrc
check "the typed table loads" psql_q typesrc "
CREATE TABLE typed (n int, ts timestamptz);
INSERT INTO typed VALUES (1, '2024-01-02 03:04:05+00'), (2, NULL);"
run "$BACKUPD" dump --source "$(pg_uri typesrc)" --repo "$REPO" --name typesrc
assert_rc "dump of the typed table succeeds" 0
check "the manifest records the binary table's column types" python3 -c '
import json, sys
t = [t for t in json.load(open(sys.argv[1]))["info"]["tables"] if t["name"] == "typed"][0]
sys.exit(not (t.get("format") == "binary" and t.get("types") == ["integer", "timestamp with time zone"]))' \
	"$REPO/typesrc/backups/$(last_line)/manifest.json"
# a target whose tables end up other than the dump made them: here an event
# trigger retypes the table right after the restore's CREATE TABLE
db_create typedst
check "the retyping target is set up" psql_q typedst "
CREATE FUNCTION public.retype() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF to_regclass('public.typed') IS NOT NULL AND (SELECT pg_catalog.format_type(atttypid, NULL)
       FROM pg_attribute WHERE attrelid = 'public.typed'::regclass AND attname = 'n') = 'integer' THEN
    EXECUTE 'ALTER TABLE public.typed ALTER n TYPE bigint, ALTER ts TYPE text';
  END IF;
END \$\$;
CREATE EVENT TRIGGER retype ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.retype();"
run "$DBRESTORE" restore --repo "$REPO" --name typesrc --to "$(pg_uri typedst)" --allow-non-empty
assert_rc "restore into other column types exits 1" 1
assert_output_contains "the error names table, column, dumped and target type" \
	"table public.typed column n: the backup holds its data as binary COPY of type integer, the target column is bigint"
check "no row was loaded" test "$(psql_q typedst "SELECT count(*) FROM public.typed")" = 0
check "the same types again" psql_q typedst "DROP EVENT TRIGGER retype; DROP TABLE public.typed;"
run "$DBRESTORE" restore --repo "$REPO" --name typesrc --to "$(pg_uri typedst)" --allow-non-empty --verify
assert_rc "restore into the dumped types succeeds (verified)" 0
check "its rows are loaded" test "$(psql_q typedst "SELECT count(*) FROM public.typed WHERE ts = '2024-01-02 03:04:05+00' OR ts IS NULL")" = 2
note "a backup made before column types were recorded still restores"
OLD="$BD_TMP/repo-old"
cp -a "$REPO" "$OLD"
python3 - "$OLD/typesrc/backups/"*/manifest.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for t in m["info"]["tables"]:
    t.pop("types", None)
json.dump(m, open(sys.argv[1], "w"))
PY
run "$DBRESTORE" restore --repo "$OLD" --name typesrc --to "$(pg_uri typeold)" --create --verify
assert_rc "restore of a manifest without types succeeds (verified)" 0
assert_output_contains "it says the types could not be checked" "records no column types"
rm -rf "$OLD"

finish
