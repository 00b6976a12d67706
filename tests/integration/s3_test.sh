#!/usr/bin/env bash
# run.sh: long
# The S3 driver through the real binaries, against s3rver (a local fake S3
# from npm), including WAL archiving, base backups and PITR through a bucket.
# s3rver does not check SigV4 signatures: the signing itself is
# pinned by tests/unit/archive/sigv4_test.c with AWS's published vectors.
#
#   S3RVER_PREFIX   where s3rver is (installed there with npm when missing;
#                   default /tmp/s3rver)
source "$(dirname "$0")/lib.sh"

require_binaries

source "$(dirname "$0")/s3lib.sh"
s3_start
check "s3rver listens on $S3_PORT" bash -c '(exec 3<>"/dev/tcp/127.0.0.1/$1")' _ "$S3_PORT"

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN
REPO="s3://bkt/backups/one?endpoint=http://127.0.0.1:$S3_PORT&style=path"

run "$BACKUPD" list --repo "$REPO"
assert_rc "list of an empty prefix fails" 1
assert_output_contains "it says there is no repository" "no backupd.repo"

pg_start
db_create src
check "source database loads" psql_q src "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g"

run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$REPO" --name src --jobs 2
assert_rc "dump to s3 succeeds" 0
ID1="$(last_line)"
assert_match "dump prints the backup ID" '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' "$ID1"
check "the manifest is an object in the bucket" \
	bash -c 'find "$1" -path "*src/backups/$2/manifest.json*" | grep -q .' _ "$BD_TMP/s3data" "$ID1"

run "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list succeeds" 0
assert_output_contains "list shows the backup" "$ID1"

run "$BACKUPD" verify --repo "$REPO" --name src "$ID1"
assert_rc "verify re-reads every object from s3" 0

# Two dumps of one name in the same second (as from two hosts) claim distinct
# IDs: s3rver ignores If-None-Match, the claim must not need it.
db_create race
psql_q race "CREATE TABLE r AS SELECT g AS id FROM generate_series(1, 1000) g" >/dev/null
same_second_dumps "s3 same-second dumps" "$REPO" race "$(pg_uri race)"
run "$BACKUPD" verify --repo "$REPO" --name race
assert_rc "s3: all six same-second backups verify" 0
check "s3: no claim object is left" bash -c '! find "$1" -path "*race/backups/*" -name "*.claim-*" | grep -q .' _ "$BD_TMP/s3data"

run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst)" --jobs 2 --create
assert_rc "restore from s3 succeeds" 0
assert_eq "restored rows match" "$(psql_q src "SELECT count(*), sum(id) FROM t")" "$(psql_q dst "SELECT count(*), sum(id) FROM t" || true)"

run env AWS_ACCESS_KEY_ID=NOPE "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a wrong access key fails" 1
assert_output_contains "the error names bucket, S3 code and message" "403 InvalidAccessKeyId"

run "$BACKUPD" list --repo "s3://nobucket/x?endpoint=http://127.0.0.1:$S3_PORT"
assert_rc "a missing bucket fails" 1
assert_output_contains "the error says NoSuchBucket" "NoSuchBucket"

# A HEAD's 404 has no body: check must not take a missing bucket for a
# repository that is merely not created yet.
cat >"$BD_TMP/buckets.conf" <<EOF
[repo:gone]
url = s3://nobucket/x?endpoint=http://127.0.0.1:$S3_PORT&style=path

[repo:fresh]
url = s3://bkt/not-yet?endpoint=http://127.0.0.1:$S3_PORT&style=path
EOF
run "$BACKUPD" -c "$BD_TMP/buckets.conf" check
assert_rc "check of a repository in a missing bucket fails" 1
assert_output_matches "check names the missing bucket" '^FAILED repo gone: .*NoSuchBucket'
assert_output_contains "a new prefix in an existing bucket is still fine" "ok     repo fresh (new: created by the first backup)"

run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$BACKUPD" list --repo "$REPO"
assert_rc "no credentials is a usage error" 2

# --------------------------------------------------------------------------
note "more than 1000 objects under one prefix (ListObjectsV2 continuation)"
db_create many
check "load a table spanning more than 1100 heap blocks" psql_q many \
	"CREATE TABLE m AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 160000) g"
check "vacuum it" psql_q many "VACUUM ANALYZE m"
BLOCKS="$(psql_q many "SELECT pg_relation_size('m') / 8192")"
check "the table has $BLOCKS blocks (> 1100)" test "$BLOCKS" -gt 1100
run "$BACKUPD" dump --source "$(pg_uri many)" --repo "$REPO" --name many --jobs 4 --chunk-size 8k
assert_rc "dump with --chunk-size 8k succeeds" 0
ID_M="$(last_line)"
NOBJ="$(find "$BD_TMP/s3data/bkt/backups/one/many/backups/$ID_M" -type f -name '*._S3rver_object' 2>/dev/null | wc -l)"
check "the backup is more than 1000 objects ($NOBJ)" test "$NOBJ" -gt 1000
run "$BACKUPD" list --repo "$REPO" --name many --json
assert_rc "list of > 1000 objects succeeds" 0
check "list shows the chunked backup complete" python3 -c '
import json,sys
items = {i["id"]: i for i in json.load(open(sys.argv[1]))}
assert items[sys.argv[2]]["status"] == "complete", items' "$RUN_OUT" "$ID_M"
run "$BACKUPD" verify --repo "$REPO" --name many "$ID_M"
assert_rc "verify of > 1000 objects succeeds" 0
run "$DBRESTORE" restore --repo "$REPO" --name many --backup "$ID_M" --to "$(pg_uri many_dst)" --jobs 4 --create
assert_rc "restore of > 1000 chunks succeeds" 0
M_SUM="SELECT count(*), sum(id), md5(string_agg(v, '' ORDER BY id)) FROM m"
assert_eq "restored chunked rows match" "$(psql_q many "$M_SUM")" "$(psql_q many_dst "$M_SUM" || true)"

# --------------------------------------------------------------------------
note "s3rver killed (SIGKILL) during a multipart upload, then a rerun"
db_create big
check "load ~250 MB of random bytea" psql_q big \
	"CREATE EXTENSION pgcrypto; CREATE TABLE b AS SELECT g AS id, gen_random_bytes(1024) AS v FROM generate_series(1, 250000) g"
check "vacuum it" psql_q big "VACUUM ANALYZE b"
s3_bytes() { du -sb "$BD_TMP/s3data" | cut -f1; }
before="$(s3_bytes)"
dump_rc=0
# a short retry budget: s3rver stays down, the dump is to give up soon
"$BACKUPD" dump --source "$(pg_uri big)" --repo "$REPO&retry-max-time=2" --name big --chunk-size 2G \
	>"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" </dev/null &
DUMP_PID=$!
# kill once the first parts are on s3rver's disk (at most 30 s)
for _ in $(seq 1 300); do
	[ "$(s3_bytes)" -gt $((before + 40 * 1024 * 1024)) ] && break
	kill -0 "$DUMP_PID" 2>/dev/null || break
	sleep 0.1
done
kill -KILL "$S3RVER_PID" 2>/dev/null || true
wait "$S3RVER_PID" 2>/dev/null || true
S3RVER_PID=""
wait "$DUMP_PID" || dump_rc=$?
cat "$BD_TMP/kill.out" "$BD_TMP/kill.err" >>"$BD_ALL_OUTPUT"
_bd_check_sanitizers "$BD_TMP/kill.err" "dump while s3rver is killed"
assert_eq "the dump fails with exit 1 when s3rver dies" 1 "$dump_rc"
check "its error names the S3 object" grep -q "s3 " "$BD_TMP/kill.err"
s3_start
check "s3rver restarts on the same port and directory" bash -c '(exec 3<>"/dev/tcp/127.0.0.1/$1")' _ "$S3_PORT"
run "$BACKUPD" list --repo "$REPO" --name big --json
assert_rc "list --json after the failed dump succeeds" 0
check "no complete backup is listed" python3 -c '
import json,sys
items = json.load(open(sys.argv[1]))
assert not [i for i in items if i["status"] == "complete"], items' "$RUN_OUT"

note "objects of several hundred MB (multipart upload, streamed GET)"
t0=$SECONDS
run "$BACKUPD" dump --source "$(pg_uri big)" --repo "$REPO" --name big --chunk-size 2G
assert_rc "the rerun of the dump succeeds" 0
ID_B="$(last_line)"
note "dump of the big table: $((SECONDS - t0)) s"
check "one stored object is larger than 200 MB" \
	bash -c 'find "$1/bkt/backups/one/big/backups/$2" -type f -size +200M | grep -q .' _ "$BD_TMP/s3data" "$ID_B"
run "$BACKUPD" list --repo "$REPO" --name big --json
check "the rerun is the one complete backup" python3 -c '
import json,sys
items = [i["id"] for i in json.load(open(sys.argv[1])) if i["status"] == "complete"]
assert items == [sys.argv[2]], items' "$RUN_OUT" "$ID_B"
t0=$SECONDS
run "$BACKUPD" verify --repo "$REPO" --name big "$ID_B"
assert_rc "verify of the big object succeeds" 0
run "$DBRESTORE" restore --repo "$REPO" --name big --backup "$ID_B" --to "$(pg_uri big_dst)" --create
assert_rc "restore of the big object succeeds" 0
note "verify + restore of the big table: $((SECONDS - t0)) s"
BIG_SUM="SELECT count(*), md5(string_agg(md5(v), '' ORDER BY id)) FROM b"
assert_eq "restored bytea matches" "$(psql_q big "$BIG_SUM")" "$(psql_q big_dst "$BIG_SUM" || true)"
db_drop big_dst

# --------------------------------------------------------------------------
if ! command -v aws >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	note "installing awscli"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q awscli >/dev/null 2>&1 || true
fi
export AWS_DEFAULT_REGION=us-east-1
HAVE_AWS=0
command -v aws >/dev/null 2>&1 && HAVE_AWS=1
AWS=(aws --endpoint-url "http://127.0.0.1:$S3_PORT")
# keys under s3://bkt/$1 as the AWS CLI sees them, one per line (none: empty)
aws_keys() { "${AWS[@]}" s3 ls --recursive "s3://bkt/$1" | awk '{ print $4 }'; }
complete_ids() { # name: the complete backups' IDs from list --json, one per line
	"$BACKUPD" list --repo "$REPO" --name "$1" --json | python3 -c '
import json,sys
for i in json.load(sys.stdin):
    if i["status"] == "complete": print(i["id"])'
}

note "expire against the bucket"
EXP_PREFIX="backups/one/exp/backups"
IDS_E=()
for i in 1 2 3; do
	run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$REPO" --name exp --jobs 2
	assert_rc "dump $i of exp succeeds" 0
	IDS_E+=("$(last_line)")
done
# a dump killed (SIGKILL) in the middle of its uploads leaves an incomplete backup;
# killed once a part of its multipart data upload is stored, when its schema
# objects are complete (s3rver, unlike S3, would list a PUT cut short)
parts_stored() { find "$BD_TMP/s3data/bkt" -path '*S3rver_uploads*' -name '*.md5' 2>/dev/null | wc -l; }
parts_before="$(parts_stored)"
"$BACKUPD" dump --source "$(pg_uri big)" --repo "$REPO" --name exp --chunk-size 2G \
	>"$BD_TMP/killed.out" 2>"$BD_TMP/killed.err" </dev/null &
DUMP_PID=$!
for _ in $(seq 1 600); do
	[ "$(parts_stored)" -gt "$parts_before" ] && break
	kill -0 "$DUMP_PID" 2>/dev/null || break
	sleep 0.1
done
kill -KILL "$DUMP_PID" 2>/dev/null || true
wait "$DUMP_PID" 2>/dev/null || true
cat "$BD_TMP/killed.out" "$BD_TMP/killed.err" >>"$BD_ALL_OUTPUT"
KILLED_ID="$(find "$BD_TMP/s3data/bkt/$EXP_PREFIX" -path '*/backup.started*' 2>/dev/null |
	sed -n 's|.*/backups/\([^/]*\)/backup\.started.*|\1|p' |
	grep -vxF -e "${IDS_E[0]}" -e "${IDS_E[1]}" -e "${IDS_E[2]}" | head -n 1 || true)"
check "the killed dump left an incomplete backup ($KILLED_ID)" test -n "$KILLED_ID"
run "$BACKUPD" list --repo "$REPO" --name exp --json
check "list shows three complete backups and the killed one as incomplete" python3 -c '
import json,sys
st = {i["id"]: i["status"] for i in json.load(open(sys.argv[1]))}
assert sorted(k for k, v in st.items() if v == "complete") == sorted(sys.argv[3:6]), st
assert st.get(sys.argv[2]) == "incomplete", st' "$RUN_OUT" "$KILLED_ID" "${IDS_E[@]}"

if [ "$HAVE_AWS" = 1 ]; then
	aws_keys "$EXP_PREFIX/" >"$BD_TMP/keys.before"
else
	find "$BD_TMP/s3data/bkt/$EXP_PREFIX" -type f | sort >"$BD_TMP/keys.before"
fi
check "the bucket holds the backups' keys before the dry run" test -s "$BD_TMP/keys.before"
run "$BACKUPD" expire --repo "$REPO" --name exp --keep-last 1 --dry-run
assert_rc "expire --dry-run against s3 succeeds" 0
assert_output_contains "the dry run lists the oldest backup" "would remove exp ${IDS_E[0]}"
assert_output_contains "the dry run lists the second backup" "would remove exp ${IDS_E[1]}"
assert_output_contains "the dry run keeps the newest" "keep exp ${IDS_E[2]} (last)"
assert_output_contains "the dry run would remove the killed dump's backup: its writer is gone" "would remove exp $KILLED_ID (incomplete, its writer pid"
assert_eq "the dry run removes no backup" "$(printf '%s\n' "${IDS_E[@]}" | sort)" "$(complete_ids exp | sort)"
if [ "$HAVE_AWS" = 1 ]; then
	aws_keys "$EXP_PREFIX/" >"$BD_TMP/keys.after"
else
	find "$BD_TMP/s3data/bkt/$EXP_PREFIX" -type f | sort >"$BD_TMP/keys.after"
fi
check "the dry run deletes no key" cmp -s "$BD_TMP/keys.before" "$BD_TMP/keys.after"

run "$BACKUPD" expire --repo "$REPO" --name exp --keep-last 1
assert_rc "expire --keep-last 1 against s3 succeeds" 0
assert_output_contains "expire removes the oldest backup" "remove exp ${IDS_E[0]}"
assert_output_contains "expire removes the second backup" "remove exp ${IDS_E[1]}"
assert_output_contains "expire removes the killed dump's backup at once" "remove exp $KILLED_ID (incomplete, its writer pid"
assert_eq "list shows one complete backup, the newest" "${IDS_E[2]}" "$(complete_ids exp)"
run "$BACKUPD" verify --repo "$REPO" --name exp "${IDS_E[2]}"
assert_rc "the kept backup still verifies" 0

note "an incomplete backup of a writer on another host, aged past the 24 h grace"
# whether a writer on another host still runs cannot be told from here: its
# incomplete backup is kept for 24 h; its ID is its start time, so an old ID
# is what a day's wait would do
OLD_ID=20200101T000000Z
if [ "$HAVE_AWS" = 1 ]; then
	printf '{"started":"2020-01-01T00:00:00Z","host":"elsewhere","pid":1,"boot_id":"x","pid_ns":"pid:[1]","pid_start":1}' >"$BD_TMP/started.json"
	run "${AWS[@]}" s3 cp "$BD_TMP/started.json" "s3://bkt/$EXP_PREFIX/$OLD_ID/backup.started"
	assert_rc "aws s3 cp writes another host's backup.started" 0
	run "${AWS[@]}" s3 cp "$BD_TMP/started.json" "s3://bkt/$EXP_PREFIX/$OLD_ID/data/1.0.copy.zst"
	run "$BACKUPD" expire --repo "$REPO" --name exp --keep-last 1 --dry-run
	assert_output_contains "another host's incomplete backup goes by its age" "would remove exp $OLD_ID (incomplete, older than 24 hours)"
	run "$BACKUPD" expire --repo "$REPO" --name exp --keep-last 1
	assert_rc "expire with an old incomplete backup succeeds" 0
	assert_output_contains "expire removes the old incomplete backup" "remove exp $OLD_ID (incomplete"
	assert_eq "the AWS CLI shows no key of the removed backups" "" \
		"$(aws_keys "$EXP_PREFIX/" | grep -F -e "/${IDS_E[0]}/" -e "/${IDS_E[1]}/" -e "/$OLD_ID/" -e "/$KILLED_ID/" || true)"
	check "the AWS CLI still shows the kept backup's manifest" \
		bash -c 'grep -qxF "$1" <(aws --endpoint-url "http://127.0.0.1:$2" s3 ls --recursive "s3://bkt/$1" | awk "{ print \$4 }")' \
		_ "$EXP_PREFIX/${IDS_E[2]}/manifest.json" "$S3_PORT"
	run "$BACKUPD" list --repo "$REPO" --name exp --json
	check "list shows only the kept backup" python3 -c '
import json,sys
assert [i["id"] for i in json.load(open(sys.argv[1]))] == [sys.argv[2]]' "$RUN_OUT" "${IDS_E[2]}"

	note "claims of put_new left by claimants killed before they removed them"
	# a claim is an empty object <path>.claim-<hex> (archive/s3/s3.c): one in
	# an ID nobody got (the claimant killed between its claim and its
	# backup.started) lists as an incomplete backup, which expire keeps for
	# 24 h after the ID's time; one beside a kept backup's backup.started (a
	# losing claimant killed) stays as long as the backup.  The sweep removes
	# claims last modified before the grace, and never a fresh one.
	CLAIM_ID="$(date -u +%Y%m%dT%H%M%SZ)"
	: >"$BD_TMP/empty"
	run "${AWS[@]}" s3 cp "$BD_TMP/empty" "s3://bkt/$EXP_PREFIX/$CLAIM_ID/backup.started.claim-00dead00beef00dead00beef"
	assert_rc "aws s3 cp plants a killed claimant's claim of a new ID" 0
	run "${AWS[@]}" s3 cp "$BD_TMP/empty" "s3://bkt/$EXP_PREFIX/${IDS_E[2]}/backup.started.claim-11dead11beef11dead11beef"
	assert_rc "aws s3 cp plants a killed claimant's claim beside a kept backup" 0
	run "$BACKUPD" expire --repo "$REPO" --name exp --keep-last 1
	assert_rc "expire with fresh claims succeeds" 0
	assert_output_contains "a fresh claim (its claimant may still run) is kept" "keep exp $CLAIM_ID (incomplete, may still be running)"
	assert_eq "both fresh claims are still there" 2 "$(aws_keys "$EXP_PREFIX/" | grep -c '\.claim-' || true)"
	# what two days would do: s3rver's Last-Modified is its file's mtime
	find "$BD_TMP/s3data/bkt/$EXP_PREFIX" -name '*.claim-*' -exec touch -d '2 days ago' {} +
	run "$BACKUPD" expire --repo "$REPO" --name exp --keep-last 1
	assert_rc "expire with claims past the grace succeeds" 0
	assert_output_contains "expire sweeps both old claims" "removed 2 temp files of writers that died"
	assert_eq "the AWS CLI shows no claim left" "" "$(aws_keys "$EXP_PREFIX/" | grep '\.claim-' || true)"
	run "$BACKUPD" list --repo "$REPO" --name exp --json
	check "list shows the kept backup only, no incomplete one of the claim" python3 -c '
import json,sys
assert [i["id"] for i in json.load(open(sys.argv[1]))] == [sys.argv[2]]' "$RUN_OUT" "${IDS_E[2]}"
	run "$BACKUPD" verify --repo "$REPO" --name exp "${IDS_E[2]}"
	assert_rc "the kept backup still verifies" 0
	run "$BACKUPD" dump --source "$(pg_uri race)" --repo "$REPO" --name exp
	assert_rc "a dump after the sweep succeeds" 0
fi

# --------------------------------------------------------------------------
note "AWS CLI interop"
if [ "$HAVE_AWS" = 0 ]; then
	fail "aws CLI available (scripts/deps.sh awscli)"
else
	run "${AWS[@]}" s3 ls --recursive "s3://bkt/backups/one/src/"
	assert_rc "aws s3 ls lists what backupd wrote" 0
	assert_output_contains "aws s3 ls shows the manifest" "src/backups/$ID1/manifest.json"
	DATA_KEY="$(grep -o "backups/one/src/backups/$ID1/[^ ]*\.zst" "$RUN_OUT" | head -n 1 || true)"
	check "aws s3 ls shows a data object" test -n "$DATA_KEY"
	run "${AWS[@]}" s3 cp "s3://bkt/$DATA_KEY" "$BD_TMP/aws-obj.zst"
	assert_rc "aws s3 cp downloads a data object" 0
	# (int, text): built-in types only, so a binary COPY stream (README, "Binary COPY")
	check "the data object is a zstd-compressed binary COPY stream" \
		bash -c 'test "$(zstd -dc "$1" | head -c 11 | od -An -tx1 | tr -d " \n")" = 5047434f50590aff0d0a00' _ "$BD_TMP/aws-obj.zst"

	run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$BD_TMP/localrepo" --name src
	assert_rc "dump to a local repository succeeds" 0
	ID_L="$(last_line)"
	run "${AWS[@]}" s3 sync "$BD_TMP/localrepo" "s3://bkt/synced/"
	assert_rc "aws s3 sync uploads the local repository" 0
	REPO_S="s3://bkt/synced?endpoint=http://127.0.0.1:$S3_PORT&style=path"
	run "$BACKUPD" verify --repo "$REPO_S" --name src "$ID_L"
	assert_rc "backupd verifies objects the AWS CLI wrote" 0
	run "$DBRESTORE" restore --repo "$REPO_S" --name src --backup "$ID_L" --to "$(pg_uri dst_aws)" --create
	assert_rc "dbrestore restores objects the AWS CLI wrote" 0
	assert_eq "rows restored from the synced prefix match" "$(psql_q src "SELECT count(*), sum(id) FROM t")" \
		"$(psql_q dst_aws "SELECT count(*), sum(id) FROM t" || true)"
fi

# --------------------------------------------------------------------------
note "WAL archiving, base backup and PITR through the bucket"
# The server's archive_command runs as the server's user with the server's
# environment: credentials come from a config whose secret is a 0600 file.
AS_PG=()
OWNER="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
	AS_PG=(runuser -u bdtest --)
	OWNER=bdtest
fi
WCONF_DIR="$BD_TMP/walconf"
mkdir -p "$WCONF_DIR/state"
(umask 077 && printf 'S3RVER\n' >"$WCONF_DIR/s3.secret")
cat >"$WCONF_DIR/backupd.conf" <<CONF
[global]
state-dir = $WCONF_DIR/state

[repo:bucket]
url = s3://bkt/wal-repo?endpoint=http://127.0.0.1:$S3_PORT&style=path
access-key-id = S3RVER
secret-access-key-file = $WCONF_DIR/s3.secret
CONF
chown -R "$OWNER:" "$WCONF_DIR"
chmod 0755 "$WCONF_DIR"
WCONF="$WCONF_DIR/backupd.conf"
PG_SERVER_CONF="archive_mode = on
archive_command = '$BACKUPD -c $WCONF wal-push --repo bucket --name walsrc %p'"
export PG_SERVER_CONF
pg_start walpg
unset PG_SERVER_CONF
WPASS="$BD_TMP/pgpass-wal"
(umask 077 && printf '127.0.0.1:*:*:postgres:%s\n' "$PG_PASSWORD" >"$WPASS")
chown "$OWNER:" "$WPASS"
as_pg() { run "${AS_PG[@]}" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY PGPASSFILE="$WPASS" "$@"; }
wal_in_bucket() { # FILE
	find "$BD_TMP/s3data/bkt/wal-repo/walsrc/wal" -name "$1-*.zst*" 2>/dev/null | grep . >/dev/null
}
wait_wal_in_bucket() {
	local i
	for i in $(seq 1 300); do
		wal_in_bucket "$1" && return 0
		sleep 0.2
	done
	return 1
}
psql_q postgres "CREATE TABLE w (id int, what text); INSERT INTO w VALUES (1, 'before backup')" >/dev/null
as_pg "$BACKUPD" -c "$WCONF" basebackup --source "$(pg_uri postgres)" --repo bucket --name walsrc
assert_rc "basebackup into the bucket (WAL pushed there by archive_command)" 0
WB="$(last_line)"
psql_q postgres "INSERT INTO w VALUES (2, 'after backup')" >/dev/null
SEG="$(psql_q postgres "SELECT pg_walfile_name(pg_switch_wal())")"
check "archive_command pushed $SEG into the bucket" wait_wal_in_bucket "$SEG"
as_pg "$BACKUPD" -c "$WCONF" wal-push --repo bucket --name walsrc "$PG_DIR/data/pg_wal/$SEG"
if [ -e "$PG_DIR/data/pg_wal/$SEG" ]; then
	assert_rc "pushing an archived segment again succeeds (same checksum)" 0
fi
mkdir -p "$BD_TMP/walget"
chown "$OWNER:" "$BD_TMP/walget"
as_pg "$DBRESTORE" -c "$WCONF" wal-get --repo bucket --name walsrc --prefetch 0 "$SEG" "$BD_TMP/walget/seg"
assert_rc "wal-get fetches a segment from the bucket" 0
check "the fetched segment is a whole 16 MB segment" test "$(stat -c %s "$BD_TMP/walget/seg")" -eq 16777216
as_pg "$DBRESTORE" -c "$WCONF" wal-get --repo bucket --name walsrc 0000000100000000000000FF "$BD_TMP/walget/none"
assert_rc "wal-get of a segment not in the bucket exits 1" 1
# expire's "anything under the name" stops listing at the first key
mkdir -p "$BD_TMP/walget/only"
cp "$BD_TMP/walget/seg" "$BD_TMP/walget/only/$SEG"
chown -R "$OWNER:" "$BD_TMP/walget/only"
as_pg "$BACKUPD" -c "$WCONF" wal-push --repo bucket --name walonly "$BD_TMP/walget/only/$SEG"
assert_rc "wal-push of a segment under a name with no backup" 0
as_pg "$BACKUPD" -c "$WCONF" expire --repo bucket --name walonly --keep-last 1
assert_rc "expire of a WAL-only name in the bucket is a name: exit 0" 0
as_pg "$BACKUPD" -c "$WCONF" expire --repo bucket --name walonlyy --keep-last 1
assert_rc "expire of a name with nothing under it in the bucket: exit 1" 1
assert_output_contains "it names the name" "nothing of 'walonlyy' in "
mkdir -p "$BD_TMP/walpitr"
chown "$OWNER:" "$BD_TMP/walpitr"
as_pg "$DBRESTORE" -c "$WCONF" pitr --repo bucket --name walsrc --backup "$WB" --data-dir "$BD_TMP/walpitr/data"
assert_rc "pitr from the bucket" 0
# the copy must not archive into the source's name, nor listen on its port
sed -i "s/^archive_mode = on/archive_mode = off/" "$BD_TMP/walpitr/data/postgresql.conf"
WP_PORT="$(_bd_pick_port)"
printf '%s\n' "$PG_BINDIR" >"$BD_TMP/walpitr/bindir"
BD_SERVERS+=("$BD_TMP/walpitr")
if (cd "$BD_TMP/walpitr" && "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$BD_TMP/walpitr/data" \
	-l "$BD_TMP/walpitr/server.log" -o "-p $WP_PORT" -w -t 120 -s start); then
	pass "the server restored from the bucket starts"
	promoted=""
	for _ in $(seq 1 300); do
		promoted="$("$PG_BINDIR/psql" -X -q -A -t -h "$PG_DIR/sock" -p "$WP_PORT" -U postgres -d postgres \
			-c "SELECT NOT pg_is_in_recovery()" 2>/dev/null || true)"
		[ "$promoted" = t ] && break
		sleep 0.2
	done
	assert_eq "it replayed the WAL from the bucket and promoted" t "$promoted"
	assert_eq "it has the row written after the base backup" "before backup,after backup" \
		"$("$PG_BINDIR/psql" -X -q -A -t -h "$PG_DIR/sock" -p "$WP_PORT" -U postgres -d postgres \
			-c "SELECT string_agg(what, ',' ORDER BY id) FROM w" 2>/dev/null || true)"
else
	fail "the server restored from the bucket starts" "$(tail -n 20 "$BD_TMP/walpitr/server.log")"
fi
bash "$PG_SERVER_SH" stop "$BD_TMP/walpitr" >/dev/null 2>&1 || true
as_pg "$BACKUPD" -c "$WCONF" expire --repo bucket --name walsrc --keep-last 1 --dry-run
assert_rc "expire --dry-run of WAL in the bucket" 0

# ---------------------------------------------------------------------------
note "an encrypted repository in the bucket"
EKEY="$BD_TMP/s3-encryption.key"
(umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$EKEY")
add_secret "$(cat "$EKEY")"
EREPO="s3://bkt/backups/enc?endpoint=http://127.0.0.1:$S3_PORT&style=path"
db_create esrc
check "a source database for the encrypted bucket loads" \
	psql_q esrc "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g"
run "$BACKUPD" dump --source "$(pg_uri esrc)" --repo "$EREPO" --name src --jobs 2 --encryption-key-file "$EKEY"
assert_rc "encrypted dump to s3" 0
EID="$(last_line)"
assert_match "it prints the backup ID" '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' "$EID"
check_not "no object name in the bucket shows the source name" \
	bash -c 'find "$1" -path "*backups/enc/*" | sed "s|.*backups/enc/||" | grep -q src' _ "$BD_TMP/s3data"
run "$BACKUPD" list --repo "$EREPO"
assert_rc "list of the encrypted bucket without the key" 0
assert_output_contains "it shows the backup ID" "$EID"
run "$BACKUPD" verify --repo "$EREPO" --encryption-key-file "$EKEY"
assert_rc "verify of the encrypted bucket" 0
run "$DBRESTORE" restore --repo "$EREPO" --name src --to "$(pg_uri edst_nokey)" --create
assert_rc "restore from the encrypted bucket without the key: exit 2" 2
check_not "no database created without the key" db_exists edst_nokey
run "$DBRESTORE" restore --repo "$EREPO" --name src --to "$(pg_uri edst)" --jobs 2 --create --encryption-key-file "$EKEY"
assert_rc "restore from the encrypted bucket" 0
assert_eq "restored rows match" "$(psql_q esrc "SELECT count(*), sum(id) FROM t")" "$(psql_q edst "SELECT count(*), sum(id) FROM t" || true)"

assert_no_secrets_in_output

s3_stop
finish
