#!/usr/bin/env bash
# The scheduler side against a real server: expire (retention, --dry-run,
# crashed leftovers), run JOB with the run history and status, and the
# daemon (schedules firing on time, retention after runs, the lock, SIGHUP
# reload, retries of a failing job, SIGTERM cancelling a running dump).
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start

count_complete() { # REPO NAME
	"$BACKUPD" list --repo "$1" --name "$2" --json |
		python3 -c 'import json,sys; print(sum(1 for b in json.load(sys.stdin) if b["status"] == "complete"))'
}
history_count() { # JOB RESULT
	local f="$BD_TMP/state/history/$1.jsonl"
	if [ -f "$f" ]; then grep -c "\"result\":\"$2\"" "$f" || true; else echo 0; fi
}

db_create src
psql_q src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g" >/dev/null
SRC_URI="$(pg_uri src)"
REPO="$BD_TMP/repo"

# --------------------------------------------------------------------------
note "expire"
IDS=()
for i in 1 2 3; do
	run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --jobs 1
	assert_rc "dump $i succeeds" 0
	IDS+=("$(last_line)")
done
run "$BACKUPD" expire --repo "$REPO" --name src
assert_rc "expire without any rule is a usage error" 2
assert_output_contains "expire says it needs a rule" "at least one rule"
run "$BACKUPD" expire --repo "$REPO" --keep-last 2 --dry-run
assert_rc "expire --dry-run succeeds" 0
assert_output_contains "dry run names what it would remove" "would remove src ${IDS[0]}"
assert_eq "dry run removes nothing" 3 "$(count_complete "$REPO" src)"
# leftovers of a crashed dump, one old and one that may still be running
OLD="$REPO/src/backups/20200101T000000Z"
YOUNG_ID="$(date -u +%Y%m%dT%H%M%SZ)-9"
mkdir -p "$OLD/data" "$REPO/src/backups/$YOUNG_ID"
echo '{}' >"$OLD/backup.started"
echo x >"$OLD/data/1.copy.zst"
echo '{}' >"$REPO/src/backups/$YOUNG_ID/backup.started"
run "$BACKUPD" expire --repo "$REPO" --keep-last 2
assert_rc "expire --keep-last 2 succeeds" 0
assert_output_matches "expire prints one line per backup" "^remove src ${IDS[0]}"
assert_output_contains "kept backups say why" "keep src ${IDS[2]} (last)"
assert_eq "two complete backups remain" 2 "$(count_complete "$REPO" src)"
check_not "the oldest backup is gone" test -e "$REPO/src/backups/${IDS[0]}"
check_not "an incomplete backup older than 24h is removed" test -e "$OLD"
check "a young incomplete backup is kept" test -e "$REPO/src/backups/$YOUNG_ID/backup.started"
rm -rf "${REPO:?}/src/backups/$YOUNG_ID"
for k in 1 2; do
	run "$DBRESTORE" restore --repo "$REPO" --name src --backup "${IDS[$k]}" --to "$(pg_uri "kept$k")" --create
	assert_rc "kept backup ${IDS[$k]} still restores" 0
	check "restored copy $k matches the source" pg_compare src "kept$k"
done

# --------------------------------------------------------------------------
note "run JOB, run history and status"
CLOSED_PORT="$(_bd_pick_port)"
REPO2="$BD_TMP/repo2"
CONF="$BD_TMP/backupd.conf"
write_conf() { # SCHEDULE_OF_SRC_JOB
	cat >"$CONF" <<CONF
[global]
state-dir = $BD_TMP/state
max-parallel-jobs = 2
shutdown-grace = 2s

[repo:main]
url = $REPO2

[source:src]
url = $SRC_URI

[source:closed]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/nothing

[job:nightly]
source = src
repo = main
schedule = $1
jobs = 1
retention = keep-last=2

[job:broken]
source = closed
repo = main
name = broken
schedule = $2
retries = 1
retry-delay = 1s
CONF
}
test_le_2_complete() { [ "$(count_complete "$REPO2" src)" -le 2 ]; }
# no_runs_going: no "backupd ... run JOB" of this suite's daemon is alive
no_runs_going() { ! ps -eo args= | awk -v c="$CONF" 'index($0, c) && / run [a-z]+$/ { found = 1 } END { exit !found }'; }
write_conf '0 3 * * *' '0 3 * * *'
run "$BACKUPD" -c "$CONF" run nightly
assert_rc "run nightly succeeds" 0
RUN_ID="$(last_line)"
assert_match "run prints the backup ID" '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' "$RUN_ID"
assert_eq "history records one ok run" 1 "$(history_count nightly ok)"
check "history entry has the fields" python3 -c '
import json, sys
e = json.loads(open(sys.argv[1]).readlines()[-1])
for k in ("start", "end", "duration", "result", "backup_id", "bytes", "error"):
    assert k in e, k
assert e["backup_id"] == sys.argv[2] and e["bytes"] > 0 and e["error"] is None, e
' "$BD_TMP/state/history/nightly.jsonl" "$RUN_ID"
run "$BACKUPD" -c "$CONF" run broken
assert_rc "run of a job whose server is down fails" 1
assert_eq "history records the failure" 1 "$(history_count broken failed)"
assert_eq "the failure is printed once, in the run's end line" "1 1" \
	"$(grep -c 'cannot connect' "$RUN_ERR") $(grep -c 'job broken: failed in' "$RUN_ERR")"
run "$BACKUPD" -c "$CONF" run nosuchjob
assert_rc "run of an unknown job is a usage error" 2
run "$BACKUPD" -c "$CONF" status
assert_rc "status succeeds" 0
assert_output_matches "status shows the last run" "nightly +ok .*$RUN_ID"
run "$BACKUPD" -c "$CONF" status --json
assert_rc "status --json succeeds" 0
cp "$RUN_OUT" "$BD_TMP/status.json"
check "status --json has last run and next fire time" python3 -c '
import json, sys
d = {j["job"]: j for j in json.load(open(sys.argv[1]))}
assert d["nightly"]["last"]["result"] == "ok" and d["nightly"]["next"], d
assert d["broken"]["last"]["result"] == "failed" and d["broken"]["last"]["error"], d
' "$BD_TMP/status.json"

note "a run killed while it appended its record: a partial last line"
BHIST="$BD_TMP/state/history/broken.jsonl"
printf '{"job":"broken","start":"2026-' >>"$BHIST"
run "$BACKUPD" -c "$CONF" status --json
assert_rc "status --json skips the partial line" 0
check "and shows the last complete run" python3 -c '
import json, sys
d = {j["job"]: j for j in json.load(open(sys.argv[1]))}
assert d["broken"]["last"]["result"] == "failed", d' "$RUN_OUT"
run "$BACKUPD" -c "$CONF" run broken
assert_rc "the next run of the job (failing) is recorded" 1
assert_output_contains "it warns about the partial line" "ends in a partial line"
check "its record is a line of its own after the partial one" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "" and lines[-3] == "{\"job\":\"broken\",\"start\":\"2026-", lines[-4:]
assert json.loads(lines[-2])["result"] == "failed", lines[-2]' "$BHIST"
run "$BACKUPD" -c "$CONF" status --json
check "status --json shows that run as the last" python3 -c '
import json, sys
last = json.loads(open(sys.argv[2]).read().split("\n")[-2])
d = {j["job"]: j for j in json.load(open(sys.argv[1]))}
assert d["broken"]["last"]["start"] == last["start"] and d["broken"]["last"]["error"] == last["error"], (d, last)' \
	"$RUN_OUT" "$BHIST"

# --------------------------------------------------------------------------
note "daemon: bad schedule, schedules, retention, lock, retries, reload"
write_conf '61 * * * *' '0 3 * * *'
run "$BACKUPD" -c "$CONF" daemon
assert_rc "daemon with a bad schedule exits 2" 2
assert_output_matches "the error names file:line and key" "backupd.conf:[0-9]+: .*schedule"

write_conf '*/3 * * * * *' '*/3 * * * * *'
DLOG="$BD_TMP/daemon.log"
"$BACKUPD" -c "$CONF" daemon >"$BD_TMP/daemon.out" 2>"$DLOG" &
DPID=$!
# its lock is taken before it says it started (a fixed sleep once let the
# second daemon start under load, and run until the command timeout)
check "the daemon starts" wait_for 60 grep -q "daemon started" "$DLOG"
run "$BACKUPD" -c "$CONF" daemon
assert_rc "a second daemon exits 2" 2
assert_output_contains "a second daemon says why" "another backupd daemon is running"
# events, not a fixed 9 s: a loaded (ASan) run takes longer than its 3 s period
check "the daemon ran nightly on schedule (3 ok runs)" wait_for 90 at_least 3 history_count nightly ok
# (two of them by hand above)
check "retries are recorded as failed" wait_for 90 at_least 4 history_count broken failed
check "daemon is still running" kill -0 "$DPID"
# (a run between its commit and its retention holds 3 for a moment)
check "retention kept at most 2 backups after runs" wait_for 30 test_le_2_complete
check "daemon logs run start" grep -q -E "job nightly: started" "$DLOG"
check "daemon logs run end with duration, bytes and rows" grep -q -E "job nightly: ok in [0-9]+s: backup [0-9TZ-]+, [0-9]+ bytes stored, [0-9]+ rows" "$DLOG"
check "the failing job was retried" grep -q "job broken: retry 1 of 1" "$DLOG"

# reload: nightly becomes yearly; broken now fires every 2 s, the events that
# show the reloaded scheduler at work while nightly (every 3 s before) stays idle
write_conf '0 0 1 1 *' '*/2 * * * * *'
kill -HUP "$DPID"
check "reload is logged" wait_for 30 grep -q "configuration reloaded" "$DLOG"
# a run started before the reload may still be going: its end is no new run
nightly_idle() { ! ps -eo args= | awk -v c="$CONF" 'index($0, c) && / run nightly$/ { found = 1 } END { exit !found }'; }
check "the nightly run started before the reload ends" wait_for 60 nightly_idle
before="$(history_count nightly ok)"
# three firings of broken (a run and its retry each) span more than nightly's old period
check "the reloaded schedule fires broken three times" \
	wait_for 90 at_least $(($(history_count broken failed) + 6)) history_count broken failed
assert_eq "after SIGHUP the new schedule applies (no more runs)" "$before" "$(history_count nightly ok)"
write_conf 'bad schedule' '0 0 1 1 *'
kill -HUP "$DPID"
check "a broken new config is refused and logged" wait_for 30 grep -q "reload failed, keeping the previous configuration" "$DLOG"
check "daemon survives a broken reload" kill -0 "$DPID"
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
_bd_check_sanitizers "$DLOG" "backupd daemon"

# --------------------------------------------------------------------------
note "daemon: SIGTERM during a running dump"
# a lock held elsewhere blocks the dump inside its snapshot: it cannot finish
_bd_psql -d src -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);" >/dev/null 2>&1 &
LOCKER=$!
check "a session holds t" wait_for 20 table_locked src t
write_conf '*/2 * * * * *' '0 0 1 1 *'
before_complete="$(count_complete "$REPO2" src)"
"$BACKUPD" -c "$CONF" daemon >"$BD_TMP/daemon2.out" 2>"$BD_TMP/daemon2.log" &
DPID=$!
check "the job starts" wait_for 30 grep -q "job nightly: started" "$BD_TMP/daemon2.log"
check "its dump waits for the lock on t" wait_for 30 table_lock_awaited src t
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
kill "$LOCKER" 2>/dev/null || true
wait "$LOCKER" 2>/dev/null || true
assert_eq "daemon exits 0 after cancelling" 0 "$rc"
check "the running job was cancelled after the grace period" grep -q "cancelling 1 running job" "$BD_TMP/daemon2.log"
assert_eq "the cancelled dump left no complete backup" "$before_complete" "$(count_complete "$REPO2" src)"
check "the cancelled run is in the history" grep -q "cancelled at shutdown" "$BD_TMP/state/history/nightly.jsonl"
_bd_check_sanitizers "$BD_TMP/daemon2.log" "backupd daemon (cancel)"

assert_no_secrets_in_output
finish
