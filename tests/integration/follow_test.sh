#!/usr/bin/env bash
# dbrestore migrate --follow, migrate status, migrate cutover, migrate abort
# (issue 17), on the engines' own replication.
#  - PostgreSQL 15 -> 15 (source wal_level = logical): refusals (wal_level,
#    tables without a key, large objects); pgbench and a writer of a history
#    table running through migrate --follow and the cut-over: afterwards the
#    target equals the source and every committed history row is there; a
#    migrate killed during its copy run again; the target server restarted
#    while following; status --json and a daemon's /metrics; DDL on the
#    source stops a follow; abort leaves no slot, publication or
#    subscription and the source as it was.
#  - MariaDB -> MariaDB: the target a replica from the copy's binlog
#    position while a writer runs; cut-over; no replication left.
# Under BD_ASAN=1 the loads are shorter.  Every wait is for an event (rows
# committed by the writer, a row arrived on the target), never a fixed time.
source "$(dirname "$0")/lib.sh"
source "$BD_ROOT/tests/integration/pg_majors.sh"

# rows the writer commits (and the target applies) while a follow runs
LOAD_ROWS=100
[ "${BD_ASAN:-0}" = 1 ] && LOAD_ROWS=40
STATE="$BD_TMP/state"
# The replication objects a follow leaves: slots and publications on src, subscriptions on dst
leftovers() {
	echo "$(sq src postgres "SELECT count(*) FROM pg_replication_slots")" \
		"$(sq src "$1" "SELECT count(*) FROM pg_publication")" \
		"$(sq dst postgres "SELECT count(*) FROM pg_subscription")"
}
# A writer: one committed insert at a time into hist (a psql per row, as an
# application would), logging the id of each committed row, until the
# database refuses writes or the stop file appears.
writer() { # writer KEY DB LOG STOPFILE
	local i=0 id
	while [ ! -e "$4" ]; do
		i=$((i + 1))
		if id="$(sq "$1" "$2" "INSERT INTO hist (v) VALUES ($i) RETURNING id" 2>/dev/null)"; then
			echo "$id" >>"$3"
		else
			echo "refused $i" >>"$3.refused"
			sleep 0.05
		fi
	done
}
lines_in() { wc -l <"$1"; }
# writes_arrive WHAT LOG N ARRIVED-FN: the writer logging to LOG commits N more
# rows, and the last of them reaches the target (ARRIVED-FN ID)
writes_arrive() {
	local want=$(($(lines_in "$2") + $3))
	check "$1: the writer commits $3 more rows" wait_for 120 at_least "$want" lines_in "$2"
	check "$1: its last row reaches the target" wait_for 120 "$4" "$(tail -n 1 "$2")"
}
# hist of DB on KEY, one "id:v" line per row
hist_rows() { sq "$1" "$2" "SELECT id || ':' || v FROM hist ORDER BY id"; }

# --------------------------------------------------------------------------
note "PostgreSQL: refusals"
PG_SERVER_CONF=$'wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10' server src 15 0
server dst 15 0
sq dst postgres "CREATE DATABASE plain" >/dev/null
run "$DBRESTORE" migrate --from "$(uri dst plain)" --to "$(uri src plaincopy)" --create --follow --name nolog --state-dir "$STATE"
assert_rc "a source with wal_level = replica is refused (exit 2)" 2
assert_output_contains "the error says wal_level = logical is needed" "needs wal_level = logical"
assert_eq "and nothing was created on the target" 0 "$(sq src postgres "SELECT count(*) FROM pg_database WHERE datname = 'plaincopy'")"

sq src postgres "CREATE DATABASE app" >/dev/null
"$PG15_BIN/pgbench" -h 127.0.0.1 -p "${PORT[src]}" -U postgres -i -s 1 -q app >/dev/null 2>&1
sq src app "CREATE TABLE hist (id bigserial PRIMARY KEY, v int NOT NULL, at timestamptz DEFAULT clock_timestamp())" >/dev/null
run "$DBRESTORE" migrate --from "$(uri src app)" --to "$(uri dst app)" --create --follow --name app --state-dir "$STATE"
assert_rc "tables without a key are refused without --replica-identity-full (exit 2)" 2
assert_output_contains "the error lists them" "public.pgbench_history"
assert_eq "no slot, publication or subscription is left" "0 0 0" "$(leftovers app)"
assert_eq "the source's replica identities are as they were" d \
	"$(sq src app "SELECT relreplident FROM pg_class WHERE relname = 'pgbench_history'")"

sq src postgres "CREATE DATABASE withlo" >/dev/null
sq src withlo "CREATE TABLE t (id int PRIMARY KEY); SELECT lo_from_bytea(0, 'x')" >/dev/null
run "$DBRESTORE" migrate --from "$(uri src withlo)" --to "$(uri dst withlo)" --create --follow --name lo --state-dir "$STATE"
assert_rc "a source with large objects is refused (exit 2)" 2
assert_output_contains "the error says why" "large objects, which logical replication does not carry"

run "$DBRESTORE" migrate --from "$(uri src app)" --to "$(uri dst app)" --create --replica-identity-full
assert_rc "--replica-identity-full without --follow exits 2" 2

# --------------------------------------------------------------------------
note "PostgreSQL: a migrate --follow killed during its copy, run again"
# a slow table so the copy is still running when the kill comes
sq src app "CREATE TABLE slow (id int PRIMARY KEY, pad text); INSERT INTO slow SELECT g, repeat('s', 200) FROM generate_series(1, 100000) g" >/dev/null
"$DBRESTORE" migrate --from "$(uri src app)" --to "$(uri dst app)" --create --follow --name app \
	--state-dir "$STATE" --replica-identity-full >"$BD_TMP/killed.out" 2>&1 &
KPID=$!
slot_made() { [ "$(sq src postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'backupd_app'")" = 1 ]; }
if wait_for 60 slot_made; then
	kill -9 "$KPID" 2>/dev/null || true
	pass "migrate --follow killed once its slot existed"
else
	fail "migrate --follow killed once its slot existed" "no slot appeared"
fi
wait "$KPID" 2>/dev/null || true
check "the killed run's state says it was copying" grep -q '"phase": "copying"' "$STATE/migrations/app.json"

LOG="$BD_TMP/hist.log"
STOP="$BD_TMP/stop"
: >"$LOG"
"$PG15_BIN/pgbench" -h 127.0.0.1 -p "${PORT[src]}" -U postgres -n -c 2 -T 600 app >"$BD_TMP/pgbench.out" 2>&1 &
PGB=$!
writer src app "$LOG" "$STOP" &
WPID=$!
pgb_writing() { [ "$(sq src app "SELECT count(*) > 0 FROM pgbench_history")" = t ]; }
check "the writer commits before the copy" wait_for 60 at_least 1 lines_in "$LOG"
check "pgbench commits before the copy" wait_for 60 pgb_writing
run "$DBRESTORE" migrate --from "$(uri src app)" --to "$(uri dst app)" --create --follow --name app \
	--state-dir "$STATE" --replica-identity-full --jobs 2
assert_rc "run again, migrate --follow completes under load" 0
assert_output_contains "it started over" "killed during its copy; starting it over"
assert_output_contains "the copy is verified" "verified against the source's snapshot"
assert_output_contains "and the target follows" "following: migration app"
assert_eq "one slot on the source, one subscription on the target" "1 1 1" "$(leftovers app)"
assert_no_secrets_in_output
check "the state file is 0600" test "$(stat -c %a "$STATE/migrations/app.json")" = 600
check_not "the state file holds no password" grep -qF "$PG_SERVER_PASSWORD" "$STATE/migrations/app.json"

following() { "$DBRESTORE" migrate status --name app --state-dir "$STATE" --json >"$BD_TMP/st.json" 2>/dev/null &&
	[ "$(json_eval "$BD_TMP/st.json" 'd[0]["phase"] + str(d[0]["running"])')" = followingTrue ]; }
check "status: following, the subscription running" wait_for 30 following
run "$DBRESTORE" migrate status --name app --state-dir "$STATE" --json
assert_rc "status --json works" 0
assert_eq "status --json reports the lag in bytes and rows applied" true \
	"$(json_eval "$RUN_OUT" 'isinstance(d[0]["lag_bytes"], int) and isinstance(d[0]["rows_applied"], int)')"
run "$DBRESTORE" migrate status --state-dir "$STATE"
assert_output_contains "status lists the migration" "app                  postgresql following"

note "/metrics of a running daemon: the follow as status last saw it"
HPORT="$(_bd_pick_port)"
printf '[global]\nstate-dir = %s\nhttp-listen = 127.0.0.1:%s\n' "$STATE" "$HPORT" >"$BD_TMP/daemon.conf"
"$BACKUPD" -c "$BD_TMP/daemon.conf" daemon >/dev/null 2>"$BD_TMP/daemon.log" &
DPID=$!
scrape() { curl -sf "http://127.0.0.1:$HPORT/metrics" >"$BD_TMP/metrics.txt"; }
check "the daemon serves /metrics" wait_for 30 scrape
check "/metrics: the migration is following" grep -q '^backupd_migration_phase{migration="app",phase="following"} 1$' "$BD_TMP/metrics.txt"
check "/metrics: its lag in bytes" grep -q '^backupd_migration_lag_bytes{migration="app"} [0-9]' "$BD_TMP/metrics.txt"
check "/metrics: rows applied" grep -q '^backupd_migration_rows_applied{migration="app"} [0-9]' "$BD_TMP/metrics.txt"

note "PostgreSQL: the target restarted while following"
on_dst() { [ "$(sq dst app "SELECT count(*) FROM hist WHERE id = $1")" = 1 ]; }
writes_arrive "following under load" "$LOG" "$LOAD_ROWS" on_dst
bash "$PG_SERVER_SH" stop "$BD_TMP/pgdst" >/dev/null 2>&1 || true
# rows committed while the target is down: the subscription catches up on them
check "the writer commits while the target is down" wait_for 60 at_least "$(($(lines_in "$LOG") + 10))" lines_in "$LOG"
bash "$PG_SERVER_SH" start "$BD_TMP/pgdst" "${PORT[dst]}" "$PG15_BIN" >/dev/null
check "the subscription runs again after the restart" wait_for 60 following
writes_arrive "after the restart" "$LOG" 10 on_dst
applied() { json_eval "$BD_TMP/st.json" 'd[0]["rows_applied"]'; }
applying() { following && at_least 1 applied; }
check "rows are being applied" wait_for 60 applying

note "PostgreSQL: cut-over under load"
run "$DBRESTORE" migrate cutover --name app --state-dir "$STATE" --grace 2
assert_rc "cutover succeeds" 0
assert_output_contains "it prints the new connection string" "new connection string: postgresql://postgres@127.0.0.1:${PORT[dst]}/app"
assert_output_contains "and when the application could move" "switched: migration app after"
assert_output_contains "it verified every table" "tables (rows and checksums)"
assert_no_secrets_in_output
touch "$STOP"
wait "$WPID" 2>/dev/null || true
kill "$PGB" 2>/dev/null || true
wait "$PGB" 2>/dev/null || true
check "pgbench was stopped by the read-only source" grep -q "read-only\|terminat\|aborted" "$BD_TMP/pgbench.out"
assert_eq "the source is read-only for new transactions" on "$(sq src app "SHOW default_transaction_read_only")"
check "the writer committed rows before the cut-over" at_least 20 wc -l <"$LOG"
hist_rows src app >"$BD_TMP/hist.src"
hist_rows dst app >"$BD_TMP/hist.dst"
check "the history table is the same row by row" diff -q "$BD_TMP/hist.src" "$BD_TMP/hist.dst"
missing="$(sort "$LOG" | comm -23 - <(cut -d: -f1 "$BD_TMP/hist.dst" | sort) | wc -l)"
assert_eq "every committed history row is on the target" 0 "$missing"
pgb_sums() { sq "$1" app "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches), (SELECT count(*) FROM pgbench_history)"; }
assert_eq "the pgbench tables are the same" "$(pgb_sums src)" "$(pgb_sums dst)"
assert_eq "the target's sequence continues after the last row" t \
	"$(sq dst app "SELECT last_value >= (SELECT max(id) FROM hist) FROM hist_id_seq")"
assert_eq "no slot, publication or subscription is left" "0 0 0" "$(leftovers app)"
assert_eq "the temporary replica identity is gone on both sides" "d d" \
	"$(sq src app "SELECT relreplident FROM pg_class WHERE relname = 'pgbench_history'") $(sq dst app "SELECT relreplident FROM pg_class WHERE relname = 'pgbench_history'")"
scrape_done() { scrape && grep -q '^backupd_migration_phase{migration="app",phase="done"} 1$' "$BD_TMP/metrics.txt"; }
check "/metrics: the migration is done" wait_for 30 scrape_done
kill "$DPID" 2>/dev/null || true
wait "$DPID" 2>/dev/null || true
run "$DBRESTORE" migrate cutover --name app --state-dir "$STATE"
assert_rc "a second cutover is a no-op" 0
run "$DBRESTORE" migrate status --name app --state-dir "$STATE"
assert_output_contains "status says done" "app                  postgresql done"

# --------------------------------------------------------------------------
note "PostgreSQL: a cut-over killed midway, run again"
sq src postgres "CREATE DATABASE kc" >/dev/null
sq src kc "CREATE TABLE hist (id bigserial PRIMARY KEY, v int NOT NULL); INSERT INTO hist (v) SELECT g FROM generate_series(1, 50) g" >/dev/null
run "$DBRESTORE" migrate --from "$(uri src kc)" --to "$(uri dst kc)" --create --follow --name kc --state-dir "$STATE"
assert_rc "migrate --follow of a third database" 0
# a session in a transaction: the cut-over waits --grace for it
sq src kc "BEGIN; INSERT INTO hist (v) VALUES (-1); SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
SLEEPER=$!
"$DBRESTORE" migrate cutover --name kc --state-dir "$STATE" --grace 60 >"$BD_TMP/kc1.out" 2>&1 &
CPID=$!
read_only() { [ "$(sq src kc "SHOW default_transaction_read_only")" = on ]; }
if wait_for 30 read_only; then
	kill -9 "$CPID" 2>/dev/null || true
	pass "the cut-over was killed while it waited for a session"
else
	fail "the cut-over was killed while it waited for a session" "the source never went read-only"
fi
wait "$CPID" 2>/dev/null || true
run "$DBRESTORE" migrate cutover --name kc --state-dir "$STATE" --grace 1
assert_rc "the cut-over run again completes" 0
wait "$SLEEPER" 2>/dev/null || true
assert_eq "the session's open transaction was ended, not applied" 0 "$(sq dst kc "SELECT count(*) FROM hist WHERE v = -1")"
assert_eq "the target has every row of the source" "$(sq src kc "SELECT count(*), sum(v) FROM hist")" "$(sq dst kc "SELECT count(*), sum(v) FROM hist")"
assert_eq "no slot, publication or subscription is left" "0 0 0" "$(leftovers kc)"

# --------------------------------------------------------------------------
note "PostgreSQL: DDL on the source stops a follow; abort undoes it"
sq src postgres "CREATE DATABASE ab" >/dev/null
sq src ab "CREATE TABLE hist (id bigserial PRIMARY KEY, v int NOT NULL); CREATE TABLE nokey (a int); INSERT INTO hist (v) SELECT g FROM generate_series(1, 100) g" >/dev/null
run "$DBRESTORE" migrate --from "$(uri src ab)" --to "$(uri dst ab)" --create --follow --name ab --state-dir "$STATE" --replica-identity-full
assert_rc "migrate --follow of a second database" 0
sq src ab "ALTER TABLE hist ADD COLUMN extra text" >/dev/null
run "$DBRESTORE" migrate status --name ab --state-dir "$STATE"
assert_output_contains "status: the DDL stopped the follow" "DDL on the source since the copy"
assert_eq "the subscription is disabled" f "$(sq dst ab "SELECT subenabled FROM pg_subscription WHERE subname = 'backupd_ab'")"
run "$DBRESTORE" migrate cutover --name ab --state-dir "$STATE"
assert_rc "a stopped follow cannot be cut over" 2
run "$DBRESTORE" migrate abort --name ab --state-dir "$STATE"
assert_rc "abort succeeds" 0
assert_eq "no slot, publication or subscription is left" "0 0 0" "$(leftovers ab)"
assert_eq "the source's replica identity is back" d "$(sq src ab "SELECT relreplident FROM pg_class WHERE relname = 'nokey'")"
assert_eq "the source is writable" off "$(sq src ab "SHOW default_transaction_read_only")"
run "$DBRESTORE" migrate abort --name ab --state-dir "$STATE"
assert_rc "a second abort is a no-op" 0
run "$DBRESTORE" migrate status --name nosuch --state-dir "$STATE"
assert_rc "status of an unknown migration exits 2" 2

# --------------------------------------------------------------------------
note "MariaDB: the target a replica from the copy's binlog position"
unset MY_SERVER_CONF
mariadb_start mysrc
SRC_CNF="$MY_CNF" SRC_PORT="$MY_PORT" SRC_PWF="$MY_PASSWORD_FILE"
MY_SERVER_CONF="server-id = 2" mariadb_start mydst
DST_CNF="$MY_CNF" DST_PORT="$MY_PORT" DST_PWF="$MY_PASSWORD_FILE"
msq() { /usr/bin/mariadb --defaults-file="$1" -N -B -e "$2"; }
APP_PW="$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')"
add_secret "$APP_PW"
msq "$SRC_CNF" "CREATE DATABASE shop; CREATE TABLE shop.hist (id bigint AUTO_INCREMENT PRIMARY KEY, v int NOT NULL);
CREATE TABLE shop.other (id int PRIMARY KEY, s varchar(20)); INSERT INTO shop.other VALUES (1, 'a'), (2, 'b');
CREATE DATABASE notmigrated; CREATE TABLE notmigrated.t (id int PRIMARY KEY);
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '$APP_PW'; GRANT ALL ON shop.* TO 'app'@'127.0.0.1'; GRANT ALL ON notmigrated.* TO 'app'@'127.0.0.1'"
APP_CNF="$BD_TMP/app.cnf"
printf '[client]\nuser = app\npassword = %s\nhost = 127.0.0.1\nport = %s\nprotocol = tcp\n' "$APP_PW" "$SRC_PORT" >"$APP_CNF"
chmod 0600 "$APP_CNF"
CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[source:mysrc]
url = mysql://root@127.0.0.1:$SRC_PORT/shop
password-file = $SRC_PWF

[source:mydst]
url = mysql://root@127.0.0.1:$DST_PORT/shop
password-file = $DST_PWF

[source:mydst2]
url = mysql://root@127.0.0.1:$DST_PORT/shop2
password-file = $DST_PWF
EOF
# the application's writer, as a plain user (read_only stops it; it does not stop admins)
mwriter() { # mwriter LOG STOPFILE
	local i=0 id
	while [ ! -e "$2" ]; do
		i=$((i + 1))
		if id="$(msq "$APP_CNF" "INSERT INTO shop.hist (v) VALUES ($i); SELECT LAST_INSERT_ID()" 2>/dev/null)"; then
			echo "$id" >>"$1"
			[ $((i % 10)) = 0 ] && msq "$APP_CNF" "INSERT INTO notmigrated.t VALUES ($i)" 2>/dev/null
		else
			sleep 0.05
		fi
	done
}
MLOG="$BD_TMP/mhist.log"
MSTOP="$BD_TMP/mstop"
: >"$MLOG"
mwriter "$MLOG" "$MSTOP" &
MWPID=$!
check "the MariaDB writer commits before the copy" wait_for 60 at_least 1 lines_in "$MLOG"
run "$DBRESTORE" -c "$CONF" migrate --from mysrc --to mydst --create --follow --name shop --state-dir "$STATE"
assert_rc "MariaDB migrate --follow under a writer" 0
assert_output_contains "the replica starts at the copy's binlog position" "the target replicates from the source's mariadb-bin."
assert_no_secrets_in_output
mfollowing() { "$DBRESTORE" -c "$CONF" migrate status --name shop --state-dir "$STATE" --json >"$BD_TMP/mst.json" 2>/dev/null &&
	[ "$(json_eval "$BD_TMP/mst.json" 'd[0]["phase"] + str(d[0]["running"])')" = followingTrue ]; }
check "status: following, replication running" wait_for 30 mfollowing
on_mydst() { [ "$(msq "$DST_CNF" "SELECT count(*) FROM shop.hist WHERE id = $1")" = 1 ]; }
writes_arrive "MariaDB following under load" "$MLOG" "$LOAD_ROWS" on_mydst
run "$DBRESTORE" -c "$CONF" migrate cutover --name shop --state-dir "$STATE" --grace 2 --verify after
assert_rc "MariaDB cutover (--verify after) succeeds" 0
assert_output_contains "the tables are verified after the switch" "verified: 2 tables (rows and checksums) match"
assert_output_contains "it prints the new connection string" "new connection string: mysql://root@127.0.0.1:$DST_PORT/shop"
touch "$MSTOP"
wait "$MWPID" 2>/dev/null || true
assert_eq "the source is read-only" 1 "$(msq "$SRC_CNF" "SELECT @@read_only")"
check "the writer committed rows before the cut-over" at_least 20 wc -l <"$MLOG"
msq "$SRC_CNF" "SELECT id, v FROM shop.hist ORDER BY id" >"$BD_TMP/mhist.src"
msq "$DST_CNF" "SELECT id, v FROM shop.hist ORDER BY id" >"$BD_TMP/mhist.dst"
check "the history table is the same row by row" diff -q "$BD_TMP/mhist.src" "$BD_TMP/mhist.dst"
missing="$(sort "$MLOG" | comm -23 - <(cut -f1 "$BD_TMP/mhist.dst" | sort) | wc -l)"
assert_eq "every committed history row is on the target" 0 "$missing"
assert_eq "the database not migrated was not replicated" 0 \
	"$(msq "$DST_CNF" "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'notmigrated'")"
assert_eq "no replication connection is left on the target" "" "$(msq "$DST_CNF" "SHOW ALL SLAVES STATUS")"
msq "$SRC_CNF" "SET GLOBAL read_only = OFF"

note "MariaDB: a follow into another database name (replicate_rewrite_db), then abort"
run "$DBRESTORE" -c "$CONF" migrate --from mysrc --to mydst2 --create --follow --name shop2 --state-dir "$STATE"
assert_rc "a second follow" 0
msq "$APP_CNF" "INSERT INTO shop.hist (v) VALUES (-1)"
renamed() { [ "$(msq "$DST_CNF" "SELECT count(*) FROM shop2.hist WHERE v = -1")" = 1 ]; }
check "a row written on the source arrives in the renamed database" wait_for 30 renamed
run "$DBRESTORE" -c "$CONF" migrate abort --name shop2 --state-dir "$STATE"
assert_rc "abort succeeds" 0
assert_eq "no replication connection is left on the target" "" "$(msq "$DST_CNF" "SHOW ALL SLAVES STATUS")"
assert_eq "the source is writable" 0 "$(msq "$SRC_CNF" "SELECT @@read_only")"

finish
