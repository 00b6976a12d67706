# Shared by bench/pg.sh and bench/mysql.sh: sourced after ROOT, BUILD_DIR,
# BUILD, BACKUPD and DBRESTORE are set.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Builds backupd and dbrestore out of tree into BUILD_DIR when either is
# missing (unless --no-build was given).
bench_build_if_missing() {
	[ -x "$BACKUPD" ] && [ -x "$DBRESTORE" ] && return 0
	[ "$BUILD" = 1 ] || die "binaries not found in $BUILD_DIR (drop --no-build or set BACKUPD_BIN/DBRESTORE_BIN)"
	log "building into $BUILD_DIR"
	[ -e "$ROOT/config.status" ] && die "source root is configured in-tree; run 'make distclean' in $ROOT"
	(cd "$ROOT" && autoreconf -fi >/dev/null)
	mkdir -p "$BUILD_DIR"
	(cd "$BUILD_DIR" && "$ROOT/configure" -q && make -j"$(nproc)" >/dev/null)
}
