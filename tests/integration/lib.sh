# Helpers for integration tests.  Source from a *_test.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   pg_start
#   run "$BACKUPD" list --repo "$REPO"; assert_rc "list works" 0
#   ...
#   finish
#
# Environment:
#   BUILD_DIR        build tree with the binaries (default <root>/build)
#   BACKUPD_BIN      backupd binary   (default $BUILD_DIR/backupd/backupd)
#   DBRESTORE_BIN    dbrestore binary (default $BUILD_DIR/restore/dbrestore)
#   PG_BINDIR        PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   MY_SBINDIR       where mariadbd is (default /usr/sbin; scripts/mariadb-server.sh)
#   BD_PG_PORT       first port to try for test servers (default: random 20000-29999)
#   BD_RESULTS_FILE  if set, "PASSED FAILED NAME" is appended here by finish
#   BD_KEEP_TMP=1    keep the scratch directory even when all tests pass
#   BD_CMD_TIMEOUT   seconds before a command under test is killed (default 300)
#
# Every command under test runs through `run`, which captures stdout, stderr
# and the exit code without tripping `set -e`, and counts sanitizer reports
# (ASan/LSan/UBSan) as failures.  `finish` prints "N passed, N failed" alone
# on the last line and exits 1 if anything failed.

set -euo pipefail
set -E

BD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
BUILD_DIR="${BUILD_DIR:-$BD_ROOT/build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$BD_ROOT/$BUILD_DIR" ;; esac
BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PG_SERVER_SH="$BD_ROOT/scripts/pg-server.sh"
PG_COMPARE="$BD_ROOT/tests/integration/pg_compare.sh"
export PG_BINDIR
export PATH="$PG_BINDIR:$PATH"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
# The tools under test get their connection from the URI only.
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE 2>/dev/null || true

BD_TEST_NAME="$(basename "$0" .sh)"
BD_PASSED=0
BD_FAILED=0
BD_FINISHED=0
BD_SERVERS=()
BD_SECRETS=()
BD_TMP="$(mktemp -d "/tmp/bd-${BD_TEST_NAME}.XXXXXX")"
chmod 0755 "$BD_TMP"
BD_ALL_OUTPUT="$BD_TMP/all-output.log"
: >"$BD_ALL_OUTPUT"
# A command run without -c reads $BACKUPD_CONFIG, else /etc/backupd/backupd.conf
# when it exists (common/program.c): the suites must never pick up the host's.
# An empty file of the suite's own, readable by the servers' user (a restored
# server's restore_command names it).
BD_DEFAULT_CONFIG="$BD_TMP/default.conf"
: >"$BD_DEFAULT_CONFIG"
chmod 0644 "$BD_DEFAULT_CONFIG"
export BACKUPD_CONFIG="$BD_DEFAULT_CONFIG"

RUN_RC=0
RUN_OUT="$BD_TMP/run.out"
RUN_ERR="$BD_TMP/run.err"
RUN_CMD=""
RUN_N=0

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------
# Colours on a terminal, decided once: a $(...) per check is a fork, and
# thousands of them cost CI whole seconds.
_BD_GREEN='' _BD_RED='' _BD_RESET=''
if [ -t 1 ]; then _BD_GREEN=$'\033[32m' _BD_RED=$'\033[31m' _BD_RESET=$'\033[0m'; fi

pass() {
	BD_PASSED=$((BD_PASSED + 1))
	printf '%sok%s - %s\n' "$_BD_GREEN" "$_BD_RESET" "$1"
}

# fail NAME [DETAIL...]
fail() {
	BD_FAILED=$((BD_FAILED + 1))
	printf '%sFAIL%s - %s\n' "$_BD_RED" "$_BD_RESET" "$1"
	shift
	local line
	for line in "$@"; do
		printf '    %s\n' "$line"
	done
}

note() { printf '# %s\n' "$*"; }

# Print the last captured command and the tails of its output (for failures).
show_last_run() {
	printf '    command: %s\n' "$RUN_CMD"
	printf '    exit code: %s\n' "$RUN_RC"
	if [ -s "$RUN_OUT" ]; then
		echo "    --- stdout (last 15 lines)"
		tail -n 15 "$RUN_OUT" | sed 's/^/    | /'
	fi
	if [ -s "$RUN_ERR" ]; then
		echo "    --- stderr (last 25 lines)"
		tail -n 25 "$RUN_ERR" | sed 's/^/    | /'
	fi
}

# ---------------------------------------------------------------------------
# Running commands under test
# ---------------------------------------------------------------------------

# run CMD...: capture stdout/stderr/exit code; never fails.
run() {
	RUN_N=$((RUN_N + 1))
	RUN_CMD="$*"
	local rc=0
	timeout --kill-after=10 "${BD_CMD_TIMEOUT:-300}" "$@" >"$RUN_OUT" 2>"$RUN_ERR" </dev/null || rc=$?
	RUN_RC=$rc
	{
		printf '=== [%s] %s (exit %s)\n' "$RUN_N" "$RUN_CMD" "$RUN_RC"
		cat "$RUN_OUT" "$RUN_ERR"
	} >>"$BD_ALL_OUTPUT"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "command timed out after ${BD_CMD_TIMEOUT:-300}s: $RUN_CMD"
	fi
	_bd_check_sanitizers "$RUN_ERR" "$RUN_CMD"
	return 0
}

# shim_build: tests/integration/killshim.c built into $BD_TMP/killshim.so;
# SHIM_PRELOAD is what LD_PRELOAD takes (an ASan build's runtime comes first).
shim_build() {
	SHIM="$BD_TMP/killshim.so"
	SHIM_PRELOAD="$SHIM"
	# (not `ldd | grep -q`: under pipefail, grep's early exit can fail ldd
	# with SIGPIPE and the test with it, as it did in CI)
	if [[ "$(ldd "$DBRESTORE" 2>/dev/null)" == *libasan* ]]; then
		SHIM_PRELOAD="$("${CC:-cc}" -print-file-name=libasan.so) $SHIM"
	fi
	check "the fault shim builds" "${CC:-cc}" -O2 -shared -fPIC -o "$SHIM" "$BD_ROOT/tests/integration/killshim.c" -ldl
}

# run_killed KILLSHIM_...=V... CMD...: like run, under the shim (shim_build),
# for a command it is to SIGKILL (exit 137, which run takes for its timeout's).
run_killed() {
	RUN_N=$((RUN_N + 1))
	RUN_CMD="$*"
	local rc=0
	env LD_PRELOAD="$SHIM_PRELOAD" "$@" >"$RUN_OUT" 2>"$RUN_ERR" </dev/null &
	{ wait $! || rc=$?; } 2>/dev/null # (the shell's "Killed" line)
	RUN_RC=$rc
	{
		printf '=== [%s] %s (exit %s)\n' "$RUN_N" "$RUN_CMD" "$RUN_RC"
		cat "$RUN_OUT" "$RUN_ERR"
	} >>"$BD_ALL_OUTPUT"
	return 0
}

# Sanitizer reports count as failures whatever the exit code.
_bd_check_sanitizers() {
	local file="$1" what="$2"
	if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$file" 2>/dev/null; then
		fail "sanitizer report from: $what" \
			"$(grep -m 5 -E 'ERROR: |runtime error:|SUMMARY:' "$file")"
		echo "    --- full report"
		head -n 80 "$file" | sed 's/^/    | /'
	fi
}

# flip_middle_byte FILE: damages FILE in place (one byte XOR 0x5A, at half its size)
flip_middle_byte() {
	python3 - "$1" <<'PY'
import os, sys
path = sys.argv[1]
size = os.path.getsize(path)
with open(path, "r+b") as f:
    f.seek(size // 2)
    b = f.read(1)
    f.seek(size // 2)
    f.write(bytes([b[0] ^ 0x5A]))
PY
}

# replace_object BACKUP_DIR OBJECT CONTENT_FILE: a crafted backup that still
# passes verify: OBJECT (e.g. schema/pre-data.sql.zst) gets CONTENT_FILE's
# bytes (zstd-compressed when its name ends in .zst) and manifest.json its new
# size, stored size and sha256 (of the stored bytes, as backupd records them).
replace_object() {
	python3 - "$1" "$2" "$3" <<'PY'
import hashlib, json, os, subprocess, sys
bdir, name, src = sys.argv[1:4]
data = open(src, "rb").read()
path = os.path.join(bdir, name)
stored = subprocess.run(["zstd", "-q", "-c"], input=data, check=True, capture_output=True).stdout \
    if name.endswith(".zst") else data
with open(path, "wb") as f:
    f.write(stored)
mpath = os.path.join(bdir, "manifest.json")
m = json.load(open(mpath))
for o in m["objects"]:
    if o["name"] == name:
        o["size"], o["stored_size"] = len(data), len(stored)
        o["sha256"] = hashlib.sha256(stored).hexdigest()
        o["sha256_of"] = "stored"
        break
else:
    sys.exit("no object " + name + " in " + mpath)
m["size"] = sum(o["size"] for o in m["objects"])
m["stored_size"] = sum(o["stored_size"] for o in m["objects"])
json.dump(m, open(mpath, "w"), indent=1)
PY
}

# kill_dump_midway PID REPO [PS_FILE]: SIGKILLs the backup process PID once
# its backup in REPO has a data object (or 1 s after its first object), then
# reaps it; its output ($BD_TMP/kill.out, kill.err) joins the captured output
# and is checked for sanitizer reports.  Sets KILLED=1 if it was still
# running then.  PS_FILE gets the process list seen while it ran.
kill_dump_midway() {
	local pid="$1" repo="$2" ps_file="${3:-}" first_seen="" _
	KILLED=0
	[ -z "$ps_file" ] || : >"$ps_file"
	for _ in $(seq 1 3000); do
		kill -0 "$pid" 2>/dev/null || break
		if [ -z "$first_seen" ] && [ -n "$(find "$repo" -path '*/backups/*' -type f 2>/dev/null | head -n 1)" ]; then
			first_seen=$SECONDS
			[ -z "$ps_file" ] || ps -eo args >"$ps_file" 2>/dev/null || true
		fi
		if [ -n "$first_seen" ] && {
			[ -n "$(find "$repo" -path '*/backups/*/data/*' -type f 2>/dev/null | head -n 1)" ] ||
				[ $((SECONDS - first_seen)) -ge 1 ]
		}; then
			kill -KILL "$pid" 2>/dev/null && KILLED=1
			break
		fi
		sleep 0.02
	done
	# Never leave it running (e.g. hung before writing anything).
	reap_killed "$pid" "killed dump"
}

# _bd_files_closed FILE...: no process of ours has any FILE open
_bd_files_closed() {
	local f
	for f in "$@"; do
		f="$(readlink -f "$f")"
		[ -z "$(find /proc/[0-9]*/fd -maxdepth 1 -lname "$f" 2>/dev/null | head -n 1)" ] || return 1
	done
}

# reap_killed PID WHAT: PID (run with its output in $BD_TMP/kill.out and
# kill.err) killed if still running and reaped; its output joins the captured
# output and is checked for sanitizer reports.
reap_killed() {
	kill -KILL "$1" 2>/dev/null || true
	{ wait "$1"; } 2>/dev/null || true
	# Children (e.g. a pg_dump the tool runs) may linger and write briefly after
	# SIGKILL: their output is complete once none of them has the files open
	wait_for 30 _bd_files_closed "$BD_TMP/kill.out" "$BD_TMP/kill.err" || true
	cat "$BD_TMP/kill.out" "$BD_TMP/kill.err" >>"$BD_ALL_OUTPUT"
	_bd_check_sanitizers "$BD_TMP/kill.err" "$2"
}

# assert_killed_dump_incomplete REPO: the killed dump wrote no manifest, and
# list works and shows no complete backup.
assert_killed_dump_incomplete() {
	local repo="$1"
	if find "$repo" -path '*/backups/*/manifest.json' -type f | grep . >/dev/null; then
		fail "killed dump left no manifest.json" "$(find "$repo" -name manifest.json)"
	else
		pass "killed dump left no manifest.json"
	fi
	run "$BACKUPD" list --repo "$repo" --json
	assert_rc "list after a killed dump succeeds" 0
	check "list shows no complete backup after a killed dump" python3 -c '
import json,sys
text = open(sys.argv[1]).read().strip()
items = json.loads(text) if text else []
complete = [i for i in items if i.get("status") == "complete"]
assert not complete, complete' "$RUN_OUT"
}

sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }

# kill_after PID MS WHAT: SIGKILLs PID after MS milliseconds (a random point
# of its run when MS is drawn at random), then reaps it (reap_killed).  Sets
# KILLED=1 if it was still running then, else KILLED=0 and KILLED_RC to its
# exit code.
kill_after() {
	local pid="$1" ms="$2" what="$3"
	KILLED=0
	KILLED_RC=0
	sleep_ms "$ms"
	# a child that already exited is a zombie until reaped: kill would "succeed"
	if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ] && kill -KILL "$pid" 2>/dev/null; then
		KILLED=1
	else
		wait "$pid" 2>/dev/null || KILLED_RC=$?
	fi
	reap_killed "$pid" "$what"
}

# assert_backups_sound WHAT REPO [NAME]: list --json works, shows no damaged
# backup (an unreadable manifest) and every backup it shows complete
# verifies (nothing looks complete that isn't).  Sets
# COMPLETE_IDS to the complete backups' IDs (space-separated, oldest first).
assert_backups_sound() {
	local what="$1" repo="$2" name="${3:-}"
	local sel=()
	[ -z "$name" ] || sel=(--name "$name")
	COMPLETE_IDS=""
	run "$BACKUPD" list --repo "$repo" "${sel[@]}" --json
	assert_rc "$what: list --json succeeds" 0
	[ "$RUN_RC" -eq 0 ] || return 0
	local list="$BD_TMP/sound.json"
	cp "$RUN_OUT" "$list"
	check "$what: no backup is damaged" python3 -c '
import json,sys
text = open(sys.argv[1]).read().strip()
bad = [i for i in (json.loads(text) if text else []) if i.get("status") == "damaged"]
assert not bad, bad' "$list"
	COMPLETE_IDS="$(python3 -c '
import json,sys
text = open(sys.argv[1]).read().strip()
print(" ".join(i["id"] for i in (json.loads(text) if text else []) if i.get("status") == "complete"))' "$list")"
	[ -n "$COMPLETE_IDS" ] || return 0
	run "$BACKUPD" verify --repo "$repo" "${sel[@]}"
	assert_rc "$what: every complete backup verifies" 0
}

# temp_files DIR: the temp files (".X.tmp.PID.N", "X.tmp") under DIR, one a line
temp_files() { find "$1" -type f \( -name '.*.tmp.*' -o -name '*.tmp' \) 2>/dev/null || true; }

# stdout of the last run, last non-empty line
last_line() { grep -v '^[[:space:]]*$' "$RUN_OUT" | tail -n 1 || true; }

# assert_rc NAME EXPECTED: EXPECTED is a number or "nonzero" (1..125, no crash)
assert_rc() {
	local name="$1" want="$2"
	if [ "$want" = nonzero ]; then
		if [ "$RUN_RC" -ne 0 ] && [ "$RUN_RC" -lt 126 ] && [ "$RUN_RC" -ne 124 ]; then
			pass "$name"
		else
			fail "$name (expected a failure exit code, got $RUN_RC)"
			show_last_run
		fi
	elif [ "$RUN_RC" -eq "$want" ]; then
		pass "$name"
	else
		fail "$name (expected exit $want, got $RUN_RC)"
		show_last_run
	fi
}

# assert_output_contains NAME STRING: stdout+stderr of the last run contain STRING (fixed, case-insensitive)
assert_output_contains() {
	local name="$1" needle="$2"
	if grep -q -i -F -- "$needle" "$RUN_OUT" "$RUN_ERR"; then
		pass "$name"
	else
		fail "$name (output does not mention '$needle')"
		show_last_run
	fi
}

# assert_output_matches NAME ERE
assert_output_matches() {
	local name="$1" re="$2"
	if grep -q -i -E -- "$re" "$RUN_OUT" "$RUN_ERR"; then
		pass "$name"
	else
		fail "$name (output does not match /$re/)"
		show_last_run
	fi
}

# assert_stderr_nonempty NAME: an error was reported
assert_stderr_nonempty() {
	if [ -s "$RUN_ERR" ]; then pass "$1"; else
		fail "$1 (nothing on stderr)"
		show_last_run
	fi
}

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

# assert_match NAME ERE VALUE
assert_match() {
	if printf '%s' "$3" | grep -E -- "$2" >/dev/null; then pass "$1"; else fail "$1" "'$3' does not match /$2/"; fi
}

# check NAME CMD...: pass if CMD exits 0 (output shown on failure)
check() {
	local name="$1"
	shift
	local out rc=0
	out="$("$@" 2>&1)" || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$name"; else
		fail "$name (exit $rc: $*)"
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/    | /'
	fi
}

# check_not NAME CMD...: pass if CMD exits non-zero
check_not() {
	local name="$1"
	shift
	local out rc=0
	out="$("$@" 2>&1)" || rc=$?
	if [ "$rc" -ne 0 ]; then pass "$name"; else
		fail "$name (unexpectedly succeeded: $*)"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/    | /'
	fi
}

assert_file() {
	if [ -f "$2" ]; then pass "$1"; else fail "$1 (missing file $2)"; fi
}

# Secrets that must never appear in any output of a command under test.
add_secret() { BD_SECRETS+=("$1"); }

assert_no_secrets_in_output() {
	local name="${1:-no password in any captured output}" s leaked=0
	for s in "${BD_SECRETS[@]+"${BD_SECRETS[@]}"}"; do
		[ -n "$s" ] || continue
		if grep -q -F -- "$s" "$BD_ALL_OUTPUT"; then
			leaked=1
			fail "$name" "a secret appears in output:" \
				"$(grep -n -m 5 -F -- "$s" "$BD_ALL_OUTPUT" | sed "s/$s/<SECRET>/g")"
		fi
	done
	[ "$leaked" -eq 1 ] || pass "$name"
}

# new_key FILE [BYTES]: a random encryption key file (base64 text, default
# 64 bytes), mode 0600
new_key() {
	(umask 077 && head -c 48 /dev/urandom | base64 -w0 | head -c "${2:-64}" >"$1")
}

# assert_no_secrets_in NAME PATH...: no secret (add_secret) in the raw bytes
# of any file under the PATHs, nor in the decompressed bytes of a file zstd
# can read (an encrypted object is not zstd: its bytes are checked raw).
assert_no_secrets_in() {
	local name="$1" out rc=0 list="$BD_TMP/secrets.list"
	shift
	(umask 077 && printf '%s\n' "${BD_SECRETS[@]+"${BD_SECRETS[@]}"}" >"$list")
	out="$(python3 -c '
import os, subprocess, sys
secrets = [s.encode() for s in open(sys.argv[1]).read().split("\n") if s]
files, bad = 0, []
def scan(path, data, what):
    for i, s in enumerate(secrets):
        if s in data:
            bad.append("%s: secret #%d%s" % (path, i + 1, what))
for root in sys.argv[2:]:
    paths = [root] if os.path.isfile(root) else \
        [os.path.join(d, n) for d, _, names in os.walk(root) for n in names]
    for p in paths:
        if not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        files += 1
        scan(p, data, "")
        if data.startswith(b"\x28\xb5\x2f\xfd"):
            r = subprocess.run(["zstd", "-q", "-d", "-c"], input=data, capture_output=True)
            scan(p, r.stdout, " (decompressed)")
print("%d files, %d secrets" % (files, len(secrets)))
if bad or not files or not secrets:
    print("\n".join(bad[:20]) or "nothing to check")
    sys.exit(1)
' "$list" "$@")" || rc=$?
	rm -f "$list"
	if [ "$rc" -eq 0 ]; then pass "$name ($out)"; else fail "$name" "$out"; fi
}

# ps_sampler_start FILE: records every distinct process argv (every user's,
# from /proc/*/cmdline, NULs shown as spaces) into FILE, and every distinct
# environment into FILE.environ (a child's PGPASSWORD is there by design:
# check it for secrets that must never reach a child at all), sweeping /proc
# every 10 ms until ps_sampler_stop, which sets PS_SWEEPS to the number of
# sweeps.
ps_sampler_start() {
	PS_FILE="$1"
	python3 -c '
import os, signal, sys, time
out, seen, sweeps, me = sys.argv[1], set(), 0, str(os.getpid())
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
with open(out, "w") as f, open(out + ".environ", "w") as fe:
    while not stop:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == me:
                continue
            for name, o in (("cmdline", f), ("environ", fe)):
                try:
                    data = open("/proc/%s/%s" % (pid, name), "rb").read()
                except OSError:
                    continue
                line = data.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
                if line and (name, line) not in seen:
                    seen.add((name, line))
                    o.write(line + "\n")
                    o.flush()
        sweeps += 1
        time.sleep(0.01)
open(out + ".sweeps", "w").write("%d\n" % sweeps)
' "$PS_FILE" &
	PS_SAMPLER_PID=$!
	wait_for 20 test -s "$PS_FILE" || true
}
ps_sampler_stop() {
	[ -n "${PS_SAMPLER_PID:-}" ] || return 0
	kill -TERM "$PS_SAMPLER_PID" 2>/dev/null || true
	wait "$PS_SAMPLER_PID" 2>/dev/null || true
	PS_SAMPLER_PID=""
	PS_SWEEPS="$(cat "$PS_FILE.sweeps" 2>/dev/null || echo 0)"
}

# hook_receiver_start PORT FILE: a webhook receiver on 127.0.0.1:PORT that
# appends each POST body to FILE as one line (newlines in it become spaces)
# and answers 204; HOOK_RECEIVER_PID is its pid.  Returns once it listens.
hook_receiver_start() {
	python3 -c '
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
' "$1" "$2" &
	HOOK_RECEIVER_PID=$!
	wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"
}

require_binaries() {
	local b missing=0
	for b in "$BACKUPD" "$DBRESTORE"; do
		if [ ! -x "$b" ]; then
			fail "binary present: $b" "build first (scripts/test.sh), or set BACKUPD_BIN/DBRESTORE_BIN"
			missing=1
		fi
	done
	if [ "$missing" -ne 0 ]; then
		finish
	fi
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
_bd_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_bd_pick_port() {
	local p="${BD_PG_PORT:-$((20000 + RANDOM % 10000))}" i
	for i in $(seq 1 200); do
		if _bd_port_free "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	echo "no free port found" >&2
	return 1
}

# The server runs as bdtest when we are root; the tools it runs (wal-push,
# wal-get) and the data directories it runs from need what they touch owned
# by that user: AS_PG runs a command as the server's user, OWNER is that
# user, own_dir DIR makes a directory it owns.
AS_PG=()
OWNER="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
	AS_PG=(runuser -u bdtest --)
	OWNER=bdtest
fi
own_dir() { mkdir -p "$1" && chown "$OWNER:" "$1"; }

# pg_start [NAME]: start a throwaway server in $BD_TMP/NAME (default pg) and
# set PG_DIR, PG_PORT, PG_PASSWORD, PGPASSFILE (exported), PG_URI_BASE.
pg_start() {
	local name="${1:-pg}" port
	PG_DIR="$BD_TMP/$name"
	port="$(_bd_pick_port)"
	if ! bash "$PG_SERVER_SH" start "$PG_DIR" "$port" "$PG_BINDIR"; then
		fail "start PostgreSQL server in $PG_DIR"
		finish
	fi
	BD_SERVERS+=("$PG_DIR")
	PG_PORT="$port"
	PG_PASSWORD="$(cat "$PG_DIR/password")"
	add_secret "$PG_PASSWORD"
	PGPASSFILE="$PG_DIR/pgpass"
	export PGPASSFILE
	PG_URI_BASE="postgresql://postgres@127.0.0.1:$PG_PORT"
}

pg_stop() {
	local dir="${1:-$PG_DIR}"
	bash "$PG_SERVER_SH" stop "$dir" || true
}

# pg_uri DB: connection URI for a database on the test server
pg_uri() { printf '%s/%s\n' "$PG_URI_BASE" "$1"; }

_bd_psql() {
	"$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# psql_q DB SQL: one query, unaligned tuples only on stdout
psql_q() {
	local db="$1"
	shift
	_bd_psql -A -t -d "$db" -c "$*"
}

# psql_file DB FILE: run a script quietly (query results discarded)
psql_file() {
	_bd_psql -d "$1" -f "$2" -o /dev/null
}

# psql_at PORT SQL: one query as postgres over the socket in $PG_DIR/sock, where
# the test's servers and the copies restored from them (their configuration is
# the source's) listen; $PG_BINDIR's psql
psql_at() {
	local port="$1"
	shift
	"$PG_BINDIR/psql" -X -q -A -t -h "$PG_DIR/sock" -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 -c "$*"
}

# copy_start DIR BINDIR [OPTS]: start the restored DIR/data with BINDIR's
# pg_ctl on a free port (COPY_PORT), postgres OPTS added (e.g. -c
# archive_mode=off); the copy has its source's password (a line in
# PGPASS_ALL, when the test has one) and is stopped at the end like the
# others.  Passes or fails "restored server NAME starts".
copy_start() {
	local dir="$1" bindir="$2" opts="${3:-}"
	COPY_PORT="$(_bd_pick_port)"
	printf '%s\n' "$bindir" >"$dir/bindir"
	[ -z "${PGPASS_ALL:-}" ] ||
		printf '127.0.0.1:%s:*:postgres:%s\n' "$COPY_PORT" "$PG_PASSWORD" >>"$PGPASS_ALL"
	BD_SERVERS+=("$dir")
	if ! (cd "$dir" && "${AS_PG[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
		-o "-p $COPY_PORT $opts" -w -t 120 -s start); then
		fail "restored server $(basename "$dir") starts" "$(tail -n 20 "$dir/server.log")"
		return 1
	fi
	pass "restored server $(basename "$dir") starts"
}

# wait_promoted PORT NAME: the copy in $BD_TMP/NAME ends recovery and promotes (2 min at most)
wait_promoted() {
	local i
	for i in $(seq 1 600); do
		if [ "$(psql_at "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; then
			pass "$2 finished recovery and promoted"
			return 0
		fi
		sleep 0.2
	done
	fail "$2 finished recovery and promoted" "$(tail -n 20 "$BD_TMP/$2/server.log")"
	return 1
}

# copy_stop DIR: stop a copy copy_start started
copy_stop() { bash "$PG_SERVER_SH" stop "$1" >/dev/null 2>&1 || true; }

# _bd_table_locks DB TABLE CONDITION QUERY-FN: some lock on TABLE of DB in
# pg_locks meets CONDITION (SQL on l)
_bd_table_locks() {
	[ "$("$4" "$1" "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '$2' AND $3 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")" -ge 1 ]
}
# table_locked DB TABLE [QUERY-FN]: a session holds TABLE of DB in ACCESS
# EXCLUSIVE mode (QUERY-FN DB SQL runs the query; default psql_q).  A test
# that starts a locker in the background waits for this, not a fixed sleep:
# a psql slow to start under load would let the dump it means to hold run free.
table_locked() { _bd_table_locks "$1" "$2" "l.mode = 'AccessExclusiveLock' AND l.granted" "${3:-psql_q}"; }
# table_lock_awaited DB TABLE: a session waits for a lock on TABLE of DB (a
# dump held up by table_locked's holder has got that far)
table_lock_awaited() { _bd_table_locks "$1" "$2" "NOT l.granted" psql_q; }
db_create() { _bd_psql -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null; }
db_drop() { _bd_psql -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null; }
db_exists() { [ "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 1 ]; }

# pg_compare SRC DST: run tests/integration/pg_compare.sh against the test server
pg_compare() {
	PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres bash "$PG_COMPARE" "$1" "$2"
}

# ---------------------------------------------------------------------------
# MariaDB (scripts/mariadb-server.sh)
# ---------------------------------------------------------------------------
MY_SERVER_SH="$BD_ROOT/scripts/mariadb-server.sh"
MY_COMPARE="$BD_ROOT/tests/integration/mysql_compare.sh"
BD_MY_SERVERS=()
# The tools under test get their password from MYSQL_PWD or a password-file
# only when a test says so.
unset MYSQL_PWD MYSQL_HOST MYSQL_TCP_PORT MYSQL_UNIX_PORT 2>/dev/null || true

# mariadb_start [NAME]: start a throwaway MariaDB in $BD_TMP/NAME (default my)
# and set MY_DIR, MY_PORT, MY_PASSWORD, MY_PASSWORD_FILE (0600), MY_CNF (client
# option file, 0600) and MY_URI_BASE (mysql://root@127.0.0.1:PORT).  The server
# is stopped by finish.
mariadb_start() {
	local name="${1:-my}" port
	MY_DIR="$BD_TMP/$name"
	port="$(_bd_pick_port)"
	if ! bash "$MY_SERVER_SH" start "$MY_DIR" "$port"; then
		fail "start MariaDB server in $MY_DIR"
		finish
	fi
	BD_MY_SERVERS+=("$MY_DIR")
	MY_PORT="$port"
	MY_PASSWORD_FILE="$MY_DIR/password"
	MY_PASSWORD="$(cat "$MY_PASSWORD_FILE")"
	add_secret "$MY_PASSWORD"
	MY_CNF="$MY_DIR/my.cnf"
	MY_URI_BASE="mysql://root@127.0.0.1:$MY_PORT"
}

mariadb_stop() {
	local dir="${1:-$MY_DIR}"
	bash "$MY_SERVER_SH" stop "$dir" || true
}

# my_uri DB: connection URI for a database on the test server
my_uri() { printf '%s/%s\n' "$MY_URI_BASE" "$1"; }

_bd_mariadb() { /usr/bin/mariadb --defaults-file="$MY_CNF" --default-character-set=utf8mb4 "$@"; }

# my_sql DB SQL: run SQL (one or more statements) in DB ("" for none); result
# rows tab-separated without headers on stdout.
my_sql() {
	local db="$1"
	shift
	if [ -n "$db" ]; then
		_bd_mariadb -N -B -D "$db" -e "$*"
	else
		_bd_mariadb -N -B -e "$*"
	fi
}

# my_sql_file DB FILE: run a script (it may use DELIMITER); output discarded
my_sql_file() { _bd_mariadb -D "$1" <"$2" >/dev/null; }

my_db_create() { my_sql "" "CREATE DATABASE \`$1\`"; }
my_db_drop() { my_sql "" "DROP DATABASE IF EXISTS \`$1\`"; }
my_db_exists() { [ "$(my_sql "" "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '$1'")" = 1 ]; }
# my_table_exists DB TABLE
my_table_exists() { [ "$(my_sql "" "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$1' AND table_name = '$2'")" = 1 ]; }
# my_tmpdb TARGET: the temporary database restore --create fills for TARGET
my_tmpdb() { printf 'backupd_restore_%s\n' "$(printf '%s' "$1" | sha256sum | cut -c1-24)"; }

# my_compare SRC DST: run tests/integration/mysql_compare.sh against the test server
my_compare() { MY_CNF="$MY_CNF" bash "$MY_COMPARE" "$1" "$2"; }

# my_compare_across CNF2 SRC DST: SRC on the test server, DST on the server
# whose client option file is CNF2 (e.g. a second mariadb_start's MY_CNF)
my_compare_across() { MY_CNF="$MY_CNF" MY_CNF2="$1" bash "$MY_COMPARE" "$2" "$3"; }

# ---------------------------------------------------------------------------
# JSON (python3 is in the base image and installed by scripts/deps.sh)
# ---------------------------------------------------------------------------
# json_eval FILE EXPR: print EXPR evaluated with `d` bound to the parsed file
json_eval() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(json.dumps(r) if not isinstance(r, str) else r)' "$1" "$2"
}

# ---------------------------------------------------------------------------
# Waiting and racing
# ---------------------------------------------------------------------------
# wait_for SECONDS CMD...: poll until CMD succeeds; non-zero if it never did
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.3
	done
}
at_least() { [ "$("${@:2}")" -ge "$1" ]; } # N CMD...: CMD prints a number >= N

# same_second_dumps WHAT REPO NAME SOURCE [DUMP-OPTION...]: three times, two dumps of NAME
# started in one wall-clock second, as from two hosts (each its own
# state-dir): both succeed with distinct IDs, and at least once they did
# share the second (their IDs differ by suffix only).
same_second_dumps() {
	local what="$1" repo="$2" name="$3" src="$4" same=0 trial pa pb ra rb ia ib c
	shift 4 # the rest: more dump options (--encryption-key-file K)
	for c in a b; do printf '[global]\nstate-dir = %s\n' "$BD_TMP/state-race-$c" >"$BD_TMP/race-$c.conf"; done
	for trial in 1 2 3; do
		python3 -c 'import time; time.sleep(1.05 - time.time() % 1)'
		"$BACKUPD" -c "$BD_TMP/race-a.conf" dump --source "$src" --repo "$repo" --name "$name" "$@" >"$BD_TMP/race-a.out" 2>"$BD_TMP/race-a.err" &
		pa=$!
		"$BACKUPD" -c "$BD_TMP/race-b.conf" dump --source "$src" --repo "$repo" --name "$name" "$@" >"$BD_TMP/race-b.out" 2>"$BD_TMP/race-b.err" &
		pb=$!
		ra=0 rb=0
		wait "$pa" || ra=$?
		wait "$pb" || rb=$?
		cat "$BD_TMP/race-a.err" "$BD_TMP/race-b.err" >>"$BD_ALL_OUTPUT"
		_bd_check_sanitizers "$BD_TMP/race-a.err" "same-second dump"
		_bd_check_sanitizers "$BD_TMP/race-b.err" "same-second dump"
		assert_eq "$what, trial $trial: both dumps succeed" "0 0" "$ra $rb"
		ia="$(tail -n 1 "$BD_TMP/race-a.out")"
		ib="$(tail -n 1 "$BD_TMP/race-b.out")"
		check "$what, trial $trial: distinct backup IDs ($ia, $ib)" test "$ia" != "$ib"
		[ "${ia%%-*}" != "${ib%%-*}" ] || same=$((same + 1))
	done
	check "$what: the dumps did start in the same second" test "$same" -ge 1
}

# ---------------------------------------------------------------------------
# End of test
# ---------------------------------------------------------------------------
_bd_cleanup() {
	local d
	ps_sampler_stop
	for d in "${BD_SERVERS[@]+"${BD_SERVERS[@]}"}"; do
		bash "$PG_SERVER_SH" stop "$d" >/dev/null 2>&1 || true
	done
	BD_SERVERS=()
	for d in "${BD_MY_SERVERS[@]+"${BD_MY_SERVERS[@]}"}"; do
		bash "$MY_SERVER_SH" stop "$d" >/dev/null 2>&1 || true
	done
	BD_MY_SERVERS=()
	if [ "$BD_FAILED" -eq 0 ] && [ "${BD_KEEP_TMP:-0}" != 1 ]; then
		rm -rf "$BD_TMP"
	else
		echo "# scratch directory kept: $BD_TMP"
	fi
}

finish() {
	BD_FINISHED=1
	_bd_cleanup
	if [ -n "${BD_RESULTS_FILE:-}" ]; then
		printf '%s %s %s\n' "$BD_PASSED" "$BD_FAILED" "$BD_TEST_NAME" >>"$BD_RESULTS_FILE"
	fi
	echo "$BD_PASSED passed, $BD_FAILED failed"
	if [ "$BD_FAILED" -ne 0 ]; then exit 1; fi
	exit 0
}

_bd_on_err() {
	BD_ERR_LINE="$1"
	BD_ERR_CMD="$2"
}

_bd_on_exit() {
	local rc="$1"
	if [ "$BD_FINISHED" -eq 0 ]; then
		BD_FINISHED=1
		fail "$BD_TEST_NAME aborted with exit code $rc" \
			"at line ${BD_ERR_LINE:-?}: ${BD_ERR_CMD:-?}"
		_bd_cleanup
		if [ -n "${BD_RESULTS_FILE:-}" ]; then
			printf '%s %s %s\n' "$BD_PASSED" "$BD_FAILED" "$BD_TEST_NAME" >>"$BD_RESULTS_FILE"
		fi
		echo "$BD_PASSED passed, $BD_FAILED failed"
		exit 1
	fi
}

trap '_bd_on_err "$LINENO" "$BASH_COMMAND"' ERR
trap '_bd_on_exit "$?"' EXIT
trap 'exit 130' INT TERM
