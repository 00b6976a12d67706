#!/usr/bin/env bash
# Throwaway PostgreSQL servers for tests, benchmarks and the quickstart.
#
#   pg-server.sh start DIR PORT [BINDIR]   initdb (first time) + start, wait until ready
#   pg-server.sh stop DIR                  fast shutdown (no-op if not running)
#   pg-server.sh destroy DIR               stop, then remove DIR
#   pg-server.sh status DIR                exit 0 if running
#   pg-server.sh env DIR                   print export lines (PGHOST PGPORT PGUSER PGPASSFILE)
#   pg-server.sh ensure-user               as root: create $PG_SERVER_USER if missing
#
# BINDIR defaults to /usr/lib/postgresql/15/bin.  PostgreSQL refuses to run as
# root, so when this script runs as root the server runs as the unprivileged
# user $PG_SERVER_USER (default bdtest, created if missing); otherwise as the
# calling user.
#
# Layout of DIR:
#   data/      PGDATA              sock/   unix socket directory
#   log/       server log          pgpass  libpq password file (0600, caller's)
#   password   superuser password  env     export lines for callers
#
# The server listens on 127.0.0.1 only; superuser "postgres" authenticates with
# SCRAM over TCP (password in DIR/pgpass) and trust over the private socket.
# Extra postgresql.conf lines can be passed in $PG_SERVER_CONF (newline-separated).
# The password is random unless $PG_SERVER_PASSWORD is set.
#
# May also be sourced: defines pg_server_start/stop/destroy/status/env.
set -euo pipefail

PG_SERVER_USER="${PG_SERVER_USER:-bdtest}"
PG_DEFAULT_BINDIR=/usr/lib/postgresql/15/bin

_pgs_log() { printf 'pg-server: %s\n' "$*" >&2; }

_pgs_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the server's owner.
_pgs_as_owner() {
	if _pgs_is_root; then
		runuser -u "$PG_SERVER_USER" -- "$@"
	else
		"$@"
	fi
}

_pgs_ensure_user() {
	_pgs_is_root || return 0
	if ! id -u "$PG_SERVER_USER" >/dev/null 2>&1; then
		_pgs_log "creating user $PG_SERVER_USER"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$PG_SERVER_USER"
	fi
}

# The server owner must be able to reach DIR: make ancestors under /tmp (or
# $TMPDIR) traversable; anywhere else, refuse with a clear message.
_pgs_ensure_traversable() {
	local dir="$1" d
	_pgs_is_root || return 0
	d="$(dirname "$dir")"
	while [ "$d" != "/" ]; do
		if ! runuser -u "$PG_SERVER_USER" -- test -x "$d"; then
			case "$d/" in
			/tmp/* | "${TMPDIR:-/tmp}"/*)
				chmod o+x "$d"
				;;
			*)
				_pgs_log "user $PG_SERVER_USER cannot traverse '$d'; put the server directory under /tmp or make '$d' o+x"
				return 1
				;;
			esac
		fi
		d="$(dirname "$d")"
	done
}

_pgs_abs() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd -P)" "$1" ;;
	esac
}

_pgs_random_password() {
	# 24 hex chars: no ':' or '\' to escape in the pgpass file.
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n'
}

pg_server_status() {
	local dir
	dir="$(_pgs_abs "$1")"
	local bindir
	bindir="$(cat "$dir/bindir" 2>/dev/null || echo "$PG_DEFAULT_BINDIR")"
	[ -f "$dir/data/PG_VERSION" ] || return 3
	(cd "$dir" && _pgs_as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1)
}

pg_server_env() {
	local dir
	dir="$(_pgs_abs "$1")"
	cat "$dir/env"
}

pg_server_start() {
	[ $# -ge 2 ] || { _pgs_log "usage: pg-server.sh start DIR PORT [BINDIR]"; return 2; }
	local dir port bindir
	dir="$(_pgs_abs "$1")"
	port="$2"
	bindir="${3:-$PG_DEFAULT_BINDIR}"
	case "$port" in '' | *[!0-9]*) _pgs_log "bad port '$port'"; return 2 ;; esac
	[ -x "$bindir/initdb" ] || { _pgs_log "no initdb in '$bindir' (install postgresql-15: scripts/deps.sh)"; return 1; }

	# unix socket paths are limited to 107 bytes
	local sock="$dir/sock"
	if [ "$((${#sock} + 16))" -gt 107 ]; then
		_pgs_log "server directory path too long for a unix socket: '$sock'"
		return 1
	fi

	_pgs_ensure_user
	mkdir -p "$dir"
	_pgs_ensure_traversable "$dir"
	mkdir -p "$dir/sock" "$dir/log"
	if _pgs_is_root; then
		chown "$PG_SERVER_USER:" "$dir" "$dir/sock" "$dir/log"
	fi
	chmod 0755 "$dir"
	chmod 0700 "$dir/sock" "$dir/log"
	printf '%s\n' "$bindir" >"$dir/bindir"

	if pg_server_status "$dir"; then
		_pgs_log "already running in $dir"
		return 0
	fi

	# Refuse to start over something already listening on the port.
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		_pgs_log "port $port on 127.0.0.1 is already in use"
		return 1
	fi

	if [ ! -f "$dir/data/PG_VERSION" ]; then
		local password="${PG_SERVER_PASSWORD:-$(_pgs_random_password)}"
		rm -rf "$dir/data"
		(umask 077 && printf '%s\n' "$password" >"$dir/password")
		# initdb reads the password from a file the server owner can read.
		local pwfile="$dir/log/initdb-pwfile"
		(umask 077 && printf '%s\n' "$password" >"$pwfile")
		if _pgs_is_root; then chown "$PG_SERVER_USER:" "$pwfile"; fi
		# --no-instructions came with 14
		local quiet=()
		if "$bindir/initdb" --help 2>/dev/null | grep -q -e --no-instructions; then
			quiet=(--no-instructions)
		fi
		if ! (cd "$dir" && _pgs_as_owner "$bindir/initdb" -D "$dir/data" -U postgres \
			--pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
			-E UTF8 --locale=C.UTF-8 --no-sync "${quiet[@]}" \
			>"$dir/log/initdb.log" 2>&1); then
			rm -f "$pwfile"
			cat "$dir/log/initdb.log" >&2
			_pgs_log "initdb failed in $dir/data"
			return 1
		fi
		rm -f "$pwfile"
		{
			echo ""
			echo "# --- pg-server.sh (throwaway test server) ---"
			echo "listen_addresses = '127.0.0.1'"
			echo "port = $port"
			echo "unix_socket_directories = '$dir/sock'"
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
			echo "max_connections = 60"
			echo "logging_collector = off"
			echo "log_min_messages = warning"
			echo "log_line_prefix = '%m [%p] %d '"
			echo "max_wal_size = 2GB"
			echo "max_wal_senders = 10"
			echo "wal_level = replica"
			if [ -n "${PG_SERVER_CONF:-}" ]; then
				printf '%s\n' "$PG_SERVER_CONF"
			fi
		} | _pgs_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
	else
		# Reused data directory: the port may have changed.
		_pgs_as_owner sed -i "s/^port = .*/port = $port/" "$dir/data/postgresql.conf"
	fi

	local password
	password="$(cat "$dir/password")"
	(umask 077 && {
		printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$password"
		printf 'localhost:%s:*:postgres:%s\n' "$port" "$password"
	} >"$dir/pgpass")
	chmod 0600 "$dir/pgpass"
	{
		printf 'export PGHOST=127.0.0.1\n'
		printf 'export PGPORT=%s\n' "$port"
		printf 'export PGUSER=postgres\n'
		printf 'export PGPASSFILE=%q\n' "$dir/pgpass"
		printf 'export PGDATABASE=postgres\n'
		printf 'export PG_BINDIR=%q\n' "$bindir"
	} >"$dir/env"

	if ! (cd "$dir" && _pgs_as_owner "$bindir/pg_ctl" -D "$dir/data" \
		-l "$dir/log/postgresql.log" -w -t 60 -s start); then
		tail -n 30 "$dir/log/postgresql.log" >&2 || true
		_pgs_log "server in $dir failed to start"
		return 1
	fi

	# Ready over TCP (what the tools under test use), not only the socket.
	# (server-only installs, scripts/pg-install.sh, have no pg_isready: any works)
	local _ isready="$bindir/pg_isready"
	[ -x "$isready" ] || isready="$PG_DEFAULT_BINDIR/pg_isready"
	for _ in $(seq 1 100); do
		if "$isready" -q -h 127.0.0.1 -p "$port" -t 1; then
			_pgs_log "running: 127.0.0.1:$port, data $dir/data"
			return 0
		fi
		sleep 0.1
	done
	_pgs_log "server in $dir not accepting TCP connections on port $port"
	return 1
}

pg_server_stop() {
	[ $# -ge 1 ] || { _pgs_log "usage: pg-server.sh stop DIR"; return 2; }
	local dir bindir
	dir="$(_pgs_abs "$1")"
	[ -f "$dir/data/PG_VERSION" ] || return 0
	bindir="$(cat "$dir/bindir" 2>/dev/null || echo "$PG_DEFAULT_BINDIR")"
	if pg_server_status "$dir"; then
		if ! (cd "$dir" && _pgs_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop); then
			_pgs_log "fast stop failed, trying immediate"
			(cd "$dir" && _pgs_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 -s stop) || true
		fi
		_pgs_log "stopped $dir"
	fi
}

pg_server_destroy() {
	[ $# -ge 1 ] || { _pgs_log "usage: pg-server.sh destroy DIR"; return 2; }
	local dir
	dir="$(_pgs_abs "$1")"
	pg_server_stop "$dir"
	rm -rf "$dir"
}

_pgs_main() {
	local cmd="${1:-}"
	shift || true
	case "$cmd" in
	start) pg_server_start "$@" ;;
	stop) pg_server_stop "$@" ;;
	destroy) pg_server_destroy "$@" ;;
	status) pg_server_status "$@" ;;
	env) pg_server_env "$@" ;;
	ensure-user) _pgs_ensure_user ;;
	*)
		echo "usage: pg-server.sh start DIR PORT [BINDIR] | stop DIR | destroy DIR | status DIR | env DIR | ensure-user" >&2
		return 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_pgs_main "$@"
fi
