#!/usr/bin/env bash
# run.sh: long
# Encryption at rest, end to end: a PostgreSQL corner-case round trip and a
# MySQL round trip through encrypted repositories, WAL archiving + base backup
# + PITR through an encrypted repository, expire, list, verify, a configured
# job, key rotation; and the refusals: missing key, wrong key, key file mode
# 0644, short key file, key for a plaintext repository, flipped byte,
# truncated object, objects swapped within the repository.  Each refusal is
# one clear error and restores nothing (a --create restore leaves no database).
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")" && pwd -P)"
require_binaries

# The server runs as bdtest when we are root: what it runs (wal-push, and
# wal-get after pitr) must be able to read the WAL repository and its key
# (AS_PG, OWNER and own_dir come from lib.sh).

KEY="$BD_TMP/repo.key"
KEY2="$BD_TMP/repo2.key"
WRONG="$BD_TMP/wrong.key"
new_key "$KEY"
new_key "$KEY2"
new_key "$WRONG"
add_secret "$(cat "$KEY")"
add_secret "$(cat "$KEY2")"

WREPO="$BD_TMP/wrepo"
WKEY="$BD_TMP/wal.key"
new_key "$WKEY"
own_dir "$WREPO"
chown "$OWNER:" "$WKEY"
PG_SERVER_CONF="archive_mode = on
archive_command = '$BACKUPD wal-push --repo $WREPO --encryption-key-file $WKEY --name src %p'"
export PG_SERVER_CONF
pg_start
unset PG_SERVER_CONF

REPO="$BD_TMP/repo"
SRC_URI="$(pg_uri src)"
DATA_MARK="c81e728d9d4c2f636f067f89cc14862c" # md5('2'), in row 2 of public.big

# no_plaintext DIR: nothing under DIR (but backupd.repo) is zstd or shows the data
no_plaintext() {
	python3 - "$1" "$DATA_MARK" "${@:2}" <<'PY'
import os, sys
root, mark = sys.argv[1], sys.argv[2].encode()
bad = []
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        if f == "backupd.repo":
            continue
        data = open(p, "rb").read()
        if not data.startswith(b"BDENC1\n\0"):
            bad.append(p + ": not encrypted")
        if mark in data:
            bad.append(p + ": shows table data")
        # names: no database, table or source name in any path
        rel = os.path.relpath(p, root)
        for word in sys.argv[3:]:
            if word in rel:
                bad.append(p + ": path shows " + word)
if bad:
    print("\n".join(bad[:10]))
    sys.exit(1)
PY
}

# --------------------------------------------------------------------------
note "key files that cannot be used are refused before anything happens"
db_create src
check "corner-case database loads" psql_file src "$HERE/pg_corner_cases.sql"

run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --encryption-key-file "$BD_TMP/nokey"
assert_rc "missing key file: exit 2" 2
assert_output_contains "the error names the missing file" "$BD_TMP/nokey"
check_not "no repository was created without the key" test -e "$REPO/backupd.repo"
cp "$KEY" "$BD_TMP/open.key"
chmod 0644 "$BD_TMP/open.key"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --encryption-key-file "$BD_TMP/open.key"
assert_rc "key file mode 0644: exit 2" 2
assert_output_contains "the error says chmod 600" "chmod 600"
new_key "$BD_TMP/short.key" 31
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --encryption-key-file "$BD_TMP/short.key"
assert_rc "31-byte key file: exit 2" 2
assert_output_contains "the error asks for 32 bytes" "at least 32"
CONF_BAD="$BD_TMP/bad.conf"
printf '[repo:enc]\nurl = %s\nencryption-key-file = %s\n' "$REPO" "$BD_TMP/nokey" >"$CONF_BAD"
run "$BACKUPD" -c "$CONF_BAD" dump --source "$SRC_URI" --repo enc --name src
assert_rc "[repo:] encryption-key-file that does not exist: exit 2 (never plaintext)" 2
check_not "still no repository" test -e "$REPO/backupd.repo"

# --------------------------------------------------------------------------
note "PostgreSQL corner cases through an encrypted repository"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$REPO" --name src --jobs 2 --encryption-key-file "$KEY"
assert_rc "encrypted dump succeeds" 0
ID1="$(last_line)"
check "backupd.repo records cipher, KDF, salt, key check and wrapped key" python3 - "$REPO/backupd.repo" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["cipher"] == "aes-256-gcm", d
assert d["kdf"]["name"] == "pbkdf2-sha256" and d["kdf"]["iterations"] > 0 and len(d["kdf"]["salt"]) == 64, d
assert len(d["key_check"]) == 32 and len(d["wrapped_key"]) == 120, d
PY
check_not "backupd.repo does not hold the key" grep -q -F -- "$(cat "$KEY")" "$REPO/backupd.repo"
check "every object, the manifest included, is encrypted; no path names the source, schema or table" \
	no_plaintext "$REPO" src public big copy schema data
assert_no_secrets_in_output

run "$BACKUPD" list --repo "$REPO"
assert_rc "list without the key shows what it can" 0
assert_output_contains "list without the key shows the backup ID" "$ID1"
assert_output_contains "list without the key says the repository is encrypted" "is encrypted"
check_not "list without the key shows no source name, engine or size" grep -q -E "src|postgresql|MiB" "$RUN_OUT"
run "$BACKUPD" list --repo "$REPO" --json
assert_rc "list --json without the key" 0
check "list --json without the key: id, started and status only" python3 - "$RUN_OUT" "$ID1" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))
assert [i["id"] for i in items] == [sys.argv[2]], items
assert set(items[0]) == {"id", "started", "status"} and items[0]["status"] == "complete", items
PY
run "$BACKUPD" list --repo "$REPO" --name src
assert_rc "list --name without the key: exit 2" 2
run "$BACKUPD" verify --repo "$REPO"
assert_rc "verify without the key: exit 2" 2
assert_output_contains "verify says the repository is encrypted" "is encrypted"
run "$BACKUPD" list --repo "$REPO" --encryption-key-file "$WRONG"
assert_rc "list with the wrong key: exit 2" 2
assert_output_contains "the error says the key is wrong" "wrong encryption key"
run "$BACKUPD" list --repo "$REPO" --encryption-key-file "$KEY"
assert_rc "list with the key" 0
assert_output_contains "list shows the backup" "$ID1"
run "$BACKUPD" verify --repo "$REPO" --encryption-key-file "$KEY"
assert_rc "verify of the encrypted backup" 0

run "$DBRESTORE" restore --repo "$REPO" --name src --to "$(pg_uri dst_nokey)" --create
assert_rc "restore without the key: exit 2" 2
check_not "restore without the key created no database" db_exists dst_nokey
run "$DBRESTORE" restore --repo "$REPO" --name src --to "$(pg_uri dst_wrong)" --create --encryption-key-file "$WRONG"
assert_rc "restore with the wrong key: exit 2" 2
check_not "restore with the wrong key created no database" db_exists dst_wrong
run "$DBRESTORE" restore --repo "$REPO" --name src --backup "$ID1" --to "$(pg_uri dst1)" --jobs 2 --create \
	--encryption-key-file "$KEY"
assert_rc "restore from the encrypted repository" 0
check "restored database matches the source" pg_compare src dst1

# --------------------------------------------------------------------------
note "damage: flipped byte, truncation, objects swapped within the repository"
victims() { find "$1" -path "*/backups/$ID1/o/*" -type f -printf '%s %p\n' | sort -n | tail -n 2 | cut -d' ' -f2-; }
damage_case() { # NAME HOW
	local name="$1" how="$2" r="$BD_TMP/repo-$1" v1 v2
	rm -rf "$r"
	cp -a "$REPO" "$r"
	v1="$(victims "$r" | tail -n 1)"
	v2="$(victims "$r" | head -n 1)"
	case "$how" in
	flip) flip_middle_byte "$v1" ;;
	truncate) truncate -s $(($(stat -c %s "$v1") - 100)) "$v1" ;;
	swap) cp "$v2" "$v1" ;;
	esac
	run "$BACKUPD" verify --repo "$r" --encryption-key-file "$KEY"
	assert_rc "$name: verify exits 1" 1
	assert_output_matches "$name: verify names the object" "object 'src/backups/$ID1/[^ ]+' is corrupt"
	check_not "$name: ... once" grep -Eq "src/backups/$ID1/[^ ]+' is corrupt: 'src/backups/$ID1/" "$RUN_ERR" "$RUN_OUT"
	run "$DBRESTORE" restore --repo "$r" --name src --to "$(pg_uri "dst_$name")" --jobs 2 --create \
		--encryption-key-file "$KEY"
	assert_rc "$name: restore exits 1" 1
	assert_output_matches "$name: restore names the object" "src/backups/$ID1/[^ ]+.*failed authentication"
	check_not "$name: the --create restore left no database" db_exists "dst_$name"
}
damage_case flip flip
damage_case truncated truncate
damage_case swapped swap
R="$BD_TMP/repo-manifest"
cp -a "$REPO" "$R"
flip_middle_byte "$(find "$R" -path "*/backups/$ID1/manifest.json")"
run "$BACKUPD" list --repo "$R" --encryption-key-file "$KEY"
assert_output_contains "list shows the backup with the tampered manifest as damaged" "damaged"
assert_output_contains "the warning names the manifest" "manifest.json' failed authentication"
run "$BACKUPD" verify --repo "$R" --encryption-key-file "$KEY"
assert_rc "verify of a tampered manifest exits 1" 1
run "$DBRESTORE" restore --repo "$R" --name src --backup "$ID1" --to "$(pg_uri dst_manifest)" --create \
	--encryption-key-file "$KEY"
assert_rc "restore of a backup whose manifest was tampered with exits 1" 1
check_not "it created no database" db_exists dst_manifest

# --------------------------------------------------------------------------
note "two dumps of one name in the same second into an encrypted repository: distinct IDs"
db_create race
psql_q race "CREATE TABLE r AS SELECT g AS id FROM generate_series(1, 1000) g" >/dev/null
# a new repository: the first two dumps also meet creating it
REPO_RACE="$BD_TMP/repo-race"
same_second_dumps "encrypted same-second dumps" "$REPO_RACE" race "$(pg_uri race)" --encryption-key-file "$KEY"
run "$BACKUPD" verify --repo "$REPO_RACE" --name race --encryption-key-file "$KEY"
assert_rc "encrypted: all six same-second backups verify" 0

# --------------------------------------------------------------------------
note "a key for a plaintext repository is refused"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/plain" --name src
assert_rc "plaintext dump" 0
run "$BACKUPD" list --repo "$BD_TMP/plain" --encryption-key-file "$KEY"
assert_rc "list of a plaintext repository with a key: exit 2" 2
assert_output_contains "the error says it is not encrypted" "is not encrypted"
run "$BACKUPD" dump --source "$SRC_URI" --repo "$BD_TMP/plain" --name src --encryption-key-file "$KEY"
assert_rc "an encrypted dump into a plaintext repository: exit 2" 2

# --------------------------------------------------------------------------
note "configured repository and job, expire, key rotation"
CONF="$BD_TMP/backupd.conf"
cat >"$CONF" <<EOF
[global]
state-dir = $BD_TMP/state

[repo:enc]
url = $REPO
encryption-key-file = $KEY

[source:src]
url = $SRC_URI

[job:nightly]
source = src
repo = enc
EOF
mkdir -p "$BD_TMP/state"
run "$BACKUPD" -c "$CONF" run nightly
assert_rc "a configured job dumps into the encrypted repository" 0
run "$BACKUPD" -c "$CONF" list --repo enc --json
assert_rc "list through the configuration" 0
assert_eq "two backups listed" 2 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$RUN_OUT")"
run "$BACKUPD" -c "$CONF" list --repo enc --encryption-key-file "$KEY"
assert_rc "a second key on the command line for a configured repository: exit 2" 2
run "$BACKUPD" -c "$CONF" expire --repo enc --name src --keep-last 1
assert_rc "expire on the encrypted repository" 0
assert_eq "expire removed the older backup" 0 "$(find "$REPO" -path "*/backups/$ID1*" | wc -l)"

sums_before="$(cd "$REPO" && find . -type f ! -name backupd.repo -exec sha256sum {} + | sort)"
run "$BACKUPD" repo rotate-key --repo "$REPO" --encryption-key-file "$KEY" --new-key-file "$KEY2"
assert_rc "repo rotate-key" 0
sums_after="$(cd "$REPO" && find . -type f ! -name backupd.repo -exec sha256sum {} + | sort)"
assert_eq "rotation rewrote no object" "$sums_before" "$sums_after"
run "$BACKUPD" list --repo "$REPO" --encryption-key-file "$KEY"
assert_rc "the old key no longer opens the repository" 2
run "$DBRESTORE" restore --repo "$REPO" --name src --to "$(pg_uri dst_rotated)" --create --encryption-key-file "$KEY2"
assert_rc "restore with the new key" 0
check "restored after rotation matches the source" pg_compare src dst_rotated
run "$BACKUPD" repo rotate-key --repo "$BD_TMP/plain" --new-key-file "$KEY2"
assert_rc "rotate-key of a plaintext repository: exit 2" 2

# --------------------------------------------------------------------------
note "WAL archive, base backup and PITR through an encrypted repository"
bd() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$BACKUPD" "$@"; }
dbr() { run "${AS_PG[@]}" env PGPASSFILE="$PGPASS_ALL" "$DBRESTORE" "$@"; }
PGPASS_ALL="$BD_TMP/pgpass-all"
(umask 077 && printf '127.0.0.1:*:*:postgres:%s\n' "$PG_PASSWORD" >"$PGPASS_ALL")
chown "$OWNER:" "$PGPASS_ALL"
# segments are named in clear (not secret), their contents are not
wal_archived() { find "$WREPO" -path "*/wal/*" -name "$1-*.zst" | grep . >/dev/null; }
switch_and_wait() {
	local seg i
	seg="$(psql_at "$PG_PORT" "SELECT pg_walfile_name(pg_switch_wal())")"
	for i in $(seq 1 600); do
		wal_archived "$seg" && return 0
		sleep 0.2
	done
	fail "segment $seg archived"
	return 1
}
psql_at "$PG_PORT" "CREATE TABLE t (id int PRIMARY KEY, what text)" >/dev/null
psql_at "$PG_PORT" "INSERT INTO t VALUES (1, 'before')" >/dev/null
bd basebackup --source "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" --repo "$WREPO" --name src \
	--encryption-key-file "$WKEY"
assert_rc "encrypted basebackup" 0
psql_at "$PG_PORT" "INSERT INTO t VALUES (2, 'after')" >/dev/null
switch_and_wait
check "WAL segments and base backup are encrypted, the source name hidden" no_plaintext "$WREPO" src base.tar
bd verify --repo "$WREPO" --encryption-key-file "$WKEY"
assert_rc "verify of the encrypted base backup" 0

own_dir "$BD_TMP/r0"
dbr pitr --repo "$WREPO" --name src --data-dir "$BD_TMP/r0/data"
assert_rc "pitr without the key: exit 2" 2
check_not "pitr without the key extracted nothing" test -e "$BD_TMP/r0/data/PG_VERSION"
own_dir "$BD_TMP/r1"
dbr pitr --repo "$WREPO" --name src --data-dir "$BD_TMP/r1/data" --encryption-key-file "$WKEY"
assert_rc "pitr from the encrypted repository" 0
check "restore_command passes the key file's path" \
	grep -q -F -- "--encryption-key-file $WKEY" "$BD_TMP/r1/data/postgresql.auto.conf"
check_not "postgresql.auto.conf does not hold the key" grep -q -F -- "$(cat "$WKEY")" "$BD_TMP/r1/data/postgresql.auto.conf"
if copy_start "$BD_TMP/r1" "$PG_BINDIR"; then
	wait_promoted "$COPY_PORT" r1
	assert_eq "recovery through encrypted WAL replayed both rows" "before,after" \
		"$(psql_at "$COPY_PORT" "SELECT string_agg(what, ',' ORDER BY id) FROM t")"
	copy_stop "$BD_TMP/r1"
fi
if [ "$(id -u)" = 0 ]; then
	# pitr as root gives the copy to the data directory's owner: a key file of
	# root's is one its restore_command (wal-get) refuses to read
	ROOTKEY="$BD_TMP/wal-root.key"
	(umask 077 && cp "$WKEY" "$ROOTKEY")
	own_dir "$BD_TMP/r3"
	run "$DBRESTORE" pitr --repo "$WREPO" --name src --data-dir "$BD_TMP/r3/data" --encryption-key-file "$ROOTKEY"
	assert_rc "pitr as root with a key the server's user cannot use: exit 2" 2
	assert_output_contains "it names the key file and its owner" "'$ROOTKEY' belongs to uid 0"
	check_not "nothing was written" test -e "$BD_TMP/r3/data"
fi

# --------------------------------------------------------------------------
note "MySQL round trip through an encrypted repository"
mariadb_start
my_db_create msrc
check "MySQL corner-case database loads" my_sql_file msrc "$HERE/mysql_corner_cases.sql"
MREPO="$BD_TMP/mrepo"
MYSQL_PWD="$MY_PASSWORD" run "$BACKUPD" dump --source "$(my_uri msrc)" --repo "$MREPO" --name msrc --jobs 2 \
	--encryption-key-file "$KEY"
assert_rc "encrypted MySQL dump" 0
check "MySQL objects are encrypted; no path names the database or a table" no_plaintext "$MREPO" msrc big data schema
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$MREPO" --name msrc --to "$(my_uri mdst_nokey)" --create
assert_rc "MySQL restore without the key: exit 2" 2
check_not "no MySQL database created without the key" my_db_exists mdst_nokey
MYSQL_PWD="$MY_PASSWORD" run "$DBRESTORE" restore --repo "$MREPO" --name msrc --to "$(my_uri mdst)" --jobs 2 --create \
	--encryption-key-file "$KEY"
assert_rc "MySQL restore from the encrypted repository" 0
check "restored MySQL database matches the source" my_compare msrc mdst

finish
