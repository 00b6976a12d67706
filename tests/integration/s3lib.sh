# s3rver for the S3 suites (source after lib.sh): installs it with npm into
# S3RVER_PREFIX when missing (default /tmp/s3rver), picks S3_PORT and serves
# $BD_TMP/s3data with the bucket "bkt".  s3_start/s3_stop (re)start and stop
# it on the same port and directory; the EXIT trap stops it.  Every suite
# using it runs without EC2 instance metadata (AWS_EC2_METADATA_DISABLED),
# unless a test sets it otherwise for one command.
S3RVER_PREFIX="${S3RVER_PREFIX:-/tmp/s3rver}"
S3RVER="$S3RVER_PREFIX/node_modules/.bin/s3rver"
if [ ! -x "$S3RVER" ]; then
	note "installing s3rver into $S3RVER_PREFIX"
	mkdir -p "$S3RVER_PREFIX"
	[ -f "$S3RVER_PREFIX/package.json" ] || echo '{"name":"s3rver-local","private":true}' >"$S3RVER_PREFIX/package.json"
	check "s3rver installs" npm install --prefix "$S3RVER_PREFIX" --no-audit --no-fund s3rver@3.7.1
fi
export AWS_EC2_METADATA_DISABLED=true

S3_PORT="$(_bd_pick_port)"
mkdir -p "$BD_TMP/s3data"
S3RVER_PID=""
# s3rver signs its ListObjectsV2 continuation tokens with DES, which Node 17+
# (OpenSSL 3) only has in the legacy provider: without it, page 2 is a 500.
S3RVER_NODE_OPTIONS=""
node --openssl-legacy-provider -e 0 >/dev/null 2>&1 && S3RVER_NODE_OPTIONS="--openssl-legacy-provider"
s3_start() {
	NODE_OPTIONS="$S3RVER_NODE_OPTIONS${NODE_OPTIONS:+ $NODE_OPTIONS}" "$S3RVER" -a 127.0.0.1 -p "$S3_PORT" -d "$BD_TMP/s3data" --configure-bucket bkt --silent \
		>>"$BD_TMP/s3rver.log" 2>&1 &
	S3RVER_PID=$!
	for _ in $(seq 1 50); do
		_bd_port_free "$S3_PORT" || break
		sleep 0.2
	done
}
s3_stop() {
	[ -n "$S3RVER_PID" ] || return 0
	kill "$S3RVER_PID" 2>/dev/null || true
	wait "$S3RVER_PID" 2>/dev/null || true
	S3RVER_PID=""
}
trap 's3_stop; _bd_on_exit "$?"' EXIT
