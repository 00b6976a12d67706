#!/usr/bin/env bash
# run.sh: long
# valgrind's memcheck over the tools' main paths against real servers: every
# backupd and dbrestore command below runs under tests/valgrind.sh (invalid
# reads and writes, uninitialised values, bad frees, memory definitely lost at
# exit: exit 99 and a report), including the wal-push the PostgreSQL server
# runs as its archive_command.  PostgreSQL: dump (chunks, two workers), list,
# verify, restore --create --verify, an encrypted dump and its restore,
# migrate, a base backup and pitr to the end of the archive (the copy started
# and read), expire, check and run of a config job, the daemon running it on
# a schedule (its /metrics and /health read, a reload, SIGTERM).  MariaDB: dump and
# restore --create --verify.  S3 (s3rver): dump and restore.  The ASan build
# checks the same class of errors in every suite (integration-asan); this one
# checks the build that ships, as it ships.  Skipped under ASan (its binaries
# do not run under valgrind).
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")" && pwd -P)"

if [ "${BD_ASAN:-0}" = 1 ]; then
	note "SKIP - ASan binaries do not run under valgrind"
	finish
fi
require_binaries
if ! command -v valgrind >/dev/null; then
	fail "valgrind is installed" "run scripts/deps.sh"
	finish
fi

# Each process writes its report (if any) to VG_LOGS: the server's
# archive_command runs as its own user, so the directory is open to all.
VG_LOGS="$BD_TMP/vg"
mkdir -p "$VG_LOGS" "$BD_TMP/bin"
chmod 1777 "$VG_LOGS"
for t in backupd:"$BACKUPD" dbrestore:"$DBRESTORE"; do
	printf '#!/bin/sh\nBD_VALGRIND_LOG_DIR=%s exec %s %s "$@"\n' \
		"$VG_LOGS" "$BD_ROOT/tests/valgrind.sh" "${t#*:}" >"$BD_TMP/bin/${t%%:*}"
	chmod 0755 "$BD_TMP/bin/${t%%:*}"
done
BACKUPD="$BD_TMP/bin/backupd"
DBRESTORE="$BD_TMP/bin/dbrestore"

# vg_clean WHAT: no memcheck report from any process since the last call
# (reports are moved aside, so each is named once)
vg_clean() {
	local f bad=()
	for f in "$VG_LOGS"/vg.*.log; do
		[ -e "$f" ] || continue
		if [ -s "$f" ]; then bad+=("$f"); else rm -f "$f"; fi
	done
	if [ "${#bad[@]}" -eq 0 ]; then
		pass "memcheck: no error in $1"
		return 0
	fi
	fail "memcheck: no error in $1" "$(head -n 60 "${bad[@]}")"
	mkdir -p "$VG_LOGS/reported"
	mv "${bad[@]}" "$VG_LOGS/reported/"
}

# --------------------------------------------------------------------------
note "PostgreSQL: a server archiving through backupd wal-push under valgrind"
WREPO="$BD_TMP/wrepo"
own_dir "$WREPO"
PG_SERVER_CONF="archive_mode = on
archive_command = '$BACKUPD wal-push --repo $WREPO --name src %p'"
export PG_SERVER_CONF
pg_start
unset PG_SERVER_CONF
PGPASS_ALL="$BD_TMP/pgpass-all"
(umask 077 && printf '127.0.0.1:*:*:postgres:%s\n' "$PG_PASSWORD" >"$PGPASS_ALL")
chown "$OWNER:" "$PGPASS_ALL"
bd() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$BACKUPD" "$@"; }
dbr() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$DBRESTORE" "$@"; }

db_create src
check "corner-case database loads" psql_file src "$HERE/pg_corner_cases.sql"
# the paths below whose code does not depend on the column types (encryption,
# S3, a config job, retention) copy a small database: memcheck is slow
db_create small
psql_q small "CREATE TABLE s (id int PRIMARY KEY, v text, at timestamptz DEFAULT now());
	INSERT INTO s (id, v) SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
	CREATE SEQUENCE q; SELECT setval('q', 42)" >/dev/null
REPO="$BD_TMP/repo"

run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$REPO" --name pg --jobs 2 --chunk-size 1MB
assert_rc "dump --jobs 2 --chunk-size 1MB" 0
ID="$(last_line)"
vg_clean "dump"
run "$BACKUPD" list --repo "$REPO" --name pg --json
assert_rc "list --json" 0
run "$BACKUPD" verify --repo "$REPO" --name pg "$ID"
assert_rc "verify" 0
vg_clean "list and verify"

run "$DBRESTORE" restore --repo "$REPO" --name pg --to "$(pg_uri dst)" --create --jobs 2 --verify
assert_rc "restore --create --jobs 2 --verify" 0
check "the restored database matches the source" pg_compare src dst
run "$DBRESTORE" verify --repo "$REPO" --name pg --to "$(pg_uri dst)" --jobs 2
assert_rc "dbrestore verify" 0
vg_clean "restore and dbrestore verify"

KEY="$BD_TMP/key"
new_key "$KEY"
run "$BACKUPD" dump --source "$(pg_uri small)" --repo "$BD_TMP/erepo" --name pg --jobs 2 --encryption-key-file "$KEY"
assert_rc "encrypted dump" 0
run "$DBRESTORE" restore --repo "$BD_TMP/erepo" --name pg --to "$(pg_uri edst)" --create --jobs 2 --encryption-key-file "$KEY"
assert_rc "restore of the encrypted dump" 0
check "the encrypted dump's restore matches the source" pg_compare small edst
vg_clean "encrypted dump and restore"

run "$DBRESTORE" migrate --from "$(pg_uri src)" --to "$(pg_uri mig)" --create --jobs 2 --chunk-size 1MB
assert_rc "migrate --create --jobs 2 (verified)" 0
check "the migrated database matches the source" pg_compare src mig
vg_clean "migrate"

run "$BACKUPD" dump --source "$(pg_uri small)" --repo "$REPO" --name pg
assert_rc "a second dump" 0
run "$BACKUPD" expire --repo "$REPO" --name pg --keep-last 1
assert_rc "expire --keep-last 1" 0
assert_eq "one complete backup left" 1 "$(find "$REPO/pg/backups" -name manifest.json | wc -l)"
vg_clean "expire"

note "PostgreSQL: base backup, WAL archived by wal-push, pitr"
psql_at "$PG_PORT" "CREATE TABLE t (id int PRIMARY KEY, what text)" >/dev/null
bd basebackup --source "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" --repo "$WREPO" --name src
assert_rc "basebackup" 0
B1="$(last_line)"
psql_at "$PG_PORT" "INSERT INTO t VALUES (1, 'after the backup')" >/dev/null
SEG="$(psql_at "$PG_PORT" "SELECT pg_walfile_name(pg_switch_wal())")"
archived() { find "$WREPO/src/wal" -name "$SEG-*" | grep . >/dev/null; }
for _ in $(seq 1 600); do archived && break; sleep 0.2; done
check "the server archived $SEG through wal-push under valgrind" archived
bd verify --repo "$WREPO" --name src "$B1"
assert_rc "verify of the base backup and its WAL" 0
vg_clean "basebackup, wal-push (archive_command) and verify"

own_dir "$BD_TMP/r1"
dbr pitr --repo "$WREPO" --name src --data-dir "$BD_TMP/r1/data"
assert_rc "pitr to the end of the archive" 0
vg_clean "pitr"
if copy_start "$BD_TMP/r1" "$PG_BINDIR" "-c archive_mode=off"; then
	wait_promoted "$COPY_PORT" r1
	assert_eq "the copy replayed the row written after the backup" "after the backup" \
		"$(psql_at "$COPY_PORT" "SELECT what FROM t WHERE id = 1" 2>/dev/null || true)"
	copy_stop "$BD_TMP/r1"
fi
vg_clean "the copy's restore_command"

note "a config job: check and run"
CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[global]
state-dir = $BD_TMP/state

[repo:main]
url = $BD_TMP/jrepo

[source:src]
url = $(pg_uri small)

[job:nightly]
source = src
repo = main
schedule = 0 3 * * *
jobs = 2
retention = keep-last=1
EOF
mkdir -p "$BD_TMP/state"
run "$BACKUPD" -c "$CONF" check
assert_rc "check" 0
run "$BACKUPD" -c "$CONF" run nightly
assert_rc "run nightly" 0
run "$BACKUPD" -c "$CONF" status --json
assert_rc "status --json" 0
vg_clean "check, run and status"

note "the daemon: scheduled runs, /metrics and /health, a reload, SIGTERM"
# DESIGN: "the daemon runs for months: valgrind shows no leaks".  Its runs
# are children exec'd through /proc/self/exe (backupd/daemon.c: it survives an
# upgrade of the binary on disk), which under valgrind is valgrind's own tool
# binary: they fail at once ("You cannot run 'backupd' directly"), so this
# checks the daemon's own loop (scheduling, the runs' ends, the endpoints,
# reload, shutdown), not the runs, which `run` above covers.
HTTP_PORT="$(_bd_pick_port)"
sed -i "s/^schedule = .*/schedule = *\/3 * * * * */" "$CONF"
sed -i "s|^state-dir = .*|&\nhttp-listen = 127.0.0.1:$HTTP_PORT|" "$CONF"
DLOG="$BD_TMP/daemon.log"
# (a run's history line is written by the run itself: the daemon logs its end)
runs_ended() { grep -c "job nightly: finished" "$DLOG" || true; }
"$BACKUPD" -c "$CONF" daemon >"$BD_TMP/daemon.out" 2>"$DLOG" &
DPID=$!
check "the daemon starts" wait_for 120 grep -q "daemon started" "$DLOG"
check "two runs of the job ended on its schedule" wait_for 120 at_least 2 runs_ended
# http_status URL: the HTTP status of a GET (an error status is an answer too)
http_status() {
	python3 -c 'import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=30).status)
except urllib.error.HTTPError as e:
    print(e.code)' "$1" 2>/dev/null || echo none
}
assert_eq "/metrics answers 200" 200 "$(http_status "http://127.0.0.1:$HTTP_PORT/metrics")"
assert_match "/health answers (503: the runs fail, see above)" '^(200|503)$' "$(http_status "http://127.0.0.1:$HTTP_PORT/health")"
kill -HUP "$DPID"
check "it reloads" wait_for 60 grep -q "configuration reloaded" "$DLOG"
check "a run ended after the reload" wait_for 120 at_least 3 runs_ended
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
assert_eq "the daemon exits 0 on SIGTERM" 0 "$rc"
vg_clean "the daemon"

# --------------------------------------------------------------------------
note "MariaDB: dump and restore"
mariadb_start
my_db_create src
check "corner-case database loads" my_sql_file src "$HERE/mysql_corner_cases.sql"
my_sql src 'ANALYZE TABLE big' >/dev/null
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri src)" --repo "$BD_TMP/myrepo" --name src --jobs 2 --chunk-size 64KB
assert_rc "MariaDB dump --jobs 2" 0
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/myrepo" --name src --to "$(my_uri dst)" --jobs 2 --create --verify
assert_rc "MariaDB restore --create --verify" 0
check "the restored MariaDB database matches the source" my_compare src dst
vg_clean "MariaDB dump and restore"

# --------------------------------------------------------------------------
note "S3 (s3rver): dump and restore"
source "$HERE/s3lib.sh"
s3_start
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN
S3REPO="s3://bkt/vg?endpoint=http://127.0.0.1:$S3_PORT&style=path"
run "$BACKUPD" dump --source "$(pg_uri small)" --repo "$S3REPO" --name pg --jobs 2 --chunk-size 256KB
assert_rc "dump to S3" 0
run "$DBRESTORE" restore --repo "$S3REPO" --name pg --to "$(pg_uri s3dst)" --create --jobs 2
assert_rc "restore from S3" 0
check "the S3 restore matches the source" pg_compare small s3dst
vg_clean "S3 dump and restore"

finish
