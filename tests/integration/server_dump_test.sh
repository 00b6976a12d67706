#!/usr/bin/env bash
# Whole-server PostgreSQL dumps and partial restores, against real servers:
# dump --all-databases of a server with 3 databases, roles and a tablespace,
# restored database by database (--database) and all at once into a fresh
# server; dump table filters (--include-table, --exclude-table,
# --exclude-table-data); restore subsets (--table, --schema), a subset whose
# foreign key needs a left-out table; bad patterns and config values; the
# MySQL/MariaDB table filters.
source "$(dirname "$0")/lib.sh"

# Under ASan (BD_ASAN=1, set by scripts/test.sh) the second whole-server dump
# and restore (--role-passwords) and the config job's dump are left out: the
# same code paths as the first, on a slower build.
ASAN_SMALL=0
if [ "${BD_ASAN:-0}" = 1 ] || [ -n "${ASAN_OPTIONS:-}" ]; then ASAN_SMALL=1; fi

require_binaries
pg_start pg
SRC_PORT="$PG_PORT"
SRC_BASE="$PG_URI_BASE"
SRC_PASSFILE="$PGPASSFILE"
REPO="$BD_TMP/repo"
TS_DIR="$BD_TMP/ts"
own_dir "$TS_DIR"

# --------------------------------------------------------------------------
note "a server with 3 databases, roles, role settings and a tablespace"
psql_q postgres "CREATE ROLE app_owner LOGIN PASSWORD 'app-secret-1'" >/dev/null
psql_q postgres "CREATE ROLE reader NOLOGIN" >/dev/null
psql_q postgres "GRANT reader TO app_owner" >/dev/null
psql_q postgres "ALTER ROLE app_owner SET work_mem = '8MB'" >/dev/null
psql_q postgres "COMMENT ON ROLE reader IS 'read-only people'" >/dev/null
psql_q postgres "CREATE TABLESPACE ts LOCATION '$TS_DIR'" >/dev/null
psql_q postgres "GRANT CREATE ON TABLESPACE ts TO reader" >/dev/null
psql_q postgres "CREATE DATABASE alpha OWNER app_owner" >/dev/null
psql_q postgres "CREATE DATABASE beta OWNER app_owner" >/dev/null
psql_q postgres "CREATE DATABASE gamma" >/dev/null
psql_q postgres "ALTER DATABASE beta SET search_path = sales, public" >/dev/null
_bd_psql -d alpha >/dev/null <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric);
CREATE INDEX orders_customer ON orders (customer);
CREATE TABLE audit (id bigserial PRIMARY KEY, what text);
CREATE TABLE audit_2024 (id int, what text);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE SCHEMA sales;
CREATE TABLE sales.items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku text UNIQUE);
CREATE TABLE sales.items_archive (id int, sku text);
CREATE FUNCTION sales.sku_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM sales.items';
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g;
INSERT INTO orders (customer, total) SELECT 1 + g % 50, g FROM generate_series(1, 400) g;
INSERT INTO audit (what) SELECT 'event ' || g FROM generate_series(1, 300) g;
INSERT INTO audit_2024 SELECT g, 'old' FROM generate_series(1, 20) g;
INSERT INTO sales.items (sku) SELECT 'sku-' || g FROM generate_series(1, 30) g;
INSERT INTO sales.items_archive SELECT g, 'old-' || g FROM generate_series(1, 10) g;
GRANT SELECT ON customers TO reader;
SQL
_bd_psql -d beta >/dev/null <<'SQL'
CREATE SCHEMA sales;
CREATE TABLE sales.t (k text PRIMARY KEY, v int);
INSERT INTO sales.t SELECT 'k' || g, g FROM generate_series(1, 100) g;
SQL
_bd_psql -d gamma >/dev/null <<'SQL'
CREATE TABLE spaced (id int, payload text) TABLESPACE ts;
INSERT INTO spaced SELECT g, repeat('x', 50) FROM generate_series(1, 200) g;
SQL

# fingerprint DB: every user table's name, row count and rows' md5
fingerprint() {
	psql_q "$1" "SELECT string_agg(format('%s.%s', table_schema, table_name), ',' ORDER BY table_schema, table_name) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'" | tr -d '\n'
	for t in $(psql_q "$1" "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE' ORDER BY 1"); do
		printf ' %s=%s' "$t" "$(psql_q "$1" "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM $t x")"
	done
}
FP_ALPHA="$(fingerprint alpha)"
FP_BETA="$(fingerprint beta)"
FP_GAMMA="$(fingerprint gamma)"

# --------------------------------------------------------------------------
note "dump --all-databases"
run "$BACKUPD" dump --source "$SRC_BASE/postgres" --repo "$REPO" --name srv --all-databases --jobs 2
assert_rc "dump --all-databases succeeds" 0
SID="$(last_line)"
MAN="$REPO/srv/backups/$SID/manifest.json"
assert_file "one backup, one manifest" "$MAN"
check "the manifest says it is a whole-server dump" \
	python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["info"]; assert i["server"] is True' "$MAN"
check "the manifest lists alpha, beta, gamma and postgres" \
	python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["info"]; assert sorted(d["name"] for d in i["databases"]) == ["alpha","beta","gamma","postgres"], i["databases"]' "$MAN"
check "each database's objects sit under db/N/" \
	python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert all(o["name"].startswith("db/") for o in m["objects"]); assert any(o["name"].startswith("db/4/") for o in m["objects"])' "$MAN"
check "the globals hold the roles, memberships and the tablespace" \
	python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["info"]["globals"]; r={x["name"]:x for x in g["roles"]}; assert r["app_owner"]["member_of"][0]["role"]=="reader"; assert g["tablespaces"][0]["name"]=="ts"' "$MAN"
check_not "no password hash without --role-passwords" grep -q -e SCRAM-SHA-256 -e '"password"' "$MAN"
run "$BACKUPD" list --repo "$REPO" --name srv --json
assert_rc "list shows the server backup" 0
assert_output_contains "list names it" "$SID"
run "$BACKUPD" verify --repo "$REPO" --name srv "$SID"
assert_rc "verify checks every database's objects" 0

run "$BACKUPD" dump --source "$SRC_BASE/postgres" --repo "$REPO" --name srv --all-databases --role-passwords
assert_rc "--role-passwords into an unencrypted repository is refused" 2
assert_output_contains "... saying why" "encrypted repository"
run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name a --role-passwords
assert_rc "--role-passwords without --all-databases is refused" 2

# --------------------------------------------------------------------------
note "restore one database of the server dump (--database)"
run "$DBRESTORE" restore --repo "$REPO" --name srv --database beta --to "$SRC_BASE/beta_copy" --create --verify
assert_rc "restore --database beta --verify into beta_copy" 0
assert_output_contains "beta was verified against its own checksums" "verified against backup"
assert_eq "beta_copy holds beta's data" "$FP_BETA" "$(fingerprint beta_copy)"
assert_eq "beta's own settings come with it" "search_path=sales, public" \
	"$(psql_q postgres "SELECT array_to_string(setconfig, ';') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'beta_copy' AND s.setrole = 0")"
run "$DBRESTORE" restore --repo "$REPO" --name srv --database nosuch --to "$SRC_BASE/x" --create
assert_rc "restore --database of a database the dump lacks" 2
assert_output_contains "... names the databases it holds" "alpha, beta, gamma, postgres"

# --------------------------------------------------------------------------
note "restore the whole server into a fresh one"
# the tablespace's directory must be free for the new server: the source lets go of it
db_drop gamma
psql_q postgres "DROP TABLESPACE ts" >/dev/null
PG_SERVER_PASSWORD="$(cat "$PG_DIR/password")" pg_start pg2
DST_BASE="$PG_URI_BASE"
DST_PORT="$PG_PORT"
cat "$SRC_PASSFILE" "$PGPASSFILE" >"$BD_TMP/pgpass.both"
chmod 0600 "$BD_TMP/pgpass.both"
export PGPASSFILE="$BD_TMP/pgpass.both"
run "$DBRESTORE" restore --repo "$REPO" --name srv --to "$DST_BASE/" --jobs 2
assert_rc "restore of every database and the globals" 0
assert_eq "alpha is back" "$FP_ALPHA" "$(fingerprint alpha)"
assert_eq "beta is back" "$FP_BETA" "$(fingerprint beta)"
assert_eq "gamma is back" "$FP_GAMMA" "$(fingerprint gamma)"
assert_eq "roles are back with their attributes" "app_owner:true reader:false" \
	"$(psql_q postgres "SELECT string_agg(rolname || ':' || rolcanlogin, ' ' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('app_owner', 'reader')")"
assert_eq "the membership is back" "1" \
	"$(psql_q postgres "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = 'reader' AND r.rolname = 'app_owner'")"
assert_eq "the role's own settings are back" "work_mem=8MB" \
	"$(psql_q postgres "SELECT array_to_string(setconfig, ';') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'app_owner' AND s.setdatabase = 0")"
assert_eq "the role's comment is back" "read-only people" \
	"$(psql_q postgres "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'reader'")"
assert_eq "no password came back (none was dumped)" "" \
	"$(psql_q postgres "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_owner'")"
assert_eq "the tablespace is back at its location" "$TS_DIR" \
	"$(psql_q postgres "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts'")"
assert_eq "the tablespace's grant is back" "t" "$(psql_q postgres "SELECT has_tablespace_privilege('reader', 'ts', 'CREATE')")"
assert_eq "gamma's table is in it" "ts" "$(psql_q gamma "SELECT tablespace FROM pg_tables WHERE tablename = 'spaced'")"
assert_eq "database owners are back" "app_owner" "$(psql_q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'alpha'")"
assert_eq "grants are back" "t" "$(psql_q alpha "SELECT has_table_privilege('reader', 'customers', 'SELECT')")"
run "$DBRESTORE" restore --repo "$REPO" --name srv --to "$DST_BASE/"
assert_rc "a second restore onto the same server fails" 1
assert_output_contains "... naming the database in the way" "database 'alpha' (1 of 4; 0 restored before it): target database 'alpha' is not empty"
assert_eq "... and touching no other database" "0" \
	"$(psql_q postgres "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"

if [ "$ASAN_SMALL" = 0 ]; then
note "--role-passwords into an encrypted repository"
new_key "$BD_TMP/key"
run "$BACKUPD" dump --source "$SRC_BASE/postgres" --repo "$BD_TMP/erepo" --encryption-key-file "$BD_TMP/key" --name srv --all-databases --role-passwords
assert_rc "dump --all-databases --role-passwords into an encrypted repository" 0
check_not "... no hash readable in the repository" grep -rq SCRAM-SHA-256 "$BD_TMP/erepo"
for db in alpha beta; do db_drop "$db"; done
psql_q postgres "DROP ROLE app_owner" >/dev/null
psql_q postgres "REVOKE CREATE ON TABLESPACE ts FROM reader" >/dev/null
psql_q postgres "DROP ROLE reader" >/dev/null
run "$DBRESTORE" restore --repo "$BD_TMP/erepo" --encryption-key-file "$BD_TMP/key" --name srv --to "$DST_BASE/"
assert_rc "restore of the server with the roles' password hashes" 0
assert_eq "the hash is back" "SCRAM-SHA-256" \
	"$(psql_q postgres "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'app_owner'")"
check "the role logs in with its password" env PGPASSWORD=app-secret-1 PGPASSFILE=/dev/null \
	"$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$DST_PORT" -U app_owner -d alpha -c "SELECT 1"
fi
pg_stop "$BD_TMP/pg2"
PG_PORT="$SRC_PORT"
PG_URI_BASE="$SRC_BASE"

# --------------------------------------------------------------------------
note "dump table filters"
run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name af --include-table 'public.*' --exclude-table 'audit*'
assert_rc "dump --include-table 'public.*' --exclude-table 'audit*'" 0
run "$DBRESTORE" restore --repo "$REPO" --name af --to "$SRC_BASE/alpha_f" --create
assert_rc "... restores" 0
assert_eq "only the selected tables are there" "public.customers,public.orders" \
	"$(psql_q alpha_f "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
assert_eq "their rows are there" "400" "$(psql_q alpha_f "SELECT count(*) FROM orders")"
assert_eq "the view on a dumped table is there" "1" "$(psql_q alpha_f "SELECT count(*) FROM pg_views WHERE viewname = 'big_orders'")"

run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name ad --exclude-table-data 'audit' --exclude-table-data 'sales.items_*'
assert_rc "dump --exclude-table-data" 0
run "$DBRESTORE" restore --repo "$REPO" --name ad --to "$SRC_BASE/alpha_d" --create
assert_rc "... restores" 0
assert_eq "the excluded data's tables are there, empty" "0 0" \
	"$(psql_q alpha_d "SELECT (SELECT count(*) FROM audit) || ' ' || (SELECT count(*) FROM sales.items_archive)")"
assert_eq "the other tables keep their rows" "20 30" \
	"$(psql_q alpha_d "SELECT (SELECT count(*) FROM audit_2024) || ' ' || (SELECT count(*) FROM sales.items)")"

run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name ax --exclude-table customers
assert_rc "excluding a table a dumped table's foreign key needs is refused" 2
assert_output_contains "... naming the key" "orders_customer_fkey"
check_not "... and nothing is left behind" test -d "$REPO/ax/backups"

run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name ax --exclude-table orders
assert_rc "excluding a table a dumped view reads is refused" 2
assert_output_contains "... naming the view" "view public.big_orders is dumped but reads public.orders"
run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name ax --exclude-table 'orders' --exclude-table 'big_*'
assert_rc "... and accepted with the view excluded too" 0

for pat in 'a.b.c' 'x[' '' 'public.'; do
	run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name bad --include-table "$pat"
	assert_rc "bad pattern '$pat' is a usage error" 2
	assert_eq "... one line" "1" "$(wc -l <"$RUN_ERR")"
done
assert_output_contains "the error names the option and the pattern" "--include-table': invalid pattern"
run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name typo --include-table orders --include-table custmers
assert_rc "an --include-table that matches no table (a typo) is refused" 2
assert_output_contains "... naming it" "--include-table 'custmers' matches no table or view of the database"
check_not "... and no backup is written" test -d "$REPO/typo/backups"

# --------------------------------------------------------------------------
note "restore subsets: --table, --schema"
run "$BACKUPD" dump --source "$SRC_BASE/alpha" --repo "$REPO" --name full
assert_rc "full dump of alpha" 0
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_t" --create --table public.orders --table 'customers'
assert_rc "restore --table orders --table customers" 0
assert_eq "only those tables" "public.customers,public.orders" \
	"$(psql_q alpha_t "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
assert_eq "with their indexes and foreign key" "orders_customer orders_customer_fkey" \
	"$(psql_q alpha_t "SELECT (SELECT indexname FROM pg_indexes WHERE indexname = 'orders_customer') || ' ' || (SELECT conname FROM pg_constraint WHERE contype = 'f')")"
assert_eq "and their rows and sequence" "400 400" \
	"$(psql_q alpha_t "SELECT (SELECT count(*) FROM orders) || ' ' || (SELECT last_value FROM orders_id_seq)")"
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_s" --create --schema sales
assert_rc "restore --schema sales" 0
assert_eq "only the schema's tables" "sales.items,sales.items_archive" \
	"$(psql_q alpha_s "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
assert_eq "with its functions and the identity's position" "30 30" \
	"$(psql_q alpha_s "SELECT sales.sku_count() || ' ' || (SELECT last_value FROM sales.items_id_seq)")"
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_x" --create --exclude-schema sales --exclude-table 'audit*'
assert_rc "restore --exclude-schema sales --exclude-table 'audit*'" 0
assert_eq "everything else" "public.customers,public.orders" \
	"$(psql_q alpha_x "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_o" --create --table orders
assert_rc "a subset whose foreign key needs a left-out table is refused" 2
assert_output_contains "... naming the key and the table" "orders_customer_fkey) to public.customers"
check_not "... before anything is created" db_exists alpha_o
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_typo" --create --table public.orders --table custmers
assert_rc "a --table that matches no table (a typo) is refused" 2
assert_output_contains "... naming it" "--table 'custmers' matches no table of the backup"
check_not "... and nothing is left" db_exists alpha_typo
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_b" --create --table '[orders'
assert_rc "a bad restore pattern is a usage error" 2
assert_eq "... one line" "1" "$(wc -l <"$RUN_ERR")"
run "$DBRESTORE" restore --repo "$REPO" --name full --to "$SRC_BASE/alpha_b" --create --database beta
assert_rc "--database on a one-database dump that is not that database" 2

# --------------------------------------------------------------------------
note "configuration: databases = all, filter keys, checked"
mkdir -p "$BD_TMP/state"
cat >"$BD_TMP/srv.conf" <<CONF
[global]
state-dir = $BD_TMP/state
[repo:local]
url = $REPO
[source:server]
url = $SRC_BASE/postgres
databases = all
[job:server-nightly]
source = server
repo = local
schedule = @daily
exclude-table-data = audit
CONF
if [ "$ASAN_SMALL" = 0 ]; then
	run "$BACKUPD" -c "$BD_TMP/srv.conf" run server-nightly
	assert_rc "a job of a databases = all source" 0
	check "... dumps the whole server" python3 -c 'import json,sys,glob; m=[json.load(open(f)) for f in glob.glob(sys.argv[1] + "/server/backups/*/manifest.json")]; assert m and m[0]["info"]["server"]' "$REPO"
fi
run "$BACKUPD" -c "$BD_TMP/srv.conf" check
assert_rc "check accepts databases = all and the filter keys" 0
sed -i 's/^databases = all/databases = alpha/; s/^exclude-table-data = audit/exclude-table-data = a.b.c/' "$BD_TMP/srv.conf"
run "$BACKUPD" -c "$BD_TMP/srv.conf" check
assert_rc "check refuses a bad databases value and a bad pattern" 2
assert_output_contains "... the databases key" "databases"
assert_output_contains "... the pattern key" "exclude-table-data"

# --------------------------------------------------------------------------
note "MySQL/MariaDB: table filters on dumps"
mariadb_start
my_db_create shop
my_sql shop "CREATE TABLE products (id int PRIMARY KEY, name varchar(20)); CREATE TABLE log_2024 (id int); CREATE TABLE events (id int, what varchar(10)); CREATE TRIGGER log_trg AFTER INSERT ON log_2024 FOR EACH ROW SET @x = 1; CREATE VIEW v_log AS SELECT * FROM log_2024; INSERT INTO products VALUES (1, 'a'), (2, 'b'); INSERT INTO log_2024 VALUES (1); INSERT INTO events VALUES (1, 'x'), (2, 'y')"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri shop)" --repo "$REPO" --name shop --exclude-table 'log_*'
assert_rc "MySQL: excluding a table a dumped view reads is refused" 2
assert_output_contains "... naming the view" "view shop.v_log is dumped but reads shop.log_2024"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri shop)" --repo "$REPO" --name shop --exclude-table 'log_*' --exclude-table 'v_*' --exclude-table-data 'shop.events'
assert_rc "MySQL dump --exclude-table --exclude-table-data" 0
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name shop --to "$(my_uri shop2)" --create
assert_rc "... restores" 0
assert_eq "the left-out table, its view and trigger are not there" "0 0 0" \
	"$(my_sql "" "SELECT CONCAT_WS(' ', (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'shop2' AND table_name IN ('log_2024', 'v_log')), (SELECT count(*) FROM information_schema.triggers WHERE trigger_schema = 'shop2'), (SELECT count(*) FROM shop2.events))")"
assert_eq "the rest keeps its rows" "2" "$(my_sql "" "SELECT count(*) FROM shop2.products")"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri shop)" --repo "$REPO" --name shoptypo --include-table products --include-table 'shop.prodcts'
assert_rc "MySQL: an --include-table that matches no table is refused" 2
assert_output_contains "... naming it" "--include-table 'shop.prodcts' matches no table or view"
check_not "... and no backup is written" test -d "$REPO/shoptypo/backups"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri shop)" --repo "$REPO" --name shopview --include-table v_log --include-table log_2024
assert_rc "... a view counts as a match" 0
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri shop)" --repo "$REPO" --name shop --all-databases
assert_rc "--all-databases with a URI naming a database is refused" 2
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$MY_URI_BASE/" --repo "$REPO" --name myserver --all-databases --exclude-table 'shop*.log_*' --exclude-table 'shop*.v_*'
assert_rc "MySQL dump --all-databases with filters" 0
check "... takes every database but the system ones" python3 -c 'import json,sys,glob; m=json.load(open(glob.glob(sys.argv[1] + "/myserver/backups/*/manifest.json")[0])); n=sorted(d["name"] for d in m["info"]["databases"]); assert n == ["shop", "shop2"], n' "$REPO"
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$REPO" --name shop --to "$(my_uri shop3)" --table products
assert_rc "restore --table on a MySQL target is refused (filters apply when dumping)" 2

finish
