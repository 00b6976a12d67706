#!/usr/bin/env bash
# Progress of long commands (common/progress.h) against a real server: plain
# log lines every --progress-interval when stderr is a pipe, a line redrawn
# in place on a pseudo-terminal (script(1)), --quiet, stdout left to the
# machine-readable output, and a running job's progress in `backupd status`
# and the daemon's /metrics.  Slow work comes from a lock held elsewhere
# (the dump waits for it) and from a CHECK whose function sleeps only in the
# restore's target database: events and counts are checked, never timings.
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start

db_create src
psql_q src "
CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
	IF current_setting('bd.slow', true) = 'on' THEN PERFORM pg_sleep(0.01); END IF;
	RETURN true;
END \$\$;
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
CREATE TABLE slow (id int PRIMARY KEY CHECK (slow_ok(id)));
INSERT INTO slow SELECT g FROM generate_series(1, 160) g;" >/dev/null
SRC_URI="$(pg_uri src)"
REPO="$BD_TMP/repo"

# lock_t SECONDS: an ACCESS EXCLUSIVE lock on t held that long by another session
lock_t() {
	PGAPPNAME=bdlocker _bd_psql -d src -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($1);" \
		>/dev/null 2>&1 &
	LOCKER=$!
	for _ in $(seq 1 50); do
		[ "$(psql_q src "SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && return 0
		sleep 0.1
	done
	fail "the locker session did not get its lock"
}
unlock_t() {
	psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bdlocker'" >/dev/null || true
	wait "$LOCKER" 2>/dev/null || true
}
no_cr() { ! grep -q $'\r' "$1"; }
# job_j EXPR: EXPR holds for j, job "j" of the status --json in $RUN_OUT
job_j() {
	python3 -c 'import json, sys
j = [x for x in json.load(open(sys.argv[1])) if x["job"] == "j"][0]
assert eval(sys.argv[2]), j' "$RUN_OUT" "$1"
}
count_lines() { grep -c "$2" "$1" || true; }

# --------------------------------------------------------------------------
note "dump into a pipe: plain log lines every --progress-interval, the ID alone on stdout"
lock_t 3
run "$BACKUPD" dump --source "$SRC_URI" --name src --repo "$REPO" --progress-interval 1
unlock_t
assert_rc "dump waiting for a lock succeeds" 0
n="$(count_lines "$RUN_ERR" 'info: progress: dump: ')"
check "at least two progress lines while the dump waited 3 s (got $n)" test "$n" -ge 2
check "progress lines are plain (no carriage return, no escape)" no_cr "$RUN_ERR"
check "stdout holds the backup ID alone" test "$(wc -l <"$RUN_OUT")" -eq 1
check_not "stdout has no progress" grep -q progress "$RUN_OUT"
ID1="$(cat "$RUN_OUT")"

note "--quiet: no progress lines"
lock_t 2
run "$BACKUPD" dump --source "$SRC_URI" --name src --repo "$REPO" --progress-interval 1 --quiet
unlock_t
assert_rc "quiet dump succeeds" 0
assert_eq "no progress line with --quiet" 0 "$(count_lines "$RUN_ERR" 'progress:')"

note "a bad --progress-interval is a usage error"
run "$BACKUPD" dump --source "$SRC_URI" --name src --repo "$REPO" --progress-interval 0
assert_rc "--progress-interval 0: exit 2" 2
assert_output_contains "the error names the option" "progress-interval"

# --------------------------------------------------------------------------
note "restore into a pipe: bytes and objects of the manifest's totals, and the phases"
db_create dst
psql_q postgres "ALTER DATABASE dst SET bd.slow = 'on'" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst)" --progress-interval 1
assert_rc "slow restore succeeds" 0
n="$(count_lines "$RUN_ERR" 'info: progress: restore: ')"
check "at least one restore progress line (got $n)" test "$n" -ge 1
check "the line gives bytes of the total and objects done of the total" \
	grep -Eq 'progress: restore: [0-9.]+ (B|KiB|MiB) of [0-9.]+ (B|KiB|MiB) \([0-9]+%\), [0-9]+/[0-9]+ objects' "$RUN_ERR"
check "the line names the phase" grep -q 'progress: restore: .*loading data' "$RUN_ERR"
check "restore lines are plain" no_cr "$RUN_ERR"
assert_eq "the restored table is complete" 160 "$(psql_q dst 'SELECT count(*) FROM slow')"

# --------------------------------------------------------------------------
note "on a terminal: one line redrawn in place"
db_create dst2
psql_q postgres "ALTER DATABASE dst2 SET bd.slow = 'on'" >/dev/null
TTY_OUT="$BD_TMP/tty.out"
run script -qfec "$DBRESTORE restore --repo $REPO --name src --backup $ID1 --to $(pg_uri dst2)" "$TTY_OUT"
assert_rc "restore on a pty succeeds" 0
check "the terminal line is redrawn with a carriage return" grep -q $'\rrestore: ' "$TTY_OUT"
check "the terminal line shows objects of the total" grep -Eq $'\rrestore: .*[0-9]+/[0-9]+ objects' "$TTY_OUT"
check "the terminal line is erased to its end" grep -q $'\033\\[K' "$TTY_OUT"
check_not "no plain progress log lines on a terminal" grep -q 'info: progress:' "$TTY_OUT"
check "the log line after it still reads whole" grep -q "complete in" "$TTY_OUT"

lock_t 2
run script -qfec "$BACKUPD dump --source $SRC_URI --name src --repo $REPO" "$TTY_OUT"
unlock_t
assert_rc "dump on a pty succeeds" 0
check "dump redraws its line on a terminal" grep -q $'\rdump: ' "$TTY_OUT"
check "the ID follows, after the line was erased" grep -Eq $'(^|\033\\[K)[0-9]{8}T[0-9]{6}Z\r?$' "$TTY_OUT"
check "the waiting dump names its phase" grep -q 'waiting for table locks' "$TTY_OUT"

run script -qfec "$BACKUPD dump --source $SRC_URI --name src --repo $REPO --quiet" "$TTY_OUT"
assert_rc "quiet dump on a pty succeeds" 0
check_not "--quiet draws nothing on a terminal" grep -q $'\rdump: ' "$TTY_OUT"

# --------------------------------------------------------------------------
note "verify and expire report progress too"
run "$BACKUPD" verify --repo "$REPO" --name src --progress-interval 1
assert_rc "verify succeeds" 0
run "$BACKUPD" expire --repo "$REPO" --name src --keep-last 1 --progress-interval 1
assert_rc "expire succeeds" 0
assert_output_contains "expire still prints its decisions on stdout" "keep src"

# --------------------------------------------------------------------------
note "a running job's progress: backupd status, status --json and /metrics (a fleet daemon), and a run by hand"
HPORT="$(_bd_pick_port)"
db_create catalog
(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$BD_TMP/cat.pw")
job_conf() { # STATE-DIR REPO [GLOBAL LINES...]
	printf '[global]\nstate-dir = %s\nshutdown-grace = 1s\nprogress-interval = 1\n' "$1"
	local l
	for l in "${@:3}"; do printf '%s\n' "$l"; done
	printf '\n[repo:main]\nurl = %s\n\n[source:src]\nurl = %s\n\n' "$2" "$SRC_URI"
	printf '[job:j]\nsource = src\nrepo = main\nschedule = */2 * * * * *\n'
}
FCONF="$BD_TMP/fleet.conf"
job_conf "$BD_TMP/fstate" "$BD_TMP/frepo" "http-listen = 127.0.0.1:$HPORT" \
	"catalog = $(pg_uri catalog)" "catalog-password-file = $BD_TMP/cat.pw" >"$FCONF"
CONF="$BD_TMP/backupd.conf"
job_conf "$BD_TMP/state" "$BD_TMP/jrepo" >"$CONF"
run "$BACKUPD" -c "$FCONF" catalog init
assert_rc "catalog init" 0
lock_t 40
DLOG="$BD_TMP/daemon.log"
"$BACKUPD" -c "$FCONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
"$BACKUPD" -c "$CONF" run j >"$BD_TMP/run-j.out" 2>"$BD_TMP/run-j.err" &
RPID=$!
got=""
for _ in $(seq 1 60); do
	if curl -sf "http://127.0.0.1:$HPORT/metrics" >"$BD_TMP/metrics.txt" 2>/dev/null &&
		grep -q '^backupd_job_progress_objects{backupd_job="j"}' "$BD_TMP/metrics.txt"; then
		got=1
		break
	fi
	sleep 0.5
done
check "/metrics shows the running job's progress" test -n "$got"
check "/metrics has the bytes done gauge" grep -q '^backupd_job_progress_bytes{backupd_job="j"} [0-9]' "$BD_TMP/metrics.txt"
run "$BACKUPD" -c "$FCONF" status
assert_rc "fleet status works while the job runs" 0
assert_output_contains "fleet status shows the progress of the run on this host" "running: dump: "
# the figures are republished every 2 s: poll until they show the wait
for _ in $(seq 1 40); do
	run "$BACKUPD" -c "$FCONF" status --json
	job_j 'j["running"]["progress"]["phase"] == "waiting for table locks"' 2>/dev/null && break
	sleep 0.5
done
assert_rc "fleet status --json works while the job runs" 0
check "fleet status --json has the run's progress" job_j \
	'j["running"]["progress"]["what"] == "dump" and j["running"]["progress"]["phase"] == "waiting for table locks"'
for _ in $(seq 1 60); do
	[ -e "$BD_TMP/state/gauges/progress/j" ] && break
	sleep 0.2
done
run "$BACKUPD" -c "$CONF" status
assert_rc "status works while a run by hand goes on" 0
assert_output_contains "status shows the running job's progress" "running: dump: "
run "$BACKUPD" -c "$CONF" status --json
assert_rc "status --json works while the job runs" 0
check "status --json has the running object" job_j \
	'j["running"]["what"] == "dump" and j["running"]["bytes_done"] >= 0 and "objects_total" in j["running"]'
run "$BACKUPD" -c "$CONF" run j
assert_rc "a second run of the job is refused" 1
check "the refused run left the running one's progress alone" test -e "$BD_TMP/state/gauges/progress/j"
check "the daemon's run logs plain progress lines" grep -q 'info: progress: dump: ' "$DLOG"
unlock_t
rc=0
wait "$RPID" || rc=$?
assert_eq "the run by hand succeeds" 0 "$rc"
check "the run by hand printed its ID alone on stdout" test "$(wc -l <"$BD_TMP/run-j.out")" -eq 1
check "the run by hand logged plain progress lines" grep -q 'info: progress: dump: ' "$BD_TMP/run-j.err"
_bd_check_sanitizers "$BD_TMP/run-j.err" "backupd run j"
check "its progress file is gone" test ! -e "$BD_TMP/state/gauges/progress/j"
run "$BACKUPD" -c "$CONF" status --json
check "no running object once the run ended" job_j 'j["running"] is None'
for _ in $(seq 1 60); do
	grep -q "job j: ok" "$DLOG" && break
	sleep 0.5
done
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
_bd_check_sanitizers "$DLOG" "backupd daemon"

# --------------------------------------------------------------------------
note "basebackup: the server's PROGRESS estimate, then the wait for WAL archiving"
# a slow archive_command keeps the backup waiting for its last segment
AREPO="$BD_TMP/arepo"
own_dir "$AREPO"
PG_SERVER_CONF="archive_mode = on
archive_command = 'sleep 1 && $BACKUPD wal-push --repo $AREPO --name arch %p'"
export PG_SERVER_CONF
pg_start arch
unset PG_SERVER_CONF
APASS="$BD_TMP/pgpass-arch"
(umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$PG_PASSWORD" >"$APASS")
chown "$OWNER:" "$APASS"
run "${AS_PG[@]}" env PGPASSFILE="$APASS" "$BACKUPD" basebackup --source "$(pg_uri postgres)" \
	--repo "$AREPO" --name arch --progress-interval 1
assert_rc "basebackup succeeds" 0
check "basebackup progress gives the server's estimated total and the archives" \
	grep -Eq 'progress: basebackup: [0-9.]+ (KiB|MiB|GiB) of ~[0-9.]+ (KiB|MiB|GiB) \([0-9]+%\), [0-9]+/[0-9]+ objects' "$RUN_ERR"
check "basebackup progress names the wait for WAL archiving" \
	grep -q 'progress: basebackup: .*waiting for WAL archiving' "$RUN_ERR"
check "stdout holds the backup ID alone" test "$(wc -l <"$RUN_OUT")" -eq 1

note "pitr: objects of the base backup read from the repository"
own_dir "$BD_TMP/pitr"
run "${AS_PG[@]}" "$DBRESTORE" pitr --repo "$AREPO" --name arch --data-dir "$BD_TMP/pitr/data" \
	--target-lsn "$(psql_q postgres 'SELECT pg_current_wal_lsn()')" --progress-interval 1 --quiet
assert_rc "pitr --quiet succeeds" 0
assert_eq "no progress line with --quiet" 0 "$(count_lines "$RUN_ERR" 'progress:')"
check "the data directory was restored" test -f "$BD_TMP/pitr/data/PG_VERSION"
rm -rf "$BD_TMP/pitr"

# --------------------------------------------------------------------------
# under ASan the suite stays small: mysql_test runs the MariaDB dump there
if [ -z "${BD_ASAN:-}" ]; then
	note "MariaDB dump: DATA_LENGTH estimates, while FLUSH TABLES WITH READ LOCK waits"
	mariadb_start
	my_db_create msrc
	my_sql msrc "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB;
	INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_5000; ANALYZE TABLE t" >/dev/null
	# a table lock held elsewhere makes the dump's global read lock wait
	_bd_mariadb -e "LOCK TABLES msrc.t WRITE; SELECT SLEEP(3)" >/dev/null 2>&1 &
	MLOCKER=$!
	for _ in $(seq 1 50); do
		[ "$(my_sql "" "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(3)%'")" = 1 ] && break
		sleep 0.1
	done
	export MYSQL_PWD="$MY_PASSWORD"
	run "$BACKUPD" dump --source "$(my_uri msrc)" --name msrc --repo "$REPO" --progress-interval 1
	unset MYSQL_PWD
	wait "$MLOCKER" || true
	assert_rc "MariaDB dump waiting for the lock succeeds" 0
	check "MariaDB dump progress gives the estimated total and the chunks" \
		grep -Eq 'progress: dump: [0-9.]+ (B|KiB|MiB) of ~[0-9.]+ (B|KiB|MiB) \([0-9]+%\), [0-9]+/1 objects' "$RUN_ERR"
	check "stdout holds the backup ID alone" test "$(wc -l <"$RUN_OUT")" -eq 1
fi

assert_no_secrets_in_output
finish
