# Sourced by the suites that run several PostgreSQL majors side by side
# (majors_test.sh, migrate_test.sh), after lib.sh: servers from
# scripts/pg-install.sh (15 is Debian's), client tools (psql, pg_dump) from
# $BD_PGCLIENT18_BIN, one password for every server in one pgpass file, and
# the fixture of tests/integration/majors_fixture.sql with its comparison.
source "$BD_ROOT/scripts/pg-install.sh"

MAJORS_HERE="$BD_ROOT/tests/integration"
PG18_BIN="${BD_PGCLIENT18_BIN:-/work/shared/pgclient-18/bin}"
PG15_BIN=/usr/lib/postgresql/15/bin

require_binaries
if [ ! -x "$PG18_BIN/pg_dump" ]; then
	fail "PostgreSQL 18 client tools in $PG18_BIN (BD_PGCLIENT18_BIN): needed to dump 16..18"
	finish
fi
PSQL18="$PG18_BIN/psql"

PG_SERVER_PASSWORD="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PG_SERVER_PASSWORD
add_secret "$PG_SERVER_PASSWORD"
PGPASSFILE="$BD_TMP/pgpass"
printf '127.0.0.1:*:*:postgres:%s\n' "$PG_SERVER_PASSWORD" >"$PGPASSFILE"
chmod 0600 "$PGPASSFILE"
export PGPASSFILE

declare -A PORT=() BIN=()
# server KEY [MAJOR [ROLES]]: start (once) server KEY of major MAJOR (default
# KEY) in $BD_TMP/pgKEY; its port in ${PORT[KEY]}, its bin dir in
# ${BIN[KEY]}.  ROLES (default 1) creates the cluster-wide roles the
# fixture's objects name.
server() {
	local key="$1" major="${2:-$1}" bindir port
	[ -n "${PORT[$key]:-}" ] && return 0
	if [ "$major" = 15 ]; then
		bindir="$PG15_BIN"
	elif ! bindir="$(pg_install_major "$major")"; then
		fail "install PostgreSQL $major"
		finish
	fi
	port="$(_bd_pick_port)"
	if ! bash "$PG_SERVER_SH" start "$BD_TMP/pg$key" "$port" "$bindir" >/dev/null; then
		fail "start PostgreSQL $major ($key)"
		finish
	fi
	BD_SERVERS+=("$BD_TMP/pg$key")
	PORT[$key]="$port"
	BIN[$key]="$bindir"
	if [ "${3:-1}" = 1 ]; then
		sq "$key" postgres "CREATE ROLE mj_owner NOLOGIN; CREATE ROLE mj_reader NOLOGIN; CREATE ROLE \"Mj \"\"odd\"\" Role\" NOLOGIN" >/dev/null
	fi
}
sq() { # sq KEY DB SQL
	"$PSQL18" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT[$1]}" -U postgres -d "$2" -c "$3"
}
uri() { printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "${PORT[$1]}" "$2"; }
snapshot() { # snapshot KEY DB OUT
	PGOPTIONS="-c timezone=UTC -c datestyle=ISO,MDY -c extra_float_digits=1 -c intervalstyle=postgres -c bytea_output=hex" \
		"$PSQL18" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT[$1]}" -U postgres -d "$2" \
		-f "$MAJORS_HERE/majors_compare.sql" >"$3"
}
load_fixture() { # load_fixture KEY DB: a new database DB holding the fixture
	sq "$1" postgres "CREATE DATABASE $2" >/dev/null
	"$PSQL18" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT[$1]}" -U postgres -d "$2" \
		-f "$MAJORS_HERE/majors_fixture.sql" -o /dev/null
}
