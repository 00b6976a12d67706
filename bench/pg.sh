#!/usr/bin/env bash
# Benchmark: backupd dump / dbrestore restore against pg_dump / pg_restore on
# the same ~1 GB PostgreSQL 15 database, same machine, same server.
#
#   bench/pg.sh [--scale N] [--runs N] [--port P] [--workdir DIR] [--build-dir DIR]
#               [--keep] [--strict] [--no-build]
#
#   --scale N      pgbench scale (default 50: ~750 MB of pgbench tables, plus a
#                  text-heavy table and an incompressible bytea table scaled with
#                  it, ~1 GB in all).  --scale 1 is a quick smoke test.
#   --runs N       repeat each timed step N times, report the fastest (default 1)
#   --port P       server port (default 55433)
#   --workdir DIR  scratch directory (default /tmp/backupd-bench)
#   --build-dir D  where backupd/backupd and restore/dbrestore are (default build)
#   --keep         leave the server running and the scratch directory in place
#   --strict       exit 1 if a target is missed
#   --no-build     do not build when the binaries are missing
#
# Compared, each with 2 jobs:
#   dump:    backupd dump --jobs 2 (default zstd)   vs  pg_dump -Fd -j2 -Z0
#   restore: dbrestore restore --jobs 2 --create     vs  createdb + pg_restore -j2
#   encrypted: the same backupd dump and restore into an encrypted repository
#              (--encryption-key-file), next to the plain backupd figures
# Reported: wall time and ratio, stored bytes (du), peak RSS (GNU time %M: the
# largest resident set of the tool or any of its child processes).
# Targets: dump time <= 1.1x pg_dump, repository <= 35% of the -Z0 dump,
# restore time <= 1.0x pg_restore, dump peak RSS < 100 MB, encrypted dump
# time <= 1.1x the plain backupd dump.
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
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/pg.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$SCALE" in '' | *[!0-9]* | 0) echo "bench/pg.sh: --scale must be a positive integer" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "bench/pg.sh: --runs must be a positive integer" >&2; exit 2 ;; esac
case "$WORKDIR" in /*) ;; *) WORKDIR="$(pwd -P)/$WORKDIR" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
export PATH="$PG_BINDIR:$PATH"
PGSRV="$WORKDIR/pg"
REPO="$WORKDIR/repo"
DUMPDIR="$WORKDIR/pg_dump.dir"
DB=bench

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

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
}
trap cleanup EXIT

# --- server ----------------------------------------------------------------
rm -rf "$WORKDIR"
mkdir -p "$WORKDIR"
chmod 0755 "$WORKDIR"
export PG_SERVER_CONF="shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
autovacuum = off"
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

# pg_restore needs the database to exist: time createdb + pg_restore together.
cat >"$WORKDIR/pg_restore.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
"$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "\$1"
exec "$PG_BINDIR/pg_restore" -h 127.0.0.1 -p "$PORT" -U postgres -j2 -d "\$1" "$DUMPDIR"
EOF

REPO_ENC="$WORKDIR/repo-encrypted"
KEYFILE="$WORKDIR/repo.key"
(umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$KEYFILE")

# --- runs ----------------------------------------------------------------------
for run in $(seq 1 "$RUNS"); do
	log "run $run/$RUNS"
	rm -rf "$REPO" "$REPO_ENC" "$DUMPDIR"
	timed backupd_dump "$BACKUPD" dump --source "$URI_BASE/$DB" --repo "$REPO" --name "$DB" --jobs 2
	timed backupd_dump_enc "$BACKUPD" dump --source "$URI_BASE/$DB" --repo "$REPO_ENC" --name "$DB" --jobs 2 \
		--encryption-key-file "$KEYFILE"
	timed pg_dump "$PG_BINDIR/pg_dump" "${CONN[@]}" -Fd -j2 -Z0 -f "$DUMPDIR" "$DB"
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS r_backupd" -c "DROP DATABASE IF EXISTS r_pg" \
		-c "DROP DATABASE IF EXISTS r_enc"
	timed dbrestore "$DBRESTORE" restore --repo "$REPO" --name "$DB" --to "$URI_BASE/r_backupd" --jobs 2 --create
	timed dbrestore_enc "$DBRESTORE" restore --repo "$REPO_ENC" --name "$DB" --to "$URI_BASE/r_enc" --jobs 2 \
		--create --encryption-key-file "$KEYFILE"
	timed pg_restore bash "$WORKDIR/pg_restore.sh" r_pg
done

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
repo_bytes="$(du -sb "$REPO" | cut -f1)"
dump_bytes="$(du -sb "$DUMPDIR" | cut -f1)"

bd_dump_t="$(best backupd_dump 2)"
pg_dump_t="$(best pg_dump 2)"
bd_rest_t="$(best dbrestore 2)"
pg_rest_t="$(best pg_restore 2)"
bd_enc_t="$(best backupd_dump_enc 2)"
bd_enc_rest_t="$(best dbrestore_enc 2)"
repo_enc_bytes="$(du -sb "$REPO_ENC" | cut -f1)"
bd_dump_m="$(best backupd_dump 3)"
pg_dump_m="$(best pg_dump 3)"
bd_rest_m="$(best dbrestore 3)"
pg_rest_m="$(best pg_restore 3)"

dump_ratio="$(ratio "$bd_dump_t" "$pg_dump_t")"
size_ratio="$(ratio "$repo_bytes" "$dump_bytes")"
rest_ratio="$(ratio "$bd_rest_t" "$pg_rest_t")"
ok_dump="$(le "$dump_ratio" 1.10)"
ok_size="$(le "$size_ratio" 0.35)"
ok_rest="$(le "$rest_ratio" 1.00)"
ok_rss="$(lt "$bd_dump_m" 102400)"
enc_ratio="$(ratio "$bd_enc_t" "$bd_dump_t")"
enc_rest_ratio="$(ratio "$bd_enc_rest_t" "$bd_rest_t")"
ok_enc="$(le "$enc_ratio" 1.10)"

echo
echo "backupd vs pg_dump/pg_restore: pgbench scale $SCALE, database $(mbb "$DB_BYTES") MB, 2 jobs, best of $RUNS run(s)"
echo "server: PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), fsync=off, $(nproc) cores"
echo
printf '%-22s %14s %18s %9s   %-12s %s\n' "" "backupd" "pg_dump/restore" "ratio" "target" "result"
printf '%-22s %14s %18s %9s   %-12s %s\n' "dump time (s)" "$bd_dump_t" "$pg_dump_t" "${dump_ratio}x" "<= 1.10x" "$(verdict "$ok_dump")"
printf '%-22s %14s %18s %9s   %-12s %s\n' "stored size (MB)" "$(mbb "$repo_bytes")" "$(mbb "$dump_bytes")" \
	"$(awk -v r="$size_ratio" 'BEGIN { printf "%.0f%%", r * 100 }')" "<= 35%" "$(verdict "$ok_size")"
printf '%-22s %14s %18s %9s   %-12s %s\n' "dump peak RSS (MB)" "$(mb "$bd_dump_m")" "$(mb "$pg_dump_m")" "" "< 100 MB" "$(verdict "$ok_rss")"
printf '%-22s %14s %18s %9s   %-12s %s\n' "restore time (s)" "$bd_rest_t" "$pg_rest_t" "${rest_ratio}x" "<= 1.00x" "$(verdict "$ok_rest")"
printf '%-22s %14s %18s %9s   %-12s %s\n' "restore peak RSS (MB)" "$(mb "$bd_rest_m")" "$(mb "$pg_rest_m")" "" "" ""
echo
printf '%-22s %14s %18s %9s   %-12s %s\n' "" "encrypted" "plain backupd" "ratio" "target" "result"
printf '%-22s %14s %18s %9s   %-12s %s\n' "dump time (s)" "$bd_enc_t" "$bd_dump_t" "${enc_ratio}x" "<= 1.10x" "$(verdict "$ok_enc")"
printf '%-22s %14s %18s %9s   %-12s %s\n' "stored size (MB)" "$(mbb "$repo_enc_bytes")" "$(mbb "$repo_bytes")" "" "" ""
printf '%-22s %14s %18s %9s   %-12s %s\n' "restore time (s)" "$bd_enc_rest_t" "$bd_rest_t" "${enc_rest_ratio}x" "" ""
echo
echo "row check (accounts/docs/blobs/sum): source $c_src, dbrestore $c_bd, encrypted $c_enc, pg_restore $c_pg"

if [ "$STRICT" = 1 ] && [ "$((ok_dump & ok_size & ok_rest & ok_rss & ok_enc))" -ne 1 ]; then
	exit 1
fi
if [ "$c_src" != "$c_bd" ] || [ "$c_src" != "$c_enc" ]; then
	exit 1
fi
