#!/usr/bin/env bash
# Runs that meet: two dumps of one name in the same second (distinct IDs, both
# verify), the per-dump and per-job locks, two daemon jobs of one source on
# one schedule, a daemon killed outright and restarted while its run goes on
# (no overlap), a killed dump cleaned by the next expire, and fairness when 50
# jobs are due every second with 4 slots.  Waits poll the run history or the
# logs with generous bounds; nothing depends on how fast the machine is.
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start

history_count() { # STATE JOB RESULT
	local f="$1/history/$2.jsonl"
	if [ -f "$f" ]; then grep -c "\"result\":\"$3\"" "$f" || true; else echo 0; fi
}
# daemon_conf FILE STATE-DIR REPO JOB...: jobs dumping src as "shared" every 2 s
daemon_conf() {
	local file="$1" state="$2" repo="$3" j
	shift 3
	printf '[global]\nstate-dir = %s\nmax-parallel-jobs = 4\n\n' "$state" >"$file"
	printf '[source:src]\nurl = %s\n\n[repo:r]\nurl = %s\n\n' "$SRC" "$repo" >>"$file"
	for j in "$@"; do
		printf '[job:%s]\nsource = src\nrepo = r\nname = shared\nschedule = */2 * * * * *\n\n' "$j" >>"$file"
	done
}
temp_files() { find "$1" -name '.*.tmp.*' -type f 2>/dev/null | wc -l; }

db_create src
psql_q src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g" >/dev/null
SRC="$(pg_uri src)"

# --------------------------------------------------------------------------
note "two dumps of one name starting in the same second (two hosts: two state dirs)"
REPO="$BD_TMP/repo"
same_second_dumps "posix same-second dumps" "$REPO" app "$SRC"
run "$BACKUPD" verify --repo "$REPO" --name app
assert_rc "every one of the six backups verifies" 0
assert_eq "six complete backups" 6 "$("$BACKUPD" list --repo "$REPO" --name app --json | python3 -c 'import json,sys; print(sum(b["status"] == "complete" for b in json.load(sys.stdin)))')"

# --------------------------------------------------------------------------
note "a second dump of one name into one repository on this host is refused"
printf '[global]\nstate-dir = %s\n' "$BD_TMP/state-a" >"$BD_TMP/a.conf"
# a lock on the table holds the first dump at its start, for as long as we like
psql_q src "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" >/dev/null &
HOLD=$!
check "a session holds t" wait_for 20 table_locked src t
"$BACKUPD" -c "$BD_TMP/a.conf" dump --source "$SRC" --repo "$REPO" --name app >"$BD_TMP/a.out" 2>"$BD_TMP/a.err" &
pa=$!
wait_for 10 bash -c "ls '$BD_TMP'/state-a/locks/dump-*.lock && ! flock -n '$BD_TMP'/state-a/locks/dump-*.lock true" || true
run "$BACKUPD" -c "$BD_TMP/a.conf" dump --source "$SRC" --repo "$REPO" --name app
assert_rc "the second dump fails" 1
assert_output_contains "it says a dump is already running" "is already running (pid $pa"
ra=0
wait "$pa" || ra=$?
wait "$HOLD" || true
assert_eq "the first dump completes" 0 "$ra"

# --------------------------------------------------------------------------
note "kill -9 a dump, then expire: no temp files, no incomplete backup left"
REPO_K="$BD_TMP/repo-kill"
db_create big
psql_q big "CREATE TABLE b AS SELECT g AS id, md5(g::text) || md5((g+1)::text) AS v FROM generate_series(1, 300000) g" >/dev/null
"$BACKUPD" dump --source "$(pg_uri big)" --repo "$REPO_K" --name big --jobs 2 --compress none >"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" &
kill_dump_midway $! "$REPO_K"
assert_killed_dump_incomplete "$REPO_K"
note "temp files after the kill: $(temp_files "$REPO_K")"
run "$BACKUPD" expire --repo "$REPO_K" --keep-last 1
assert_rc "expire after the kill succeeds" 0
assert_eq "no temp file is left" 0 "$(temp_files "$REPO_K")"
assert_output_matches "the incomplete backup goes: its writer is gone" "remove big [0-9TZ-]+ \(incomplete, its writer pid [0-9]+ on .* is gone\)"
assert_eq "nothing of the killed backup is left" "" "$(find "$REPO_K/big/backups" -mindepth 1 2>/dev/null)"

# --------------------------------------------------------------------------
note "daemon: two jobs of one source on one schedule"
ST2="$BD_TMP/state-two"
daemon_conf "$BD_TMP/two.conf" "$ST2" "$BD_TMP/repo-two" one two
"$BACKUPD" -c "$BD_TMP/two.conf" daemon >"$BD_TMP/two.log" 2>&1 &
DPID=$!
check "both jobs run three times" wait_for 60 bash -c "[ \$(grep -c '\"result\":\"ok\"' '$ST2/history/one.jsonl') -ge 3 ] && [ \$(grep -c '\"result\":\"ok\"' '$ST2/history/two.jsonl') -ge 3 ]"
kill -TERM "$DPID" 2>/dev/null || true
wait "$DPID" || true
cat "$BD_TMP/two.log" >>"$BD_ALL_OUTPUT"
_bd_check_sanitizers "$BD_TMP/two.log" "daemon (two jobs)"
assert_eq "no run failed" 0 "$(( $(history_count "$ST2" one failed) + $(history_count "$ST2" two failed) ))"
check "every recorded backup ID is distinct" python3 -c '
import json, sys
ids = [json.loads(l)["backup_id"] for f in sys.argv[1:] for l in open(f) if l.strip()]
assert len(ids) == len(set(ids)), ids' "$ST2/history/one.jsonl" "$ST2/history/two.jsonl"
run "$BACKUPD" verify --repo "$BD_TMP/repo-two" --name shared
assert_rc "every backup of the two jobs verifies" 0

# --------------------------------------------------------------------------
note "a run by hand while the job runs is refused"
STK="$BD_TMP/state-kill"
daemon_conf "$BD_TMP/kill.conf" "$STK" "$BD_TMP/repo-slow" slow
psql_q src "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT" >/dev/null &
HOLD=$!
check "a session holds t" wait_for 20 table_locked src t
"$BACKUPD" -c "$BD_TMP/kill.conf" daemon >"$BD_TMP/d1.log" 2>&1 &
D1=$!
check "the first daemon starts the job" wait_for 20 grep -q "job slow: started" "$BD_TMP/d1.log"
run "$BACKUPD" -c "$BD_TMP/kill.conf" run slow
assert_rc "run slow by hand fails" 1
assert_output_contains "it says the job is already running" "job slow is already running"

note "daemon killed with SIGKILL mid-run and restarted: no overlap"
kill -KILL "$D1" 2>/dev/null || true
wait "$D1" 2>/dev/null || true
"$BACKUPD" -c "$BD_TMP/kill.conf" daemon >"$BD_TMP/d2.log" 2>&1 &
D2=$!
check "the restarted daemon sees the old run and waits" wait_for 20 grep -q "job slow: a run not started by this daemon is still going" "$BD_TMP/d2.log"
check "the old run finishes and a new one follows" wait_for 60 at_least 2 history_count "$STK" slow ok
kill -TERM "$D2" 2>/dev/null || true
wait "$D2" || true
wait "$HOLD" || true
cat "$BD_TMP/d1.log" "$BD_TMP/d2.log" >>"$BD_ALL_OUTPUT"
_bd_check_sanitizers "$BD_TMP/d2.log" "restarted daemon"
check "runs never overlapped (each starts after the previous ended)" python3 -c '
import json, sys
runs = sorted((e["start"], e["end"]) for e in map(json.loads, filter(str.strip, open(sys.argv[1]))))
assert len(runs) >= 2, runs
for a, b in zip(runs, runs[1:]):
    assert b[0] >= a[1], (a, b)' "$STK/history/slow.jsonl"
assert_eq "no run failed" 0 "$(history_count "$STK" slow failed)"

# --------------------------------------------------------------------------
note "50 jobs due every second, 4 slots: every job gets its turn"
STF="$BD_TMP/state-fair"
STALL_PORT="$(_bd_pick_port)"
# accepts connections and never answers: each run takes connect_timeout (2 s)
python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(512); time.sleep(600)' "$STALL_PORT" &
STALL=$!
{
	printf '[global]\nstate-dir = %s\nmax-parallel-jobs = 4\nshutdown-grace = 1s\n\n' "$STF"
	printf '[repo:fair]\nurl = %s\n\n' "$BD_TMP/repo-fair"
	printf '[source:stall]\nurl = postgresql://nobody@127.0.0.1:%s/db?connect_timeout=2\n\n' "$STALL_PORT"
	for i in $(seq -w 1 50); do
		printf '[job:j%s]\nsource = stall\nrepo = fair\nname = j%s\nschedule = * * * * * *\n\n' "$i" "$i"
	done
} >"$BD_TMP/fair.conf"
"$BACKUPD" -c "$BD_TMP/fair.conf" daemon >"$BD_TMP/fair.log" 2>&1 &
DF=$!
ran_jobs() { ls "$STF/history" 2>/dev/null | wc -l; }
check "all 50 jobs run within 90 s" wait_for 90 at_least 50 ran_jobs
kill -TERM "$DF" 2>/dev/null || true
wait "$DF" || true
kill "$STALL" 2>/dev/null || true
wait "$STALL" 2>/dev/null || true
_bd_check_sanitizers "$BD_TMP/fair.log" "daemon (50 jobs)"
check "no job ran more than 4 times while another waited for its first" python3 -c '
import os, sys
d = sys.argv[1]
counts = [sum(1 for l in open(os.path.join(d, f)) if l.strip()) for f in os.listdir(d)]
assert len(counts) == 50 and max(counts) <= 4, sorted(counts)' "$STF/history"
check "a job due again while waiting runs once (logged)" grep -q "due again while waiting for a free slot: it runs once for both" "$BD_TMP/fair.log"

finish
