#!/usr/bin/env bash
# The Debian package, as an operator installs it (issue 16 item 1).  Not a
# *_test.sh: run.sh would run it twice (normal and ASan builds); it is its own
# phase in scripts/test.sh, after the integration phases, because it installs
# /etc/backupd/backupd.conf and a backupd user: the package is purged again
# at the end, whatever happened.
#
#   bash tests/integration/package.sh      (as root, on Debian 12)
#
# Builds backupd_*.deb from a copy of the tree (dpkg-buildpackage -us -uc -b,
# tests skipped: nocheck), apt-get installs it, checks the files, users and
# modes, `systemd-analyze verify`s the units, runs the unit's ExecStart as
# its user with a NOTIFY_SOCKET listener standing in for systemd (READY=1,
# WATCHDOG=1, STOPPING=1) while the daemon runs one scheduled job against a
# test server, then purges the package.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "package.sh installs a package: run it as root"
	finish
fi
if dpkg-query -W -f '${Status}' backupd 2>/dev/null | grep -q installed; then
	fail "a backupd package is already installed: not touching it"
	finish
fi
for tool in dpkg-buildpackage dh systemd-analyze; do
	command -v "$tool" >/dev/null || { fail "$tool missing: scripts/deps.sh package"; finish; }
done

PKG_INSTALLED=0
purge_package() {
	if [ "$PKG_INSTALLED" = 1 ]; then
		[ -z "${DPID:-}" ] || kill -KILL "$DPID" 2>/dev/null || true
		[ -z "${LPID:-}" ] || kill "$LPID" 2>/dev/null || true
		DEBIAN_FRONTEND=noninteractive apt-get purge -y backupd >"$BD_TMP/purge.log" 2>&1 || true
		PKG_INSTALLED=0
	fi
}
trap 'purge_package; _bd_on_exit $?' EXIT

# --- build ------------------------------------------------------------------
SRC="$BD_TMP/src/backupd"
mkdir -p "$SRC"
if git -C "$BD_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$BD_ROOT" && git ls-files -co --exclude-standard -z | tar --null -cf - -T - 2>/dev/null) | tar -xf - -C "$SRC"
else
	tar -C "$BD_ROOT" --exclude=./build --exclude=./build-asan -cf - . | tar -xf - -C "$SRC"
fi
rc=0
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=${BD_MAKE_JOBS:-2}" \
	dpkg-buildpackage -us -uc -b >"$BD_TMP/build.log" 2>&1) || rc=$?
if [ "$rc" -ne 0 ]; then
	fail "dpkg-buildpackage -us -uc -b (exit $rc)"
	tail -n 40 "$BD_TMP/build.log" | sed 's/^/    | /'
	finish
fi
pass "dpkg-buildpackage -us -uc -b builds the package"
DEB="$(ls "$BD_TMP"/src/backupd_*.deb)"
# the client libraries loaded on first use (common/lazylib.h) are not in
# ${shlibs:Depends}: debian/control names them
DEPENDS="$(dpkg-deb -f "$DEB" Depends)"
for lib in libpq5 libmariadb3 libcurl4 libmicrohttpd12 libssl3; do
	assert_match "the package depends on $lib (dlopen()ed)" "(^|, )$lib( |,|$)" "$DEPENDS"
done

# --- install ----------------------------------------------------------------
PKG_INSTALLED=1
rc=0
(cd "$BD_TMP/src" && DEBIAN_FRONTEND=noninteractive apt-get install -y "./$(basename "$DEB")") \
	>"$BD_TMP/install.log" 2>&1 || rc=$?
assert_eq "apt-get install ./$(basename "$DEB")" 0 "$rc"
[ "$rc" -eq 0 ] || { tail -n 30 "$BD_TMP/install.log" | sed 's/^/    | /'; finish; }

for f in /usr/bin/backupd /usr/bin/dbrestore /usr/share/man/man1/backupd.1.gz \
	/usr/share/man/man1/dbrestore.1.gz /usr/share/man/man5/backupd.conf.5.gz \
	/usr/share/bash-completion/completions/backupd /usr/share/bash-completion/completions/dbrestore \
	/lib/systemd/system/backupd.service /lib/systemd/system/backupd-run@.service \
	/lib/systemd/system/backupd-run@.timer /usr/share/doc/backupd/examples/backupd-alerts.yml; do
	assert_file "installs $f" "$f"
done
run /usr/bin/backupd --version
assert_output_contains "the installed backupd runs" "backupd "
check "the backupd system user exists" id -u backupd
check "with its group" getent group backupd
assert_eq "/etc/backupd/backupd.conf: root:backupd 0640" "root:backupd 640" \
	"$(stat -c '%U:%G %a' /etc/backupd/backupd.conf)"
assert_eq "/var/lib/backupd belongs to backupd" "backupd:backupd" "$(stat -c '%U:%G' /var/lib/backupd)"
# archive_command runs as the database server's user, outside the backupd
# group: the default config it cannot read is named as the default, with
# what to do instead
run env -u BACKUPD_CONFIG runuser -u nobody -- /usr/bin/backupd list --repo "$BD_TMP/no-repo"
assert_rc "a user who cannot read the package's config: exit 2" 2
assert_output_contains "the error says it is the default config and how to give another" \
	"(the default config, read whenever it exists: give this user a config it can read with -c FILE or BACKUPD_CONFIG=FILE)"
# as the service's user: a command run as root may leave root-owned files
# (lock files) in the state dir that the service then cannot open
run runuser -u backupd -- /usr/bin/backupd check --log-level error
check "the example configuration loads as backupd (no unknown key)" test "$RUN_RC" -ne 2
check "man finds backupd.conf(5)" man -w backupd.conf
check "completion loads" bash -c 'source /usr/share/bash-completion/completions/backupd && complete -p backupd'

# --- units ------------------------------------------------------------------
mkdir -p "$BD_TMP/units"
cp /lib/systemd/system/backupd-run@.service "$BD_TMP/units/backupd-run@nightly.service"
cp /lib/systemd/system/backupd-run@.timer "$BD_TMP/units/backupd-run@nightly.timer"
run systemd-analyze verify /lib/systemd/system/backupd.service
assert_rc "systemd-analyze verify backupd.service" 0
run systemd-analyze verify "$BD_TMP/units/backupd-run@nightly.service" "$BD_TMP/units/backupd-run@nightly.timer"
assert_rc "systemd-analyze verify backupd-run@.service and .timer" 0
check "the service is Type=notify with a watchdog" grep -qx 'Type=notify' /lib/systemd/system/backupd.service
check "WatchdogSec is set" grep -q '^WatchdogSec=' /lib/systemd/system/backupd.service
check "it runs as backupd" grep -qx 'User=backupd' /lib/systemd/system/backupd.service

# --- the service as systemd would run it -------------------------------------
pg_start
db_create app
_bd_psql -d app -c "CREATE TABLE t AS SELECT generate_series(1, 100) AS i" >/dev/null
# The job's config goes through $BACKUPD_CONFIG, not /etc/backupd/backupd.conf:
# on a shared machine any backupd run without -c reads that file, and a run
# as root would leave root-owned lock files in its state dir.
REPO="$BD_TMP/repo"
STATE="$BD_TMP/state"
install -d -o backupd -g backupd -m 0750 "$REPO" "$STATE"
install -o backupd -g backupd -m 0600 /dev/null "$BD_TMP/app.password"
printf '%s\n' "$PG_PASSWORD" >"$BD_TMP/app.password"
JOBCONF="$BD_TMP/backupd.conf"
install -o root -g backupd -m 0640 /dev/null "$JOBCONF"
cat >"$JOBCONF" <<CONF
[global]
state-dir = $STATE
[repo:local]
url = $REPO
[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $BD_TMP/app.password
[job:nightly]
source = app
repo = local
schedule = */2 * * * * *
CONF
# the notification socket: a datagram listener writing each message on a line
NSOCK="$BD_TMP/notify.sock"
NLOG="$BD_TMP/notify.log"
python3 -u - "$NSOCK" >"$NLOG" 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
LPID=$!
check "the listener is up" wait_for 10 test -S "$NSOCK"
EXEC="$(sed -n 's/^ExecStart=//p' /lib/systemd/system/backupd.service)"
note "ExecStart: $EXEC"
# shellcheck disable=SC2086 # ExecStart is a command line
runuser -u backupd -- env BACKUPD_CONFIG="$JOBCONF" NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=2000000 $EXEC \
	>"$BD_TMP/daemon.out" 2>"$BD_TMP/daemon.err" &
DPID=$!
check "READY=1 arrives" wait_for 30 grep -q 'READY=1' "$NLOG"
check "WATCHDOG=1 arrives (every second with WATCHDOG_USEC=2s)" wait_for 30 grep -q 'WATCHDOG=1' "$NLOG"
check "the scheduled job runs as backupd" wait_for 90 grep -q '"result": *"ok"\|"ok"' "$STATE/history/nightly.jsonl"
check "the watchdog keeps coming" wait_for 30 at_least 3 grep -c 'WATCHDOG=1' "$NLOG"
# the daemon itself, not runuser (which would die of the signal it forwards)
kill -TERM "$(pgrep -P "$DPID")"
rc=0
wait "$DPID" || rc=$?
DPID=
assert_eq "the daemon stops on SIGTERM" 0 "$rc"
check "STOPPING=1 arrives" grep -q 'STOPPING=1' "$NLOG"
run /usr/bin/backupd list --repo "$REPO"
assert_output_contains "the backup is in the repository" "app"
check "the run history belongs to backupd" test "$(stat -c %U "$STATE/history/nightly.jsonl")" = backupd
check_not "the job did not fail" grep -q 'error' "$BD_TMP/daemon.err"

# --- purge ------------------------------------------------------------------
purge_package
check "apt-get purge removes the package" test ! -e /usr/bin/backupd
check "purged completely" bash -c '! dpkg-query -W backupd >/dev/null 2>&1' 
check "and its configuration" test ! -e /etc/backupd/backupd.conf
# (other backupd runs as root, without a config, may recreate
# /var/lib/backupd/locks at any time: what matters is that nothing of the
# service is left)
check "and its state directory" test -z "$(find /var/lib/backupd -user backupd 2>/dev/null)"
finish
