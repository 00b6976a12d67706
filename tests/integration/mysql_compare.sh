#!/usr/bin/env bash
# Compare two MySQL/MariaDB databases: schema and every row.
#
#   MY_CNF=client.cnf [MY_CNF2=other.cnf] mysql_compare.sh DB1 DB2
#
# MY_CNF is a client option file ([client] user/password/host/port) for the
# server holding DB1; DB2 is on the same server unless MY_CNF2 names another.
# Compared:
#   - the database's default character set and collation
#   - the tables (type, engine, collation, options, comment) and, per table,
#     SHOW CREATE TABLE (AUTO_INCREMENT included)
#   - per table, every row: an ordered SELECT in which every string/binary
#     column is HEX()ed (raw bytes, NULL distinct from 'NULL' and '\N'), BIT as
#     a number, spatial values as HEX of the stored value (SRID included),
#     FLOAT widened to DOUBLE, the rest (numbers, temporal) as text, in time
#     zone +00:00; generated columns included.  Row files are digested and
#     only differing tables are diffed.
#   - views (SHOW CREATE VIEW + client character set), triggers (statement,
#     timing, order, sql_mode, character sets), routines (SHOW CREATE
#     PROCEDURE/FUNCTION: body, sql_mode, character sets), events (SHOW CREATE
#     EVENT + status), and each view's, trigger's, routine's and event's
#     creation context from information_schema (character_set_client,
#     collation_connection, database collation).
# DEFINER clauses are ignored (a restore creates objects as its own user) and
# the database's own name inside definitions is normalised.  Names containing
# a tab or a newline are not supported.
#
# Prints the differences and exits 1 if there are any, 0 if the databases are
# the same, 2 on usage or connection errors.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: MY_CNF=FILE [MY_CNF2=FILE] mysql_compare.sh DB1 DB2" >&2
	exit 2
fi
if [ -z "${MY_CNF:-}" ] || [ ! -r "$MY_CNF" ]; then
	echo "mysql_compare.sh: MY_CNF must name a readable client option file" >&2
	exit 2
fi
DB1="$1"
DB2="$2"
CNF1="$MY_CNF"
CNF2="${MY_CNF2:-$MY_CNF}"
MARIADB="${MARIADB_CLIENT:-/usr/bin/mariadb}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mysql-compare.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# q CNF SQL: raw tab-separated rows, no headers, utf8mb4, UTC, and a fixed
# sql_mode (SHOW CREATE output and string literals depend on it).
q() {
	local cnf="$1"
	shift
	"$MARIADB" --defaults-file="$cnf" --default-character-set=utf8mb4 -N -B -r \
		--init-command="SET time_zone = '+00:00', sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'" -e "$*"
}

# An SQL string literal, and a `identifier`, into $REPLY: the loops over
# every table and column call them hundreds of times, and a $(...) is a fork
# (milliseconds each on a loaded 2-core machine: most of this script's time
# when they printed).
lit_r() {
	local s="${1//\\/\\\\}"
	REPLY="'${s//\'/\'\'}'"
}
ident_r() { REPLY="\`${1//\`/\`\`}\`"; }

# Definitions: drop DEFINER=..., replace the database's own name.
normalize() {
	local qdb text
	ident_r "$1"
	qdb="$REPLY"
	text="$(sed -E 's/ ?DEFINER=(`([^`]|``)*`|[^ @]+)@(`([^`]|``)*`|[^ ]+)//')"
	printf '%s\n' "${text//"$qdb."/\`<db>\`.}"
}

# Marker lines between the results of one batch of statements (the client
# runs them all in one connection); no data line can look like one.
MARK='@@compare-object@@'
mark_r() { REPLY="SELECT '$MARK $1';"; }

# snapshot CNF DB OUTDIR: everything compared, as text files
snapshot() {
	local cnf="$1" db="$2" out="$3" ldb qdb
	lit_r "$db"
	ldb="$REPLY"
	ident_r "$db"
	qdb="$REPLY"
	mkdir -p "$out/rows"

	if [ "$(q "$cnf" "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = $ldb")" != 1 ]; then
		echo "mysql_compare.sh: database '$db' does not exist" >&2
		return 2
	fi

	q "$cnf" "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME
	          FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = $ldb" >"$out/database.txt"

	q "$cnf" "SELECT TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, ''), IFNULL(TABLE_COLLATION, ''),
	                 IFNULL(CREATE_OPTIONS, ''), TABLE_COMMENT
	          FROM information_schema.TABLES WHERE TABLE_SCHEMA = $ldb
	          ORDER BY BINARY TABLE_NAME" >"$out/tables.txt"

	# SHOW CREATE TABLE of base tables (and sequences), SHOW CREATE VIEW of views
	local name type tsql="" vsql=""
	local qname lname
	while IFS=$'\t' read -r name type _; do
		ident_r "$name"
		qname="$REPLY"
		if [ "$type" = VIEW ]; then
			lit_r "$name"
			lname="$REPLY"
			mark_r "view $qname"
			vsql+="$REPLY"$'\n'
			vsql+="SHOW CREATE VIEW $qdb.$qname;"$'\n'
			vsql+="SELECT CHECK_OPTION, IS_UPDATABLE, SECURITY_TYPE, ALGORITHM FROM information_schema.VIEWS
			        WHERE TABLE_SCHEMA = $ldb AND TABLE_NAME = $lname;
"
		else
			mark_r "table $qname"
			tsql+="$REPLY"$'\n'
			tsql+="SHOW CREATE TABLE $qdb.$qname;"$'\n'
		fi
	done <"$out/tables.txt"
	: >"$out/create-tables.txt"
	: >"$out/views.txt"
	if [ -n "$tsql" ]; then q "$cnf" "$tsql" | normalize "$db" >"$out/create-tables.txt"; fi
	if [ -n "$vsql" ]; then q "$cnf" "$vsql" | normalize "$db" >"$out/views.txt"; fi

	# Rows.  Columns of every table in one query, then one batch of SELECTs
	# split into one file per table.
	q "$cnf" "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE
	          FROM information_schema.COLUMNS c
	          JOIN information_schema.TABLES t
	            ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
	          WHERE c.TABLE_SCHEMA = $ldb AND t.TABLE_TYPE <> 'VIEW'
	          ORDER BY BINARY c.TABLE_NAME, c.ORDINAL_POSITION" >"$out/columns.txt"
	local i=0 table col dtype expr n rsql=""
	local -A exprs=() nexprs=()
	local -a order=()
	local qcol
	while IFS=$'\t' read -r table col dtype; do
		n=1
		ident_r "$col"
		qcol="$REPLY"
		case "$dtype" in
		bit) expr="$qcol + 0" ;;
		float) expr="CAST($qcol AS DOUBLE)" ;;
		double | real | decimal | tinyint | smallint | mediumint | int | bigint | \
			date | datetime | timestamp | time | year)
			expr="$qcol" ;;
		geometry | point | linestring | polygon | multipoint | multilinestring | \
			multipolygon | geometrycollection)
			expr="ST_SRID($qcol), HEX(ST_AsWKB($qcol)), HEX($qcol)"
			n=3
			;;
		*) expr="HEX($qcol)" ;;
		esac
		if [ -z "${exprs[$table]+x}" ]; then
			order+=("$table")
			exprs[$table]="$expr"
			nexprs[$table]=$n
		else
			exprs[$table]+=", $expr"
			nexprs[$table]=$((${nexprs[$table]} + n))
		fi
	done <"$out/columns.txt"
	: >"$out/rowfiles.txt"
	local k by
	for table in "${order[@]+"${order[@]}"}"; do
		i=$((i + 1))
		mark_r "$i"
		rsql+="$REPLY"$'\n'
		ident_r "$table"
		by=1
		for ((k = 2; k <= ${nexprs[$table]}; k++)); do by+=",$k"; done
		rsql+="SELECT ${exprs[$table]} FROM $qdb.$REPLY ORDER BY $by;"$'\n'
		printf '%s\t%s\n' "$table" "$out/rows/$i" >>"$out/rowfiles.txt"
		: >"$out/rows/$i"
	done
	if [ -n "$rsql" ]; then
		q "$cnf" "$rsql" | awk -v mark="$MARK" -v dir="$out/rows" '
			index($0, mark " ") == 1 { if (f) close(f); f = dir "/" substr($0, length(mark) + 2); next }
			{ print > f }'
	fi
	# per table: its name, row count and digest (one wc and one sha256sum
	# over all the files, joined by file name)
	: >"$out/data.txt"
	if [ -s "$out/rowfiles.txt" ]; then
		local -a files=()
		local f
		while IFS=$'\t' read -r _ f; do files+=("$f"); done <"$out/rowfiles.txt"
		{
			wc -l "${files[@]}" | awk '{ print "L\t" $2 "\t" $1 }'
			sha256sum "${files[@]}" | awk '{ print "S\t" $2 "\t" substr($1, 1, 16) }'
			sed 's/^/T\t/' "$out/rowfiles.txt"
		} | awk -F'\t' '$1 == "L" { n[$2] = $3 } $1 == "S" { d[$2] = $3 }
			$1 == "T" { printf "%s\t%s rows\t%s\n", $2, n[$3], d[$3] }' >"$out/data.txt"
	fi

	# Triggers
	q "$cnf" "SELECT '$MARK', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER,
	                 SQL_MODE, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION,
	                 ACTION_STATEMENT
	          FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = $ldb
	          ORDER BY BINARY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER" |
		normalize "$db" >"$out/triggers.txt"

	# Routines: SHOW CREATE gives name, sql_mode, the CREATE text,
	# character_set_client, collation_connection, database collation.
	local rtype osql=""
	q "$cnf" "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES
	          WHERE ROUTINE_SCHEMA = $ldb ORDER BY ROUTINE_TYPE, BINARY ROUTINE_NAME" >"$out/routine-names.txt"
	while IFS=$'\t' read -r rtype name; do
		ident_r "$name"
		qname="$REPLY"
		mark_r "$rtype $qname"
		osql+="$REPLY"$'\n'
		osql+="SHOW CREATE $rtype $qdb.$qname;"$'\n'
	done <"$out/routine-names.txt"
	: >"$out/routines.txt"
	if [ -n "$osql" ]; then q "$cnf" "$osql" | normalize "$db" >"$out/routines.txt"; fi

	# Events: SHOW CREATE EVENT (with sql_mode, time_zone) and the status
	osql=""
	q "$cnf" "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = $ldb
	          ORDER BY BINARY EVENT_NAME" >"$out/event-names.txt"
	while IFS=$'\t' read -r name; do
		ident_r "$name"
		qname="$REPLY"
		mark_r "event $qname"
		osql+="$REPLY"$'\n'
		osql+="SHOW CREATE EVENT $qdb.$qname;"$'\n'
		lit_r "$name"
		osql+="SELECT STATUS, ON_COMPLETION, EVENT_COMMENT FROM information_schema.EVENTS
		       WHERE EVENT_SCHEMA = $ldb AND EVENT_NAME = $REPLY;
"
	done <"$out/event-names.txt"
	: >"$out/events.txt"
	if [ -n "$osql" ]; then q "$cnf" "$osql" | normalize "$db" >"$out/events.txt"; fi
	# Creation contexts, each object by name: the client character set and
	# connection collation it was created under, and for routines, triggers
	# and events the database collation of that moment.
	q "$cnf" "SELECT 'view', TABLE_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, ''
	            FROM information_schema.VIEWS WHERE TABLE_SCHEMA = $ldb
	          UNION ALL
	          SELECT 'trigger', TRIGGER_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION
	            FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = $ldb
	          UNION ALL
	          SELECT ROUTINE_TYPE, ROUTINE_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION
	            FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = $ldb
	          UNION ALL
	          SELECT 'event', EVENT_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION
	            FROM information_schema.EVENTS WHERE EVENT_SCHEMA = $ldb" | LC_ALL=C sort >"$out/contexts.txt"
}

rc=0
snapshot "$CNF1" "$DB1" "$WORK/a" || rc=$?
[ "$rc" -eq 0 ] || exit 2
snapshot "$CNF2" "$DB2" "$WORK/b" || rc=$?
[ "$rc" -eq 0 ] || exit 2

differ=0
for part in database tables create-tables data views triggers routines events contexts; do
	if ! diff -q "$WORK/a/$part.txt" "$WORK/b/$part.txt" >/dev/null; then
		differ=1
		echo "--- $part differs ($DB1 vs $DB2):"
		diff -u --label "$DB1" --label "$DB2" "$WORK/a/$part.txt" "$WORK/b/$part.txt" | sed -n '3,60p' || true
	fi
done

# Row-level detail for the tables whose digest differs.
if ! diff -q "$WORK/a/data.txt" "$WORK/b/data.txt" >/dev/null; then
	while IFS=$'\t' read -r table fa; do
		fb="$(awk -F'\t' -v t="$table" '$1 == t { print $2 }' "$WORK/b/rowfiles.txt" 2>/dev/null)"
		[ -n "$fb" ] || continue
		if ! cmp -s "$fa" "$fb"; then
			echo "--- rows of table '$table' differ (HEX form; first lines of the diff):"
			diff --label "$DB1" --label "$DB2" -u "$fa" "$fb" | sed -n '3,23p' || true
		fi
	done <"$WORK/a/rowfiles.txt"
fi

if [ "$differ" -ne 0 ]; then
	exit 1
fi
printf 'same: %s tables/views, %s rows, %s triggers, %s routines, %s events\n' \
	"$(wc -l <"$WORK/a/tables.txt")" \
	"$(awk -F'\t' '{ split($2, a, " "); s += a[1] } END { print s + 0 }' "$WORK/a/data.txt")" \
	"$(grep -c "^$MARK" "$WORK/a/triggers.txt" || true)" "$(wc -l <"$WORK/a/routine-names.txt")" \
	"$(wc -l <"$WORK/a/event-names.txt")"
