#!/usr/bin/env bash
# run.sh: long
# MySQL/MariaDB logical dump and restore, end to end, against a real MariaDB:
# round trips of a corner-case database (password from a config
# password-file and from MYSQL_PWD; --jobs 1, 2 and 4 with small chunks; the
# INSERT fallback when the server refuses local_infile), the repository
# layout (manifest with the binlog position, TSV chunks readable by LOAD DATA,
# percent-encoded object names), a multi-database dump restored onto a second
# server, the no-FTWRL mode for a user without RELOAD, and the failure paths
# (corrupt chunk, wrong password, non-empty target, unreachable server).
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")" && pwd -P)"

require_binaries
mariadb_start

REPO="$BD_TMP/repo"
SRC_URI="$(my_uri src)"
ID_RE='^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$'

# manifest ID: path of a backup's manifest.json in $REPO (source "src")
manifest_of() { printf '%s/%s/backups/%s/manifest.json\n' "${2:-$REPO}" "${3:-src}" "$1"; }

# --------------------------------------------------------------------------
note "loading mysql_corner_cases.sql into 'src'"
my_db_create src
check "corner-case database loads" my_sql_file src "$HERE/mysql_corner_cases.sql"
BIG_ROWS="$(my_sql src 'SELECT COUNT(*) FROM big')"
# The dump sizes its key ranges from the table statistics, which InnoDB
# refreshes in the background after a bulk load: make them current.
my_sql src 'ANALYZE TABLE big, big_strkey, big_composite' >/dev/null
read -r BINLOG_FILE BINLOG_POS _ < <(my_sql "" 'SHOW MASTER STATUS')
note "source: big has $BIG_ROWS rows; binlog at $BINLOG_FILE:$BINLOG_POS"

CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[repo:local]
url = $REPO

[source:src]
url = $SRC_URI
password-file = $MY_PASSWORD_FILE

[source:dst1]
url = $(my_uri dst1)
password-file = $MY_PASSWORD_FILE
EOF

# --------------------------------------------------------------------------
note "dump --jobs 2, password from the config's password-file"
run "$BACKUPD" -c "$CONF" dump --source src --repo local --jobs 2
assert_rc "dump --jobs 2 (password-file) succeeds" 0
ID1="$(last_line)"
assert_match "dump prints the backup ID as its last line" "$ID_RE" "$ID1"
B1="$REPO/src/backups/$ID1"
M1="$(manifest_of "$ID1")"
assert_file "backup has manifest.json" "$M1"

check "manifest: engine mysql, kind dump, flavor mariadb, consistency ftwrl" python3 - "$M1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["engine"] == "mysql", m["engine"]
assert m["kind"] == "dump", m["kind"]
info = m["info"]
assert info["flavor"] == "mariadb", info.get("flavor")
assert info["consistency"] == "ftwrl", info.get("consistency")
assert "MariaDB" in info["server_version"] or "MariaDB" in m.get("server_version", ""), info.get("server_version")
assert info["time_zone"] == "+00:00", info.get("time_zone")
assert isinstance(info["sql_mode"], str), info.get("sql_mode")
PY
check "manifest records the binlog file and position of the snapshot ($BINLOG_FILE:$BINLOG_POS)" \
	python3 - "$M1" "$BINLOG_FILE" "$BINLOG_POS" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["info"]["binlog"]
assert isinstance(b, dict), f"binlog is {b!r}"
assert b["file"] == sys.argv[2], f"file {b['file']!r}, server says {sys.argv[2]!r}"
assert int(b["position"]) == int(sys.argv[3]), f"position {b['position']!r}, server says {sys.argv[3]}"
PY
check "manifest lists every table with columns, types, rows and chunks" python3 - "$M1" "$BIG_ROWS" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
dbs = m["info"]["databases"]
assert [d["name"] for d in dbs] == ["src"], [d["name"] for d in dbs]
d = dbs[0]
assert d["charset"] == "utf8mb4", d["charset"]
tables = {t["name"]: t for t in d["tables"]}
for want in ("big", "bin_data", "odd `name` ü 表", "sp ace", "sp%20ace", "back\\slash", "myisam_t", "no_key"):
    assert want in tables, f"table {want!r} missing"
big = tables["big"]
assert big["rows"] == int(sys.argv[2]), f"big rows {big['rows']} != {sys.argv[2]}"
assert big["columns"] == ["id", "grp", "payload", "amount", "created", "flags", "raw"], big["columns"]
assert big["column_types"][5] == "bit", big["column_types"]
assert big["auto_increment"] is not None
assert tables["myisam_t"]["engine"] == "MyISAM", tables["myisam_t"]["engine"]
g = tables["gen_cols"]
assert "s" not in g["columns"] and "p" not in g["columns"] and "up" not in g["columns"], g["columns"]
assert tables["ai_gap"]["auto_increment"] == 1000, tables["ai_gap"]["auto_increment"]
objs = {o["name"] for o in m["objects"]}
for t in tables.values():
    assert t["chunks"], f"table {t['name']!r} has no chunks"
    for c in t["chunks"]:
        assert c in objs, f"chunk {c} not among the manifest's objects"
views = d["views"]
assert views.index("m_base_view") < views.index("z_mid_view") < views.index("a_top_view"), views
PY
for obj in create-database.sql tables.sql views.sql triggers.sql routines.sql events.sql; do
	assert_file "backup has src/$obj.zst" "$B1/src/$obj.zst"
done
check "every .zst object passes zstd -t" \
	bash -c 'find "$1" -name "*.zst" -type f -print0 | xargs -0 -r zstd -q -t' _ "$B1"
check "tables.sql is plain SQL with AUTO_INCREMENT kept" \
	bash -c 'zstd -dc "$1" | grep -q "AUTO_INCREMENT=1000"' _ "$B1/src/tables.sql.zst"
check "routines.sql has no DEFINER clause" \
	bash -c '! zstd -dc "$1" | grep -q "DEFINER="' _ "$B1/src/routines.sql.zst"
check "views.sql has no DEFINER clause" \
	bash -c '! zstd -dc "$1" | grep -q "DEFINER="' _ "$B1/src/views.sql.zst"
# Object names: only [A-Za-z0-9_.-] kept, everything else %XX.
for pair in "sp%20ace:sp ace" "sp%2520ace:sp%20ace" "my.table-1%25:my.table-1%" "back%5Cslash:back\\slash"; do
	enc="${pair%%:*}"
	check "table '${pair#*:}' is stored as data/$enc.NNNNN.tsv.zst" \
		bash -c 'ls "$1/src/data/" | grep -i -q -x -F -- "$2.00000.tsv.zst"' _ "$B1" "$enc"
done
check "no object name outside [A-Za-z0-9_.%-]" \
	bash -c '! find "$1" -type f -printf "%P\n" | grep -q "[^A-Za-z0-9_.%/-]"' _ "$B1"
# TSV: NULL is \N; the string '\N' is \\N; BIT as decimal
nulls_chunk="$B1/src/data/nulls.00000.tsv.zst"
zstd -dcq "$nulls_chunk" >"$BD_TMP/nulls.tsv" 2>/dev/null || true
check "TSV: NULL is \\N, the string 'NULL' is NULL, the string '\\N' is \\\\N" python3 - "$BD_TMP/nulls.tsv" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
for want in (b"1\t\\N\t\\N\t\\N\t\\N", b"2\tNULL\tNULL\tNULL\t0", b"3\t\\\\N\t\\\\N\t\\\\N\t-1", b"4\t\t\t\t\\N"):
    assert want in lines, f"no line {want!r} in {lines!r}"
PY
check "TSV: BIT(64) written as its unsigned decimal value" \
	bash -c 'zstd -dc "$1" | grep -q -P "^2\t1\t127\t18446744073709551615\t1$"' _ "$B1/src/data/bits.00000.tsv.zst"
check_not "password not stored in the repository" \
	bash -c 'grep -r -q -F -- "$2" "$1" || find "$1" -name "*.zst" -type f -print0 | xargs -0 zstd -dcq | grep -q -F -- "$2"' _ "$REPO" "$MY_PASSWORD"

note "the repository is readable with standard tools: tables.sql + LOAD DATA of a chunk"
my_db_create manual
check "tables.sql loads with the mariadb client" bash -c '
	{ echo "SET foreign_key_checks = 0; SET sql_mode = \"\";"; zstd -dc "$1"; } |
	/usr/bin/mariadb --defaults-file="$2" --default-character-set=utf8mb4 -D manual' _ "$B1/src/tables.sql.zst" "$MY_CNF"
zstd -dcq "$B1/src/data/bin_data.00000.tsv.zst" >"$BD_TMP/bin_data.tsv" || true
chmod 0644 "$BD_TMP/nulls.tsv" "$BD_TMP/bin_data.tsv" 2>/dev/null || true
for t in nulls bin_data; do
	cat <<EOF
LOAD DATA LOCAL INFILE '$BD_TMP/$t.tsv' INTO TABLE $t CHARACTER SET binary
    FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n';
EOF
done >"$BD_TMP/load-data.sql"
check "a chunk loads with LOAD DATA LOCAL INFILE and the documented options" \
	bash -c '/usr/bin/mariadb --defaults-file="$1" --local-infile=1 -D manual <"$2"' _ "$MY_CNF" "$BD_TMP/load-data.sql"
for t in nulls bin_data; do
	q="SELECT MD5(GROUP_CONCAT(CONCAT_WS(',', id, HEX(b), HEX(vb), HEX(fb), HEX(tb), HEX(lb), HEX(note), b IS NULL) ORDER BY id SEPARATOR ';')) FROM $t"
	[ "$t" = nulls ] && q="SELECT MD5(GROUP_CONCAT(CONCAT_WS(',', id, HEX(v), HEX(c), HEX(t), i, v IS NULL, t IS NULL, i IS NULL) ORDER BY id SEPARATOR ';')) FROM $t"
	assert_eq "LOAD DATA of the $t chunk gives the source rows" "$(my_sql src "$q")" "$(my_sql manual "$q" 2>&1)"
done

# --------------------------------------------------------------------------
note "list and verify"
run "$BACKUPD" list --repo "$REPO" --json
assert_rc "list --json succeeds" 0
check "list --json shows the mysql dump complete" python3 -c '
import json,sys
items = {i["id"]: i for i in json.load(open(sys.argv[1]))}
b = items[sys.argv[2]]
assert b["engine"] == "mysql" and b["kind"] == "dump" and b["status"] == "complete", b
assert b["name"] == "src", b
assert 0 < b["stored_size"] < b["size"], b' "$RUN_OUT" "$ID1"
run "$BACKUPD" verify --repo "$REPO" --name src "$ID1"
assert_rc "verify $ID1 succeeds" 0

# --------------------------------------------------------------------------
note "restore --create --jobs 2 (password-file)"
run "$DBRESTORE" -c "$CONF" restore --repo local --name src --backup "$ID1" --to dst1 --jobs 2 --create
assert_rc "restore --create --jobs 2 succeeds" 0
check "restored database matches the source (jobs 2)" my_compare src dst1
assert_eq "triggers did not fire during the restore (audit_log rows)" \
	"$(my_sql src 'SELECT COUNT(*) FROM audit_log')" "$(my_sql dst1 'SELECT COUNT(*) FROM audit_log' 2>&1)"

# --------------------------------------------------------------------------
for jobs in 1 4; do
	note "dump and restore --jobs $jobs with --chunk-size 64KB (MYSQL_PWD)"
	if [ "$jobs" = 4 ]; then
		# Sessions must not inherit these: the dump and the restore set their own.
		note "server defaults for this round: time_zone +05:30, sql_mode ANSI_QUOTES,PIPES_AS_CONCAT,NO_ZERO_DATE,..."
		my_sql "" "SET GLOBAL time_zone = '+05:30',
			GLOBAL sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT,STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_BACKSLASH_ESCAPES'"
	fi
	REPO_J="$BD_TMP/repo-j$jobs"
	MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO_J" --name src --jobs "$jobs" --chunk-size 64KB
	assert_rc "dump --jobs $jobs --chunk-size 64KB succeeds" 0
	IDJ="$(last_line)"
	nbig="$(find "$REPO_J/src/backups/$IDJ/src/data" -name 'big.*.tsv.zst' -type f 2>/dev/null | wc -l)"
	check "big is split into several chunks ($nbig)" test "$nbig" -gt 2
	nstr="$(find "$REPO_J/src/backups/$IDJ/src/data" -name 'big_strkey.*.tsv.zst' -type f 2>/dev/null | wc -l)"
	note "big_strkey (string key) in $nstr chunk(s)"
	ncomp="$(find "$REPO_J/src/backups/$IDJ/src/data" -name 'big_composite.*.tsv.zst' -type f 2>/dev/null | wc -l)"
	check "big_composite (composite primary key) is split into several chunks ($ncomp)" test "$ncomp" -gt 2
	check "chunk row counts of big add up to $BIG_ROWS" python3 - "$(manifest_of "$IDJ" "$REPO_J")" "$BIG_ROWS" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
objs = {o["name"]: o for o in m["objects"]}
big = [t for t in m["info"]["databases"][0]["tables"] if t["name"] == "big"][0]
total = sum(objs[c]["rows"] for c in big["chunks"])
assert total == int(sys.argv[2]), f"{total} rows in chunks, {sys.argv[2]} in the table"
PY
	check "chunk row counts of big_composite add up to 30000" python3 - "$(manifest_of "$IDJ" "$REPO_J")" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
objs = {o["name"]: o for o in m["objects"]}
t = [t for t in m["info"]["databases"][0]["tables"] if t["name"] == "big_composite"][0]
total = sum(objs[c]["rows"] for c in t["chunks"])
assert total == 30000, f"{total} rows in chunks, 30000 in the table"
PY
	run "$BACKUPD" verify --repo "$REPO_J" --name src "$IDJ"
	assert_rc "verify of the --jobs $jobs backup succeeds" 0
	MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" --log-level debug restore --repo "$REPO_J" --name src --backup "$IDJ" --to "$(my_uri "dst_j$jobs")" --jobs "$jobs" --create
	assert_rc "restore --jobs $jobs succeeds" 0
	# gen_cols' plain keys (one on a virtual column) come after its load; the compare checks them
	assert_output_contains "secondary keys are added after the load (jobs $jobs)" "built the secondary keys of dst_j$jobs.gen_cols"
	# child's foreign keys (and the keys InnoDB made for them) too; employees references itself: all stays
	assert_output_contains "foreign keys are added after the load (jobs $jobs)" "built the secondary keys of dst_j$jobs.child"
	check "a self-referencing table keeps its foreign key (jobs $jobs)" \
		bash -c '! grep -q -F -- "$1" "$2" "$3"' _ "built the secondary keys of dst_j$jobs.employees" "$RUN_OUT" "$RUN_ERR"
	check "restored database matches the source (jobs $jobs, small chunks$([ "$jobs" = 4 ] && echo ', odd server time_zone and sql_mode'))" my_compare src "dst_j$jobs"
	if [ "$jobs" = 4 ]; then
		my_sql "" "SET GLOBAL time_zone = DEFAULT, GLOBAL sql_mode = DEFAULT"
	fi
	# dst_j* are not compared again: safe to write to.
	assert_eq "AUTO_INCREMENT counter above max(id) survives (jobs $jobs: next insert gets 1000)" "1000" \
		"$(my_sql "dst_j$jobs" "INSERT INTO ai_gap (v) VALUES ('new'); SELECT LAST_INSERT_ID()" 2>&1)"
done

# --------------------------------------------------------------------------
note "restore with local_infile off on the server: the INSERT fallback"
my_sql "" "SET GLOBAL local_infile = 0"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_noinfile)" --jobs 2 --create
assert_rc "restore with local_infile=0 succeeds" 0
assert_output_matches "the restore says it loads with INSERTs" 'INSERT'
check "restored database (INSERT fallback) matches the source" my_compare src dst_noinfile
my_sql "" "SET GLOBAL local_infile = 1"

# --------------------------------------------------------------------------
note "multi-database dump, restored onto a second server"
my_sql "" "CREATE DATABASE second CHARACTER SET latin1 COLLATE latin1_swedish_ci"
check "second database loads" my_sql second "
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), parent_id INT,
    CONSTRAINT fk_cross FOREIGN KEY (parent_id) REFERENCES src.parent (id));
INSERT INTO t VALUES (1, 'caf\\xe9', 1), (2, NULL, NULL), (3, 'three', 2);
CREATE TABLE empty_second (x INT);
CREATE VIEW cross_view AS SELECT t.id, p.name FROM t JOIN src.parent p ON p.id = t.parent_id;
CREATE FUNCTION second_f() RETURNS INT DETERMINISTIC RETURN 42;"
REPO_MULTI="$BD_TMP/repo-multi"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$MY_URI_BASE/src,second" --repo "$REPO_MULTI" --name both --jobs 2
assert_rc "dump of two databases succeeds" 0
IDM="$(last_line)"
check "manifest lists both databases" python3 -c '
import json,sys
m = json.load(open(sys.argv[1]))
names = [d["name"] for d in m["info"]["databases"]]
assert sorted(names) == ["second", "src"], names
d = [d for d in m["info"]["databases"] if d["name"] == "second"][0]
assert d["charset"] == "latin1" and d["collation"] == "latin1_swedish_ci", d' "$(manifest_of "$IDM" "$REPO_MULTI" both)"
PRIMARY_CNF="$MY_CNF" PRIMARY_DIR="$MY_DIR" PRIMARY_PORT="$MY_PORT" PRIMARY_PASSWORD="$MY_PASSWORD"
PRIMARY_URI_BASE="$MY_URI_BASE" PRIMARY_PASSWORD_FILE="$MY_PASSWORD_FILE"
mariadb_start my2
MY2_CNF="$MY_CNF" MY2_URI_BASE="$MY_URI_BASE" MY2_PASSWORD="$MY_PASSWORD"
MY_CNF="$PRIMARY_CNF" MY_DIR="$PRIMARY_DIR" MY_PORT="$PRIMARY_PORT" MY_PASSWORD="$PRIMARY_PASSWORD"
MY_URI_BASE="$PRIMARY_URI_BASE" MY_PASSWORD_FILE="$PRIMARY_PASSWORD_FILE"
MYSQL_PWD="$MY2_PASSWORD" run "$DBRESTORE" restore --repo "$REPO_MULTI" --name both --backup "$IDM" \
	--to "$MY2_URI_BASE/" --jobs 2 --create
assert_rc "restore of both databases onto the second server succeeds" 0
check "src on the second server matches" my_compare_across "$MY2_CNF" src src
check "second on the second server matches (latin1 database, cross-database FK and view)" \
	my_compare_across "$MY2_CNF" second second

# --------------------------------------------------------------------------
note "consistency under concurrent writes: --jobs 4, small chunks, then binlog replay from the recorded position"
my_db_create cons
check "consistency database loads" my_sql cons "
CREATE TABLE acct_a (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB;
CREATE TABLE acct_b (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB;
CREATE TABLE xfer (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT, b INT, amt INT, pad CHAR(60)) ENGINE=InnoDB;
INSERT INTO acct_a SELECT seq, 10000 FROM seq_1_to_100;
INSERT INTO acct_b SELECT seq, 10000 FROM seq_1_to_100;
INSERT INTO xfer (a, b, amt, pad) SELECT 0, 0, 0, MD5(seq) FROM seq_1_to_50000;"
# Fresh statistics: the dump sizes its chunks from them.
my_sql cons "ANALYZE TABLE xfer" >/dev/null
# Transfers between the two tables, one transaction each, until told to stop
# (killing it could leave a rolled-back insert's AUTO_INCREMENT gap): any
# snapshot that is not one instant breaks SUM(acct_a) + SUM(acct_b).
cat >"$BD_TMP/writer.py" <<'PY'
import os, random, sys
out = sys.stdout
out.write("SET autocommit = 1;\n")
while not os.path.exists(sys.argv[1]):
    a, b, amt = random.randint(1, 100), random.randint(1, 100), random.randint(1, 50)
    out.write("START TRANSACTION;\n"
              f"UPDATE acct_a SET bal = bal - {amt} WHERE id = {a};\n"
              f"UPDATE acct_b SET bal = bal + {amt} WHERE id = {b};\n"
              f"INSERT INTO xfer (a, b, amt, pad) VALUES ({a}, {b}, {amt}, REPEAT('x', 60));\n"
              "COMMIT;\n")
PY
setsid bash -c 'python3 "$1" "$2" | /usr/bin/mariadb --defaults-file="$3" -D cons >/dev/null 2>&1' _ \
	"$BD_TMP/writer.py" "$BD_TMP/writer.stop" "$MY_CNF" </dev/null >/dev/null 2>&1 &
writer=$!
# Wait (bounded) until the writer is committing.
for _ in $(seq 1 200); do
	[ "$(my_sql cons 'SELECT COUNT(*) FROM xfer')" -gt 50100 ] && break
	sleep 0.05
done
before="$(my_sql cons 'SELECT COUNT(*) FROM xfer')"
REPO_CONS="$BD_TMP/repo-cons"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri cons)" --repo "$REPO_CONS" --name cons --jobs 4 --chunk-size 64KB
assert_rc "dump under concurrent writes succeeds" 0
IDC="$(last_line)"
after="$(my_sql cons 'SELECT COUNT(*) FROM xfer')"
touch "$BD_TMP/writer.stop"
# Bounded wait for the writer to drain; killed only if it hangs.
for _ in $(seq 1 600); do
	kill -0 "$writer" 2>/dev/null || break
	sleep 0.05
done
kill -KILL -- "-$writer" 2>/dev/null || true
{ wait "$writer"; } 2>/dev/null || true
check "transactions committed while the dump ran ($before before, $after after)" test "$after" -gt "$before"
check "the xfer table was dumped in several chunks" python3 -c '
import json,sys
m = json.load(open(sys.argv[1]))
t = [t for t in m["info"]["databases"][0]["tables"] if t["name"] == "xfer"][0]
assert len(t["chunks"]) > 1, t["chunks"]' "$(manifest_of "$IDC" "$REPO_CONS" cons)"
MYSQL_PWD="$MY2_PASSWORD" run "$DBRESTORE" restore --repo "$REPO_CONS" --name cons --backup "$IDC" \
	--to "$MY2_URI_BASE/cons" --jobs 4 --create
assert_rc "restore of the dump taken under writes succeeds (second server)" 0
my2_sql() { MY_CNF="$MY2_CNF" my_sql "$@"; }
assert_eq "restored snapshot is one instant: SUM(acct_a) + SUM(acct_b) = 2000000" "2000000" \
	"$(my2_sql cons 'SELECT (SELECT SUM(bal) FROM acct_a) + (SELECT SUM(bal) FROM acct_b)' 2>&1)"
assert_eq "restored snapshot is one instant: the transfers logged match the balances" "0" \
	"$(my2_sql cons 'SELECT (SELECT 1000000 - SUM(bal) FROM acct_a) - (SELECT SUM(amt) FROM xfer)' 2>&1)"
read -r cons_file cons_pos < <(python3 -c '
import json,sys
b = json.load(open(sys.argv[1]))["info"]["binlog"]
print(b["file"], b["position"])' "$(manifest_of "$IDC" "$REPO_CONS" cons)" 2>/dev/null) || true
if [ -z "${cons_file:-}" ]; then
	fail "the dump under writes recorded a binlog position"
else
	# Replaying the source's binlog from the recorded position onto the restored
	# copy must give exactly the source: nothing missing, nothing twice.
	check "binlog replay from $cons_file:$cons_pos onto the restore succeeds" bash -c '
		set -o pipefail
		/usr/bin/mariadb-binlog --defaults-file="$1" --read-from-remote-server --to-last-log \
			--database=cons --start-position="$2" "$3" |
			/usr/bin/mariadb --defaults-file="$4" -D cons' _ "$MY_CNF" "$cons_pos" "$cons_file" "$MY2_CNF"
	check "restore + binlog replay equals the source (the recorded position is exact)" my_compare_across "$MY2_CNF" cons cons
fi

# --------------------------------------------------------------------------
note "MariaDB objects outside the main corner cases: a SEQUENCE, a system-versioned table, bodies with separator lookalikes"
my_db_create extras
cat >"$BD_TMP/extras.sql" <<'SQL'
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
CREATE SEQUENCE seq_orders START WITH 100 INCREMENT BY 5 CACHE 0;
SELECT NEXTVAL(seq_orders);
CREATE TABLE versioned (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
INSERT INTO versioned VALUES (1, 1);
DELIMITER //
-- Lines that look like the repository's statement separator and headers.
CREATE PROCEDURE p_lookalike()
BEGIN
-- statement
    SELECT 1;
-- sql_mode: ANSI_QUOTES
    SELECT "2";
END//
CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW
BEGIN
-- statement
    SET NEW.v = CONCAT(IFNULL(NEW.v, ''), '!');
END//
DELIMITER ;
INSERT INTO t VALUES (1, 'a');
SQL
check "extras database loads" my_sql_file extras "$BD_TMP/extras.sql"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri extras)" --repo "$BD_TMP/repo-extras" --name extras
assert_rc "dump of the extras database succeeds" 0
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-extras" --name extras --to "$(my_uri extras_r)" --create
assert_rc "restore of the extras database succeeds" 0
check "restored extras database matches (SEQUENCE kept, lookalike lines kept)" my_compare extras extras_r

# --------------------------------------------------------------------------
note "--consistency no-lock as a user without RELOAD"
NOLOCK_PW="nl-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
add_secret "$NOLOCK_PW"
NOLOCK_PWFILE="$BD_TMP/nolock.password"
(umask 077 && printf '%s\n' "$NOLOCK_PW" >"$NOLOCK_PWFILE")
printf "CREATE USER 'nolock'@'127.0.0.1' IDENTIFIED BY '%s';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, PROCESS, BINLOG MONITOR ON *.* TO 'nolock'@'127.0.0.1';\n" "$NOLOCK_PW" |
	_bd_mariadb
check_not "the no-lock user lacks RELOAD" bash -c \
	'MYSQL_PWD="$1" /usr/bin/mariadb --no-defaults -h 127.0.0.1 -P "$2" -u nolock -N -e "SHOW GRANTS" | grep -q RELOAD' \
	_ "$NOLOCK_PW" "$MY_PORT"
cat >"$BD_TMP/nolock.conf" <<EOF
[source:nolock]
url = mysql://nolock@127.0.0.1:$MY_PORT/src
password-file = $NOLOCK_PWFILE
EOF
REPO_NL="$BD_TMP/repo-nolock"
run "$BACKUPD" -c "$BD_TMP/nolock.conf" dump --source nolock --repo "$REPO_NL" --name src --jobs 2 --consistency no-lock
assert_rc "dump --consistency no-lock without RELOAD succeeds" 0
IDN="$(last_line)"
check "manifest records consistency no-lock" python3 -c '
import json,sys
info = json.load(open(sys.argv[1]))["info"]
assert info["consistency"] == "no-lock", info.get("consistency")' "$(manifest_of "$IDN" "$REPO_NL")"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO_NL" --name src --backup "$IDN" --to "$(my_uri dst_nolock)" --jobs 2 --create
assert_rc "restore of the no-lock dump succeeds" 0
check "restored no-lock dump matches the source" my_compare src dst_nolock

# --------------------------------------------------------------------------
note "failure: dump killed with SIGKILL midway"
my_db_create killsrc
check "load a big table for the kill test" my_sql killsrc "
CREATE TABLE early (id INT PRIMARY KEY, v VARCHAR(20));
INSERT INTO early SELECT seq, CONCAT('early ', seq) FROM seq_1_to_1000;
CREATE TABLE huge (id BIGINT PRIMARY KEY, a VARCHAR(100), b VARCHAR(100));
INSERT INTO huge SELECT seq, CONCAT(MD5(seq), MD5(seq + 1), MD5(seq + 2)), REPEAT(MD5(seq * 7), 3)
FROM seq_1_to_1000000;"
REPO_K="$BD_TMP/repo-kill"
# The binary itself in the background (no wrapper: SIGKILL must hit it).
MYSQL_PWD="$MY_PASSWORD" "$BACKUPD" dump --source "$(my_uri killsrc)" --repo "$REPO_K" --name killsrc --jobs 1 \
	>"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" </dev/null &
kill_dump_midway $! "$REPO_K"
if [ "$KILLED" -ne 1 ]; then
	fail "dump was killed midway" \
		"the dump finished or failed before an object appeared; stderr: $(tail -n 5 "$BD_TMP/kill.err")"
else
	pass "dump was killed midway"
	assert_killed_dump_incomplete "$REPO_K"
	# The killed session's global read lock (if it held one) went with its connection.
	check "the server takes writes after the killed dump" my_sql killsrc "INSERT INTO early VALUES (1001, 'after kill')"
	MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri killsrc)" --repo "$REPO_K" --name killsrc --jobs 2
	assert_rc "a new dump after a killed one succeeds (no stale lock)" 0
	KID="$(last_line)"
	run "$BACKUPD" list --repo "$REPO_K" --json
	check "the new dump is listed complete" python3 -c '
import json,sys
items = {i["id"]: i for i in json.load(open(sys.argv[1]))}
assert items[sys.argv[2]]["status"] == "complete", items' "$RUN_OUT" "$KID"
fi

# --------------------------------------------------------------------------
note "failure: a corrupt chunk object"
REPO_C="$BD_TMP/repo-corrupt"
cp -a "$REPO" "$REPO_C"
victim="$(find "$REPO_C/src/backups/$ID1/src/data" -name 'big.*.tsv.zst' -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
if [ -z "$victim" ]; then
	fail "found a data object to corrupt"
else
	victim_name="$(basename "$victim")"
	note "corrupting one byte in the middle of $victim_name"
	flip_middle_byte "$victim"
	run "$BACKUPD" verify --repo "$REPO_C" --name src "$ID1"
	assert_rc "verify of the corrupt backup exits 1" 1
	assert_output_contains "verify names the corrupt object" "$victim_name"
	MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO_C" --name src --backup "$ID1" --to "$(my_uri dst_corrupt)" --jobs 2 --create
	assert_rc "restore of the corrupt backup exits 1" 1
	assert_output_contains "restore names the corrupt object" "${victim_name%.zst}"
	check_not "the failed --create restore leaves no database behind" my_db_exists dst_corrupt
	check_not "the failed --create restore leaves no temporary database behind" my_db_exists "$(my_tmpdb dst_corrupt)"
fi

# --------------------------------------------------------------------------
note "crafted repository: a statement file cannot read a file of the restoring host"
# Statement files run through the client library on a connection without
# local_infile: LOAD DATA LOCAL cannot send a host file to the server, and
# the mariadb client's own commands (system, \!) reach the server as SQL.
REPO_X="$BD_TMP/repo-crafted"
HOST_SECRET="$BD_TMP/host-secret.txt"
printf '1\tread from the restoring host\n' >"$HOST_SECRET"
chmod 0644 "$HOST_SECRET"
PWNED="$BD_TMP/pwned-by-my-restore"
# crafted_tables WHAT STATEMENT MESSAGE-RE: tables.sql with STATEMENT framed as
# one more statement (checksums fixed up): restore --create fails naming it
crafted_tables() {
	rm -rf "$REPO_X"
	cp -a "$REPO" "$REPO_X"
	{
		zstd -dcq "$B1/src/tables.sql.zst"
		printf -- '-- statement\n-- length: %s\n%s;\n' "$(printf '%s' "$2" | wc -c)" "$2"
	} >"$BD_TMP/tables-crafted.sql"
	replace_object "$REPO_X/src/backups/$ID1" src/tables.sql.zst "$BD_TMP/tables-crafted.sql"
	run "$BACKUPD" verify --repo "$REPO_X" --name src "$ID1"
	assert_rc "crafted tables.sql ($1): verify passes" 0
	MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO_X" --name src --backup "$ID1" --to "$(my_uri dst_crafted)" --create
	assert_rc "crafted tables.sql ($1): the restore fails" 1
	assert_output_matches "crafted tables.sql ($1): the error says why" "$3"
	check_not "crafted tables.sql ($1): no database left" my_db_exists dst_crafted
	my_db_drop dst_crafted >/dev/null 2>&1 || true
}
crafted_tables "LOAD DATA LOCAL" "LOAD DATA LOCAL INFILE '$HOST_SECRET' INTO TABLE nulls (id, v)" \
	"LOAD DATA LOCAL INFILE is forbidden|used command is not allowed"
crafted_tables "\\!" "\\! touch $PWNED" "SQL syntax"
crafted_tables "system" "system touch $PWNED" "SQL syntax"
check_not "no shell command ran" test -e "$PWNED"

note "crafted repository: a duplicate in a unique key fails the restore"
# never a silent drop: with unique_checks off the server either skips the row
# with a warning (the load fails on it) or, in InnoDB's bulk-insert mode for an
# empty table, refuses the COMMIT ("Got error 1 ... during COMMIT")
rm -rf "$REPO_X"
cp -a "$REPO" "$REPO_X"
zstd -dcq "$B1/src/data/parent.00000.tsv.zst" | sed 's/\tp2$/\tp1/' >"$BD_TMP/parent-dup.tsv"
assert_eq "the crafted chunk repeats a unique name" "2" "$(grep -c $'\tp1$' "$BD_TMP/parent-dup.tsv")"
replace_object "$REPO_X/src/backups/$ID1" src/data/parent.00000.tsv.zst "$BD_TMP/parent-dup.tsv"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO_X" --name src --backup "$ID1" --to "$(my_uri dst_dup)" --jobs 2 --create
assert_rc "duplicate unique key: the restore fails" 1
assert_output_matches "duplicate unique key: the error names the table" "cannot load table [^ ]*parent"
check_not "duplicate unique key: no database left" my_db_exists dst_dup
my_db_drop dst_dup >/dev/null 2>&1 || true
rm -rf "$REPO_X"

# --------------------------------------------------------------------------
note "restore --create killed with SIGKILL mid-data, then run again"
# the temporary database restore --create fills (engines/mysql/mysql_tmpdb.h)
MYSQL_PWD="$MY_PASSWORD" "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" \
	--to "$(my_uri dst_killed)" --jobs 2 --create >"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" </dev/null &
kpid=$!
loading=0
for _ in $(seq 1 600); do
	n="$(my_sql "" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%' OR INFO LIKE 'INSERT INTO%'")"
	if [ "$n" -gt 0 ]; then loading=1; break; fi
	kill -0 "$kpid" 2>/dev/null || break
	sleep 0.02
done
reap_killed "$kpid" "restore --create killed mid-data"
check "the restore was killed while loading data" test "$loading" = 1
check_not "the killed restore leaves no database under the target's name" my_db_exists dst_killed
check "the killed restore's temporary database is left" my_db_exists "$(my_tmpdb dst_killed)"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_killed)" --jobs 2 --create
assert_rc "the next restore --create succeeds" 0
assert_output_contains "the next restore drops the leftover" "left by an interrupted restore"
check "the rerun matches the source" my_compare src dst_killed
check_not "the rerun leaves no temporary database" my_db_exists "$(my_tmpdb dst_killed)"
check_not "the restored database keeps no in-progress marker" my_table_exists dst_killed backupd_restore_in_progress
assert_eq "the restored database keeps no in-progress comment" "" \
	"$(my_sql "" "SELECT schema_comment FROM information_schema.schemata WHERE schema_name = 'dst_killed'")"

# lock_held NAME: some session holds the named lock NAME
lock_held() { [ "$(my_sql "" "SELECT IS_USED_LOCK('$1') IS NOT NULL")" = 1 ]; }

note "restore --create while another restore of the same target holds its lock"
# a live restorer's lock-holding connection, idle between its statements:
# the client keeps its session open, reading a pipe that stays silent
mkfifo "$BD_TMP/lock.fifo"
_bd_mariadb -N -B <"$BD_TMP/lock.fifo" >/dev/null 2>&1 &
lpid=$!
exec 7>"$BD_TMP/lock.fifo"
printf "SELECT GET_LOCK('%s', 0);\n" "$(my_tmpdb dst_locked)" >&7
wait_for 10 lock_held "$(my_tmpdb dst_locked)"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_locked)" --create
assert_rc "a concurrent restore --create of the same target is refused" 1
assert_output_contains "the refusal says another restore is in progress" "is in progress"
exec 7>&-
{ wait "$lpid"; } 2>/dev/null || true
check_not "the refused restore creates nothing" my_db_exists dst_locked

note "restore --create while the lock's holder still runs a statement (a killed restore's last)"
_bd_mariadb -N -B -e "SELECT GET_LOCK('$(my_tmpdb dst_busy)', 0), SLEEP(2)" >/dev/null 2>&1 &
lpid=$!
wait_for 10 lock_held "$(my_tmpdb dst_busy)"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_busy)" --create
assert_rc "restore --create waits for a busy lock holder, then succeeds" 0
assert_output_contains "it says it waits for the statement to end" "still running a statement"
check "that restore matches the source" my_compare src dst_busy
{ wait "$lpid"; } 2>/dev/null || true

note "restore --create after a restore killed once its tables were moved (target marked in progress)"
my_db_create dst_marked
my_sql dst_marked "CREATE TABLE backupd_restore_in_progress (id INT); CREATE TABLE half (id INT)"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_marked)" --create
assert_rc "restore --create over a target marked in progress succeeds" 0
assert_output_contains "it says it dropped the incomplete target" "an interrupted restore left it incomplete"
check "the marked target is replaced by the restore" my_compare src dst_marked

note "restore --create after a restore killed between creating the target and the rename"
my_db_create dst_half_created
my_db_create "$(my_tmpdb dst_half_created)"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_half_created)" --create
assert_rc "restore --create over an empty target next to a leftover temporary database succeeds" 0
check "that restore matches the source" my_compare src dst_half_created
check_not "that restore leaves no temporary database" my_db_exists "$(my_tmpdb dst_half_created)"

note "restore --create after a restore killed right after creating the target (marked by its comment)"
my_sql "" "CREATE DATABASE dst_commented COMMENT = 'backupd: restore in progress'"
my_sql dst_commented "CREATE TABLE half (id INT)"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_commented)" --create
assert_rc "restore --create over a target carrying the in-progress comment succeeds" 0
assert_output_contains "it says it dropped the commented target" "an interrupted restore left it incomplete"
check "the commented target is replaced by the restore" my_compare src dst_commented
check_not "the replacement keeps no half table" my_table_exists dst_commented half
assert_eq "the replacement keeps no in-progress comment" "" \
	"$(my_sql "" "SELECT schema_comment FROM information_schema.schemata WHERE schema_name = 'dst_commented'")"

note "restore --create refuses a database that only looks like a target (another comment)"
my_sql "" "CREATE DATABASE dst_othercomment COMMENT = 'someone else'"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_othercomment)" --create
assert_rc "restore --create into an existing database with another comment is refused" 1
check "that database is left alone" my_db_exists dst_othercomment

# --------------------------------------------------------------------------
note "failure: wrong password"
WRONG_PW="wrong-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
add_secret "$WRONG_PW"
MYSQL_PWD="$WRONG_PW" run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-wrongpw" --name src
assert_rc "dump with a wrong password exits 1" 1
assert_output_matches "wrong password: the error says access was denied" 'access denied|authentication|password'
assert_eq "wrong password: the error is one line on stderr" "1" "$(grep -c . "$RUN_ERR" || true)"
MYSQL_PWD="$WRONG_PW" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst_wrongpw)" --create
assert_rc "restore with a wrong password exits 1" 1
assert_output_matches "wrong password (restore): the error says access was denied" 'access denied|authentication|password'
assert_eq "wrong password (restore): the error is one line on stderr" "1" "$(grep -c . "$RUN_ERR" || true)"
check_not "no database created by the refused restore" my_db_exists dst_wrongpw

note "a password file readable by others is refused"
LOOSE_PWFILE="$BD_TMP/loose.password"
printf '%s\n' "$MY_PASSWORD" >"$LOOSE_PWFILE"
chmod 0644 "$LOOSE_PWFILE"
cat >"$BD_TMP/loose.conf" <<EOF
[source:src]
url = $SRC_URI
password-file = $LOOSE_PWFILE
EOF
run "$BACKUPD" -c "$BD_TMP/loose.conf" dump --source src --repo "$BD_TMP/repo-loose"
assert_rc "a 0644 password file is refused (exit 2)" 2
rm -f "$LOOSE_PWFILE"

# --------------------------------------------------------------------------
note "failure: restore into a non-empty database is refused"
my_db_create nonempty
my_sql nonempty "CREATE TABLE keep_me (x INT); INSERT INTO keep_me VALUES (1), (2);"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri nonempty)" --jobs 2
assert_rc "restore into a non-empty database exits non-zero" nonzero
assert_stderr_nonempty "refused restore explains why"
assert_eq "non-empty target untouched (tables)" "keep_me" "$(my_sql nonempty 'SHOW TABLES')"
assert_eq "non-empty target untouched (rows)" "2" "$(my_sql nonempty 'SELECT COUNT(*) FROM keep_me')"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(my_uri dst1)" --jobs 2 --create
assert_rc "restore --create over an existing database exits non-zero" nonzero
check "the existing database was left alone" my_compare src dst1

note "a chunk the server rolls back for a lock wait timeout is loaded again"
my_db_create lw_src
lw_sql="CREATE TABLE a_big (id INT PRIMARY KEY, v VARCHAR(40));
INSERT INTO a_big SELECT seq, MD5(seq) FROM seq_1_to_20000;"
# Many small tables after a_big make the schema step last long enough for
# the blocker below to lock a_big before its rows arrive.
for i in $(seq -w 1 300); do lw_sql+="CREATE TABLE z_$i (id INT PRIMARY KEY);"; done
check "lock-wait database loads" my_sql lw_src "$lw_sql"
REPO_LW="$BD_TMP/repo-lockwait"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri lw_src)" --repo "$REPO_LW" --name lw --jobs 1
assert_rc "dump of the lock-wait database" 0
my_db_create lw_dst
my_sql "" "SET GLOBAL innodb_lock_wait_timeout = 1"
# The blocker: once restore has created a_big, lock all of it (none of its
# rows yet: the count says so) and hold the lock until the restore reports a
# lock wait timeout (at most 120 s: however long the schema step takes under
# load), then let go.  The session is fed through a FIFO so that the shell
# decides when it ends.
(
	for _ in $(seq 1 3000); do
		[ "$(my_sql "" "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lw_dst' AND TABLE_NAME = 'a_big'")" = 1 ] && break
		sleep 0.01
	done
	mkfifo "$BD_TMP/lw-blocker.fifo"
	_bd_mariadb -N -B <"$BD_TMP/lw-blocker.fifo" >"$BD_TMP/lw-blocker.out" 2>&1 &
	exec 7>"$BD_TMP/lw-blocker.fifo"
	echo "SET SESSION innodb_lock_wait_timeout = 60; START TRANSACTION; SELECT COUNT(*) FROM lw_dst.a_big FOR UPDATE;" >&7
	for _ in $(seq 1 1200); do
		grep -q "Lock wait timeout exceeded" "$BD_TMP/lw.err" 2>/dev/null && break
		[ -e "$BD_TMP/lw.done" ] && break
		sleep 0.1
	done
	echo "ROLLBACK;" >&7
	exec 7>&-
	wait
) &
lw_blocker=$!
lw_rc=0
MYSQL_PWD="$MY_PASSWORD" "$DBRESTORE" restore --repo "$REPO_LW" --name lw --to "$(my_uri lw_dst)" --jobs 1 \
	>"$BD_TMP/lw.out" 2>"$BD_TMP/lw.err" </dev/null || lw_rc=$?
touch "$BD_TMP/lw.done"
wait "$lw_blocker" || true
my_sql "" "SET GLOBAL innodb_lock_wait_timeout = DEFAULT"
cat "$BD_TMP/lw.out" "$BD_TMP/lw.err" >>"$BD_ALL_OUTPUT"
_bd_check_sanitizers "$BD_TMP/lw.err" "restore under a lock wait"
assert_eq "restore under a held lock succeeds" 0 "$lw_rc"
if [ "$(head -n 1 "$BD_TMP/lw-blocker.out")" = 0 ]; then
	check "the restore waited, was rolled back, and loaded the chunk again" \
		grep -q "Lock wait timeout exceeded.*loading the chunk again (attempt 2 of 5)" "$BD_TMP/lw.err"
else
	# the blocker came too late (the rows were in already): nothing to retry
	pass "the restore waited, was rolled back, and loaded the chunk again # SKIP blocker late: $(head -c 200 "$BD_TMP/lw-blocker.out")"
fi
check "every row loaded exactly once" test "$(my_sql lw_dst 'SELECT COUNT(*) FROM a_big')" = 20000
check "the retried restore matches the source" my_compare lw_src lw_dst

note "restore latest into an existing empty database (no --create)"
my_db_create dst_empty
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --backup latest --to "$(my_uri dst_empty)" --jobs 2
assert_rc "restore latest into an empty database succeeds" 0
check "restored (latest, existing empty database) matches the source" my_compare src dst_empty

# --------------------------------------------------------------------------
note "failure: unreachable server, missing database, bad options"
closed_port="$(_bd_pick_port)"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "mysql://root@127.0.0.1:$closed_port/src" --repo "$BD_TMP/repo-noserver" --name src
assert_rc "dump from an unreachable server exits 1" 1
assert_output_contains "the error names the server" "127.0.0.1:$closed_port"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri no_such_db)" --repo "$BD_TMP/repo-nodb" --name x
assert_rc "dump of a missing database exits 1" 1
assert_output_contains "the error names the database" "no_such_db"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/repo-usage" --consistency sometimes
assert_rc "dump --consistency sometimes exits 2" 2
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri src,second)" --repo "$BD_TMP/repo-usage"
assert_rc "dump of a database list without --name exits 2" 2
assert_output_contains "the error asks for --name" "give the backup a name with --name"
check_not "no repository created by usage errors" test -e "$BD_TMP/repo-usage"

# --------------------------------------------------------------------------
note "restore --no-binlog leaves the binary log untouched"
read -r _ NB_BEFORE _ < <(my_sql "" 'SHOW MASTER STATUS')
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name src --to "$(my_uri dst_nobinlog)" --create --no-binlog
assert_rc "restore --no-binlog succeeds" 0
read -r _ NB_AFTER _ < <(my_sql "" 'SHOW MASTER STATUS')
assert_eq "the binlog position did not move" "$NB_BEFORE" "$NB_AFTER"
check "the unlogged restore matches the source" my_compare src dst_nobinlog
run "$DBRESTORE" restore --repo "$REPO" --name src --to "postgresql://x@127.0.0.1:1/x" --no-binlog
assert_rc "--no-binlog with a PostgreSQL target is a usage error" 2

# --------------------------------------------------------------------------
note "backupd check reaches MySQL sources"
(umask 077 && printf 'not-the-password\n' >"$BD_TMP/wrong.password")
cat >"$BD_TMP/check.conf" <<CONF
[source:good]
url = mysql://root@127.0.0.1:$MY_PORT/src
password-file = $MY_PASSWORD_FILE

[source:badpw]
url = mysql://root@127.0.0.1:$MY_PORT/src
password-file = $BD_TMP/wrong.password
CONF
run env -u MYSQL_PWD "$BACKUPD" -c "$BD_TMP/check.conf" check
assert_rc "check fails when one source is unreachable" 1
assert_output_contains "the reachable MySQL source is ok" "ok     source good"
assert_output_contains "the wrong password is named" "FAILED source badpw"

# --------------------------------------------------------------------------
note "--roles: the accounts with grants on the dumped database, without passwords"
my_db_create users_src
my_db_create users_elsewhere
my_sql users_src "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t VALUES (1, 'a');
CREATE USER 'bd_app'@'%' IDENTIFIED BY 'bd-app-secret-pw';
GRANT SELECT ON users_src.* TO 'bd_app'@'%';
GRANT INSERT, UPDATE ON users_src.t TO 'bd_app'@'%';
CREATE USER 'bd_other'@'localhost' IDENTIFIED BY 'bd-app-secret-pw';
GRANT SELECT ON users_elsewhere.* TO 'bd_other'@'localhost'"
add_secret bd-app-secret-pw
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri users_src)" --repo "$BD_TMP/repo-users" --name users
assert_rc "dump of a database with an account's grants" 0
UID_="$(last_line)"
check "the manifest records the account and its grants on the database, no other account" python3 -c '
import json,sys
u = json.load(open(sys.argv[1]))["info"]["users"]
assert [x["account"] for x in u] == ["'"'"'bd_app'"'"'@'"'"'%'"'"'"], u
assert len(u[0]["grants"]) == 2 and all("`users_src`." in g for g in u[0]["grants"]), u' \
	"$BD_TMP/repo-users/users/backups/$UID_/manifest.json"
check_not "no password or hash in the repository" grep -r -q -i -E "bd-app-secret-pw|PASSWORD|\*[0-9A-F]{40}" "$BD_TMP/repo-users"
my_sql "" "DROP USER 'bd_app'@'%'"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri users_plain)" --create
assert_rc "restore without --roles succeeds" 0
assert_eq "and creates no account" 0 "$(my_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'bd_app'")"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri users_roles)" --create --roles
assert_rc "restore --roles into a renamed database succeeds" 0
assert_eq "the account is back, locked, without a password" 'CREATE USER `bd_app`@`%` ACCOUNT LOCK' "$(my_sql "" "SHOW CREATE USER 'bd_app'@'%'")"
SHOWN="$(my_sql "" "SHOW GRANTS FOR 'bd_app'@'%'")"
check "its grants name the restored database" bash -c 'grep -q "GRANT SELECT ON \`users_roles\`.\* TO" <<<"$1" && grep -q "ON \`users_roles\`.\`t\` TO" <<<"$1"' _ "$SHOWN"
check_not "not the source's name" bash -c 'grep -q "users_src" <<<"$1"' _ "$SHOWN"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri users_owner)" --create --owner app
assert_rc "--owner without --provision on a MariaDB target exits 2 (not ignored)" 2
assert_output_contains "the error says what it goes with" "--owner on a MySQL/MariaDB target goes with --provision"

note "--provision DB --owner USER --env-file FILE on MariaDB"
ENVDIR="$BD_TMP/envs"
mkdir -p "$ENVDIR"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app --owner bd_appuser --env-file "$ENVDIR/app.env" --roles
assert_rc "restore --provision (and --roles) succeeds" 0
assert_eq "the env file is mode 0600" 600 "$(stat -c %a "$ENVDIR/app.env")"
APP_PW="$(sed -n 's|^DATABASE_URL=mysql://bd_appuser:\([A-Za-z0-9]*\)@.*|\1|p' "$ENVDIR/app.env")"
add_secret "$APP_PW"
assert_match "it holds DATABASE_URL with a 32-character password" \
	"^DATABASE_URL=mysql://bd_appuser:[A-Za-z0-9]{32}@127\.0\.0\.1:$MY_PORT/users_app\$" "$(cat "$ENVDIR/app.env")"
assert_eq "the user connects with it and reads its database" 1 \
	"$(MYSQL_PWD="$APP_PW" /usr/bin/mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u bd_appuser -N -B -e "SELECT COUNT(*) FROM users_app.t")"
assert_eq "it holds ALL on the database and nothing global" "GRANT USAGE ON *.* TO \`bd_appuser\`@\`%\`|GRANT ALL PRIVILEGES ON \`users_app\`.* TO \`bd_appuser\`@\`%\`" \
	"$(my_sql "" "SHOW GRANTS FOR 'bd_appuser'@'%'" | sed 's/ IDENTIFIED BY PASSWORD .*//' | paste -sd '|')"
assert_eq "the database has the source's character set and collation" \
	"$(my_sql "" "SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, ' ', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'users_src'")" \
	"$(my_sql "" "SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, ' ', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'users_app'")"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app2 --owner bd_appuser --env-file "$ENVDIR/app2.env"
assert_rc "an existing user is refused without --reuse-role" 1
check_not "nothing created" my_db_exists users_app2
check_not "no env file" test -e "$ENVDIR/app2.env"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app2 --owner bd_appuser --env-file "$ENVDIR/app2.env" --reuse-role
assert_rc "--reuse-role succeeds" 0
assert_eq "the env file has no password" "DATABASE_URL=mysql://bd_appuser@127.0.0.1:$MY_PORT/users_app2" "$(cat "$ENVDIR/app2.env")"
assert_eq "the old password still works" 1 \
	"$(MYSQL_PWD="$APP_PW" /usr/bin/mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u bd_appuser -N -B -e "SELECT COUNT(*) FROM users_app2.t")"
my_sql users_app "INSERT INTO t VALUES (2, 'kept')"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app --owner bd_appuser3 --env-file "$ENVDIR/app3.env"
assert_rc "an existing database is refused" 1
assert_output_contains "the error names it" "database 'users_app' already exists"
assert_eq "and it is untouched" 2 "$(my_sql users_app "SELECT COUNT(*) FROM t")"
assert_eq "no user was created" 0 "$(my_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'bd_appuser3'")"

MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri other_db)" \
	--provision users_app5 --owner bd_appuser5 --env-file "$ENVDIR/app5.env"
assert_rc "--to naming another database than --provision is a usage error (not ignored)" 2
assert_output_contains "the error names both" "--to names database 'other_db' but --provision creates 'users_app5'"
check_not "nothing created" my_db_exists users_app5
assert_eq "no user was created" 0 "$(my_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'bd_appuser5'")"

note "--provision: a restore failing at its last steps leaves no env file, database or user"
# killshim.c's KILLSHIM_FAIL_ON: the connection is lost at one statement (the
# GRANT, then the marker's removal, after which only the env file is left)
shim_build
for step in 'GRANT ALL ON `users_app4`.*|cannot grant the user its database' \
	'DROP TABLE `users_app4`.`backupd_restore_in_progress`|cannot drop the restore'"'"'s marker table'; do
	MYSQL_PWD="$MY_PASSWORD" run env LD_PRELOAD="$SHIM_PRELOAD" KILLSHIM_FAIL_ON="${step%%|*}" \
		"$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
		--provision users_app4 --owner bd_appuser4 --env-file "$ENVDIR/app4.env"
	assert_rc "connection lost at ${step%%|*}: the restore fails" 1
	assert_output_contains "it says why" "${step#*|}"
	check_not "it leaves no env file" test -e "$ENVDIR/app4.env"
	check_not "nor the env file's temporary file" compgen -G "$ENVDIR/app4.env.*"
	check_not "nor the database" my_db_exists users_app4
	assert_eq "nor its temporary database" 0 \
		"$(my_sql "" "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'backupd\\_restore\\_%'")"
	assert_eq "nor the user it created" 0 "$(my_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'bd_appuser4'")"
	# what a failed check left: each step starts clean
	rm -f "$ENVDIR/app4.env"
	my_sql "" "DROP USER IF EXISTS 'bd_appuser4'@'%'"
done

note "--provision killed (SIGKILL) after its CREATE USER: the next run of it recovers the user it left"
# app_rows ENVFILE: the row count of t, read as the env file's DATABASE_URL says (TCP or socket)
app_rows() {
	python3 - "$1" <<'PY' >"$BD_TMP/app.args"
import sys, urllib.parse
url = open(sys.argv[1]).read().strip().split("=", 1)[1]
u = urllib.parse.urlsplit(url)
q = urllib.parse.parse_qs(u.query)
where = ["--socket=" + q["socket"][0]] if "socket" in q else ["-h", u.hostname, "-P", str(u.port)]
print("\n".join(where + ["-u", urllib.parse.unquote(u.username), "-D", u.path[1:]]))
PY
	local pw args=()
	pw="$(python3 -c 'import sys,urllib.parse; u=urllib.parse.urlsplit(open(sys.argv[1]).read().strip().split("=",1)[1]); print(urllib.parse.unquote(u.password or ""))' "$1")"
	mapfile -t args <"$BD_TMP/app.args"
	MYSQL_PWD="$pw" /usr/bin/mariadb --no-defaults "${args[@]}" -N -B -e "SELECT COUNT(*) FROM t"
}
app_pw() { sed -n 's|^DATABASE_URL=mysql://[^:]*:\([A-Za-z0-9]*\)@.*|\1|p' "$1"; }
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="CREATE USER" "$DBRESTORE" restore --repo "$BD_TMP/repo-users" \
	--name users --to "$(my_uri "")" --provision users_app6 --owner bd_appuser6 --env-file "$ENVDIR/app6.env"
assert_rc "killed right after sending CREATE USER" 137
assert_eq "the user is there" 1 "$(my_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'bd_appuser6'")"
check_not "no env file" test -e "$ENVDIR/app6.env"
assert_eq "the provisioning's record is beside it, mode 0600" 600 "$(stat -c %a "$ENVDIR/app6.env.pending")"
check "it names the server, database and user" grep -q "^database=users_app6\$" "$ENVDIR/app6.env.pending"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app6 --owner bd_appuser6 --env-file "$ENVDIR/app6.env"
assert_rc "the rerun succeeds" 0
assert_output_contains "it says what it did" "user 'bd_appuser6'@'%' was left by an interrupted provisioning of 'users_app6'"
add_secret "$(app_pw "$ENVDIR/app6.env")"
assert_match "the env file holds a password" "^DATABASE_URL=mysql://bd_appuser6:[A-Za-z0-9]{32}@127\.0\.0\.1:$MY_PORT/users_app6\$" \
	"$(cat "$ENVDIR/app6.env")"
assert_eq "the application connects with it and reads its data" 1 "$(app_rows "$ENVDIR/app6.env")"
check_not "the record is gone" test -e "$ENVDIR/app6.env.pending"

# killed late (the tables just moved into the target): the rerun, even with
# --reuse-role (which used to write no password for such a user), recovers
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="RENAME TABLE" "$DBRESTORE" restore --repo "$BD_TMP/repo-users" \
	--name users --to "$(my_uri "")" --provision users_app7 --owner bd_appuser7 --env-file "$ENVDIR/app7.env"
assert_rc "killed after sending the RENAME TABLE" 137
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app7 --owner bd_appuser7 --env-file "$ENVDIR/app7.env" --reuse-role
assert_rc "the rerun with --reuse-role succeeds" 0
assert_output_contains "the user is recreated" "user 'bd_appuser7'@'%' was left by an interrupted provisioning of 'users_app7'"
add_secret "$(app_pw "$ENVDIR/app7.env")"
assert_eq "the application connects with the env file's URL and reads its data" 1 "$(app_rows "$ENVDIR/app7.env")"

# a user of that name made by hand after such a kill does not match the record: refused as ever
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="CREATE USER" "$DBRESTORE" restore --repo "$BD_TMP/repo-users" \
	--name users --to "$(my_uri "")" --provision users_app8 --owner bd_appuser8 --env-file "$ENVDIR/app8.env"
assert_rc "killed right after sending CREATE USER" 137
my_sql "" "DROP USER 'bd_appuser8'@'%'; CREATE USER 'bd_appuser8'@'%' IDENTIFIED BY 'hand-made-pw'"
add_secret hand-made-pw
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app8 --owner bd_appuser8 --env-file "$ENVDIR/app8.env"
assert_rc "a hand-made user is refused" 1
assert_output_contains "as before" "user 'bd_appuser8'@'%' already exists: pass --reuse-role"
assert_eq "and kept" 1 "$(MYSQL_PWD=hand-made-pw /usr/bin/mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u bd_appuser8 -N -B -e "SELECT 1")"
check_not "nothing created" my_db_exists users_app8
# so is one with no record at all (another env file)
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app8 --owner bd_appuser8 --env-file "$ENVDIR/app8b.env"
assert_rc "a user no record names is refused" 1
# a record of another provisioning is not overwritten
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app9 --owner bd_appuser9 --env-file "$ENVDIR/app8.env"
assert_rc "an env file whose record names another provisioning is refused" 1
assert_output_contains "it names the record" "'$ENVDIR/app8.env.pending' records another provisioning in progress"
assert_eq "no user was created" 0 "$(my_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'bd_appuser9'")"
rm -f "$ENVDIR/app8.env.pending"

# killed once the database is complete (its record says so) and before the env
# file: the rerun completes it (a new password) instead of refusing the database
MARKER_DROP="DROP TABLE \`users_app12\`.\`backupd_restore_in_progress\`"
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="$MARKER_DROP" "$DBRESTORE" restore --repo "$BD_TMP/repo-users" \
	--name users --to "$(my_uri "")" --provision users_app12 --owner bd_appuser12 --env-file "$ENVDIR/app12.env"
assert_rc "killed after sending the last marker's DROP TABLE" 137
check "the database is there" wait_for 20 my_db_exists users_app12
check_not "no env file" test -e "$ENVDIR/app12.env"
check "the record says the database is complete" grep -qx "state=database-complete" "$ENVDIR/app12.env.pending"
# the record lives beside its env file: another path does not see it
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app12 --owner bd_appuser12 --env-file "$ENVDIR/app12b.env"
assert_rc "with another env file it is refused" 1
assert_output_contains "as an existing database, saying where the record would be" \
	"database 'users_app12' already exists: --provision creates the database, and leaves an existing one untouched (a run of this provisioning killed before writing its env file is completed only by running it again on the same host with the same --env-file: its record would be '$ENVDIR/app12b.env.pending')"
check_not "no env file there" test -e "$ENVDIR/app12b.env"
OLD_AUTH="$(my_sql "" "SELECT authentication_string FROM mysql.user WHERE User = 'bd_appuser12'")"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app12 --owner bd_appuser12 --env-file "$ENVDIR/app12.env"
assert_rc "the rerun completes it" 0
assert_output_contains "it says so in one line" "completed an interrupted provisioning of 'users_app12'"
check_not "without restoring anything" grep -q "restoring database" "$RUN_ERR"
add_secret "$(app_pw "$ENVDIR/app12.env")"
assert_match "the env file holds a password" "^DATABASE_URL=mysql://bd_appuser12:[A-Za-z0-9]{32}@127\.0\.0\.1:$MY_PORT/users_app12\$" \
	"$(cat "$ENVDIR/app12.env")"
check "a new one" test "$OLD_AUTH" != "$(my_sql "" "SELECT authentication_string FROM mysql.user WHERE User = 'bd_appuser12'")"
assert_eq "the application connects with it and reads its data" 1 "$(app_rows "$ENVDIR/app12.env")"
check_not "the record is gone" test -e "$ENVDIR/app12.env.pending"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app12 --owner bd_appuser12 --env-file "$ENVDIR/app12.env"
assert_rc "once complete, the database is refused again" 1
assert_output_contains "as any existing database" "database 'users_app12' already exists"
assert_eq "the application still connects" 1 "$(app_rows "$ENVDIR/app12.env")"
# a record whose credential is not the user's (the user made again by hand) does not count
MARKER_DROP="DROP TABLE \`users_app13\`.\`backupd_restore_in_progress\`"
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="$MARKER_DROP" "$DBRESTORE" restore --repo "$BD_TMP/repo-users" \
	--name users --to "$(my_uri "")" --provision users_app13 --owner bd_appuser13 --env-file "$ENVDIR/app13.env"
assert_rc "killed after sending the last marker's DROP TABLE" 137
wait_for 20 my_db_exists users_app13 || true
my_sql "" "DROP USER 'bd_appuser13'@'%'; CREATE USER 'bd_appuser13'@'%' IDENTIFIED BY 'hand-made-pw13'"
add_secret hand-made-pw13
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app13 --owner bd_appuser13 --env-file "$ENVDIR/app13.env"
assert_rc "a hand-made user is refused" 1
assert_output_contains "as an existing database" "database 'users_app13' already exists"
assert_eq "and keeps its password" 1 "$(MYSQL_PWD=hand-made-pw13 /usr/bin/mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u bd_appuser13 -N -B -e "SELECT 1")"
check_not "no env file" test -e "$ENVDIR/app13.env"
rm -f "$ENVDIR/app13.env.pending"

# killed between the record's state=database-complete and the removal of the
# in-progress markers (right after sending the first statement of that
# removal, the temporary database's DROP): the record says complete while the
# target still carries its markers; the rerun drops that target (as any
# killed restore's), recreates the user (its credential matches the record)
# and finishes, leaving a working env file and no markers
TMP14="$(my_tmpdb users_app14)"
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="DROP DATABASE IF EXISTS \`$TMP14\`" "$DBRESTORE" restore \
	--repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" --provision users_app14 --owner bd_appuser14 \
	--env-file "$ENVDIR/app14.env"
assert_rc "killed right after sending the temporary database's DROP, once the record says complete" 137
check "the record says the database is complete" grep -qx "state=database-complete" "$ENVDIR/app14.env.pending"
check "the target still carries the marker table" my_table_exists users_app14 backupd_restore_in_progress
check_not "no env file" test -e "$ENVDIR/app14.env"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app14 --owner bd_appuser14 --env-file "$ENVDIR/app14.env"
assert_rc "the rerun finishes it" 0
assert_output_contains "the marked target is dropped as a killed restore's" \
	"dropping database 'users_app14': an interrupted restore left it incomplete"
assert_output_contains "the user is recreated" "user 'bd_appuser14'@'%' was left by an interrupted provisioning of 'users_app14'"
add_secret "$(app_pw "$ENVDIR/app14.env")"
assert_match "the env file holds a password" "^DATABASE_URL=mysql://bd_appuser14:[A-Za-z0-9]{32}@127\.0\.0\.1:$MY_PORT/users_app14\$" \
	"$(cat "$ENVDIR/app14.env")"
assert_eq "the env file is mode 0600" 600 "$(stat -c %a "$ENVDIR/app14.env")"
assert_eq "the application connects with it and reads its data" 1 "$(app_rows "$ENVDIR/app14.env")"
check_not "the record is gone" test -e "$ENVDIR/app14.env.pending"
check_not "the marker table is gone" my_table_exists users_app14 backupd_restore_in_progress
assert_eq "the marker comment is gone" "" \
	"$(my_sql "" "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'users_app14'")"
check_not "the temporary database is gone" my_db_exists "$TMP14"

# the record left though the env file is in place (its removal failed after
# the env file was written: only a warning, the run exits 0), crafted here as
# that failure leaves it: the killed run's record, its credential line the
# fingerprint of the user's credential now.  The same provisioning run again
# used to give the user a new password, breaking an application that had
# read the env file; it now only removes the record
MARKER_DROP="DROP TABLE \`users_app15\`.\`backupd_restore_in_progress\`"
MYSQL_PWD="$MY_PASSWORD" run_killed KILLSHIM_KILL_AFTER="$MARKER_DROP" "$DBRESTORE" restore --repo "$BD_TMP/repo-users" \
	--name users --to "$(my_uri "")" --provision users_app15 --owner bd_appuser15 --env-file "$ENVDIR/app15.env"
assert_rc "killed after sending the last marker's DROP TABLE" 137
check "the database is there" wait_for 20 my_db_exists users_app15
cp "$ENVDIR/app15.env.pending" "$BD_TMP/app15.record"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app15 --owner bd_appuser15 --env-file "$ENVDIR/app15.env"
assert_rc "the rerun completes it" 0
add_secret "$(app_pw "$ENVDIR/app15.env")"
AUTH15="$(my_sql "" "SELECT authentication_string FROM mysql.user WHERE User = 'bd_appuser15'")"
ENV15="$(cat "$ENVDIR/app15.env")"
{
	grep -v '^credential=' "$BD_TMP/app15.record"
	printf 'credential=%s\n' "$(printf %s "$AUTH15" | sha256sum | cut -c1-64)"
} >"$ENVDIR/app15.env.pending"
chmod 600 "$ENVDIR/app15.env.pending"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users --to "$(my_uri "")" \
	--provision users_app15 --owner bd_appuser15 --env-file "$ENVDIR/app15.env"
assert_rc "a rerun with the record left and the env file in place succeeds" 0
assert_output_contains "it says the env file already held the user's password" \
	"completed an interrupted provisioning of 'users_app15': the database was complete and '$ENVDIR/app15.env' already holds the password of user 'bd_appuser15'@'%' (left unchanged)"
assert_eq "the user's password is unchanged" "$AUTH15" \
	"$(my_sql "" "SELECT authentication_string FROM mysql.user WHERE User = 'bd_appuser15'")"
assert_eq "the env file is unchanged" "$ENV15" "$(cat "$ENVDIR/app15.env")"
assert_eq "the application still connects with it" 1 "$(app_rows "$ENVDIR/app15.env")"
check_not "the record is gone" test -e "$ENVDIR/app15.env.pending"

note "--provision through the Unix socket: DATABASE_URL keeps the socket"
SOCK="$MY_DIR/sock/mariadbd.sock"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users \
	--to "mysql://root@localhost/?socket=$SOCK" --provision users_app10 --owner bd_appuser10 --env-file "$ENVDIR/app10.env"
assert_rc "restore --provision over the socket succeeds" 0
add_secret "$(app_pw "$ENVDIR/app10.env")"
assert_match "DATABASE_URL names the socket, not a TCP port" \
	"^DATABASE_URL=mysql://bd_appuser10:[A-Za-z0-9]{32}@localhost/users_app10\\?socket=$(printf %s "$SOCK" | sed 's|/|%2F|g')\$" \
	"$(cat "$ENVDIR/app10.env")"
assert_eq "the application connects through it and reads its data" 1 "$(app_rows "$ENVDIR/app10.env")"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$BD_TMP/repo-users" --name users \
	--to "mysql://root@localhost/?socket=$SOCK" --provision users_app11 --owner bd_appuser10 --env-file "$ENVDIR/app11.env" --reuse-role
assert_rc "--reuse-role over the socket succeeds" 0
assert_match "without a password, with the socket" "^DATABASE_URL=mysql://bd_appuser10@localhost/users_app11\\?socket=%2F" \
	"$(cat "$ENVDIR/app11.env")"
for u in 6 7 8 10 12 13; do my_sql "" "DROP USER IF EXISTS 'bd_appuser$u'@'%'"; done

my_sql "" "DROP USER IF EXISTS 'bd_appuser'@'%'"
my_sql "" "DROP USER IF EXISTS 'bd_app'@'%'; DROP USER IF EXISTS 'bd_other'@'localhost'"

# --------------------------------------------------------------------------
assert_no_secrets_in_output "no password appears in any output"
finish
