#!/usr/bin/env bash
# Secrets stay secret: with password-protected sources (a PostgreSQL role
# whose password comes from a password-file, the postgres role's from
# PGPASSFILE; MariaDB's root password from a password-file and from
# MYSQL_PWD) and encrypted S3 repositories (s3rver, encryption-key-file),
# runs dumps, restores, wal-push as the server's real archive_command and the
# daemon (scheduled PostgreSQL jobs (the daemon runs no MySQL job yet), /metrics scraped, webhooks to a local receiver),
# then looks for the database passwords, the S3 secret access key and the
# encryption keys in every process's argv (sampled from /proc all along), the
# commands' stderr and stdout, the daemon log, the server log (wal-push's
# stderr), the run history, `status --json`, /metrics, the webhook bodies and
# every byte of the repositories (raw, and decompressed where zstd can read
# them).  The dump/restore/wal-push part runs against an unencrypted local
# repository too.  restore --provision and migrate --provision (both engines,
# --log-level debug): their generated passwords are checked in all of the
# above and in every process's environment.  A PGPASSFILE that group or
# others can read, a symlink to one, or a directory, and a MySQL ssl-key of
# mode 0644: refused, exit 2; ssl-mode=required against a MariaDB without TLS
# fails instead of going on in plain text.
source "$(dirname "$0")/lib.sh"
require_binaries
source "$(dirname "$0")/s3lib.sh"
s3_start

# s3rver knows one key pair only: its secret is the S3 secret here.
S3_SECRET=S3RVER
add_secret "$S3_SECRET"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
S3_URL="s3://bkt/enc?endpoint=http://127.0.0.1:$S3_PORT&style=path"
S3_WAL_URL="s3://bkt/encwal?endpoint=http://127.0.0.1:$S3_PORT&style=path"

# What the server's archive_command (as $OWNER) uses: its own config, S3
# secret, encryption key and state-dir, owned by it (secret files must be
# owned by the user reading them).
WDIR="$BD_TMP/walconf"
mkdir -p "$WDIR/state"
(umask 077 && printf '%s\n' "$S3_SECRET" >"$WDIR/s3.secret")
new_key "$WDIR/wal.key"
add_secret "$(cat "$WDIR/wal.key")"
cat >"$WDIR/backupd.conf" <<CONF
[global]
state-dir = $WDIR/state

[repo:s3wal]
url = $S3_WAL_URL
access-key-id = S3RVER
secret-access-key-file = $WDIR/s3.secret
encryption-key-file = $WDIR/wal.key
CONF
chown -R "$OWNER:" "$WDIR"
chmod 0755 "$WDIR"
LWAL="$BD_TMP/localwal"
own_dir "$LWAL"
PG_SERVER_CONF="archive_mode = on
archive_command = '$BACKUPD -c $WDIR/backupd.conf wal-push --repo s3wal --name src %p && $BACKUPD -c $WDIR/backupd.conf wal-push --repo $LWAL --name src %p'"
export PG_SERVER_CONF
pg_start
unset PG_SERVER_CONF
mariadb_start

# A PostgreSQL role with its own password (created through stdin: never in
# an argv), given to backupd by a password-file.
BK_PASSWORD="bkPw$RANDOM$RANDOM$RANDOM"
add_secret "$BK_PASSWORD"
BK_PWFILE="$BD_TMP/bk.password"
(umask 077 && printf '%s\n' "$BK_PASSWORD" >"$BK_PWFILE")
printf "CREATE ROLE bk LOGIN SUPERUSER PASSWORD '%s';\n" "$BK_PASSWORD" | _bd_psql -d postgres -f - >/dev/null
db_create src
psql_q src "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g" >/dev/null
my_db_create msrc
my_sql msrc "CREATE TABLE t (id int PRIMARY KEY, v varchar(64)); INSERT INTO t SELECT seq, md5(seq) FROM seq_1_to_3000"

# The test's own S3 secret and encryption key files (the caller's).
(umask 077 && printf '%s\n' "$S3_SECRET" >"$BD_TMP/s3.secret")
KEY="$BD_TMP/repo.key"
new_key "$KEY"
add_secret "$(cat "$KEY")"
LREPO="$BD_TMP/localrepo"
STATE="$BD_TMP/state"
HPORT="$(_bd_pick_port)"
WPORT="$(_bd_pick_port)"
CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<CONF
[global]
state-dir = $STATE
shutdown-grace = 1s
http-listen = 127.0.0.1:$HPORT
webhook-url = http://127.0.0.1:$WPORT/hook

[repo:s3enc]
url = $S3_URL
access-key-id = S3RVER
secret-access-key-file = $BD_TMP/s3.secret
encryption-key-file = $KEY

[repo:local]
url = $LREPO

[source:pg]
url = postgresql://bk@127.0.0.1:$PG_PORT/src
password-file = $BK_PWFILE

[source:pgdst]
url = postgresql://bk@127.0.0.1:$PG_PORT/pgdst
password-file = $BK_PWFILE

[source:pgdst2]
url = postgresql://bk@127.0.0.1:$PG_PORT/pgdst2
password-file = $BK_PWFILE

[source:pgadmin]
url = postgresql://bk@127.0.0.1:$PG_PORT/postgres
password-file = $BK_PWFILE

[source:myadmin]
url = $(my_uri "")
password-file = $MY_PASSWORD_FILE

[source:my]
url = $(my_uri msrc)
password-file = $MY_PASSWORD_FILE

[source:mydst]
url = $(my_uri mydst)
password-file = $MY_PASSWORD_FILE

[job:pgjob]
source = pg
repo = s3enc
schedule = */3 * * * * *

[job:localjob]
source = pg
repo = local
schedule = */3 * * * * *
CONF

PS_LOG="$BD_TMP/argv.txt"
ps_sampler_start "$PS_LOG"
# The sampler sees short-lived processes: a canary's argv is caught.
CANARY="canary$RANDOM$RANDOM"
bash -c 'sleep 0.3; :' "$CANARY"

# --------------------------------------------------------------------------
note "dumps and restores: encrypted S3 and plain local repositories"
run "$BACKUPD" -c "$CONF" dump --source pg --repo s3enc --jobs 2
assert_rc "PostgreSQL dump (password-file) into the encrypted S3 repository" 0
run "$BACKUPD" -c "$CONF" dump --source pg --repo local --jobs 2
assert_rc "PostgreSQL dump (password-file) into the local repository" 0
run "$BACKUPD" -c "$CONF" dump --source "$(pg_uri src)" --repo s3enc --name viapgpass
assert_rc "PostgreSQL dump (PGPASSFILE) into the encrypted S3 repository" 0
run "$DBRESTORE" -c "$CONF" restore --repo s3enc --name pg --to pgdst --create --jobs 2
assert_rc "PostgreSQL restore from the encrypted S3 repository" 0
run "$DBRESTORE" -c "$CONF" restore --repo local --name pg --to pgdst2 --create
assert_rc "PostgreSQL restore from the local repository" 0
assert_eq "the restored tables have every row" "5000 5000" \
	"$(psql_q pgdst 'SELECT count(*) FROM t') $(psql_q pgdst2 'SELECT count(*) FROM t')"

run "$BACKUPD" -c "$CONF" dump --source my --repo s3enc --jobs 2
assert_rc "MariaDB dump (password-file) into the encrypted S3 repository" 0
export MYSQL_PWD="$MY_PASSWORD"
run "$BACKUPD" -c "$CONF" dump --source "$(my_uri msrc)" --repo local --name mlocal
assert_rc "MariaDB dump (MYSQL_PWD) into the local repository" 0
run "$DBRESTORE" -c "$CONF" restore --repo local --name mlocal --to "$(my_uri mydst2)" --create
assert_rc "MariaDB restore (MYSQL_PWD) from the local repository" 0
unset MYSQL_PWD
run "$DBRESTORE" -c "$CONF" restore --repo s3enc --name my --to mydst --create --jobs 2
assert_rc "MariaDB restore (password-file) from the encrypted S3 repository" 0
assert_eq "the restored MariaDB tables have every row" "3000 3000" \
	"$(my_sql mydst 'SELECT count(*) FROM t') $(my_sql mydst2 'SELECT count(*) FROM t')"

# --------------------------------------------------------------------------
note "--provision at debug level: restore and migrate, both engines"
# The generated passwords are known only once the env files exist: they join
# the secrets checked below (argv, environments, output, repositories).
PROV_ENVS=()
provision() { # provision NAME ARGS...: one provisioning command, its env file $BD_TMP/NAME.env
	local env="$BD_TMP/$1.env"
	shift
	run "$DBRESTORE" -c "$CONF" --log-level debug "$@" --env-file "$env"
	PROV_ENVS+=("$env")
}
provision pgr restore --repo s3enc --name pg --to pgadmin --provision pgprov --owner pgprovapp
assert_rc "PostgreSQL restore --provision from the encrypted S3 repository" 0
provision pgm migrate --from pg --to pgadmin --provision pgmig --owner pgmigapp --jobs 2
assert_rc "PostgreSQL migrate --provision" 0
provision myr restore --repo local --name mlocal --to myadmin --provision myprov --owner myprovapp
assert_rc "MariaDB restore --provision from the local repository" 0
provision mym migrate --from my --to myadmin --provision mymig --owner mymigapp --jobs 2
assert_rc "MariaDB migrate --provision" 0
PROV_PASSWORDS=()
for f in "${PROV_ENVS[@]}"; do
	pw="$(sed -n 's|^DATABASE_URL=[a-z]*://[^:/@]*:\([A-Za-z0-9]*\)@.*|\1|p' "$f" 2>/dev/null || true)"
	if [ "${#pw}" = 32 ]; then
		pass "$(basename "$f") holds a generated password"
		PROV_PASSWORDS+=("$pw")
		add_secret "$pw"
	else
		fail "$(basename "$f") holds a generated password" "$(sed 's/:[^:@]*@/:<pw>@/' "$f" 2>&1)"
	fi
done

# libpq only warns about a password file that group or others can read (and
# then fails with "no password supplied"): refused like our own, exit 2.
mkdir -p "$BD_TMP/pgpassdir"
(umask 022 && cp "$PGPASSFILE" "$BD_TMP/pgpass.0644" && cp "$PGPASSFILE" "$BD_TMP/pgpass.0640")
chmod 0644 "$BD_TMP/pgpass.0644"
chmod 0640 "$BD_TMP/pgpass.0640"
ln -s "$BD_TMP/pgpass.0644" "$BD_TMP/pgpass.link"
for f in pgpass.0644 pgpass.0640 pgpass.link pgpassdir; do
	PGPASSFILE="$BD_TMP/$f" run "$BACKUPD" dump --source "$(pg_uri src)" --repo "$LREPO" --name badpass
	assert_rc "a PGPASSFILE $f is refused (exit 2)" 2
	assert_eq "... in one line naming it" "1 1" \
		"$(grep -c . "$RUN_ERR") $(grep -c "secret file '$BD_TMP/$f' \(must not be accessible\|is not a regular file\)" "$RUN_ERR")"
done
# The MySQL client library reads a TLS private key whatever its mode.
(umask 022 && printf 'not a key: refused before it is read\n' >"$BD_TMP/tls.key")
export MYSQL_PWD="$MY_PASSWORD"
run "$BACKUPD" dump --source "$(my_uri msrc)?ssl-mode=required&ssl-cert=$BD_TMP/tls.key&ssl-key=$BD_TMP/tls.key" --repo "$LREPO" --name badkey
assert_rc "a MySQL ssl-key of mode 0644 is refused (exit 2)" 2
assert_eq "... in one line naming it" "1 1" \
	"$(grep -c . "$RUN_ERR") $(grep -c "secret file '$BD_TMP/tls.key' must not be accessible" "$RUN_ERR")"
# The client library falls back to plain text when the server offers no TLS
# (this one does not) unless it verifies a certificate: ssl-mode=required must not.
run "$BACKUPD" dump --source "$(my_uri msrc)?ssl-mode=required" --repo "$LREPO" --name notls
unset MYSQL_PWD
assert_rc "ssl-mode=required against a server without TLS fails (exit 1)" 1
assert_output_contains "... saying TLS was asked for" "TLS was asked for (ssl-mode, ssl-ca or ssl-cert) but the server does not offer it"

# A password holds no line end: a password file with a second non-empty
# line is the wrong file, refused (exit 2) naming it and never its content;
# CRLF and empty lines after the password are only line ends.
TWO_PWFILE="$BD_TMP/two-lines.password"
SECOND_LINE="second$RANDOM$RANDOM"
add_secret "$SECOND_LINE"
(umask 077 && printf '%s\n%s\n' "$BK_PASSWORD" "$SECOND_LINE" >"$TWO_PWFILE")
CRLF_PWFILE="$BD_TMP/crlf.password"
(umask 077 && printf '%s\r\n\r\n' "$BK_PASSWORD" >"$CRLF_PWFILE")
cat >"$BD_TMP/lines.conf" <<CONF
[source:two]
url = postgresql://bk@127.0.0.1:$PG_PORT/src
password-file = $TWO_PWFILE

[source:crlf]
url = postgresql://bk@127.0.0.1:$PG_PORT/src
password-file = $CRLF_PWFILE
CONF
run "$BACKUPD" -c "$BD_TMP/lines.conf" dump --source two --repo "$LREPO" --name twolines
assert_rc "a password file of two non-empty lines is refused (exit 2)" 2
assert_eq "... in one line naming it" "1 1" \
	"$(grep -c . "$RUN_ERR") $(grep -c "secret file '$TWO_PWFILE' has more than one line" "$RUN_ERR")"
run "$BACKUPD" -c "$BD_TMP/lines.conf" dump --source crlf --repo "$LREPO" --name crlf
assert_rc "a password file ending in CRLF and an empty line is the password alone" 0

# --------------------------------------------------------------------------
note "wal-push as the server's archive_command (encrypted S3 and local)"
archived() { psql_q postgres "SELECT archived_count FROM pg_stat_archiver"; }
before="$(archived)"
for i in 1 2 3; do
	psql_q src "INSERT INTO t VALUES ($((10000 + i)), 'wal $i')" >/dev/null
	psql_q postgres "SELECT pg_switch_wal()" >/dev/null
done
check "the server archived three more segments through wal-push" wait_for 90 at_least $((before + 3)) archived
assert_eq "no archive_command failed" 0 "$(psql_q postgres 'SELECT failed_count FROM pg_stat_archiver')"
for f in "$PG_DIR"/log/*; do _bd_check_sanitizers "$f" "wal-push under archive_command ($f)"; done
check "the segments are in the encrypted bucket" test -n "$(find "$BD_TMP/s3data/bkt" -path '*encwal*' -type f | head -n 1)"
check "the segments are in the local WAL repository" test -n "$(find "$LWAL" -path '*/wal/*' -type f | head -n 1)"

# --------------------------------------------------------------------------
note "the daemon: scheduled jobs, /metrics, webhooks"
HOOKS="$BD_TMP/hooks.jsonl"
: >"$HOOKS"
hook_receiver_start "$WPORT" "$HOOKS"
LISTENER=$HOOK_RECEIVER_PID
DLOG="$BD_TMP/daemon.log"
"$BACKUPD" -c "$CONF" daemon >"$BD_TMP/daemon.out" 2>"$DLOG" &
DPID=$!
hooks_for() { grep -c "\"job\":\"$1\".*\"status\":\"success\"" "$HOOKS" || true; }
check "pgjob ran and its webhook arrived" wait_for 120 at_least 1 hooks_for pgjob
check "localjob ran and its webhook arrived" wait_for 120 at_least 1 hooks_for localjob
METRICS="$BD_TMP/metrics.txt"
scrape() { curl -sf "http://127.0.0.1:$HPORT/metrics" >"$METRICS"; }
check "/metrics answers" wait_for 30 scrape
check "/metrics counts pgjob's runs" grep -q '^backupd_job_runs_total{backupd_job="pgjob"} [1-9]' "$METRICS"
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
_bd_check_sanitizers "$DLOG" "backupd daemon"
kill "$LISTENER" 2>/dev/null || true
wait "$LISTENER" 2>/dev/null || true
run "$BACKUPD" -c "$CONF" status --json
assert_rc "status --json" 0
cp "$RUN_OUT" "$BD_TMP/status.json"

ps_sampler_stop

# --------------------------------------------------------------------------
note "none of the secrets anywhere"
# The sampler must have seen what ran: the children that need a password and
# wal-push under the server's archiver.
check "the process samples ($PS_SWEEPS sweeps) caught a 0.3 s canary" grep -q -F "$CANARY" "$PS_LOG"
check "the process samples caught pg_dump run for the role with a password-file" grep -q "pg_dump .*user='bk'" "$PS_LOG"
check "the process samples caught the MariaDB dump" grep -q -F "dump --source my --repo s3enc" "$PS_LOG"
check "the process samples caught wal-push" grep -q "wal-push --repo s3wal" "$PS_LOG"
check "the process samples caught the daemon's runs" grep -q "run pgjob" "$PS_LOG"
assert_no_secrets_in "no secret in any process's argv" "$PS_LOG"
leaked=0
for pw in "${PROV_PASSWORDS[@]+"${PROV_PASSWORDS[@]}"}"; do
	if grep -q -F -- "$pw" "$PS_LOG.environ"; then leaked=1; fi
done
check "the samples caught environments" test -s "$PS_LOG.environ"
assert_eq "no generated password in any process's environment" 0 "$leaked"
assert_no_secrets_in_output "no secret in any command's stdout or stderr"
assert_no_secrets_in "no secret in the daemon log" "$DLOG" "$BD_TMP/daemon.out"
assert_no_secrets_in "no secret in the server log (wal-push's stderr)" "$PG_DIR/log"
assert_no_secrets_in "no secret in the run history" "$STATE/history"
assert_no_secrets_in "no secret in the state directories" "$STATE" "$WDIR/state"
assert_no_secrets_in "no secret in status --json" "$BD_TMP/status.json"
assert_no_secrets_in "no secret in /metrics" "$METRICS"
check "webhook bodies arrived" test -s "$HOOKS"
assert_no_secrets_in "no secret in the webhook bodies" "$HOOKS"
assert_no_secrets_in "no secret in the S3 bucket (every object and s3rver's metadata)" "$BD_TMP/s3data"
assert_no_secrets_in "no secret in the local repositories" "$LREPO" "$LWAL"

finish
