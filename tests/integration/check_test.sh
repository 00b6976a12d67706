#!/usr/bin/env bash
# `backupd check`: every repository, source and the state directory of the
# config is tried, each reported on its own line, and any failure makes the
# command fail while the remaining items are still checked.
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start
db_create app

REPO="$BD_TMP/repo"
mkdir -p "$BD_TMP/state"
run "$BACKUPD" dump --source "$(pg_uri app)" --repo "$REPO" --name app --jobs 1
assert_rc "a dump creates the repository" 0

# The password comes from a 0600 file, never from the URI.
PWFILE="$BD_TMP/pg.password"
printf '%s\n' "$PG_PASSWORD" >"$PWFILE"
chmod 0600 "$PWFILE"
CLOSED_PORT="$(_bd_pick_port)"

cat >"$BD_TMP/good.conf" <<CONF
[global]
state-dir = $BD_TMP/state

[repo:local]
url = $REPO

[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE
CONF

run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/good.conf" check
assert_rc "check succeeds when everything is reachable" 0
assert_output_contains "the repository is reported" "ok     repo local"
assert_output_contains "the source is reported" "ok     source app"
assert_output_contains "the state dir is reported" "ok     state-dir"
assert_no_secrets_in_output "check output"

cat >"$BD_TMP/bad.conf" <<CONF
[global]
state-dir = $BD_TMP/no-such-state

[repo:missing]
url = $BD_TMP/no-repo-here

[repo:local]
url = $REPO

[source:down]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/app

[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE
CONF

run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/bad.conf" check
assert_rc "check fails when something is unreachable" 1
assert_output_contains "a missing repository is named" "FAILED repo missing"
assert_output_contains "an unreachable source is named" "FAILED source down"
assert_output_contains "an unwritable state dir is named" "FAILED state-dir"
assert_output_contains "good items are still checked after a failure" "ok     source app"
assert_output_contains "the good repository is still checked" "ok     repo local"

# --------------------------------------------------------------------------
note "errors about URLs with credentials never show the password"
LEAK_PG="Sekr3tPW$RANDOM"
LEAK_S3="Sekr3tS3$RANDOM"
LEAK_MY="Sekr3tMY$RANDOM"
add_secret "$LEAK_PG"
add_secret "$LEAK_S3"
add_secret "$LEAK_MY"
cat >"$BD_TMP/leaky.conf" <<CONF
[repo:s3creds]
url = s3://AKID:$LEAK_S3@bucket/x

[source:pctpw]
url = postgresql://postgres:$LEAK_PG%zz@127.0.0.1:$PG_PORT/app

[source:noat]
url = postgresql://postgres:$LEAK_PG/app

[source:mynoat]
url = mysql://root:$LEAK_MY/app
CONF
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/leaky.conf" check
assert_rc "check fails on the bad URLs" 1
assert_output_contains "the S3 URL with credentials is refused" "FAILED repo s3creds: invalid repository url: an s3:// URL carries no credentials"
assert_output_contains "the bad percent-escape is named" "FAILED source pctpw: invalid PostgreSQL connection string: invalid percent-encoded token"
assert_output_contains "a password taken for a port is refused" "FAILED source noat"
assert_output_contains "a mysql password taken for a port is refused" "FAILED source mynoat: mysql URI has a bad port"
assert_no_secrets_in_output "no URL password in the check output"
# On the command line (the harness logs argv, so these are checked by hand):
# WHAT|SECRET|SOURCE|REPO, each a usage error that must not echo SECRET.
while IFS='|' read -r what secret source repo; do
	run env -u PGPASSFILE "$BACKUPD" dump --source "$source" --repo "$repo"
	assert_rc "dump with $what is a usage error" 2
	check_not "dump with $what does not print the secret" grep -q "$secret" "$RUN_OUT" "$RUN_ERR"
done <<CASES
a bad percent-escape in the password|$LEAK_PG|postgresql://postgres:$LEAK_PG%zz@127.0.0.1:$PG_PORT/app|$REPO
an S3 URL with credentials|$LEAK_S3|$(pg_uri app)|s3://AKID:$LEAK_S3@bucket/x
a source neither URI nor name|$LEAK_PG|postgres:$LEAK_PG@127.0.0.1/app|$REPO
a repository neither URL nor name|$LEAK_S3|$(pg_uri app)|AKID:$LEAK_S3@bucket
CASES

# --------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	note "a secret file owned by another user is refused (even by root)"
	OTHER_PW="$BD_TMP/other.password"
	cp "$PWFILE" "$OTHER_PW"
	chmod 0600 "$OTHER_PW"
	chown 65534:65534 "$OTHER_PW"
	sed "s|$PWFILE|$OTHER_PW|" "$BD_TMP/good.conf" >"$BD_TMP/other.conf"
	run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/other.conf" check
	assert_rc "check fails with a secret file of another owner" 1
	assert_output_contains "the owner is named" "secret file '$OTHER_PW' is owned by uid 65534, not by the user backupd runs as (uid 0)"
else
	note "not root: the other-owner secret file case is covered by the unit test"
fi

# --------------------------------------------------------------------------
note "http-listen beyond loopback: a warning, not a failure"
for addr in "0.0.0.0:9187" "[::]:9187" "192.0.2.10:9187"; do
	{ printf '[global]\nhttp-listen = %s\n\n' "$addr"; sed 1d "$BD_TMP/good.conf"; } >"$BD_TMP/listen.conf"
	run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/listen.conf" check
	assert_rc "check still succeeds with http-listen $addr" 0
	assert_output_contains "http-listen $addr is warned about" "WARNING http-listen $addr is not a loopback address"
done
{ printf '[global]\nhttp-listen = 127.0.0.1:9187\n\n'; sed 1d "$BD_TMP/good.conf"; } >"$BD_TMP/listen.conf"
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/listen.conf" check
assert_rc "check succeeds with a loopback http-listen" 0
check_not "a loopback http-listen is not warned about" grep -q "WARNING" "$RUN_OUT"

run "$BACKUPD" -c "$BD_TMP/nonexistent.conf" check
assert_rc "check with a missing config file is a usage error" 2

finish
