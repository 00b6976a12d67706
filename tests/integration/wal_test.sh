#!/usr/bin/env bash
# Base backups, WAL archiving and point-in-time recovery against a real
# PostgreSQL 15: archive_command = backupd wal-push, backupd basebackup,
# dbrestore pitr to a time / a restore point on a later timeline / the end of
# the archive, backupd expire of backups and WAL, concurrent pushes, a
# corrupted segment, a backup whose WAL never arrives, and a non-empty target.
source "$(dirname "$0")/lib.sh"
require_binaries

REPO="$BD_TMP/repo"
PG_SERVER_CONF="archive_mode = on
archive_command = '$BACKUPD wal-push --repo $REPO --name src %p'"
export PG_SERVER_CONF
pg_start
unset PG_SERVER_CONF

# The server runs as bdtest when we are root; WAL it archives and data
# directories it runs from must be bdtest's, so every command that touches
# the repository or a data directory runs as that user too.
own_dir "$REPO"
PGPASS_ALL="$BD_TMP/pgpass-all"
(umask 077 && printf '127.0.0.1:*:*:postgres:%s\n' "$PG_PASSWORD" >"$PGPASS_ALL")
chown "$OWNER:" "$PGPASS_ALL"
SRC_URI="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"

bd() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$BACKUPD" "$@"; }
dbr() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$DBRESTORE" "$@"; }

# wal_archived FILE: the repository holds an object for that WAL file name
wal_archived() { find "$REPO/src/wal" -name "$1-*.zst" | grep . >/dev/null; }

# switch_and_wait PORT: end the current segment and wait until it is archived
switch_and_wait() {
	local seg i
	seg="$(psql_at "$1" "SELECT pg_walfile_name(pg_switch_wal())")"
	for i in $(seq 1 600); do
		wal_archived "$seg" && return 0
		sleep 0.2
	done
	fail "segment $seg of the server on port $1 archived"
	return 1
}

rows_at() { psql_at "$1" "SELECT string_agg(what, ',' ORDER BY id) FROM t"; }
timeline_at() { psql_at "$1" "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"; }

complete_backups() {
	find "$REPO/src/backups" -name manifest.json 2>/dev/null | wc -l
}

manifest_of() { printf '%s/src/backups/%s/manifest.json' "$REPO" "$1"; }

# ---------------------------------------------------------------------------
note "base backup"
psql_at "$PG_PORT" "CREATE TABLE t (id int PRIMARY KEY, what text)" >/dev/null
own_dir "$BD_TMP/ts1"
psql_at "$PG_PORT" "CREATE TABLESPACE ts1 LOCATION '$BD_TMP/ts1'" >/dev/null
psql_at "$PG_PORT" "CREATE TABLE tst (v text) TABLESPACE ts1" >/dev/null
psql_at "$PG_PORT" "INSERT INTO tst VALUES ('in ts1')" >/dev/null
TS_OID="$(psql_at "$PG_PORT" "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")"
bd basebackup --source "$SRC_URI" --repo "$REPO" --name src
assert_rc "basebackup succeeds" 0
B1="$(last_line)"
assert_match "basebackup prints the backup id" '^[0-9]{8}T[0-9]{6}Z' "$B1"
M1="$(manifest_of "$B1")"
assert_file "manifest written" "$M1"
assert_eq "manifest kind" basebackup "$(json_eval "$M1" "d['kind']")"
assert_eq "manifest records the system identifier" \
	"$(psql_at "$PG_PORT" "SELECT system_identifier FROM pg_control_system()")" \
	"$(json_eval "$M1" "d['info']['system_identifier']")"
STOP1="$(json_eval "$M1" "d['info']['wal_stop_segment']")"
check "the stop segment $STOP1 is in the archive" wal_archived "$STOP1"
check "base.tar, $TS_OID.tar and backup_manifest stored" test -s "$REPO/src/backups/$B1/base.tar" \
	-a -s "$REPO/src/backups/$B1/$TS_OID.tar" -a -s "$REPO/src/backups/$B1/backup_manifest"
assert_eq "manifest records the tablespace and its location" "$TS_OID $BD_TMP/ts1" \
	"$(json_eval "$M1" "' '.join([d['info']['tablespaces'][0]['oid'], d['info']['tablespaces'][0]['location']])")"
bd list --repo "$REPO" --name src --json
assert_rc "list" 0
assert_eq "list shows a complete basebackup" "basebackup complete" \
	"$(json_eval "$RUN_OUT" "[x['kind'] + ' ' + x['status'] for x in d if x['id'] == '$B1'][0]")"
bd verify --repo "$REPO" --name src "$B1"
assert_rc "verify the base backup" 0
# "1 segment", "3 segments": each count the verify prints takes its noun's right number
check "verify's counts say 'object'/'segment' for one, 'objects'/'segments' otherwise" python3 -c '
import re, sys
text = open(sys.argv[1]).read()
counts = re.findall(r"\((\d+) (object|segment)(s?)[,)]", text)
assert any(c[1] == "segment" for c in counts) and any(c[1] == "object" for c in counts), text
for n, noun, s in counts:
    assert (s == "") == (n == "1"), (n, noun + s)' "$RUN_OUT"

# ---------------------------------------------------------------------------
note "PITR to a time between two transactions"
psql_at "$PG_PORT" "INSERT INTO t VALUES (1, 'tx1')" >/dev/null
T1="$(psql_at "$PG_PORT" "SELECT clock_timestamp()")"
psql_at "$PG_PORT" "INSERT INTO t VALUES (2, 'tx2')" >/dev/null
switch_and_wait "$PG_PORT"

own_dir "$BD_TMP/nonempty"
"${AS_PG[@]}" touch "$BD_TMP/nonempty/somefile"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/nonempty" --target-time "$T1"
assert_rc "pitr into a non-empty directory is refused" 1
assert_output_contains "the refusal says why" "is not empty"

own_dir "$BD_TMP/r1"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r1/data" --target-time "$T1"
assert_rc "pitr without a location for the tablespace is refused" 2
assert_output_contains "the refusal lists the tablespace and where it was" \
	"tablespaces outside the data directory ($TS_OID at '$BD_TMP/ts1')"
check_not "nothing created before the refusal" test -e "$BD_TMP/r1/data"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r1/data" --target-time "$T1" --tablespaces-in-place
assert_rc "pitr refuses the tablespace's original, non-empty location" 1
assert_output_contains "the refusal names the tablespace directory" \
	"tablespace directory '$BD_TMP/ts1' (tablespace $TS_OID) is not empty"
check_not "nothing extracted before the refusal" test -e "$BD_TMP/r1/data/PG_VERSION"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r1/data" --target-time "$T1" \
	--tablespace-map "$BD_TMP/ts1=$BD_TMP/r1/ts1"
assert_rc "pitr to $T1" 0
assert_output_contains "pitr warns that the copy would archive where its source did" \
	"the copy archives its WAL where the source did: $BD_TMP/r1/data/postgresql.conf sets archive_mode = on and $BD_TMP/r1/data/postgresql.conf sets archive_command"
assert_output_contains "pitr names the backup it used" "$B1"
assert_output_contains "pitr says what to do next" "pg_ctl -D $BD_TMP/r1/data start"
check "restored directory verifies against the server's backup_manifest" \
	"${AS_PG[@]}" "$PG_BINDIR/pg_verifybackup" -n "$BD_TMP/r1/data"
assert_eq "data directory mode 0700" 700 "$(stat -c %a "$BD_TMP/r1/data")"
check "recovery.signal written" test -f "$BD_TMP/r1/data/recovery.signal"
AUTO="$BD_TMP/r1/data/postgresql.auto.conf"
check "restore_command runs this dbrestore's wal-get" \
	grep -q -F "restore_command = '$(readlink -f "$DBRESTORE") wal-get -c $(readlink -f "$BD_DEFAULT_CONFIG") --repo $(readlink -f "$REPO") --name src --spool-dir $BD_TMP/r1/data/pg_wal/backupd-wal-get %f %p'" "$AUTO"
check "recovery_target_time written" grep -q "^recovery_target_time = '" "$AUTO"
check "recovery_target_action promote" grep -q "^recovery_target_action = 'promote'" "$AUTO"
check_not "no password in postgresql.auto.conf" grep -q -F "$PG_PASSWORD" "$AUTO"
if copy_start "$BD_TMP/r1" "$PG_BINDIR"; then
	R1_PORT="$COPY_PORT"
	wait_promoted "$R1_PORT" r1
	assert_eq "r1 has the first transaction and not the second" tx1 "$(rows_at "$R1_PORT")"
	assert_eq "r1 runs on a new timeline" 00000002 "$(timeline_at "$R1_PORT")"
	assert_eq "r1 reads the table in the mapped tablespace" "in ts1" "$(psql_at "$R1_PORT" "SELECT v FROM tst")"
	assert_eq "r1's tablespace link points at the mapped location" "$BD_TMP/r1/ts1" \
		"$(readlink "$BD_TMP/r1/data/pg_tblspc/$TS_OID")"

	# ---------------------------------------------------------------------------
	note "a new timeline archived into the same name, restored without a new backup"
	psql_at "$R1_PORT" "INSERT INTO t VALUES (3, 'tl2')" >/dev/null
	psql_at "$R1_PORT" "SELECT pg_create_restore_point('after_tl2')" >/dev/null
	switch_and_wait "$R1_PORT"
	check "00000002.history archived" wal_archived 00000002.history
	copy_stop "$BD_TMP/r1"
fi

own_dir "$BD_TMP/r2"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r2/data" --backup "$B1" --target-name after_tl2 \
	--tablespace-map "$BD_TMP/ts1=$BD_TMP/r2/ts1"
assert_rc "pitr to a restore point on timeline 2" 0
if copy_start "$BD_TMP/r2" "$PG_BINDIR"; then
	R2_PORT="$COPY_PORT"
	wait_promoted "$R2_PORT" r2
	assert_eq "r2 followed timeline 2: tx1 and tl2, not tx2" "tx1,tl2" "$(rows_at "$R2_PORT")"
	assert_eq "r2 runs on timeline 3" 00000003 "$(timeline_at "$R2_PORT")"

	# ---------------------------------------------------------------------------
	note "a second base backup (of the timeline 3 server), then expire"
	bd basebackup --source "postgresql://postgres@127.0.0.1:$R2_PORT/postgres" --repo "$REPO" --name src
	assert_rc "basebackup on timeline 3" 0
	B2="$(last_line)"
	psql_at "$R2_PORT" "INSERT INTO t VALUES (4, 'after_b2')" >/dev/null
	switch_and_wait "$R2_PORT"
	copy_stop "$BD_TMP/r2"
fi
B2="${B2:-none}"
M2="$(manifest_of "$B2")"
START2="$(json_eval "$M2" "d['info']['wal_start_segment']" 2>/dev/null || echo none)"
assert_match "second backup starts on timeline 3" '^00000003' "$START2"

# every archived WAL file (not .history) positioned before START2
old_wal() {
	find "$REPO/src/wal" -name '*.zst' | sed 's|.*/||; s|-[0-9a-f]\{64\}\.zst$||' |
		grep -v '\.history$' | awk -v s="${START2:8:16}" 'substr($0, 9, 16) < s' || true
}
n_old="$(old_wal | wc -l)"
assert_match "WAL older than the kept backup exists before expire" '^[1-9]' "$n_old"

bd expire --repo "$REPO" --name src --keep-last 1 --dry-run
assert_rc "expire --dry-run" 0
assert_output_contains "dry run names the old backup" "would remove src $B1"
assert_output_contains "dry run lists WAL" "would remove src wal 000000010000000000000001"
# the count's plural is plural_s's, not "file(s)"
assert_output_matches "dry run counts the WAL, in the count's number" \
	"would remove (1 WAL file|([2-9]|[1-9][0-9]+) WAL files) of src \("
assert_eq "dry run removes nothing" "$n_old" "$(old_wal | wc -l)"
check "dry run leaves the old backup" test -f "$M1"

bd expire --repo "$REPO" --name src --keep-last 1
assert_rc "expire --keep-last 1" 0
check_not "old backup removed" test -e "$REPO/src/backups/$B1"
check "kept backup still complete" test -f "$M2"
assert_eq "WAL before the kept backup's start removed" 0 "$(old_wal | wc -l)"
check "the kept backup's start segment stays" wal_archived "$START2"
check "00000002.history kept" wal_archived 00000002.history
check "00000003.history kept" wal_archived 00000003.history

own_dir "$BD_TMP/r3"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r3/data" --tablespace-map "$BD_TMP/r2/ts1=$BD_TMP/r3/ts1"
assert_rc "pitr from the kept backup to the end of the archive" 0
assert_output_contains "pitr picked the kept backup" "$B2"
if copy_start "$BD_TMP/r3" "$PG_BINDIR"; then
	wait_promoted "$COPY_PORT" r3
	assert_eq "r3 has everything archived on timeline 3" "tx1,tl2,after_b2" "$(rows_at "$COPY_PORT")"
	assert_eq "r3 reads its tablespace" "in ts1" "$(psql_at "$COPY_PORT" "SELECT v FROM tst")"
	copy_stop "$BD_TMP/r3"
fi

# ---------------------------------------------------------------------------
note "concurrent pushes of one segment"
own_dir "$BD_TMP/conc"
SEG="$(ls "$PG_DIR/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort | tail -n 1)"
cp "$PG_DIR/data/pg_wal/$SEG" "$BD_TMP/conc/$SEG"
chown "$OWNER:" "$BD_TMP/conc/$SEG"
pids=()
for i in 1 2 3 4 5 6; do
	"${AS_PG[@]}" "$BACKUPD" wal-push --repo "$REPO" --name conc "$BD_TMP/conc/$SEG" \
		>"$BD_TMP/conc/out.$i" 2>&1 &
	pids+=($!)
done
conc_fail=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || conc_fail=$((conc_fail + 1))
	_bd_check_sanitizers "$BD_TMP/conc/out.$((i + 1))" "concurrent wal-push $((i + 1))"
done
assert_eq "six concurrent pushes of $SEG all succeed" 0 "$conc_fail"
[ "$conc_fail" -eq 0 ] || head -q -n 20 "$BD_TMP"/conc/out.* | head -n 20 | sed 's/^/    | /' || true
assert_eq "exactly one object for $SEG" 1 "$(find "$REPO/conc/wal" -name "$SEG-*.zst" | wc -l)"
dbr wal-get --repo "$REPO" --name conc "$SEG" "$BD_TMP/conc/back"
assert_rc "wal-get of the concurrently pushed segment" 0
check "it comes back byte for byte" cmp "$BD_TMP/conc/$SEG" "$BD_TMP/conc/back"
dbr wal-get --repo "$REPO" --name conc 0000000100000000000000FF "$BD_TMP/conc/none"
assert_rc "wal-get of a segment that is not archived: exit 1" 1
check "and silently (the normal end of archive recovery)" test ! -s "$RUN_ERR"
dbr wal-get --repo "$REPO" --name concc "$SEG" "$BD_TMP/conc/none"
assert_rc "wal-get under a name with no WAL archive at all (a --name typo): exit 1" 1
assert_output_contains "not silently: it names the name" "'concc' has no WAL archive in"
# expire's "anything under the name" stops at the first object it lists
bd expire --repo "$REPO" --name conc --keep-last 1
assert_rc "expire of a WAL-only name (no backup, WAL under it) is a name: exit 0" 0
bd expire --repo "$REPO" --name concc --keep-last 1
assert_rc "expire of a name with nothing under it: exit 1" 1
assert_output_contains "it names the name" "nothing of 'concc' in "
# an explicit spool under a file is the operator's setup to fix: exit 2 with
# one line and nothing archived (the archiver retries the segment) ...
bd wal-push --repo "$REPO" --name concspool --spool-dir "$BD_TMP/conc/$SEG/spool" "$BD_TMP/conc/$SEG"
assert_rc "wal-push with a --spool-dir under a file: exit 2" 2
assert_output_contains "it names the file in the way" \
	"--spool-dir '$BD_TMP/conc/$SEG/spool' cannot be a directory: '$BD_TMP/conc/$SEG' above it is a file"
check_not "and archives nothing" test -e "$REPO/concspool"
# ... one that cannot be made for another reason (no permission): the push is
# synchronous and says why
mkdir -p "$BD_TMP/conc-ro" && chmod 0555 "$BD_TMP/conc-ro"
bd wal-push --repo "$REPO" --name conc --spool-dir "$BD_TMP/conc-ro/spool" "$BD_TMP/conc/$SEG"
assert_rc "wal-push with a --spool-dir it may not create still archives" 0
assert_output_contains "it warns that the spool is unusable" "--spool-dir unusable, pushing synchronously"

# ---------------------------------------------------------------------------
note "a wal-push to a local repository loads no client library"
# libpq, libmariadb, libcurl and libmicrohttpd are loaded on first use
# (common/lazylib.h): an archive_command process must not pay for them.
run "${AS_PG[@]}" env LD_DEBUG=files LD_DEBUG_OUTPUT="$BD_TMP/conc/ld" "$BACKUPD" wal-push \
	--repo "$REPO" --name lazy --async-max 0 "$BD_TMP/conc/$SEG"
assert_rc "wal-push with the loader's trace on" 0
LD_TRACE="$(ls "$BD_TMP"/conc/ld.* 2>/dev/null | head -n 1)"
check "the loader's trace names the libraries it loaded (libzstd)" grep -q 'file=libzstd' "$LD_TRACE"
check_not "no libpq, libmariadb, libcurl, libmicrohttpd nor libexpat among them" \
	grep -E 'file=lib(pq|mariadb|curl|microhttpd|expat)[.]' "$LD_TRACE"
# the suite's (empty) default config is read, which is what loads libinih
check "libinih, on first use, for the config it reads" grep -q 'file=libinih.*dynamically loaded' "$LD_TRACE"
# SHA-256 is backupd's own (common/sha256.h): libcrypto is for encryption and S3 only
check_not "nor libcrypto: the repository is not encrypted" grep -q 'file=libcrypto' "$LD_TRACE"
rm -f "$BD_TMP"/conc/ld.*
# the archiver's call for a segment the background pusher archived hashes nothing:
# like every command that opens no repository, it must not load libcrypto
run env LD_DEBUG=files LD_DEBUG_OUTPUT="$BD_TMP/conc/ld" "$BACKUPD" --version
assert_rc "backupd --version with the loader's trace on" 0
LD_TRACE="$(ls "$BD_TMP"/conc/ld.* 2>/dev/null | head -n 1)"
check "the trace names libzstd" grep -q 'file=libzstd' "$LD_TRACE"
check_not "and not libcrypto" grep -q 'file=libcrypto' "$LD_TRACE"
rm -f "$BD_TMP"/conc/ld.*

# ---------------------------------------------------------------------------
note "damage in the repository is loud"
cp -a "$REPO" "$BD_TMP/repo-bad"
BAD_OBJ="$(find "$BD_TMP/repo-bad/src/wal" -name '0000000[0-9A-F]*.zst' | grep -v -e history -e partial -e backup | sort | tail -n 1)"
BAD_SEG="$(basename "$BAD_OBJ" | sed 's/-.*//')"
corrupt() {
	local size
	size="$(stat -c %s "$1")"
	printf 'garbage-garbage-garbage' | dd of="$1" bs=1 seek=$((size / 2)) conv=notrunc status=none
}
corrupt "$BAD_OBJ"
dbr wal-get --repo "$BD_TMP/repo-bad" --name src "$BAD_SEG" "$BD_TMP/conc/bad-out"
assert_rc "wal-get of a corrupted segment fails" nonzero
assert_output_contains "the error names the segment" "$BAD_SEG"
check_not "nothing left at the target path" test -e "$BD_TMP/conc/bad-out"

corrupt "$BD_TMP/repo-bad/src/backups/$B2/base.tar"
own_dir "$BD_TMP/rbad"
dbr pitr --repo "$BD_TMP/repo-bad" --name src --data-dir "$BD_TMP/rbad/data" \
	--tablespace-map "$BD_TMP/r2/ts1=$BD_TMP/rbad/ts1"
assert_rc "pitr from a corrupted base.tar fails" 1
assert_output_contains "the error names base.tar" "base.tar"
assert_output_contains "the error says verification failed" "failed verification"
check_not "no recovery.signal in the broken restore" test -e "$BD_TMP/rbad/data/recovery.signal"

# ---------------------------------------------------------------------------
note "a base backup whose WAL never reaches the archive"
psql_at "$PG_PORT" "ALTER SYSTEM SET archive_command = 'false'" >/dev/null
psql_at "$PG_PORT" "SELECT pg_reload_conf()" >/dev/null
before="$(complete_backups)"
bd basebackup --source "$SRC_URI" --repo "$REPO" --name src --archive-timeout 3
assert_rc "basebackup times out" 1
assert_output_contains "the error says the WAL did not arrive" "did not reach the archive"
assert_eq "no new complete backup" "$before" "$(complete_backups)"
bd list --repo "$REPO" --name src --json
assert_eq "list shows it incomplete" 1 \
	"$(json_eval "$RUN_OUT" "len([x for x in d if x['status'] != 'complete'])")"
psql_at "$PG_PORT" "ALTER SYSTEM RESET archive_command" >/dev/null
psql_at "$PG_PORT" "SELECT pg_reload_conf()" >/dev/null

# ---------------------------------------------------------------------------
note "a configured job of kind basebackup, and pitr through the configuration"
own_dir "$BD_TMP/state"
CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[global]
state-dir = $BD_TMP/state

[repo:main]
url = $REPO

[source:src]
url = $SRC_URI

[job:bb]
source = src
repo = main
kind = basebackup
EOF
chown "$OWNER:" "$CONF"
before="$(complete_backups)"
bd -c "$CONF" run bb
assert_rc "backupd run of a basebackup job" 0
assert_eq "the job made a complete base backup" "$((before + 1))" "$(complete_backups)"
B3="$(last_line)"
assert_eq "its manifest says basebackup" basebackup "$(json_eval "$(manifest_of "$B3")" "d['kind']")"
own_dir "$BD_TMP/r4"
dbr -c "$CONF" pitr --repo main --name src --data-dir "$BD_TMP/r4/data" --backup "$B3" \
	--target-timeline current --tablespace-map "$BD_TMP/ts1=$BD_TMP/r4/ts1"
assert_rc "pitr with a configured repository" 0
check "restore_command names the repository and the configuration" \
	grep -q -F "wal-get -c $(readlink -f "$CONF") --repo main --name src" "$BD_TMP/r4/data/postgresql.auto.conf"
check "recovery_target_timeline as asked" \
	grep -q -F "recovery_target_timeline = 'current'" "$BD_TMP/r4/data/postgresql.auto.conf"
if copy_start "$BD_TMP/r4" "$PG_BINDIR"; then
	wait_promoted "$COPY_PORT" r4
	assert_eq "r4 (timeline 1, after everything) has tx1 and tx2" "tx1,tx2" "$(rows_at "$COPY_PORT")"
	copy_stop "$BD_TMP/r4"
fi
if [ "$(id -u)" = 0 ]; then
	# pitr as root gives the copy to the data directory's owner, whose
	# restore_command must read the config it names: one only root can read
	# fails every wal-get, and the copy's recovery with it
	ROOTCONF="$BD_TMP/root-only.conf"
	(umask 077 && cp "$CONF" "$ROOTCONF")
	own_dir "$BD_TMP/r5"
	run "$DBRESTORE" -c "$ROOTCONF" pitr --repo main --name src --data-dir "$BD_TMP/r5/data" --backup "$B3" \
		--target-timeline current --tablespace-map "$BD_TMP/ts1=$BD_TMP/r5/ts1"
	assert_rc "pitr as root naming a config the server's user cannot read: exit 2" 2
	assert_output_contains "it names the config and the server's user" "as $OWNER (uid $(id -u "$OWNER"), the data directory's owner), who cannot read '$ROOTCONF'"
	check_not "nothing was written" test -e "$BD_TMP/r5/data"
fi
# A target the archived WAL does not reach yet is set up (the source may
# archive it before the copy starts), with a warning: a copy started before
# then stops with "recovery ended before configured recovery target was reached"
own_dir "$BD_TMP/r6"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r6/data" --target-lsn FFFF/0 \
	--tablespace-map "$BD_TMP/ts1=$BD_TMP/r6/ts1"
assert_rc "pitr to an LSN past the archived WAL is set up" 0
assert_output_contains "with a warning that says where the archive ends" "target LSN FFFF/0 is past the archived WAL of 'src', which ends at"
own_dir "$BD_TMP/r7"
# a time to the minute, without seconds, as an operator types it
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/r7/data" --target-time "2999-01-01T00:00+00" \
	--tablespace-map "$BD_TMP/ts1=$BD_TMP/r7/ts1"
assert_rc "pitr to a time in the future (given without seconds) is set up" 0
assert_output_contains "with a warning that it is in the future" "target time 2999-01-01 00:00:00.000000+00 is in the future"
check "the recovery target is that minute's first second" \
	grep -qF "recovery_target_time = '2999-01-01 00:00:00.000000+00'" "$BD_TMP/r7/data/postgresql.auto.conf"

# ---------------------------------------------------------------------------
note "usage errors"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/x" --target-time yesterday
assert_rc "bad --target-time is a usage error" 2
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/x" --target-time "2026-12-01 10:1"
assert_rc "a --target-time cut short in its minutes is a usage error" 2
assert_output_contains "saying what a time looks like" "--target-time must be a time like"
assert_eq "in one line" 1 "$(grep -c . "$RUN_ERR")"
dbr pitr --repo "$REPO" --name src --data-dir "$BD_TMP/x" --target-lsn 0/1 --target-name a
assert_rc "two targets are a usage error" 2
bd basebackup --repo "$REPO"
assert_rc "basebackup without --source" 2

assert_no_secrets_in_output
finish
