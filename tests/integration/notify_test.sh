#!/usr/bin/env bash
# Notifications (issue 16 item 4): [notify:NAME] sections of each type,
# delivered to receivers this test starts (an HTTP receiver standing in for
# webhook/Slack/Teams/Discord/healthchecks, an SMTP sink for email), by
# `backupd run JOB --notify` and by the daemon's runs; `on =` filters, a job's
# `notify =` picks sections, the legacy webhook-url keeps working, STARTTLS is
# required unless starttls = no, and no secret reaches a message.
source "$(dirname "$0")/lib.sh"

require_binaries
HERE="$(cd "$(dirname "$0")" && pwd -P)"

pg_start
db_create app
HPORT="$(_bd_pick_port)"
SPORT="$(_bd_pick_port)"
TPORT="$(_bd_pick_port)"
HLOG="$BD_TMP/http.jsonl"
SLOG="$BD_TMP/smtp.jsonl"
TLOG="$BD_TMP/smtp-tls.jsonl"
: >"$HLOG"
: >"$SLOG"
: >"$TLOG"
python3 "$HERE/receivers/http_sink.py" "$HPORT" "$HLOG" &
P1=$!
python3 "$HERE/receivers/smtp_sink.py" "$SPORT" "$SLOG" &
P2=$!
python3 "$HERE/receivers/smtp_sink.py" "$TPORT" "$TLOG" --starttls &
P3=$!
stop_receivers() { kill "$P1" "$P2" "$P3" 2>/dev/null || true; }
check "the receivers listen" wait_for 20 bash -c "
	(exec 3<>/dev/tcp/127.0.0.1/$HPORT) && (exec 3<>/dev/tcp/127.0.0.1/$SPORT) && (exec 3<>/dev/tcp/127.0.0.1/$TPORT)"

SMTP_PW="smtp-Secret-$RANDOM$RANDOM"
TOKEN="hook-Token-$RANDOM$RANDOM"
add_secret "$SMTP_PW"
add_secret "$TOKEN"
printf '%s\n' "$SMTP_PW" >"$BD_TMP/smtp.password"
chmod 0600 "$BD_TMP/smtp.password"
printf '%s\n' "$PG_PASSWORD" >"$BD_TMP/pg.password"
chmod 0600 "$BD_TMP/pg.password"
CLOSED="$(_bd_pick_port)"
H="http://127.0.0.1:$HPORT"
CONF="$BD_TMP/n.conf"
cat >"$CONF" <<CONF
[global]
state-dir = $BD_TMP/state
[repo:local]
url = $BD_TMP/repo
[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $BD_TMP/pg.password
[source:down]
url = postgresql://postgres:$TOKEN@127.0.0.1:$CLOSED/app

[notify:hook]
type = webhook
url = $H/hook/$TOKEN
[notify:slack]
type = slack
url = $H/slack/$TOKEN
on = failure
[notify:teams]
type = teams
url = $H/teams/$TOKEN
on = success
[notify:discord]
type = discord
url = $H/discord/$TOKEN
[notify:hc]
type = healthchecks
url = $H/hc/$TOKEN
[notify:mail]
type = email
url = smtp://127.0.0.1:$SPORT
from = backupd@example.com
to = ops@example.com, dba@example.com
username = backupd
password-file = $BD_TMP/smtp.password
starttls = no
[notify:tlsmail]
type = email
url = smtp://127.0.0.1:$TPORT
from = backupd@example.com
to = ops@example.com

[job:good]
source = app
repo = local
notify = hook slack teams discord hc mail
[job:bad]
source = down
repo = local
notify = hook slack teams discord hc mail
[job:legacy]
source = app
repo = local
notify = discord
webhook-url = $H/legacy/$TOKEN
webhook-on = success
[job:tls]
source = app
repo = local
notify = tlsmail
CONF

bodies() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o["path"].startswith(sys.argv[2]):
        print(o["body"])' "$HLOG" "$1"; }
count() { python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["path"].startswith(sys.argv[2])))' "$HLOG" "$1"; }

# --- without --notify nothing is sent ------------------------------------------
run "$BACKUPD" -c "$CONF" run good
assert_rc "a run without --notify" 0
assert_eq "sends nothing" 0 "$(wc -l <"$HLOG")"

# --- success ----------------------------------------------------------------
run "$BACKUPD" -c "$CONF" run good --notify
assert_rc "run good --notify succeeds" 0
ID="$(last_line)"
check "webhook: backupd's JSON summary" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["job"] == "good" and o["status"] == "success" and o["backup_id"] == sys.argv[2], o' \
	"$(bodies /hook/)" "$ID"
assert_eq "slack (on = failure): nothing on success" 0 "$(count /slack/)"
check "teams: a MessageCard" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["@type"] == "MessageCard" and "good" in o["title"] and "success" in o["text"], o' "$(bodies /teams/)"
check "discord: content" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert "job good" in o["content"] and "success" in o["content"], o' "$(bodies /discord/)"
assert_eq "healthchecks: a start ping" 1 "$(count "/hc/$TOKEN/start")"
check "healthchecks: and a success ping (no /fail)" test "$(count "/hc/$TOKEN")" -eq 2 -a "$(count "/hc/$TOKEN/fail")" -eq 0
check "email: one message" test "$(wc -l <"$SLOG")" -eq 1
check "email: to both recipients, logged in with the password file, subject says success" python3 -c '
import json, sys
m = json.loads(open(sys.argv[1]).readline())
assert len(m["to"]) == 2, m
assert m["auth"] == ["backupd", sys.argv[2]], m["auth"]
assert "Subject: [backupd] job good: success" in m["data"], m["data"]
assert sys.argv[2] not in m["data"]' "$SLOG" "$SMTP_PW"

# --- failure ----------------------------------------------------------------
: >"$HLOG"
: >"$SLOG"
run "$BACKUPD" -c "$CONF" run bad --notify
assert_rc "run bad --notify fails" 1
check "webhook: status failure with the error" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["status"] == "failure" and o["error"], o' "$(bodies /hook/)"
check "slack (on = failure): text says FAILED" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert "FAILED" in o["text"], o' "$(bodies /slack/)"
assert_eq "teams (on = success): nothing on failure" 0 "$(count /teams/)"
assert_eq "healthchecks: a fail ping" 1 "$(count "/hc/$TOKEN/fail")"
check "email: subject says FAILED" grep -q 'job bad: FAILED' "$SLOG"
bodies / >"$BD_TMP/bodies.txt"
check_not "no secret in any HTTP body" grep -q -e "$TOKEN" -e "$SMTP_PW" -e "$PG_PASSWORD" "$BD_TMP/bodies.txt"
check "no secret in the email" python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)["data"]
    assert not any(s in d for s in sys.argv[2:]), d' "$SLOG" "$TOKEN" "$SMTP_PW" "$PG_PASSWORD"
assert_no_secrets_in_output

# --- legacy webhook-url and notify = picking -----------------------------------
: >"$HLOG"
run "$BACKUPD" -c "$CONF" run legacy --notify
assert_rc "run legacy --notify" 0
assert_eq "webhook-url still gets the JSON summary" 1 "$(count /legacy/)"
assert_eq "notify = discord: only discord besides it" "0 1 0" "$(count /hook/) $(count /discord/) $(count /hc/)"

# --- STARTTLS required -------------------------------------------------------
run "$BACKUPD" -c "$CONF" run tls --notify
assert_rc "a failed notification does not fail the run" 0
assert_output_contains "the email is refused without STARTTLS" "[notify:tlsmail]: email not sent"
assert_eq "nothing was sent in clear" 0 "$(wc -l <"$TLOG")"

# --- config errors ------------------------------------------------------------
bad_conf() {
	printf '[notify:x]\n%s\n' "$1" >"$BD_TMP/bad.conf"
	run "$BACKUPD" -c "$BD_TMP/bad.conf" check
}
bad_conf $'type = pager\nurl = http://x/'
assert_rc "an unknown type is a config error" 2
assert_output_contains "naming it" "must be webhook, slack, teams, discord, email or healthchecks"
bad_conf $'type = email\nurl = smtp://u:pw@host\nfrom = a@b\nto = c@d'
assert_rc "credentials in an smtp URL are refused" 2
check_not "without echoing them" grep -q 'u:pw' "$RUN_ERR"
bad_conf $'type = slack\nurl = http://x/\nstarttls = no'
assert_rc "an email key on a chat section is an error" 2
printf '[job:j]\nsource = s\nrepo = r\nnotify = nowhere\n[source:s]\nurl = postgresql://h/d\n[repo:r]\nurl = /tmp/x\n' >"$BD_TMP/bad.conf"
run "$BACKUPD" -c "$BD_TMP/bad.conf" check
assert_rc "notify = an unknown section is an error" 2
assert_output_contains "naming it" "no [notify:nowhere]"

# --- the daemon's runs ----------------------------------------------------------
: >"$HLOG"
cat >"$BD_TMP/d.conf" <<CONF
[global]
state-dir = $BD_TMP/dstate
[repo:local]
url = $BD_TMP/repo
[source:app]
url = postgresql://postgres@127.0.0.1:$PG_PORT/app
password-file = $BD_TMP/pg.password
[notify:hook]
type = webhook
url = $H/daemon/$TOKEN
[notify:hc]
type = healthchecks
url = $H/dhc/$TOKEN
[job:sched]
source = app
repo = local
schedule = */3 * * * * *
CONF
"$BACKUPD" -c "$BD_TMP/d.conf" daemon >/dev/null 2>"$BD_TMP/daemon.log" &
DPID=$!
check "the daemon's run notifies every section (no notify key)" wait_for 60 at_least 1 count /daemon/
check "with a healthchecks start ping" wait_for 30 at_least 1 count "/dhc/$TOKEN/start"
check "and a success ping" wait_for 30 at_least 2 count "/dhc/$TOKEN"
kill -TERM "$DPID"
wait "$DPID" || true
stop_receivers
finish
