#!/usr/bin/env bash
# Roles and ownership on restore (PostgreSQL): the roles a backup's objects,
# grants and policies reference are checked against the target before
# anything is created (one error listing them all); --roles creates them
# (attributes, never a password), --owner ROLE gives everything to ROLE,
# --role-map OLD=NEW renames.
source "$(dirname "$0")/lib.sh"

require_binaries
pg_start

REPO="$BD_TMP/repo"
drop_roles() {
	psql_q postgres "DROP ROLE IF EXISTS rl_owner; DROP ROLE IF EXISTS rl_reader; DROP ROLE IF EXISTS \"Rl Odd\"; DROP ROLE IF EXISTS rl_login" >/dev/null
}
created_dbs() { psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'rl\_%' OR datname LIKE 'backupd\_restore\_%'"; }
# owners DB: every distinct owner of the database, its schema app, its relations, functions and large objects
owners() {
	psql_q "$1" "SELECT string_agg(DISTINCT o, ',') FROM (
	  SELECT pg_get_userbyid(relowner) o FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname IN ('app', 'public')
	  UNION SELECT pg_get_userbyid(proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = pronamespace WHERE nspname = 'app'
	  UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app'
	  UNION SELECT pg_get_userbyid(lomowner) FROM pg_largeobject_metadata
	  UNION SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) s"
}

psql_q postgres "CREATE ROLE rl_owner NOLOGIN CREATEDB; CREATE ROLE rl_reader NOLOGIN; CREATE ROLE \"Rl Odd\" NOLOGIN;
CREATE ROLE rl_login LOGIN PASSWORD 'rl-secret-password' CONNECTION LIMIT 3" >/dev/null
add_secret rl-secret-password
db_create rsrc
psql_q rsrc "CREATE SCHEMA app AUTHORIZATION rl_owner;
CREATE TABLE app.t (id int PRIMARY KEY, owner name DEFAULT current_user, v text);
INSERT INTO app.t SELECT g, 'u' || g, 'v' || g FROM generate_series(1, 100) g;
ALTER TABLE app.t OWNER TO rl_owner;
ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
CREATE POLICY t_reader ON app.t FOR SELECT TO rl_reader USING (true);
CREATE POLICY t_own ON app.t USING (owner = current_user);
GRANT USAGE ON SCHEMA app TO rl_reader, \"Rl Odd\";
GRANT SELECT ON app.t TO rl_reader;
GRANT SELECT (id) ON app.t TO \"Rl Odd\";
CREATE FUNCTION app.f() RETURNS text LANGUAGE sql AS \$\$ SELECT 'GRANT x TO rl_reader' \$\$;
ALTER FUNCTION app.f() OWNER TO rl_owner;
CREATE TABLE public.by_login (id int);
ALTER TABLE public.by_login OWNER TO rl_login;
SELECT lo_from_bytea(610001, 'blob');
ALTER LARGE OBJECT 610001 OWNER TO rl_owner;
GRANT SELECT ON LARGE OBJECT 610001 TO rl_reader;" >/dev/null

run "$BACKUPD" dump --source "$(pg_uri rsrc)" --repo "$REPO" --name rsrc
assert_rc "dump of a database whose objects name four roles" 0
ID="$(last_line)"
check "the manifest records the roles, their uses and attributes, no password" python3 -c '
import json,sys
roles = {r["name"]: r for r in json.load(open(sys.argv[1]))["info"]["roles"]}
assert set(roles) >= {"rl_owner", "rl_reader", "Rl Odd", "rl_login"}, roles
assert sorted(roles["rl_owner"]["uses"]) == ["owner"], roles["rl_owner"]
assert "policy" in roles["rl_reader"]["uses"] and "acl" in roles["rl_reader"]["uses"], roles["rl_reader"]
assert roles["rl_owner"]["createdb"] is True and roles["rl_login"]["login"] is True, roles
assert roles["rl_login"]["connection_limit"] == 3, roles
assert "password" not in json.dumps(roles), roles' "$REPO/rsrc/backups/$ID/manifest.json"
check_not "no password in the repository" grep -r -q -F rl-secret-password "$REPO"
db_drop rsrc
drop_roles

# --------------------------------------------------------------------------
note "missing roles: one error listing them all, before anything is created"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_plain)" --create
assert_rc "restore onto a server without the roles exits 1" 1
assert_output_contains "the error lists the owner" "rl_owner"
assert_output_contains "and the reader" "rl_reader"
assert_output_contains "and the quoted one" "Rl Odd"
assert_output_contains "and the login role" "rl_login"
assert_output_contains "and says what to do" "pass --roles"
assert_eq "nothing was created" 0 "$(created_dbs)"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_noown)" --create --no-owner --no-privileges
assert_rc "--no-owner --no-privileges still needs the policy's role" 1
assert_output_contains "the error names it" "1 role the backup's objects, grants or policies reference: rl_reader"
assert_eq "nothing was created" 0 "$(created_dbs)"

# --------------------------------------------------------------------------
note "--roles creates them"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_roles)" --create --roles
assert_rc "restore --roles succeeds" 0
assert_eq "roles created with their attributes, login without a password" \
	"Rl Odd false false -1 true|rl_login true false 3 true|rl_owner false true -1 true|rl_reader false false -1 true" \
	"$(psql_q postgres "SELECT string_agg(rolname || ' ' || rolcanlogin || ' ' || rolcreatedb || ' ' || rolconnlimit || ' ' || (rolpassword IS NULL), '|' ORDER BY rolname) FROM pg_authid WHERE rolname IN ('rl_owner', 'rl_reader', 'Rl Odd', 'rl_login')")"
assert_eq "owners as in the source" "rl_owner rl_owner rl_login" \
	"$(psql_q rl_roles "SELECT (SELECT tableowner FROM pg_tables WHERE tablename = 't') || ' ' || pg_get_userbyid(lomowner) || ' ' || (SELECT tableowner FROM pg_tables WHERE tablename = 'by_login') FROM pg_largeobject_metadata")"
assert_eq "policy roles as in the source" "t_own {public}|t_reader {rl_reader}" \
	"$(psql_q rl_roles "SELECT string_agg(policyname || ' ' || roles::text, '|' ORDER BY policyname) FROM pg_policies")"
assert_eq "grants as in the source" "rl_reader SELECT" \
	"$(psql_q rl_roles "SELECT grantee || ' ' || privilege_type FROM information_schema.role_table_grants WHERE table_name = 't' AND grantee <> 'rl_owner'")"
assert_eq "the large object's grant" '{rl_owner=rw/rl_owner,rl_reader=r/rl_owner}' \
	"$(psql_q rl_roles "SELECT lomacl FROM pg_largeobject_metadata")"
assert_no_secrets_in_output "no password in any output"

# --------------------------------------------------------------------------
note "--owner ROLE and --role-map OLD=NEW"
db_drop rl_roles
drop_roles
psql_q postgres "CREATE ROLE app_owner NOLOGIN; CREATE ROLE app_reader NOLOGIN" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_mapped)" --create \
	--owner app_owner --role-map rl_reader=app_reader --role-map "Rl Odd=app_reader"
assert_rc "restore --owner --role-map succeeds without any source role" 0
assert_eq "every object is app_owner's" "app_owner" \
	"$(owners rl_mapped)"
assert_eq "the policy names the mapped role" "t_own {public}|t_reader {app_reader}" \
	"$(psql_q rl_mapped "SELECT string_agg(policyname || ' ' || roles::text, '|' ORDER BY policyname) FROM pg_policies")"
assert_eq "grants go to the mapped role" "app_reader SELECT" \
	"$(psql_q rl_mapped "SELECT grantee || ' ' || privilege_type FROM information_schema.role_table_grants WHERE table_name = 't' AND grantee <> 'app_owner'")"
assert_eq "the column grant too" "app_reader" \
	"$(psql_q rl_mapped "SELECT grantee FROM information_schema.column_privileges WHERE table_name = 't' AND column_name = 'id' AND grantee <> 'app_owner' GROUP BY grantee")"
assert_eq "the large object's grant too" '{app_owner=rw/app_owner,app_reader=r/app_owner}' \
	"$(psql_q rl_mapped "SELECT lomacl FROM pg_largeobject_metadata")"
assert_eq "the function body kept its text" "GRANT x TO rl_reader" "$(psql_q rl_mapped "SELECT app.f()")"
assert_eq "all rows restored" 100 "$(psql_q rl_mapped "SELECT count(*) FROM app.t")"

note "a backup from before roles were recorded: --owner still rewrites every owner"
cp -a "$REPO/rsrc/backups/$ID" "$BD_TMP/roles-backup.saved"
python3 -c '
import json,sys
m = json.load(open(sys.argv[1]))
del m["info"]["roles"]
json.dump(m, open(sys.argv[1], "w"))' "$REPO/rsrc/backups/$ID/manifest.json"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_old)" --create \
	--owner app_owner --role-map rl_reader=app_reader --role-map "Rl Odd=app_reader"
assert_rc "restore --owner of an old-format backup succeeds" 0
assert_eq "every object is app_owner's" "app_owner" \
	"$(owners rl_old)"
rm -rf "$REPO/rsrc/backups/$ID" && mv "$BD_TMP/roles-backup.saved" "$REPO/rsrc/backups/$ID"

# --------------------------------------------------------------------------
note "refusals"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_x)" --create --owner no_such_role --role-map rl_reader=app_reader --role-map "Rl Odd=app_reader"
assert_rc "--owner naming a missing role exits 1" 1
assert_output_contains "the error names it" "--owner role 'no_such_role' does not exist on the target"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_x)" --create --owner app_owner
assert_rc "--owner alone still needs the grantees" 1
assert_output_contains "the error lists them" "Rl Odd, rl_reader"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_x)" --create --owner app_owner --no-owner
assert_rc "--owner with --no-owner exits 2" 2
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_x)" --create --role-map rl_reader
assert_rc "--role-map without '=' exits 2" 2
assert_output_contains "the error shows the form" "--role-map takes OLD=NEW"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri rl_x)" --create --role-map rl_raeder=app_reader --role-map "Rl Odd=app_reader"
assert_rc "a --role-map OLD the backup never references (a typo) exits 2" 2
assert_output_contains "it is named" "the database references no role 'rl_raeder'"
assert_eq "nothing was created by the refusals" 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = 'rl_x' OR datname LIKE 'backupd\_restore\_%'")"

# --------------------------------------------------------------------------
note "--provision DB --owner ROLE --env-file FILE"
MAPS=(--role-map rl_reader=app_reader --role-map "Rl Odd=app_reader")
ENVDIR="$BD_TMP/envs"
mkdir -p "$ENVDIR"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb --owner app_user "${MAPS[@]}"
assert_rc "--provision without --env-file exits 2" 2
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb3 --owner app_user3 --env-file "$ENVDIR/app3.env"
assert_rc "a provisioning restore that cannot complete (missing roles) exits 1" 1
assert_eq "the role it created is dropped again" 0 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user3'")"
assert_eq "no env file, not even a temporary one" "" "$(ls -A "$ENVDIR")"
check_not "no database" db_exists appdb3
# an env file path that is a directory is refused before anything is created
# (it used to fail only at the final rename, after the whole restore)
mkdir -p "$BD_TMP/envdir.env"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb5 --owner app_user5 \
	--env-file "$BD_TMP/envdir.env" "${MAPS[@]}"
assert_rc "a provisioning restore whose env file is a directory exits 2" 2
assert_output_contains "it says why" "cannot write the env file '$BD_TMP/envdir.env': it exists and is not a regular file"
check_not "no database under the target's name" db_exists appdb5
assert_eq "no role was created" 0 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user5'")"
check_not "and nothing started: no restore line" grep -q "restoring " "$RUN_ERR"

run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb --owner app_user \
	--env-file "$ENVDIR/app.env" "${MAPS[@]}"
assert_rc "restore --provision succeeds" 0
assert_eq "the env file is mode 0600" 600 "$(stat -c %a "$ENVDIR/app.env")"
URL_LINE="$(cat "$ENVDIR/app.env")"
APP_PW="$(sed -n 's|^DATABASE_URL=postgresql://app_user:\([A-Za-z0-9]*\)@.*|\1|p' "$ENVDIR/app.env")"
add_secret "$APP_PW"
assert_match "it holds DATABASE_URL with a 32-character password" \
	"^DATABASE_URL=postgresql://app_user:[A-Za-z0-9]{32}@127\.0\.0\.1:$PG_PORT/appdb\$" "$URL_LINE"
assert_eq "the application connects with it and sees its data" 100 \
	"$("$PG_BINDIR/psql" -X -A -t -d "${URL_LINE#DATABASE_URL=}" -c "SELECT count(*) FROM app.t")"
assert_eq "the role: login, not superuser/createdb/createrole, a SCRAM verifier" "t f f f t" \
	"$(psql_q postgres "SELECT rolcanlogin || ' ' || rolsuper || ' ' || rolcreatedb || ' ' || rolcreaterole || ' ' || (rolpassword LIKE 'SCRAM-SHA-256\$%') FROM pg_authid WHERE rolname = 'app_user'" | sed 's/true/t/g; s/false/f/g')"
assert_eq "the database and everything in it belong to app_user" "app_user" \
	"$(owners appdb)"
check_not "the password is not in the server's log" grep -q -F -- "$APP_PW" "$PG_DIR/log/postgresql.log"

run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb2 --owner app_user \
	--env-file "$ENVDIR/app2.env" "${MAPS[@]}"
assert_rc "an existing role is refused without --reuse-role" 1
assert_output_contains "the error says so" "role 'app_user' already exists: pass --reuse-role"
check_not "nothing created" db_exists appdb2
check_not "no env file" test -e "$ENVDIR/app2.env"
VERIFIER="$(psql_q postgres "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'")"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb2 --owner app_user \
	--env-file "$ENVDIR/app2.env" --reuse-role "${MAPS[@]}"
assert_rc "--reuse-role succeeds" 0
assert_eq "the env file has no password" "DATABASE_URL=postgresql://app_user@127.0.0.1:$PG_PORT/appdb2" "$(cat "$ENVDIR/app2.env")"
assert_eq "the role's password is unchanged" "$VERIFIER" "$(psql_q postgres "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'")"

psql_q appdb "COMMENT ON TABLE app.t IS 'kept'" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb --owner app_user4 \
	--env-file "$ENVDIR/app4.env" "${MAPS[@]}"
assert_rc "an existing database is refused" 1
assert_output_contains "the error names it" "database 'appdb' already exists"
assert_eq "and it is untouched" "kept 100" "$(psql_q appdb "SELECT obj_description('app.t'::regclass) || ' ' || count(*) FROM app.t")"
assert_eq "no role was created" 0 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user4'")"

# --------------------------------------------------------------------------
note "--provision failing late (connection lost at the final rename): no role, database or env file"
shim_build
run env LD_PRELOAD="$SHIM_PRELOAD" KILLSHIM_FAIL_ON="RENAME TO" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb5 --owner app_user5 --env-file "$ENVDIR/app5.env" "${MAPS[@]}"
assert_rc "connection lost at the rename, after the role and the database exist: exit 1" 1
assert_output_contains "it says why" "cannot rename the restored database to 'appdb5'"
assert_output_contains "the role it created is dropped" "dropped role \"app_user5\", created for the failed restore"
assert_eq "the role is gone" 0 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user5'")"
check_not "no database under the target's name" db_exists appdb5
assert_eq "nor under the temporary name" 0 "$(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'backupd\_restore\_%'")"
check_not "no env file" test -e "$ENVDIR/app5.env"
check_not "nor the env file's temporary file" compgen -G "$ENVDIR/app5.env.*"

# --------------------------------------------------------------------------
note "--provision killed (SIGKILL) after its CREATE ROLE: the next run of it recovers the role it left"
app_count() { "$PG_BINDIR/psql" -X -A -t -d "$(sed -n 's/^DATABASE_URL=//p' "$1")" -c "SELECT count(*) FROM app.t"; }
run_killed KILLSHIM_KILL_AFTER="CREATE ROLE" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb6 --owner app_user6 --env-file "$ENVDIR/app6.env" "${MAPS[@]}"
assert_rc "killed right after sending CREATE ROLE" 137
assert_match "the role is there, marked as an unfinished provisioning's" "^backupd: provisioning of database 'appdb6' in progress" \
	"$(psql_q postgres "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'app_user6'")"
check_not "no env file" test -e "$ENVDIR/app6.env"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb6 --owner app_user6 \
	--env-file "$ENVDIR/app6.env" "${MAPS[@]}"
assert_rc "the rerun succeeds" 0
assert_output_contains "it says what it did, once" "role 'app_user6' was left by an interrupted provisioning of 'appdb6'"
add_secret "$(sed -n 's|^DATABASE_URL=postgresql://app_user6:\([A-Za-z0-9]*\)@.*|\1|p' "$ENVDIR/app6.env")"
assert_match "the env file holds a password" "^DATABASE_URL=postgresql://app_user6:[A-Za-z0-9]{32}@" "$(cat "$ENVDIR/app6.env")"
assert_eq "the application connects with it and sees its data" 100 "$(app_count "$ENVDIR/app6.env")"
assert_eq "the mark is gone" "" "$(psql_q postgres "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'app_user6'")"
assert_eq "the database belongs to the role" "app_user6" "$(owners appdb6)"

# killed in the middle of the load: the role owns objects in the temporary database
run_killed KILLSHIM_KILL_AFTER="COPY " "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb7 --owner app_user7 --env-file "$ENVDIR/app7.env" "${MAPS[@]}"
assert_rc "killed during the load" 137
assert_eq "the role is left" 1 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user7'")"
# --reuse-role used to write an env file without a password for such a role
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb7 --owner app_user7 \
	--env-file "$ENVDIR/app7.env" --reuse-role "${MAPS[@]}"
assert_rc "the rerun (with --reuse-role) succeeds" 0
assert_output_contains "the killed run's temporary database is dropped" "dropping database 'backupd_restore_"
assert_output_contains "and the role recreated" "role 'app_user7' was left by an interrupted provisioning of 'appdb7'"
add_secret "$(sed -n 's|^DATABASE_URL=postgresql://app_user7:\([A-Za-z0-9]*\)@.*|\1|p' "$ENVDIR/app7.env")"
assert_eq "the application connects with the env file's URL and sees its data" 100 "$(app_count "$ENVDIR/app7.env")"

# a role made by hand, or marked for another database, is refused as ever
psql_q postgres "CREATE ROLE app_user8 LOGIN; CREATE ROLE app_user9 LOGIN;
COMMENT ON ROLE app_user9 IS 'backupd: provisioning of database ''appdb_other'' in progress; dropped by its next run if unfinished'" >/dev/null
for r in app_user8 app_user9; do
	run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb8 --owner "$r" \
		--env-file "$ENVDIR/app8.env" "${MAPS[@]}"
	assert_rc "$r: not left by an unfinished run of this provisioning: refused" 1
	assert_output_contains "$r: as before" "role '$r' already exists: pass --reuse-role"
	check_not "$r: nothing created" db_exists appdb8
	assert_eq "$r: the role is kept" 1 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = '$r'")"
done
check_not "no env file" test -e "$ENVDIR/app8.env"

# --------------------------------------------------------------------------
note "--provision killed (SIGKILL) after the final rename, before the env file: the next run of it completes it"
role_note() { psql_q postgres "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = '$1'"; }
run_killed KILLSHIM_KILL_AFTER="RENAME TO" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb10 --owner app_user10 --env-file "$ENVDIR/app10.env" "${MAPS[@]}"
assert_rc "killed right after sending the final rename" 137
# the server runs the killed run's last statement alone
check "the database is there under its name" wait_for 20 db_exists appdb10
assert_match "the role carries the second mark, for that database's OID" \
	"^backupd: provisioning of database 'appdb10' complete as database oid $(psql_q postgres "SELECT oid FROM pg_database WHERE datname = 'appdb10'");" \
	"$(role_note app_user10)"
check_not "no env file" test -e "$ENVDIR/app10.env"
# another role's provisioning of that database is refused as ever
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb10 --owner app_user11 \
	--env-file "$ENVDIR/app10.env" "${MAPS[@]}"
assert_rc "another role's provisioning of it is refused" 1
assert_output_contains "as any existing database" "database 'appdb10' already exists"
assert_eq "no role was created" 0 "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user11'")"
check_not "no env file" test -e "$ENVDIR/app10.env"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb10 --owner app_user10 \
	--env-file "$ENVDIR/app10.env" "${MAPS[@]}"
assert_rc "the rerun completes it" 0
assert_output_contains "it says so in one line" "completed an interrupted provisioning of 'appdb10'"
check_not "without restoring anything" grep -q "restoring " "$RUN_ERR"
add_secret "$(sed -n 's|^DATABASE_URL=postgresql://app_user10:\([A-Za-z0-9]*\)@.*|\1|p' "$ENVDIR/app10.env")"
assert_eq "the env file is mode 0600" 600 "$(stat -c %a "$ENVDIR/app10.env")"
assert_match "it holds a new password" "^DATABASE_URL=postgresql://app_user10:[A-Za-z0-9]{32}@127\.0\.0\.1:$PG_PORT/appdb10\$" \
	"$(cat "$ENVDIR/app10.env")"
assert_eq "the application connects with it and sees its data" 100 "$(app_count "$ENVDIR/app10.env")"
assert_eq "the mark is gone" "" "$(role_note app_user10)"
assert_eq "the database and everything in it belong to the role" "app_user10" "$(owners appdb10)"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb10 --owner app_user10 \
	--env-file "$ENVDIR/app10.env" "${MAPS[@]}"
assert_rc "once complete, the database is refused again" 1
assert_output_contains "as any existing database" "database 'appdb10' already exists"
assert_eq "the application still connects" 100 "$(app_count "$ENVDIR/app10.env")"

# the mark names the database's OID: one of that name made since (by hand) is not the killed run's
run_killed KILLSHIM_KILL_AFTER="RENAME TO" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb12 --owner app_user12 --env-file "$ENVDIR/app12.env" "${MAPS[@]}"
assert_rc "killed right after sending the final rename" 137
wait_for 20 db_exists appdb12 || true
psql_q postgres "DROP DATABASE appdb12" >/dev/null
psql_q postgres "CREATE DATABASE appdb12" >/dev/null
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb12 --owner app_user12 \
	--env-file "$ENVDIR/app12.env" "${MAPS[@]}"
assert_rc "a database of that name made by hand is refused" 1
assert_output_contains "as before" "database 'appdb12' already exists"
check_not "no env file" test -e "$ENVDIR/app12.env"
assert_match "the role keeps its mark" "^backupd: provisioning of database 'appdb12' complete" "$(role_note app_user12)"

# --------------------------------------------------------------------------
note "--provision whose clearing of the role's mark fails: a rerun keeps the password the env file holds"
verifier() { psql_q postgres "SELECT rolpassword FROM pg_authid WHERE rolname = '$1'"; }
env_pw() { sed -n "s|^DATABASE_URL=postgresql://$1:\([A-Za-z0-9]*\)@.*|\1|p" "$2"; }
# the connection lost at the mark's COMMENT ... IS NULL: the env file is in place, the mark stays
run env LD_PRELOAD="$SHIM_PRELOAD" KILLSHIM_FAIL_ON='COMMENT ON ROLE "app_user13" IS NULL' "$DBRESTORE" restore \
	--repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb13 --owner app_user13 \
	--env-file "$ENVDIR/app13.env" "${MAPS[@]}"
assert_rc "the provisioning is complete though its mark is not cleared: exit 0" 0
assert_output_contains "a warning says so" "cannot clear the role's provisioning mark"
add_secret "$(env_pw app_user13 "$ENVDIR/app13.env")"
assert_match "the role keeps the second mark, naming its password's fingerprint" \
	"^backupd: provisioning of database 'appdb13' complete as database oid [0-9]+; env file password fingerprint [0-9a-f]{32}:[0-9a-f]{64}:" \
	"$(role_note app_user13)"
ENV13="$(cat "$ENVDIR/app13.env")"
VERIFIER13="$(verifier app_user13)"
assert_eq "the application connects with the env file" 100 "$(app_count "$ENVDIR/app13.env")"
# the same provisioning run again used to give the role a new password and
# rewrite the env file, breaking an application that had read it
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb13 --owner app_user13 \
	--env-file "$ENVDIR/app13.env" "${MAPS[@]}"
assert_rc "the rerun finishes it" 0
assert_output_contains "it says the env file already held the role's password" \
	"completed an interrupted provisioning of 'appdb13': the database was complete and '$ENVDIR/app13.env' already holds the password of role 'app_user13' (left unchanged)"
check_not "without restoring anything" grep -q "restoring " "$RUN_ERR"
assert_eq "the role's password is unchanged" "$VERIFIER13" "$(verifier app_user13)"
assert_eq "the env file is unchanged" "$ENV13" "$(cat "$ENVDIR/app13.env")"
assert_eq "the application still connects with it" 100 "$(app_count "$ENVDIR/app13.env")"
assert_eq "the mark is gone" "" "$(role_note app_user13)"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb13 --owner app_user13 \
	--env-file "$ENVDIR/app13.env" "${MAPS[@]}"
assert_rc "then the database is refused as any existing one" 1
assert_eq "and the password still unchanged" "$VERIFIER13" "$(verifier app_user13)"

# the completing rerun (after a kill at the final rename) failing its own clearing: the same
run_killed KILLSHIM_KILL_AFTER="RENAME TO" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb14 --owner app_user14 --env-file "$ENVDIR/app14.env" "${MAPS[@]}"
assert_rc "killed right after sending the final rename" 137
check "the database is there under its name" wait_for 20 db_exists appdb14
run env LD_PRELOAD="$SHIM_PRELOAD" KILLSHIM_FAIL_ON='COMMENT ON ROLE "app_user14" IS NULL' "$DBRESTORE" restore \
	--repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb14 --owner app_user14 \
	--env-file "$ENVDIR/app14.env" "${MAPS[@]}"
assert_rc "the completing rerun succeeds though its clearing fails" 0
assert_output_contains "a warning says so" "cannot clear the role's provisioning mark"
assert_output_contains "it gave the role a new password" "role 'app_user14' has a new password, written to '$ENVDIR/app14.env'"
add_secret "$(env_pw app_user14 "$ENVDIR/app14.env")"
assert_eq "the application connects with the env file" 100 "$(app_count "$ENVDIR/app14.env")"
assert_match "the mark names the new password's fingerprint" \
	"^backupd: provisioning of database 'appdb14' complete as database oid [0-9]+; env file password fingerprint " \
	"$(role_note app_user14)"
ENV14="$(cat "$ENVDIR/app14.env")"
VERIFIER14="$(verifier app_user14)"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb14 --owner app_user14 \
	--env-file "$ENVDIR/app14.env" "${MAPS[@]}"
assert_rc "a third run finishes it" 0
assert_output_contains "keeping the password the env file holds" "already holds the password of role 'app_user14' (left unchanged)"
assert_eq "the role's password is unchanged" "$VERIFIER14" "$(verifier app_user14)"
assert_eq "the env file is unchanged" "$ENV14" "$(cat "$ENVDIR/app14.env")"
assert_eq "the application still connects" 100 "$(app_count "$ENVDIR/app14.env")"
assert_eq "the mark is gone" "" "$(role_note app_user14)"

# an env file that does not hold the marked password (another one, by hand) is rewritten, with a new password
run_killed KILLSHIM_KILL_AFTER="RENAME TO" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb16 --owner app_user16 --env-file "$ENVDIR/app16.env" "${MAPS[@]}"
assert_rc "killed right after sending the final rename" 137
check "the database is there under its name" wait_for 20 db_exists appdb16
printf 'DATABASE_URL=postgresql://app_user16:NotTheRolesPassword0123456789abc@127.0.0.1:%s/appdb16\n' "$PG_PORT" \
	>"$ENVDIR/app16.env"
add_secret NotTheRolesPassword0123456789abc
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb16 --owner app_user16 \
	--env-file "$ENVDIR/app16.env" "${MAPS[@]}"
assert_rc "the rerun completes it" 0
assert_output_contains "with a new password" "role 'app_user16' has a new password, written to '$ENVDIR/app16.env'"
add_secret "$(env_pw app_user16 "$ENVDIR/app16.env")"
assert_eq "the application connects with the rewritten env file" 100 "$(app_count "$ENVDIR/app16.env")"
assert_eq "the mark is gone" "" "$(role_note app_user16)"

# --------------------------------------------------------------------------
note "--provision killed after the final rename, its completing rerun killed too: a third run finishes it"
run_killed KILLSHIM_KILL_AFTER="RENAME TO" "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb15 --owner app_user15 --env-file "$ENVDIR/app15.env" "${MAPS[@]}"
assert_rc "killed right after sending the final rename" 137
check "the database is there under its name" wait_for 20 db_exists appdb15
# the completing rerun killed right after sending its ALTER ROLE (the new
# password and mark, which the server commits alone), before the env file
run_killed KILLSHIM_KILL_AFTER='ALTER ROLE "app_user15" PASSWORD' "$DBRESTORE" restore --repo "$REPO" --name rsrc \
	--to "$(pg_uri postgres)" --provision appdb15 --owner app_user15 --env-file "$ENVDIR/app15.env" "${MAPS[@]}"
assert_rc "the completing rerun killed right after sending its ALTER ROLE" 137
check_not "no env file" test -e "$ENVDIR/app15.env"
check_not "nor its temporary file" compgen -G "$ENVDIR/app15.env.*"
assert_match "the role still carries the second mark" "^backupd: provisioning of database 'appdb15' complete as database oid " \
	"$(role_note app_user15)"
run "$DBRESTORE" restore --repo "$REPO" --name rsrc --to "$(pg_uri postgres)" --provision appdb15 --owner app_user15 \
	--env-file "$ENVDIR/app15.env" "${MAPS[@]}"
assert_rc "a third run finishes it" 0
assert_output_contains "it says so in one line" "completed an interrupted provisioning of 'appdb15'"
check_not "without restoring anything" grep -q "restoring " "$RUN_ERR"
add_secret "$(env_pw app_user15 "$ENVDIR/app15.env")"
assert_eq "the env file is mode 0600" 600 "$(stat -c %a "$ENVDIR/app15.env")"
assert_match "it holds a password" "^DATABASE_URL=postgresql://app_user15:[A-Za-z0-9]{32}@127\.0\.0\.1:$PG_PORT/appdb15\$" \
	"$(cat "$ENVDIR/app15.env")"
assert_eq "the application connects with it and sees its data" 100 "$(app_count "$ENVDIR/app15.env")"
assert_eq "the role: login, not superuser/createdb/createrole" "t f f f" \
	"$(psql_q postgres "SELECT rolcanlogin || ' ' || rolsuper || ' ' || rolcreatedb || ' ' || rolcreaterole FROM pg_roles WHERE rolname = 'app_user15'" | sed 's/true/t/g; s/false/f/g')"
assert_eq "the database and everything in it belong to the role" "app_user15" "$(owners appdb15)"
assert_eq "the mark is gone" "" "$(role_note app_user15)"

assert_no_secrets_in_output "the generated password never appears in any output"

finish
