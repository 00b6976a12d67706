#!/usr/bin/env bash
# The daemon's operator-facing extras against a real server: config errors
# for the new keys, the /metrics and /health endpoint, webhooks (success,
# failure, retries, webhook-on, an unreachable receiver, no token in logs),
# max-parallel-jobs, skip-while-running, the job timeout (cancel, history,
# retry) and run-missed at start-up.  Every wait polls the run history, the
# daemon log or the endpoint with a generous bound: no assertion depends on
# how fast the machine is.
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start

history_count() { # JOB RESULT
	local f="$BD_TMP/state/history/$1.jsonl"
	if [ -f "$f" ]; then grep -c "\"result\":\"$2\"" "$f" || true; else echo 0; fi
}
count_complete() { # REPO NAME
	"$BACKUPD" list --repo "$1" --name "$2" --json 2>/dev/null |
		python3 -c 'import json,sys; print(sum(1 for b in json.load(sys.stdin) if b["status"] == "complete"))'
}
http_code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
metric() { # NAME{LABELS}: value of one series from the last scrape
	awk -v k="$1" '$1 == k { print $2 }' "$BD_TMP/metrics.txt"
}
scrape() { curl -sf "http://127.0.0.1:$HPORT/metrics" >"$BD_TMP/metrics.txt"; }
scrape_until() { # NAME{LABELS} MIN: scrape until the series reaches MIN
	scrape && [ -n "$(metric "$1")" ] && [ "$(metric "$1")" -ge "$2" ]
}
stop_daemon() { # PID LOG WHAT
	kill -TERM "$1"
	local rc=0
	wait "$1" || rc=$?
	assert_eq "$3: daemon exits 0 on SIGTERM" 0 "$rc"
	_bd_check_sanitizers "$2" "backupd daemon ($3)"
}

db_create src
psql_q src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g" >/dev/null
SRC_URI="$(pg_uri src)"
REPO="$BD_TMP/repo"
CONF="$BD_TMP/backupd.conf"
CLOSED_PORT="$(_bd_pick_port)"
HPORT="$(_bd_pick_port)"
TOKEN="hooktoken$RANDOM$RANDOM"
add_secret "$TOKEN"

conf_head() { # [GLOBAL LINES...]
	printf '[global]\nstate-dir = %s\nshutdown-grace = 1s\n' "$BD_TMP/state"
	local l
	for l in "$@"; do printf '%s\n' "$l"; done
	printf '\n[repo:main]\nurl = %s\n\n[source:src]\nurl = %s\n\n' "$REPO" "$SRC_URI"
	printf '[source:closed]\nurl = postgresql://postgres@127.0.0.1:%s/nothing\n\n' "$CLOSED_PORT"
}

# --------------------------------------------------------------------------
note "config errors for http-listen, webhook and timeout keys"
bad_conf() { # NAME GLOBAL_LINE JOB_LINE PATTERN
	{
		conf_head "$2"
		printf '[job:j]\nsource = src\nrepo = main\nschedule = 0 3 * * *\n%s\n' "$3"
	} >"$CONF"
	run "$BACKUPD" -c "$CONF" daemon
	assert_rc "$1: daemon exits 2" 2
	assert_output_matches "$1: the error names file:line and the key" "backupd.conf:[0-9]+: key '$4'"
}
bad_conf "http-listen without a port" "http-listen = 127.0.0.1" "" http-listen
bad_conf "http-listen with a host name" "http-listen = localhost:9187" "" http-listen
bad_conf "http-listen port out of range" "http-listen = 127.0.0.1:70000" "" http-listen
bad_conf "webhook-on unknown" "" "webhook-on = sometimes" webhook-on
bad_conf "timeout not a duration" "" "timeout = soon" timeout
bad_conf "webhook-url not http" "webhook-url = ftp://example.com/$TOKEN" "" webhook-url
check_not "the webhook URL is not echoed in the error" grep -q "$TOKEN" "$RUN_ERR"
bad_conf "chunk-size not a size" "" "chunk-size = lots" chunk-size
bad_conf "consistency unknown" "" "consistency = strict" consistency
bad_conf "compress unknown" "" "compress = lz4" compress
{
	conf_head
	printf '[job:j]\nsource = src\nrepo = main\nschedule = 0 3 * * *\nchunk-size = lots\nconsistency = strict\n'
} >"$CONF"
run "$BACKUPD" -c "$CONF" check
assert_rc "check: bad dump options are config errors" 2
assert_output_matches "check names the bad chunk-size with its line" "backupd.conf:[0-9]+: key 'chunk-size': must be a size"
assert_output_matches "check names the bad consistency too" "backupd.conf:[0-9]+: key 'consistency': must be 'lock' or 'no-lock'"
# a busy port is an error at start, naming the address
python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(30)' "$HPORT" &
BUSY=$!
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HPORT" || true
{
	conf_head "http-listen = 127.0.0.1:$HPORT"
	printf '[job:j]\nsource = src\nrepo = main\nschedule = 0 3 * * *\n'
} >"$CONF"
run "$BACKUPD" -c "$CONF" daemon
assert_rc "http-listen on a busy port: daemon exits 1" 1
assert_output_contains "the error names the address" "cannot listen on 127.0.0.1:$HPORT"
kill "$BUSY" 2>/dev/null || true
wait "$BUSY" 2>/dev/null || true

# --------------------------------------------------------------------------
note "metrics endpoint and webhooks"
WPORT="$(_bd_pick_port)"
HOOKS="$BD_TMP/hooks.jsonl"
: >"$HOOKS"
hook_receiver_start "$WPORT" "$HOOKS"
LISTENER=$HOOK_RECEIVER_PID
UNREACHABLE_PORT="$(_bd_pick_port)"
LEAK_PG="Sekr3tPW$RANDOM"
LEAK_S3="Sekr3tS3$RANDOM"
add_secret "$LEAK_PG"
add_secret "$LEAK_S3"
{
	conf_head "http-listen = 127.0.0.1:$HPORT" "max-parallel-jobs = 4" \
		"webhook-url = http://127.0.0.1:$WPORT/hook/$TOKEN"
	cat <<CONF
[job:okjob]
source = src
repo = main
schedule = */5 * * * * *
jobs = 1
retention = keep-last=2

[job:broken]
source = closed
repo = main
name = broken
schedule = */5 * * * * *
retries = 1
retry-delay = 1s

[job:quiet]
source = src
repo = main
name = quiet
schedule = */5 * * * * *
webhook-on = failure

[job:lost]
source = closed
repo = main
name = lost
schedule = */5 * * * * *
webhook-url = http://user:$TOKEN@127.0.0.1:$UNREACHABLE_PORT/x?token=$TOKEN

[job:manual]
source = src
repo = main

# Credentials in URLs the errors used to echo (issue 10 item 10)
[source:leaky]
url = postgresql://postgres:$LEAK_PG%zz@127.0.0.1:$PG_PORT/src

[repo:leakys3]
url = s3://AKID:$LEAK_S3@bucket/x

[job:leaky]
source = leaky
repo = main
schedule = */5 * * * * *

[job:leakys3]
source = src
repo = leakys3
name = leakys3
schedule = */5 * * * * *
CONF
} >"$CONF"
# The very first answers, polled from the moment a daemon starts.  The server
# used to answer from an empty snapshot until the loop's first tick: start
# time 0, no migrations, /health 503.  Reading 3000 followed migrations makes
# that first tick slow enough to be hit every time.
first_answer() { # URL FILE: poll until the daemon answers; FILE gets the body, stdout the code
	local code i
	for i in $(seq 3000); do
		code="$(curl -s -o "$2" -w '%{http_code}' "$1")"
		[ "$code" != 000 ] && break
		sleep 0.005
	done
	echo "$code"
}
EARLY="$BD_TMP/early"
mkdir -p "$EARLY/state/migrations"
chmod 700 "$EARLY/state"
python3 -c '
import sys
for i in range(3000):
    with open("%s/m%d.json" % (sys.argv[1], i), "w") as f:
        f.write("{\"phase\":\"following\",\"observed_phase\":\"following\",\"observed\":1,\"observed_lag_bytes\":5,\"observed_rows_applied\":7}")
' "$EARLY/state/migrations"
EPORT="$(_bd_pick_port)"
printf '[global]\nstate-dir = %s\nhttp-listen = 127.0.0.1:%s\n' "$EARLY/state" "$EPORT" >"$EARLY/d.conf"
for what in metrics health; do
	"$BACKUPD" -c "$EARLY/d.conf" daemon >/dev/null 2>"$EARLY/d.log" &
	EPID=$!
	code="$(first_answer "http://127.0.0.1:$EPORT/$what" "$EARLY/$what.txt")"
	kill "$EPID"
	wait "$EPID" 2>/dev/null
	assert_eq "/$what: the first answer of a starting daemon is 200" 200 "$code"
done
assert_eq "/metrics: the first answer has the start time and all 3000 migrations" "1 3000" \
	"$(awk '$1 == "backupd_start_time_seconds" { print ($2 > 0) }' "$EARLY/metrics.txt") $(grep -c '^backupd_migration_phase{' "$EARLY/metrics.txt")"
assert_eq "/health: the first answer is ok" ok "$(cat "$EARLY/health.txt")"

DLOG="$BD_TMP/daemon-metrics.log"
"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
health_ok() { [ "$(http_code "http://127.0.0.1:$HPORT/health")" = 200 ]; }
check "/health answers 200 once the daemon runs" wait_for 30 health_ok
assert_eq "/health body is ok" "ok" "$(curl -s "http://127.0.0.1:$HPORT/health")"
assert_eq "unknown path is 404" 404 "$(http_code "http://127.0.0.1:$HPORT/nope")"
assert_eq "POST /metrics is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HPORT/metrics")"
check "okjob ran successfully (history)" wait_for 60 at_least 1 history_count okjob ok
check "quiet ran successfully (history)" wait_for 60 at_least 1 history_count quiet ok
check "broken failed and was retried" wait_for 60 grep -q "job broken: retry 1 of 1" "$DLOG"
check "broken's retry finished" wait_for 60 at_least 2 history_count broken failed
check "/metrics counts okjob's run" wait_for 30 scrape_until 'backupd_job_runs_total{backupd_job="okjob"}' 1
check "/metrics counts broken's failures" wait_for 30 scrape_until 'backupd_job_failures_total{backupd_job="broken"}' 2
scrape
cp "$BD_TMP/metrics.txt" "$BD_TMP/metrics-1.txt"
now="$(date +%s)"
assert_eq "backupd_up is 1" 1 "$(metric backupd_up)"
check "start time is in the past" test "$(metric backupd_start_time_seconds)" -le "$now"
check "okjob: last success time is recent" test "$(metric 'backupd_job_last_success_time_seconds{backupd_job="okjob"}')" -gt $((now - 300))
assert_eq "okjob: last run rows is the table's rows" 2000 "$(metric 'backupd_job_last_run_rows{backupd_job="okjob"}')"
check "okjob: last run bytes > 0" test "$(metric 'backupd_job_last_run_bytes{backupd_job="okjob"}')" -gt 0
check "okjob: last run duration is a number" test "$(metric 'backupd_job_last_run_duration_seconds{backupd_job="okjob"}')" -ge 0
assert_eq "okjob: last run succeeded" 1 "$(metric 'backupd_job_last_run_success{backupd_job="okjob"}')"
check "okjob: next run is in the future" test "$(metric 'backupd_job_next_run_time_seconds{backupd_job="okjob"}')" -ge "$now"
assert_eq "broken: last run failed" 0 "$(metric 'backupd_job_last_run_success{backupd_job="broken"}')"
assert_eq "broken: never succeeded" 0 "$(metric 'backupd_job_last_success_time_seconds{backupd_job="broken"}')"
check "the running gauge is there for every job" test "$(grep -c '^backupd_job_running{' "$BD_TMP/metrics.txt")" -eq 7
assert_eq "a manual job has counters but no next run" "0 " \
	"$(metric 'backupd_job_runs_total{backupd_job="manual"}') $(metric 'backupd_job_next_run_time_seconds{backupd_job="manual"}')"
check "every series has HELP and TYPE" python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines()
typed = {l.split()[2] for l in lines if l.startswith("# TYPE ")}
helped = {l.split()[2] for l in lines if l.startswith("# HELP ")}
for l in lines:
    if not l.startswith("#"):
        name = l.split("{")[0].split()[0]
        assert name in typed and name in helped, l
        float(l.rsplit(" ", 1)[1])
' "$BD_TMP/metrics.txt"

has_hook() { # PYTHON-CONDITION on d (one body)
	python3 -c 'import json,sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if eval(sys.argv[2]):
        sys.exit(0)
sys.exit(1)' "$HOOKS" "$1"
}
check "a success webhook arrived for okjob" wait_for 30 has_hook 'd["job"] == "okjob" and d["status"] == "success"'
check "failure webhooks arrived for broken, attempts 1 and 2" \
	wait_for 30 has_hook 'd["job"] == "broken" and d["attempt"] == 2'
HOST="$(hostname)"
check "success webhook has every field right" python3 -c '
import json, re, sys
hooks = [json.loads(l) for l in open(sys.argv[1])]
ids = [json.loads(l)["backup_id"] for l in open(sys.argv[2]) if "\"ok\"" in l]
ok = [h for h in hooks if h["job"] == "okjob"][0]
rfc = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert set(ok) == {"job", "kind", "source", "repo", "backup_id", "status", "started", "finished",
                   "duration", "bytes", "rows", "error", "attempt", "hostname"}, ok
assert ok["status"] == "success" and ok["kind"] == "dump" and ok["source"] == "src", ok
assert ok["repo"] == "main" and ok["backup_id"] in ids and ok["rows"] == 2000, ok
assert ok["bytes"] > 0 and ok["error"] is None and ok["attempt"] == 1, ok
assert rfc.match(ok["started"]) and rfc.match(ok["finished"]) and ok["duration"] >= 0, ok
assert ok["hostname"] == sys.argv[3], ok
' "$HOOKS" "$BD_TMP/state/history/okjob.jsonl" "$HOST"
check "failure webhook has the error, no backup and the attempt" python3 -c '
import json, sys
hooks = [json.loads(l) for l in open(sys.argv[1])]
b = [h for h in hooks if h["job"] == "broken"]
assert all(h["status"] == "failure" and h["backup_id"] is None and h["error"] for h in b), b
assert {1, 2} <= {h["attempt"] for h in b}, b
assert all(h["source"] == "closed" for h in b), b
' "$HOOKS"
check "failure webhooks arrived for the jobs with credentials in bad URLs" \
	wait_for 30 has_hook 'd["job"] == "leakys3" and d["error"]'
check "the bad percent-escape failure webhook arrived" wait_for 30 has_hook 'd["job"] == "leaky" and d["error"]'
check "the bad percent-escape is still named (without the password)" \
	has_hook 'd["job"] == "leaky" and "percent-encoded" in d["error"]'
for f in "$HOOKS" "$BD_TMP/state/history/leaky.jsonl" "$BD_TMP/state/history/leakys3.jsonl"; do
	check_not "no URL password in $(basename "$f")" grep -q -e "$LEAK_PG" -e "$LEAK_S3" "$f"
done
run "$BACKUPD" -c "$CONF" status
check_not "no URL password in status" grep -q -e "$LEAK_PG" -e "$LEAK_S3" "$RUN_OUT"
check_not "a loopback http-listen gets no warning" grep -q "not a loopback address" "$DLOG"
check_not "webhook-on = failure: no webhook for quiet's success" has_hook 'd["job"] == "quiet"'
check "an undeliverable webhook is logged" wait_for 60 grep -q "job lost: gave up after 3 attempts: webhook http://127.0.0.1:$UNREACHABLE_PORT: " "$DLOG"
check "an undeliverable webhook does not fail anything more" test "$(history_count lost failed)" -ge 1
check "the daemon survives it" kill -0 "$DPID"
stop_daemon "$DPID" "$DLOG" "metrics and webhooks"
check_not "the webhook token never reaches the log" grep -q "$TOKEN" "$DLOG"
check_not "no URL password reaches the daemon log" grep -q -e "$LEAK_PG" -e "$LEAK_S3" "$DLOG"
check_not "no webhook path reaches the log" grep -q "/hook/" "$DLOG"
check_not "the endpoint is gone after the daemon stopped" curl -sf "http://127.0.0.1:$HPORT/health"

note "http-listen on every address: a warning at start"
conf_head "http-listen = 0.0.0.0:$HPORT" >"$BD_TMP/public.conf"
PLOG="$BD_TMP/daemon-public.log"
"$BACKUPD" -c "$BD_TMP/public.conf" daemon >/dev/null 2>"$PLOG" &
PPID_D=$!
check "http-listen 0.0.0.0 is warned about at start" \
	wait_for 30 grep -q "warning: http-listen 0.0.0.0:$HPORT is not a loopback address" "$PLOG"
stop_daemon "$PPID_D" "$PLOG" "public http-listen"

# after a restart /metrics knows the last success from the run history
{
	conf_head "http-listen = 127.0.0.1:$HPORT"
	printf '[job:okjob]\nsource = src\nrepo = main\nschedule = 0 0 1 1 *\n'
} >"$CONF"
"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
check "restarted daemon serves /metrics" wait_for 30 scrape
last_ok_end="$(python3 -c 'import json,sys,calendar,time
e = [json.loads(l) for l in open(sys.argv[1]) if "\"ok\"" in l][-1]
print(calendar.timegm(time.strptime(e["end"], "%Y-%m-%dT%H:%M:%SZ")))' "$BD_TMP/state/history/okjob.jsonl")"
assert_eq "last success after a restart comes from the history" "$last_ok_end" \
	"$(metric 'backupd_job_last_success_time_seconds{backupd_job="okjob"}')"
assert_eq "counters start at zero after a restart" 0 "$(metric 'backupd_job_runs_total{backupd_job="okjob"}')"
stop_daemon "$DPID" "$DLOG" "restart"
kill "$LISTENER" 2>/dev/null || true
wait "$LISTENER" 2>/dev/null || true

# --------------------------------------------------------------------------
note "max-parallel-jobs = 1 with three jobs due at once"
rm -rf "$BD_TMP/state/history"
{
	conf_head "max-parallel-jobs = 1"
	for n in p1 p2 p3; do
		printf '[job:%s]\nsource = src\nrepo = main\nname = %s\nschedule = */10 * * * * *\njobs = 1\n\n' "$n" "$n"
	done
} >"$CONF"
DLOG="$BD_TMP/daemon-parallel.log"
"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
for n in p1 p2 p3; do
	check "$n ran" wait_for 90 at_least 1 history_count "$n" ok
done
stop_daemon "$DPID" "$DLOG" "max-parallel-jobs"
check "never two runs at once (daemon log: each start follows the previous end)" python3 -c '
import re, sys
running = set()
for line in open(sys.argv[1]):
    m = re.search(r"job (p\d): (started|ok in|failed in)", line)
    if not m:
        continue
    job, what = m.groups()
    if what.startswith("started"):
        assert not running, "%s started while %s running" % (job, running)
        running.add(job)
    else:
        running.discard(job)
' "$DLOG"
check "never two runs at once (run history intervals)" python3 -c '
import json, sys
runs = sorted((json.loads(l)["start"], json.loads(l)["end"]) for f in sys.argv[1:] for l in open(f))
for (s1, e1), (s2, e2) in zip(runs, runs[1:]):
    assert s2 >= e1, (s1, e1, s2, e2)
' "$BD_TMP"/state/history/p{1,2,3}.jsonl
check "jobs beyond the limit waited for a slot" grep -q -E "job p[23]: started" "$DLOG"

# --------------------------------------------------------------------------
note "skip-while-running and timeout"
# a lock held elsewhere blocks the dump inside its snapshot: it cannot finish
_bd_psql -d src -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);" >/dev/null 2>&1 &
LOCKER=$!
lock_held() {
	[ "$(psql_q src "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = 't' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
check "the table lock is held" wait_for 30 lock_held
{
	conf_head
	cat <<CONF
[job:slow]
source = src
repo = main
name = slow
schedule = */2 * * * * *
jobs = 1
timeout = 5s
retries = 1
retry-delay = 1s
CONF
} >"$CONF"
DLOG="$BD_TMP/daemon-timeout.log"
"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
check "a job due while still running is skipped and logged" \
	wait_for 60 grep -q "job slow: due again while still running (pid [0-9]*): skipped" "$DLOG"
check "a run over its timeout is cancelled" wait_for 60 grep -q "job slow: running for [0-9]*s, over its timeout of 5s: cancelling" "$DLOG"
check "the timed-out run is recorded as failed" wait_for 60 grep -q '"result":"failed".*timed out after' "$BD_TMP/state/history/slow.jsonl"
check "the timed-out run is retried per the retry policy" wait_for 60 grep -q "job slow: retry 1 of 1" "$DLOG"
check "the retry times out too" wait_for 60 at_least 2 history_count slow failed
stop_daemon "$DPID" "$DLOG" "timeout"
# the locking session (and the cancelled runs' sessions) outlive their clients: end them
psql_q postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'src' AND pid <> pg_backend_pid()" >/dev/null
kill "$LOCKER" 2>/dev/null || true
wait "$LOCKER" 2>/dev/null || true
lock_free() { ! lock_held; }
check "the table lock is released" wait_for 30 lock_free
assert_eq "a timed-out run leaves no complete backup" 0 "$(count_complete "$REPO" slow)"

# --------------------------------------------------------------------------
note "run-missed at start-up"
rm -rf "$BD_TMP/state/history"
mkdir -p "$BD_TMP/state/history"
old_run='{"job":"%s","start":"2020-06-01T00:00:00Z","end":"2020-06-01T00:00:05Z","duration":5,"result":"ok","backup_id":null,"bytes":0,"rows":0,"error":null}\n'
recent="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf "$old_run" missed >"$BD_TMP/state/history/missed.jsonl"
printf "$old_run" notconfigured >"$BD_TMP/state/history/notconfigured.jsonl"
printf '{"job":"uptodate","start":"%s","end":"%s","duration":0,"result":"ok","backup_id":null,"bytes":0,"rows":0,"error":null}\n' \
	"$recent" "$recent" >"$BD_TMP/state/history/uptodate.jsonl"
{
	conf_head
	for n in missed uptodate; do
		printf '[job:%s]\nsource = src\nrepo = main\nname = %s\nschedule = 0 0 1 1 *\nrun-missed = yes\njobs = 1\n\n' "$n" "$n"
	done
	printf '[job:notconfigured]\nsource = src\nrepo = main\nname = nc\nschedule = 0 0 1 1 *\njobs = 1\n\n'
} >"$CONF"
DLOG="$BD_TMP/daemon-missed.log"
"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
check "a missed run runs once at start-up" wait_for 60 at_least 2 history_count missed ok
check "it is logged as missed" grep -q "job missed: missed its run" "$DLOG"
# what runs at start-up is decided once, before the first run: this is final
stop_daemon "$DPID" "$DLOG" "run-missed"
assert_eq "it ran exactly once" 2 "$(history_count missed ok)"
assert_eq "without run-missed a missed run is not made up" 1 "$(history_count notconfigured ok)"
assert_eq "a job that missed nothing does not run" 1 "$(history_count uptodate ok)"
check_not "nothing else is logged as missed" grep -q -E "job (notconfigured|uptodate): missed" "$DLOG"

# --------------------------------------------------------------------------
note "a MySQL job next to a PostgreSQL one: scheduled runs, retention, /metrics, restore"
mariadb_start
my_db_create shop
my_sql shop "CREATE TABLE orders (id int PRIMARY KEY, v varchar(40)); INSERT INTO orders SELECT seq, md5(seq) FROM seq_1_to_3000" >/dev/null
rm -rf "$BD_TMP/state/history"
{
	conf_head "http-listen = 127.0.0.1:$HPORT"
	printf '[source:shop]\nurl = %s\npassword-file = %s\n\n' "$(my_uri shop)" "$MY_PASSWORD_FILE"
	printf '[job:pgjob]\nsource = src\nrepo = main\nname = pgsched\nschedule = */3 * * * * *\njobs = 1\nretention = keep-last=2\n\n'
	printf '[job:myjob]\nsource = shop\nrepo = main\nname = mysched\nschedule = */3 * * * * *\njobs = 2\nchunk-size = 16KB\nconsistency = lock\nretention = keep-last=2\n\n'
} >"$CONF"
run "$BACKUPD" -c "$CONF" run myjob
assert_rc "run of a MySQL job succeeds" 0
assert_match "run prints the MySQL backup ID" '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' "$(last_line)"
DLOG="$BD_TMP/daemon-mysql.log"
"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$DLOG" &
DPID=$!
check "the daemon runs the MySQL job on schedule" wait_for 90 at_least 4 history_count myjob ok
check "the daemon runs the PostgreSQL job on schedule" wait_for 90 at_least 3 history_count pgjob ok
check "/metrics counts the MySQL job's runs" wait_for 30 scrape_until 'backupd_job_runs_total{backupd_job="myjob"}' 3
check "/metrics has the MySQL job's last success" test -n "$(metric 'backupd_job_last_success_time_seconds{backupd_job="myjob"}')"
check "/metrics has the PostgreSQL job's runs too" test -n "$(metric 'backupd_job_runs_total{backupd_job="pgjob"}')"
stop_daemon "$DPID" "$DLOG" "MySQL job"
assert_eq "the MySQL job never failed" 0 "$(history_count myjob failed)"
check_not "no 'not supported' refusal is logged" grep -q "not supported" "$DLOG"
check "the MySQL job's end line has bytes and rows" grep -q -E "job myjob: ok in [0-9]+s: backup [0-9TZ-]+, [0-9]+ bytes stored, [1-9][0-9]* rows" "$DLOG"
assert_eq "retention keeps two MySQL backups" 2 "$(count_complete "$REPO" mysched)"
assert_eq "retention keeps two PostgreSQL backups" 2 "$(count_complete "$REPO" pgsched)"
MYLAST="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["backup_id"])' "$BD_TMP/state/history/myjob.jsonl")"
check "the scheduled dump used the job's options (jobs 2, 16KB chunks, lock)" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
o = m["info"]["options"]
assert m["engine"] == "mysql" and o["jobs"] == 2 and o["chunk_size"] == 16384 and o["consistency"] == "ftwrl", o
' "$REPO/mysched/backups/$MYLAST/manifest.json"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name mysched --backup "$MYLAST" --to "$(my_uri shop_r)" --create
assert_rc "the MySQL job's last scheduled dump restores" 0
check "the restored database matches the source" my_compare shop shop_r

assert_no_secrets_in_output
finish
