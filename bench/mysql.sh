#!/usr/bin/env bash
# Benchmark: backupd dump / dbrestore restore against mysqldump + mysql and
# mydumper + myloader on the same ~1 GB MariaDB database, same machine, same
# server.
#
#   bench/mysql.sh [--scale N] [--runs N] [--port P] [--workdir DIR] [--build-dir DIR]
#                  [--keep] [--strict] [--no-build] [--steady-memory]
#
#   --scale N      data size in units of ~100 MB (default 10: ~1 GB of InnoDB
#                  tables): a large narrow table (orders), a text-heavy table
#                  (docs), an incompressible table (blobs), a wide table
#                  (wide, 30 columns) and a small one (customers).
#                  --scale 1 is a quick smoke test.
#   --runs N       repeat each timed step N times, report the fastest (default 1)
#   --port P       server port (default 53306)
#   --workdir DIR  scratch directory (default /tmp/backupd-bench-mysql)
#   --build-dir D  where backupd/backupd and restore/dbrestore are (default build)
#   --keep         leave the server running and the scratch directory in place
#   --strict       exit 1 if a target is missed
#   --no-build     do not build when the binaries are missing
#   --steady-memory  (root, a VM whose balloon reports free pages to its
#                host) turn that reporting off for the run, put back at
#                exit: see bench_steady_memory in bench/lib.sh
#
# Compared, each with 2 jobs/threads where the tool has them:
#   dump:    backupd dump --jobs 2 (default zstd, default chunk size)
#            vs  mariadb-dump --single-transaction --quick --master-data=2 DB | zstd -1
#            vs  mydumper --threads 2 --rows 500000 --compress (gzip in mydumper 0.10)
#   restore: dbrestore restore --jobs 2 --create --no-binlog (binlog off, as myloader)
#            vs  CREATE DATABASE + zstd -dc | mariadb
#            vs  myloader --threads 2 (creates the database; binlog off, its default)
# Every dump takes routines, triggers and events; each tool records a binlog
# position.  Reported: wall time and ratios, stored bytes (du), peak RSS (GNU
# time %M), CPU seconds of the tool (with its pipeline) and of the server.  Targets: dump at least 3x faster than mariadb-dump (ratio <= 0.33)
# and no slower than mydumper (<= 1.00x); restore at most 0.8x myloader's
# time; restore peak RSS < 100 MB.  Between steps the server's dirty pages are flushed, so one
# step's writes do not slow the next.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
SCALE=10
RUNS=1
PORT=53306
WORKDIR=/tmp/backupd-bench-mysql
BUILD_DIR="$ROOT/build"
KEEP=0
STRICT=0
BUILD=1
STEADY_MEM=0

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
	--steady-memory) STEADY_MEM=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/mysql.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$SCALE" in '' | *[!0-9]* | 0) echo "bench/mysql.sh: --scale must be a positive integer" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "bench/mysql.sh: --runs must be a positive integer" >&2; exit 2 ;; esac
case "$WORKDIR" in /*) ;; *) WORKDIR="$(pwd -P)/$WORKDIR" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

BACKUPD="${BACKUPD_BIN:-$BUILD_DIR/backupd/backupd}"
DBRESTORE="${DBRESTORE_BIN:-$BUILD_DIR/restore/dbrestore}"
MYSRV="$WORKDIR/mariadb"
REPO="$WORKDIR/repo"
SQLDUMP="$WORKDIR/mysqldump.sql.zst"
MYDUMPER_DIR="$WORKDIR/mydumper"
DB=bench

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

[ -x /usr/bin/time ] || die "GNU time is missing: run scripts/deps.sh (package 'time')"
for tool in mariadb mariadb-dump mydumper myloader zstd; do
	command -v "$tool" >/dev/null || die "$tool is missing: run scripts/deps.sh mariadb tools"
done

bench_build_if_missing

cleanup() {
	if [ "$KEEP" = 1 ]; then
		log "kept: server in $MYSRV (client options: $MYSRV/my.cnf), scratch in $WORKDIR"
	else
		bash "$ROOT/scripts/mariadb-server.sh" stop "$MYSRV" >/dev/null 2>&1 || true
		rm -rf "$WORKDIR"
	fi
	bench_steady_memory_restore
}
trap cleanup EXIT
[ "$STEADY_MEM" = 1 ] && bench_steady_memory bench/mysql.sh

# --- server ----------------------------------------------------------------
rm -rf "$WORKDIR"
mkdir -p "$WORKDIR"
chmod 0755 "$WORKDIR"
export MY_SERVER_CONF="innodb-buffer-pool-size = 2G
innodb-log-file-size = 1G
innodb-io-capacity = 2000
max-allowed-packet = 1G"
bash "$ROOT/scripts/mariadb-server.sh" start "$MYSRV" "$PORT"
CNF="$MYSRV/my.cnf"
URI_BASE="mysql://root@127.0.0.1:$PORT"
SQL=(mariadb --defaults-file="$CNF" --default-character-set=utf8mb4 -N -B)
CONN=(-h 127.0.0.1 -P "$PORT" -u root)

# --- data --------------------------------------------------------------------
t0=$SECONDS
ORDERS=$((SCALE * 800000))
DOCS=$((SCALE * 40000))
BLOBS=$((SCALE * 8000))
WIDE=$((SCALE * 12000))
log "creating database '$DB': $ORDERS orders, $DOCS docs, $BLOBS blobs, $WIDE wide rows"
"${SQL[@]}" <<SQLEOF
SET SESSION sql_log_bin = 0, SESSION unique_checks = 0, SESSION foreign_key_checks = 0;
CREATE DATABASE $DB;
USE $DB;
CREATE TABLE customers (
    id      INT NOT NULL PRIMARY KEY,
    name    VARCHAR(60) NOT NULL,
    email   VARCHAR(80) NOT NULL,
    country CHAR(2) NOT NULL,
    created DATETIME NOT NULL,
    UNIQUE KEY u_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO customers
SELECT seq, CONCAT('customer ', seq), CONCAT('c', seq, '@example.com'),
       ELT(1 + seq % 8, 'DE', 'FR', 'US', 'GB', 'JP', 'BR', 'IN', 'NL'),
       '2015-01-01' + INTERVAL seq MINUTE
FROM seq_1_to_50000;

CREATE TABLE orders (
    id          BIGINT NOT NULL PRIMARY KEY,
    customer_id INT NOT NULL,
    status      ENUM('new', 'paid', 'shipped', 'cancelled') NOT NULL,
    amount      DECIMAL(12,2) NOT NULL,
    created     DATETIME NOT NULL,
    updated     TIMESTAMP NULL,
    note        VARCHAR(32),
    KEY k_customer (customer_id),
    CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO orders
SELECT seq, 1 + seq % 50000, 1 + seq % 4, (seq * 7919) % 1000000 / 100,
       '2020-01-01' + INTERVAL seq * 3 SECOND,
       IF(seq % 3 = 0, NULL, '2021-01-01' + INTERVAL seq SECOND),
       IF(seq % 5 = 0, NULL, LEFT(MD5(seq), 8 + seq % 24))
FROM seq_1_to_$ORDERS;

CREATE TABLE docs (
    id      BIGINT NOT NULL PRIMARY KEY,
    author  VARCHAR(40) NOT NULL,
    created DATETIME(6) NOT NULL,
    title   VARCHAR(200) NOT NULL,
    body    TEXT NOT NULL,
    KEY k_author (author)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO docs
SELECT seq, CONCAT('author-', seq % 5000), '2020-01-01' + INTERVAL seq * 37 SECOND,
       CONCAT('report ', seq, ' on ', ELT(1 + seq % 6, 'backup', 'restore', 'replication', 'indexes', 'storage', 'queries')),
       CONCAT_WS(' ',
         REPEAT(CONCAT(ELT(1 + seq % 7, 'the database', 'a backup of', 'the server', 'each table', 'transaction log', 'snapshot of', 'restore into'), ' '), 1 + seq % 5),
         MD5(seq), 'customer order invoice payment shipment product warehouse account balance ledger',
         MD5(seq + 1), 'quarterly report revenue margin forecast budget alpha bravo charlie delta echo',
         REPEAT('lorem ipsum dolor sit amet ', 1 + seq % 6), SHA1(seq))
FROM seq_1_to_$DOCS;

CREATE TABLE blobs (
    id   BIGINT NOT NULL PRIMARY KEY,
    data VARBINARY(1024) NOT NULL
) ENGINE=InnoDB;
INSERT INTO blobs SELECT seq, RANDOM_BYTES(1000) FROM seq_1_to_$BLOBS;

CREATE TABLE wide (
    id BIGINT NOT NULL PRIMARY KEY,
    c01 INT, c02 INT, c03 BIGINT, c04 SMALLINT, c05 TINYINT,
    c06 DECIMAL(10,2), c07 DECIMAL(18,6), c08 DOUBLE, c09 FLOAT, c10 BIT(8),
    c11 DATE, c12 DATETIME, c13 TIMESTAMP NULL, c14 TIME, c15 YEAR,
    c16 VARCHAR(40), c17 VARCHAR(80), c18 CHAR(10), c19 TEXT, c20 VARCHAR(255),
    c21 ENUM('a', 'b', 'c'), c22 SET('x', 'y', 'z'), c23 VARBINARY(32), c24 JSON, c25 VARCHAR(20),
    c26 INT, c27 INT, c28 VARCHAR(30), c29 DATETIME(3), c30 VARCHAR(60)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO wide
SELECT seq, seq, -seq, seq * 1000003, seq % 30000, seq % 100,
       seq / 7, seq / 13, seq / 17, seq / 19, seq % 256,
       '2000-01-01' + INTERVAL seq % 9000 DAY, '2010-01-01' + INTERVAL seq MINUTE,
       IF(seq % 4 = 0, NULL, '2015-01-01' + INTERVAL seq SECOND), SEC_TO_TIME(seq % 86400), 1990 + seq % 40,
       MD5(seq), CONCAT(MD5(seq), '-', SHA1(seq)), LEFT(MD5(seq + 7), 10), REPEAT(CONCAT('text ', seq % 100, ' '), 20),
       CONCAT('https://example.com/', seq, '/', MD5(seq)),
       1 + seq % 3, seq % 8, UNHEX(MD5(seq)), CONCAT('{"id": ', seq, ', "tag": "t', seq % 10, '"}'), IF(seq % 2, NULL, 'even'),
       seq % 1000, seq % 7, CONCAT('label ', seq % 500), '2019-01-01' + INTERVAL seq * 100000 MICROSECOND,
       CONCAT('addr ', seq, ' street ', seq % 300)
FROM seq_1_to_$WIDE;

DELIMITER //
CREATE PROCEDURE order_total(IN cid INT, OUT total DECIMAL(14,2))
BEGIN
    SELECT SUM(amount) INTO total FROM orders WHERE customer_id = cid;
END//
CREATE TRIGGER orders_bu BEFORE UPDATE ON orders FOR EACH ROW SET NEW.updated = NOW()//
DELIMITER ;
CREATE VIEW order_stats AS SELECT status, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY status;
ANALYZE TABLE customers, orders, docs, blobs, wide;
SQLEOF
DB_BYTES="$("${SQL[@]}" -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$DB'")"
log "database ready: $((DB_BYTES / 1048576)) MB (data + indexes) in $((SECONDS - t0))s"

# --- timing helpers --------------------------------------------------------------
# Flush the buffer pool's dirty pages so the previous step's writes do not
# slow the next one (bounded wait; not an assertion).
settle() {
	local _ dirty
	"${SQL[@]}" -e "SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0.001, GLOBAL innodb_max_dirty_pages_pct = 0.001" >/dev/null
	for _ in $(seq 1 600); do
		dirty="$("${SQL[@]}" -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | cut -f2)"
		[ "${dirty:-0}" -lt 200 ] && break
		sleep 0.5
	done
	"${SQL[@]}" -e "SET GLOBAL innodb_max_dirty_pages_pct = 90, GLOBAL innodb_max_dirty_pages_pct_lwm = 0" >/dev/null
	sync
}

# CPU seconds the server has used so far (user + system, from /proc)
SERVER_PID="$(cat "$MYSRV/sock/mariadbd.pid")"
CLK_TCK="$(getconf CLK_TCK)"
server_cpu() { awk -v hz="$CLK_TCK" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }

# timed and best (bench/lib.sh) record "NAME seconds maxrss_kb client_cpu_s
# server_cpu_s" (client: the tool and its children, e.g. zstd in a pipeline;
# server: what mariadbd spent meanwhile)
RESULTS="$WORKDIR/results.txt"
: >"$RESULTS"
bench_quiesce() { settle; }
bench_server_cpu() { server_cpu; }

# The peer tools get the password from the 0600 client option file; backupd
# and dbrestore from MYSQL_PWD, set by a wrapper that reads the password
# file (never argv, not even env's).
WITH_PWD="$WORKDIR/with-mysql-pwd.sh"
cat >"$WITH_PWD" <<EOF
#!/usr/bin/env bash
MYSQL_PWD="\$(cat "$MYSRV/password")" exec "\$@"
EOF
chmod 0700 "$WITH_PWD"
cat >"$WORKDIR/mysqldump.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
mariadb-dump --defaults-file="$CNF" --single-transaction --quick --master-data=2 \\
    --routines --triggers --events "$DB" | zstd -1 -q -o "$SQLDUMP"
EOF
cat >"$WORKDIR/mysql_restore.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
mariadb --defaults-file="$CNF" -e "CREATE DATABASE \$1"
zstd -dc "$SQLDUMP" | mariadb --defaults-file="$CNF" -D "\$1"
EOF
MYDUMPER=(mydumper --defaults-file="$CNF" "${CONN[@]}" -B "$DB" -o "$MYDUMPER_DIR" --threads 2
	--rows 500000 --compress --routines --triggers --events)
myloader_cmd() { echo myloader --defaults-file="$CNF" "${CONN[@]}" -d "$MYDUMPER_DIR" -B "$1" --threads 2; }

drop_restores() {
	"${SQL[@]}" -e "DROP DATABASE IF EXISTS r_backupd; DROP DATABASE IF EXISTS r_mysql; DROP DATABASE IF EXISTS r_myloader"
}

# --- runs ----------------------------------------------------------------------
for run in $(seq 1 "$RUNS"); do
	log "run $run/$RUNS"
	rm -rf "$REPO" "$SQLDUMP" "$MYDUMPER_DIR"
	timed backupd_dump "$WITH_PWD" "$BACKUPD" dump --source "$URI_BASE/$DB" --repo "$REPO" --name "$DB" --jobs 2
	timed mysqldump bash "$WORKDIR/mysqldump.sh"
	timed mydumper "${MYDUMPER[@]}"
	drop_restores
	timed dbrestore "$WITH_PWD" "$DBRESTORE" restore --repo "$REPO" --name "$DB" --to "$URI_BASE/r_backupd" --jobs 2 --create --no-binlog
	timed mysql_restore bash "$WORKDIR/mysql_restore.sh" r_mysql
	# shellcheck disable=SC2046
	timed myloader $(myloader_cmd r_myloader)
done

# --- sanity: the restores hold the same rows ----------------------------------
counts() {
	"${SQL[@]}" -D "$1" -e "SELECT CONCAT_WS('/', (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM docs),
	    (SELECT COUNT(*) FROM blobs), (SELECT COUNT(*) FROM wide), (SELECT SUM(amount) FROM orders))"
}
# CHECKSUM TABLE ... EXTENDED of every table: "table=sum ..."
checksums() {
	"${SQL[@]}" -e "CHECKSUM TABLE $1.customers, $1.orders, $1.docs, $1.blobs, $1.wide EXTENDED" |
		sed "s/^$1\.//" | tr '\t' '=' | tr '\n' ' '
}
# differing A B: the tables whose checksums differ ("none" if all agree)
differing() {
	local out="" a
	for a in $1; do
		case " $2 " in *" $a "*) ;; *) out+="${a%%=*} " ;; esac
	done
	echo "${out:-none}"
}
c_src="$(counts "$DB")"
c_bd="$(counts r_backupd)"
c_sql="$(counts r_mysql)"
c_myl="$(counts r_myloader)"
sum_src="$(checksums "$DB")"
sum_bd="$(checksums r_backupd)"
sum_sql="$(checksums r_mysql)"
sum_myl="$(checksums r_myloader)"
[ "$c_src" = "$c_bd" ] || log "WARNING: dbrestore result differs from the source: $c_bd vs $c_src"
[ "$sum_src" = "$sum_bd" ] || log "WARNING: dbrestore table checksums differ from the source: $sum_bd vs $sum_src"
[ "$c_src" = "$c_sql" ] || log "WARNING: mysql < dump result differs from the source: $c_sql vs $c_src"
[ "$c_src" = "$c_myl" ] || log "WARNING: myloader result differs from the source: $c_myl vs $c_src"

# --- report --------------------------------------------------------------------
repo_bytes="$(du -sb "$REPO" | cut -f1)"
sqldump_bytes="$(du -sb "$SQLDUMP" | cut -f1)"
mydumper_bytes="$(du -sb "$MYDUMPER_DIR" | cut -f1)"

bd_dump_t="$(best backupd_dump 2)"
sd_dump_t="$(best mysqldump 2)"
md_dump_t="$(best mydumper 2)"
bd_rest_t="$(best dbrestore 2)"
sd_rest_t="$(best mysql_restore 2)"
md_rest_t="$(best myloader 2)"

verdict() { if [ "$1" = 1 ]; then echo "PASS"; else echo "FAIL"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mbb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

r_dump_sd="$(ratio "$bd_dump_t" "$sd_dump_t")"
r_dump_md="$(ratio "$bd_dump_t" "$md_dump_t")"
r_rest_sd="$(ratio "$bd_rest_t" "$sd_rest_t")"
r_rest_md="$(ratio "$bd_rest_t" "$md_rest_t")"
ok_dump_sd="$(le "$r_dump_sd" 0.3334)"
ok_dump_md="$(le "$r_dump_md" 1.00)"
ok_rest_md="$(le "$r_rest_md" 0.80)"
ok_rss_rest="$(awk -v k="$(best dbrestore 3)" 'BEGIN { exit !(k < 102400) }' && echo 1 || echo 0)"

echo
echo "backupd vs mariadb-dump/mysql and mydumper/myloader: scale $SCALE, database $(mbb "$DB_BYTES") MB, 2 jobs/threads, best of $RUNS run(s)"
echo "server: MariaDB $("${SQL[@]}" -e 'SELECT VERSION()'), $(mydumper --version | awk '{print $1, $2}' | tr -d ,), $(nproc) cores${BENCH_MEMORY_NOTE:-}"
bench_machine_line
echo
row() { printf '%-22s %10s %12s %10s   %-26s %s\n' "$@"; }
row "" "backupd" "mariadb-dump" "mydumper" "ratio / target" "result"
row "dump time (s)" "$bd_dump_t" "$sd_dump_t" "$md_dump_t" "${r_dump_sd}x <= 0.33x mysqldump" "$(verdict "$ok_dump_sd")"
row "" "" "" "" "${r_dump_md}x <= 1.00x mydumper" "$(verdict "$ok_dump_md")"
row "stored size (MB)" "$(mbb "$repo_bytes")" "$(mbb "$sqldump_bytes")" "$(mbb "$mydumper_bytes")" "zstd / zstd -1 / gzip" ""
row "dump peak RSS (MB)" "$(mb "$(best backupd_dump 3)")" "$(mb "$(best mysqldump 3)")" "$(mb "$(best mydumper 3)")" "" ""
row "dump CPU client (s)" "$(best backupd_dump 4)" "$(best mysqldump 4)" "$(best mydumper 4)" "incl. zstd/gzip" ""
row "dump CPU server (s)" "$(best backupd_dump 5)" "$(best mysqldump 5)" "$(best mydumper 5)" "mariadbd, same rows" ""
row "" "dbrestore" "mysql<dump" "myloader" "" ""
row "restore time (s)" "$bd_rest_t" "$sd_rest_t" "$md_rest_t" "${r_rest_md}x <= 0.80x myloader" "$(verdict "$ok_rest_md")"
row "" "" "" "" "${r_rest_sd}x vs mysql<dump" ""
row "restore peak RSS (MB)" "$(mb "$(best dbrestore 3)")" "$(mb "$(best mysql_restore 3)")" "$(mb "$(best myloader 3)")" "< 100 MB" "$(verdict "$ok_rss_rest")"
# What the machine allows: a dump cannot finish before the CPU work it needs
# (server + client) has run on all cores, nor before the server has produced
# the rows.  mariadb-dump is one stream, so it gains nothing from more cores.
cores="$(nproc)"
floor="$(awk -v c="$(best backupd_dump 4)" -v s="$(best backupd_dump 5)" -v n="$cores" 'BEGIN { printf "%.2f", (c + s) / n }')"
server_floor="$(awk -v s="$(best backupd_dump 5)" -v n="$cores" 'BEGIN { printf "%.2f", s / n }')"
need="$(awk -v t="$sd_dump_t" 'BEGIN { printf "%.2f", t / 3 }')"
echo
echo "dump CPU bound on $cores cores: backupd's dump needs $(best backupd_dump 4)s client + $(best backupd_dump 5)s server CPU = ${floor}s of wall time at best (server alone ${server_floor}s); 3x mariadb-dump needs <= ${need}s"

echo
echo "row check (orders/docs/blobs/wide/sum): source $c_src, dbrestore $c_bd, mysql $c_sql, myloader $c_myl"
echo "tables whose CHECKSUM TABLE differs from the source: dbrestore $(differing "$sum_src" "$sum_bd"), mysql $(differing "$sum_src" "$sum_sql"), myloader $(differing "$sum_src" "$sum_myl")"

if [ "$STRICT" = 1 ] && [ "$((ok_dump_sd & ok_dump_md & ok_rest_md & ok_rss_rest))" -ne 1 ]; then
	exit 1
fi
if [ "$c_src" != "$c_bd" ] || [ "$sum_src" != "$sum_bd" ]; then
	exit 1
fi
