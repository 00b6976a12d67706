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

run "$BACKUPD" -c "$BD_TMP/nonexistent.conf" check
assert_rc "check with a missing config file is a usage error" 2

finish
