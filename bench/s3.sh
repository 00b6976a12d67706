#!/usr/bin/env bash
# Benchmark: S3 upload and download throughput of backupd against the AWS CLI,
# same bytes, same s3rver (local fake S3 from npm), same machine, one run.
#
#   bench/s3.sh [--size-mb N] [--port P] [--workdir DIR] [--build-dir DIR]
#               [--upload-concurrency K] [--keep] [--strict]
#
#   --size-mb N    bytes moved per direction, in MB (default 500)
#   --port P       PostgreSQL port (default 55434); s3rver uses P+1
#   --workdir DIR  scratch directory (default /tmp/backupd-bench-s3)
#   --build-dir D  where backupd/backupd is (default build)
#   --upload-concurrency K  parts of one object uploading at once (default:
#                  the driver's, 4)
#   --keep         leave the scratch directory in place
#   --strict       exit 1 if backupd is slower than the AWS CLI
#
# backupd has no raw upload command, so:
#   upload:   `backupd dump --compress none` of a table of random bytea whose
#             COPY text is ~N MB (includes reading it from PostgreSQL)
#             vs `aws s3 cp` of a random file exactly as large as what backupd
#             stored;
#   download: `backupd verify` of that backup (GETs every object and hashes it)
#             vs `aws s3 cp` of the file back to local disk.
# Ratio = aws time / backupd time: >= 1.00 means backupd is at least as fast.
# Needs: PostgreSQL 15, npm (s3rver is installed into the workdir's parent
# prefix /tmp/s3rver when missing), aws (scripts/deps.sh awscli).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
SIZE_MB=500
PORT=55434
WORKDIR=/tmp/backupd-bench-s3
BUILD_DIR="$ROOT/build"
KEEP=0
STRICT=0
UPLOAD_K=""
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
S3RVER_PREFIX="${S3RVER_PREFIX:-/tmp/s3rver}"

while [ $# -gt 0 ]; do
	case "$1" in
	--size-mb) SIZE_MB="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--workdir) WORKDIR="$2"; shift 2 ;;
	--build-dir) BUILD_DIR="$2"; shift 2 ;;
	--upload-concurrency) UPLOAD_K="$2"; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--strict) STRICT=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/s3.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BACKUPD="$BUILD_DIR/backupd/backupd"
S3PORT=$((PORT + 1))
PGSRV="$WORKDIR/pg"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh" # bench_machine_line (its log is replaced below)
log() { printf 'bench/s3: %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

[ -x "$BACKUPD" ] || { log "no $BACKUPD: build first (scripts/test.sh)"; exit 1; }
command -v aws >/dev/null 2>&1 || { log "aws not found: scripts/deps.sh awscli"; exit 1; }
S3RVER="$S3RVER_PREFIX/node_modules/.bin/s3rver"
if [ ! -x "$S3RVER" ]; then
	log "installing s3rver into $S3RVER_PREFIX"
	mkdir -p "$S3RVER_PREFIX"
	[ -f "$S3RVER_PREFIX/package.json" ] || echo '{"name":"s3rver-local","private":true}' >"$S3RVER_PREFIX/package.json"
	npm install --prefix "$S3RVER_PREFIX" --no-audit --no-fund s3rver@3.7.1 >&2
fi

S3PID=""
cleanup() {
	[ -z "$S3PID" ] || { kill "$S3PID" 2>/dev/null || true; wait "$S3PID" 2>/dev/null || true; }
	bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" >/dev/null 2>&1 || true
	if [ "$KEEP" = 1 ]; then log "kept: $WORKDIR"; else rm -rf "$WORKDIR"; fi
}
trap cleanup EXIT

rm -rf "$WORKDIR"
mkdir -p "$WORKDIR/s3data"
chmod 0755 "$WORKDIR"

# --- servers -------------------------------------------------------------------
# s3rver's continuation tokens use DES: Node 17+ needs the legacy provider.
legacy=""
node --openssl-legacy-provider -e 0 >/dev/null 2>&1 && legacy="--openssl-legacy-provider"
NODE_OPTIONS="$legacy${NODE_OPTIONS:+ $NODE_OPTIONS}" "$S3RVER" -a 127.0.0.1 -p "$S3PORT" \
	-d "$WORKDIR/s3data" --configure-bucket bench --silent >"$WORKDIR/s3rver.log" 2>&1 &
S3PID=$!
export PG_SERVER_CONF="shared_buffers = 256MB
max_wal_size = 4GB
autovacuum = off"
bash "$ROOT/scripts/pg-server.sh" start "$PGSRV" "$PORT" "$PG_BINDIR" >&2
# shellcheck disable=SC1091
source "$PGSRV/env"
unset PGHOST PGPORT PGUSER PGDATABASE
PSQL=(env "PGOPTIONS=-c client_min_messages=warning" "$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$S3PORT") 2>/dev/null && break; sleep 0.2; done

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN
AWS=(aws --endpoint-url "http://127.0.0.1:$S3PORT")
REPO="s3://bench/backupd?endpoint=http://127.0.0.1:$S3PORT&style=path${UPLOAD_K:+&upload-concurrency=$UPLOAD_K}"

# --- data: random bytea whose COPY text (hex) is ~SIZE_MB ------------------------
ROWS=$((SIZE_MB * 512)) # 1 KiB of random bytes per row -> ~2 KiB of COPY text
log "creating $ROWS rows of random bytea (~$((SIZE_MB / 2)) MB, ~$SIZE_MB MB as COPY text)"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
"${PSQL[@]}" -d bench -c "CREATE EXTENSION pgcrypto"
"${PSQL[@]}" -d bench -c "CREATE TABLE b AS SELECT g AS id, gen_random_bytes(1024) AS v FROM generate_series(1, $ROWS) g"
"${PSQL[@]}" -d bench -c "VACUUM ANALYZE b"
"${PSQL[@]}" -d bench -c "SELECT count(*) FROM b" >/dev/null # warm the cache

# --- upload ----------------------------------------------------------------------
log "upload: backupd dump --compress none"
t0=$(now)
ID="$("$BACKUPD" dump --source "postgresql://postgres@127.0.0.1:$PORT/bench" --repo "$REPO" \
	--name bench --compress none --jobs 2 | tail -n 1)"
t1=$(now)
BD_UP=$(secs "$t0" "$t1")
BYTES="$("${AWS[@]}" s3 ls --recursive --summarize "s3://bench/backupd/bench/backups/$ID/" |
	awk '/Total Size:/ { print $3 }')"
log "backupd stored $BYTES bytes in $BD_UP s"

head -c "$BYTES" /dev/urandom >"$WORKDIR/blob.bin"
log "upload: aws s3 cp ($BYTES bytes)"
t0=$(now)
"${AWS[@]}" s3 cp --only-show-errors "$WORKDIR/blob.bin" "s3://bench/aws/blob.bin"
t1=$(now)
AWS_UP=$(secs "$t0" "$t1")
rm -f "$WORKDIR/blob.bin"

# --- download --------------------------------------------------------------------
sync
log "download: backupd verify"
t0=$(now)
"$BACKUPD" verify --repo "$REPO" --name bench "$ID" >/dev/null
t1=$(now)
BD_DOWN=$(secs "$t0" "$t1")
log "download: aws s3 cp"
t0=$(now)
"${AWS[@]}" s3 cp --only-show-errors "s3://bench/aws/blob.bin" "$WORKDIR/blob.dl"
t1=$(now)
AWS_DOWN=$(secs "$t0" "$t1")
rm -f "$WORKDIR/blob.dl"

# --- report ----------------------------------------------------------------------
MB=$(awk -v b="$BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')
row() { # op backupd_s aws_s
	awk -v op="$1" -v a="$2" -v b="$3" -v mb="$MB" 'BEGIN {
		printf "%-9s %8.2f s %7.1f MB/s   %8.2f s %7.1f MB/s   %6.2fx\n",
		       op, a, mb / a, b, mb / b, b / a }'
}
echo
echo "S3 throughput, $MB MB each way, s3rver on 127.0.0.1 (ratio = aws time / backupd time)"
echo "  backupd upload-concurrency: ${UPLOAD_K:-default (4)}; $(nproc) CPUs"
echo "  $(bench_machine_line)"
echo "  upload:   backupd dump --compress none (incl. reading PostgreSQL) vs aws s3 cp file"
echo "  download: backupd verify (GET + SHA-256 of every object)       vs aws s3 cp to disk"
printf '%-9s %24s   %24s   %7s\n' op backupd "aws s3 cp" ratio
row upload "$BD_UP" "$AWS_UP"
row download "$BD_DOWN" "$AWS_DOWN"
missed=0
for pair in "$BD_UP:$AWS_UP" "$BD_DOWN:$AWS_DOWN"; do
	awk -v a="${pair%%:*}" -v b="${pair##*:}" 'BEGIN { exit !(a > b) }' && missed=1
done
if [ "$missed" = 1 ]; then
	echo "target missed: backupd slower than the AWS CLI"
	[ "$STRICT" = 0 ] || exit 1
else
	echo "target met: backupd at least as fast as the AWS CLI"
fi
