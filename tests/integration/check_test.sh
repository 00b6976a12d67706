#!/usr/bin/env bash
# `backupd check`: the config is validated as the daemon does (every error at
# once, exit 2), then every repository, source and the state directory of the
# config is tried, each reported on its own line, and any failure makes the
# command fail while the remaining items are still checked.  Source roles are
# checked for what a dump (and a base backup) needs; --wal proves archiving
# works end to end; --json is parseable.  Also: every command's --help.
source "$(dirname "$0")/lib.sh"

require_binaries

# The server archives into WALREPO under the name "app" (the source's name),
# so that check --wal has a real archive_command to prove.
WALREPO="$BD_TMP/walrepo"
PG_SERVER_CONF="archive_mode = on
archive_command = '$BACKUPD wal-push --repo $WALREPO --name app %p'"
export PG_SERVER_CONF
pg_start
unset PG_SERVER_CONF
db_create app
# The server runs as bdtest when we are root: the archive must be its own.
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$WALREPO" && chown bdtest: "$WALREPO"
fi

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
assert_output_contains "a source without wal_level = logical is noted, not failed (migrate --follow)" \
	"note   follow app: cannot be followed by migrate --follow: wal_level is 'replica'"
assert_output_contains "the state dir is reported" "ok     state-dir"
assert_no_secrets_in_output "check output"

cat >"$BD_TMP/bad.conf" <<CONF
[global]
state-dir = $BD_TMP/not-a-dir/state

[repo:missing]
url = $BD_TMP/not-a-dir/repo

[repo:local]
url = $REPO

[source:down]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/app

[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE
CONF

touch "$BD_TMP/not-a-dir"
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/bad.conf" check
# (a repository under a file is what run exits 2 for: check exits 2 too;
# an unreachable source alone exits 1, below)
assert_rc "check fails when something is unreachable or misplaced" 2
assert_output_contains "a repository that cannot be created is named" "FAILED repo missing"
assert_output_contains "an unreachable source is named" "FAILED source down"
assert_output_contains "a state dir that cannot be created is named" "FAILED state-dir"
assert_output_contains "it says why" "'$BD_TMP/not-a-dir' above it is a file"

assert_output_contains "good items are still checked after a failure" "ok     source app"
assert_output_contains "the good repository is still checked" "ok     repo local"

# a state-dir that does not exist yet is made by the first run or the daemon
printf '[global]\nstate-dir = %s\n' "$BD_TMP/new-state/sub" >"$BD_TMP/newstate.conf"
run "$BACKUPD" -c "$BD_TMP/newstate.conf" check
assert_rc "check accepts a state-dir the first run will create" 0
assert_output_contains "it says it is new" "ok     state-dir (new: created by the first run or the daemon)"
check "check created nothing" test ! -e "$BD_TMP/new-state"
printf '[global]\nstate-dir = %s\n' "$BD_TMP/not-a-dir" >"$BD_TMP/filestate.conf"
run "$BACKUPD" -c "$BD_TMP/filestate.conf" check
assert_rc "a state-dir that is a file fails the check: exit 2, as for a repository" 2
assert_output_contains "it says so" "state-dir '$BD_TMP/not-a-dir' is not a directory"
# under a file: the operator's setup to fix, exit 2 wherever it is opened
cat >"$BD_TMP/understate.conf" <<CONF
[global]
state-dir = $BD_TMP/not-a-dir/sub/state
[repo:local]
url = $REPO
[source:down]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/app
[job:j]
source = down
repo = local
CONF
for c in check "run j" status daemon; do
	# shellcheck disable=SC2086
	run "$BACKUPD" -c "$BD_TMP/understate.conf" $c
	assert_rc "$c with a state-dir under a file exits 2" 2
	assert_output_contains "$c names the path and the file in the way" \
		"state-dir '$BD_TMP/not-a-dir/sub/state' cannot be a directory: '$BD_TMP/not-a-dir' above it is a file"
done
# wal-push too (it used to push synchronously without a word): exit 2 with one
# line, before the segment (here a missing one, exit 1 if it were reached) or
# the repository is looked at; the archiver logs the line and retries
WP_SEG="$BD_TMP/wp-wal/000000010000000000000001"
WP_REPO="$BD_TMP/wp-repo"
mkdir -p "$BD_TMP/wp-state" && printf 'x' >"$BD_TMP/wp-state/spool"
printf '[global]\nstate-dir = %s\n' "$BD_TMP/wp-state" >"$BD_TMP/wp-spoolfile.conf"
while IFS='|' read -r what conf opts msg; do
	# shellcheck disable=SC2086 # options
	run "$BACKUPD" -c "$BD_TMP/$conf" wal-push --repo "$WP_REPO" --name app $opts "$WP_SEG"
	assert_rc "wal-push with $what exits 2" 2
	assert_output_contains "wal-push with $what names the path and the file in the way" "$msg"
	assert_eq "wal-push with $what says it in one line" "1 0" \
		"$(grep -c . "$RUN_ERR") $(grep -c . "$RUN_OUT")"
	check_not "wal-push with $what creates no repository" test -e "$WP_REPO"
done <<CASES
a state-dir under a file|understate.conf||state-dir '$BD_TMP/not-a-dir/sub/state' cannot be a directory: '$BD_TMP/not-a-dir' above it is a file
a state-dir under a file and no spool (the metrics figures)|understate.conf|--async-max 0|state-dir '$BD_TMP/not-a-dir/sub/state' cannot be a directory: '$BD_TMP/not-a-dir' above it is a file
a state-dir that is a file|filestate.conf||state-dir '$BD_TMP/not-a-dir' is not a directory
the default spool under a file|wp-spoolfile.conf||spool dir '$BD_TMP/wp-state/spool/wal-push/app' cannot be a directory: '$BD_TMP/wp-state/spool' above it is a file
a --spool-dir under a file|default.conf|--spool-dir $BD_TMP/not-a-dir/spool|--spool-dir '$BD_TMP/not-a-dir/spool' cannot be a directory: '$BD_TMP/not-a-dir' above it is a file
a --spool-dir that is a file|default.conf|--spool-dir $BD_TMP/not-a-dir|--spool-dir '$BD_TMP/not-a-dir' is not a directory
CASES
# an unused spool is not looked at: --async-max 0 pushes without one
run "$BACKUPD" wal-push --repo "$WP_REPO" --name app --async-max 0 --spool-dir "$BD_TMP/not-a-dir/spool" "$WP_SEG"
assert_rc "wal-push --async-max 0 ignores its --spool-dir (here: fails on the missing segment, exit 1)" 1

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
assert_rc "check fails on the bad URLs: exit 2, as dump does for each" 2
assert_output_contains "the S3 URL with credentials is refused" "FAILED repo s3creds: invalid repository url: an s3:// URL carries no credentials"
assert_output_contains "the bad percent-escape is named" "FAILED source pctpw: $BD_TMP/leaky.conf:5: key 'url': invalid PostgreSQL connection string: invalid percent-encoded token"
assert_output_contains "a password taken for a port is refused" "FAILED source noat"
assert_output_contains "a mysql password taken for a port is refused, named by its line and key" \
	"FAILED source mynoat: $BD_TMP/leaky.conf:11: key 'url': mysql URI has a bad port"
assert_no_secrets_in_output "no URL password in the check output"
printf '[source:myport]\nurl = mysql://u@127.0.0.1:99999/d\n' >"$BD_TMP/badport.conf"
run "$BACKUPD" -c "$BD_TMP/badport.conf" check
assert_rc "a bad port in a MySQL [source:] url: check exits 2" 2
assert_output_contains "it is named by FILE:LINE and key" \
	"FAILED source myport: $BD_TMP/badport.conf:2: key 'url': mysql URI has a bad port"
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
a password taken for a PostgreSQL port|$LEAK_PG|postgresql://postgres:$LEAK_PG/app|$REPO
CASES
run "$BACKUPD" dump --source "postgresql://postgres@127.0.0.1:99999/app" --repo "$BD_TMP/port-repo"
assert_rc "a PostgreSQL URI with a port out of range is a usage error, as a MySQL one is" 2
assert_output_contains "it says what is wrong" "invalid PostgreSQL connection string: the port must be a number from 1 to 65535"

# --------------------------------------------------------------------------
note "check exits 2 where run does: an item's config or usage error"
OPEN_PW="$BD_TMP/open.password"
printf '%s\n' "$PG_PASSWORD" >"$OPEN_PW"
chmod 0644 "$OPEN_PW"
cat >"$BD_TMP/usage.conf" <<CONF
[global]
state-dir = $BD_TMP/state

[repo:local]
url = $REPO

[source:badport]
url = postgresql://postgres@127.0.0.1:99999/app

[source:badmode]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $OPEN_PW

[job:badport]
source = badport
repo = local

[job:badmode]
source = badmode
repo = local
CONF
for job in badport badmode; do
	run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/usage.conf" run "$job"
	assert_rc "run $job exits 2" 2
done
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/usage.conf" check
assert_rc "check of the same config exits 2 too" 2
assert_output_contains "the bad port is named by FILE:LINE and key, as a config error" "FAILED source badport: $BD_TMP/usage.conf:8: key 'url': invalid PostgreSQL connection string: the port must be a number from 1 to 65535"
assert_output_contains "the open password file is named" "FAILED source badmode: $BD_TMP/usage.conf:12: key 'password-file': secret file '$OPEN_PW' must not be accessible by group or others"
assert_output_contains "the last line says why it exits 2" "check: 2 items failed on a config or usage error"
# a server that is down is not the operator's config: with it alone, exit 1
printf '[source:down]\nurl = postgresql://postgres@127.0.0.1:%s/app\n' "$CLOSED_PORT" >"$BD_TMP/down.conf"
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/down.conf" check
assert_rc "check of an unreachable source alone still exits 1" 1
printf '[source:down]\nurl = postgresql://postgres@127.0.0.1:%s/app\n' "$CLOSED_PORT" >>"$BD_TMP/usage.conf"
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/usage.conf" check
assert_rc "with an unreachable source besides, the usage errors win: exit 2" 2
assert_output_contains "the unreachable source is still named" "FAILED source down"

# --------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	note "a secret file owned by another user is refused (even by root)"
	OTHER_PW="$BD_TMP/other.password"
	cp "$PWFILE" "$OTHER_PW"
	chmod 0600 "$OTHER_PW"
	chown 65534:65534 "$OTHER_PW"
	sed "s|$PWFILE|$OTHER_PW|" "$BD_TMP/good.conf" >"$BD_TMP/other.conf"
	run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/other.conf" check
	assert_rc "check fails with a secret file of another owner: exit 2, as run does" 2
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

# ---------------------------------------------------------------------------
note "every config error at once, with its line and key"
cat >"$BD_TMP/errors.conf" <<CONF
[global]
state-dir = $BD_TMP/state

[repo:local]
url = $REPO

[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE

[job:nightly]
source = app
repo = local
schedule = every night
retention = keep-forever=1
timeout = 5 minutes
CONF
line_of() { grep -n "^$1 =" "$BD_TMP/errors.conf" | cut -d: -f1; }
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/errors.conf" check
assert_rc "a config with errors exits 2" 2
assert_output_contains "the schedule error has its line and key" \
	"errors.conf:$(line_of schedule): key 'schedule'"
assert_output_contains "the retention error has its line and key" \
	"errors.conf:$(line_of retention): key 'retention'"
assert_output_contains "the timeout error has its line and key" \
	"errors.conf:$(line_of timeout): key 'timeout'"
assert_output_contains "the items are still checked" "ok     source app"
run "$BACKUPD" -c "$BD_TMP/errors.conf" daemon
assert_rc "daemon refuses the same config" 2

# A disabled job is config the operator enables later: checked the same
cat >"$BD_TMP/disabled.conf" <<CONF
[global]
state-dir = $BD_TMP/state
[repo:local]
url = $REPO
[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE
[job:later]
source = app
repo = local
enabled = no
schedule = every night
retention = keep-forever=1
timeout = 5 minutes
[job:paused]
source = app
repo = local
enabled = no
schedule = 0 3 * * *
CONF
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/disabled.conf" check
assert_rc "a disabled job with a bad schedule is a config error: exit 2" 2
assert_output_contains "its schedule is named" "disabled.conf:12: key 'schedule'"
assert_output_contains "and its other keys" "disabled.conf:13: key 'retention'"
assert_output_contains "all of them" "disabled.conf:14: key 'timeout'"
check_not "a disabled job with a good schedule is not an error" grep -q "disabled.conf:19: key 'schedule'" "$RUN_OUT"
run "$BACKUPD" -c "$BD_TMP/disabled.conf" daemon
assert_rc "the daemon refuses it too" 2

cat >"$BD_TMP/errors2.conf" <<CONF
[global]
state-dir = $BD_TMP/state
http-listen = 127.0.0.1:99999
no-such-key = 1

[source:app]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/app
CONF
run "$BACKUPD" -c "$BD_TMP/errors2.conf" check
assert_rc "config errors win over unreachable items: exit 2" 2
assert_output_contains "http-listen is validated as the daemon does" "errors2.conf:3: key 'http-listen'"
assert_output_contains "an unknown key is reported with the others" "errors2.conf:4: key 'no-such-key'"
assert_output_contains "the unreachable source is still reported" "FAILED source app"

# What a run would refuse for the job's kind and its source's engine is a
# config error too (it used to pass check and fail at every firing).
cat >"$BD_TMP/errors3.conf" <<CONF
[global]
state-dir = $BD_TMP/state
time-zone = Mars/Olympus
daemon-id = d1
[repo:local]
url = $REPO
[source:pg]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/app
[source:my]
url = mysql://root@127.0.0.1:$CLOSED_PORT/app
[job:my-text]
source = my
repo = local
copy-format = text
[job:pg-nolock]
source = pg
repo = local
consistency = no-lock
[job:my-base]
source = my
repo = local
kind = basebackup
[job:base-filtered]
source = pg
repo = local
kind = basebackup
include-table = public.t
[job:dump-incr]
source = pg
repo = local
incremental = 1
[repo:unused]
url = $BD_TMP/unused
compress = zstd:99
[job:badname]
source = pg
repo = local
name = ../x
[job:my-auto]
source = my
repo = local
copy-format = auto
[job:pg-lock]
source = pg
repo = local
consistency = lock
[job:my-rolepw]
source = my
repo = local
role-passwords = no
[job:dump-incr0]
source = pg
repo = local
incremental = 0
CONF
run "$BACKUPD" -c "$BD_TMP/errors3.conf" check
assert_rc "options the job's engine or kind refuses are config errors: exit 2" 2
assert_output_contains "copy-format on a MySQL source" "errors3.conf:14: key 'copy-format': option '--copy-format' applies to PostgreSQL sources only"
assert_output_contains "consistency on a PostgreSQL source" "errors3.conf:18: key 'consistency'"
assert_output_contains "a base backup of a MySQL source" "errors3.conf:22: key 'kind': base backups are for PostgreSQL"
assert_output_contains "a dump key on a base backup job" "errors3.conf:27: key 'include-table': applies to dump jobs only"
assert_output_contains "an unknown time zone, named as itself even without a schedule" "errors3.conf:3: key 'time-zone': time zone 'Mars/Olympus' is unknown"
assert_output_contains "incremental on a dump job" "errors3.conf:31: key 'incremental': is for kind = basebackup"
assert_output_contains "a [repo:]'s compress, even unused by the jobs" "errors3.conf:34: key 'compress': invalid compression 'zstd:99'"
assert_output_contains "daemon-id without a catalog" "errors3.conf:4: key 'daemon-id': needs [global] catalog ="
assert_output_contains "a name unusable in the repository" "errors3.conf:38: key 'name': invalid name '../x'"
# given at all, not only when the value differs from the default
assert_output_contains "copy-format = auto (the default) on a MySQL source" "errors3.conf:42: key 'copy-format': option '--copy-format' applies to PostgreSQL sources only"
assert_output_contains "consistency = lock (the default) on a PostgreSQL source" "errors3.conf:46: key 'consistency'"
assert_output_contains "role-passwords = no on a MySQL source" "errors3.conf:50: key 'role-passwords': --role-passwords applies to PostgreSQL sources only"
assert_output_contains "incremental = 0 on a dump job" "errors3.conf:54: key 'incremental': is for kind = basebackup"
run "$BACKUPD" -c "$BD_TMP/errors3.conf" daemon
assert_rc "and the daemon refuses to start with them" 2

# A tag list with an empty item is a typo, not a list (",," read as no tags)
cat >"$BD_TMP/tags.conf" <<CONF
[global]
tags = eu,,fast
[repo:local]
url = $REPO
[source:pg]
url = postgresql://postgres@127.0.0.1:$CLOSED_PORT/app
[job:j]
source = pg
repo = local
run-on = eu,
CONF
run "$BACKUPD" -c "$BD_TMP/tags.conf" check
assert_rc "empty tags in a list are config errors: exit 2" 2
assert_output_contains "in [global] tags" "tags.conf:2: key 'tags': an empty tag in the list"
assert_output_contains "in a job's run-on" "tags.conf:10: key 'run-on': an empty tag in the list"
# tags match the fleet's run-on: without a catalog they would do nothing
assert_output_contains "tags without a catalog" "tags.conf:2: key 'tags': needs [global] catalog ="
printf '[global]\nstate-dir = %s\ntags = eu\n' "$BD_TMP/state" >"$BD_TMP/tags-nocat.conf"
run "$BACKUPD" -c "$BD_TMP/tags-nocat.conf" check
assert_rc "tags = without a catalog is a config error: exit 2" 2
assert_output_contains "check lists it" "FAILED config: $BD_TMP/tags-nocat.conf:3: key 'tags': needs [global] catalog ="
run "$BACKUPD" -c "$BD_TMP/tags-nocat.conf" daemon
assert_rc "and the daemon refuses to start with it: exit 2" 2
printf '[global]\nstate-dir = %s\n' "$BD_TMP/state" >"$BD_TMP/nocat.conf"
run "$BACKUPD" -c "$BD_TMP/nocat.conf" daemon --tags eu
assert_rc "daemon --tags without a fleet catalog (it would match nothing) exits 2" 2
assert_output_contains "it names the option and says what it needs" "--tags are this daemon's tags for a fleet catalog's run-on: it needs [global] catalog ="
# the daemon stops at the bad option, before any connection to the catalog
printf '[global]\nstate-dir = %s\ntags = eu\ncatalog = postgresql://postgres@127.0.0.1:%s/postgres\n' \
	"$BD_TMP/state" "$CLOSED_PORT" >"$BD_TMP/tags-ok.conf"
for t in ",," "eu," ",eu" "eu, ,fast"; do
	run "$BACKUPD" -c "$BD_TMP/tags-ok.conf" daemon --tags "$t"
	assert_rc "daemon --tags '$t' exits 2" 2
	assert_output_contains "it is named as the option" "option '--tags': an empty tag in the list"
done

# A [repo:]'s compress = is the default of backupd dump / basebackup too
# (it was silently ignored: the dump stored zstd:1).
cat >"$BD_TMP/compress.conf" <<CONF
[repo:plain]
url = $BD_TMP/plain-repo
compress = none
CONF
run "$BACKUPD" -c "$BD_TMP/compress.conf" dump --source "$(pg_uri app)" --repo plain --name app --jobs 1
assert_rc "dump into a [repo:] with compress = none" 0
assert_eq "the backup is stored with the repository's compression" "none" \
	"$(python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1] + "/app/backups/*/manifest.json")[0]))["info"]["options"]["compress"])' "$BD_TMP/plain-repo")"

# ---------------------------------------------------------------------------
note "a repository not created yet is ok when it can be created"
cat >"$BD_TMP/new.conf" <<CONF
[repo:fresh]
url = $BD_TMP/fresh/deeper/repo
CONF
run "$BACKUPD" -c "$BD_TMP/new.conf" check
assert_rc "a new, writable repository location passes" 0
assert_output_contains "it is reported as new" "ok     repo fresh (new: created by the first backup)"
check_not "check creates nothing" test -e "$BD_TMP/fresh"

# ---------------------------------------------------------------------------
note "a PostgreSQL role that cannot dump, and one without REPLICATION"
READER_PW="reader-$RANDOM-$RANDOM"
add_secret "$READER_PW"
psql_q app "CREATE ROLE reader LOGIN PASSWORD '$READER_PW'" >/dev/null
psql_q app "CREATE TABLE open_t (a int); CREATE TABLE secret_t (a int); GRANT SELECT ON open_t TO reader" >/dev/null
READER_PWFILE="$BD_TMP/reader.password"
(umask 077 && printf '%s\n' "$READER_PW" >"$READER_PWFILE")
cat >"$BD_TMP/roles.conf" <<CONF
[repo:local]
url = $REPO

[source:noread]
url = postgresql://reader@127.0.0.1:$PG_PORT/app
password-file = $READER_PWFILE

[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE

[job:bb-noread]
source = noread
repo = local
kind = basebackup

[job:bb-app]
source = app
repo = local
kind = basebackup
CONF
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/roles.conf" check
assert_rc "a role that cannot dump fails the check" 1
assert_output_contains "the unreadable table is named" "FAILED source noread: role 'reader' cannot dump database 'app': it cannot read 1 table (public.secret_t)"
assert_output_contains "the missing REPLICATION is named for a basebackup job" "FAILED replication noread: the role has no REPLICATION attribute"
assert_output_contains "a superuser can dump" "ok     source app (can dump: superuser)"
assert_output_contains "a replication connection is tried" "ok     replication app"
psql_q app "GRANT SELECT ON secret_t TO reader" >/dev/null
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/roles.conf" check
assert_output_contains "once granted, the role can dump" "ok     source noread (can dump: reads every table of 'app')"

# ---------------------------------------------------------------------------
note "MariaDB: an account without privileges"
mariadb_start
my_db_create shop
NOPRIV_PW="nopriv-$RANDOM-$RANDOM"
add_secret "$NOPRIV_PW"
my_sql "" "CREATE USER 'nopriv'@'127.0.0.1' IDENTIFIED BY '$NOPRIV_PW'"
NOPRIV_PWFILE="$BD_TMP/nopriv.password"
(umask 077 && printf '%s\n' "$NOPRIV_PW" >"$NOPRIV_PWFILE")
cat >"$BD_TMP/my.conf" <<CONF
[source:nopriv]
url = mysql://nopriv@127.0.0.1:$MY_PORT/shop
password-file = $NOPRIV_PWFILE

[source:root]
url = $(my_uri shop)
password-file = $MY_PASSWORD_FILE
CONF
run "$BACKUPD" -c "$BD_TMP/my.conf" check
assert_rc "an account without privileges fails the check" 1
assert_output_contains "the missing privileges are named" "FAILED source nopriv: the account cannot dump: it lacks SELECT"
assert_output_contains "RELOAD is named" "RELOAD (to FLUSH TABLES WITH READ LOCK"
assert_output_contains "root can dump" "ok     source root (can dump"
my_sql "" "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON shop.* TO 'nopriv'@'127.0.0.1'"
run "$BACKUPD" -c "$BD_TMP/my.conf" check
assert_output_contains "database grants are seen; only RELOAD is missing" "FAILED source nopriv: the account cannot dump: it lacks RELOAD"
# (the whole log holds argv secrets on purpose above: look at these runs only)
check_not "the account's password is not printed" grep -q -F "$NOPRIV_PW" "$RUN_OUT" "$RUN_ERR"
run env -u MYSQL_PWD "$BACKUPD" dump --source "mysql://nopriv@127.0.0.1:$MY_PORT/shop" --repo "$BD_TMP/my-first-repo"
assert_rc "MySQL: a first dump with a wrong password exits 1" 1
assert_output_contains "the connection is what failed" "cannot connect to MySQL server 127.0.0.1:$MY_PORT as 'nopriv'"
check_not "and it leaves no repository behind" test -e "$BD_TMP/my-first-repo"

# ---------------------------------------------------------------------------
note "check --wal: a forced WAL switch reaches the repository"
cat >"$BD_TMP/wal.conf" <<CONF
[repo:wal]
url = $WALREPO

[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $PWFILE

[job:bb]
source = app
repo = wal
kind = basebackup
CONF
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/wal.conf" check --wal --wal-timeout 60
assert_rc "check --wal succeeds with a working archive_command" 0
assert_output_matches "the switched segment is named" "ok     wal bb \(segment [0-9A-F]{24} archived\)"

psql_q postgres "ALTER SYSTEM SET archive_command = 'false'" >/dev/null
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/wal.conf" check --wal --wal-timeout 3
assert_rc "check --wal fails when archiving is broken" 1
assert_output_contains "the failure says what did not arrive" "FAILED wal bb: WAL segment"
assert_output_contains "and what to look at" "did not reach repository 'wal' within 3 s"
psql_q postgres "ALTER SYSTEM RESET archive_command" >/dev/null
psql_q postgres "SELECT pg_reload_conf()" >/dev/null

# ---------------------------------------------------------------------------
note "wal-push as archive_command with its spool under a file: exit 2, the segment retried"
# The operator's setup error fails every call with one line in the server log
# and an exit code PostgreSQL retries (not above 125, which would restart the
# archiver); the segment stays .ready and is archived once the file is gone.
printf 'x' >"$BD_TMP/spool-in-the-way"
chown "$OWNER:" "$BD_TMP/spool-in-the-way"
psql_q postgres "ALTER SYSTEM SET archive_command = '$BACKUPD wal-push --repo $WALREPO --name app --spool-dir $BD_TMP/spool-in-the-way/wp %p'" >/dev/null
psql_q postgres "SELECT pg_reload_conf()" >/dev/null
sleep 1 # the archiver reads the new command before the segment below is ready
archiver() { psql_q postgres "SELECT $1 FROM pg_stat_archiver"; }
wal_in_repo() { find "$WALREPO/app/wal" -name "$1-*" -print -quit 2>/dev/null | grep -q .; }
WP_FAILED="$(archiver failed_count)"
psql_q postgres "CREATE TABLE wp_spool_t (i int); INSERT INTO wp_spool_t VALUES (1)" >/dev/null
WP_SEG="$(psql_q postgres "SELECT pg_walfile_name(pg_switch_wal())")"
check "the archiver's calls fail" wait_for 60 at_least $((WP_FAILED + 1)) archiver failed_count
check "with exit code 2, which the server logs as a failure to retry" \
	grep -q "archive command failed with exit code 2" "$PG_DIR/log/postgresql.log"
check "wal-push's line names the spool and the file in the way" grep -q -F -e \
	"--spool-dir '$BD_TMP/spool-in-the-way/wp' cannot be a directory: '$BD_TMP/spool-in-the-way' above it is a file" \
	"$PG_DIR/log/postgresql.log"
check_not "the segment $WP_SEG is not archived" wal_in_repo "$WP_SEG"
check "it stays ready for the next try" test -e "$PG_DIR/data/pg_wal/archive_status/$WP_SEG.ready"
# the operator fixes the setup; the next segment wakes the archiver, which retries the oldest first
rm -f "$BD_TMP/spool-in-the-way"
own_dir "$BD_TMP/spool-in-the-way"
psql_q postgres "INSERT INTO wp_spool_t VALUES (2)" >/dev/null
psql_q postgres "SELECT pg_switch_wal()" >/dev/null
check "once the file is gone the retried segment $WP_SEG is archived" wait_for 90 wal_in_repo "$WP_SEG"
psql_q postgres "ALTER SYSTEM RESET archive_command" >/dev/null
psql_q postgres "SELECT pg_reload_conf()" >/dev/null

# ---------------------------------------------------------------------------
note "check --json"
run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/roles.conf" --json check
assert_rc "check --json still exits 1 on a failed item" 1
assert_eq "the output is a JSON array of items" "ok" \
	"$(json_eval "$RUN_OUT" "'ok' if isinstance(d, list) and all({'item','name','status','message'} <= set(x) for x in d) else 'bad'")"
assert_eq "the failed replication item is in it" 1 \
	"$(json_eval "$RUN_OUT" "len([x for x in d if x['item'] == 'replication' and x['status'] == 'failed'])")"
run "$BACKUPD" -c "$BD_TMP/errors.conf" check --json
assert_rc "check --json with config errors exits 2" 2
assert_eq "three config errors in the array" 3 \
	"$(json_eval "$RUN_OUT" "len([x for x in d if x['item'] == 'config' and x['status'] == 'failed'])")"

# ---------------------------------------------------------------------------
note "per-command help, unknown options, extra arguments"
for cmd in dump basebackup list verify expire run daemon status check wal-push; do
	run "$BACKUPD" "$cmd" --help
	assert_rc "backupd $cmd --help exits 0" 0
	assert_output_contains "backupd $cmd --help prints its synopsis" "usage: backupd $cmd"
	run "$BACKUPD" help "$cmd"
	assert_rc "backupd help $cmd exits 0" 0
done
for cmd in restore pitr wal-get; do
	run "$DBRESTORE" "$cmd" --help
	assert_rc "dbrestore $cmd --help exits 0" 0
	assert_output_contains "dbrestore $cmd --help prints its synopsis" "usage: dbrestore $cmd"
done
run "$BACKUPD" dump --help
assert_output_contains "dump's options are listed with their help" "--jobs N"
assert_output_contains "and their defaults and bounds" "(default 2, 1..64)"
run "$BACKUPD" check --help
assert_output_contains "check lists --wal" "--wal-timeout SECONDS"
run "$DBRESTORE" restore --help
assert_output_contains "restore lists --no-binlog" "--no-binlog"
run "$BACKUPD" help
assert_rc "backupd help lists the commands" 0
assert_output_contains "with a summary each" "wal-push"
run "$BACKUPD" dump --bogus
assert_rc "an unknown option exits 2" 2
assert_output_contains "it is named with the command" "backupd: dump: unknown option '--bogus'"
run "$BACKUPD" list --repo "$REPO" junk
assert_rc "an extra argument exits 2" 2
assert_output_contains "it is named" "backupd: list: unexpected argument 'junk'"
run "$BACKUPD" dump --repo "$REPO"
assert_rc "a missing required option exits 2" 2
assert_output_contains "it is named" "option '--source' is required"
run "$BACKUPD" dump --source "$(pg_uri app)" --repo "$BD_TMP/dup-repo" --jobs 4 --jobs 1
assert_rc "an option given twice with different values exits 2" 2
assert_output_contains "it is named" "option '--jobs' is given twice with different values"
check_not "and nothing is created" test -e "$BD_TMP/dup-repo"
# an option of the other engine is refused with its default value too
for opt in "--copy-format auto" "--copy-format text"; do
	# shellcheck disable=SC2086 # option and value
	run "$BACKUPD" dump --source "mysql://root@127.0.0.1:$CLOSED_PORT/app" --repo "$BD_TMP/moot-repo" $opt
	assert_rc "dump $opt of a MySQL source exits 2" 2
	assert_output_contains "it is named" "option '--copy-format' applies to PostgreSQL sources only"
	# shellcheck disable=SC2086
	run "$DBRESTORE" migrate --from "mysql://root@127.0.0.1:$CLOSED_PORT/app" --to "mysql://root@127.0.0.1:$CLOSED_PORT/app2" $opt
	assert_rc "migrate $opt from a MySQL source exits 2" 2
	assert_output_contains "it is named" "option '--copy-format' applies to PostgreSQL sources only"
done
run "$BACKUPD" dump --source "$(pg_uri app)" --repo "$BD_TMP/moot-repo" --consistency lock
assert_rc "dump --consistency lock (the default) of a PostgreSQL source exits 2" 2
assert_output_contains "it is named" "option '--consistency' only applies to MySQL/MariaDB sources"
check_not "and nothing is created" test -e "$BD_TMP/moot-repo"
# the source is reached before the repository is created: a failed first run leaves none
run env -u PGPASSFILE PGPASSWORD=not-the-password "$BACKUPD" dump --source "$(pg_uri app)" --repo "$BD_TMP/first-repo"
assert_rc "a first dump with a wrong password exits 1" 1
assert_output_contains "the connection is what failed" "cannot connect to PostgreSQL database 'app'"
assert_output_contains "because of the password" "password authentication failed"
check_not "and it leaves no repository behind" test -e "$BD_TMP/first-repo"
run "$BACKUPD" dump --source "postgresql://postgres@127.0.0.1:$CLOSED_PORT/app" --repo "$BD_TMP/first-repo"
assert_rc "a first dump of a server that is down exits 1" 1
check_not "and it leaves no repository behind" test -e "$BD_TMP/first-repo"
run env -u PGPASSFILE PGPASSWORD=not-the-password "$BACKUPD" basebackup --source "$(pg_uri app)" --repo "$BD_TMP/first-repo"
assert_rc "a first base backup with a wrong password exits 1" 1
check_not "and it leaves no repository behind" test -e "$BD_TMP/first-repo"
cat >"$BD_TMP/first.conf" <<CONF
[global]
state-dir = $BD_TMP/state
[repo:first]
url = $BD_TMP/first-repo
[source:wrong]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $BD_TMP/wrong-pg.password
[job:first-dump]
source = wrong
repo = first
[job:first-base]
source = wrong
repo = first
kind = basebackup
CONF
(umask 077 && printf 'not-the-password\n' >"$BD_TMP/wrong-pg.password")
for job in first-dump first-base; do
	run env -u PGPASSFILE "$BACKUPD" -c "$BD_TMP/first.conf" run "$job"
	assert_rc "run $job with a wrong password exits 1" 1
	check_not "and it leaves no repository behind" test -e "$BD_TMP/first-repo"
done
mkdir -p "$BD_TMP/pg_wal"
for f in 000000010000000000000001 000000010000000000000002; do
	[ "$f" = 000000010000000000000002 ] && printf 'not a WAL segment' >"$BD_TMP/pg_wal/$f"
	run "$BACKUPD" wal-push --repo "$BD_TMP/first-repo" --name app --async-max 0 "$BD_TMP/pg_wal/$f"
	assert_rc "a first wal-push of a missing or bad segment ($f) exits 1" 1
	assert_output_contains "the file is named" "cannot archive '$BD_TMP/pg_wal/$f'"
	check_not "and it leaves no repository behind" test -e "$BD_TMP/first-repo"
done
run "$BACKUPD" -c "$BD_TMP/compress.conf" check --wal-timeout 5
assert_rc "check --wal-timeout without --wal (it would wait for nothing) exits 2" 2
assert_output_contains "it is named" "--wal-timeout goes with --wal"
run "$BACKUPD" -c "$BD_TMP/compress.conf" check --wal
assert_rc "check --wal with no archiving job still checks the rest" 0
assert_output_contains "and says that --wal found nothing to check" "note   wal: nothing to check: no kind = basebackup job archives WAL"
run "$BACKUPD" -c "$BD_TMP/compress.conf" daemon --id d1
assert_rc "daemon --id without a fleet catalog (it would name nothing) exits 2" 2
assert_output_contains "it says what it needs" "--id names this daemon in a fleet catalog: it needs [global] catalog ="
run "$BACKUPD" -c "$BD_TMP/compress.conf" daemon --http-listen 0.0.0.0:99999
assert_rc "daemon --http-listen with a bad address exits 2" 2
assert_output_contains "it is named as the option, not as a key of the file" "option '--http-listen': must be IPV4:PORT"
# values the server would refuse at its start, after a pitr that said it succeeded
for t in "--target-timeline 0" "--target-timeline 4294967296" "--target-xid 0" "--target-xid 99999999999999999999"; do
	# shellcheck disable=SC2086 # option and value
	run "$DBRESTORE" pitr --repo "$REPO" --name app --data-dir "$BD_TMP/pitr-bad" $t
	assert_rc "pitr $t exits 2" 2
	assert_output_contains "it is named" "${t%% *} must be"
	check_not "and nothing is created" test -e "$BD_TMP/pitr-bad"
done
for sub in status abort; do
	run "$DBRESTORE" migrate "$sub" --name nosuch --state-dir "$BD_TMP/no-state"
	assert_rc "migrate $sub of a migration that does not exist exits 2" 2
	assert_output_contains "it is named" "no migration named nosuch"
	assert_eq "migrate $sub prints the one-line error only (no table header)" "" "$(cat "$RUN_OUT")"
	check_not "and creates no state directory or lock" test -e "$BD_TMP/no-state"
done
run "$DBRESTORE" migrate status --name nosuch --state-dir "$BD_TMP/no-state" --json
assert_rc "migrate status --json of a migration that does not exist exits 2" 2
assert_eq "and prints no JSON for it, only the error" "" "$(cat "$RUN_OUT")"

finish
