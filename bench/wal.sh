#!/usr/bin/env bash
# Benchmark: backupd wal-push against pgbackrest archive-push on the same real
# PostgreSQL 15 WAL, same disk, called the way PostgreSQL's archiver calls an
# archive_command: one call per segment, oldest first, the .ready files of the
# segments not yet archived present in archive_status (so asynchronous modes
# engage), .ready renamed to .done after each successful call.
#
#   bench/wal.sh [--segments N] [--runs N] [--port P] [--workdir DIR]
#                [--build-dir DIR] [--keep] [--strict]
#
#   --segments N   16 MB segments to archive (default 200); generated once with
#                  pgbench -i on a throwaway server (archive_mode=on and an
#                  empty archive_command keep them) and reused from DIR/pool
#   --runs N       repeat each configuration N times, report the fastest (default 2)
#   --port P       server port while generating (default 55434)
#   --workdir DIR  scratch directory (default /tmp/backupd-bench-wal)
#   --build-dir D  where backupd/backupd is (default ./build)
#   --keep         leave the scratch directory in place
#   --strict       exit 1 if a target is missed
#
# Configurations: backupd wal-push (async: background pusher, 2 threads,
# --async-max 8; and --async-max 0: synchronous only), pgbackrest archive-push
# with compress-type=zst compress-level=1 (archive-async=y process-max=2, its
# best configuration; and synchronous).  Also reported: the cost of one call
# that starts the process and archives one 16 MB segment into a local repository,
# and beside it the same net of this machine's cost of one fork+exec of
# /bin/true (bench_exec_cost_us in bench/lib.sh; the header's "machine:" line,
# as in every bench's results), which varies between sessions of a VM.
# Each backupd configuration also runs into an encrypted repository
# (--encryption-key-file), printed next to the plain figures.
# Targets (issue #14): async throughput >= 2x pgBackRest's best; one call < 20 ms (median);
# encryption costs <= 10% of wal-push throughput.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh" # bench_exec_cost_us, bench_machine_line
SEGMENTS=200
RUNS=2
PORT=55434
WORKDIR=/tmp/backupd-bench-wal
BUILD_DIR="$ROOT/build"
KEEP=0
STRICT=0
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"

while [ $# -gt 0 ]; do
	case "$1" in
	--segments) SEGMENTS="$2"; shift 2 ;;
	--runs) RUNS="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--workdir) WORKDIR="$2"; shift 2 ;;
	--build-dir) BUILD_DIR="$2"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--strict) STRICT=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/wal.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done

BACKUPD="$BUILD_DIR/backupd/backupd"
[ -x "$BACKUPD" ] || { echo "bench/wal.sh: no $BACKUPD (build first or pass --build-dir)" >&2; exit 2; }
command -v pgbackrest >/dev/null || { echo "bench/wal.sh: pgbackrest is not installed" >&2; exit 2; }

PGSRV="$WORKDIR/server"
POOL="$WORKDIR/pool"           # the generated segments, kept between runs
PGDATA_FAKE="$WORKDIR/pgdata"  # what the tools see: pg_wal + global/pg_control
mkdir -p "$WORKDIR"

cleanup() {
	bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null 2>&1 || true
	if [ "$KEEP" = 0 ]; then
		rm -rf "$WORKDIR/repo-backupd" "$WORKDIR/spool" "$WORKDIR/pgbackrest" "$PGDATA_FAKE"
	fi
}
trap cleanup EXIT

ms() { date +%s%N | awk '{ printf "%d", $1 / 1000000 }'; }

# --- generate real WAL -----------------------------------------------------------
pool_count() { ls "$POOL" 2>/dev/null | grep -c '^[0-9A-F]\{24\}$' || true; }
if [ "$(pool_count)" -lt "$SEGMENTS" ] || [ ! -f "$POOL/sysid" ]; then
	echo "generating $SEGMENTS WAL segments with pgbench (PostgreSQL 15, port $PORT)..."
	rm -rf "$POOL" "$PGSRV"
	PG_SERVER_CONF="archive_mode = on
archive_command = ''
max_wal_size = 16GB
checkpoint_timeout = 1h
synchronous_commit = off
fsync = off" bash "$ROOT/scripts/pg-server.sh" start "$PGSRV" "$PORT" "$PG_BINDIR" >/dev/null
	eval "$(bash "$ROOT/scripts/pg-server.sh" env "$PGSRV")"
	ready() { ls "$PGSRV/data/pg_wal/archive_status" | grep -c '^[0-9A-F]\{24\}\.ready$' || true; }
	while [ "$(ready)" -le "$SEGMENTS" ]; do
		pgbench -i -q -s 100 postgres >/dev/null 2>&1
		psql -XAtqc "select pg_switch_wal()" postgres >/dev/null
	done
	psql -XAtqc "select system_identifier from pg_control_system()" postgres >"$WORKDIR/sysid.tmp"
	bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null
	mkdir -p "$POOL"
	for r in $(ls "$PGSRV/data/pg_wal/archive_status" | grep '^[0-9A-F]\{24\}\.ready$' | sort | head -n "$SEGMENTS"); do
		cp "$PGSRV/data/pg_wal/${r%.ready}" "$POOL/"
	done
	cp "$PGSRV/data/global/pg_control" "$POOL/pg_control"
	mv "$WORKDIR/sysid.tmp" "$POOL/sysid"
	# pgBackRest's stanza is created against the live server once, then kept
	rm -rf "$WORKDIR/pgbackrest"
fi
SEGS=$(ls "$POOL" | grep '^[0-9A-F]\{24\}$' | sort | head -n "$SEGMENTS")
MB=$(( SEGMENTS * 16 ))

# The tools archive from a copy laid out as a data directory.
rm -rf "$PGDATA_FAKE"
mkdir -p "$PGDATA_FAKE/pg_wal/archive_status" "$PGDATA_FAKE/global"
cp "$POOL/pg_control" "$PGDATA_FAKE/global/pg_control"
for s in $SEGS; do cp "$POOL/$s" "$PGDATA_FAKE/pg_wal/"; done

# --- pgBackRest stanza ---------------------------------------------------------------
BR="$WORKDIR/pgbackrest"
BRCONF="$BR/pgbackrest.conf"
if [ ! -f "$BR/stanza.ok" ]; then
	rm -rf "$BR"
	mkdir -p "$BR"
	# stanza-create needs the server that wrote the WAL (same system identifier)
	if [ ! -d "$PGSRV/data" ]; then
		echo "bench/wal.sh: the pool exists without its server; remove $WORKDIR and rerun" >&2
		exit 1
	fi
	bash "$ROOT/scripts/pg-server.sh" start "$PGSRV" "$PORT" "$PG_BINDIR" >/dev/null
	cat >"$BRCONF" <<EOF
[global]
repo1-path=$BR/repo
spool-path=$BR/spool
lock-path=$BR/lock
log-path=$BR/log
log-level-console=warn
log-level-file=off
compress-type=zst
compress-level=1

[bench]
pg1-path=$PGSRV/data
pg1-port=$PORT
pg1-socket-path=$PGSRV/sock
pg1-user=postgres
EOF
	pgbackrest --config="$BRCONF" --stanza=bench stanza-create >/dev/null
	bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null
	# archive-push reads pg_control and WAL from the copy from here on
	sed -i "s|^pg1-path=.*|pg1-path=$PGDATA_FAKE|" "$BRCONF"
	touch "$BR/stanza.ok"
fi

# --- the archiver loop -----------------------------------------------------------------
reset_ready() {
	rm -f "$PGDATA_FAKE"/pg_wal/archive_status/*
	for s in $SEGS; do : >"$PGDATA_FAKE/pg_wal/archive_status/$s.ready"; done
}

# archive_loop CMD...: CMD gets the segment path appended; prints elapsed ms
archive_loop() {
	local t0 t1 s
	t0=$(ms)
	for s in $SEGS; do
		if ! "$@" "$PGDATA_FAKE/pg_wal/$s"; then
			echo "bench/wal.sh: archiving $s failed: $*" >&2
			exit 1
		fi
		mv "$PGDATA_FAKE/pg_wal/archive_status/$s.ready" "$PGDATA_FAKE/pg_wal/archive_status/$s.done"
	done
	t1=$(ms)
	echo $((t1 - t0))
}

KEYFILE="$WORKDIR/repo.key"
(umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$KEYFILE")

run_backupd() { # extra options...
	rm -rf "$WORKDIR/repo-backupd" "$WORKDIR/spool"
	reset_ready
	sync
	archive_loop "$BACKUPD" wal-push --repo "$WORKDIR/repo-backupd" --name bench \
		--spool-dir "$WORKDIR/spool" "$@"
}

run_pgbackrest() { # extra options...
	rm -rf "$BR/repo/archive/bench/"*/0000* "$BR/spool"
	reset_ready
	sync
	archive_loop pgbackrest --config="$BRCONF" --stanza=bench "$@" archive-push
}

best_bd_async=0 best_bd_sync=0 best_br_async=0 best_br_sync=0 best_enc_async=0 best_enc_sync=0
keep_best() { # var value: smallest non-zero wins
	local cur=${!1}
	if [ "$cur" = 0 ] || [ "$2" -lt "$cur" ]; then printf -v "$1" '%s' "$2"; fi
}
for run in $(seq "$RUNS"); do
	# interleaved, so a noisy neighbour hurts every configuration alike
	keep_best best_bd_async "$(run_backupd)"
	keep_best best_br_async "$(run_pgbackrest --archive-async --process-max=2)"
	keep_best best_bd_sync "$(run_backupd --async-max 0)"
	keep_best best_br_sync "$(run_pgbackrest --no-archive-async)"
	keep_best best_enc_async "$(run_backupd --encryption-key-file "$KEYFILE")"
	keep_best best_enc_sync "$(run_backupd --async-max 0 --encryption-key-file "$KEYFILE")"
done

# --- one call, one segment, fresh process --------------------------------------------------
one=$(echo "$SEGS" | sed -n 2p)
mkdir -p "$WORKDIR/single/pg_wal/archive_status"
cp "$POOL/$one" "$WORKDIR/single/pg_wal/"
single_median() { # extra options...: median microseconds of 21 fresh calls
	local single=() i t0 t1
	for i in $(seq 21); do
		rm -rf "$WORKDIR/single/repo"
		mkdir -p "$WORKDIR/single/repo"
		"$BACKUPD" wal-push --repo "$WORKDIR/single/repo" --name bench --async-max 0 "$@" \
			"$WORKDIR/single/pg_wal/$one" # first call creates the repository and archive.info
		rm -rf "$WORKDIR/single/repo/bench/wal/"0000*
		sync
		# $EPOCHREALTIME, not $(date +%s%N): the closing date process's own
		# start (one fork+exec) was counted as part of the call
		t0="$EPOCHREALTIME"
		"$BACKUPD" wal-push --repo "$WORKDIR/single/repo" --name bench --async-max 0 "$@" \
			"$WORKDIR/single/pg_wal/$one"
		t1="$EPOCHREALTIME"
		single+=($((10#${t1//[.,]/} - 10#${t0//[.,]/})))
	done
	printf '%s\n' "${single[@]}" | sort -n | sed -n 11p
}
median_us=$(single_median)
median_enc_us=$(single_median --encryption-key-file "$KEYFILE")
# measured beside the one-call figure, which holds one such start: its net
# figure is what backupd itself costs, comparable across sessions whose
# process start cost differs (the target stays on the raw figure)
exec_us=$(bench_exec_cost_us)
rm -rf "$WORKDIR/single"

stored_bd=$(du -sm "$WORKDIR/repo-backupd" | cut -f1)
rate() { awk -v mb="$MB" -v ms="$1" 'BEGIN { printf "%7.1f MB/s", mb / (ms / 1000) }'; }
line() { printf '%-44s %6.2f s  %s\n' "$1" "$(awk -v ms="$2" 'BEGIN { print ms / 1000 }')" "$(rate "$2")"; }

echo
echo "WAL archiving: $SEGMENTS x 16 MB real segments (pgbench), best of $RUNS, $(nproc) CPUs"
bench_machine_line "$exec_us"
line "backupd wal-push (async, 2 threads)" "$best_bd_async"
line "pgbackrest archive-push (async, process-max=2)" "$best_br_async"
line "backupd wal-push (sync)" "$best_bd_sync"
line "pgbackrest archive-push (sync)" "$best_br_sync"
best_br=$(( best_br_async < best_br_sync ? best_br_async : best_br_sync ))
ratio=$(awk -v a="$best_bd_async" -v b="$best_br" 'BEGIN { printf "%.2f", b / a }')
sync_ratio=$(awk -v a="$best_bd_sync" -v b="$best_br_sync" 'BEGIN { printf "%.2f", b / a }')
echo "throughput ratio backupd async / pgbackrest best: ${ratio}x (target >= 2x)"
echo "throughput ratio backupd sync / pgbackrest sync:  ${sync_ratio}x"
echo "one call archiving one 16 MB segment (median of 21): $(awk -v us="$median_us" 'BEGIN { printf "%.1f", us / 1000 }') ms (target < 20 ms)"
echo "  the same net of one fork+exec of /bin/true: $(awk -v us="$median_us" -v x="$exec_us" 'BEGIN { printf "%.1f", (us - x) / 1000 }') ms (not the target's figure: for comparing sessions)"
echo "backupd repository: ${stored_bd} MB for ${MB} MB of WAL"
enc_cost() { awk -v e="$1" -v p="$2" 'BEGIN { printf "%+.1f%%", (e / p - 1) * 100 }'; }
echo
echo "encrypted repository (AES-256-GCM)        encrypted       plain   cost (target <= +10%)"
printf '%-40s %9.2f s %9.2f s   %s\n' "wal-push async, 2 threads" "$(awk -v ms="$best_enc_async" 'BEGIN { print ms / 1000 }')" \
	"$(awk -v ms="$best_bd_async" 'BEGIN { print ms / 1000 }')" "$(enc_cost "$best_enc_async" "$best_bd_async")"
printf '%-40s %9.2f s %9.2f s   %s\n' "wal-push sync" "$(awk -v ms="$best_enc_sync" 'BEGIN { print ms / 1000 }')" \
	"$(awk -v ms="$best_bd_sync" 'BEGIN { print ms / 1000 }')" "$(enc_cost "$best_enc_sync" "$best_bd_sync")"
printf '%-40s %8.1f ms %8.1f ms   %s\n' "one call, one segment (median of 21)" "$(awk -v us="$median_enc_us" 'BEGIN { print us / 1000 }')" \
	"$(awk -v us="$median_us" 'BEGIN { print us / 1000 }')" "$(enc_cost "$median_enc_us" "$median_us")"

missed=0
awk -v r="$ratio" 'BEGIN { exit !(r >= 2) }' || missed=1
[ "$median_us" -lt 20000 ] || missed=1
awk -v e="$best_enc_async" -v p="$best_bd_async" 'BEGIN { exit !(e <= p * 1.10) }' || missed=1
if [ "$missed" = 1 ]; then
	echo "target missed"
	[ "$STRICT" = 1 ] && exit 1
fi
exit 0
