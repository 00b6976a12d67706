#!/usr/bin/env bash
# What operators see.  Man pages and bash completion are generated from the option and config
# tables the programs parse (--internal-doc): every option `help CMD` shows
# is in the page, the pages render without warnings, and the completion
# offers commands, options, config section names and backup IDs (from
# `backupd list --json`).  Also the log format: --log-format json and the
# journald priority prefixes when JOURNAL_STREAM names stderr.  /metrics:
# WAL archiving figures (from wal-push runs) and repository sizes (from job
# runs) with the backupd_job label.
source "$(dirname "$0")/lib.sh"

require_binaries

MAN1="$BUILD_DIR/doc/backupd.1"
MAN1R="$BUILD_DIR/doc/dbrestore.1"
MAN5="$BUILD_DIR/doc/backupd.conf.5"
COMP="$BUILD_DIR/doc/completion/backupd"
COMPR="$BUILD_DIR/doc/completion/dbrestore"
for f in "$MAN1" "$MAN1R" "$MAN5" "$COMP" "$COMPR"; do
	assert_file "the build generated $(basename "$f")" "$f"
done

# --- man pages: from the tables, so every command and option is there -------
run "$BACKUPD" --internal-doc man
assert_rc "backupd --internal-doc man" 0
check "the built page is what the program prints" cmp "$RUN_OUT" "$MAN1"
missing=""
for cmd in dump basebackup list verify expire run daemon status check repo wal-push; do
	grep -q "^\.SS $cmd" "$MAN1" || missing="$missing $cmd"
	"$BACKUPD" help "$cmd" >"$BD_TMP/help.txt"
	for opt in $(grep -o -- '--[a-z][a-z-]*' "$BD_TMP/help.txt" | sort -u); do
		# roff writes '-' as '\-'
		grep -q -F -- "\\fB$(printf '%s' "$opt" | sed 's/-/\\-/g')\\fR" "$MAN1" || missing="$missing $cmd:$opt"
	done
done
assert_eq "every backupd command and option is in backupd(1)" "" "$missing"
missing=""
for cmd in restore pitr wal-get; do
	"$DBRESTORE" help "$cmd" >"$BD_TMP/help.txt"
	for opt in $(grep -o -- '--[a-z][a-z-]*' "$BD_TMP/help.txt" | sort -u); do
		grep -q -F -- "\\fB$(printf '%s' "$opt" | sed 's/-/\\-/g')\\fR" "$MAN1R" || missing="$missing $cmd:$opt"
	done
done
assert_eq "every dbrestore option is in dbrestore(1)" "" "$missing"
for key in state-dir http-listen secret-access-key-file password-file schedule retention enabled; do
	check "backupd.conf(5) documents $key" grep -q -F -- "\\fB$(printf '%s' "$key" | sed 's/-/\\-/g')\\fR = " "$MAN5"
done
check_not "no key is undocumented" grep -A1 -F '= \fI' "$MAN5" -e '^\.$'
if command -v groff >/dev/null; then
	for page in "$MAN1" "$MAN1R" "$MAN5"; do
		groff -man -ww -z "$page" >"$BD_TMP/groff.out" 2>&1 || true
		check "$(basename "$page") renders without warnings" test ! -s "$BD_TMP/groff.out"
	done
fi
run "$BACKUPD" --internal-doc nonsense
assert_rc "an unknown --internal-doc is a usage error" 2

# --- completion --------------------------------------------------------------
pg_start
db_create app
REPO="$BD_TMP/repo"
run "$BACKUPD" dump --source "$(pg_uri app)" --repo "$REPO" --name app --jobs 1
assert_rc "a dump for the backup ID completion" 0
ID="$(last_line)"
cat >"$BD_TMP/c.conf" <<CONF
[global]
state-dir = $BD_TMP/state
[repo:local]
url = $REPO
[ repo:offsite ]
url = $BD_TMP/other
[source:appdb]
url = $(pg_uri app)
[job:appdb-nightly]
source = appdb
repo = local
CONF

# complete WORDS...: what _backupd offers for the last word (may be empty)
complete_words() {
	local script="$1"
	shift
	PATH="$(dirname "$BACKUPD"):$PATH" bash -c '
		source "$1"; shift
		prog="$1"
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		"_$prog"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$script" "$@"
}
assert_eq "commands" "daemon dump" "$(complete_words "$COMP" backupd d | xargs)"
assert_eq "a command's options" "--keep-daily" "$(complete_words "$COMP" backupd expire --keep-d | xargs)"
assert_eq "global options too" "--log-format --log-level" "$(complete_words "$COMP" backupd list --log- | xargs)"
assert_eq "log formats" "json" "$(complete_words "$COMP" backupd --log-format j | xargs)"
assert_eq "repository sections of -c FILE" "local offsite" \
	"$(complete_words "$COMP" backupd -c "$BD_TMP/c.conf" list --repo '' | xargs)"
assert_eq "repository sections of \$BACKUPD_CONFIG" "local offsite" \
	"$(BACKUPD_CONFIG="$BD_TMP/c.conf" complete_words "$COMP" backupd list --repo '' | xargs)"
assert_eq "source sections" "appdb" "$(complete_words "$COMP" backupd -c "$BD_TMP/c.conf" dump --source a | xargs)"
assert_eq "job names for run" "appdb-nightly" "$(complete_words "$COMP" backupd -c "$BD_TMP/c.conf" run '' | xargs)"
assert_eq "backup IDs for verify (backupd list --json)" "$ID" \
	"$(complete_words "$COMP" backupd -c "$BD_TMP/c.conf" verify --repo local '' | xargs)"
assert_eq "backup IDs for dbrestore --backup" "$ID latest" \
	"$(complete_words "$COMPR" dbrestore restore --repo "$REPO" --backup '' | xargs)"
assert_eq "dbrestore commands" "pitr" "$(complete_words "$COMPR" dbrestore p | xargs)"
assert_eq "no completion for a value" "" "$(complete_words "$COMP" backupd dump --jobs '' | xargs)"

# --- log format --------------------------------------------------------------
run "$BACKUPD" --log-format json list --repo "$BD_TMP/absent"
assert_rc "a failing list" 1
check "--log-format json: each stderr line is a JSON object with time, level, program, message" \
	python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log line"
for l in lines:
    o = json.loads(l)
    assert set(o) >= {"time", "level", "program", "message"}, o
    assert o["program"] == "backupd"
assert json.loads(lines[-1])["level"] == "error"
' "$RUN_ERR"
run "$BACKUPD" list --repo "$REPO" --log-format xml
assert_rc "--log-format xml is a usage error" 2
assert_output_contains "naming it" "option '--log-format' must be text or json"

# JOURNAL_STREAM names stderr (device:inode): syslog priority prefixes
ERRF="$BD_TMP/journal.err"
: >"$ERRF"
JS="$(stat -c '%d:%i' "$ERRF")"
JOURNAL_STREAM="$JS" "$BACKUPD" list --repo "$BD_TMP/absent" 2>>"$ERRF" >/dev/null || true
check "an error line starts with <3> and carries a timestamp" \
	grep -qE '^<3>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z backupd: ' "$ERRF"
: >"$ERRF"
JOURNAL_STREAM="$JS" "$BACKUPD" --log-level debug list --repo "$REPO" 2>>"$ERRF" >/dev/null || true
check_not "no line without a priority" grep -qv '^<[3467]>' "$ERRF"
JOURNAL_STREAM="1:1" "$BACKUPD" list --repo "$BD_TMP/absent" 2>"$ERRF" >/dev/null || true
check_not "another stream's JOURNAL_STREAM: no prefix" grep -q '^<' "$ERRF"

# --- metrics: WAL archiving and repository size ------------------------------
HPORT="$(_bd_pick_port)"
cat >"$BD_TMP/m.conf" <<CONF
[global]
state-dir = $BD_TMP/mstate
http-listen = 127.0.0.1:$HPORT
[repo:local]
url = $BD_TMP/mrepo
[source:appdb]
url = $(pg_uri app)
[job:appdb-nightly]
source = appdb
repo = local
CONF
run "$BACKUPD" -c "$BD_TMP/m.conf" run appdb-nightly
assert_rc "a job run measures its repository" 0
# a real segment (its page magic is checked), pushed from a fake pg_wal with two more waiting
_bd_psql -d postgres -c "SELECT pg_switch_wal()" >/dev/null
_bd_psql -d postgres -c "CHECKPOINT" >/dev/null
SEG="$(ls "$PG_DIR"/data/pg_wal | grep -E '^[0-9A-F]{24}$' | head -n 1)"
mkdir -p "$BD_TMP/wal/pg_wal/archive_status"
cp "$PG_DIR/data/pg_wal/$SEG" "$BD_TMP/wal/pg_wal/"
touch "$BD_TMP/wal/pg_wal/archive_status/$SEG.ready" \
	"$BD_TMP/wal/pg_wal/archive_status/00000001000000FF000000FE.ready" \
	"$BD_TMP/wal/pg_wal/archive_status/00000001000000FF000000FF.ready"
run "$BACKUPD" -c "$BD_TMP/m.conf" wal-push --repo local --name app --async-max 0 "$BD_TMP/wal/pg_wal/$SEG"
assert_rc "wal-push of a real segment" 0
run "$BACKUPD" -c "$BD_TMP/m.conf" wal-push --repo local --name app --async-max 0 "$BD_TMP/wal/pg_wal/00000001000000FF000000FF"
assert_rc "wal-push of a missing segment fails" 1
"$BACKUPD" -c "$BD_TMP/m.conf" daemon >/dev/null 2>"$BD_TMP/mdaemon.log" &
MPID=$!
scrape() { curl -sf "http://127.0.0.1:$HPORT/metrics" >"$BD_TMP/metrics.txt"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$BD_TMP/metrics.txt"; }
check "the daemon serves /metrics" wait_for 30 scrape
check "the repository's size" test "$(metric 'backupd_repo_size_bytes{repo="local"}')" -gt 0
age="$(metric 'backupd_wal_last_archived_age_seconds{source="app"}')"
check "the last archived segment's age ($age s)" test "${age:-999}" -lt 120
assert_eq "WAL archive failures" 1 "$(metric 'backupd_wal_archive_failures_total{source="app"}')"
assert_eq "WAL segments waiting at the last push" 3 "$(metric 'backupd_wal_spool_segments{source="app"}')"
check "the job label is backupd_job" grep -q '^backupd_job_running{backupd_job="appdb-nightly"} 0$' "$BD_TMP/metrics.txt"
check_not "no bare job label" grep -q '{job=' "$BD_TMP/metrics.txt"
check "every series has HELP and TYPE" python3 -c '
import re, sys
text = open(sys.argv[1]).read()
helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
types = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
for line in text.splitlines():
    if line and not line.startswith("#"):
        name = re.match(r"[a-z_]+", line).group(0)
        assert name in helps and name in types, name
' "$BD_TMP/metrics.txt"
kill -TERM "$MPID"
wait "$MPID" || true

# --- sd_notify: a NOTIFY_SOCKET listener standing in for systemd ---------------
NSOCK="$BD_TMP/notify.sock"
NLOG="$BD_TMP/notify.log"
python3 -u - "$NSOCK" >"$NLOG" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
LPID=$!
check "the notify listener is up" wait_for 10 test -S "$NSOCK"
NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=2000000 "$BACKUPD" -c "$BD_TMP/m.conf" daemon >/dev/null 2>"$BD_TMP/sd.log" &
MPID=$!
check "READY=1 once the daemon runs" wait_for 30 grep -q 'READY=1' "$NLOG"
check "WATCHDOG=1 at half of WATCHDOG_USEC, again and again" wait_for 30 at_least 3 grep -c 'WATCHDOG=1' "$NLOG"
kill -TERM "$MPID"
rc=0
wait "$MPID" || rc=$?
assert_eq "the daemon stops cleanly" 0 "$rc"
check "STOPPING=1 on SIGTERM" grep -q 'STOPPING=1' "$NLOG"
: >"$NLOG"
NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=2000000 WATCHDOG_PID=1 "$BACKUPD" -c "$BD_TMP/m.conf" daemon >/dev/null 2>>"$BD_TMP/sd.log" &
MPID=$!
check "READY=1 again" wait_for 30 grep -q 'READY=1' "$NLOG"
sleep 3
check_not "no watchdog pings when WATCHDOG_PID names another process" grep -q 'WATCHDOG=1' "$NLOG"
kill -TERM "$MPID"
wait "$MPID" || true
kill "$LPID" 2>/dev/null || true

finish
