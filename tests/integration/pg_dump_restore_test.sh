#!/usr/bin/env bash
# run.sh: long
# PostgreSQL logical dump and restore, end to end, against a real server:
# round trips of a corner-case database with --jobs 2 and --jobs 1, the
# repository layout, list/verify, and the failure paths (non-empty target,
# corrupt object, missing manifest, killed dump, wrong password, bad usage,
# unusable repository).
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")" && pwd -P)"

require_binaries
pg_start

REPO="$BD_TMP/repo"
SRC_URI="$(pg_uri src)"

# --------------------------------------------------------------------------
note "loading pg_corner_cases.sql into 'src'"
db_create src
check "corner-case database loads" psql_file src "$HERE/pg_corner_cases.sql"

# --------------------------------------------------------------------------
note "dump --jobs 2"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --jobs 2
assert_rc "dump --jobs 2 succeeds" 0
ID1="$(last_line)"
assert_match "dump prints the backup ID as its last line" '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' "$ID1"

B1="$REPO/src/backups/$ID1"
assert_file "repository has backupd.repo" "$REPO/backupd.repo"
check "backupd.repo is JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$REPO/backupd.repo"
assert_file "backup has manifest.json" "$B1/manifest.json"
check "manifest.json is JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$B1/manifest.json"
assert_file "backup has schema/pre-data.sql.zst" "$B1/schema/pre-data.sql.zst"
assert_file "backup has schema/post-data.sql.zst" "$B1/schema/post-data.sql.zst"
ndata="$(find "$B1/data" -name '*.copy.zst' -type f 2>/dev/null | wc -l)"
check "backup has data/*.copy.zst objects ($ndata)" test "$ndata" -gt 0
check "every .zst object passes zstd -t" \
	bash -c 'find "$1" -name "*.zst" -type f -print0 | xargs -0 -r zstd -q -t' _ "$B1"
check "pre-data is plain SQL (zstd -dc)" \
	bash -c 'zstd -dc "$1" | grep -q "CREATE TABLE public.big"' _ "$B1/schema/pre-data.sql.zst"
check "post-data holds the indexes" \
	bash -c 'zstd -dc "$1" | grep -q "CREATE INDEX big_grp"' _ "$B1/schema/post-data.sql.zst"
# md5('2') is in row 2 of public.big, of built-in types only: its objects are
# binary COPY streams (pg_copy_format_test.sh), the text values as they are.
check "data objects are zstd-compressed COPY streams, binary ones among them" \
	bash -c 'find "$1/data" -name "*.copy.zst" -type f -print0 | xargs -0 zstd -dc >"$2" && grep -a -q -F "c81e728d9d4c2f636f067f89cc14862c " "$2" && grep -a -q "^PGCOPY" "$2"' _ "$B1" "$BD_TMP/data.copy"
check_not "password not stored in the repository" \
	bash -c 'grep -r -q -F -- "$2" "$1" || find "$1" -name "*.zst" -type f -print0 | xargs -0 zstd -dcq | grep -q -F -- "$2"' _ "$REPO" "$PG_PASSWORD"

# --------------------------------------------------------------------------
note "dump --jobs 1 --compress zstd:3"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --jobs 1 --compress zstd:3
assert_rc "dump --jobs 1 --compress zstd:3 succeeds" 0
ID2="$(last_line)"
assert_match "second dump prints a backup ID" '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' "$ID2"
check "the two backups have different IDs" test "$ID1" != "$ID2"

# --------------------------------------------------------------------------
note "list"
run "$BACKUPD" list --repo "$REPO" --json
assert_rc "list --json succeeds" 0
cp "$RUN_OUT" "$BD_TMP/list1.json"
check "list --json shows both backups complete with the required fields" python3 - "$BD_TMP/list1.json" "$ID1" "$ID2" <<'PY'
import json, re, sys
items = json.load(open(sys.argv[1]))
assert isinstance(items, list), "not a JSON array"
rfc3339 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$')
for want in sys.argv[2:]:
    found = [i for i in items if i.get("id") == want]
    assert len(found) == 1, f"backup {want} listed {len(found)} times"
    b = found[0]
    for k in ("id", "name", "engine", "kind", "started", "finished", "size", "stored_size", "status"):
        assert k in b, f"{want}: missing field {k}"
    assert b["name"] == "src", f"{want}: name {b['name']!r}"
    assert b["engine"] == "postgresql", f"{want}: engine {b['engine']!r}"
    assert b["kind"] == "dump", f"{want}: kind {b['kind']!r}"
    assert b["status"] == "complete", f"{want}: status {b['status']!r}"
    assert rfc3339.match(b["started"]), f"{want}: started {b['started']!r} not RFC 3339 UTC"
    assert rfc3339.match(b["finished"]), f"{want}: finished {b['finished']!r} not RFC 3339 UTC"
    assert b["finished"] >= b["started"], f"{want}: finished before started"
    assert isinstance(b["size"], int) and b["size"] > 0, f"{want}: size {b['size']!r}"
    assert isinstance(b["stored_size"], int) and b["stored_size"] > 0, f"{want}: stored_size {b['stored_size']!r}"
    assert b["stored_size"] < b["size"], f"{want}: stored_size {b['stored_size']} not below size {b['size']}"
PY
run "$BACKUPD" list --repo "$REPO" --name src --json
assert_rc "list --name src --json succeeds" 0
check "list --name src shows both" python3 -c '
import json,sys
ids = {i["id"] for i in json.load(open(sys.argv[1]))}
assert {sys.argv[2], sys.argv[3]} <= ids, ids' "$RUN_OUT" "$ID1" "$ID2"
run "$BACKUPD" list --repo "$REPO" --name nosuchsource --json
check "list --name of an unknown source shows nothing" python3 -c '
import json,sys
d = json.load(open(sys.argv[1])) if open(sys.argv[1]).read().strip() else []
assert d == [], d' "$RUN_OUT"
run "$BACKUPD" list --repo "$REPO"
assert_rc "list (text) succeeds" 0
assert_output_contains "list (text) names the first backup" "$ID1"

# --------------------------------------------------------------------------
note "verify"
run "$BACKUPD" verify --repo "$REPO" --name src
assert_rc "verify (all backups) succeeds" 0
run "$BACKUPD" verify --repo "$REPO" --name src "$ID1"
assert_rc "verify $ID1 succeeds" 0
run "$BACKUPD" verify --repo "$REPO" --name srcc
assert_rc "verify of a name with no backups (a typo) fails: it checked nothing" 1
assert_output_contains "it says so" "no complete backups of 'srcc' to verify"
run "$BACKUPD" expire --repo "$REPO" --name srcc --keep-last 100
assert_rc "expire of a name with nothing in the repository (a typo) fails: it applied nothing" 1
assert_output_contains "it names the name" "nothing of 'srcc' in "

# --------------------------------------------------------------------------
note "restore --create --jobs 2 of the --jobs 2 backup"
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst1)" --jobs 2 --create
assert_rc "restore --create --jobs 2 succeeds" 0
check "restored database matches the source (jobs 2)" pg_compare src dst1
# the corner cases' tables of no columns record no column types: nothing to check
check_not "a fresh backup's restore does not call it one made by an older version" \
	grep -q -F "made by an older version" "$RUN_OUT" "$RUN_ERR"

note "restore latest (the --jobs 1 backup) into an existing empty database, --jobs 1"
db_create dst2
run "$DBRESTORE" restore --repo "$REPO" --name src --backup latest --to "$(pg_uri dst2)" --jobs 1
assert_rc "restore latest --jobs 1 into an empty database succeeds" 0
check "restored database matches the source (jobs 1, latest)" pg_compare src dst2

# --------------------------------------------------------------------------
note "dump --chunk-size 1MB: large tables split into several objects"
REPO_S="$BD_TMP/repo-chunks"
run "$BACKUPD" --log-level debug dump --source "$SRC_URI" --repo "$REPO_S" --name src --jobs 2 --chunk-size 1MB
assert_rc "dump --jobs 2 --chunk-size 1MB succeeds" 0
ID3="$(last_line)"
# public.big (~20 MB) is larger than 4 chunks: read in ctid ranges, one object each
assert_output_matches "a table larger than 4 chunks is read in ctid ranges" \
	'dumped public\.big chunk [1-9][0-9]*: [0-9]+ rows in 1 object$'
# Objects are named data/<table>.<chunk>.copy.zst: some table must have > 1 chunk.
max_chunks="$(find "$REPO_S/src/backups/$ID3/data" -name '*.copy.zst' -type f -printf '%f\n' 2>/dev/null |
	sed -E 's/\.[0-9]+\.copy\.zst$//' | sort | uniq -c | sort -n | tail -n 1 | awk '{print $1}')"
check "the big table is split into several chunks (max ${max_chunks:-0} per table)" test "${max_chunks:-0}" -gt 1
run "$BACKUPD" verify --repo "$REPO_S" --name src "$ID3"
assert_rc "verify of the chunked backup succeeds" 0
run "$DBRESTORE" restore --repo "$REPO_S" --name src --backup "$ID3" --to "$(pg_uri dst3)" --jobs 2 --create
assert_rc "restore of the chunked backup succeeds" 0
check "restored chunked backup matches the source" pg_compare src dst3

note "dump with public.big under 4 chunks: one COPY, its output cut into objects of about the chunk size"
big_kb="$(psql_q src "SELECT pg_table_size('public.big') / 3 / 1024 + 1")"
run "$BACKUPD" --log-level debug dump --source "$SRC_URI" --repo "$REPO_S" --name src --jobs 2 --chunk-size "${big_kb}KB"
assert_rc "dump --chunk-size ${big_kb}KB succeeds" 0
ID4="$(last_line)"
assert_output_matches "public.big is one COPY written into several objects" \
	'dumped public\.big chunk 0: 200000 rows in [2-9] objects$'
check "the manifest lists public.big's objects in order, their rows adding up to the table's" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
t = [t for t in m["info"]["tables"] if t["name"] == "big"][0]
objs = {o["name"]: o for o in m["objects"]}
assert len(t["chunks"]) >= 2 and t["chunks"] == sorted(t["chunks"], key=lambda n: int(n.split(".")[-3])), t["chunks"]
assert sum(objs[c]["rows"] for c in t["chunks"]) == t["rows"] == 200000, t
' "$REPO_S/src/backups/$ID4/manifest.json"
run "$BACKUPD" verify --repo "$REPO_S" --name src "$ID4"
assert_rc "verify of the split backup succeeds" 0
run "$DBRESTORE" restore --repo "$REPO_S" --name src --backup "$ID4" --to "$(pg_uri dst4)" --jobs 2 --create
assert_rc "restore of the split backup succeeds" 0
check "restored split backup matches the source" pg_compare src dst4

note "dump from a server whose shared_buffers public.big outgrows: one COPY cut into objects, not ctid ranges"
# ranges would cycle each page through the whole buffer pool; a sequential scan keeps to its ring
pg_restart_with() {
	psql_q postgres "$1" >/dev/null && bash "$PG_SERVER_SH" stop "$PG_DIR" >/dev/null &&
		bash "$PG_SERVER_SH" start "$PG_DIR" "$PG_PORT" "$PG_BINDIR" >/dev/null
}
check "server restarted with shared_buffers 2MB" pg_restart_with "ALTER SYSTEM SET shared_buffers = '2MB'"
run "$BACKUPD" --log-level debug dump --source "$SRC_URI" --repo "$REPO_S" --name src --jobs 2 --chunk-size 1MB
assert_rc "dump --chunk-size 1MB from the small pool succeeds" 0
ID5="$(last_line)"
assert_output_matches "public.big (past shared_buffers) is one COPY written into several objects" \
	'dumped public\.big chunk 0: 200000 rows in ([2-9]|[1-9][0-9]+) objects$'
check "server restarted with its shared_buffers back" pg_restart_with "ALTER SYSTEM RESET shared_buffers"
run "$DBRESTORE" restore --repo "$REPO_S" --name src --backup "$ID5" --to "$(pg_uri dst5)" --jobs 2 --create
assert_rc "restore of the backup split past shared_buffers succeeds" 0
check "restored backup split past shared_buffers matches the source" pg_compare src dst5

note "migrate of the corner-case database"
# migrate's COPY pipe names the columns as the restore does: an inheritance
# child whose column order the target does not share (reorder_child, reorder_own)
run "$DBRESTORE" migrate --from "$SRC_URI" --to "$(pg_uri dst_migrate)" --create --jobs 2 --chunk-size 1MB
assert_rc "migrate --create of the corner-case database succeeds (verified)" 0
check "the migrated database matches the source" pg_compare src dst_migrate
db_drop dst_migrate

# --------------------------------------------------------------------------
note "restore pipeline: indexes and foreign keys follow their tables' loads, single-chunk tables load frozen"
run "$DBRESTORE" --log-level debug restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst_pipe)" \
	--jobs 2 --create
assert_rc "restore --create --jobs 2 at debug level succeeds" 0
assert_output_matches "indexes and constraints are built in the load pipeline" \
	'pipeline: [1-9][0-9]* indexes and constraints, [1-9][0-9]* foreign keys after'
# public.measurements (partitioned: no rows of its own) has ON ONLY indexes:
# nothing of them waits for the loads
assert_output_matches "indexes on tables without data are ready at once, not after every load" \
	'pipeline: .* [1-9][0-9]* on tables without data at once'
check "the pipelined restore matches the source" pg_compare src dst_pipe
check "the pipeline's debug timeline shows each task's connection and span" \
	grep -E -q 'timeline: connection [01]: load public\.big .*: [0-9]+\.\.[0-9]+ ms' "$RUN_ERR"
# No parallel index-build workers beside the --jobs connections: the server
# would start them for public.big's indexes (~20 MB, above
# min_parallel_table_scan_size) at its default of 2; at debug1 it logs each
# background worker it starts.
_bd_psql -d postgres -c "ALTER SYSTEM SET log_min_messages = debug1" -c "SELECT pg_reload_conf()" >/dev/null
# the postmaster rereads its configuration on its own time: a new session sees it once it has
logs_debug1() { [ "$(psql_q postgres "SHOW log_min_messages")" = debug1 ]; }
check "the server logs at debug1" wait_for 30 logs_debug1
log_from="$(wc -l <"$PG_DIR/log/postgresql.log")"
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst_noworkers)" --jobs 2 --create
assert_rc "restore --jobs 2 (server logging at debug1) succeeds" 0
workers="$(tail -n +"$((log_from + 1))" "$PG_DIR/log/postgresql.log" | grep -c 'starting background worker process "parallel worker' || true)"
assert_eq "the restore's index builds start no parallel workers" 0 "$workers"
# the control: the same server does start one for an index on public.big
log_from="$(wc -l <"$PG_DIR/log/postgresql.log")"
_bd_psql -d dst_noworkers -c "SET max_parallel_maintenance_workers = 2" -c "SET maintenance_work_mem = '256MB'" \
	-c "CREATE INDEX big_probe ON public.big (grp, id)" >/dev/null 2>&1 || true
workers="$(tail -n +"$((log_from + 1))" "$PG_DIR/log/postgresql.log" | grep -c 'starting background worker process "parallel worker' || true)"
_bd_psql -d postgres -c "ALTER SYSTEM RESET log_min_messages" -c "SELECT pg_reload_conf()" >/dev/null
check "the server starts parallel workers for an index on public.big otherwise (so the check above can fail)" \
	test "$workers" -gt 0
db_drop dst_noworkers
# maintenance_work_mem: the sessions keep the server's; a build whose sort
# then fits in memory (at most 512 MB: public.big's 200000 rows need ~19 MB)
# gets what it needs, of a budget the builds share: half of the server's
# available memory, read by a superuser (the test's role) from the server's
# /proc/meminfo.  The server here is set to 1MB, so that the build needs more.
_bd_psql -d postgres -c "ALTER SYSTEM SET maintenance_work_mem = '1MB'" -c "SELECT pg_reload_conf()" >/dev/null
mwm_1mb() { [ "$(psql_q postgres "SHOW maintenance_work_mem")" = 1MB ]; }
check "the server's maintenance_work_mem is 1MB" wait_for 30 mwm_1mb
run "$DBRESTORE" --log-level debug restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst_pipe1)" \
	--jobs 1 --create
_bd_psql -d postgres -c "ALTER SYSTEM RESET maintenance_work_mem" -c "SELECT pg_reload_conf()" >/dev/null
assert_rc "restore --create --jobs 1 at debug level succeeds" 0
assert_output_matches "the sessions keep the server's setting; the budget is half of the server's available memory" \
	'index builds: maintenance_work_mem 1024 kB \(the server.s\), .* \(half of the server.s available memory\)'
assert_output_matches "an index build is sized from its table's rows (public.big: 200000) to sort in memory" \
	'INDEX big_grp: maintenance_work_mem [0-9]+ kB for 200000 rows: its sort in memory'
# COPY FREEZE (TRUNCATE in the load's transaction): every page of a
# single-chunk table is all-frozen right after the restore, with no vacuum.
_bd_psql -d dst_pipe -c "CREATE EXTENSION pg_visibility" >/dev/null
check "public.big was loaded frozen (no page left unfrozen)" test "$(psql_q dst_pipe \
	"SELECT count(*) FILTER (WHERE NOT all_frozen) || '/' || count(*) FROM pg_visibility_map('public.big')" |
	cut -d/ -f1)" = 0
check "public.big has pages" test "$(psql_q dst_pipe "SELECT count(*) FROM pg_visibility_map('public.big')")" -gt 0
db_drop dst_pipe
db_drop dst_pipe1

# --------------------------------------------------------------------------
note "failure: restore into a non-empty database is refused"
db_create nonempty
psql_q nonempty "CREATE TABLE keep_me (x integer); INSERT INTO keep_me VALUES (1), (2);" >/dev/null
rels_before="$(psql_q nonempty "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace")"
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri nonempty)" --jobs 2
assert_rc "restore into a non-empty database exits non-zero" nonzero
assert_stderr_nonempty "refused restore explains why"
rels_after="$(psql_q nonempty "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace")"
assert_eq "non-empty target untouched (relations)" "$rels_before" "$rels_after"
assert_eq "non-empty target untouched (rows)" "2" "$(psql_q nonempty 'SELECT count(*) FROM keep_me')"

note "dump without --name: the source is named after the database"
run "$BACKUPD" dump --source "$(pg_uri nonempty)" --repo "$BD_TMP/repo-noname"
assert_rc "dump without --name succeeds" 0
run "$BACKUPD" list --repo "$BD_TMP/repo-noname" --json
check "the backup is listed under the database name" python3 -c '
import json,sys
names = [i["name"] for i in json.load(open(sys.argv[1]))]
assert names == ["nonempty"], names' "$RUN_OUT"

# --------------------------------------------------------------------------
note "failure: a corrupt data object"
REPO_C="$BD_TMP/repo-corrupt"
cp -a "$REPO" "$REPO_C"
victim="$(find "$REPO_C/src/backups/$ID1/data" -name '*.copy.zst' -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
if [ -z "$victim" ]; then
	fail "found a data object to corrupt"
else
	victim_name="$(basename "$victim")"
	note "corrupting one byte in the middle of $victim_name"
	flip_middle_byte "$victim"
	run "$BACKUPD" verify --repo "$REPO_C" --name src "$ID1"
	assert_rc "verify of the corrupt backup exits 1" 1
	assert_output_contains "verify names the corrupt object" "$victim_name"
	run "$BACKUPD" verify --repo "$REPO_C" --name src
	assert_rc "verify of all backups exits 1 when one is corrupt" 1
	run "$BACKUPD" verify --repo "$REPO_C" --name src "$ID2"
	assert_rc "verify of the intact backup in the same repository still succeeds" 0
	run "$DBRESTORE" restore --repo "$REPO_C" --name src --backup "$ID1" --to "$(pg_uri dst_corrupt)" --jobs 2 --create
	assert_rc "restore of the corrupt backup exits non-zero" nonzero
	assert_output_contains "restore names the corrupt object" "$victim_name"
fi

# --------------------------------------------------------------------------
note "crafted repository: a psql meta-command in pre-data is refused, never run"
REPO_X="$BD_TMP/repo-meta"
cp -a "$REPO" "$REPO_X"
BX="$REPO_X/src/backups/$ID1"
PWNED="$BD_TMP/pwned-by-restore"
zstd -dcq "$BX/schema/pre-data.sql.zst" >"$BD_TMP/pre-data.sql"
check "pg_dump's pre-data has its \\restrict line (skipped by restore)" \
	grep -q -E '^\\restrict [A-Za-z0-9]+$' "$BD_TMP/pre-data.sql"
# psql 15.14+ would stop at the \! once pg_dump's \restrict is in force: a crafted
# script simply leaves that line out.
awk -v f="$PWNED" '/^\\(un)?restrict / { next } /^CREATE TABLE public\.big / && !done { print "\\! touch " f; done = 1 } { print }' \
	"$BD_TMP/pre-data.sql" >"$BD_TMP/pre-data-crafted.sql"
check "the crafted pre-data holds the shell escape" grep -q '^\\! touch' "$BD_TMP/pre-data-crafted.sql"
check_not "and no \\restrict line" grep -q "^\\\\restrict" "$BD_TMP/pre-data-crafted.sql"
replace_object "$BX" schema/pre-data.sql.zst "$BD_TMP/pre-data-crafted.sql"
run "$BACKUPD" verify --repo "$REPO_X" --name src "$ID1"
assert_rc "the crafted backup passes verify (checksums fixed up)" 0
run "$DBRESTORE" restore --repo "$REPO_X" --name src --backup "$ID1" --to "$(pg_uri dst_meta)" --jobs 2 --create
assert_rc "restore of a pre-data with \\! exits 1" 1
assert_output_matches "the error names the meta-command, its line and object" \
	"line [0-9]+ \\(TABLE public\\.big\\): psql meta-command '\\\\! touch"
check_not "the shell command did not run" test -e "$PWNED"
check_not "the refused --create restore left no database" db_exists dst_meta
# the same in post-data (indexes, constraints, comments: restored by their own code path)
cp -a "$REPO" "$REPO_X.post"
zstd -dcq "$BX/schema/post-data.sql.zst" >"$BD_TMP/post-data.sql"
{
	cat "$BD_TMP/post-data.sql"
	printf '\\! touch %s\n' "$PWNED"
} >"$BD_TMP/post-data-crafted.sql"
replace_object "$REPO_X.post/src/backups/$ID1" schema/post-data.sql.zst "$BD_TMP/post-data-crafted.sql"
run "$DBRESTORE" restore --repo "$REPO_X.post" --name src --backup "$ID1" --to "$(pg_uri dst_meta)" --jobs 2 --create
assert_rc "restore of a post-data with \\! exits 1" 1
assert_output_contains "the error names the post-data meta-command" "psql meta-command '\\! touch"
check_not "the shell command in post-data did not run" test -e "$PWNED"
check_not "the refused --create restore (post-data) left no database" db_exists dst_meta

# --------------------------------------------------------------------------
note "a password on the command line is refused before anything runs (a config file's bad escape: check_test)"
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "postgresql://postgres:Sekr3tPW%zz@127.0.0.1:$PG_PORT/dst_pct" --create
assert_rc "restore --to with a password (and a bad escape) is a usage error" 2
assert_output_contains "it names the option and why" "--to: a password on the command line is visible to every local user"
check_not "it does not print the password" grep -q Sekr3tPW "$RUN_OUT" "$RUN_ERR"
check_not "nothing was created" db_exists dst_pct
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to="postgresql://postgres:Sekr3tPW@127.0.0.1:$PG_PORT/dst_pw" --create
assert_rc "restore --to=URI with a well-formed password is refused too" 2
check_not "it does not print the password" grep -q Sekr3tPW "$RUN_OUT" "$RUN_ERR"
check_not "nothing was created" db_exists dst_pw
run "$BACKUPD" dump --repo "$REPO" --source "host=127.0.0.1 port=$PG_PORT dbname=src user=postgres password=Sekr3tPW"
assert_rc "dump --source with password= is refused" 2
assert_output_contains "it names --source" "--source: a password on the command line"
check_not "it does not print the password" grep -q Sekr3tPW "$RUN_OUT" "$RUN_ERR"

# --------------------------------------------------------------------------
note "failure: a backup without manifest.json"
REPO_M="$BD_TMP/repo-nomanifest"
cp -a "$REPO" "$REPO_M"
rm -f "$REPO_M/src/backups/$ID2/manifest.json"
run "$BACKUPD" list --repo "$REPO_M" --json
assert_rc "list --json with an incomplete backup succeeds" 0
check "list shows the backup without manifest as incomplete, the other complete" python3 -c '
import json,sys
items = {i["id"]: i for i in json.load(open(sys.argv[1]))}
assert sys.argv[3] in items, "incomplete backup not listed"
assert items[sys.argv[3]]["status"] == "incomplete", items[sys.argv[3]]
assert items[sys.argv[2]]["status"] == "complete", items[sys.argv[2]]' "$RUN_OUT" "$ID1" "$ID2"
run "$DBRESTORE" restore --repo "$REPO_M" --name src --backup "$ID2" --to "$(pg_uri dst_incomplete)" --jobs 2 --create
assert_rc "restore of an incomplete backup is refused" nonzero
assert_stderr_nonempty "refused restore of an incomplete backup explains why"
check_not "refused restore did not create the target database" db_exists dst_incomplete
run "$DBRESTORE" restore --repo "$REPO_M" --name src --backup latest --to "$(pg_uri dst_latest)" --jobs 2 --create
assert_rc "restore latest skips the incomplete backup" 0
check "restore latest (complete backup $ID1) matches the source" pg_compare src dst_latest

# --------------------------------------------------------------------------
note "failure: one unreadable manifest.json (garbage) among good backups"
REPO_G="$BD_TMP/repo-garbage"
cp -a "$REPO" "$REPO_G"
printf 'not json at all\n' >"$REPO_G/src/backups/$ID2/manifest.json"
run "$BACKUPD" list --repo "$REPO_G" --json
assert_rc "list --json (every name) with a garbage manifest succeeds" 0
assert_output_contains "list warns about the damaged backup by name" "backup $ID2 of 'src' is damaged"
check "list shows the garbage-manifest backup as damaged, the other complete" python3 -c '
import json,sys
items = {i["id"]: i for i in json.load(open(sys.argv[1]))}
assert items[sys.argv[3]]["status"] == "damaged", items[sys.argv[3]]
assert "invalid manifest" in items[sys.argv[3]]["error"], items[sys.argv[3]]
assert items[sys.argv[2]]["status"] == "complete", items[sys.argv[2]]' "$RUN_OUT" "$ID1" "$ID2"
run "$BACKUPD" list --repo "$REPO_G"
assert_rc "list (text) with a garbage manifest succeeds" 0
assert_output_matches "list (text) shows the status damaged" "$ID2 .*damaged"
run "$BACKUPD" verify --repo "$REPO_G" --name src
assert_rc "verify of all backups reports the damaged one" 1
assert_output_contains "verify names the damaged backup" "$ID2: damaged"
run "$BACKUPD" expire --repo "$REPO_G" --keep-last 1
assert_rc "expire without --name and a garbage manifest succeeds" 0
assert_output_contains "expire keeps the damaged backup and says why" "keep src $ID2 (damaged"
check "expire removed neither the damaged backup nor the only complete one" \
	test -f "$REPO_G/src/backups/$ID2/manifest.json" -a -f "$REPO_G/src/backups/$ID1/manifest.json"
run "$DBRESTORE" restore --repo "$REPO_G" --name src --backup latest --to "$(pg_uri dst_garbage)" --jobs 2 --create
assert_rc "restore latest skips the damaged newest backup" 0
assert_output_contains "restore latest warns about the skipped backup" "backup $ID2 of 'src' is damaged"
assert_output_contains "restore latest says which backup it took" "latest readable backup of 'src' is $ID1"
check "restore latest (the older readable backup $ID1) matches the source" pg_compare src dst_garbage

# --------------------------------------------------------------------------
note "failure: dump killed with SIGKILL midway"
db_create killsrc
check "load a big table for the kill test" psql_q killsrc "
CREATE TABLE early (id integer PRIMARY KEY, v text);
INSERT INTO early SELECT i, 'early ' || i FROM generate_series(1, 1000) i;
CREATE TABLE huge (id bigint, a text, b text);
INSERT INTO huge SELECT i, md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text),
                          repeat(md5((i * 7)::text), 3)
FROM generate_series(1, 1000000) i;"
REPO_K="$BD_TMP/repo-kill"
# Run the binary itself in the background (no wrapper: SIGKILL must hit it).
"$BACKUPD" dump --source "$(pg_uri killsrc)" --repo "$REPO_K" --name killsrc --jobs 1 \
	>"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" </dev/null &
ps_snapshot="$BD_TMP/ps.txt"
kill_dump_midway $! "$REPO_K" "$ps_snapshot"
if [ "$KILLED" -ne 1 ]; then
	fail "dump was killed midway" \
		"the dump finished or failed before an object appeared; stderr: $(tail -n 5 "$BD_TMP/kill.err")"
else
	pass "dump was killed midway"
	assert_killed_dump_incomplete "$REPO_K"
	run "$BACKUPD" dump --source "$(pg_uri killsrc)" --repo "$REPO_K" --name killsrc --jobs 2
	assert_rc "a new dump after a killed one succeeds (no stale lock)" 0
	KID="$(last_line)"
	run "$BACKUPD" list --repo "$REPO_K" --json
	check "the new dump is listed complete" python3 -c '
import json,sys
items = {i["id"]: i for i in json.load(open(sys.argv[1]))}
assert items[sys.argv[2]]["status"] == "complete", items' "$RUN_OUT" "$KID"
fi
check_not "password not in any process's arguments during a dump" grep -q -F -- "$PG_PASSWORD" "$ps_snapshot"

# --------------------------------------------------------------------------
note "restore --create killed with SIGKILL mid-data: nothing under the target's name, the rerun cleans up"
temp_dbs() { psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'backupd\_restore\_%'"; }
copying() { psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'backupd\_restore\_%' AND query LIKE 'COPY %'"; }
if [ -n "${KID:-}" ]; then
	"$DBRESTORE" restore --repo "$REPO_K" --name killsrc --backup "$KID" --to "$(pg_uri killdst)" --jobs 1 --create \
		>"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" </dev/null &
	rpid=$!
	KILLED=0
	for _ in $(seq 1 1500); do
		kill -0 "$rpid" 2>/dev/null || break
		if [ "$(copying)" != 0 ]; then
			# a second restore --create of the same target meanwhile is refused
			run "$DBRESTORE" restore --repo "$REPO_K" --name killsrc --backup "$KID" --to "$(pg_uri killdst)" --create
			kill -KILL "$rpid" 2>/dev/null && KILLED=1
			break
		fi
		sleep 0.02
	done
	reap_killed "$rpid" "killed restore"
	if [ "$KILLED" -ne 1 ]; then
		fail "restore --create was killed while loading data" "stderr: $(tail -n 5 "$BD_TMP/kill.err")"
	else
		pass "restore --create was killed while loading data"
		assert_rc "a concurrent restore --create of the same target exits 1" 1
		assert_output_contains "it says another restore is in progress" "another restore --create into 'killdst' is in progress"
		check_not "the killed restore left no database under the target's name" db_exists killdst
		assert_eq "the killed restore's temporary database is recognisable" 1 "$(temp_dbs)"
		assert_eq "it says what it is" 1 "$(psql_q postgres "SELECT count(*) FROM pg_database d
			JOIN pg_shdescription c ON c.objoid = d.oid
			WHERE d.datname LIKE 'backupd\_restore\_%' AND c.description LIKE '%killdst%in progress%'")"
		run "$DBRESTORE" restore --repo "$REPO_K" --name killsrc --backup "$KID" --to "$(pg_uri killdst)" --jobs 2 --create
		assert_rc "a rerun of the killed restore --create succeeds" 0
		assert_output_contains "the rerun says it dropped the leftover" "left by an interrupted restore into 'killdst'"
		assert_eq "no temporary database is left" 0 "$(temp_dbs)"
		assert_eq "the rerun restored every row" 1000000 "$(psql_q killdst "SELECT count(*) FROM huge")"
	fi
fi

# --------------------------------------------------------------------------
note "failure: wrong password"
WRONG_PW="wrong-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
add_secret "$WRONG_PW"
WRONG_PASSFILE="$BD_TMP/wrong.pgpass"
(umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$WRONG_PW" >"$WRONG_PASSFILE")
PGPASSFILE="$WRONG_PASSFILE" run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-wrongpw" --name src
assert_rc "dump with a wrong password exits 1" 1
assert_output_matches "wrong password: the error says authentication failed" 'authentication|password'
PGPASSFILE="$WRONG_PASSFILE" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst_wrongpw)" --create
assert_rc "restore with a wrong password exits 1" 1
assert_output_matches "wrong password (restore): the error says authentication failed" 'authentication|password'

# --------------------------------------------------------------------------
note "password from a config password-file (no PGPASSFILE): pg_dump and psql get it too"
PWFILE="$BD_TMP/src.password"
(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$PWFILE")
CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[repo:local]
url = $BD_TMP/repo-pwfile

[source:srcdb]
url = $SRC_URI
password-file = $PWFILE

[source:target]
url = $(pg_uri dst_pwfile)
password-file = $PWFILE
EOF
PGPASSFILE=/nonexistent run "$BACKUPD" -c "$CONF" dump --source srcdb --repo local
assert_rc "dump with the config's password-file succeeds" 0
# The restore needs no psql: one that would leave a trace must never run.
FAKE_BIN="$BD_TMP/fake-psql-bin"
mkdir -p "$FAKE_BIN"
printf '#!/bin/sh\ntouch "%s"\nexit 1\n' "$BD_TMP/psql-ran" >"$FAKE_BIN/psql"
chmod 0755 "$FAKE_BIN/psql"
PATH="$FAKE_BIN:$PATH" BACKUPD_PG_BINDIR="$FAKE_BIN" PGPASSFILE=/nonexistent \
	run "$DBRESTORE" -c "$CONF" restore --repo local --name srcdb --to target --create
assert_rc "restore with the config's password-file succeeds" 0
check_not "the restore ran no psql" test -e "$BD_TMP/psql-ran"
chmod 0644 "$PWFILE"
PGPASSFILE=/nonexistent run "$BACKUPD" -c "$CONF" dump --source srcdb --repo local
assert_rc "a password file readable by others is refused (exit 2)" 2
assert_output_matches "the refusal names the file and the fix" 'chmod 600'
chmod 0600 "$PWFILE"

# --------------------------------------------------------------------------
note "failure: only a pg_dump older than the server is available"
OLD_BIN="$BD_TMP/old-pg-bin"
mkdir -p "$OLD_BIN"
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) 12.22"\n' >"$OLD_BIN/pg_dump"
chmod 0755 "$OLD_BIN/pg_dump"
BACKUPD_PG_BINDIR="$OLD_BIN" run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-oldpgdump" --name src
assert_rc "dump with a too-old pg_dump exits 1" 1
assert_output_matches "the error names the version needed" 'version 12.*version 15 or newer is needed'
run "$BACKUPD" list --repo "$BD_TMP/repo-oldpgdump" --json
check_not "no complete backup was left behind" grep -q '"complete"' "$RUN_OUT"

# --------------------------------------------------------------------------
note "usage errors exit 2"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-usage" --name src --jobs x
assert_rc "dump --jobs x exits 2" 2
assert_stderr_nonempty "dump --jobs x explains the error"
run "$DBRESTORE" restore --repo "$REPO" --name src --to "$(pg_uri dst_usage)" --jobs x --create
assert_rc "restore --jobs x exits 2" 2
run "$BACKUPD" dump --repo "$BD_TMP/repo-usage"
assert_rc "dump without --source exits 2" 2
run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-usage" --no-such-option
assert_rc "dump with an unknown option exits 2" 2
run "$BACKUPD" no-such-command
assert_rc "unknown command exits 2" 2
check_not "no repository created by usage errors" test -e "$BD_TMP/repo-usage"
check_not "no database created by usage errors" db_exists dst_usage

# --------------------------------------------------------------------------
note "restore onto a server that lacks the source's roles (--no-owner, --no-privileges)"
psql_q postgres "CREATE ROLE bd_gone_owner; CREATE ROLE bd_gone_reader" >/dev/null
db_create owned
psql_q owned "CREATE SCHEMA app AUTHORIZATION bd_gone_owner;
CREATE TABLE app.t (id int PRIMARY KEY, v text);
INSERT INTO app.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
ALTER TABLE app.t OWNER TO bd_gone_owner;
CREATE FUNCTION app.f() RETURNS text LANGUAGE sql AS \$\$ SELECT 'ALTER TABLE app.t OWNER TO bd_gone_reader;' \$\$;
ALTER FUNCTION app.f() OWNER TO bd_gone_owner;
GRANT USAGE ON SCHEMA app TO bd_gone_reader;
GRANT SELECT ON app.t TO bd_gone_reader;" >/dev/null
run "$BACKUPD" dump --source "$(pg_uri owned)" --repo "$REPO" --name owned
assert_rc "dump of a database with its own roles" 0
db_drop owned
psql_q postgres "DROP ROLE bd_gone_owner; DROP ROLE bd_gone_reader" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name owned --to "$(pg_uri owned_plain)" --create
assert_rc "restore without --no-owner fails when the roles are missing" 1
assert_output_contains "the error names the missing role" "bd_"
check_not "the failed --create restore left no database" db_exists owned_plain
assert_eq "nor a temporary one" 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'backupd\_restore\_%'")"
run "$DBRESTORE" restore --repo "$REPO" --name owned --to "$(pg_uri owned_new)" --create --no-owner --no-privileges
assert_rc "restore --no-owner --no-privileges succeeds without the roles" 0
assert_eq "all rows restored" 100 "$(psql_q owned_new "SELECT count(*) FROM app.t")"
assert_eq "the table belongs to the restoring role" postgres \
	"$(psql_q owned_new "SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = 't'")"
assert_eq "the function body kept its OWNER TO text" "ALTER TABLE app.t OWNER TO bd_gone_reader;" \
	"$(psql_q owned_new "SELECT app.f()")"
assert_eq "no grants restored" "" \
	"$(psql_q owned_new "SELECT relacl FROM pg_class WHERE oid = 'app.t'::regclass")"

# --------------------------------------------------------------------------
note "restore --create carries the database's own properties"
psql_q postgres "CREATE ROLE bd_db_owner; CREATE ROLE bd_db_user; CREATE ROLE bd_db_gone" >/dev/null
psql_q postgres "CREATE DATABASE dbprops TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C' OWNER bd_db_owner CONNECTION LIMIT 7" >/dev/null
psql_q postgres "COMMENT ON DATABASE dbprops IS 'it''s the \"props\" database';
REVOKE ALL ON DATABASE dbprops FROM PUBLIC;
GRANT CONNECT ON DATABASE dbprops TO bd_db_user;
GRANT TEMPORARY ON DATABASE dbprops TO bd_db_user WITH GRANT OPTION;
GRANT CONNECT ON DATABASE dbprops TO bd_db_gone;
ALTER DATABASE dbprops SET search_path = \"\$user\", public, \"My Schema\";
ALTER DATABASE dbprops SET work_mem = '8MB';
ALTER DATABASE dbprops SET application_name = 'it''s';
ALTER ROLE bd_db_user IN DATABASE dbprops SET statement_timeout = '5s';
ALTER ROLE bd_db_gone IN DATABASE dbprops SET work_mem = '1MB';" >/dev/null
psql_q dbprops "CREATE TABLE public.words (w text); INSERT INTO public.words VALUES ('b'), ('A'), ('a'), ('B');
CREATE INDEX words_w ON public.words (w);" >/dev/null
run "$BACKUPD" dump --source "$(pg_uri dbprops)" --repo "$REPO" --name dbprops
assert_rc "dump of a database with its own properties" 0
PID_ID="$(last_line)"
check "the manifest records the properties as typed fields" python3 -c '
import json,sys
p = json.load(open(sys.argv[1]))["info"]["database_properties"]
assert p["owner"] == "bd_db_owner" and p["connection_limit"] == 7, p
assert p["collate"] == "C" and p["ctype"] == "C" and p["locale_provider"] == "libc", p
assert p["comment"] == "it'"'"'s the \"props\" database", p
assert {"grantee": "bd_db_user", "privilege": "TEMPORARY", "grantable": True} in p["acl"], p
assert "work_mem=8MB" in p["settings"], p
assert [r["role"] for r in p["role_settings"]] == ["bd_db_user", "bd_db_gone"], p' \
	"$REPO/dbprops/backups/$PID_ID/manifest.json"
run "$DBRESTORE" restore --repo "$REPO" --name dbprops --to "$(pg_uri dbprops_copy)" --create
assert_rc "restore --create of it succeeds" 0
check "owner, locale, connection limit, privileges, comment and settings match" pg_compare dbprops dbprops_copy
assert_eq "text sorts as in the source (LC_COLLATE C)" "ABab" \
	"$(psql_q dbprops_copy "SELECT string_agg(w, '' ORDER BY w) FROM public.words")"
assert_eq "search_path kept its quoting" '"$user", public, "My Schema"' \
	"$(psql_q dbprops_copy "SHOW search_path")"

note "properties naming roles the target lacks are skipped with a warning"
psql_q postgres "DROP DATABASE dbprops_copy" >/dev/null
psql_q postgres "DROP DATABASE dbprops" >/dev/null
psql_q postgres "DROP ROLE bd_db_gone" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name dbprops --to "$(pg_uri dbprops_norole)" --create
assert_rc "restore --create without one of the roles succeeds" 0
assert_output_contains "it warns about the missing role" "role 'bd_db_gone' does not exist on the target"
assert_eq "the rest of the privileges are there" "bd_db_owner=CTc/bd_db_owner,bd_db_user=T*c/bd_db_owner" \
	"$(psql_q postgres "SELECT array_to_string(datacl, ',') FROM pg_database WHERE datname = 'dbprops_norole'" | tr -d '"')"
assert_eq "and the owner" bd_db_owner \
	"$(psql_q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dbprops_norole'")"

run "$DBRESTORE" restore --repo "$REPO" --name dbprops --to "$(pg_uri dbprops_noowner)" --create --no-owner --no-privileges
assert_rc "restore --create --no-owner --no-privileges succeeds" 0
assert_eq "--no-owner: the restoring role owns the database, --no-privileges: default privileges" "postgres " \
	"$(psql_q postgres "SELECT pg_get_userbyid(datdba) || ' ' || coalesce(datacl::text, '') FROM pg_database WHERE datname = 'dbprops_noowner'")"

note "a manifest written before the properties were recorded still restores"
cp -a "$REPO/dbprops/backups/$PID_ID" "$BD_TMP/props-backup.saved"
python3 -c '
import json,sys
m = json.load(open(sys.argv[1]))
del m["info"]["database_properties"]
json.dump(m, open(sys.argv[1], "w"))' "$REPO/dbprops/backups/$PID_ID/manifest.json"
run "$DBRESTORE" restore --repo "$REPO" --name dbprops --to "$(pg_uri dbprops_old)" --create
assert_rc "restore --create of an old manifest succeeds" 0
assert_eq "it has the server's default owner" postgres \
	"$(psql_q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dbprops_old'")"
python3 -c '
import json,sys
m = json.load(open(sys.argv[1]))
m["info"]["database_properties"] = {"owner": "x", "connection_limit": 1, "collate": "C", "ctype": "C",
  "locale_provider": "libc", "acl": [{"grantee": "x", "privilege": "ALL; DROP DATABASE postgres", "grantable": False}],
  "settings": [], "role_settings": []}
json.dump(m, open(sys.argv[1], "w"))' "$REPO/dbprops/backups/$PID_ID/manifest.json"
run "$DBRESTORE" restore --repo "$REPO" --name dbprops --to "$(pg_uri dbprops_bad)" --create
assert_rc "a manifest with a malformed property is refused" 1
assert_output_contains "the error names the field" "database_properties.acl[0]"
check_not "and nothing was created" db_exists dbprops_bad
rm -rf "$REPO/dbprops/backups/$PID_ID" && mv "$BD_TMP/props-backup.saved" "$REPO/dbprops/backups/$PID_ID"

if psql_q postgres "CREATE DATABASE icusrc TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C.UTF-8'" >/dev/null 2>&1; then
	note "restore --create keeps the ICU locale provider and locale"
	psql_q icusrc "CREATE TABLE public.t (id int PRIMARY KEY)" >/dev/null
	run "$BACKUPD" dump --source "$(pg_uri icusrc)" --repo "$REPO" --name icusrc
	assert_rc "dump of an ICU database" 0
	run "$DBRESTORE" restore --repo "$REPO" --name icusrc --to "$(pg_uri icucopy)" --create
	assert_rc "restore --create of it succeeds" 0
	assert_eq "provider and ICU locale kept" "i de-DE" \
		"$(psql_q postgres "SELECT datlocprovider::text || ' ' || daticulocale FROM pg_database WHERE datname = 'icucopy'")"
else
	note "the server has no ICU: ICU case skipped"
fi

# --------------------------------------------------------------------------
PG18_BIN="${BD_PGCLIENT18_BIN:-/work/shared/pgclient-18/bin}"
if [ -x "$PG18_BIN/pg_dump" ]; then
	note "a dump by pg_dump 18 (its \\restrict lines) restores without any psql"
	db_create pg18src
	psql_q pg18src "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (a_id int CONSTRAINT b_a REFERENCES a);
		INSERT INTO a VALUES (1); INSERT INTO b VALUES (1);
		COMMENT ON CONSTRAINT b_a ON b IS 'fk comment'; COMMENT ON DATABASE pg18src IS 'by pg_dump 18'" >/dev/null
	BACKUPD_PG_BINDIR="$PG18_BIN" run "$BACKUPD" dump --source "$(pg_uri pg18src)" --repo "$BD_TMP/repo-pg18" --name src --jobs 2
	assert_rc "dump with pg_dump 18 succeeds" 0
	ID18="$(last_line)"
	check "its pre-data has pg_dump's \\restrict line" bash -c \
		'zstd -dcq "$1" | grep -q -E "^\\\\restrict [A-Za-z0-9]+$"' _ "$BD_TMP/repo-pg18/src/backups/$ID18/schema/pre-data.sql.zst"
	PATH="$FAKE_BIN:$PATH" BACKUPD_PG_BINDIR="$FAKE_BIN" \
		run "$DBRESTORE" restore --repo "$BD_TMP/repo-pg18" --name src --to "$(pg_uri dst_pg18)" --jobs 2 --create
	assert_rc "restore of the pg_dump 18 backup succeeds" 0
	check "it matches the source" pg_compare pg18src dst_pg18

	note "pg_dump 18 (large-object metadata in its data section) into PostgreSQL 15"
	BACKUPD_PG_BINDIR="$PG18_BIN" run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-pg18" --name corner --jobs 2
	assert_rc "dump of the corner-case database with pg_dump 18 succeeds" 0
	IDC18="$(last_line)"
	check "its manifest records the large objects' metadata" python3 -c '
import json,sys
lo = json.load(open(sys.argv[1]))["info"]["large_objects"]
assert lo["count"] == 4 and lo["metadata"].startswith("large-objects-meta.json"), lo' \
		"$BD_TMP/repo-pg18/corner/backups/$IDC18/manifest.json"
	run "$DBRESTORE" restore --repo "$BD_TMP/repo-pg18" --name corner --to "$(pg_uri dst_corner18)" --jobs 2 --create
	assert_rc "restore of it into PostgreSQL 15 succeeds" 0
	assert_output_contains "the setting PostgreSQL 15 lacks is left out, by name" "left out 'transaction_timeout'"
	check "large objects, owners, grants and comments match the source" pg_compare src dst_corner18

	note "a backup of pg_dump 18 by an older backupd (no large-object metadata) still restores"
	python3 -c '
import json,sys
m = json.load(open(sys.argv[1]))
meta = m["info"]["large_objects"].pop("metadata")
m["objects"] = [o for o in m["objects"] if o["name"] != meta]
json.dump(m, open(sys.argv[1], "w"))' "$BD_TMP/repo-pg18/corner/backups/$IDC18/manifest.json"
	run "$DBRESTORE" restore --repo "$BD_TMP/repo-pg18" --name corner --to "$(pg_uri dst_corner18_old)" --create
	assert_rc "restore of the old-format backup succeeds" 0
	assert_eq "its large objects are there, with their contents" \
		"$(psql_q src "SELECT string_agg(oid || ':' || md5(lo_get(oid)), ',' ORDER BY oid) FROM pg_largeobject_metadata")" \
		"$(psql_q dst_corner18_old "SELECT string_agg(oid || ':' || md5(lo_get(oid)), ',' ORDER BY oid) FROM pg_largeobject_metadata")"
else
	note "no pg_dump 18 in $PG18_BIN: pg_dump 18 case skipped"
fi

# --------------------------------------------------------------------------
note "failure: unusable repository and source"
: >"$BD_TMP/a-file"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/a-file/repo" --name src
# the operator's setup to fix, like a bad config line: exit 2
assert_rc "dump into a repository under a regular file exits 2" 2
assert_output_contains "the error names the repository path" "repository '$BD_TMP/a-file/repo' cannot be a directory: '$BD_TMP/a-file' above it is a file"
run "$BACKUPD" list --repo "$BD_TMP/a-file"
assert_rc "list of a regular file as repository exits 2" 2
assert_output_contains "it says the path is not a directory" "repository '$BD_TMP/a-file' is not a directory"
run "$BACKUPD" list --repo "$BD_TMP/no-such-repo" --json
assert_rc "list of a missing repository exits 1" 1
run "$DBRESTORE" restore --repo "$BD_TMP/no-such-repo" --name src --to "$(pg_uri dst_norepo)" --create
assert_rc "restore from a missing repository exits 1" 1
check_not "restore from a missing repository created no database" db_exists dst_norepo
closed_port="$(_bd_pick_port)"
run "$BACKUPD" dump --source "postgresql://postgres@127.0.0.1:$closed_port/src" --repo "$BD_TMP/repo-noserver" --name src
assert_rc "dump from an unreachable server exits 1" 1

# --------------------------------------------------------------------------
assert_no_secrets_in_output "the password never appears in any output"
finish
