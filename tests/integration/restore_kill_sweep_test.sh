#!/usr/bin/env bash
# restore --create SIGKILLed right after each statement it sends (long
# variant only: BD_LONG=1 or --long; otherwise it skips at once).  Random
# kills (faults_test.sh) land in a short window between two statements
# rarely: CI once met one (MariaDB, between the target's CREATE DATABASE and
# the RENAME).  Here an LD_PRELOAD shim (killshim.c) kills dbrestore after
# its Nth send to the server, which goes on executing that statement alone,
# for every N among the first SWEEP_HEAD and the last SWEEP_TAIL sends of an
# uninterrupted restore (the claim and temporary database; the publishing
# and the markers) and every SWEEP_STEP-th in between (the data), into
# PostgreSQL and MariaDB, from the corner-case databases.  After each kill:
# no database under the target's name, or the whole one (compared with the
# source), or (MariaDB) one marked in progress; the next restore --create
# succeeds at once and leaves no temporary database.
#   SWEEP_HEAD (25)  SWEEP_TAIL (70)  SWEEP_STEP (60)  SWEEP_ENGINES ("pg my")
source "$(dirname "$0")/lib.sh"

LONG="${BD_LONG:-0}"
for arg in "$@"; do
	case "$arg" in
	--long) LONG=1 ;;
	*)
		echo "restore_kill_sweep_test.sh: unknown option '$arg'" >&2
		exit 2
		;;
	esac
done
if [ "$LONG" != 1 ]; then
	note "SKIP - a long variant: BD_LONG=1 or --long"
	finish
fi
if [ "${BD_ASAN:-0}" = 1 ]; then
	# the shim would have to come after ASan's runtime in the link order
	note "SKIP - not under ASan (LD_PRELOAD shim)"
	finish
fi
require_binaries
HERE="$(dirname "$0")"
HEAD="${SWEEP_HEAD:-25}"
TAIL="${SWEEP_TAIL:-70}"
STEP="${SWEEP_STEP:-60}"
ENGINES="${SWEEP_ENGINES:-pg my}"
SHIM="$BD_TMP/killshim.so"
check "the kill shim builds" "${CC:-cc}" -O2 -shared -fPIC -o "$SHIM" "$HERE/killshim.c" -ldl
REPO="$BD_TMP/repo"

my_marked() {
	my_table_exists "$1" backupd_restore_in_progress ||
		[ "$(my_sql "" "SELECT schema_comment FROM information_schema.schemata WHERE schema_name = '$1'")" = "backupd: restore in progress" ]
}
exists_pg() { db_exists "$1"; }
drop_pg() { db_drop "$1"; }
whole_pg() { pg_compare srcpg "$1"; }
temps_pg() { psql_q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'backupd\_restore\_%'"; }
exists_my() { my_db_exists "$1"; }
drop_my() { my_db_drop "$1"; }
whole_my() { my_compare srcmy "$1"; }
temps_my() { my_sql "" "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'backupd\_restore\_%'"; }

# sweep E TARGET-URI
sweep() {
	local e="$1" to="$2" total n rc state swept=0
	local cmd=("$DBRESTORE" restore --repo "$REPO" --name "src$e" --backup latest --to "$to" --jobs 2 --create)
	run env LD_PRELOAD="$SHIM" KILLSHIM_COUNT="$BD_TMP/sends" "${cmd[@]}"
	assert_rc "$e: an uninterrupted restore --create (under the shim)" 0
	total="$(cat "$BD_TMP/sends" 2>/dev/null || echo 0)"
	note "$e: $total sends in an uninterrupted restore"
	"drop_$e" rst
	for n in $(seq 1 "$total"); do
		if [ "$n" -gt "$HEAD" ] && [ "$n" -le $((total - TAIL)) ] && [ $((n % STEP)) -ne 0 ]; then
			continue
		fi
		swept=$((swept + 1))
		rc=0
		env LD_PRELOAD="$SHIM" KILLSHIM_AT="$n" "${cmd[@]}" >"$BD_TMP/kill.out" 2>"$BD_TMP/kill.err" </dev/null &
		{ wait $! || rc=$?; } 2>/dev/null # (the shell's "Killed" line)
		cat "$BD_TMP/kill.out" "$BD_TMP/kill.err" >>"$BD_ALL_OUTPUT"
		state=absent
		if "exists_$e" rst; then
			if [ "$e" = my ] && my_marked rst; then
				state=marked
			elif "whole_$e" rst >"$BD_TMP/compare.out" 2>&1; then
				state=whole
			else
				state=half
				fail "$e, killed after send $n (exit $rc): the target is there, unmarked and not whole" \
					"$(head -n 5 "$BD_TMP/compare.out")"
			fi
		fi
		run "${cmd[@]}"
		if [ "$state" = whole ]; then
			# the kill came after the end: a new --create is refused
			assert_rc "$e, killed after send $n (exit $rc): the target is whole, a new --create refused" 1
		else
			assert_rc "$e, killed after send $n (exit $rc, target $state): the next restore --create succeeds at once" 0
		fi
		assert_eq "$e, killed after send $n: no temporary database is left" 0 "$("temps_$e")"
		"drop_$e" rst
	done
	note "$e: $swept kill points"
}

if [[ " $ENGINES " == *" pg "* ]]; then
	pg_start
	db_create srcpg
	check "the PostgreSQL corner-case database loads" psql_file srcpg "$HERE/pg_corner_cases.sql"
	run "$BACKUPD" dump --repo "$REPO" --name srcpg --source "$(pg_uri srcpg)"
	assert_rc "its dump" 0
	sweep pg "$(pg_uri rst)"
fi
if [[ " $ENGINES " == *" my "* ]]; then
	mariadb_start
	export MYSQL_PWD="$MY_PASSWORD"
	my_db_create srcmy
	check "the MariaDB corner-case database loads" my_sql_file srcmy "$HERE/mysql_corner_cases.sql"
	run "$BACKUPD" dump --repo "$REPO" --name srcmy --source "$(my_uri srcmy)"
	assert_rc "its dump" 0
	sweep my "$(my_uri rst)"
fi
finish
