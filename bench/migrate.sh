#!/usr/bin/env bash
# Benchmark: moving a live PostgreSQL 15 database onto a newer major, three
# ways, on the same machine, in one run:
#
#   dbrestore migrate --jobs 2 --create      (its verification included)
#   pgcopydb clone --table-jobs 2 --index-jobs 2   (Debian's pgcopydb 0.10)
#   pg_dump -Fd -j2 -Z0 + createdb + pg_restore -j2
#
#   bench/migrate.sh [--scale N] [--target-major M] [--port P] [--workdir DIR]
#                    [--build-dir DIR] [--runs N] [--keep] [--strict] [--no-build]
#                    [--steady-memory]
#
#   --scale N         pgbench scale of the database bench/pg.sh uses (default 50:
#                     ~1 GB); --scale 5 is a quick check that everything runs
#   --target-major M  the target server's major, 15..18 (default 18: Debian's
#                     pgcopydb 0.10 clones into it, see below)
#   --port P          source server port (default 55443; the target uses P+1)
#   --workdir DIR     scratch directory (default /tmp/backupd-bench-migrate)
#   --build-dir D     where backupd/backupd and restore/dbrestore are (default build)
#   --runs N          best of N runs (default 2); each run takes the three in
#                     another order, so that each goes first once in three runs
#   --keep            leave the servers running and the scratch directory in place
#   --strict          exit 1 if a target is missed
#   --no-build        do not build when the binaries are missing
#   --steady-memory   (root, a VM whose balloon reports free pages to its
#                     host) turn that reporting off for the run, put back at
#                     exit: see bench_steady_memory in bench/lib.sh
#
# Source: PostgreSQL 15 (Debian).  Target: PostgreSQL M from
# scripts/pg-install.sh (18 by default).  Client tools: Debian's 15 for all
# three (the source's major; pg_restore 15 restores into 18).  pgcopydb 0.10
# (built against 15) runs pg_dump/pg_restore from PATH and clones 15 -> 18
# with those; with pg_dump 18 on PATH it fails (pg_restore: unrecognized
# parameter "pg_attver"), so 18 is the newest target it can clone into here.
# Reported: wall time of each, and the ratios; then what verification costs
# (a backupd dump of the source, untimed, then `dbrestore verify` of the
# migrated copy: one read of it, timed) and a row check of every copy.
# Targets (issue 12): migrate <= 0.8x pgcopydb, <= 0.6x dump + restore.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
SCALE=50
TARGET_MAJOR=18
PORT=55443
WORKDIR=/tmp/backupd-bench-migrate
BUILD_DIR="$ROOT/build"
KEEP=0
RUNS=2
STRICT=0
BUILD=1
STEADY_MEM=0
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"

while [ $# -gt 0 ]; do
	case "$1" in
	--scale) SCALE="$2"; shift 2 ;;
	--target-major) TARGET_MAJOR="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--workdir) WORKDIR="$2"; shift 2 ;;
	--build-dir) BUILD_DIR="$2"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--runs) RUNS="$2"; shift 2 ;;
	--strict) STRICT=1; shift ;;
	--no-build) BUILD=0; shift ;;
	--steady-memory) STEADY_MEM=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/migrate.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$SCALE" in '' | *[!0-9]* | 0) echo "bench/migrate.sh: --scale must be a positive integer" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "bench/migrate.sh: --runs must be a positive integer" >&2; exit 2 ;; esac
case "$TARGET_MAJOR" in 15 | 16 | 17 | 18) ;; *) echo "bench/migrate.sh: --target-major must be 15..18" >&2; exit 2 ;; esac
case "$PORT" in '' | *[!0-9]*) echo "bench/migrate.sh: --port must be a number" >&2; exit 2 ;; esac
case "$WORKDIR" in /*) ;; *) WORKDIR="$(pwd -P)/$WORKDIR" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
SRC_SRV="$WORKDIR/pg15"
DST_SRV="$WORKDIR/pg$TARGET_MAJOR"
DST_PORT=$((PORT + 1))
DB=bench

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
# shellcheck source=scripts/pg-install.sh
. "$ROOT/scripts/pg-install.sh"

[ -x /usr/bin/time ] || die "GNU time is missing: run scripts/deps.sh (package 'time')"
[ -x "$PG_BINDIR/pgbench" ] || die "pgbench is missing: run scripts/deps.sh (package postgresql-15)"
command -v pgcopydb >/dev/null || die "pgcopydb is missing: run scripts/deps.sh (package pgcopydb)"
CLIENT_BIN="$PG_BINDIR"
DST_BINDIR="$(pg_install_major "$TARGET_MAJOR")" || die "cannot install PostgreSQL $TARGET_MAJOR (scripts/pg-install.sh)"

bench_build_if_missing
"$DBRESTORE" migrate --help >/dev/null 2>&1 || die "this dbrestore has no 'migrate' command yet"

cleanup() {
	if [ "$KEEP" = 1 ]; then
		log "kept: servers in $SRC_SRV and $DST_SRV, scratch in $WORKDIR"
	else
		bash "$ROOT/scripts/pg-server.sh" stop "$SRC_SRV" >/dev/null 2>&1 || true
		bash "$ROOT/scripts/pg-server.sh" stop "$DST_SRV" >/dev/null 2>&1 || true
		rm -rf "$WORKDIR"
	fi
	bench_steady_memory_restore
}
trap cleanup EXIT
[ "$STEADY_MEM" = 1 ] && bench_steady_memory bench/migrate.sh

# --- servers ---------------------------------------------------------------
bench_workdir_fresh
export PG_SERVER_CONF="$BENCH_PG_CONF"
# one password for both servers: one pgpass serves every tool
PG_SERVER_PASSWORD="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PG_SERVER_PASSWORD
bash "$ROOT/scripts/pg-server.sh" start "$SRC_SRV" "$PORT" "$PG_BINDIR" >/dev/null
bash "$ROOT/scripts/pg-server.sh" start "$DST_SRV" "$DST_PORT" "$DST_BINDIR" >/dev/null
export PGPASSFILE="$WORKDIR/pgpass"
printf '127.0.0.1:*:*:postgres:%s\n' "$PG_SERVER_PASSWORD" >"$PGPASSFILE"
chmod 0600 "$PGPASSFILE"
unset PGHOST PGPORT PGUSER PGDATABASE # the tools under test use URIs
SRC="postgresql://postgres@127.0.0.1:$PORT"
DST="postgresql://postgres@127.0.0.1:$DST_PORT"
PSQL=(env "PGOPTIONS=-c client_min_messages=warning" "$CLIENT_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
DSQL=(env "PGOPTIONS=-c client_min_messages=warning" "$CLIENT_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DST_PORT" -U postgres)
CONN=(-h 127.0.0.1 -p "$PORT" -U postgres)

# --- data --------------------------------------------------------------------
bench_pg_load_data "$DB" "$SCALE"

# --- timing (timed, best: bench/lib.sh) ------------------------------------------
RESULTS="$WORKDIR/results.txt"
: >"$RESULTS"
bench_quiesce() {
	"${PSQL[@]}" -d postgres -c CHECKPOINT >/dev/null
	"${DSQL[@]}" -d postgres -c CHECKPOINT >/dev/null
}
# The servers' CPU together; each call also notes the source's and the
# target's apart ("source target" per line in cpu.split: timed calls it
# before and after each step), for the per-process line of the report.
bench_server_cpu() {
	local s d
	s="$(pg_server_cpu "$SRC_SRV/data")"
	d="$(pg_server_cpu "$DST_SRV/data")"
	echo "$s $d" >>"$WORKDIR/cpu.split"
	awk -v s="$s" -v d="$d" 'BEGIN { printf "%.2f", s + d }'
}
# split_note NAME: the source's and the target's CPU over the step just timed,
# with its wall time and client CPU, into split.txt
split_note() {
	tail -n 2 "$WORKDIR/cpu.split" | awk -v n="$1" -v r="$(tail -n 1 "$RESULTS")" 'NR == 1 { s = $1; d = $2 }
		NR == 2 { split(r, f, " "); printf "%s %.2f %.2f %s %s\n", n, $1 - s, $2 - d, f[2], f[4] }' >>"$WORKDIR/split.txt"
}
# by_process NAME: "client C + source server S + target server T" CPU seconds of its fastest run
by_process() {
	awk -v n="$1" '$1 == n && (t == "" || $4 + 0 < t + 0) { t = $4; c = $5; s = $2; d = $3 }
		END { printf "client %.1f + source server %.1f + target server %.1f", c, s, d }' "$WORKDIR/split.txt"
}

# pgcopydb and pg_restore need the target database to exist: timed with it
cat >"$WORKDIR/pgcopydb.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
export PATH="$CLIENT_BIN:\$PATH"
"$CLIENT_BIN/psql" -X -q -h 127.0.0.1 -p "$DST_PORT" -U postgres -d postgres -c "CREATE DATABASE m_pgcopydb"
exec pgcopydb clone --source "$SRC/$DB" --target "$DST/m_pgcopydb" --dir "$WORKDIR/pgcopydb.dir" \
	--table-jobs 2 --index-jobs 2
EOF
cat >"$WORKDIR/dump_restore.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
"$CLIENT_BIN/pg_dump" -h 127.0.0.1 -p "$PORT" -U postgres -Fd -j2 -Z0 -f "$WORKDIR/pg_dump.dir" "$DB"
"$CLIENT_BIN/psql" -X -q -h 127.0.0.1 -p "$DST_PORT" -U postgres -d postgres -c "CREATE DATABASE m_pgrestore"
exec "$CLIENT_BIN/pg_restore" -h 127.0.0.1 -p "$DST_PORT" -U postgres -j2 -d m_pgrestore "$WORKDIR/pg_dump.dir"
EOF

run_migrate() {
	PATH="$CLIENT_BIN:$PATH" timed migrate "$DBRESTORE" migrate --from "$SRC/$DB" --to "$DST/m_backupd" --jobs 2 --create
	split_note migrate
}
run_pgcopydb() {
	timed pgcopydb bash "$WORKDIR/pgcopydb.sh"
	split_note pgcopydb
}
run_dump_restore() {
	timed dump_restore bash "$WORKDIR/dump_restore.sh"
	split_note dump_restore
}
# Whichever goes first after the data was loaded or dropped writes into memory
# that sat free, which on some VMs costs more (see --steady-memory): the order
# turns each run, and best of N gives each tool its turns after another.
ORDERS=("run_migrate run_pgcopydb run_dump_restore" "run_pgcopydb run_dump_restore run_migrate"
	"run_dump_restore run_migrate run_pgcopydb")
log "PostgreSQL 15 -> $TARGET_MAJOR, 2 jobs each, best of $RUNS"
for run in $(seq 1 "$RUNS"); do
	order="${ORDERS[$(((run - 1) % 3))]}"
	log "run $run/$RUNS: ${order//run_/}"
	if [ "$run" -gt 1 ]; then
		"${DSQL[@]}" -d postgres -c "DROP DATABASE m_backupd" -c "DROP DATABASE m_pgcopydb" -c "DROP DATABASE m_pgrestore"
		rm -rf "$WORKDIR/pgcopydb.dir" "$WORKDIR/pg_dump.dir"
	fi
	for step in $order; do "$step"; done
done

# What verification costs on its own: one read of the migrated copy,
# against the checksums a dump of the same source recorded.
log "verification cost: backupd dump of the source (not timed), then dbrestore verify of the copy"
PATH="$CLIENT_BIN:$PATH" "$BACKUPD" dump --source "$SRC/$DB" --repo "$WORKDIR/repo" --name "$DB" --jobs 2 \
	>"$WORKDIR/out.dump" 2>"$WORKDIR/err.dump" || { tail -n 20 "$WORKDIR/err.dump" >&2; die "backupd dump failed"; }
timed verify "$DBRESTORE" verify --repo "$WORKDIR/repo" --name "$DB" --to "$DST/m_backupd"

# --- sanity: every copy holds the same rows ------------------------------------
counts() { # counts PSQL-ARRAY-NAME DB
	local -n q="$1"
	"${q[@]}" -A -t -d "$2" -c "SELECT (SELECT count(*) FROM pgbench_accounts) || '/' ||
	  (SELECT count(*) FROM docs) || '/' || (SELECT count(*) FROM blobs) || '/' ||
	  (SELECT sum(abalance) FROM pgbench_accounts) || '/' ||
	  (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public')"
}
c_src="$(counts PSQL "$DB")"
c_bd="$(counts DSQL m_backupd)"
c_cp="$(counts DSQL m_pgcopydb)"
c_pr="$(counts DSQL m_pgrestore)"

# --- report --------------------------------------------------------------------
t_m="$(best migrate 2)"
t_c="$(best pgcopydb 2)"
t_d="$(best dump_restore 2)"
t_v="$(best verify 2)"
r_c="$(ratio "$t_m" "$t_c")"
r_d="$(ratio "$t_m" "$t_d")"
ok_c="$(le "$r_c" 0.80)"
ok_d="$(le "$r_d" 0.60)"

echo
echo "migrate PostgreSQL 15 -> $TARGET_MAJOR: pgbench scale $SCALE, database $(mbb "$DB_BYTES") MB, 2 jobs, $(nproc) cores${BENCH_MEMORY_NOTE:-}"
bench_machine_line
echo "client tools: $("$CLIENT_BIN/pg_dump" --version | awk '{print $3}'), $(pgcopydb --version 2>/dev/null | awk '/pgcopydb version/ {print "pgcopydb " $3}')"
echo
printf '%-40s %10s %12s %14s %10s   %-10s %s\n' "" "time (s)" "peak RSS MB" "CPU cli+srv s" "migrate/x" "target" "result"
printf '%-40s %10s %12s %14s %10s   %-10s %s\n' "dbrestore migrate --jobs 2 (verified)" "$t_m" "$(mb "$(best migrate 3)")" "$(cpu migrate)" "" "" ""
printf '%-40s %10s %12s %14s %10s   %-10s %s\n' "pgcopydb clone (2 table + 2 index jobs)" "$t_c" "$(mb "$(best pgcopydb 3)")" "$(cpu pgcopydb)" "${r_c}x" "<= 0.80x" "$(verdict "$ok_c")"
printf '%-40s %10s %12s %14s %10s   %-10s %s\n' "pg_dump -Fd -j2 + pg_restore -j2" "$t_d" "$(mb "$(best dump_restore 3)")" "$(cpu dump_restore)" "${r_d}x" "<= 0.60x" "$(verdict "$ok_d")"
echo
echo "verification alone (dbrestore verify of the copy: one read of it): ${t_v}s, $(ratio "$t_v" "$t_m")x of the migrate"
# What the machine allows: no tool finishes before its CPU work is spread over every core.
cores="$(nproc)"
floor() { awk -v c="$(best "$1" 4)" -v s="$(best "$1" 5)" -v n="$cores" 'BEGIN { printf "%.2f", (c + s) / n }'; }
echo "CPU bound on $cores cores: migrate needs $(floor migrate)s of wall time at best, pgcopydb $(floor pgcopydb)s," \
	"dump + restore $(floor dump_restore)s; the targets ask for <= $(awk -v t="$t_c" 'BEGIN { printf "%.2f", t * 0.8 }')s" \
	"and <= $(awk -v t="$t_d" 'BEGIN { printf "%.2f", t * 0.6 }')s"
echo "CPU by process (s): migrate $(by_process migrate); pgcopydb $(by_process pgcopydb);" \
	"dump + restore $(by_process dump_restore)"
echo "row check (accounts/docs/blobs/sum/indexes): source $c_src, migrate $c_bd, pgcopydb $c_cp, pg_restore $c_pr"

status=0
for c in "$c_bd" "$c_cp" "$c_pr"; do
	[ "$c" = "$c_src" ] || { log "a copy differs from the source"; status=1; }
done
if [ "$STRICT" = 1 ] && [ "$((ok_c & ok_d))" -ne 1 ]; then
	status=1
fi
exit "$status"
