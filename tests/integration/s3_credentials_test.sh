#!/usr/bin/env bash
# run.sh: long
# S3 credentials, object options and outages, against s3rver:
# - the AWS credential chain, each source against local stand-ins
#   (aws_standin.py: instance metadata with IMDSv2, container credentials,
#   STS), in the SDKs' order: a source that would fail is placed below one
#   that works, and the stand-in's counters show which was asked;
# - temporary credentials refreshed before they expire in the middle of a
#   multipart upload (counted at the stand-in, tokens seen by a recording
#   proxy in front of s3rver), and fetched anew when S3 calls them expired;
# - the signing region from AWS_REGION, AWS_DEFAULT_REGION and the profile;
# - sse, sse-kms-key-id and storage-class headers (s3rver drops them: the
#   recording proxy sees them on their way);
# - s3rver down for a few seconds in the middle of a dump and of a restore:
#   both ride it out.
# No secret of any source (secret key, session tokens, web identity and
# container tokens) appears in any output.
source "$(dirname "$0")/lib.sh"

require_binaries
source "$(dirname "$0")/s3lib.sh"
s3_start
check "s3rver listens on $S3_PORT" bash -c '(exec 3<>"/dev/tcp/127.0.0.1/$1")' _ "$S3_PORT"

STANDIN="$(dirname "$0")/aws_standin.py"
SD="$BD_TMP/standin"
mkdir -p "$SD"
PIDS=()
# start_standin NAME ARGS...: runs aws_standin.py, sets PORT_<NAME>
start_standin() {
	local name="$1"
	shift
	python3 "$STANDIN" "$1" "$SD/$name.port" "${@:2}" >>"$BD_TMP/standin.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -s "$SD/$name.port" ] && break
		sleep 0.1
	done
	printf -v "PORT_$name" '%s' "$(cat "$SD/$name.port")"
}
trap 'for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done; s3_stop; _bd_on_exit "$?"' EXIT
start_standin md metadata "$SD"
start_standin proxy proxy "$S3_PORT" "$BD_TMP/requests.log"
check "the metadata stand-in listens" test -n "$PORT_md"
check "the recording proxy listens" test -n "$PORT_proxy"
MD="http://127.0.0.1:$PORT_md"

CONTAINER_TOKEN="container-auth-$RANDOM$RANDOM"
WEB_TOKEN="web-identity-jwt-$RANDOM$RANDOM"
printf '%s' "$CONTAINER_TOKEN" >"$SD/container_token"
printf '%s\n' "$WEB_TOKEN" >"$SD/web_token"
printf '%s\n' "$WEB_TOKEN" >"$BD_TMP/web_token_file"
add_secret "$CONTAINER_TOKEN"
add_secret "$WEB_TOKEN"
# every session token the stand-ins hand out starts so
add_secret "sessiontoken-"
add_secret "imdsv2-session-"

# count NAME [STATEDIR]: requests the stand-in answered for NAME so far
count() { python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))
except OSError: print(0)' "${2:-$SD}/counts.json" "$1"; }

REPO="s3://bkt/creds?endpoint=http://127.0.0.1:$PORT_proxy&style=path"
# a clean credential environment: nothing but what each case sets (secrets
# come from files, or from the one variable exported below for one case:
# never from a command line)
unset AWS_CONTAINER_AUTHORIZATION_TOKEN
mkdir -p "$BD_TMP/home"
NOENV=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE
	-u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_ROLE_ARN
	-u AWS_CONTAINER_CREDENTIALS_FULL_URI -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
	-u AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
	HOME="$BD_TMP/home" AWS_SHARED_CREDENTIALS_FILE="$BD_TMP/credentials"
	AWS_CONFIG_FILE="$BD_TMP/config" AWS_EC2_METADATA_DISABLED=false
	AWS_EC2_METADATA_SERVICE_ENDPOINT="$MD")
IMDS=("${NOENV[@]}")
printf '%s\n' "$CONTAINER_TOKEN" >"$BD_TMP/container_token_file"
CONTAINER=("${IMDS[@]}" AWS_CONTAINER_CREDENTIALS_FULL_URI="$MD/ecs/creds"
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$BD_TMP/container_token_file")
WEBID=("${CONTAINER[@]}" AWS_WEB_IDENTITY_TOKEN_FILE="$BD_TMP/web_token_file"
	AWS_ROLE_ARN=arn:aws:iam::123456789012:role/backupd AWS_ENDPOINT_URL_STS="$MD/sts/")

pg_start
db_create src
check "source database loads" psql_q src "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g"

run env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER "$BACKUPD" dump --source "$(pg_uri src)" --repo "$REPO" --name src
assert_rc "a dump with keys from the environment creates the repository" 0

# --------------------------------------------------------------------------
note "instance metadata (IMDSv2), the last source"
: >"$BD_TMP/requests.log"
run "${IMDS[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with instance metadata credentials" 0
check "IMDSv2: a session token was asked for" test "$(count imds_token)" -ge 1
assert_eq "the role's credentials were fetched once" 1 "$(count imds)"
assert_eq "no request went without the IMDSv2 token" 0 "$(count imds_unauthorized)"
check "S3 requests carry the session token from instance metadata" \
	grep -q "x-amz-security-token=sessiontoken-imds-1" "$BD_TMP/requests.log"

# S3 calls the next token expired (a revoked token, a skewed clock): fetched anew at once
n="$(count imds)"
printf 'sessiontoken-imds-%s\n' "$((n + 1))" >"$BD_TMP/requests.log.expired"
: >"$BD_TMP/requests.log"
run "${IMDS[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list when S3 answers ExpiredToken to the first credentials" 0
check "S3 refused the first token" grep -q "x-amz-security-token=sessiontoken-imds-$((n + 1)) .*refused" "$BD_TMP/requests.log"
assert_eq "the credentials were fetched anew once" "$((n + 2))" "$(count imds)"
rm -f "$BD_TMP/requests.log.expired"
IMDS_N="$(count imds)" # what instance metadata handed out so far

run "${IMDS[@]}" AWS_EC2_METADATA_DISABLED=true "$BACKUPD" list --repo "$REPO" --name src
assert_rc "AWS_EC2_METADATA_DISABLED=true and nothing else: no credentials (exit 2)" 2
assert_output_contains "it says there are no S3 credentials" "no S3 credentials"
assert_eq "instance metadata was not asked" "$IMDS_N" "$(count imds)"

# --------------------------------------------------------------------------
note "container credentials before instance metadata"
run "${CONTAINER[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with container credentials" 0
assert_eq "the container endpoint was asked once" 1 "$(count container)"
assert_eq "instance metadata was not asked" "$IMDS_N" "$(count imds)"
export AWS_CONTAINER_AUTHORIZATION_TOKEN="$CONTAINER_TOKEN"
run "${CONTAINER[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE= "$BACKUPD" list --repo "$REPO" --name src
unset AWS_CONTAINER_AUTHORIZATION_TOKEN
assert_rc "the authorization token from AWS_CONTAINER_AUTHORIZATION_TOKEN" 0
assert_eq "the container endpoint was asked again" 2 "$(count container)"
printf 'wrong-token\n' >"$BD_TMP/wrong_token_file"
run "${CONTAINER[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$BD_TMP/wrong_token_file" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a refused container token fails (exit 1)" 1
assert_output_contains "the error names the container credentials" "container credentials"
assert_eq "instance metadata is not a fallback for a configured source" "$IMDS_N" "$(count imds)"
run "${CONTAINER[@]}" AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com/creds "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a plain-http FULL_URI to a remote host is refused (exit 2)" 2

note "container credentials over TLS, trusted through AWS_CA_BUNDLE"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$SD/tls.key" -out "$SD/tls.crt" >/dev/null 2>&1
mkdir -p "$SD/tls"
cp "$SD/container_token" "$SD/tls/"
start_standin tls metadata "$SD/tls" "$SD/tls.crt" "$SD/tls.key"
TLS_CONTAINER=("${CONTAINER[@]}" AWS_CONTAINER_CREDENTIALS_FULL_URI="https://127.0.0.1:$PORT_tls/ecs/creds")
run "${TLS_CONTAINER[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "an https endpoint signed by an unknown CA is refused (exit 1)" 1
run "${TLS_CONTAINER[@]}" AWS_CA_BUNDLE="$SD/tls.crt" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "with AWS_CA_BUNDLE naming its CA it is trusted" 0
assert_eq "the TLS stand-in handed out credentials once" 1 "$(count container "$SD/tls")"

# --------------------------------------------------------------------------
note "web identity (STS AssumeRoleWithWebIdentity) before container credentials"
run "${WEBID[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with web identity credentials" 0
assert_eq "STS was asked once" 1 "$(count sts)"
assert_eq "the container endpoint was not asked" 2 "$(count container)"
printf 'not-the-token\n' >"$BD_TMP/bad_web_token"
run "${WEBID[@]}" AWS_WEB_IDENTITY_TOKEN_FILE="$BD_TMP/bad_web_token" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a token STS refuses fails (exit 1)" 1
assert_output_contains "the error carries STS's code" "AccessDenied"

# --------------------------------------------------------------------------
note "the profile before web identity; the environment before the profile; the config before the environment"
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$BD_TMP/credentials"
run "${WEBID[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with the default profile of the credentials file" 0
assert_eq "STS was not asked" 1 "$(count sts)"
printf '[default]\naws_access_key_id = WRONGKEY\naws_secret_access_key = WRONGSECRET\n' >"$BD_TMP/credentials"
add_secret WRONGSECRET
printf '[profile other]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\nregion = eu-north-1\n' >"$BD_TMP/config"
run "${WEBID[@]}" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a wrong default profile is used, not skipped (403)" 1
assert_output_contains "S3 refused its key" "InvalidAccessKeyId"
: >"$BD_TMP/requests.log"
run "${WEBID[@]}" AWS_PROFILE=other "$BACKUPD" list --repo "$REPO" --name src
assert_rc "AWS_PROFILE=other from the config file" 0
check "the profile's region signs the requests" grep -q "region=eu-north-1" "$BD_TMP/requests.log"
run "${WEBID[@]}" AWS_PROFILE=nosuch "$BACKUPD" list --repo "$REPO" --name src
assert_rc "an AWS_PROFILE that no file has is a usage error" 2
run "${NOENV[@]}" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER "$BACKUPD" list --repo "$REPO" --name src
assert_rc "the environment's keys win over a wrong profile" 0
printf 'S3RVER\n' >"$BD_TMP/sak"
chmod 600 "$BD_TMP/sak"
cat >"$BD_TMP/repo.conf" <<CONF
[repo:cfg]
url = $REPO
access-key-id = S3RVER
secret-access-key-file = $BD_TMP/sak
CONF
run "${NOENV[@]}" AWS_ACCESS_KEY_ID=WRONGKEY AWS_SECRET_ACCESS_KEY=WRONG-ENV-SECRET "$BACKUPD" -c "$BD_TMP/repo.conf" list --repo cfg --name src
assert_rc "the config's keys win over wrong ones in the environment" 0
assert_eq "no stand-in was asked by the static sources" "$IMDS_N 2 1" "$(count imds) $(count container) $(count sts)"
rm -f "$BD_TMP/credentials" "$BD_TMP/config"

# --------------------------------------------------------------------------
note "a profile's role_arn: STS AssumeRole signed with its source_profile's keys, or its credential_source's"
ROLE_SECRET="role-source-secret-$RANDOM$RANDOM"
add_secret "$ROLE_SECRET"
printf '%s\n' "$ROLE_SECRET" >"$SD/role_source_secret"
printf '[base]\naws_access_key_id = ROLESOURCE\naws_secret_access_key = %s\n' "$ROLE_SECRET" >"$BD_TMP/credentials"
printf '[profile roled]\nrole_arn = arn:aws:iam::123456789012:role/backupd\nsource_profile = base\nrole_session_name = nightly\n\n' >"$BD_TMP/config"
printf '[profile ecsrole]\nrole_arn = arn:aws:iam::123456789012:role/backupd\ncredential_source = EcsContainer\n' >>"$BD_TMP/config"
ROLE=("${NOENV[@]}" AWS_ENDPOINT_URL_STS="$MD/sts/")
: >"$BD_TMP/requests.log"
run "${ROLE[@]}" AWS_PROFILE=roled "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with a role profile (source_profile)" 0
assert_eq "STS AssumeRole was asked once, its signature checked" "1 0" "$(count sts_assume) $(count sts_assume_denied)"
check "S3 requests carry the assumed role's session token" \
	grep -q "x-amz-security-token=sessiontoken-assume-1" "$BD_TMP/requests.log"
printf '[base]\naws_access_key_id = ROLESOURCE\naws_secret_access_key = WRONG-ROLE-SECRET\n' >"$BD_TMP/credentials"
add_secret WRONG-ROLE-SECRET
run "${ROLE[@]}" AWS_PROFILE=roled "$BACKUPD" list --repo "$REPO" --name src
assert_rc "a source key STS refuses fails (exit 1)" 1
assert_output_contains "the error names STS AssumeRole and its code" "STS AssumeRole at $MD/sts/ failed: 403 SignatureDoesNotMatch"
C0="$(count container)"
run "${ROLE[@]}" AWS_PROFILE=ecsrole AWS_CONTAINER_CREDENTIALS_FULL_URI="$MD/ecs/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$BD_TMP/container_token_file" "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with a role profile (credential_source = EcsContainer)" 0
assert_eq "the container endpoint gave the source credentials, STS the role's" "$((C0 + 1)) 2" "$(count container) $(count sts_assume)"
run "${ROLE[@]}" AWS_PROFILE=ecsrole "$BACKUPD" list --repo "$REPO" --name src
assert_rc "credential_source = EcsContainer without a container endpoint is a usage error" 2
assert_output_contains "... saying what is missing" "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set"
rm -f "$BD_TMP/credentials" "$BD_TMP/config"

# --------------------------------------------------------------------------
note "the region: AWS_REGION, AWS_DEFAULT_REGION, the URL's"
KEYS=("${NOENV[@]}" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER)
: >"$BD_TMP/requests.log"
run "${KEYS[@]}" AWS_REGION=eu-west-3 AWS_DEFAULT_REGION=ap-south-1 "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list with AWS_REGION" 0
check "AWS_REGION signs the requests" grep -q "region=eu-west-3" "$BD_TMP/requests.log"
: >"$BD_TMP/requests.log"
run "${KEYS[@]}" AWS_DEFAULT_REGION=ap-south-1 "$BACKUPD" list --repo "$REPO" --name src
check "AWS_DEFAULT_REGION signs the requests" grep -q "region=ap-south-1" "$BD_TMP/requests.log"
: >"$BD_TMP/requests.log"
run "${KEYS[@]}" AWS_REGION=eu-west-3 "$BACKUPD" list --repo "$REPO&region=ca-central-1" --name src
check "the URL's region wins" grep -q "region=ca-central-1" "$BD_TMP/requests.log"
check_not "and nothing else signs" grep -q "region=eu-west-3" "$BD_TMP/requests.log"

# --------------------------------------------------------------------------
note "temporary credentials refreshed during a long multipart upload; sse and storage-class"
db_create big
check "load ~60 MB of random bytea" psql_q big \
	"CREATE EXTENSION pgcrypto; CREATE TABLE b AS SELECT g AS id, gen_random_bytes(1024) AS v FROM generate_series(1, 60000) g"
echo 4 >"$SD/lifetime" # seconds: refreshed every 2 s
before="$(count imds)"
: >"$BD_TMP/requests.log"
# the 4 parts one at a time, each held 2 s by the proxy: the upload outlasts
# the credentials whatever the machine's speed (it once ended within 2 s)
echo 2 >"$BD_TMP/requests.log.delay"
SSE_REPO="s3://bkt/sse?endpoint=http://127.0.0.1:$PORT_proxy&style=path&sse=aws:kms&sse-kms-key-id=test-kms-key&storage-class=STANDARD_IA"
run "${IMDS[@]}" "$BACKUPD" dump --source "$(pg_uri big)" --repo "$SSE_REPO&upload-concurrency=1" --name big --chunk-size 2G --jobs 1
rm -f "$BD_TMP/requests.log.delay"
assert_rc "a dump of a 60 MB table through short-lived instance credentials" 0
ID_B="$(last_line)"
check "the credentials were fetched again during the dump ($(( $(count imds) - before )) times)" \
	test "$(( $(count imds) - before ))" -ge 2
check "S3 saw more than one session token" \
	test "$(grep -o 'x-amz-security-token=sessiontoken-imds-[0-9]*' "$BD_TMP/requests.log" | sort -u | wc -l)" -ge 2
check "one multipart upload" grep -q '^POST .*?uploads' "$BD_TMP/requests.log"
check "every new object carried sse and the KMS key" python3 -c '
import sys
new = [l for l in open(sys.argv[1]) if (l.startswith("PUT ") and "partNumber=" not in l) or (l.startswith("POST ") and "?uploads" in l)]
assert new, "no object written"
bad = [l for l in new if "x-amz-server-side-encryption=aws:kms" not in l or "x-amz-server-side-encryption-aws-kms-key-id=test-kms-key" not in l]
assert not bad, bad[:3]
sc = [l for l in new if "x-amz-storage-class=STANDARD_IA" in l]
assert len(sc) == len(new) - 1, (len(sc), len(new))  # all but backupd.repo
marker = [l for l in new if "/backupd.repo" in l]
assert marker and "x-amz-storage-class" not in marker[0], marker
parts = [l for l in open(sys.argv[1]) if "partNumber=" in l]
assert parts and not [l for l in parts if "x-amz-server-side" in l], parts[:2]
' "$BD_TMP/requests.log"
echo 3600 >"$SD/lifetime"
run "${IMDS[@]}" "$BACKUPD" verify --repo "$SSE_REPO" --name big "$ID_B"
assert_rc "verify of that backup" 0

# --------------------------------------------------------------------------
note "s3rver down for a few seconds in the middle of a dump, then of a restore"
DIRECT="s3://bkt/outage?endpoint=http://127.0.0.1:$S3_PORT&style=path"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
s3_bytes() { du -sb "$BD_TMP/s3data" | cut -f1; }
dump_uploading() { [ "$(s3_bytes)" -gt $((before + 20 * 1024 * 1024)) ]; }
# (restore --create fills a temporary database name: any COPY ... FROM STDIN is it)
restore_copying() {
	[ "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY % FROM STDIN%'" 2>/dev/null || echo 0)" -gt 0 ]
}
# ride_out WHAT READY CMD...: runs CMD in the background; once READY succeeds
# (at most 30 s), s3rver goes down for 3 s; CMD must still succeed, saying it
# retried.  Its stdout is left in $BD_TMP/ride.out.
ride_out() {
	local what="$1" ready="$2" pid rc=0
	shift 2
	"$@" >"$BD_TMP/ride.out" 2>"$BD_TMP/ride.err" </dev/null &
	pid=$!
	for _ in $(seq 1 600); do
		"$ready" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	s3_stop
	sleep 3
	s3_start
	wait "$pid" || rc=$?
	cat "$BD_TMP/ride.out" "$BD_TMP/ride.err" >>"$BD_ALL_OUTPUT"
	_bd_check_sanitizers "$BD_TMP/ride.err" "$what while s3rver restarts"
	assert_eq "the $what rides out the outage (exit 0)" 0 "$rc"
	check "the $what said it was retrying" grep -q "retrying for up to 60 s" "$BD_TMP/ride.err"
}
before="$(s3_bytes)"
ride_out dump dump_uploading "$BACKUPD" dump --source "$(pg_uri big)" --repo "$DIRECT" --name big --chunk-size 2G
ID_O="$(grep -v '^[[:space:]]*$' "$BD_TMP/ride.out" | tail -n 1)"
run "$BACKUPD" verify --repo "$DIRECT" --name big "$ID_O"
assert_rc "the backup made across the outage verifies" 0
ride_out restore restore_copying "$DBRESTORE" restore --repo "$DIRECT" --name big --backup "$ID_O" \
	--to "$(pg_uri big_dst)" --create
BIG_SUM="SELECT count(*), md5(string_agg(md5(v), '' ORDER BY id)) FROM b"
assert_eq "the restored table matches" "$(psql_q big "$BIG_SUM")" "$(psql_q big_dst "$BIG_SUM" || true)"

# --------------------------------------------------------------------------
note "SIGTERM to a run while its manifest is being written (the proxy holds the PUT's answer)"
# The write may land whatever the writer does next (here it has): the run
# holds SIGTERM back from the start of its commit, so a complete backup is
# never a killed run (a daemon would record it so, a fleet run it again).
cat >"$BD_TMP/term.conf" <<CONF
[global]
state-dir = $BD_TMP/term-state

[source:s]
url = $(pg_uri src)

[repo:r]
url = s3://bkt/term?endpoint=http://127.0.0.1:$PORT_proxy&style=path

[job:t]
source = s
repo = r
name = term
CONF
echo 2 >"$BD_TMP/requests.log.hold"
"$BACKUPD" -c "$BD_TMP/term.conf" run t >"$BD_TMP/term.out" 2>"$BD_TMP/term.err" </dev/null &
TERM_PID=$!
check "the proxy holds the answer to the manifest's PUT" wait_for 60 grep -q "^HELD PUT /bkt/term/term/backups/.*/manifest.json" "$BD_TMP/requests.log"
kill -TERM "$TERM_PID" 2>/dev/null || true
rc=0
wait "$TERM_PID" || rc=$?
rm -f "$BD_TMP/requests.log.hold"
cat "$BD_TMP/term.out" "$BD_TMP/term.err" >>"$BD_ALL_OUTPUT"
_bd_check_sanitizers "$BD_TMP/term.err" "run t (SIGTERM mid-commit)"
assert_eq "the run ends ok despite the SIGTERM (exit 0)" 0 "$rc"
TERM_ID="$(tail -n 1 "$BD_TMP/term.out")"
check "its run history says ok, with the backup's ID ($TERM_ID)" python3 -c '
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert [(r["result"], r["backup_id"]) for r in runs] == [("ok", sys.argv[2])], runs' \
	"$BD_TMP/term-state/history/t.jsonl" "$TERM_ID"
run "$BACKUPD" verify --repo "s3://bkt/term?endpoint=http://127.0.0.1:$S3_PORT&style=path" --name term "$TERM_ID"
assert_rc "the backup is complete and verifies" 0

assert_no_secrets_in_output "no secret key, session token or identity token in any output"
finish
