#!/usr/bin/env bash
# Install every Debian package the build, the tests and the benchmark need.
#
#   scripts/deps.sh            all groups
#   scripts/deps.sh build pg   only the named groups
#
# Idempotent: apt-get update + install of packages already present is a no-op
# apart from the index refresh.  Add a new dependency to the group it belongs
# to (or add a group: a PKGS_<group> array plus an entry in ALL_GROUPS).
set -euo pipefail

# Compiler and autotools.
PKGS_build=(autoconf automake libtool pkg-config make gcc)

# Libraries linked by backupd/dbrestore and the unit tests (see configure.ac).
PKGS_libs=(
	libpq-dev
	default-libmysqlclient-dev
	libarchive-dev
	libzstd-dev
	libcurl4-openssl-dev
	libssl-dev
	libjansson-dev
	libinih-dev
	libcmocka-dev
	libmicrohttpd-dev
	libexpat1-dev
	libxxhash-dev
)

# PostgreSQL 15 server (initdb, pg_ctl, postgres, pgbench, contrib extensions)
# and client tools (psql, pg_dump, pg_restore) for the integration tests;
# pgbackrest, what bench/wal.sh compares against; pgcopydb, what
# bench/migrate.sh compares against.
PKGS_pg=(postgresql-15 postgresql-client-15 pgbackrest pgcopydb)

# Tools used by the test scripts: zstd (inspect repository objects), valgrind,
# GNU time (peak RSS in the benchmark), python3 (JSON checks), util-linux
# (runuser), procps (ps), coreutils/findutils/diffutils, openssl (a throwaway
# CA for the TLS credential endpoint in s3_credentials_test.sh).
PKGS_tools=(zstd valgrind time python3 util-linux procps diffutils findutils coreutils openssl)

# AWS CLI (`aws`) for the S3 integration test's interop checks and bench/s3.sh.
# s3rver itself is installed by the test with npm into a private prefix
# (tests/integration/s3_test.sh), so NPM_s3 stays empty.
PKGS_awscli=(awscli)

# MariaDB server (mariadbd, mariadb-install-db) and client (mariadb, mariadb-dump)
# for the MySQL integration tests (scripts/mariadb-server.sh); mydumper/myloader
# for bench/mysql.sh.
PKGS_mariadb=(mariadb-server mariadb-client mydumper)

# The Debian package and its test (tests/integration/package.sh, a phase of
# scripts/test.sh): dpkg-buildpackage with debhelper, systemd-analyze (the
# systemd package; systemd need not be PID 1), adduser for the package's
# postinst, man-db/groff-base to check the generated man pages.
PKGS_package=(debhelper dpkg-dev fakeroot build-essential systemd adduser man-db groff-base)

# clang with the libFuzzer and sanitizer runtimes for the fuzz targets
# (tests/fuzz/, ./configure --enable-fuzz CC=clang).  clang-14 only recommends
# its runtime package, and recommends are not installed here: name it.
PKGS_fuzz=(clang libclang-rt-14-dev)

NPM_s3=()

ALL_GROUPS=(build libs pg tools awscli mariadb fuzz package)

log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "must run as root (or have sudo) to install packages"
		exit 1
	fi
}

apt_retry() {
	local i
	for i in 1 2 3; do
		if as_root env DEBIAN_FRONTEND=noninteractive "$@"; then
			return 0
		fi
		log "'$*' failed (attempt $i), retrying in 5s"
		sleep 5
	done
	return 1
}

main() {
	local groups=("$@")
	if [ "${#groups[@]}" -eq 0 ]; then
		groups=("${ALL_GROUPS[@]}")
	fi

	local pkgs=() npm_pkgs=() g var
	for g in "${groups[@]}"; do
		var="PKGS_${g}[@]"
		if ! declare -p "PKGS_${g}" >/dev/null 2>&1; then
			log "unknown group '$g' (known: ${ALL_GROUPS[*]})"
			exit 2
		fi
		pkgs+=("${!var}")
		if declare -p "NPM_${g}" >/dev/null 2>&1; then
			var="NPM_${g}[@]"
			npm_pkgs+=("${!var}")
		fi
	done

	log "groups: ${groups[*]}"
	apt_retry apt-get update -q
	apt_retry apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${pkgs[@]}"

	if [ "${#npm_pkgs[@]}" -gt 0 ]; then
		log "npm: ${npm_pkgs[*]}"
		as_root npm install -g --no-audit --no-fund "${npm_pkgs[@]}"
	fi

	# Sanity: the binaries the scripts call by absolute path.
	local f want=()
	[[ " ${groups[*]} " == *" pg "* ]] && want+=(/usr/lib/postgresql/15/bin/initdb \
		/usr/lib/postgresql/15/bin/pg_ctl /usr/lib/postgresql/15/bin/pgbench)
	[[ " ${groups[*]} " == *" tools "* ]] && want+=(/usr/bin/time /usr/bin/zstd)
	[[ " ${groups[*]} " == *" mariadb "* ]] && want+=(/usr/sbin/mariadbd /usr/bin/mariadb-install-db \
		/usr/bin/mariadb /usr/bin/mydumper /usr/bin/myloader)
	if [[ " ${groups[*]} " == *" fuzz "* ]] &&
		! compgen -G '/usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null; then
		log "expected libFuzzer (libclang_rt.fuzzer-x86_64.a) after install, not found"
		exit 1
	fi
	for f in "${want[@]}"; do
		[ -x "$f" ] || { log "expected $f after install, not found"; exit 1; }
	done
	log "ok"
}

main "$@"
