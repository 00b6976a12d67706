#!/usr/bin/env bash
# run.sh: alone
# A fleet of three daemons on one machine sharing one catalog (a PostgreSQL
# server of its own, apart from the source's): every firing of FLEET_JOBS jobs
# (every 2 s, for FLEET_SECONDS) runs exactly once, checked in the catalog and
# in the repositories; a daemon killed outright mid-run has its run taken over
# once the lease expires; the catalog server stopped for 10 s and restarted
# (no double run, /health says so, scheduling resumes, a run in progress is
# stopped by its cut-off daemon at half a lease and rerun once, `check`
# reports the catalog); run-missed after the
# whole fleet was down; catalog init/version checks, definition hashes, tags.
# Waits poll with generous bounds (several lease times), never tight timings.
source "$(dirname "$0")/lib.sh"

require_binaries
# Fewer jobs under ASan (scripts/test.sh sets BD_ASAN=1): the same checks, on a slower build.
if [ "${BD_ASAN:-0}" = 1 ]; then FLEET_JOBS="${FLEET_JOBS:-10}"; else FLEET_JOBS="${FLEET_JOBS:-20}"; fi
FLEET_SECONDS="${FLEET_SECONDS:-30}"
LEASE=6

# the source server
pg_start src
SRC_PORT="$PG_PORT"
SRC_PASSFILE="$PGPASSFILE"
db_create src
psql_q src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50) g" >/dev/null
db_create slow
psql_q slow "CREATE TABLE s (id int PRIMARY KEY)" >/dev/null
SRC_URI="$(pg_uri src)"
SLOW_URI="$(pg_uri slow)"
(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$BD_TMP/src.pw")

# the catalog server
pg_start cat
CAT_DIR="$PG_DIR"
CAT_PORT="$PG_PORT"
CAT_PASSFILE="$PGPASSFILE"
(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$BD_TMP/cat.pw")
unset PGPASSFILE # the daemons get every password from their files
cat_q() { PGPASSFILE="$CAT_PASSFILE" PG_PORT="$CAT_PORT" psql_q postgres "$1"; }
src_q() { PGPASSFILE="$SRC_PASSFILE" PG_PORT="$SRC_PORT" psql_q "$1" "$2"; }

CONF="$BD_TMP/fleet.conf"
{
	printf '[global]\ncatalog = postgresql://postgres@127.0.0.1:%s/postgres\n' "$CAT_PORT"
	printf 'catalog-password-file = %s\ncatalog-lease = %ss\nmax-parallel-jobs = 6\nmax-parallel-per-repo = 5\nrun-missed = yes\nshutdown-grace = 5s\n\n' "$BD_TMP/cat.pw" "$LEASE"
	printf '[source:src]\nurl = %s\npassword-file = %s\n\n' "$SRC_URI" "$BD_TMP/src.pw"
	printf '[source:slow]\nurl = %s\npassword-file = %s\n\n' "$SLOW_URI" "$BD_TMP/src.pw"
	printf '[repo:r1]\nurl = %s\n\n[repo:r2]\nurl = %s\n\n' "$BD_TMP/repo1" "$BD_TMP/repo2"
	for i in $(seq -w 1 "$FLEET_JOBS"); do
		printf '[job:j%s]\nsource = src\nrepo = r%s\nname = j%s\nschedule = */2 * * * * *\n\n' "$i" $((10#$i % 2 + 1)) "$i"
	done
	printf '[job:pinned]\nsource = src\nrepo = r1\nname = pinned\nschedule = */2 * * * * *\nrun-on = special\n\n'
	printf '[job:slow]\nsource = slow\nrepo = r1\nname = slow\nschedule = 0 0 1 1 *\n\n'
} >"$CONF"

declare -A DPID
PORTS=()
start_daemon() { # ID [extra options]
	local id="$1" port
	shift
	port="$(_bd_pick_port)"
	PORTS+=("$id:$port")
	eval "PORT_$id=$port"
	"$BACKUPD" -c "$CONF" daemon --id "$id" --state-dir "$BD_TMP/state-$id" \
		--http-listen "127.0.0.1:$port" "$@" >>"$BD_TMP/$id.log" 2>&1 &
	DPID[$id]=$!
}
health() { curl -s -o "$BD_TMP/health.out" -w '%{http_code}' "http://127.0.0.1:$1/health" || true; }
stop_daemons() {
	local id
	for id in "${!DPID[@]}"; do kill -TERM "${DPID[$id]}" 2>/dev/null || true; done
	for id in "${!DPID[@]}"; do wait "${DPID[$id]}" 2>/dev/null || true; done
	DPID=()
}
complete_backups() { # REPO-DIR NAME: complete backups of NAME (0 when it never ran: no directory)
	{ find "$1/$2/backups" -name manifest.json 2>/dev/null || true; } | wc -l
}
# Sets dups to the number of jobs whose complete backups are not one per
# recorded run.  Runs go on meanwhile: the runs recorded ok before counting
# the backups <= backups <= the runs ok or running after.
backups_match_runs() {
	local i r before have after
	dups=0
	for i in $(seq -w 1 "$FLEET_JOBS"); do
		r=$((10#$i % 2 + 1))
		before=$(cat_q "SELECT count(*) FROM backupd.runs WHERE job = 'j$i' AND state = 'ok'")
		have=$(complete_backups "$BD_TMP/repo$r" "j$i")
		after=$(cat_q "SELECT count(*) FROM backupd.runs WHERE job = 'j$i' AND state IN ('ok', 'running')")
		if [ "$have" -lt "$before" ] || [ "$have" -gt "$after" ]; then
			dups=$((dups + 1))
			note "j$i: $have complete backups, $before runs ok before, $after ok or running after"
		fi
	done
}

# Backups of the j-jobs with an ID at or after $1 that no run in the catalog
# recorded: a firing run twice leaves one.
unrecorded_backups_since() {
	cat_q "SELECT backup_id FROM backupd.runs WHERE job LIKE 'j%' AND backup_id IS NOT NULL" >"$BD_TMP/recorded.ids"
	find "$BD_TMP"/repo1/j* "$BD_TMP"/repo2/j* -name manifest.json 2>/dev/null |
		awk -F/ -v since="$1" '{ id = $(NF - 1); if (id >= since) print id }' |
		grep -v -x -F -f "$BD_TMP/recorded.ids" || true
}
# A run records its backup in the catalog when it ends, after writing the
# manifest (seconds later on a loaded ASan run): a backup not recorded yet is
# one of a run still going, or one that ran twice.  So: once every j-run going
# now has ended, each backup unrecorded a moment ago must be recorded.  The
# one exception is the documented one: a run that completed while its daemon
# was cut off, whose end could not reach the catalog before another daemon
# took the firing over (its daemon says so in its log; at least once).
no_unrecorded_backups_since() {
	local ids going id job left=""
	ids=$(unrecorded_backups_since "$1")
	[ -n "$ids" ] || return 0
	going=$(cat_q "SELECT coalesce(string_agg(id::text, ','), '0') FROM backupd.runs WHERE job LIKE 'j%' AND state = 'running'")
	runs_ended() { [ "$(cat_q "SELECT count(*) FROM backupd.runs WHERE id IN ($going) AND state = 'running'")" = 0 ]; }
	wait_for $((LEASE * 20)) runs_ended || true
	cat_q "SELECT backup_id FROM backupd.runs WHERE job LIKE 'j%' AND backup_id IS NOT NULL" >"$BD_TMP/recorded.ids"
	for id in $(printf '%s\n' "$ids" | grep -v -x -F -f "$BD_TMP/recorded.ids" || true); do
		for job in $(find "$BD_TMP"/repo1 "$BD_TMP"/repo2 -path "*/backups/$id/manifest.json" | awk -F/ '{ print $(NF - 3) }'); do
			if grep -q "job $job: its run (catalog id [0-9]*) was taken over by another daemon before this one could record its end (ok)" "$BD_TMP"/d*.log; then
				note "$job $id: completed while its daemon was cut off, taken over before its end was recorded"
			else
				left="$left $job/$id"
			fi
		done
	done
	[ -z "$left" ] || { echo "unrecorded:$left" >"$BD_TMP/unrecorded.txt"; return 1; }
}

# --------------------------------------------------------------------------
note "catalog init and versions"
run "$BACKUPD" -c "$CONF" daemon --id d0 --state-dir "$BD_TMP/state-d0"
assert_rc "a daemon refuses a catalog that was never initialised" 2
assert_output_contains "it says how to initialise it" "catalog is not initialised: run 'backupd catalog init'"
run "$BACKUPD" -c "$CONF" check
assert_rc "check fails on a catalog that was never initialised: exit 2, as the daemon" 2
assert_output_contains "check names the catalog item" "FAILED catalog: catalog is not initialised: run 'backupd catalog init'"
run "$BACKUPD" -c "$CONF" catalog upgrade
assert_rc "upgrade of a catalog that was never initialised fails" 2
run "$BACKUPD" -c "$CONF" catalog init
assert_rc "catalog init creates the schema" 0
assert_output_contains "it prints the version" "catalog schema version 1"
run "$BACKUPD" -c "$CONF" check
assert_output_contains "check: the initialised catalog is ok" "ok     catalog (schema version 1)"
run "$BACKUPD" -c "$CONF" catalog init
assert_rc "a second init finds it there" 0
cat_q "UPDATE backupd.catalog_version SET version = 99" >/dev/null
run "$BACKUPD" -c "$CONF" daemon --id d0 --state-dir "$BD_TMP/state-d0"
assert_rc "a daemon refuses a catalog of another version" 2
assert_output_contains "naming both versions" "catalog schema is version 99, written by a newer backupd; this one knows version 1"
run "$BACKUPD" -c "$CONF" check --json
assert_rc "check fails on a catalog of another version: exit 2, as the daemon" 2
assert_output_contains "check --json names the version" '"message": "catalog schema is version 99, written by a newer backupd'
cat_q "UPDATE backupd.catalog_version SET version = 1" >/dev/null
assert_no_secrets_in_output
chmod 0644 "$BD_TMP/cat.pw"
run "$BACKUPD" -c "$CONF" catalog init
assert_rc "a catalog password file others can read is refused" 2
chmod 0600 "$BD_TMP/cat.pw"

# --------------------------------------------------------------------------
note "three daemons, $FLEET_JOBS jobs every 2 s for ${FLEET_SECONDS}s: each firing runs exactly once"
start_daemon d1
start_daemon d2
start_daemon d3 --tags special
health_is() { [ "$(health "$PORT_d1")" = "$1" ]; }
check "d1 is healthy" wait_for 20 health_is 200
T0=$(date +%s)
sleep "$FLEET_SECONDS"
T1=$(date +%s)
# firings well inside the window: the first and last seconds may be partial
LO=$((T0 + 4)) HI=$((T1 - 4))
# the window's last runs may still go: window_rows below is polled until they end
expected=$(((HI - LO) / 2 + 1))
[ $((LO % 2)) -eq 1 ] && LO=$((LO + 1))
expected=$(((HI - LO) / 2 + 1))
# a firing that comes while the job's previous run still goes (a loaded machine) is skipped, as with
# one daemon; one still waiting for a slot is claimed or recorded as skipped when the next one fires
window_rows() { cat_q "SELECT count(*) FROM backupd.runs WHERE job LIKE 'j%' AND fire_time BETWEEN $LO AND $HI AND state IN ('ok', 'skipped')"; }
wait_for 30 at_least $((FLEET_JOBS * expected)) window_rows || true
assert_eq "every firing of the window is in the catalog, run or skipped ($FLEET_JOBS jobs x $expected firings)" $((FLEET_JOBS * expected)) "$(window_rows)"
note "of which ran: $(cat_q "SELECT count(*) FROM backupd.runs WHERE job LIKE 'j%' AND fire_time BETWEEN $LO AND $HI AND state = 'ok'"), skipped: $(cat_q "SELECT count(*) FROM backupd.runs WHERE job LIKE 'j%' AND fire_time BETWEEN $LO AND $HI AND state = 'skipped'")"
assert_eq "every job ran in the window" "$FLEET_JOBS" "$(cat_q "SELECT count(DISTINCT job) FROM backupd.runs WHERE job LIKE 'j%' AND fire_time BETWEEN $LO AND $HI AND state = 'ok'")"
assert_eq "no firing was claimed twice (one row per job and fire time)" 0 "$(cat_q "SELECT count(*) FROM (SELECT job, fire_time FROM backupd.runs GROUP BY 1, 2 HAVING count(*) > 1) x")"
assert_eq "no run failed" 0 "$(cat_q "SELECT count(*) FROM backupd.runs WHERE state = 'failed'")"
backups_match_runs
assert_eq "each repository holds one backup per recorded run (no duplicate, none lost)" 0 "$dups"
for id in d1 d2 d3; do
	check "daemon $id ran a share of the work" test "$(cat_q "SELECT count(*) FROM backupd.runs WHERE daemon_id = '$id' AND state = 'ok'")" -gt 0
done
# a claim counts the runs not finished: [claimed_at, finished) of two runs overlap only if both counted
assert_eq "never more than 5 runs into one repository at once (max-parallel-per-repo)" 0 "$(cat_q "SELECT count(*) FROM backupd.runs a WHERE a.state IN ('ok', 'failed') AND (SELECT count(*) FROM backupd.runs b WHERE b.repo = a.repo AND b.state IN ('ok', 'failed') AND b.claimed_at <= a.claimed_at AND b.finished > a.claimed_at) > 5")"
assert_eq "the pinned job ran only on the daemon with its tag" "d3" "$(cat_q "SELECT string_agg(DISTINCT daemon_id, ',') FROM backupd.runs WHERE job = 'pinned'")"
run "$BACKUPD" -c "$CONF" status --json
assert_rc "status --json" 0
# The daemons keep firing: under load a job's newest run may be running or
# skipped at any one moment, so both views are polled until they settle.
status_all_ok() {
	"$BACKUPD" -c "$CONF" status --json >"$BD_TMP/status.json" 2>/dev/null &&
		[ "$(json_eval "$BD_TMP/status.json" "str(all(j['last'] and j['last']['result'] == 'ok' and j['last']['daemon'] in ('d1','d2','d3') for j in d if j['job'] != 'slow'))")" = True ]
}
check "status shows each job's last run and its daemon" wait_for 60 status_all_ok
pinned_in_metrics() {
	curl -s "http://127.0.0.1:$PORT_d1/metrics" >"$BD_TMP/metrics.out" &&
		grep -q '^backupd_fleet_job_last_success_time_seconds{backupd_job="pinned"} [1-9]' "$BD_TMP/metrics.out"
}
check "/metrics carries the fleet's last success per job" wait_for 60 pinned_in_metrics
check "/metrics says the catalog is up" grep -q '^backupd_catalog_up 1' "$BD_TMP/metrics.out"

# --------------------------------------------------------------------------
note "a daemon whose job definition differs from the fleet's refuses that job"
sed 's/^\[job:j01\]$/[job:j01]\ntimeout = 1h/' "$CONF" >"$BD_TMP/other.conf"
"$BACKUPD" -c "$BD_TMP/other.conf" daemon --id d4 --state-dir "$BD_TMP/state-d4" >"$BD_TMP/d4.log" 2>&1 &
D4=$!
check "d4 warns about j01" wait_for 20 grep -q "job j01: its definition here differs from the fleet's" "$BD_TMP/d4.log"
# j01 fires every 2 s: two more of its firings run while d4 is up (not a fixed 4 s)
j01_ok() { cat_q "SELECT count(*) FROM backupd.runs WHERE job = 'j01' AND state = 'ok'"; }
check "the fleet runs j01 twice more beside d4" wait_for 60 at_least $(($(j01_ok) + 2)) j01_ok
kill -TERM "$D4"
wait "$D4" || true
assert_eq "d4 never ran j01" 0 "$(cat_q "SELECT count(*) FROM backupd.runs WHERE job = 'j01' AND daemon_id = 'd4'")"

# --------------------------------------------------------------------------
note "a daemon killed outright mid-run: another one runs the job after the lease expires"
# the slow job's dump waits behind a lock for as long as we hold it
src_q slow "BEGIN; LOCK TABLE s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(12); COMMIT" >/dev/null &
HOLD=$!
check "a session holds s" wait_for 20 table_locked slow s src_q
SLOW_FIRE=$(date +%s)
cat_q "INSERT INTO backupd.runs (job, fire_time, state, daemon_id, repo, source, lease_seconds, lease_until) VALUES ('slow', $SLOW_FIRE, 'running', 'nobody', 'r1', 'slow', $LEASE, now() - interval '1 hour')" >/dev/null
slow_started() { [ -n "$(cat_q "SELECT daemon_id FROM backupd.runs WHERE job = 'slow' AND started IS NOT NULL AND state = 'running'")" ]; }
check "a daemon takes the slow run over (its first holder never existed)" wait_for 30 slow_started
VICTIM=$(cat_q "SELECT daemon_id FROM backupd.runs WHERE job = 'slow'")
note "the slow run is on $VICTIM: killing it with SIGKILL"
kill -KILL "${DPID[$VICTIM]}"
wait "${DPID[$VICTIM]}" 2>/dev/null || true
unset "DPID[$VICTIM]"
slow_done() { [ "$(cat_q "SELECT state || ' ' || (daemon_id <> '$VICTIM') FROM backupd.runs WHERE job = 'slow'")" = "ok true" ]; }
check "another daemon takes the run over once the lease expired, and it completes" wait_for $((LEASE * 6 + 20)) slow_done
wait "$HOLD" || true
assert_eq "the slow firing has one row, taken over twice" "1 2" "$(cat_q "SELECT count(*) || ' ' || max(takeovers) FROM backupd.runs WHERE job = 'slow'")"
assert_eq "one complete slow backup" 1 "$(complete_backups "$BD_TMP/repo1" slow)"
start_daemon "$VICTIM" $([ "$VICTIM" = d3 ] && echo --tags special)

# --------------------------------------------------------------------------
note "the catalog server stopped for 10 s, then restarted"
# The SIGKILL above may have hit a j-job after its backup was complete but
# before its end was recorded: that firing ran again on takeover (at least
# once, by design), so totals no longer match.  Count from here instead:
# every complete backup made since must be a recorded run.
OUTAGE_SECTION=$(date -u +%Y%m%dT%H%M%SZ)
# a run in progress across the outage: its daemon, cut off, stops it at half a
# lease (before the lease expires and another daemon retries it), and the
# firing runs again once the catalog is back: one complete backup, never two
src_q slow "BEGIN; LOCK TABLE s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(14); COMMIT" >/dev/null &
HOLD=$!
check "a session holds s" wait_for 20 table_locked slow s src_q
SLOW2_FIRE=$((SLOW_FIRE + 1))
cat_q "INSERT INTO backupd.runs (job, fire_time, state, daemon_id, repo, source, lease_seconds, lease_until) VALUES ('slow', $SLOW2_FIRE, 'running', 'nobody', 'r1', 'slow', $LEASE, now() - interval '1 hour')" >/dev/null
slow2_started() { [ -n "$(cat_q "SELECT daemon_id FROM backupd.runs WHERE job = 'slow' AND fire_time = $SLOW2_FIRE AND started IS NOT NULL AND state = 'running'")" ]; }
check "a daemon runs the second slow firing" wait_for 30 slow2_started
CUT=$(cat_q "SELECT daemon_id FROM backupd.runs WHERE job = 'slow' AND fire_time = $SLOW2_FIRE")
sleep 2
pg_stop "$CAT_DIR"
DOWN=$(date +%s)
check "/health reports the unreachable catalog" wait_for 15 health_is 503
check "... naming the catalog" grep -q 'catalog unreachable' "$BD_TMP/health.out"
check "$CUT, cut off, stops the slow run at half a lease" wait_for 15 grep -q "job slow: no heartbeat reached the catalog for half its lease: cancelling its run here" "$BD_TMP/$CUT.log"
run "$BACKUPD" -c "$CONF" check
assert_rc "check fails while the catalog is down" 1
assert_output_contains "check says the catalog is unreachable" "FAILED catalog: catalog: cannot connect"
# the outage lasts 10 s, or longer when the checks above took that long (a loaded ASan run)
left=$((10 - ($(date +%s) - DOWN)))
if [ "$left" -gt 0 ]; then sleep "$left"; fi
bash "$PG_SERVER_SH" start "$CAT_DIR" "$CAT_PORT" "$PG_BINDIR" >/dev/null
UP=$(date +%s)
check "/health is ok again" wait_for 30 health_is 200
assert_eq "d1's recorded start is its boot, not its reconnect" t "$(cat_q "SELECT started < to_timestamp($DOWN) FROM backupd.daemons WHERE daemon_id = 'd1'")"
resumed() { [ "$(cat_q "SELECT count(*) FROM backupd.runs WHERE fire_time > $UP + 2 AND state = 'ok'")" -ge "$FLEET_JOBS" ]; }
check "scheduling resumes" wait_for 90 resumed
# a firing that came due while the catalog was away may be recorded once it is
# back, as skipped (the catalog accounts for every firing); none may have run
check "no firing due while the catalog was down ran" test "$(cat_q "SELECT count(*) FROM backupd.runs WHERE fire_time > $DOWN + 1 AND fire_time < $UP - 1 AND state <> 'skipped'")" -eq 0
# ...and such a skipped firing says why: the catalog was away, not that the fleet had no free slot
# (the latest firing before the catalog was back, still pending when a daemon reconnects as the
# next one comes, is the one recorded: it may lie in the last second before UP)
note "skipped for the outage: $(cat_q "SELECT count(*) FROM backupd.runs WHERE fire_time > $DOWN + 1 AND fire_time < $UP AND error = 'came due while the catalog was unreachable'")"
check "no firing due while the catalog was down is recorded as skipped for want of a slot" test "$(cat_q "SELECT count(*) FROM backupd.runs WHERE fire_time > $DOWN + 1 AND fire_time < $UP AND error = 'no free slot in the fleet'")" -eq 0
sleep $((LEASE * 2))
check "no job ran twice across the outage (every backup since is a recorded run)" no_unrecorded_backups_since "$OUTAGE_SECTION"
slow2_done() { [ "$(cat_q "SELECT state FROM backupd.runs WHERE job = 'slow' AND fire_time = $SLOW2_FIRE")" = ok ]; }
check "the cancelled slow firing runs again once its lease expired, and completes" wait_for $((LEASE * 6 + 20)) slow2_done
wait "$HOLD" || true
assert_eq "one complete slow backup per firing (the cancelled run left none)" 2 "$(complete_backups "$BD_TMP/repo1" slow)"

# --------------------------------------------------------------------------
note "run-missed after the whole fleet was down"
stop_daemons
STOPPED=$(date +%s)
sleep 5
start_daemon d1
check "d1 is back" wait_for 30 health_is 200
# d1's row still holds its previous start until its first heartbeat; the start
# it records is its boot time, the bound of run-missed (not when it connected)
d1_restarted() { [ "$(cat_q "SELECT started >= to_timestamp($STOPPED) FROM backupd.daemons WHERE daemon_id = 'd1'")" = t ]; }
check "d1 recorded its new start" wait_for 30 d1_restarted
BOOT=$(cat_q "SELECT extract(epoch FROM started)::bigint FROM backupd.daemons WHERE daemon_id = 'd1'")
start_daemon d2
# the firings before d1's start: only the latest of each job runs (or is skipped if one still goes)
caught_up() { [ "$(cat_q "SELECT count(*) FROM backupd.runs WHERE job LIKE 'j%' AND fire_time > $STOPPED AND fire_time <= $BOOT AND state IN ('ok', 'skipped')")" -eq "$FLEET_JOBS" ]; }
check "each job runs its latest missed firing" wait_for 90 caught_up
assert_eq "exactly one missed firing per job ran" 0 "$(cat_q "SELECT count(*) FROM (SELECT job FROM backupd.runs WHERE job LIKE 'j%' AND fire_time > $STOPPED AND fire_time <= $BOOT GROUP BY job HAVING count(*) <> 1) x")"
check "d1 logged the catch-up" grep -q "ran nowhere (the fleet was down): running it now" "$BD_TMP/d1.log"
stop_daemons
for f in "$BD_TMP"/d*.log; do
	check_not "no catalog password in $(basename "$f")" grep -qF -f "$BD_TMP/cat.pw" "$f"
	_bd_check_sanitizers "$f" "daemon $(basename "$f" .log)"
done
finish
