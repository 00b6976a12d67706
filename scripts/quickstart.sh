#!/usr/bin/env bash
# Quickstart: from a fresh clone to scheduled backups and a restore in one
# command (about a minute once built).
#
#   scripts/quickstart.sh [--no-deps] [--keep] [--port P] [--dir DIR] [--runs N]
#
# 1. installs the Debian packages (scripts/deps.sh; skip with --no-deps)
# 2. builds backupd and dbrestore into build/ (if not built yet)
# 3. starts a throwaway PostgreSQL 15 on 127.0.0.1:PORT (default 55434)
# 4. loads a small sample database "shop"
# 5. writes DIR/backupd.conf (default DIR /tmp/backupd-quickstart): a job
#    that dumps "shop" every 10 seconds into DIR/repo with keep-last=2, and
#    the /metrics endpoint on a free local port
# 6. backupd daemon: waits for N runs (default 3) in the run history, showing
#    `backupd status` after each and a /metrics scrape, then stops it with
#    SIGTERM
# 7. backupd list (retention left 2 backups) and verify of the latest
# 8. dbrestore restore --create of the latest -> database "shop_restored"
# 9. shows row counts of both side by side, then stops the server
#    (--keep leaves it running and prints how to connect)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
DEPS=1
KEEP=0
PORT=55434
QS_DIR=/tmp/backupd-quickstart
RUNS=3
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

while [ $# -gt 0 ]; do
	case "$1" in
	--no-deps) DEPS=0; shift ;;
	--keep) KEEP=1; shift ;;
	--port) PORT="$2"; shift 2 ;;
	--dir) QS_DIR="$2"; shift 2 ;;
	--runs) RUNS="$2"; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$QS_DIR" in /*) ;; *) QS_DIR="$(pwd -P)/$QS_DIR" ;; esac

BACKUPD="$BUILD_DIR/backupd/backupd"
DBRESTORE="$BUILD_DIR/restore/dbrestore"
PGSRV="$QS_DIR/pg"
REPO="$QS_DIR/repo"
STATE="$QS_DIR/state"
CONF="$QS_DIR/backupd.conf"
JOB=shop-every-10s
HISTORY="$STATE/history/$JOB.jsonl"
DAEMON_PID=
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

qs_cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	qs_stop_server
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

free_port() { # first free local TCP port from $1
	local p="$1"
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

qs_config() {
	HTTP_PORT="$(free_port 9187)"
	step "writing $CONF"
	# a fresh repository and run history, so the counts below are this run's
	rm -rf "$REPO" "$STATE"
	cat >"$CONF" <<CONF
[global]
state-dir = $STATE
http-listen = 127.0.0.1:$HTTP_PORT

[repo:local]
url = $REPO

[source:$SRC_DB]
url = $URI_BASE/$SRC_DB

[job:$JOB]
source = $SRC_DB
repo = local
schedule = */10 * * * * *      ; seconds first: every 10 s
jobs = 2
retention = keep-last=2
CONF
	cat "$CONF"
}

ok_runs() { if [ -f "$HISTORY" ]; then grep -c '"result":"ok"' "$HISTORY" || true; else echo 0; fi; }

qs_daemon() {
	step "running the scheduler: backupd daemon (waiting for $RUNS runs)"
	echo "\$ $BACKUPD -c $CONF daemon   (log: $QS_DIR/daemon.log)"
	"$BACKUPD" -c "$CONF" daemon >/dev/null 2>"$QS_DIR/daemon.log" &
	DAEMON_PID=$!
	# wait on the run history, not on the clock; a run that fails stops us
	local seen=0 n limit=$((30 + RUNS * 20))
	local deadline=$((SECONDS + limit))
	while [ "$seen" -lt "$RUNS" ]; do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			echo "quickstart: the daemon exited; its log:" >&2
			cat "$QS_DIR/daemon.log" >&2
			exit 1
		fi
		if [ -f "$HISTORY" ] && grep -q '"result":"failed"' "$HISTORY"; then
			echo "quickstart: a run failed; daemon log:" >&2
			cat "$QS_DIR/daemon.log" >&2
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "quickstart: fewer than $RUNS runs within ${limit}s; daemon log:" >&2
			cat "$QS_DIR/daemon.log" >&2
			exit 1
		fi
		n="$(ok_runs)"
		if [ "$n" -gt "$seen" ]; then
			seen="$n"
			printf '\n-- after run %s of %s\n' "$seen" "$RUNS"
			show "$BACKUPD" -c "$CONF" status
		fi
		sleep 0.5
	done
	printf '\n'
	echo "\$ curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep '^backupd_job'"
	curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep '^backupd_job' || true
	echo "\$ curl -s http://127.0.0.1:$HTTP_PORT/health"
	curl -s "http://127.0.0.1:$HTTP_PORT/health" || true
	step "stopping the daemon with SIGTERM"
	kill -TERM "$DAEMON_PID"
	local rc=0
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	echo "daemon log:"
	sed 's/^/  /' "$QS_DIR/daemon.log"
	if [ "$rc" -ne 0 ]; then
		echo "quickstart: the daemon exited with $rc" >&2
		exit 1
	fi
}

qs_list() {
	step "listing the repository ($(ok_runs) runs, keep-last=2)"
	show "$BACKUPD" list --repo "$REPO"
	"$BACKUPD" list --repo "$REPO" --name "$SRC_DB" --json >"$QS_DIR/list.json"
	local kept
	kept="$(python3 -c 'import json,sys; print(sum(1 for b in json.load(open(sys.argv[1])) if b["status"] == "complete"))' "$QS_DIR/list.json")"
	BACKUP_ID="$(python3 -c 'import json,sys; print(sorted(b["id"] for b in json.load(open(sys.argv[1])) if b["status"] == "complete")[-1])' "$QS_DIR/list.json")"
	echo "retention applied: $kept backups kept of $(ok_runs) made"
	if [ "$kept" -gt 2 ]; then
		echo "quickstart: keep-last=2 left $kept backups" >&2
		exit 1
	fi
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
	trap qs_cleanup EXIT
	qs_load_sample
	qs_config
	qs_daemon
	qs_list
	qs_restore
	qs_show
}

main
