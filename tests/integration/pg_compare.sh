#!/usr/bin/env bash
# Compare two databases on the same PostgreSQL server, object by object.
#
#   pg_compare.sh SRC_DB DST_DB
#
# Connection: the usual libpq environment (PGHOST, PGPORT, PGUSER, PGPASSFILE).
# Client tools from $PG_BINDIR (default /usr/lib/postgresql/15/bin).
#
# Sections compared:
#   schema      pg_dump --schema-only of both (\restrict/\unrestrict lines removed;
#               the column lines of a CREATE TABLE ... INHERITS sorted: such a
#               table restored takes its parents' columns first, whatever its
#               order was, as with pg_dump and pg_restore)
#   tables      per table (ONLY semantics, so inheritance parents count only
#               their own rows): row count and md5 of the rows cast to text,
#               sorted, with the columns in name order (an inheritance child's
#               column order is not kept by any pg_dump restore: see schema);
#               partitioned parents are compared as a whole as well
#   matviews    populated flag, row count and md5 of content
#   sequences   last_value, is_called
#   lobs        large object oids, owners, ACLs, md5 of contents, comments
#   comments    every comment (pg_describe_object identity + text)
#   settings    per-database settings (ALTER DATABASE ... SET), locale, owner,
#               connection limit, privileges
#
# Prints every difference and exits 1 if any; 0 if the databases match;
# 2 on usage or connection errors.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: pg_compare.sh SRC_DB DST_DB" >&2
	exit 2
fi
SRC="$1"
DST="$2"
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PSQL="$PG_BINDIR/psql"
PG_DUMP="$PG_BINDIR/pg_dump"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pg_compare.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Same session settings for both sides, so text output of dates, floats and
# money is comparable.
export PGOPTIONS="${PGOPTIONS:-} -c timezone=UTC -c datestyle=ISO,MDY -c extra_float_digits=1 -c intervalstyle=postgres -c bytea_output=hex"
export PGCLIENTENCODING=UTF8

q() { # q DB SQL: unaligned, tuples only, fail on error
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# psql script: generate one query per object with \gexec, run them all.
run_script() { # run_script DB FILE
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -f "$2"
}

for db in "$SRC" "$DST"; do
	if ! q "$db" 'SELECT 1' >/dev/null 2>"$WORK/conn.err"; then
		echo "pg_compare: cannot connect to database '$db': $(tr '\n' ' ' <"$WORK/conn.err")" >&2
		exit 2
	fi
done

# Relations of user schemas that are not members of an extension.
USER_RELS_CTE="
WITH rels AS (
    SELECT c.oid, c.relkind, c.relispopulated, n.nspname, c.relname,
           format('%I.%I', n.nspname, c.relname) AS qname,
           coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attname)
                     FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS cols
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
      AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
)"

cat >"$WORK/tables.sql" <<EOF
$USER_RELS_CTE
SELECT format(
  \$q\$SELECT %L || ' rows=' || count(*) || ' md5=' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")), '-') FROM (SELECT %s FROM ONLY %s) AS t\$q\$,
  'table ' || qname, cols, qname)
FROM rels WHERE relkind IN ('r', 'f')
UNION ALL
SELECT format(
  \$q\$SELECT %L || ' rows=' || count(*) || ' md5=' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")), '-') FROM (SELECT %s FROM %s) AS t\$q\$,
  'partitioned table (whole) ' || qname, cols, qname)
FROM rels WHERE relkind = 'p'
UNION ALL
SELECT CASE WHEN relispopulated THEN format(
  \$q\$SELECT %L || ' rows=' || count(*) || ' md5=' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")), '-') FROM %s AS t\$q\$,
  'matview ' || qname, qname)
  ELSE format(\$q\$SELECT %L\$q\$, 'matview ' || qname || ' not populated') END
FROM rels WHERE relkind = 'm'
UNION ALL
SELECT format(\$q\$SELECT %L || ' last_value=' || last_value || ' is_called=' || is_called FROM %s\$q\$,
  'sequence ' || qname, qname)
FROM rels WHERE relkind = 'S'
ORDER BY 1
\\gexec
EOF

cat >"$WORK/lobs.sql" <<'EOF'
SELECT format('large object %s owner=%s acl=%s md5=%s size=%s',
              m.oid, pg_get_userbyid(m.lomowner), coalesce(m.lomacl::text, '-'),
              md5(lo_get(m.oid)), length(lo_get(m.oid)))
FROM pg_largeobject_metadata m
ORDER BY m.oid;
EOF

cat >"$WORK/comments.sql" <<'EOF'
SELECT format('comment on %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
FROM pg_description d
WHERE d.objoid >= 16384
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')
UNION ALL
SELECT format('comment on the database: %s', d.description)
FROM pg_shdescription d
WHERE d.classoid = 'pg_database'::regclass AND d.objoid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY 1;
EOF

cat >"$WORK/settings.sql" <<'EOF'
SELECT format('database setting (role %s): %s', coalesce(r.rolname, '*'), array_to_string(s.setconfig, ', '))
FROM pg_db_role_setting s
LEFT JOIN pg_roles r ON r.oid = s.setrole
WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
UNION ALL
SELECT format('database encoding=%s collate=%s ctype=%s provider=%s',
              pg_encoding_to_char(encoding), datcollate, datctype, datlocprovider)
FROM pg_database WHERE datname = current_database()
UNION ALL
SELECT format('database owner=%s connection limit=%s', pg_get_userbyid(datdba), datconnlimit)
FROM pg_database WHERE datname = current_database()
UNION ALL
SELECT format('database privilege: %s %s%s (granted by %s)',
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
              a.privilege_type, CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END,
              pg_get_userbyid(a.grantor))
FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database()
ORDER BY 1;
EOF

failed=0
section() { # section NAME: diff WORK/NAME.src and WORK/NAME.dst
	local name="$1"
	if ! diff -u --label "$SRC ($name)" --label "$DST ($name)" \
		"$WORK/$name.src" "$WORK/$name.dst" >"$WORK/$name.diff"; then
		echo "=== $name differs: $SRC vs $DST"
		# Cap the output per section; full diffs can be huge.
		head -n 200 "$WORK/$name.diff"
		local n
		n="$(wc -l <"$WORK/$name.diff")"
		[ "$n" -le 200 ] || echo "... ($((n - 200)) more diff lines)"
		failed=1
	fi
}

# sort_inherits_columns FILE: in place, the column lines of each CREATE TABLE
# ... INHERITS block sorted (without their commas)
sort_inherits_columns() {
	python3 - "$1" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
out, i = [], 0
while i < len(lines):
    line = lines[i]
    if line.startswith("CREATE TABLE ") and line.endswith(" ("):
        j = i + 1
        while j < len(lines) and not lines[j].startswith(")"):
            j += 1
        if j + 1 < len(lines) and lines[j] == ")" and lines[j + 1].startswith("INHERITS ("):
            out.append(line)
            out.extend(sorted(c.rstrip(",") for c in lines[i + 1:j]))
            i = j
            continue
    out.append(line)
    i += 1
open(sys.argv[1], "w").write("\n".join(out))
PY
}

collect() { # collect DB SUFFIX
	local db="$1" sfx="$2"
	"$PG_DUMP" --schema-only --no-sync -d "$db" 2>"$WORK/pg_dump.err" |
		grep -v -E '^\\(restrict|unrestrict) ' >"$WORK/schema.$sfx" || {
		if [ -s "$WORK/pg_dump.err" ]; then
			echo "pg_compare: pg_dump of '$db' failed: $(cat "$WORK/pg_dump.err")" >&2
			exit 2
		fi
	}
	sort_inherits_columns "$WORK/schema.$sfx"
	run_script "$db" "$WORK/tables.sql" >"$WORK/tables.$sfx"
	run_script "$db" "$WORK/lobs.sql" >"$WORK/lobs.$sfx"
	run_script "$db" "$WORK/comments.sql" >"$WORK/comments.$sfx"
	run_script "$db" "$WORK/settings.sql" >"$WORK/settings.$sfx"
}

collect "$SRC" src
collect "$DST" dst

for s in schema tables lobs comments settings; do
	section "$s"
done

if [ "$failed" -ne 0 ]; then
	echo "pg_compare: '$SRC' and '$DST' differ"
	exit 1
fi
ntables="$(grep -c '^table ' "$WORK/tables.src" || true)"
nseq="$(grep -c '^sequence ' "$WORK/tables.src" || true)"
nlo="$(grep -c '^large object ' "$WORK/lobs.src" || true)"
echo "pg_compare: '$SRC' and '$DST' match ($ntables tables, $nseq sequences, $nlo large objects)"
