# Shared by bench/pg.sh, bench/mysql.sh and bench/migrate.sh: sourced after ROOT,
# BUILD_DIR, BUILD, BACKUPD and DBRESTORE are set.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Builds backupd and dbrestore out of tree into BUILD_DIR when either is
# missing (unless --no-build was given).
bench_build_if_missing() {
	[ -x "$BACKUPD" ] && [ -x "$DBRESTORE" ] && return 0
	[ "$BUILD" = 1 ] || die "binaries not found in $BUILD_DIR (drop --no-build or set BACKUPD_BIN/DBRESTORE_BIN)"
	log "building into $BUILD_DIR"
	[ -e "$ROOT/config.status" ] && die "source root is configured in-tree; run 'make distclean' in $ROOT"
	(cd "$ROOT" && autoreconf -fi >/dev/null)
	mkdir -p "$BUILD_DIR"
	(cd "$BUILD_DIR" && "$ROOT/configure" -q && make -j"$(nproc)" >/dev/null)
}

# bench_pg_load_data DB SCALE: the benchmark database (bench/pg.sh, bench/migrate.sh):
# pgbench -i -s SCALE with foreign keys, plus a text-heavy table (docs) and an
# incompressible bytea table (blobs) scaled with it, ~1 GB at scale 50.  Uses
# the caller's PSQL (array: psql with connection options), CONN (pgbench's
# connection options) and PG_BINDIR; sets DB_BYTES.
bench_pg_load_data() {
	local DB="$1" SCALE="$2" t0=$SECONDS TEXT_ROWS BLOB_ROWS
	log "creating database '$DB': pgbench -i -s $SCALE"
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
	"$PG_BINDIR/pgbench" "${CONN[@]}" -i -s "$SCALE" -q --foreign-keys "$DB" 2>&1 | tail -n 1 >&2

	TEXT_ROWS=$((SCALE * 10000))  # ~300 bytes each: ~3 MB per scale unit, compressible
	BLOB_ROWS=$((SCALE * 2000))   # 992 random bytes each: ~2 MB per scale unit
	log "adding docs ($TEXT_ROWS rows of text) and blobs ($BLOB_ROWS rows of random bytea)"
	"${PSQL[@]}" -d "$DB" <<SQL
CREATE TABLE docs (
    id      bigint PRIMARY KEY,
    author  text NOT NULL,
    created timestamptz NOT NULL,
    body    text NOT NULL,
    tags    text[]
);
INSERT INTO docs
SELECT i,
       'author-' || (i % 5000),
       timestamptz '2020-01-01 00:00:00+00' + i * interval '37 seconds',
       (SELECT string_agg(w[1 + (hashint8(i * 64 + j) & 2147483647) % array_length(w, 1)], ' ')
        FROM generate_series(1, 40) AS j),
       ARRAY['tag' || (i % 17), 'tag' || (i % 101)]
FROM generate_series(1, $TEXT_ROWS) AS i,
     LATERAL (SELECT ARRAY['the','of','and','to','in','is','for','that','with','as',
                           'database','backup','restore','server','table','index','query',
                           'postgres','replica','snapshot','archive','segment','commit',
                           'transaction','vacuum','checkpoint','buffer','tuple','page',
                           'relation','schema','function','trigger','sequence','column',
                           'customer','order','invoice','payment','shipment','product',
                           'warehouse','account','balance','ledger','report','monthly',
                           'quarterly','annual','revenue','margin','forecast','budget',
                           'alpha','bravo','charlie','delta','echo','foxtrot','golf',
                           'hotel','india','juliett','kilo','lima','mike'] AS w) AS words;
CREATE INDEX docs_author ON docs (author);

CREATE TABLE blobs (id bigint PRIMARY KEY, data bytea NOT NULL);
INSERT INTO blobs
SELECT i, (SELECT string_agg(sha256(int8send(i * 64 + j)), ''::bytea) FROM generate_series(1, 31) AS j)
FROM generate_series(1, $BLOB_ROWS) AS i;
VACUUM ANALYZE;
CHECKPOINT;
SQL
	DB_BYTES="$("${PSQL[@]}" -A -t -d "$DB" -c "SELECT pg_database_size('$DB')")"
	log "database ready: $((DB_BYTES / 1048576)) MB in $((SECONDS - t0))s"
}

# timed NAME CMD...: runs CMD under GNU time (after the caller's bench_quiesce,
# if it defines one: checkpoints), appends "NAME seconds maxrss_kb" to
# $RESULTS; output in $WORKDIR/out.NAME and err.NAME.  A failure stops the run.
timed() {
	local name="$1"
	shift
	local tf="$WORKDIR/time.$name"
	if declare -F bench_quiesce >/dev/null; then bench_quiesce; fi
	sync
	if ! /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$WORKDIR/out.$name" 2>"$WORKDIR/err.$name"; then
		tail -n 20 "$WORKDIR/err.$name" >&2
		die "$name failed: $*"
	fi
	printf '%s %s\n' "$name" "$(tail -n 1 "$tf")" >>"$RESULTS"
	log "$name: $(tail -n 1 "$tf" | awk '{printf "%.2fs, peak RSS %.1f MB", $1, $2/1024}')"
}

# best NAME FIELD: the minimum of FIELD (2 = seconds, 3 = RSS KB) over runs
best() { awk -v n="$1" -v f="$2" '$1 == n { if (m == "" || $f + 0 < m + 0) m = $f } END { print m }' "$RESULTS"; }

# Report helpers: a/b to 2 decimals; 1/0 for a <= b, a < b; PASS/MISS; KB and bytes as MB.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' && echo 1 || echo 0; }
verdict() { if [ "$1" = 1 ]; then echo "PASS"; else echo "MISS"; fi; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mbb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
