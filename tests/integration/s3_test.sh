#!/usr/bin/env bash
# The S3 driver through the real binaries, against s3rver (a local fake S3
# from npm).  s3rver does not check SigV4 signatures: the signing itself is
# pinned by tests/unit/archive/sigv4_test.c with AWS's published vectors.
#
#   S3RVER_PREFIX   where s3rver is (installed there with npm when missing;
#                   default /tmp/s3rver)
source "$(dirname "$0")/lib.sh"

require_binaries

S3RVER_PREFIX="${S3RVER_PREFIX:-/tmp/s3rver}"
S3RVER="$S3RVER_PREFIX/node_modules/.bin/s3rver"
if [ ! -x "$S3RVER" ]; then
	note "installing s3rver into $S3RVER_PREFIX"
	mkdir -p "$S3RVER_PREFIX"
	[ -f "$S3RVER_PREFIX/package.json" ] || echo '{"name":"s3rver-local","private":true}' >"$S3RVER_PREFIX/package.json"
	check "s3rver installs" npm install --prefix "$S3RVER_PREFIX" --no-audit --no-fund s3rver@3.7.1
fi

S3_PORT="$(_bd_pick_port)"
mkdir -p "$BD_TMP/s3data"
"$S3RVER" -a 127.0.0.1 -p "$S3_PORT" -d "$BD_TMP/s3data" --configure-bucket bkt --silent \
	>"$BD_TMP/s3rver.log" 2>&1 &
S3RVER_PID=$!
s3_stop() { kill "$S3RVER_PID" 2>/dev/null || true; wait "$S3RVER_PID" 2>/dev/null || true; }
trap 's3_stop; _bd_on_exit "$?"' EXIT
for _ in $(seq 1 50); do
	_bd_port_free "$S3_PORT" || break
	sleep 0.2
done
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

run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst)" --jobs 2 --create
assert_rc "restore from s3 succeeds" 0
check "restored rows match" bash -c '[ "$(psql_q dst "SELECT count(*), sum(id) FROM t")" = "$(psql_q src "SELECT count(*), sum(id) FROM t")" ]'

run env AWS_ACCESS_KEY_ID=NOPE "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a wrong access key fails" 1
assert_output_contains "the error names bucket, S3 code and message" "403 InvalidAccessKeyId"

run "$BACKUPD" list --repo "s3://nobucket/x?endpoint=http://127.0.0.1:$S3_PORT"
assert_rc "a missing bucket fails" 1
assert_output_contains "the error says NoSuchBucket" "NoSuchBucket"

run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$BACKUPD" list --repo "$REPO"
assert_rc "no credentials is a usage error" 2

s3_stop
finish
