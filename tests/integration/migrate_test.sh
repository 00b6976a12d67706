#!/usr/bin/env bash
# dbrestore migrate (PostgreSQL): a live source copied straight into another
# server from one snapshot.
#  - 13 -> 18 with --provision/--owner/--roles/--env-file: the same objects,
#    grants, policies, partitions, rows and large objects (the majors
#    fixture), owned by the new owner; the application connects with the env
#    file's DATABASE_URL.
#  - 15 -> 15 with --jobs 2 and a table split into chunks, --create and
#    --via-repo (the backup restores to the same result); --jobs 1 at debug
#    level: a table's primary key is built, and its copy read for the
#    verification, before the other tables are copied (restore's pipeline);
#    a table copied whole is loaded frozen.
#  - the target server killed while copying: exit 1, nothing under the
#    target's name, no env file; a second run completes.  The source's
#    connections killed: exit 1, the provisioned database and role dropped.
#  - refusals: missing --from, same source and target, unreachable source,
#    a newer major into an older one.
# Servers: scripts/pg-install.sh (13 and 18 embedded, 15 Debian's); pg_dump
# from $BD_PGCLIENT18_BIN as majors_test.sh.  Under BD_ASAN=1 the chunked
# table is smaller.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_majors.sh"
export BACKUPD_PG_BINDIR="$PG18_BIN"

# pg_ctl stop -m immediate, as the server's user
server_kill() { "${AS_PG[@]}" "${BIN[$1]}/pg_ctl" -D "$BD_TMP/pg$1/data" stop -m immediate >/dev/null 2>&1 || true; }
server_restart() { bash "$PG_SERVER_SH" start "$BD_TMP/pg$1" "${PORT[$1]}" "${BIN[$1]}" >/dev/null; }

# A table whose rows load slowly into a dbrestore session (a CHECK that
# sleeps there only), so a copy can be interrupted while it runs.
SLOW_SQL="CREATE FUNCTION public.slow_ok(i int) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS \$\$
BEGIN
	IF i % 50 = 0 AND current_setting('application_name') = 'dbrestore' THEN PERFORM pg_sleep(0.02); END IF;
	RETURN true;
END \$\$;
CREATE TABLE public.slow (id int PRIMARY KEY CHECK (public.slow_ok(id)), pad text);
INSERT INTO public.slow SELECT g, repeat('s', 100) FROM generate_series(1, 10000) g;"

# --------------------------------------------------------------------------
note "refusals before anything runs"
server a15 15 1
run "$DBRESTORE" migrate --to "$(uri a15 x)"
assert_rc "missing --from exits 2" 2
assert_output_contains "the error names --from" "--from"
run "$DBRESTORE" migrate --from "$(uri a15 postgres)" --to "$(uri a15 postgres)"
assert_rc "the same source and target exit 2" 2
assert_output_contains "the error says why" "name the same database"
run "$DBRESTORE" migrate --from "postgresql://postgres@127.0.0.1:1/src" --to "$(uri a15 newdb)" --create
assert_rc "an unreachable source exits 1" 1
assert_eq "the error is one line" 1 "$(grep -c . "$RUN_ERR")"
run "$DBRESTORE" migrate --from "$(uri a15 postgres)" --to "mysql://root@127.0.0.1:1/x"
assert_rc "a PostgreSQL source into a MySQL target exits 2" 2
run "$DBRESTORE" migrate --from "$(uri a15 postgres)" --to "$(uri a15 newdb)" --name x
assert_rc "--name without --via-repo exits 2" 2
run "$DBRESTORE" migrate --from "$(uri a15 postgres)" --to "$(uri a15 newdb)" --create --via-repo "$BD_TMP/badc-repo" --compress zstd:99
assert_rc "a bad --compress with --via-repo exits 2" 2
check_not "... before the repository is created" test -e "$BD_TMP/badc-repo"
assert_output_contains "... and before the target is touched" "option '--compress'"
check_not "... (no line about the target)" grep -q "dropped the incomplete database" "$RUN_ERR"

# --------------------------------------------------------------------------
note "PostgreSQL 13 -> 18: --provision, --owner, --roles, the application's DATABASE_URL"
server s13 13 1
server t18 18 0
load_fixture s13 src
snapshot s13 src "$BD_TMP/src13.txt"
ENVF="$BD_TMP/env/app.env"
mkdir -p "$BD_TMP/env"
run "$DBRESTORE" migrate --from "$(uri s13 src)" --to "$(uri t18 postgres)" --provision appdb --owner app \
	--roles --env-file "$ENVF" --jobs 2
assert_rc "migrate 13 -> 18 succeeds" 0
assert_output_contains "one line per table copied" 'copied "Odd Schema"."Odd ""Table"""'
assert_output_contains "the large objects are copied" "copied 3 large objects"
assert_output_contains "13 -> 18 is verified against the source's snapshot" "verified against the source's snapshot"
URL_LINE="$(cat "$ENVF" 2>/dev/null || true)"
APP_PW="$(sed -n 's|^DATABASE_URL=postgresql://app:\([A-Za-z0-9]*\)@.*|\1|p' "$ENVF" 2>/dev/null || true)"
[ -n "$APP_PW" ] && add_secret "$APP_PW"
assert_match "the env file holds DATABASE_URL for app on the new server" \
	"^DATABASE_URL=postgresql://app:[A-Za-z0-9]{24,}@127\.0\.0\.1:${PORT[t18]}/appdb\$" "$URL_LINE"
assert_eq "the env file is 0600" 600 "$(stat -c %a "$ENVF" 2>/dev/null)"
assert_no_secrets_in_output
snapshot t18 appdb "$BD_TMP/dst18.txt"
# every owner (postgres, mj_owner) is app now: grantors follow their objects
sed -e 's/mj_owner/app/g' -e 's/\bpostgres\b/app/g' "$BD_TMP/src13.txt" >"$BD_TMP/src13-app.txt"
check "13 -> 18: same objects, grants, policies, partitions, rows and large objects, owned by app" \
	diff -u "$BD_TMP/src13-app.txt" "$BD_TMP/dst18.txt"
assert_eq "the application connects with DATABASE_URL and reads its data" 700 \
	"$("$PSQL18" -X -A -t -d "${URL_LINE#DATABASE_URL=}" -c "SELECT count(*) FROM public.measure" 2>&1)"
assert_eq "app is a plain login role" "t f f f" \
	"$(sq t18 postgres "SELECT concat_ws(' ', rolcanlogin, rolsuper, rolcreatedb, rolcreaterole) FROM pg_roles WHERE rolname = 'app'")"
assert_eq "no temporary database is left" 0 \
	"$(sq t18 postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'backupd\_restore\_%'")"

note "a newer major into an older one is refused up front"
run "$DBRESTORE" migrate --from "$(uri t18 appdb)" --to "$(uri s13 down)" --create --roles
assert_rc "18 -> 13 exits 1" 1
assert_output_contains "the error names both majors" "is of PostgreSQL 18 and the target runs PostgreSQL 13"
assert_eq "no database was created" 0 "$(sq s13 postgres "SELECT count(*) FROM pg_database WHERE datname = 'down' OR datname LIKE 'backupd\_restore\_%'")"

# --------------------------------------------------------------------------
note "PostgreSQL 15 -> 15: --jobs 2, a table copied in chunks, --via-repo"
server b15 15 1
load_fixture a15 src
ROWS=100000
[ "${BD_ASAN:-0}" = 1 ] && ROWS=30000
sq a15 src "CREATE TABLE public.big (id bigint PRIMARY KEY, pad text); INSERT INTO public.big SELECT g, md5(g::text) || repeat('x', 40) FROM generate_series(1, $ROWS) g; ANALYZE public.big" >/dev/null
snapshot a15 src "$BD_TMP/src15.txt"
REPO="$BD_TMP/repo"
run "$DBRESTORE" migrate --from "$(uri a15 src)" --to "$(uri b15 dst)" --create --jobs 2 --chunk-size 1MB --via-repo "$REPO"
assert_rc "migrate 15 -> 15 succeeds" 0
assert_output_contains "the big table is copied in chunks" '"public"."big" (chunk 2/'
assert_output_contains "the backup is written and verified" "written to $REPO and verified"
assert_output_contains "the target is verified against the source's snapshot" "verified against the source's snapshot"
snapshot b15 dst "$BD_TMP/dst15.txt"
check "15 -> 15: the same database" diff -u "$BD_TMP/src15.txt" "$BD_TMP/dst15.txt"
run "$DBRESTORE" restore --repo "$REPO" --to "$(uri b15 fromrepo)" --create
assert_rc "the --via-repo backup restores" 0
snapshot b15 fromrepo "$BD_TMP/fromrepo15.txt"
check "and gives the same database" diff -u "$BD_TMP/src15.txt" "$BD_TMP/fromrepo15.txt"
# One worker takes the largest ready work first: public.big's copy, then its
# primary key (costed at the table's size) before the smaller tables' copies.
run "$DBRESTORE" --log-level debug migrate --from "$(uri a15 src)" --to "$(uri b15 piped)" --create --jobs 1
assert_rc "migrate --jobs 1 at debug level succeeds" 0
assert_output_matches "indexes are built in the restore's pipeline" \
	'pipeline: [1-9][0-9]* indexes and constraints, [0-9]+ foreign keys after'
assert_output_matches "a table's index is built before all the data is in" \
	'pipeline: [A-Z ]+ .*big.* started with [1-9][0-9]* loads left'
assert_output_contains "the target's copy of a table is read for the verification as soon as it is loaded" \
	"verify: read public.big on the target as soon as it was loaded ($ROWS rows)"
snapshot b15 piped "$BD_TMP/piped15.txt"
check "the pipelined migrate gives the same database" diff -u "$BD_TMP/src15.txt" "$BD_TMP/piped15.txt"
# COPY FREEZE, as the restore: public.big (one chunk) has no page left unfrozen
sq b15 piped "CREATE EXTENSION pg_visibility" >/dev/null
assert_eq "public.big was copied frozen" "0" \
	"$(sq b15 piped "SELECT count(*) FILTER (WHERE NOT all_frozen) FROM pg_visibility_map('public.big')")"
sq b15 postgres "DROP DATABASE piped" >/dev/null
run "$DBRESTORE" migrate --from "$(uri a15 postgres)" --to "$(uri b15 nothing)" --create --jobs 2
assert_rc "a database without tables migrates" 0
run "$DBRESTORE" migrate --from "$(uri a15 src)" --to "$(uri b15 dst)" --jobs 2
assert_rc "into the now non-empty database: exits 1" 1
assert_output_contains "the error says it is not empty" "is not empty"

note "verification: rows changed on their way in are found, and the migrate fails"
sq b15 postgres "CREATE DATABASE tampered" >/dev/null
sq b15 tampered "CREATE FUNCTION public.tamper_row() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN NEW.body := NEW.body || '!'; RETURN NEW; END \$\$;
CREATE FUNCTION public.tamper_evt() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.secrets') THEN
		EXECUTE 'CREATE TRIGGER tamper BEFORE INSERT ON public.secrets FOR EACH ROW EXECUTE FUNCTION public.tamper_row()';
	END IF;
END \$\$;
CREATE EVENT TRIGGER tamper ON ddl_command_end EXECUTE FUNCTION public.tamper_evt();" >/dev/null
run "$DBRESTORE" migrate --from "$(uri a15 src)" --to "$(uri b15 tampered)" --allow-non-empty --jobs 2
assert_rc "a migrate whose rows were altered on the target exits 1" 1
assert_output_contains "the error names the table" "public.secrets"
assert_output_contains "and says verification failed" "verification against the source's snapshot failed"

# --------------------------------------------------------------------------
note "the target server killed while copying"
sq a15 postgres "CREATE DATABASE slow" >/dev/null
sq a15 slow "$SLOW_SQL" >/dev/null
KENV="$BD_TMP/env/kill.env"
copying() { [ "$(sq b15 postgres "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%FROM STDIN%' AND state = 'active'" 2>/dev/null || echo 0)" -ge 1 ]; }
"$DBRESTORE" migrate --from "$(uri a15 slow)" --to "$(uri b15 postgres)" --provision killdb --owner killer \
	--env-file "$KENV" --jobs 2 >"$BD_TMP/kill.out" 2>&1 &
MPID=$!
if wait_for 60 copying; then
	server_kill b15
	pass "the target was killed while a COPY ran"
else
	fail "the target was killed while a COPY ran" "no COPY seen on the target"
fi
set +e
wait "$MPID"
KRC=$?
set -e
_bd_check_sanitizers "$BD_TMP/kill.out" "migrate (target killed)"
assert_eq "the migrate exits 1" 1 "$KRC"
check "its error names the table and the target" grep -q 'cannot load "public"."slow" into the target' "$BD_TMP/kill.out"
check_not "no env file was written" test -e "$KENV"
server_restart b15
assert_eq "no database carries the target's name" 0 "$(sq b15 postgres "SELECT count(*) FROM pg_database WHERE datname = 'killdb'")"
run "$DBRESTORE" migrate --from "$(uri a15 slow)" --to "$(uri b15 postgres)" --provision killdb --owner killer \
	--env-file "$KENV" --reuse-role --jobs 2
assert_rc "a second run completes" 0
assert_output_contains "it drops what the killed run left" "left by an interrupted restore"
assert_eq "the table is complete" 10000 "$(sq b15 killdb "SELECT count(*) FROM public.slow")"
# the role the killed run created (still marked) is recreated, --reuse-role or not
assert_output_contains "the role the killed run created is recreated" \
	"role 'killer' was left by an interrupted provisioning of 'killdb'"
add_secret "$(sed -n 's|^DATABASE_URL=postgresql://killer:\([A-Za-z0-9]*\)@.*|\1|p' "$KENV")"
assert_eq "the application connects with the env file's URL (a new password in it)" 10000 \
	"$("$PSQL18" -X -A -t -d "$(sed -n 's/^DATABASE_URL=//p' "$KENV")" -c "SELECT count(*) FROM public.slow" 2>&1)"

# killed (target or source): exit 1, no env file, the provisioned database and role dropped
killed_midway() { # killed_midway WHAT DB ROLE KILLSQL-KEY KILLSQL
	local env="$BD_TMP/env/$2.env" rc
	"$DBRESTORE" migrate --from "$(uri a15 slow)" --to "$(uri b15 postgres)" --provision "$2" --owner "$3" \
		--env-file "$env" --jobs 2 >"$BD_TMP/$2.out" 2>&1 &
	MPID=$!
	if wait_for 60 copying; then
		sq "$4" postgres "$5" >/dev/null
		pass "$1: killed while a COPY ran"
	else
		fail "$1: killed while a COPY ran" "no COPY seen on the target"
	fi
	set +e
	wait "$MPID"
	rc=$?
	set -e
	cat "$BD_TMP/$2.out" >>"$BD_ALL_OUTPUT"
	_bd_check_sanitizers "$BD_TMP/$2.out" "migrate ($1)"
	assert_eq "$1: the migrate exits 1" 1 "$rc"
	check_not "$1: no env file was written" test -e "$env"
	assert_eq "$1: no database is left (neither its name nor a temporary one)" 0 \
		"$(sq b15 postgres "SELECT count(*) FROM pg_database WHERE datname = '$2' OR datname LIKE 'backupd\_restore\_%'")"
	assert_eq "$1: the provisioned role is dropped" 0 "$(sq b15 postgres "SELECT count(*) FROM pg_roles WHERE rolname = '$3'")"
}
note "the target's COPY connection terminated: the provisioned database and role are dropped"
killed_midway "target connection" tdrop tdropper b15 \
	"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'COPY%FROM STDIN%' AND pid <> pg_backend_pid()"
note "the source's connections (and its snapshot) terminated: the same"
killed_midway "source connections" sdrop sdropper a15 \
	"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'dbrestore migrate'"

# --------------------------------------------------------------------------
note "--provision killed (SIGKILL) after the final rename, before the env file: the same migrate again completes it"
shim_build
sq a15 postgres "CREATE DATABASE tiny" >/dev/null
sq a15 tiny "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 42)" >/dev/null
TENV="$BD_TMP/env/tiny.env"
run_killed KILLSHIM_KILL_AFTER="RENAME TO" "$DBRESTORE" migrate --from "$(uri a15 tiny)" --to "$(uri b15 postgres)" \
	--provision tinydb --owner tinyapp --env-file "$TENV"
assert_rc "killed right after sending the final rename" 137
tiny_there() { [ "$(sq b15 postgres "SELECT count(*) FROM pg_database WHERE datname = 'tinydb'")" = 1 ]; }
check "the database is there under its name" wait_for 20 tiny_there
check_not "no env file" test -e "$TENV"
run "$DBRESTORE" migrate --from "$(uri a15 tiny)" --to "$(uri b15 postgres)" --provision tinydb --owner tinyapp \
	--env-file "$TENV"
assert_rc "the same migrate again completes it" 0
assert_output_contains "it says so in one line" "completed an interrupted provisioning of 'tinydb'"
check_not "and copies nothing again" grep -q "migrating 'tiny'" "$RUN_ERR"
add_secret "$(sed -n 's|^DATABASE_URL=postgresql://tinyapp:\([A-Za-z0-9]*\)@.*|\1|p' "$TENV")"
assert_eq "the application connects with the env file's URL and sees its data" 42 \
	"$("$PSQL18" -X -A -t -d "$(sed -n 's/^DATABASE_URL=//p' "$TENV")" -c "SELECT count(*) FROM public.t" 2>&1)"
assert_eq "the role's mark is cleared" "" \
	"$(sq b15 postgres "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'tinyapp'")"
run "$DBRESTORE" migrate --from "$(uri a15 tiny)" --to "$(uri b15 postgres)" --provision tinydb --owner tinyapp \
	--env-file "$TENV"
assert_rc "once complete, the database is refused again" 1
assert_output_contains "as any existing database" "database 'tinydb' already exists"
assert_no_secrets_in_output "no generated password in any output"

finish
