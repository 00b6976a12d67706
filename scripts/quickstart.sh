#!/usr/bin/env bash
# Quickstart: from a fresh clone to a backup and a restore in one command.
#
#   scripts/quickstart.sh [--no-deps] [--keep] [--port P] [--dir DIR]
#
# 1. installs the Debian packages (scripts/deps.sh; skip with --no-deps)
# 2. builds backupd and dbrestore into build/ (if not built yet)
# 3. starts a throwaway PostgreSQL 15 on 127.0.0.1:PORT (default 55434)
# 4. loads a small sample database "shop"
# 5. backupd dump   -> a local repository in DIR/repo (default /tmp/backupd-quickstart)
# 6. backupd list
# 7. dbrestore restore --create -> database "shop_restored"
# 8. shows row counts of both side by side, then stops the server
#    (--keep leaves it running and prints how to connect)
#
# Each step is a function; a scheduled-daemon variant replaces qs_backup with
# a config file plus `backupd run JOB` / `backupd daemon`, keeping the rest.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
DEPS=1
KEEP=0
PORT=55434
QS_DIR=/tmp/backupd-quickstart
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

while [ $# -gt 0 ]; do
	case "$1" in
	--no-deps) DEPS=0; shift ;;
	--keep) KEEP=1; shift ;;
	--port) PORT="$2"; shift 2 ;;
	--dir) QS_DIR="$2"; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$QS_DIR" in /*) ;; *) QS_DIR="$(pwd -P)/$QS_DIR" ;; esac

BACKUPD="$BUILD_DIR/backupd/backupd"
DBRESTORE="$BUILD_DIR/restore/dbrestore"
PGSRV="$QS_DIR/pg"
REPO="$QS_DIR/repo"
SRC_DB=shop
DST_DB=shop_restored

step() {
	if [ -t 1 ]; then printf '\n\033[1m==> %s\033[0m\n' "$*"; else printf '\n==> %s\n' "$*"; fi
}
show() { printf '$ %s\n' "$*"; "$@"; }

qs_deps() {
	step "installing packages (scripts/deps.sh)"
	bash "$ROOT/scripts/deps.sh"
}

qs_build() {
	if [ -x "$BACKUPD" ] && [ -x "$DBRESTORE" ]; then
		if [ -f "$BUILD_DIR/Makefile" ]; then
			step "building (incremental, $BUILD_DIR)"
			make -C "$BUILD_DIR" -j"$(nproc)" >/dev/null
		fi
		return
	fi
	step "building into $BUILD_DIR"
	if [ -e "$ROOT/config.status" ]; then
		echo "quickstart: $ROOT is configured in-tree; run 'make distclean' there first" >&2
		exit 1
	fi
	(cd "$ROOT" && autoreconf -fi)
	mkdir -p "$BUILD_DIR"
	(cd "$BUILD_DIR" && "$ROOT/configure" && make -j"$(nproc)")
}

qs_start_server() {
	step "starting PostgreSQL on 127.0.0.1:$PORT ($PGSRV)"
	mkdir -p "$QS_DIR"
	chmod 0755 "$QS_DIR"
	bash "$ROOT/scripts/pg-server.sh" start "$PGSRV" "$PORT" "$PG_BINDIR"
	# The password lives in a 0600 pgpass file; it never goes on a command line.
	export PGPASSFILE="$PGSRV/pgpass"
	URI_BASE="postgresql://postgres@127.0.0.1:$PORT"
}

qs_stop_server() {
	if [ "$KEEP" = 1 ]; then
		step "server left running"
		echo "connect:  source $PGSRV/env && $PG_BINDIR/psql -d $DST_DB"
		echo "stop:     bash $ROOT/scripts/pg-server.sh stop $PGSRV"
	else
		bash "$ROOT/scripts/pg-server.sh" stop "$PGSRV" || true
	fi
}

psql_db() { PGOPTIONS="-c client_min_messages=warning" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "$@"; }

qs_load_sample() {
	step "loading the sample database '$SRC_DB'"
	psql_db postgres -c "DROP DATABASE IF EXISTS $DST_DB" -c "DROP DATABASE IF EXISTS $SRC_DB" \
		-c "CREATE DATABASE $SRC_DB"
	psql_db "$SRC_DB" <<'SQL'
CREATE TABLE customers (
    id         serial PRIMARY KEY,
    name       text NOT NULL,
    email      text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE products (
    id    serial PRIMARY KEY,
    name  text NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0)
);
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    ordered_at  timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'new'
);
CREATE TABLE order_items (
    order_id   bigint  NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id integer NOT NULL REFERENCES products (id),
    qty        integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, product_id)
);
INSERT INTO customers (name, email)
SELECT 'Customer ' || i, 'customer' || i || '@example.com' FROM generate_series(1, 1000) i;
INSERT INTO products (name, price)
SELECT 'Product ' || i, round((random() * 100)::numeric, 2) FROM generate_series(1, 200) i;
INSERT INTO orders (customer_id, ordered_at, status)
SELECT 1 + i % 1000, now() - i * interval '1 hour', (ARRAY['new', 'paid', 'shipped'])[1 + i % 3]
FROM generate_series(1, 20000) i;
INSERT INTO order_items
SELECT o.id, 1 + (o.id * 7 + k) % 200, 1 + k
FROM orders o, generate_series(0, 2) k;
CREATE INDEX orders_customer ON orders (customer_id);
CREATE VIEW order_totals AS
    SELECT o.id, sum(p.price * i.qty) AS total
    FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
    GROUP BY o.id;
SQL
}

qs_backup() {
	step "backing up '$SRC_DB' into $REPO"
	show "$BACKUPD" dump --source "$URI_BASE/$SRC_DB" --repo "$REPO" --name "$SRC_DB" --jobs 2 |
		tee "$QS_DIR/dump.out"
	BACKUP_ID="$(grep -v '^[[:space:]]*$' "$QS_DIR/dump.out" | tail -n 1)"
	echo "backup ID: $BACKUP_ID"
}

qs_list() {
	step "listing the repository"
	show "$BACKUPD" list --repo "$REPO"
	show "$BACKUPD" verify --repo "$REPO" --name "$SRC_DB" "$BACKUP_ID"
	echo "verify: ok"
}

qs_restore() {
	step "restoring $BACKUP_ID into a new database '$DST_DB'"
	show "$DBRESTORE" restore --repo "$REPO" --name "$SRC_DB" --backup "$BACKUP_ID" \
		--to "$URI_BASE/$DST_DB" --jobs 2 --create
}

qs_show() {
	step "row counts: $SRC_DB vs $DST_DB"
	local t a b status=0
	printf '%-14s %10s %14s\n' table "$SRC_DB" "$DST_DB"
	for t in customers products orders order_items; do
		a="$(psql_db "$SRC_DB" -A -t -c "SELECT count(*) FROM $t")"
		b="$(psql_db "$DST_DB" -A -t -c "SELECT count(*) FROM $t" 2>/dev/null || echo missing)"
		printf '%-14s %10s %14s\n' "$t" "$a" "$b"
		[ "$a" = "$b" ] || status=1
	done
	if [ "$status" -eq 0 ]; then
		echo "restored database matches the source"
	else
		echo "MISMATCH between $SRC_DB and $DST_DB" >&2
	fi
	return "$status"
}

main() {
	[ "$DEPS" = 1 ] && qs_deps
	qs_build
	qs_start_server
	trap qs_stop_server EXIT
	qs_load_sample
	qs_backup
	qs_list
	qs_restore
	qs_show
}

main
