#!/usr/bin/env bash
# Verified, not assumed: the row counts, row checksums, schema objects and
# sequence values a dump records (manifest info.digest), checked after a
# restore with `restore --verify` and at any time with `dbrestore verify`,
# on PostgreSQL and MariaDB.  A changed row, a missing index, a moved
# sequence are named; a difference found by restore --verify fails the
# restore (a --create database is dropped); a backup from before digests
# cannot be verified but still restores; one from before manifest format 2
# (objects hashed by their content, not their stored bytes) still verifies
# and restores, and a wrong hash there is still caught.
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")" && pwd -P)"

require_binaries
pg_start

REPO="$BD_TMP/repo"

# --------------------------------------------------------------------------
note "PostgreSQL: the corner-case database, dumped in chunks"
db_create src
check "corner-case database loads" psql_file src "$HERE/pg_corner_cases.sql"
run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$REPO" --name pg --jobs 2 --chunk-size 1MB
assert_rc "dump succeeds" 0
ID="$(last_line)"
M="$REPO/pg/backups/$ID/manifest.json"
check "the manifest records a digest: tables with rows and checksums, objects by kind, sequences" \
	python3 - "$M" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))["info"]["digest"]
t = {(x["schema"], x["name"]): x for x in d["tables"]}
big = t[("public", "big")]
assert big["rows"] > 0 and re.fullmatch(r"[0-9a-f]{16}", big["checksum"]), big
kinds = {k["kind"]: k for k in d["objects"]}
for k in ("table", "index", "sequence", "schema", "function"):
    assert k in kinds and kinds[k]["count"] > 0, (k, sorted(kinds))
assert len(d["sequences"]) > 0
PY
check "the digest's row counts are the dump's" python3 - "$M" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))["info"]
rows = {(t["schema"], t["name"]): t["rows"] for t in i["tables"]}
dig = {(t["schema"], t["name"]): t["rows"] for t in i["digest"]["tables"]}
assert rows == dig, (rows, dig)
PY

run "$DBRESTORE" restore --repo "$REPO" --name pg --to "$(pg_uri dst)" --create --jobs 2 --verify
assert_rc "restore --verify succeeds" 0
assert_output_contains "restore --verify says what matched" "verified against backup $ID"
check "the restored database matches the source" pg_compare src dst
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)" --jobs 3
assert_rc "dbrestore verify --jobs 3 (one snapshot, three connections) of the restored database succeeds" 0
assert_output_contains "it read on 3 connections" "3 connections"
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)" --jobs 1
assert_rc "dbrestore verify --jobs 1 succeeds" 0
assert_output_contains "verify says it matches" "database matches backup $ID"

note "PostgreSQL: differences are found and named"
psql_q dst "UPDATE public.big SET payload = payload || 'x' WHERE id = 7" >/dev/null
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)"
assert_rc "a changed row: verify exits 1" 1
assert_output_contains "the error names the table whose rows differ" "table public.big: rows differ"
psql_q dst "UPDATE public.big SET payload = left(payload, -1) WHERE id = 7" >/dev/null
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)"
assert_rc "the row changed back: verify succeeds again" 0
psql_q dst "DROP TABLE public.nulls_and_empties" >/dev/null
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)"
assert_rc "a dropped table: verify exits 1" 1
# the digest has the table twice (its rows, and among the tables as objects): one difference
assert_output_contains "the error is one difference naming the table" "1 difference: table public.nulls_and_empties is missing"
assert_eq "the table is named once" 1 "$(cat "$RUN_OUT" "$RUN_ERR" | grep -o 'table public.nulls_and_empties is missing' | wc -l)"
psql_q dst "DELETE FROM public.big WHERE id = 3; DROP INDEX public.big_grp; SELECT setval('public.seq_called', 999999); SELECT lo_unlink(424244)" >/dev/null
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)"
assert_rc "a deleted row, a dropped index, a moved sequence, a removed large object: verify exits 1" 1
assert_output_contains "the error counts the large objects" "large object: "
assert_output_contains "the error names the table and its row counts" "table public.big has"
assert_output_contains "the error names the index" "index public.big_grp is missing"
assert_output_contains "the error names the sequence" "sequence public.seq_called is at 999999"

note "PostgreSQL: restore --verify fails when the restore does not reproduce the data"
# a row trigger the target already has alters one row as COPY loads it
db_create tampered
psql_q tampered "
CREATE FUNCTION public.tamper() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN IF NEW.id = 5 THEN NEW.payload := 'tampered'; END IF; RETURN NEW; END \$\$;
CREATE FUNCTION public.arm() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_class WHERE oid = 'public.big'::regclass) THEN
    EXECUTE 'CREATE TRIGGER tamper BEFORE INSERT ON public.big FOR EACH ROW EXECUTE FUNCTION public.tamper()';
  END IF;
EXCEPTION WHEN undefined_table OR duplicate_object THEN NULL;
END \$\$;
CREATE EVENT TRIGGER arm ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.arm();" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name pg --to "$(pg_uri tampered)" --jobs 2 --allow-non-empty --verify
assert_rc "restore --verify of an altered restore exits 1" 1
assert_output_contains "the error names the table" "table public.big: rows differ"
psql_q postgres "DROP DATABASE tampered WITH (FORCE)" >/dev/null
# with --create, a database that fails verification is dropped: a manifest
# whose recorded checksum for public.big is not what the data gives
BAD="$BD_TMP/repo-bad"
cp -a "$REPO" "$BAD"
python3 - "$BAD/pg/backups/$ID/manifest.json" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
for t in m["info"]["digest"]["tables"]:
    if (t["schema"], t["name"]) == ("public", "big"):
        t["checksum"] = "%016x" % ((int(t["checksum"], 16) + 1) % 2**64)
json.dump(m, open(p, "w"))
PY
run "$DBRESTORE" restore --repo "$BAD" --name pg --to "$(pg_uri badcreate)" --create --jobs 2 --verify
assert_rc "restore --create --verify with a difference exits 1" 1
assert_output_contains "the error names the table" "table public.big: rows differ"
check_not "the database that failed verification is not left behind" db_exists badcreate
assert_eq "nor its temporary database" 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'backupd\_restore\_%'")"

note "PostgreSQL: table subsets"
run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$BD_TMP/repo-subset" --name pg --include-table public.big --include-table public.big_nopk
assert_rc "a dump of two tables succeeds" 0
check "its digest holds those tables' rows and checksums only" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["info"]["digest"]
names = sorted(t["name"] for t in d["tables"])
assert names == ["big", "big_nopk"], names
assert d["objects"] == [] and d["sequences"] == [], d' "$(ls -d "$BD_TMP"/repo-subset/pg/backups/*/manifest.json)"
run "$DBRESTORE" restore --repo "$BD_TMP/repo-subset" --name pg --to "$(pg_uri subset)" --create --verify
assert_rc "restore --verify of the subset dump succeeds" 0
run "$DBRESTORE" restore --repo "$REPO" --name pg --to "$(pg_uri subset2)" --create --verify --table public.big
assert_rc "restore --verify with --table is refused" 2
assert_output_contains "saying why" "--verify compares the whole backup"

note "PostgreSQL: a backup from before digests"
OLD="$BD_TMP/repo-old"
cp -a "$REPO" "$OLD"
python3 - "$OLD/pg/backups/$ID/manifest.json" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
del m["info"]["digest"]
json.dump(m, open(p, "w"))
PY
run "$DBRESTORE" restore --repo "$OLD" --name pg --to "$(pg_uri old1)" --create --verify
assert_rc "restore --verify of a backup without a digest exits 1" 1
assert_output_contains "the error says it cannot be verified" "cannot be verified: it has no recorded checksums"
check_not "and nothing was restored" db_exists old1
run "$DBRESTORE" restore --repo "$OLD" --name pg --to "$(pg_uri old1)" --create
assert_rc "without --verify it restores" 0
run "$DBRESTORE" verify --repo "$OLD" --name pg --to "$(pg_uri old1)"
assert_rc "dbrestore verify of it exits 1" 1
assert_output_contains "saying it predates digests" "predates digests"

note "PostgreSQL: a backup from before manifest format 2 (each object's hash of its content)"
check "a new manifest is format 2 and hashes each compressed object's stored bytes" python3 - "$M" "$REPO/pg/backups/$ID" <<'PY'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == 2, m["format"]
for o in m["objects"]:
    data = open(os.path.join(sys.argv[2], o["name"]), "rb").read()
    assert o["compressed"] and o["sha256_of"] == "stored", o
    assert hashlib.sha256(data).hexdigest() == o["sha256"], o["name"]
PY
F1="$BD_TMP/repo-format1"
cp -a "$REPO" "$F1"
# what a format 1 backupd wrote: the SHA-256 of each object's content
cat >"$BD_TMP/format1.py" <<'PY'
import hashlib, json, os, subprocess, sys
p, bdir, bad = sys.argv[1], sys.argv[2], len(sys.argv) > 3
m = json.load(open(p))
m["format"] = 1
for o in m["objects"]:
    data = open(os.path.join(bdir, o["name"]), "rb").read()
    content = subprocess.run(["zstd", "-dcq"], input=data, check=True, capture_output=True).stdout
    o["sha256"] = hashlib.sha256(content).hexdigest()
    o.pop("sha256_of", None)
if bad:
    o = next(o for o in m["objects"] if o["name"].startswith("data/"))
    o["sha256"] = hashlib.sha256(b"other").hexdigest()
    print(o["name"])
json.dump(m, open(p, "w"))
PY
python3 "$BD_TMP/format1.py" "$F1/pg/backups/$ID/manifest.json" "$F1/pg/backups/$ID"
run "$BACKUPD" verify --repo "$F1" --name pg
assert_rc "backupd verify of the format 1 backup succeeds" 0
run "$DBRESTORE" restore --repo "$F1" --name pg --to "$(pg_uri format1)" --create --verify
assert_rc "restore --verify of it succeeds" 0
bad_obj="$(python3 "$BD_TMP/format1.py" "$F1/pg/backups/$ID/manifest.json" "$F1/pg/backups/$ID" bad)"
run "$BACKUPD" verify --repo "$F1" --name pg
assert_rc "a format 1 backup whose content hash differs fails verify" 1
assert_output_contains "naming the object" "$bad_obj' is corrupt: sha256 mismatch"
run "$DBRESTORE" restore --repo "$F1" --name pg --to "$(pg_uri format1bad)" --create
assert_rc "and its restore fails" 1
check_not "leaving no database" db_exists format1bad

# --------------------------------------------------------------------------
note "MariaDB: the corner-case database"
mariadb_start
my_db_create msrc
check "corner-case database loads" my_sql_file msrc "$HERE/mysql_corner_cases.sql"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri msrc)" --repo "$REPO" --name my --jobs 2
assert_rc "dump succeeds" 0
MID="$(last_line)"
check "the manifest records a digest" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["info"]["digest"]
assert len(d["tables"]) > 0 and any(t["rows"] > 0 for t in d["tables"]), d["tables"]
assert any(k["kind"] == "table" for k in d["objects"])' "$REPO/my/backups/$MID/manifest.json"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name my --to "$(my_uri mdst)" --create --verify
assert_rc "restore --verify succeeds" 0
assert_output_contains "restore --verify says what matched" "verified against backup $MID"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" verify --repo "$REPO" --name my --to "$(my_uri mdst)"
assert_rc "dbrestore verify of the restored database succeeds" 0
tbl="$(my_sql mdst "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mdst' AND TABLE_TYPE = 'BASE TABLE' AND TABLE_ROWS > 0 AND ENGINE = 'InnoDB' ORDER BY TABLE_NAME LIMIT 1")"
note "deleting one row of mdst.$tbl"
my_sql mdst "DELETE FROM \`$tbl\` LIMIT 1"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" verify --repo "$REPO" --name my --to "$(my_uri mdst)"
assert_rc "a deleted row: verify exits 1" 1
assert_output_contains "the error names the table (under the dumped database's name)" "table msrc.$tbl has"

assert_no_secrets_in_output "the passwords never appear in any output"
finish
