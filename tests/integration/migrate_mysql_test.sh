#!/usr/bin/env bash
# dbrestore migrate (MySQL/MariaDB): a live MariaDB copied straight into a
# second MariaDB from one snapshot, no repository in between.
#  - the corner-case database (utf8mb4 and binary data, BIT/spatial/JSON,
#    a MyISAM table, views, routines, triggers, events, odd names, tables big
#    enough to be split into chunks) with --provision/--owner/--env-file and
#    --roles, --jobs 2: the target matches the source (mysql_compare.sh), the
#    application connects with the env file's DATABASE_URL, the accounts with
#    grants on the source database exist on the target (locked).
#  - the target server killed (kill -9) while rows are being loaded: exit 1,
#    nothing under the provisioned database's name after a restart; a second
#    run (with --reuse-role, which used to keep the user and write no
#    password) completes, clears the killed run's temporary database and
#    recreates the user the killed run left (its FILE.pending record).
#  - refusals, one line each: an existing database, a missing source
#    database, a PostgreSQL target, a PostgreSQL-only option.
# Passwords come from [source:] password-files (the two servers' differ).
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")" && pwd -P)"

require_binaries
mariadb_start mysrc
SRC_CNF="$MY_CNF" SRC_DIR="$MY_DIR" SRC_PORT="$MY_PORT" SRC_PWFILE="$MY_PASSWORD_FILE"
SRC_BASE="$MY_URI_BASE"
mariadb_start mydst
DST_CNF="$MY_CNF" DST_DIR="$MY_DIR" DST_PORT="$MY_PORT" DST_PWFILE="$MY_PASSWORD_FILE"
DST_BASE="$MY_URI_BASE"
# my_sql and friends talk to the source unless MY_CNF says otherwise
MY_CNF="$SRC_CNF"
dst_sql() { MY_CNF="$DST_CNF" my_sql "$@"; }
dst_db_exists() { [ "$(dst_sql "" "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$1'")" = 1 ]; }

CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[source:shop]
url = $SRC_BASE/shop
password-file = $SRC_PWFILE

[source:shop-missing]
url = $SRC_BASE/nosuchdb
password-file = $SRC_PWFILE

[source:notables]
url = $SRC_BASE/notables
password-file = $SRC_PWFILE

[source:norel]
url = mysql://norel@127.0.0.1:$SRC_PORT/shop
password-file = $BD_TMP/norel.pw

[source:bulk]
url = $SRC_BASE/bulk
password-file = $SRC_PWFILE

[source:fresh]
url = $SRC_BASE/fresh
password-file = $SRC_PWFILE

[source:dst]
url = $DST_BASE/
password-file = $DST_PWFILE
EOF

# --------------------------------------------------------------------------
note "source: the corner-case database 'shop', an account with grants on it"
my_db_create shop
check "corner-case database loads" my_sql_file shop "$HERE/mysql_corner_cases.sql"
my_sql shop 'ANALYZE TABLE big, big_strkey, big_composite' >/dev/null
my_sql "" "CREATE USER 'reporter'@'%' IDENTIFIED BY 'x-not-carried'; GRANT SELECT ON shop.* TO 'reporter'@'%'"
SRC_ROWS="$(my_sql shop 'SELECT COUNT(*) FROM big')"

ENV1="$BD_TMP/app.env"
run "$DBRESTORE" -c "$CONF" migrate --from shop --to dst --jobs 2 --chunk-size 64KB \
	--provision shopnew --owner shopapp --env-file "$ENV1" --roles
assert_rc "migrate --provision --roles --jobs 2 succeeds" 0
assert_output_contains "the copy is verified against the source's snapshot" "verified against the source's snapshot"
assert_output_matches "the source's binlog position and GTID are reported" "binlog [a-z-]+\.[0-9]+:[0-9]+, GTID [0-9]+-[0-9]+-[0-9]+"
check "the big table was copied in several chunks" grep -q "shop.big (chunk 2/" "$RUN_ERR" "$RUN_OUT"
check "the target database matches the source (schema, rows, views, routines, triggers, events)" \
	my_compare_across "$DST_CNF" shop shopnew
check "the env file is mode 0600" test "$(stat -c %a "$ENV1")" = 600
check "the env file holds DATABASE_URL=mysql://shopapp:...@127.0.0.1:$DST_PORT/shopnew" \
	grep -Eq "^DATABASE_URL=mysql://shopapp:[^@]{24,}@127\.0\.0\.1:$DST_PORT/shopnew$" "$ENV1"
APP_PW="$(sed -n 's|^DATABASE_URL=mysql://shopapp:\([^@]*\)@.*|\1|p' "$ENV1")"
add_secret "$APP_PW"
assert_no_secrets_in_output "the generated password is not in the migrate's output"
app_sql() {
	MYSQL_PWD="$APP_PW" /usr/bin/mariadb -N -B -h 127.0.0.1 -P "$DST_PORT" -u shopapp -D shopnew -e "$1"
}
check "the application connects with DATABASE_URL and reads its rows" \
	test "$(app_sql 'SELECT COUNT(*) FROM big')" = "$SRC_ROWS"
check "the application can write (GRANT ALL ON shopnew.*)" app_sql "INSERT INTO empty_t (id) VALUES (1)"
check "the application calls a migrated function" test "$(app_sql 'SELECT f_add(2, 3)')" = 5
check "--roles: the source's account with grants on the database exists on the target" \
	test "$(dst_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'reporter'")" = 1
dst_grants() {
	local g
	g="$(dst_sql "" "SHOW GRANTS FOR 'reporter'@'%'")"
	[[ "$g" == *'`shopnew`'* ]]
}
check "--roles: its grant names the new database" dst_grants
check "no temporary database is left on the target" \
	test "$(dst_sql "" "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'backupd\\_restore\\_%'")" = 0

my_db_create notables
my_sql notables "CREATE PROCEDURE p_only() SELECT 1"
MYSQL_PWD="$(cat "$DST_PWFILE")" run "$DBRESTORE" -c "$CONF" migrate --from notables --to "$DST_BASE/notables2" --create
assert_rc "a database without tables (one procedure) migrates" 0
check "... with its procedure" test "$(dst_sql "" "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'notables2'")" = 1

# --------------------------------------------------------------------------
note "refusals"
run "$DBRESTORE" -c "$CONF" migrate --from shop --to dst --provision shopnew --owner other --env-file "$BD_TMP/x.env"
assert_rc "provisioning an existing database is refused" 1
assert_output_contains "... naming it" "database 'shopnew' already exists"
check "... one line on stderr besides progress" test "$(grep -vc ' info: ' "$RUN_ERR")" = 1
check_not "... before the source is locked" grep -q "source snapshot" "$RUN_ERR"
check "... and the existing database is untouched (the application's row is still there)" \
	test "$(app_sql 'SELECT COUNT(*) FROM empty_t')" = 1
check "... and no env file is written" test ! -e "$BD_TMP/x.env"
run "$DBRESTORE" -c "$CONF" migrate --from shop-missing --to dst --provision nothere --owner o2 --env-file "$BD_TMP/y.env"
assert_rc "a missing source database is refused" 1
assert_output_contains "... naming it" "database 'nosuchdb' does not exist"
check_not "... nothing was created on the target" dst_db_exists nothere
run "$DBRESTORE" -c "$CONF" migrate --from shop --to "postgresql://postgres@127.0.0.1:1/x"
assert_rc "a PostgreSQL target for a MySQL source is refused (usage)" 2
run "$DBRESTORE" -c "$CONF" migrate --from shop --to dst --role-map a=b --provision z --owner z --env-file "$BD_TMP/z.env"
assert_rc "--role-map on a MySQL target is refused (usage)" 2
assert_output_contains "... naming the option" "--role-map"

printf 'norel-pw-%s\n' "$RANDOM" >"$BD_TMP/norel.pw"
chmod 0600 "$BD_TMP/norel.pw"
add_secret "$(cat "$BD_TMP/norel.pw")"
my_sql "" "CREATE USER 'norel'@'%' IDENTIFIED BY '$(cat "$BD_TMP/norel.pw")'; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON shop.* TO 'norel'@'%'"
run "$DBRESTORE" -c "$CONF" migrate --from norel --to dst --provision norelcopy --owner norelapp --env-file "$BD_TMP/norel.env"
assert_rc "a source account without RELOAD fails" 1
assert_output_contains "... saying so" "the source account lacks the RELOAD privilege"
check_not "... and what the migrate created on the target is dropped" dst_db_exists norelcopy
check "... with the user it created" test "$(dst_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'norelapp'")" = 0
MYSQL_PWD="$(cat "$SRC_PWFILE")" run "$DBRESTORE" -c "$CONF" migrate --from shop --to "$SRC_BASE/shopcopy" --create
assert_rc "the same server as target with a MyISAM table in the source is refused (usage)" 2
assert_output_contains "... naming the table" "shop.myisam_t (MyISAM)"
check_not "... and nothing was created" my_db_exists shopcopy

# --------------------------------------------------------------------------
note "a target without local_infile (multi-row INSERTs), --via-repo"
dst_sql "" "SET GLOBAL local_infile = 0"
MYSQL_PWD="$(cat "$DST_PWFILE")" run "$DBRESTORE" -c "$CONF" --log-level debug migrate --from shop --to "$DST_BASE/shopins" \
	--create --jobs 2 --chunk-size 256KB --via-repo "$BD_TMP/repo"
assert_rc "migrate --create --via-repo into a target refusing local_infile succeeds" 0
# restore's graph: big's secondary key is built once its chunks are in,
# before the small tables (the smallest work) are copied
keys_before_last_copy() {
	local k c
	k="$(grep -n "built the secondary keys of shopins.big\$" "$RUN_ERR" | head -n 1 | cut -d: -f1)"
	c="$(grep -n "info: copied " "$RUN_ERR" | tail -n 1 | cut -d: -f1)"
	[ -n "$k" ] && [ -n "$c" ] && [ "$k" -lt "$c" ]
}
check "... a table's secondary keys are built before the last copy" keys_before_last_copy
assert_output_contains "... loading with INSERTs" "multi-row INSERTs"
assert_output_contains "... the backup of the same snapshot is written and verified" "written to"
check "... and the target matches the source" my_compare_across "$DST_CNF" shop shopins
dst_sql "" "SET GLOBAL local_infile = 1"
MYSQL_PWD="$(cat "$DST_PWFILE")" run "$DBRESTORE" restore --repo "$BD_TMP/repo" --name shop --to "$DST_BASE/shoprepo" --create --verify
assert_rc "the --via-repo backup restores (--verify: its recorded checksums match)" 0
check "... to the same database" my_compare_across "$DST_CNF" shop shoprepo

# --------------------------------------------------------------------------
note "a freshly loaded source, migrated at once (InnoDB's statistics still say one page)"
my_db_create fresh
my_sql fresh "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB;
	INSERT INTO t SELECT seq, REPEAT('x', 150) FROM seq_1_to_20000"
# no check: the background recalculation may have caught up (then this tests nothing new)
note "fresh.t before the migrate: DATA_LENGTH, TABLE_ROWS $(my_sql "" "SELECT DATA_LENGTH, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'fresh' AND TABLE_NAME = 't'" | tr '\t' ' ')"
MYSQL_PWD="$(cat "$DST_PWFILE")" run "$DBRESTORE" -c "$CONF" migrate --from fresh --to "$DST_BASE/freshnew" --create
assert_rc "migrate of a freshly loaded table succeeds" 0
# 20000 lines of about 157 bytes: 3.0 MB of TSV; the estimate samples the
# rows, so it is near that (not the one page, 0.0 MB, of the statistics)
fresh_total() { sed -n 's|.*copied fresh\.t (.*done, ~[0-9.]*/\([0-9.]*\) MB,.*|\1|p' "$RUN_ERR" | head -n 1; }
check "... its size line is an estimate (~) and not 0.0/0.0 MB" \
	awk -v t="$(fresh_total)" 'BEGIN { exit !(t != "" && t + 0 >= 1.5 && t + 0 <= 6) }'
check "... and every row is copied" test "$(dst_sql freshnew 'SELECT COUNT(*) FROM t')" = 20000

# --------------------------------------------------------------------------
note "the target killed (kill -9) while rows are loaded"
my_db_create bulk
BULK_ROWS=30000
[ "${BD_ASAN:-0}" = 1 ] && BULK_ROWS=20000
my_sql bulk "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, pad VARBINARY(600)) ENGINE=InnoDB;
	INSERT INTO t SELECT seq, RANDOM_BYTES(500) FROM seq_1_to_$BULK_ROWS; ANALYZE TABLE t" >/dev/null
TMPDB="$(my_tmpdb bulknew)"
ENV2="$BD_TMP/bulk.env"
(
	rc=0
	"$DBRESTORE" -c "$CONF" migrate --from bulk --to dst --jobs 2 --chunk-size 1MB \
		--provision bulknew --owner bulkapp --env-file "$ENV2" >"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" || rc=$?
	echo "$rc" >"$BD_TMP/kill.rc"
) &
mig=$!
# Hold the copy at a known point: once the table exists in the temporary
# database, a WRITE lock on it makes every chunk's LOAD wait.
locked=0
for _ in $(seq 1 400); do
	if [ "$(dst_sql "" "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$TMPDB' AND TABLE_NAME = 't'")" = 1 ]; then
		setsid bash -c 'printf "LOCK TABLES \`%s\`.t WRITE; SELECT SLEEP(120);\n" "$1" |
			/usr/bin/mariadb --defaults-file="$2" >/dev/null 2>&1' _ "$TMPDB" "$DST_CNF" </dev/null &
		locker=$!
		locked=1
		break
	fi
	[ -e "$BD_TMP/kill.rc" ] && break
	sleep 0.05
done
waiting=0
if [ "$locked" = 1 ]; then
	for _ in $(seq 1 400); do
		if [ "$(dst_sql "" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%' AND STATE LIKE '%metadata lock%'")" -ge 1 ]; then
			waiting=1
			break
		fi
		[ -e "$BD_TMP/kill.rc" ] && break
		sleep 0.05
	done
fi
check "a chunk's LOAD DATA was waiting when the target was killed" test "$waiting" = 1
DST_PID="$(cat "$DST_DIR/sock/mariadbd.pid")"
kill -KILL "$DST_PID" 2>/dev/null || true
wait "$mig" 2>/dev/null || true
kill -KILL -- "-$locker" 2>/dev/null || true
check "migrate exits 1 when the target dies" test "$(cat "$BD_TMP/kill.rc" 2>/dev/null)" = 1
check "... saying the target was lost" grep -Eqi "lost connection|gone away|can't connect" "$BD_TMP/kill.err"
check "... never reporting success" bash -c '! grep -q "migrate of .* complete" "$1"' _ "$BD_TMP/kill.err"
check "... and no env file is written" test ! -e "$ENV2"
check "... naming the user it could not drop" grep -q "drop user 'bulkapp'@'%' by hand" "$BD_TMP/kill.err"
cat "$BD_TMP/kill.out" "$BD_TMP/kill.err" >>"$BD_ALL_OUTPUT"
for _ in $(seq 1 100); do
	[ -d "/proc/$DST_PID" ] || break
	sleep 0.05
done
if ! bash "$MY_SERVER_SH" start "$DST_DIR" "$DST_PORT" >/dev/null 2>&1; then
	fail "restart the target server"
	finish
fi
check_not "after a restart, nothing is under the provisioned database's name" dst_db_exists bulknew
run "$DBRESTORE" -c "$CONF" migrate --from bulk --to dst --jobs 2 --chunk-size 1MB \
	--provision bulknew --owner bulkapp --env-file "$ENV2" --reuse-role
assert_rc "a second run (the user outlived the kill) completes" 0
assert_output_contains "... dropping the killed run's temporary database" "left by an interrupted restore"
assert_output_contains "... recreating the user the killed run left" \
	"user 'bulkapp'@'%' was left by an interrupted provisioning of 'bulknew'"
check "... with every row" test "$(dst_sql bulknew 'SELECT COUNT(*) FROM t')" = "$BULK_ROWS"
check "... and the same checksum" test "$(dst_sql bulknew 'CHECKSUM TABLE t' | cut -f2)" = "$(my_sql bulk 'CHECKSUM TABLE t' | cut -f2)"
BULK_PW="$(sed -n 's|^DATABASE_URL=mysql://bulkapp:\([A-Za-z0-9]*\)@.*|\1|p' "$ENV2")"
add_secret "$BULK_PW"
check "... DATABASE_URL with the new password" \
	grep -Eq "^DATABASE_URL=mysql://bulkapp:[A-Za-z0-9]{32}@127\.0\.0\.1:$DST_PORT/bulknew$" "$ENV2"
check "... which the application connects with" test "$(MYSQL_PWD="$BULK_PW" /usr/bin/mariadb --no-defaults \
	-h 127.0.0.1 -P "$DST_PORT" -u bulkapp -N -B -e "SELECT COUNT(*) FROM bulknew.t")" = "$BULK_ROWS"
check_not "... and the record is gone" test -e "$ENV2.pending"


# --------------------------------------------------------------------------
note "a row added on the target during the copy fails verification"
TMPDB3="$(my_tmpdb bulkcheck)"
(
	rc=0
	"$DBRESTORE" -c "$CONF" migrate --from bulk --to dst --jobs 2 --chunk-size 1MB \
		--provision bulkcheck --owner checkapp --env-file "$BD_TMP/check.env" >"$BD_TMP/check.out" 2>"$BD_TMP/check.err" || rc=$?
	echo "$rc" >"$BD_TMP/check.rc"
) &
mig=$!
added=0
for _ in $(seq 1 400); do
	if [ "$(dst_sql "" "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$TMPDB3' AND TABLE_NAME = 't'")" = 1 ]; then
		# the LOCK waits for a running LOAD and holds the next ones off
		if dst_sql "" "LOCK TABLES \`$TMPDB3\`.t WRITE; INSERT INTO \`$TMPDB3\`.t VALUES ($((BULK_ROWS + 1000)), 'extra'); UNLOCK TABLES"; then
			added=1
		fi
		break
	fi
	[ -e "$BD_TMP/check.rc" ] && break
	sleep 0.05
done
wait "$mig" 2>/dev/null || true
cat "$BD_TMP/check.out" "$BD_TMP/check.err" >>"$BD_ALL_OUTPUT"
check "a row was added to the target's copy while it loaded" test "$added" = 1
check "migrate exits 1" test "$(cat "$BD_TMP/check.rc" 2>/dev/null)" = 1
check "... naming the table that differs" grep -q "verification against the source's snapshot failed.*bulk.*t" "$BD_TMP/check.err"
check_not "... and the database is dropped" dst_db_exists bulkcheck
check_not "... with its temporary database" dst_db_exists "$TMPDB3"
check "... and the user" test "$(dst_sql "" "SELECT COUNT(*) FROM mysql.user WHERE User = 'checkapp'")" = 0
check "... and no env file is written" test ! -e "$BD_TMP/check.env"

# --------------------------------------------------------------------------
note "--provision killed once the database is complete, before the env file: the same migrate again completes it"
shim_build
my_db_create tiny
my_sql tiny "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO t VALUES (1), (2), (3)"
printf '\n[source:tiny]\nurl = %s/tiny\npassword-file = %s\n' "$SRC_BASE" "$SRC_PWFILE" >>"$CONF"
TENV="$BD_TMP/tiny.env"
run_killed KILLSHIM_KILL_AFTER="DROP TABLE \`tinycopy\`.\`backupd_restore_in_progress\`" "$DBRESTORE" -c "$CONF" \
	migrate --from tiny --to dst --provision tinycopy --owner tinyapp --env-file "$TENV"
assert_rc "killed after sending the last marker's DROP TABLE" 137
check "the database is there" wait_for 20 dst_db_exists tinycopy
check "the record says the database is complete" grep -qx "state=database-complete" "$TENV.pending"
check_not "no env file" test -e "$TENV"
run "$DBRESTORE" -c "$CONF" migrate --from tiny --to dst --provision tinycopy --owner tinyapp --env-file "$TENV"
assert_rc "the same migrate again completes it" 0
assert_output_contains "... saying so in one line" "completed an interrupted provisioning of 'tinycopy'"
check_not "... copying nothing again" grep -q "source snapshot" "$RUN_ERR"
TINY_PW="$(sed -n 's|^DATABASE_URL=mysql://tinyapp:\([^@]*\)@.*|\1|p' "$TENV")"
add_secret "$TINY_PW"
check "the env file holds DATABASE_URL with a password" \
	grep -Eq "^DATABASE_URL=mysql://tinyapp:[A-Za-z0-9]{32}@127\.0\.0\.1:$DST_PORT/tinycopy$" "$TENV"
check "the application connects with it and reads its rows" \
	test "$(MYSQL_PWD="$TINY_PW" /usr/bin/mariadb -N -B -h 127.0.0.1 -P "$DST_PORT" -u tinyapp -D tinycopy -e 'SELECT COUNT(*) FROM t')" = 3
check_not "the record is gone" test -e "$TENV.pending"
run "$DBRESTORE" -c "$CONF" migrate --from tiny --to dst --provision tinycopy --owner tinyapp --env-file "$TENV"
assert_rc "once complete, the database is refused again" 1
assert_output_contains "... as any existing database" "database 'tinycopy' already exists"
assert_no_secrets_in_output "no generated password in any output"

finish
