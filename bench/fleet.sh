#!/usr/bin/env bash
# The fleet catalog under load: N jobs (default 500) every PERIOD seconds
# across 3 daemons sharing one catalog, for FIRINGS firings.  The work is
# trivial on purpose (each run is a real `backupd run` whose source refuses
# the connection at once), so what is measured is the scheduler and the
# catalog: claim latency (claimed_at - fire time, from the catalog) and the
# catalog's load per firing (transactions and rows touched, from
# pg_stat_database over the whole run, heartbeats included).
#
#   bench/fleet.sh [--jobs N] [--period S] [--firings K] [--no-build]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
BUILD=1
JOBS=500 PERIOD=20 FIRINGS=3
while [ $# -gt 0 ]; do
	case "$1" in
	--jobs) JOBS="$2"; shift 2 ;;
	--period) PERIOD="$2"; shift 2 ;;
	--firings) FIRINGS="$2"; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	*) echo "usage: $0 [--jobs N] [--period S] [--firings K] [--no-build]" >&2; exit 2 ;;
	esac
done
source "$ROOT/bench/lib.sh"
bench_build_if_missing
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
TMP="$(mktemp -d /tmp/bench-fleet.XXXXXX)"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	bash "$ROOT/scripts/pg-server.sh" destroy "$TMP/cat" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

CAT_PORT="$(free_port)"
bash "$ROOT/scripts/pg-server.sh" start "$TMP/cat" "$CAT_PORT" "$PG_BINDIR" >/dev/null
(umask 077 && cp "$TMP/cat/password" "$TMP/cat.pw")
DEAD_PORT="$(free_port)" # nothing listens there: each run fails at once
q() { PGPASSFILE="$TMP/cat/pgpass" "$PG_BINDIR/psql" -X -At -h 127.0.0.1 -p "$CAT_PORT" -U postgres -d postgres -c "$1"; }
{
	printf '[global]\ncatalog = postgresql://postgres@127.0.0.1:%s/postgres\n' "$CAT_PORT"
	printf 'catalog-password-file = %s\ncatalog-lease = 30s\nmax-parallel-jobs = 32\nshutdown-grace = 5s\n\n' "$TMP/cat.pw"
	printf '[source:s]\nurl = postgresql://nobody@127.0.0.1:%s/none?connect_timeout=2\n\n[repo:r]\nurl = %s\n\n' "$DEAD_PORT" "$TMP/repo"
	for i in $(seq 1 "$JOBS"); do
		printf '[job:j%s]\nsource = s\nrepo = r\nschedule = */%s * * * * *\n\n' "$i" "$PERIOD"
	done
} >"$TMP/fleet.conf"
"$BACKUPD" -c "$TMP/fleet.conf" catalog init >/dev/null 2>&1
stats() { q "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = 'postgres'"; }
q "SELECT pg_stat_reset()" >/dev/null
sleep 1
read -r X0 R0 W0 < <(stats | tr '|' ' ')
START=$(date +%s)
for d in d1 d2 d3; do
	"$BACKUPD" -c "$TMP/fleet.conf" --log-level warn daemon --id "$d" --state-dir "$TMP/state-$d" >"$TMP/$d.log" 2>&1 &
	PIDS+=($!)
done
log "$JOBS jobs every ${PERIOD}s on 3 daemons, $FIRINGS firings"
sleep $((PERIOD * FIRINGS + 2))
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()
sleep 1
read -r X1 R1 W1 < <(stats | tr '|' ' ')
END=$(date +%s)
FIRED=$(q "SELECT count(*) FROM backupd.runs WHERE fire_time >= $START")
[ "$FIRED" -gt 0 ] || die "no firing was claimed"
echo "fleet bench: $JOBS jobs every ${PERIOD}s, 3 daemons, $((END - START))s"
q "SELECT 'firings claimed: ' || count(*) || ' (ran ' || count(*) FILTER (WHERE state IN ('ok', 'failed')) || ', skipped ' || count(*) FILTER (WHERE state = 'skipped') || ', duplicates impossible: unique key)' FROM backupd.runs WHERE fire_time >= $START"
q "SELECT 'per daemon: ' || string_agg(daemon_id || '=' || n, ' ' ORDER BY daemon_id) FROM (SELECT daemon_id, count(*) n FROM backupd.runs WHERE fire_time >= $START AND state <> 'skipped' GROUP BY 1) x"
q "SELECT format('claim latency (claimed_at - fire time) ms: p50 %s, p95 %s, p99 %s, max %s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)), round(percentile_cont(0.95) WITHIN GROUP (ORDER BY l)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)), round(max(l))) FROM (SELECT extract(epoch FROM claimed_at) * 1000 - fire_time * 1000 AS l FROM backupd.runs WHERE fire_time >= $START AND state <> 'skipped') x"
awk -v x=$((X1 - X0)) -v r=$((R1 - R0)) -v w=$((W1 - W0)) -v f="$FIRED" -v s=$((END - START)) 'BEGIN {
	printf "catalog load per firing: %.1f transactions, %.1f rows read, %.1f rows written (%.0f transactions/s overall)\n", x / f, r / f, w / f, x / s }'
