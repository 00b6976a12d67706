#!/usr/bin/env bash
# Benchmark (issue 17 item 6): the write-unavailability window of
# `dbrestore migrate cutover` under pgbench load, PostgreSQL 15 -> 15 on the
# same machine.
#
#   bench/cutover.sh [--scale N] [--clients N] [--grace S] [--port P]
#                    [--workdir DIR] [--build-dir DIR] [--keep] [--strict] [--no-build]
#
#   --scale N      scale of the bench database (bench/lib.sh: pgbench tables,
#                  docs and blobs; default 50: ~1 GB)
#   --clients N    pgbench clients writing during the follow and the cut-over (default 4)
#   --grace S      migrate cutover --grace (default 2)
#   --max-lag SIZE migrate cutover --max-lag (default: its own, 1MB)
#   --verify W     migrate cutover --verify before|after (default after: the
#                  tables are verified against a snapshot of the target taken
#                  at the switch, so the window is the catch-up only; before:
#                  the window includes reading both databases whole)
#   --port P       first of the two server ports (default 55453)
#   --workdir DIR  scratch directory (default /tmp/backupd-bench-cutover)
#   --strict       exit 1 if the window is 5 s or more
#
# What runs: migrate --follow copies the source into the target while
# pgbench writes; after 15 s of following, a probe writes one row every
# ~50 ms (a psql per row, as an application reconnecting would) to the
# source, `migrate cutover` runs, and the probe moves to the target once the
# cut-over has printed the new connection string.  Printed: the cut-over's
# own time, and the window from the probe's last committed write on the
# source to its first on the target (the time the application could not
# write).  Target: under 5 s.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
SCALE=50
CLIENTS=4
GRACE=2
VERIFY=after
MAX_LAG=1MB
PORT=55453
WORKDIR=/tmp/backupd-bench-cutover
BUILD_DIR="$ROOT/build"
KEEP=0
STRICT=0
BUILD=1
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"

while [ $# -gt 0 ]; do
	case "$1" in
	--scale) SCALE="$2"; shift 2 ;;
	--clients) CLIENTS="$2"; shift 2 ;;
	--grace) GRACE="$2"; shift 2 ;;
	--verify) VERIFY="$2"; shift 2 ;;
	--max-lag) MAX_LAG="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--workdir) WORKDIR="$2"; shift 2 ;;
	--build-dir) BUILD_DIR="$2"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--strict) STRICT=1; shift ;;
	--no-build) BUILD=0; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/cutover.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$SCALE" "$CLIENTS" "$PORT"; do
	case "$v" in '' | *[!0-9]* | 0) echo "bench/cutover.sh: --scale, --clients and --port take positive integers" >&2; exit 2 ;; esac
done
case "$WORKDIR" in /*) ;; *) WORKDIR="$(pwd -P)/$WORKDIR" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
export PATH="$PG_BINDIR:$PATH"
SRC="$WORKDIR/src"
DST="$WORKDIR/dst"
P1="$PORT"
P2="$((PORT + 1))"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
[ -x "$PG_BINDIR/pgbench" ] || die "pgbench is missing: run scripts/deps.sh (package postgresql-15)"
bench_build_if_missing

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ "$KEEP" = 1 ]; then
		log "kept: servers in $SRC and $DST, scratch in $WORKDIR"
	else
		bash "$ROOT/scripts/pg-server.sh" destroy "$SRC" >/dev/null 2>&1 || true
		bash "$ROOT/scripts/pg-server.sh" destroy "$DST" >/dev/null 2>&1 || true
		rm -rf "$WORKDIR"
	fi
}
trap cleanup EXIT

rm -rf "$WORKDIR"
mkdir -p "$WORKDIR"
chmod 0755 "$WORKDIR"
PG_SERVER_PASSWORD="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PG_SERVER_PASSWORD
export PGPASSFILE="$WORKDIR/pgpass"
printf '127.0.0.1:*:*:postgres:%s\n' "$PG_SERVER_PASSWORD" >"$PGPASSFILE"
chmod 0600 "$PGPASSFILE"
PG_SERVER_CONF=$'wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10' \
	bash "$ROOT/scripts/pg-server.sh" start "$SRC" "$P1" "$PG_BINDIR" >/dev/null
bash "$ROOT/scripts/pg-server.sh" start "$DST" "$P2" "$PG_BINDIR" >/dev/null
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d bench -c "$2"; }
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P1" -U postgres)
CONN=(-h 127.0.0.1 -p "$P1" -U postgres)
bench_pg_load_data bench "$SCALE"
# pgbench_history has no key: its rows are carried with REPLICA IDENTITY FULL
q "$P1" "CREATE TABLE probe (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())" >/dev/null

pgbench -h 127.0.0.1 -p "$P1" -U postgres -n -c "$CLIENTS" -T 3600 bench >"$WORKDIR/pgbench.out" 2>&1 &
PIDS+=($!)
FROM="postgresql://postgres@127.0.0.1:$P1/bench"
TO="postgresql://postgres@127.0.0.1:$P2/bench"
STATE="$WORKDIR/state"
log "migrate --follow (copy under load)"
t0=$(date +%s.%N)
"$DBRESTORE" migrate --from "$FROM" --to "$TO" --create --jobs 2 --follow --name bench \
	--state-dir "$STATE" --replica-identity-full --log-level warn
t1=$(date +%s.%N)
log "following; letting it run 15 s under load"
sleep 15
"$DBRESTORE" migrate status --name bench --state-dir "$STATE"

# the probe: one write at a time, to the source until it refuses, then (once
# the cut-over printed the new connection string) to the target
PROBE="$WORKDIR/probe.log"
SWITCH="$WORKDIR/switch"
probe() {
	local port="$P1"
	while :; do
		[ -e "$SWITCH" ] && port="$P2"
		if q "$port" "INSERT INTO probe DEFAULT VALUES" 2>/dev/null; then
			echo "$(date +%s.%N) ok $port" >>"$PROBE"
			[ "$port" = "$P2" ] && return 0
		else
			echo "$(date +%s.%N) refused $port" >>"$PROBE"
		fi
		sleep 0.05
	done
}
probe &
PPID_=$!
PIDS+=("$PPID_")
sleep 2
log "cutover (grace $GRACE s)"
c0=$(date +%s.%N)
# the application moves as soon as the new connection string is printed
"$DBRESTORE" migrate cutover --name bench --state-dir "$STATE" --grace "$GRACE" --verify "$VERIFY" --max-lag "$MAX_LAG" |
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case "$line" in "new connection string:"*) touch "$SWITCH" ;; esac
	done
c1=$(date +%s.%N)
touch "$SWITCH"
wait "$PPID_" || true
last_src="$(awk -v p="$P1" '$2 == "ok" && $3 == p { t = $1 } END { print t }' "$PROBE")"
first_dst="$(awk -v p="$P2" '$2 == "ok" && $3 == p { print $1; exit }' "$PROBE")"
window="$(echo "$first_dst - $last_src" | bc -l)"
rows_src="$(q "$P1" "SELECT count(*) FROM pgbench_history")"
rows_dst="$(q "$P2" "SELECT count(*) FROM pgbench_history")"
size="$(q "$P1" "SELECT pg_size_pretty(pg_database_size('bench'))")"

printf '\n%-44s %s\n' "bench database (scale $SCALE)" "$size"
printf '%-44s %.1f s\n' "migrate --follow (copy + verify, under load)" "$(echo "$t1 - $t0" | bc -l)"
printf '%-44s %.2f s (--verify %s)\n' "cutover command" "$(echo "$c1 - $c0" | bc -l)" "$VERIFY"
printf '%-44s %.2f s (target < 5 s)\n' "write-unavailability window" "$window"
printf '%-44s %s / %s\n' "pgbench_history rows source / target" "$rows_src" "$rows_dst"
if [ "$rows_src" != "$rows_dst" ]; then
	log "the target differs from the source"
	exit 1
fi
if [ "$STRICT" = 1 ] && [ "$(echo "$window >= 5" | bc -l)" = 1 ]; then
	log "target missed: window ${window}s"
	exit 1
fi
