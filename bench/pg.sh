#!/usr/bin/env bash
# Benchmark: backupd dump / dbrestore restore against pg_dump / pg_restore on
# the same ~1 GB PostgreSQL 15 database, same machine, same server.
#
#   bench/pg.sh [--scale N] [--x4] [--runs N] [--port P] [--workdir DIR] [--build-dir DIR]
#               [--keep] [--strict] [--no-build] [--summary FILE] [--dump-only] [--steady-memory]
#
#   --scale N      pgbench scale (default 50: ~750 MB of pgbench tables, plus a
#                  text-heavy table and an incompressible bytea table scaled with
#                  it, ~1 GB in all).  --scale 1 is a quick smoke test.
#   --x4           the whole comparison at --scale N and again at 4N (4x the
#                  data), then both sizes' figures side by side: how each tool's
#                  time and CPU (client, server) grow with the data, and
#                  whether peak RSS stays flat; the scale verdict: each of
#                  dump and restore adds no more seconds per added GB than
#                  its peer (the growth factors are printed beside it)
#   --summary FILE also write the figures to FILE, one "name value" a line
#   --runs N       repeat each timed step N times, report the fastest (default 1)
#   --port P       server port (default 55433)
#   --workdir DIR  scratch directory (default /tmp/backupd-bench)
#   --build-dir D  where backupd/backupd and restore/dbrestore are (default build)
#   --keep         leave the server running and the scratch directory in place
#                  (with --x4: the larger size's); stats0.NAME / stats1.NAME
#                  there hold the server's WAL, bgwriter and the kernel's
#                  memory counters before and after each timed command
#   --strict       exit 1 if a target is missed
#   --no-build     do not build when the binaries are missing
#   --steady-memory  (root, a VM whose balloon reports free pages to its host)
#                  stop that reporting for the run, restored at exit: memory
#                  that sat free has been handed back to the host, and the
#                  next process to touch it pays the host's fault-in as its
#                  own kernel CPU, whichever tool that is (seen here: up to
#                  ~26% of a restore's server samples in copying into the page
#                  cache, against ~5% for the tool that ran once the free
#                  memory was used up)
#   --dump-only    time only the plain dumps (backupd dump vs pg_dump): no
#                  encrypted dump, no restores (for iterating on the dump)
#
# Compared, each with 2 jobs:
#   dump:    backupd dump --jobs 2 (default zstd)   vs  pg_dump -Fd -j2 -Z0
#   restore: dbrestore restore --jobs 2 --create     vs  createdb + pg_restore -j2
#   encrypted: the same backupd dump and restore into an encrypted repository
#              (--encryption-key-file), next to the plain backupd figures (the
#              two restores alternate which goes first from run to run; their
#              CPU, robust under load, is printed beside the times)
# BENCH_RESTORE_ARGS (environment): more arguments for both dbrestore
# restores, e.g. "--log-level debug" for their timelines in err.dbrestore*.
# Reported: wall time and ratio, stored bytes (du), peak RSS (GNU time %M: the
# largest resident set of the tool or any of its child processes).
# Targets: dump time <= 0.9x pg_dump, repository <= 20% of the -Z0 dump,
# restore time <= 0.8x pg_restore, dump and restore peak RSS < 100 MB,
# encrypted dump time <= 1.1x the plain backupd dump.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
SCALE=50
RUNS=1
PORT=55433
WORKDIR=/tmp/backupd-bench
BUILD_DIR="$ROOT/build"
KEEP=0
STRICT=0
BUILD=1
X4=0
SUMMARY=
DUMP_ONLY=0
STEADY_MEM=0
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"

while [ $# -gt 0 ]; do
	case "$1" in
	--scale) SCALE="$2"; shift 2 ;;
	--runs) RUNS="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--workdir) WORKDIR="$2"; shift 2 ;;
	--build-dir) BUILD_DIR="$2"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--strict) STRICT=1; shift ;;
	--no-build) BUILD=0; shift ;;
	--x4) X4=1; shift ;;
	--summary) SUMMARY="$2"; shift 2 ;;
	--dump-only) DUMP_ONLY=1; shift ;;
	--steady-memory) STEADY_MEM=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/pg.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$SCALE" in '' | *[!0-9]* | 0) echo "bench/pg.sh: --scale must be a positive integer" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "bench/pg.sh: --runs must be a positive integer" >&2; exit 2 ;; esac
case "$WORKDIR" in /*) ;; *) WORKDIR="$(pwd -P)/$WORKDIR" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

[ "$X4" = 1 ] && [ "$DUMP_ONLY" = 1 ] && { echo "bench/pg.sh: --dump-only and --x4 cannot be combined" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# --steady-memory (bench/lib.sh): set here, in the outermost run, and put back
# when it exits
[ "$STEADY_MEM" = 1 ] && bench_steady_memory bench/pg.sh

# --x4: this script twice, at N and 4N, one after the other (the same server
# settings, one size's data gone before the next is made), then side by side.
if [ "$X4" = 1 ]; then
	sums="$(mktemp -d)"
	trap 'rm -rf "$sums"; bench_steady_memory_restore' EXIT
	pass=(--runs "$RUNS" --port "$PORT" --workdir "$WORKDIR" --build-dir "$BUILD_DIR")
	[ "$BUILD" = 1 ] || pass+=(--no-build)
	rc=0
	for s in "$SCALE" "$((SCALE * 4))"; do
		keep=()
		[ "$KEEP" = 1 ] && [ "$s" != "$SCALE" ] && keep=(--keep) # the same workdir and port
		"$0" --scale "$s" "${pass[@]}" "${keep[@]}" --summary "$sums/$s" || rc=1
	done
	[ -s "$sums/$SCALE" ] && [ -s "$sums/$((SCALE * 4))" ] || exit 1
	get() { awk -v n="$2" '$1 == n { print $2 }' "$sums/$1"; }
	grow() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
	N1="$SCALE" N4="$((SCALE * 4))"
	echo
	echo "growth with the data: pgbench scale $N1 ($(get "$N1" db_mb) MB) vs $N4 ($(get "$N4" db_mb) MB), best of $RUNS run(s)"
	printf '%-28s %12s %12s %9s\n' "" "scale $N1" "scale $N4" "growth"
	# CPU (client, server: the least of the runs): on 2 cores shared with other
	# work the times follow it, and a server cost that grows faster than the
	# data shows here (a ctid range scan reads through all of shared_buffers)
	for m in db_mb backupd_dump_s pg_dump_s dbrestore_s pg_restore_s repo_mb pg_dump_mb \
		backupd_dump_rss_mb dbrestore_rss_mb pg_dump_rss_mb pg_restore_rss_mb \
		backupd_dump_cpu_cli_s backupd_dump_cpu_srv_s pg_dump_cpu_cli_s pg_dump_cpu_srv_s \
		dbrestore_cpu_cli_s dbrestore_cpu_srv_s pg_restore_cpu_cli_s pg_restore_cpu_srv_s \
		dump_ratio restore_ratio; do
		a="$(get "$N1" "$m")" b="$(get "$N4" "$m")"
		printf '%-28s %12s %12s %9s\n' "$m" "$a" "$b" "$(grow "$a" "$b")"
	done
	# Item 3's test, time grows no faster than the peer's: the seconds each
	# tool adds per added GB of data, ours no more than the peer's.  The
	# growth factors (time at 4N over time at N) are printed beside it but do
	# not decide: a factor flatters a fixed start-up cost (pg_dump's ~0.5 s
	# fails any tool that starts faster and adds less per GB, whose ratio to
	# the peer then rises with the data towards the ratio of the slopes).
	gv() { # gv OURS PEER
		local o1 o4 p1 p4 d os ps
		o1="$(get "$N1" "$1")" o4="$(get "$N4" "$1")" p1="$(get "$N1" "$2")" p4="$(get "$N4" "$2")"
		d="$(awk -v a="$(get "$N1" db_mb)" -v b="$(get "$N4" db_mb)" 'BEGIN { print (b - a) / 1024 }')"
		os="$(awk -v a="$o1" -v b="$o4" -v d="$d" 'BEGIN { printf "%.2f", (b - a) / d }')"
		ps="$(awk -v a="$p1" -v b="$p4" -v d="$d" 'BEGIN { printf "%.2f", (b - a) / d }')"
		printf '%-8s added s per added GB: %s vs %s: %s (grows %s vs %s)\n' "${1%%_s}" "$os" "$ps" \
			"$(verdict "$(awk -v a="$os" -v b="$ps" -v o="$o1" 'BEGIN { print (o > 0 && a <= b) ? 1 : 0 }')")" \
			"$(grow "$o1" "$o4")" "$(grow "$p1" "$p4")"
	}
	gv backupd_dump_s pg_dump_s
	gv dbrestore_s pg_restore_s
	exit "$rc"
fi

BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
export PATH="$PG_BINDIR:$PATH"
PGSRV="$WORKDIR/pg"
REPO="$WORKDIR/repo"
DUMPDIR="$WORKDIR/pg_dump.dir"
DB=bench

[ -x /usr/bin/time ] || die "GNU time is missing: run scripts/deps.sh (package 'time')"
[ -x "$PG_BINDIR/pgbench" ] || die "pgbench is missing: run scripts/deps.sh (package postgresql-15)"

bench_build_if_missing

cleanup() {
	if [ "$KEEP" = 1 ]; then
		log "kept: server in $PGSRV (source $PGSRV/env), scratch in $WORKDIR"
	else
		bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null 2>&1 || true
		rm -rf "$WORKDIR"
	fi
	bench_steady_memory_restore
}
trap cleanup EXIT

# --- server ----------------------------------------------------------------
bench_workdir_fresh
export PG_SERVER_CONF="$BENCH_PG_CONF"
bash "$ROOT/scripts/pg-server.sh" start "$PGSRV" "$PORT" "$PG_BINDIR"
# shellcheck disable=SC1091
source "$PGSRV/env"
unset PGHOST PGPORT PGUSER PGDATABASE # the tools under test use the URI
URI_BASE="postgresql://postgres@127.0.0.1:$PORT"
PSQL=(env "PGOPTIONS=-c client_min_messages=warning" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
CONN=(-h 127.0.0.1 -p "$PORT" -U postgres)

# --- data --------------------------------------------------------------------
bench_pg_load_data "$DB" "$SCALE"

# --- timing helpers (timed, best: bench/lib.sh) ------------------------------------
RESULTS="$WORKDIR/results.txt"
: >"$RESULTS"
bench_quiesce() { "${PSQL[@]}" -d postgres -c CHECKPOINT >/dev/null; }
bench_server_cpu() { pg_server_cpu "$PGSRV/data"; }
# for a later look (--keep): what the server and the kernel did meanwhile
bench_stats() {
	"${PSQL[@]}" -A -d postgres -c "SELECT * FROM pg_stat_wal" -c "SELECT * FROM pg_stat_bgwriter" -c "SELECT count(*) FROM pg_ls_waldir()"
	grep -E "^(pgscan|pgsteal|allocstall|compact_stall|compact_fail|pgfault|pgmajfault|nr_dirty |nr_writeback |nr_free_pages )" /proc/vmstat
	ps -eo pid,ppid,cputimes,comm | awk '$4 ~ /postgres/'
}

# pg_restore needs the database to exist: time createdb + pg_restore together.
cat >"$WORKDIR/pg_restore.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
"$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "\$1"
exec "$PG_BINDIR/pg_restore" -h 127.0.0.1 -p "$PORT" -U postgres -j2 -d "\$1" "$DUMPDIR"
EOF

read -r -a RESTORE_ARGS <<<"${BENCH_RESTORE_ARGS:-}"
REPO_ENC="$WORKDIR/repo-encrypted"
KEYFILE="$WORKDIR/repo.key"
(umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$KEYFILE")

# --- runs ----------------------------------------------------------------------
# Each tool goes first in one run of two (odd runs: ours first; even runs: the
# peer's first): whichever runs first after the data was loaded or dropped
# writes into memory that sat free, which on some VMs costs more (see
# --steady-memory), and best-of-two then gives every tool a turn after it.
pg_dump_timed() { timed pg_dump "$PG_BINDIR/pg_dump" "${CONN[@]}" -Fd -j2 -Z0 -f "$DUMPDIR" "$DB"; }
pg_restore_timed() { timed pg_restore bash "$WORKDIR/pg_restore.sh" r_pg; }
for run in $(seq 1 "$RUNS"); do
	log "run $run/$RUNS"
	rm -rf "$REPO" "$REPO_ENC" "$DUMPDIR"
	peer_first=$((1 - run % 2))
	[ "$peer_first" = 1 ] && pg_dump_timed
	timed backupd_dump "$BACKUPD" dump --source "$URI_BASE/$DB" --repo "$REPO" --name "$DB" --jobs 2
	if [ "$DUMP_ONLY" = 1 ]; then
		[ "$peer_first" = 1 ] || pg_dump_timed
		continue
	fi
	timed backupd_dump_enc "$BACKUPD" dump --source "$URI_BASE/$DB" --repo "$REPO_ENC" --name "$DB" --jobs 2 \
		--encryption-key-file "$KEYFILE"
	[ "$peer_first" = 1 ] || pg_dump_timed
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS r_backupd" -c "DROP DATABASE IF EXISTS r_pg" \
		-c "DROP DATABASE IF EXISTS r_enc"
	[ "$peer_first" = 1 ] && pg_restore_timed
	# the plain and the encrypted restore take turns going first: the second
	# one runs beside the first one's database, in a fuller page cache
	restore_plain() { timed dbrestore "$DBRESTORE" restore --repo "$REPO" --name "$DB" --to "$URI_BASE/r_backupd" --jobs 2 --create "${RESTORE_ARGS[@]}"; }
	restore_enc() {
		timed dbrestore_enc "$DBRESTORE" restore --repo "$REPO_ENC" --name "$DB" --to "$URI_BASE/r_enc" --jobs 2 \
			--create --encryption-key-file "$KEYFILE" "${RESTORE_ARGS[@]}"
	}
	if [ $((run % 2)) = 1 ]; then restore_plain; restore_enc; else restore_enc; restore_plain; fi
	[ "$peer_first" = 1 ] || pg_restore_timed
done

# --- report: the dump's figures (all --dump-only prints) -----------------------
repo_bytes="$(du -sb "$REPO" | cut -f1)"
dump_bytes="$(du -sb "$DUMPDIR" | cut -f1)"
bd_dump_t="$(best backupd_dump 2)"
pg_dump_t="$(best pg_dump 2)"
bd_dump_m="$(best backupd_dump 3)"
pg_dump_m="$(best pg_dump 3)"
dump_ratio="$(ratio "$bd_dump_t" "$pg_dump_t")"
size_ratio="$(ratio "$repo_bytes" "$dump_bytes")"
ok_dump="$(le "$dump_ratio" 0.90)"
ok_size="$(le "$size_ratio" 0.20)"
ok_rss="$(lt "$bd_dump_m" 102400)"
row() { printf '%-22s %14s %18s %9s   %-12s %s\n' "$@"; }
dump_rows() {
	row "dump time (s)" "$bd_dump_t" "$pg_dump_t" "${dump_ratio}x" "<= 0.90x" "$(verdict "$ok_dump")"
	row "stored size (MB)" "$(mbb "$repo_bytes")" "$(mbb "$dump_bytes")" \
		"$(awk -v r="$size_ratio" 'BEGIN { printf "%.0f%%", r * 100 }')" "<= 20%" "$(verdict "$ok_size")"
	row "dump peak RSS (MB)" "$(mb "$bd_dump_m")" "$(mb "$pg_dump_m")" "" "< 100 MB" "$(verdict "$ok_rss")"
	row "dump CPU cli+srv (s)" "$(cpu backupd_dump)" "$(cpu pg_dump)" "" "" ""
}
if [ "$DUMP_ONLY" = 1 ]; then
	echo
	echo "backupd dump vs pg_dump (--dump-only): pgbench scale $SCALE, database $(mbb "$DB_BYTES") MB, 2 jobs, best of $RUNS run(s)"
	echo "server: PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), fsync=off, $(nproc) cores${BENCH_MEMORY_NOTE:-}"
	bench_machine_line
	echo
	row "" "backupd" "pg_dump" "ratio" "target" "result"
	dump_rows
	[ "$STRICT" = 1 ] && [ "$((ok_dump & ok_size & ok_rss))" -ne 1 ] && exit 1
	exit 0
fi

# --- sanity: the restores hold the same rows ----------------------------------
counts() {
	"${PSQL[@]}" -A -t -d "$1" -c "SELECT (SELECT count(*) FROM pgbench_accounts) || '/' ||
	  (SELECT count(*) FROM docs) || '/' || (SELECT count(*) FROM blobs) || '/' ||
	  (SELECT sum(abalance) FROM pgbench_accounts)"
}
c_src="$(counts "$DB")"
c_bd="$(counts r_backupd)"
c_pg="$(counts r_pg)"
c_enc="$(counts r_enc)"
[ "$c_src" = "$c_enc" ] || log "WARNING: encrypted dbrestore result differs from the source: $c_enc vs $c_src"
[ "$c_src" = "$c_bd" ] || log "WARNING: dbrestore result differs from the source: $c_bd vs $c_src"
[ "$c_src" = "$c_pg" ] || log "WARNING: pg_restore result differs from the source: $c_pg vs $c_src"

# --- report --------------------------------------------------------------------
bd_rest_t="$(best dbrestore 2)"
pg_rest_t="$(best pg_restore 2)"
bd_enc_t="$(best backupd_dump_enc 2)"
bd_enc_rest_t="$(best dbrestore_enc 2)"
repo_enc_bytes="$(du -sb "$REPO_ENC" | cut -f1)"
bd_rest_m="$(best dbrestore 3)"
pg_rest_m="$(best pg_restore 3)"

rest_ratio="$(ratio "$bd_rest_t" "$pg_rest_t")"
ok_rest="$(le "$rest_ratio" 0.80)"
ok_rss_rest="$(lt "$bd_rest_m" 102400)"
enc_ratio="$(ratio "$bd_enc_t" "$bd_dump_t")"
enc_rest_ratio="$(ratio "$bd_enc_rest_t" "$bd_rest_t")"
ok_enc="$(le "$enc_ratio" 1.10)"

echo
echo "backupd vs pg_dump/pg_restore: pgbench scale $SCALE, database $(mbb "$DB_BYTES") MB, 2 jobs, best of $RUNS run(s)"
echo "server: PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), fsync=off, $(nproc) cores${BENCH_MEMORY_NOTE:-}"
bench_machine_line
echo
row "" "backupd" "pg_dump/restore" "ratio" "target" "result"
dump_rows
row "restore time (s)" "$bd_rest_t" "$pg_rest_t" "${rest_ratio}x" "<= 0.80x" "$(verdict "$ok_rest")"
row "restore peak RSS (MB)" "$(mb "$bd_rest_m")" "$(mb "$pg_rest_m")" "" "< 100 MB" "$(verdict "$ok_rss_rest")"
row "restore CPU cli+srv" "$(cpu dbrestore)" "$(cpu pg_restore)" "" "" ""
echo
row "" "encrypted" "plain backupd" "ratio" "target" "result"
row "dump time (s)" "$bd_enc_t" "$bd_dump_t" "${enc_ratio}x" "<= 1.10x" "$(verdict "$ok_enc")"
row "stored size (MB)" "$(mbb "$repo_enc_bytes")" "$(mbb "$repo_bytes")" "" "" ""
row "restore time (s)" "$bd_enc_rest_t" "$bd_rest_t" "${enc_rest_ratio}x" "" ""
row "restore CPU cli+srv" "$(cpu dbrestore_enc)" "$(cpu dbrestore)" "" "" ""
echo
echo "row check (accounts/docs/blobs/sum): source $c_src, dbrestore $c_bd, encrypted $c_enc, pg_restore $c_pg"

if [ -n "$SUMMARY" ]; then
	cat >"$SUMMARY" <<EOF
db_mb $(mbb "$DB_BYTES")
backupd_dump_s $bd_dump_t
pg_dump_s $pg_dump_t
dbrestore_s $bd_rest_t
pg_restore_s $pg_rest_t
repo_mb $(mbb "$repo_bytes")
pg_dump_mb $(mbb "$dump_bytes")
backupd_dump_rss_mb $(mb "$bd_dump_m")
dbrestore_rss_mb $(mb "$bd_rest_m")
pg_dump_rss_mb $(mb "$pg_dump_m")
pg_restore_rss_mb $(mb "$pg_rest_m")
backupd_dump_cpu_cli_s $(best backupd_dump 4)
backupd_dump_cpu_srv_s $(best backupd_dump 5)
pg_dump_cpu_cli_s $(best pg_dump 4)
pg_dump_cpu_srv_s $(best pg_dump 5)
dbrestore_cpu_cli_s $(best dbrestore 4)
dbrestore_cpu_srv_s $(best dbrestore 5)
pg_restore_cpu_cli_s $(best pg_restore 4)
pg_restore_cpu_srv_s $(best pg_restore 5)
dump_ratio $dump_ratio
restore_ratio $rest_ratio
EOF
fi

if [ "$STRICT" = 1 ] && [ "$((ok_dump & ok_size & ok_rest & ok_rss & ok_rss_rest & ok_enc))" -ne 1 ]; then
	exit 1
fi
if [ "$c_src" != "$c_bd" ] || [ "$c_src" != "$c_enc" ]; then
	exit 1
fi
