#!/usr/bin/env bash
# Throwaway MariaDB servers for tests, benchmarks and the quickstart.
#
#   mariadb-server.sh start DIR PORT     install (first time) + start, wait until ready
#   mariadb-server.sh stop DIR           clean shutdown (no-op if not running)
#   mariadb-server.sh destroy DIR        stop, then remove DIR
#   mariadb-server.sh status DIR         exit 0 if running
#   mariadb-server.sh env DIR            print export lines (MY_HOST MY_PORT MY_USER MY_CNF ...)
#
# Uses the Debian mariadb-server binaries (mariadbd, mariadb-install-db).  The
# server never runs as root: when this script runs as root it runs as the
# unprivileged user $MY_SERVER_USER (default bdtest, created if missing);
# otherwise as the calling user.
#
# Layout of DIR:
#   data/      datadir              sock/      unix socket + pid file
#   binlog/    binary logs          log/       error log, install log
#   tmp/       server tmpdir        server.cnf the server's only option file
#   password   admin password (0600, caller's)
#   my.cnf     [client] option file for mariadb/mariadb-dump/mydumper (0600)
#   env        export lines for callers
#
# The server listens on 127.0.0.1 only, with local_infile on and the binary log
# enabled (log_bin + server_id) so a dump can record a binlog position.  The
# admin account is "root" (@localhost for the socket, @127.0.0.1 for TCP) with
# a random password (or $MY_SERVER_PASSWORD); the install-time unix_socket
# account of the server owner is dropped once the password is set.  Extra
# server.cnf lines can be passed in $MY_SERVER_CONF (newline-separated).
#
# May also be sourced: defines mariadb_server_start/stop/destroy/status/env.
set -euo pipefail

MY_SERVER_USER="${MY_SERVER_USER:-bdtest}"
MY_SBINDIR="${MY_SBINDIR:-/usr/sbin}"

_mys_log() { printf 'mariadb-server: %s\n' "$*" >&2; }

_mys_is_root() { [ "$(id -u)" -eq 0 ]; }

# The OS user the server runs as.
_mys_owner() {
	if _mys_is_root; then echo "$MY_SERVER_USER"; else id -un; fi
}

# Run a command as the server's owner.
_mys_as_owner() {
	if _mys_is_root; then
		runuser -u "$MY_SERVER_USER" -- "$@"
	else
		"$@"
	fi
}

_mys_ensure_user() {
	_mys_is_root || return 0
	if ! id -u "$MY_SERVER_USER" >/dev/null 2>&1; then
		_mys_log "creating user $MY_SERVER_USER"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$MY_SERVER_USER"
	fi
}

# The server owner must be able to reach DIR: make ancestors under /tmp (or
# $TMPDIR) traversable; anywhere else, refuse with a clear message.
_mys_ensure_traversable() {
	local dir="$1" d
	_mys_is_root || return 0
	d="$(dirname "$dir")"
	while [ "$d" != "/" ]; do
		if ! runuser -u "$MY_SERVER_USER" -- test -x "$d"; then
			case "$d/" in
			/tmp/* | "${TMPDIR:-/tmp}"/*)
				chmod o+x "$d"
				;;
			*)
				_mys_log "user $MY_SERVER_USER cannot traverse '$d'; put the server directory under /tmp or make '$d' o+x"
				return 1
				;;
			esac
		fi
		d="$(dirname "$d")"
	done
}

_mys_abs() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd -P)" "$1" ;;
	esac
}

_mys_random_password() {
	# 24 hex chars: nothing to quote in SQL or in an option file.
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n'
}

_mys_pid() {
	local dir="$1" pid
	pid="$(cat "$dir/sock/mariadbd.pid" 2>/dev/null)" || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	printf '%s\n' "$pid"
}

mariadb_server_status() {
	local dir pid
	dir="$(_mys_abs "$1")"
	pid="$(_mys_pid "$dir")" || return 3
	# The pid must still be a mariadbd (pids are reused).
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mariadbd ] || return 3
	return 0
}

mariadb_server_env() {
	local dir
	dir="$(_mys_abs "$1")"
	cat "$dir/env"
}

# _mys_socket_sql DIR USER: run SQL from stdin over the private socket as the
# server owner (unix_socket authentication).  Only used before the password
# exists.
_mys_socket_sql() {
	local dir="$1" user="$2"
	_mys_as_owner /usr/bin/mariadb --no-defaults --protocol=socket \
		--socket="$dir/sock/mariadbd.sock" -u "$user" --batch
}

mariadb_server_start() {
	[ $# -ge 2 ] || { _mys_log "usage: mariadb-server.sh start DIR PORT"; return 2; }
	local dir port owner
	dir="$(_mys_abs "$1")"
	port="$2"
	case "$port" in '' | *[!0-9]*) _mys_log "bad port '$port'"; return 2 ;; esac
	[ -x "$MY_SBINDIR/mariadbd" ] || { _mys_log "no mariadbd in '$MY_SBINDIR' (install mariadb-server: scripts/deps.sh mariadb)"; return 1; }
	command -v mariadb-install-db >/dev/null || { _mys_log "no mariadb-install-db (install mariadb-server: scripts/deps.sh mariadb)"; return 1; }

	# unix socket paths are limited to 107 bytes
	local sock="$dir/sock/mariadbd.sock"
	if [ "${#sock}" -gt 107 ]; then
		_mys_log "server directory path too long for a unix socket: '$sock'"
		return 1
	fi

	_mys_ensure_user
	owner="$(_mys_owner)"
	mkdir -p "$dir"
	_mys_ensure_traversable "$dir"
	mkdir -p "$dir/sock" "$dir/log" "$dir/binlog" "$dir/tmp" "$dir/data"
	if _mys_is_root; then
		chown "$MY_SERVER_USER:" "$dir/sock" "$dir/log" "$dir/binlog" "$dir/tmp" "$dir/data"
	fi
	chmod 0755 "$dir" "$dir/sock"
	chmod 0700 "$dir/log" "$dir/binlog" "$dir/tmp" "$dir/data"

	if mariadb_server_status "$dir"; then
		_mys_log "already running in $dir"
		return 0
	fi

	# Refuse to start over something already listening on the port.
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		_mys_log "port $port on 127.0.0.1 is already in use"
		return 1
	fi

	# The server reads only this file (--defaults-file): nothing from /etc/mysql.
	{
		echo "# --- mariadb-server.sh (throwaway test server) ---"
		echo "[mariadbd]"
		echo "datadir = $dir/data"
		echo "socket = $sock"
		echo "pid-file = $dir/sock/mariadbd.pid"
		echo "log-error = $dir/log/mariadbd.log"
		echo "tmpdir = $dir/tmp"
		echo "port = $port"
		echo "bind-address = 127.0.0.1"
		echo "skip-name-resolve"
		echo "local-infile = 1"
		echo "log-bin = $dir/binlog/mariadb-bin"
		echo "server-id = 1"
		echo "binlog-format = ROW"
		echo "character-set-server = utf8mb4"
		echo "collation-server = utf8mb4_general_ci"
		echo "max-connections = 100"
		echo "max-allowed-packet = 256M"
		# Speed over durability: a throwaway server.
		echo "sync-binlog = 0"
		echo "innodb-flush-log-at-trx-commit = 0"
		echo "innodb-doublewrite = 0"
		echo "innodb-buffer-pool-size = 256M"
		echo "innodb-log-file-size = 256M"
		# Events exist in the test databases but must not change data under a comparison.
		echo "event-scheduler = OFF"
		if [ -n "${MY_SERVER_CONF:-}" ]; then
			printf '%s\n' "$MY_SERVER_CONF"
		fi
	} >"$dir/server.cnf"
	chmod 0644 "$dir/server.cnf"

	local fresh=0
	if [ ! -d "$dir/data/mysql" ]; then
		fresh=1
		if ! (cd "$dir" && _mys_as_owner mariadb-install-db --defaults-file="$dir/server.cnf" \
			--user="$owner" --auth-root-authentication-method=socket --auth-root-socket-user="$owner" \
			--skip-test-db --skip-name-resolve --skip-log-bin \
			>"$dir/log/install.log" 2>&1); then
			cat "$dir/log/install.log" >&2
			_mys_log "mariadb-install-db failed in $dir/data"
			return 1
		fi
		local password="${MY_SERVER_PASSWORD:-$(_mys_random_password)}"
		(umask 077 && printf '%s\n' "$password" >"$dir/password")
	fi

	local password
	password="$(cat "$dir/password")"
	(umask 077 && {
		printf '[client]\n'
		printf 'user = root\n'
		printf 'password = %s\n' "$password"
		printf 'host = 127.0.0.1\n'
		printf 'port = %s\n' "$port"
		printf 'protocol = tcp\n'
	} >"$dir/my.cnf")
	chmod 0600 "$dir/my.cnf"
	{
		printf 'export MY_HOST=127.0.0.1\n'
		printf 'export MY_PORT=%s\n' "$port"
		printf 'export MY_USER=root\n'
		printf 'export MY_PASSWORD_FILE=%q\n' "$dir/password"
		printf 'export MY_CNF=%q\n' "$dir/my.cnf"
		printf 'export MY_SOCKET=%q\n' "$sock"
	} >"$dir/env"

	# Detached from the caller: its own session, and no process holds the
	# caller's stdout/stderr (a caller reading them to EOF would hang).
	(cd "$dir" && exec setsid bash -c '
		if [ "$(id -u)" -eq 0 ]; then exec runuser -u "$1" -- "${@:2}"; else exec "${@:2}"; fi
	' _ "$MY_SERVER_USER" "$MY_SBINDIR/mariadbd" --defaults-file="$dir/server.cnf") \
		</dev/null >>"$dir/log/stdout.log" 2>&1 &

	# Ready over TCP (what the tools under test use), not only the socket.
	local _ ready=0
	for _ in $(seq 1 600); do
		if [ -S "$sock" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if [ "$ready" -ne 1 ]; then
		tail -n 30 "$dir/log/mariadbd.log" >&2 || true
		_mys_log "server in $dir failed to start (log: $dir/log/mariadbd.log)"
		mariadb_server_stop "$dir" || true
		return 1
	fi

	if [ "$fresh" = 1 ]; then
		# The password travels on stdin, never in argv.  After this the only
		# way in is root with the password (socket or TCP).
		if ! {
			printf "ALTER USER 'root'@'localhost' IDENTIFIED BY '%s';\n" "$password"
			printf "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '%s';\n" "$password"
			printf "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
			printf "GRANT PROXY ON ''@'%%' TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
			if [ "$owner" != root ]; then
				printf "DROP USER IF EXISTS '%s'@'localhost';\n" "$owner"
			fi
			printf "DROP USER IF EXISTS ''@'localhost';\n"
			printf "FLUSH PRIVILEGES;\n"
		} | _mys_socket_sql "$dir" "$owner" >"$dir/log/bootstrap.log" 2>&1; then
			cat "$dir/log/bootstrap.log" >&2
			_mys_log "could not create the admin account in $dir"
			mariadb_server_stop "$dir" || true
			return 1
		fi
	fi

	if ! /usr/bin/mariadb --defaults-file="$dir/my.cnf" -N -e 'SELECT 1' >/dev/null 2>"$dir/log/check.log"; then
		cat "$dir/log/check.log" >&2
		_mys_log "server in $dir does not accept the admin account over TCP"
		mariadb_server_stop "$dir" || true
		return 1
	fi
	_mys_log "running: 127.0.0.1:$port, data $dir/data"
}

mariadb_server_stop() {
	[ $# -ge 1 ] || { _mys_log "usage: mariadb-server.sh stop DIR"; return 2; }
	local dir pid _
	dir="$(_mys_abs "$1")"
	mariadb_server_status "$dir" || return 0
	pid="$(_mys_pid "$dir")"
	# SIGTERM is mariadbd's clean shutdown; it needs no password.
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		_mys_log "clean shutdown timed out, killing $pid"
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$dir/sock/mariadbd.pid"
	_mys_log "stopped $dir"
}

mariadb_server_destroy() {
	[ $# -ge 1 ] || { _mys_log "usage: mariadb-server.sh destroy DIR"; return 2; }
	local dir
	dir="$(_mys_abs "$1")"
	mariadb_server_stop "$dir"
	rm -rf "$dir"
}

_mys_main() {
	local cmd="${1:-}"
	shift || true
	case "$cmd" in
	start) mariadb_server_start "$@" ;;
	stop) mariadb_server_stop "$@" ;;
	destroy) mariadb_server_destroy "$@" ;;
	status) mariadb_server_status "$@" ;;
	env) mariadb_server_env "$@" ;;
	*)
		echo "usage: mariadb-server.sh start DIR PORT | stop DIR | destroy DIR | status DIR | env DIR" >&2
		return 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_mys_main "$@"
fi
