#!/usr/bin/env bash
# Benchmark: physical base backups and their restore on one ~1 GB PostgreSQL
# 15 cluster, same machine, same server, one run:
#
#   backup:  backupd basebackup (zstd level 1)
#            vs  pg_basebackup -Ft -Xnone -D - | zstd -1
#            vs  pgbackrest backup --type=full (compress-type=zst, level 1, process-max=2)
#   restore: dbrestore pitr (to the end of the archive; the copy only, not the replay)
#            vs  pgbackrest restore (process-max=2)
#   incremental (PostgreSQL 18, summarize_wal = on, a second cluster of the
#   same data, after the PostgreSQL 15 one is stopped): backupd basebackup,
#            then 1% of the cluster's blocks changed, then backupd basebackup
#            --incremental: stored bytes of both and their ratio
#
#   bench/basebackup.sh [--scale N] [--port P] [--workdir DIR] [--build-dir DIR]
#                       [--keep] [--strict] [--no-build] [--no-incremental]
#                       [--steady-memory]
#
#   --scale N      pgbench scale (default 60: ~900 MB of tables, plus a
#                  text table scaled with it, ~1 GB in all); 1 is a smoke test
#   --port P       the PostgreSQL 15 server's port; PostgreSQL 18's is P+1
#   --strict       exit 1 if a target is missed
#   --no-incremental  skip the PostgreSQL 18 incremental part (it loads a
#                  second cluster: a few minutes more)
#   --steady-memory (root, a VM whose balloon reports free pages to its
#                  host) turn that reporting off for the run, put back at
#                  exit: see bench_steady_memory in bench/lib.sh
# Reported: wall time, ratio, stored bytes of each.  Targets: backup no slower
# than pgbackrest and at most 1.1x the pg_basebackup pipeline; restore no
# slower than pgbackrest; an incremental after 1% of the blocks changed
# stores at most 5% of a full one.  The change: one row in each of N pages
# of pgbench_accounts (N = 1% of the cluster's 8 kB blocks), a HOT update
# in place (the 18 cluster's tables are made with fillfactor 90), so exactly
# N heap blocks change, plus the visibility-map pages whose bits it clears.
# pgbackrest 2.45 (Debian's) does not know PostgreSQL 18 and has no block
# incremental: it is not compared there.
# Runs as root (the server and everything that reads its directory run as
# the unprivileged server user, scripts/pg-server.sh) or as that user.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
SCALE=60
PORT=55434
WORKDIR=/tmp/backupd-bench-bb
BUILD_DIR="$ROOT/build"
KEEP=0
STRICT=0
BUILD=1
INCREMENTAL=1
STEADY_MEM=0
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"

while [ $# -gt 0 ]; do
	case "$1" in
	--scale) SCALE="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--workdir) WORKDIR="$2"; shift 2 ;;
	--build-dir) BUILD_DIR="$2"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--strict) STRICT=1; shift ;;
	--no-build) BUILD=0; shift ;;
	--no-incremental) INCREMENTAL=0; shift ;;
	--steady-memory) STEADY_MEM=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/basebackup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$SCALE" in '' | *[!0-9]* | 0) echo "bench/basebackup.sh: --scale must be a positive integer" >&2; exit 2 ;; esac
case "$PORT" in '' | *[!0-9]*) echo "bench/basebackup.sh: --port must be a port number" >&2; exit 2 ;; esac
case "$WORKDIR" in /*) ;; *) WORKDIR="$(pwd -P)/$WORKDIR" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
PGSRV="$WORKDIR/pg"
PGSRV18="$WORKDIR/pg18"
REPO="$WORKDIR/repo"
BR="$WORKDIR/pgbackrest"
BRCONF="$BR/pgbackrest.conf"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
command -v pgbackrest >/dev/null || die "pgbackrest is not installed (scripts/deps.sh)"
command -v zstd >/dev/null || die "zstd is not installed"
[ -x "$PG_BINDIR/pgbench" ] || die "pgbench is missing: run scripts/deps.sh (package postgresql-15)"
bench_build_if_missing

AS=()
OWNER="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
	OWNER="${PG_SERVER_USER:-bdtest}"
	AS=(runuser -u "$OWNER" --)
fi

cleanup() {
	if [ "$KEEP" = 1 ]; then
		log "kept: server in $PGSRV, scratch in $WORKDIR"
	else
		bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null 2>&1 || true
		bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV18" >/dev/null 2>&1 || true
		rm -rf "$WORKDIR"
	fi
	bench_steady_memory_restore
}
trap cleanup EXIT
[ "$STEADY_MEM" = 1 ] && bench_steady_memory bench/basebackup.sh

rm -rf "$WORKDIR"
mkdir -p "$WORKDIR" "$REPO" "$BR"
chmod 0755 "$WORKDIR"
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
process-max=2
repo1-retention-full=9999
start-fast=y

[bench]
pg1-path=$PGSRV/data
pg1-port=$PORT
pg1-socket-path=$PGSRV/sock
pg1-user=postgres
EOF
# the server user: pg-server.sh creates it when missing (a fresh machine), so
# its repositories are handed over just before the server starts archiving
[ "$(id -u)" -ne 0 ] || bash "$ROOT/scripts/pg-server.sh" ensure-user
chown -R "$OWNER:" "$REPO" "$BR"

# --- server: archiving into both repositories --------------------------------
export PG_SERVER_CONF="shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
autovacuum = off
archive_mode = on
archive_command = '$BACKUPD wal-push --repo $REPO --name bench %p && pgbackrest --config=$BRCONF --stanza=bench archive-push %p'"
bash "$ROOT/scripts/pg-server.sh" start "$PGSRV" "$PORT" "$PG_BINDIR" >/dev/null
unset PG_SERVER_CONF
PGPASS="$WORKDIR/pgpass"
(umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PORT" "$(cat "$PGSRV/password")" >"$PGPASS")
chown "$OWNER:" "$PGPASS"
SRC="postgresql://postgres@127.0.0.1:$PORT/postgres"
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSRV/sock" -p "$PORT" -U postgres -d postgres)

# load_data SOCKDIR PORT [PGBENCH-OPTION...]: pgbench -i -s SCALE and a text
# table into the server PSQL points at; sets DB_BYTES
load_data() {
	local sock="$1" port="$2"
	shift 2
	log "creating the data: pgbench -i -s $SCALE${*:+ $*} and a text table"
	"$PG_BINDIR/pgbench" -h "$sock" -p "$port" -U postgres -i -s "$SCALE" -q "$@" postgres 2>&1 | tail -n 1 >&2
	"${PSQL[@]}" -c "CREATE TABLE notes AS SELECT g AS id, md5(g::text) || repeat(' lorem ipsum', 20) AS body FROM generate_series(1, $((SCALE * 5000))) g" >/dev/null
	"${PSQL[@]}" -c "CHECKPOINT" >/dev/null
	DB_BYTES="$("${PSQL[@]}" -A -t -c "SELECT sum(pg_database_size(datname)) FROM pg_database")"
	log "cluster: $((DB_BYTES / 1048576)) MiB"
}

# the load left a backlog for the archiver: every tool waits for the archive
# at its end, so the timed runs start only once it has caught up
archive_caught_up() {
	local seg
	seg="$("${PSQL[@]}" -A -t -c "SELECT pg_walfile_name(pg_switch_wal())")"
	log "waiting for the archiver to catch up ($seg)"
	for _ in $(seq 1 1200); do
		[ "$("${PSQL[@]}" -A -t -c "SELECT coalesce(last_archived_wal >= '$seg', false) FROM pg_stat_archiver")" = t ] && break
		sleep 0.5
	done
}

load_data "$PGSRV/sock" "$PORT"
"${AS[@]}" pgbackrest --config="$BRCONF" --stanza=bench stanza-create >/dev/null
archive_caught_up

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
du_bytes() { du -sb "$1" | cut -f1; }
# basebackup NAME SOURCE [OPTION...]: a timed backupd basebackup into REPO;
# sets BB_SECS, BB_ID and BB_BYTES (stored)
basebackup() {
	local name="$1" src="$2" t0
	shift 2
	t0="$(now)"
	"${AS[@]}" env PGPASSFILE="$PGPASS" "$BACKUPD" basebackup --source "$src" --repo "$REPO" --name "$name" "$@" >"$WORKDIR/bb.id"
	BB_SECS="$(secs "$t0" "$(now)")"
	BB_ID="$(tail -n 1 "$WORKDIR/bb.id")"
	BB_BYTES="$(du_bytes "$REPO/$name/backups/$BB_ID")"
}
json_lsn() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["info"]["start_lsn"])' "$1"; }

# --- backups -------------------------------------------------------------------
log "backupd basebackup"
basebackup bench "$SRC"
t_bd="$BB_SECS" BID="$BB_ID" s_bd="$BB_BYTES"

log "pg_basebackup -Ft -Xnone | zstd -1"
t0="$(now)"
"${AS[@]}" env PGPASSFILE="$PGPASS" "$PG_BINDIR/pg_basebackup" -d "$SRC" -Ft -Xnone -c fast -D - |
	zstd -1 -q -T1 >"$WORKDIR/pg_basebackup.tar.zst"
t_pb="$(secs "$t0" "$(now)")"
s_pb="$(du_bytes "$WORKDIR/pg_basebackup.tar.zst")"

log "pgbackrest backup --type=full"
t0="$(now)"
"${AS[@]}" pgbackrest --config="$BRCONF" --stanza=bench --type=full backup
t_br="$(secs "$t0" "$(now)")"
s_br="$(du_bytes "$BR/repo/backup/bench")"

# --- restores ------------------------------------------------------------------
log "dbrestore pitr"
mkdir -p "$WORKDIR/r-bd" && chown "$OWNER:" "$WORKDIR/r-bd"
t0="$(now)"
"${AS[@]}" "$DBRESTORE" pitr --repo "$REPO" --name bench --backup "$BID" --data-dir "$WORKDIR/r-bd/data" >/dev/null
t_rbd="$(secs "$t0" "$(now)")"

log "pgbackrest restore"
mkdir -p "$WORKDIR/r-br/data" && chown -R "$OWNER:" "$WORKDIR/r-br" && chmod 0700 "$WORKDIR/r-br/data"
t0="$(now)"
"${AS[@]}" pgbackrest --config="$BRCONF" --stanza=bench --pg1-path="$WORKDIR/r-br/data" restore
t_rbr="$(secs "$t0" "$(now)")"

# --- incremental (PostgreSQL 18) ------------------------------------------------
if [ "$INCREMENTAL" = 1 ]; then
	bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null
	# shellcheck source=scripts/pg-install.sh
	. "$ROOT/scripts/pg-install.sh"
	BIN18="$(pg_install_major 18)" || die "no PostgreSQL 18 (scripts/pg-install.sh 18)"
	PORT18=$((PORT + 1))
	export PG_SERVER_CONF="shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
autovacuum = off
summarize_wal = on
archive_mode = on
archive_command = '$BACKUPD wal-push --repo $REPO --name bench18 %p'"
	bash "$ROOT/scripts/pg-server.sh" start "$PGSRV18" "$PORT18" "$BIN18" >/dev/null
	unset PG_SERVER_CONF
	printf '127.0.0.1:%s:*:postgres:%s\n' "$PORT18" "$(cat "$PGSRV18/password")" >>"$PGPASS"
	SRC18="postgresql://postgres@127.0.0.1:$PORT18/postgres"
	PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSRV18/sock" -p "$PORT18" -U postgres -d postgres)
	# fillfactor 90: room on every page for the HOT update below
	DB15_BYTES="$DB_BYTES"
	load_data "$PGSRV18/sock" "$PORT18" --fillfactor=90
	DB18_BYTES="$DB_BYTES"
	DB_BYTES="$DB15_BYTES"
	# frozen (and hinted) now: later reads dirty no page, and no vacuum
	# between the two backups touches every page
	"${PSQL[@]}" -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT" >/dev/null
	archive_caught_up

	log "backupd basebackup (PostgreSQL 18, full)"
	basebackup bench18 "$SRC18"
	t_f18="$BB_SECS" FID="$BB_ID" s_f18="$BB_BYTES"

	# 1% of the cluster's blocks: the first row of every k-th page of
	# pgbench_accounts, updated in place (HOT: no index entry changes)
	n_chg=$(((DB18_BYTES / 8192 + 99) / 100))
	acc_pages="$("${PSQL[@]}" -A -t -c "SELECT pg_relation_size('pgbench_accounts') / 8192")"
	step=$((acc_pages / n_chg))
	[ "$step" -ge 1 ] || die "pgbench_accounts has $acc_pages pages, fewer than the $n_chg to change"
	log "changing $n_chg of $((DB18_BYTES / 8192)) blocks: one row in every ${step}th page of pgbench_accounts"
	updated="$("${PSQL[@]}" -A -t -c "WITH u AS (UPDATE pgbench_accounts SET abalance = abalance + 1
		WHERE ctid = ANY (ARRAY(SELECT format('(%s,1)', p * $step)::tid FROM generate_series(0, $n_chg - 1) p))
		RETURNING ctid) SELECT count(*) FILTER (WHERE (ctid::text::point)[0]::bigint % $step = 0) || ' ' || count(*) FROM u")"
	[ "$updated" = "$n_chg $n_chg" ] || die "the update changed '$updated' rows (in place, in all) of $n_chg"
	"${PSQL[@]}" -c "CHECKPOINT" >/dev/null

	log "backupd basebackup --incremental (PostgreSQL 18)"
	basebackup bench18 "$SRC18" --incremental
	t_i18="$BB_SECS" IID="$BB_ID" s_i18="$BB_BYTES"
	# what changed, as the server's WAL summaries between the two backups say
	# (relation blocks, every fork; informative only)
	w_chg="$("${PSQL[@]}" -A -t -c "SELECT count(*) FROM (SELECT DISTINCT c.relfilenode, c.reltablespace, c.reldatabase, c.relforknumber, c.relblocknumber
		FROM pg_available_wal_summaries() s, pg_wal_summary_contents(s.tli, s.start_lsn, s.end_lsn) c
		WHERE NOT c.is_limit_block AND s.start_lsn >= '$(json_lsn "$REPO/bench18/backups/$FID/manifest.json")'::pg_lsn
		AND s.end_lsn <= '$(json_lsn "$REPO/bench18/backups/$IID/manifest.json")'::pg_lsn) b" 2>/dev/null || echo "?")"
fi

# --- report ----------------------------------------------------------------------
MiB() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo
echo "cluster $(MiB "$DB_BYTES") (pgbench scale $SCALE + notes), PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), $(nproc) cores"
bench_machine_line
printf '%-50s %8ss  stored %s\n' "backupd basebackup" "$t_bd" "$(MiB "$s_bd")"
printf '%-50s %8ss  stored %s\n' "pg_basebackup -Ft -Xnone | zstd -1" "$t_pb" "$(MiB "$s_pb")"
printf '%-50s %8ss  stored %s\n' "pgbackrest backup (zst:1, process-max=2)" "$t_br" "$(MiB "$s_br")"
printf '%-50s %8ss\n' "dbrestore pitr (copy)" "$t_rbd"
printf '%-50s %8ss\n' "pgbackrest restore (process-max=2)" "$t_rbr"
r1="$(ratio "$t_bd" "$t_pb")"
r2="$(ratio "$t_bd" "$t_br")"
r3="$(ratio "$t_rbd" "$t_rbr")"
echo "backup time backupd / pg_basebackup|zstd: ${r1}x (target <= 1.1x)"
echo "backup time backupd / pgbackrest:         ${r2}x (target <= 1.0x)"
echo "restore time dbrestore / pgbackrest:      ${r3}x (target <= 1.0x)"
echo "stored backupd / pg_basebackup|zstd: $(ratio "$s_bd" "$s_pb")x, backupd / pgbackrest: $(ratio "$s_bd" "$s_br")x"
missed=0
awk -v r="$r1" 'BEGIN { exit !(r > 1.1) }' && missed=1
awk -v r="$r2" 'BEGIN { exit !(r > 1.0) }' && missed=1
awk -v r="$r3" 'BEGIN { exit !(r > 1.0) }' && missed=1
if [ "$INCREMENTAL" = 1 ]; then
	pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f%%", 100 * a / b; else print "-" }'; }
	echo
	echo "cluster $(MiB "$DB18_BYTES") (same data, fillfactor 90), PostgreSQL $("$BIN18/postgres" --version | awk '{print $3}'), summarize_wal = on"
	printf '%-50s %8ss  stored %s\n' "backupd basebackup (full)" "$t_f18" "$(MiB "$s_f18")"
	printf '%-50s %8ss  stored %s\n' "backupd basebackup --incremental ($n_chg blocks)" "$t_i18" "$(MiB "$s_i18")"
	echo "changed: $n_chg of $((DB18_BYTES / 8192)) blocks ($(pct "$n_chg" "$((DB18_BYTES / 8192))")), $w_chg blocks in the WAL summaries"
	r4="$(pct "$s_i18" "$s_f18")"
	echo "stored incremental / full:                 ${r4} (target <= 5%)"
	awk -v a="$s_i18" -v b="$s_f18" 'BEGIN { exit !(a > 0.05 * b) }' && missed=1
fi
if [ "$missed" = 1 ]; then
	echo "a target was missed"
	[ "$STRICT" = 1 ] && exit 1
fi
exit 0
