# Shared by bench/pg.sh, bench/mysql.sh and bench/migrate.sh: sourced after ROOT,
# BUILD_DIR, BUILD, BACKUPD and DBRESTORE are set.  bench/wal.sh,
# basebackup.sh and s3.sh use its helpers that need none of them
# (bench_exec_cost_us, bench_machine_line).

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

# bench_pg_load_data DB SCALE: the benchmark database (bench/pg.sh, bench/migrate.sh):
# pgbench -i -s SCALE with foreign keys, plus a text-heavy table (docs) and an
# incompressible bytea table (blobs) scaled with it, ~1 GB at scale 50.  Uses
# the caller's PSQL (array: psql with connection options), CONN (pgbench's
# connection options) and PG_BINDIR; sets DB_BYTES.
bench_pg_load_data() {
	local DB="$1" SCALE="$2" t0=$SECONDS TEXT_ROWS BLOB_ROWS
	log "creating database '$DB': pgbench -i -s $SCALE"
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
	"$PG_BINDIR/pgbench" "${CONN[@]}" -i -s "$SCALE" -q --foreign-keys "$DB" 2>&1 | tail -n 1 >&2

	TEXT_ROWS=$((SCALE * 10000))  # ~300 bytes each: ~3 MB per scale unit, compressible
	BLOB_ROWS=$((SCALE * 2000))   # 992 random bytes each: ~2 MB per scale unit
	log "adding docs ($TEXT_ROWS rows of text) and blobs ($BLOB_ROWS rows of random bytea)"
	"${PSQL[@]}" -d "$DB" <<SQL
CREATE TABLE docs (
    id      bigint PRIMARY KEY,
    author  text NOT NULL,
    created timestamptz NOT NULL,
    body    text NOT NULL,
    tags    text[]
);
INSERT INTO docs
SELECT i,
       'author-' || (i % 5000),
       timestamptz '2020-01-01 00:00:00+00' + i * interval '37 seconds',
       (SELECT string_agg(w[1 + (hashint8(i * 64 + j) & 2147483647) % array_length(w, 1)], ' ')
        FROM generate_series(1, 40) AS j),
       ARRAY['tag' || (i % 17), 'tag' || (i % 101)]
FROM generate_series(1, $TEXT_ROWS) AS i,
     LATERAL (SELECT ARRAY['the','of','and','to','in','is','for','that','with','as',
                           'database','backup','restore','server','table','index','query',
                           'postgres','replica','snapshot','archive','segment','commit',
                           'transaction','vacuum','checkpoint','buffer','tuple','page',
                           'relation','schema','function','trigger','sequence','column',
                           'customer','order','invoice','payment','shipment','product',
                           'warehouse','account','balance','ledger','report','monthly',
                           'quarterly','annual','revenue','margin','forecast','budget',
                           'alpha','bravo','charlie','delta','echo','foxtrot','golf',
                           'hotel','india','juliett','kilo','lima','mike'] AS w) AS words;
CREATE INDEX docs_author ON docs (author);

CREATE TABLE blobs (id bigint PRIMARY KEY, data bytea NOT NULL);
INSERT INTO blobs
SELECT i, (SELECT string_agg(sha256(int8send(i * 64 + j)), ''::bytea) FROM generate_series(1, 31) AS j)
FROM generate_series(1, $BLOB_ROWS) AS i;
VACUUM ANALYZE;
CHECKPOINT;
SQL
	DB_BYTES="$("${PSQL[@]}" -A -t -d "$DB" -c "SELECT pg_database_size('$DB')")"
	log "database ready: $((DB_BYTES / 1048576)) MB in $((SECONDS - t0))s"
}

# pg_server_cpu DATADIR...: CPU seconds (user + system) the PostgreSQL servers
# of these data directories have used so far: each postmaster, its live
# children and the children it has reaped (backends that have exited).
pg_server_cpu() {
	local pids="" d
	for d in "$@"; do pids="$pids $(head -n 1 "$d/postmaster.pid")"; done
	# processes come and go while cat reads: a vanished one is not an error
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v hz="$(getconf CLK_TCK)" -v pids="$pids" '
		BEGIN { n = split(pids, p, " "); for (i = 1; i <= n; i++) root[p[i]] = 1 }
		{ rest = $0; sub(/^.*\) /, "", rest)  # after "(comm) ", which may hold spaces
		  split(rest, f, " ")                  # f[1] is field 3 (state) of proc(5)
		  if ($1 in root) t += f[12] + f[13] + f[14] + f[15]
		  else if (f[2] in root) t += f[12] + f[13] }
		END { printf "%.2f", t / hz }'
}

# timed NAME CMD...: runs CMD under GNU time (after the caller's bench_quiesce,
# if it defines one: checkpoints), appends "NAME seconds maxrss_kb client_cpu_s
# server_cpu_s" to $RESULTS (client: CMD and its children; server: what the
# caller's bench_server_cpu prints before and after, 0 without one); output
# in $WORKDIR/out.NAME and err.NAME; the caller's bench_stats, if any, is
# appended to stats0.NAME before and stats1.NAME after.  A failure stops the run.
timed() {
	local name="$1"
	shift
	local tf="$WORKDIR/time.$name"
	if declare -F bench_quiesce >/dev/null; then bench_quiesce; fi
	sync
	local s0=0 s1=0
	if declare -F bench_server_cpu >/dev/null; then s0="$(bench_server_cpu)"; fi
	if declare -F bench_stats >/dev/null; then bench_stats_to "$WORKDIR/stats0.$name"; fi
	if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"$WORKDIR/out.$name" 2>"$WORKDIR/err.$name"; then
		tail -n 20 "$WORKDIR/err.$name" >&2
		die "$name failed: $*"
	fi
	# (after the wall time is taken: the server reaps the tool's backends, and
	# counts their CPU, only once they have exited)
	if declare -F bench_server_cpu >/dev/null; then sleep 1; s1="$(bench_server_cpu)"; fi
	if declare -F bench_stats >/dev/null; then bench_stats_to "$WORKDIR/stats1.$name"; fi
	printf '%s %s\n' "$name" "$(tail -n 1 "$tf" | awk -v s0="$s0" -v s1="$s1" '{ printf "%s %s %.2f %.2f", $1, $2, $3 + $4, s1 - s0 }')" >>"$RESULTS"
	log "$name: $(tail -n 1 "$RESULTS" | awk '{printf "%.2fs, peak RSS %.1f MB, CPU %.1fs client + %.1fs server", $2, $3/1024, $4, $5}')"
}

# bench_stats_to FILE: the caller's bench_stats appended to FILE under a
# "--- time" line (every run's, a spike in the first one included)
bench_stats_to() {
	{
		echo "--- $(date +%H:%M:%S)"
		bench_stats
	} >>"$1"
}

# best NAME FIELD: the minimum of FIELD (2 = seconds, 3 = RSS KB, 4 = client CPU s,
# 5 = server CPU s) over runs
best() { awk -v n="$1" -v f="$2" '$1 == n { if (m == "" || $f + 0 < m + 0) m = $f } END { print m }' "$RESULTS"; }
# cpu NAME: "client + server" CPU seconds of NAME (the fastest run of each;
# server: whatever the caller's bench_server_cpu counts)
cpu() { awk -v c="$(best "$1" 4)" -v s="$(best "$1" 5)" 'BEGIN { printf "%.1f + %.1f", c, s }'; }

# Report helpers: a/b to 2 decimals; 1/0 for a <= b, a < b; PASS/MISS; KB and bytes as MB.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' && echo 1 || echo 0; }
verdict() { if [ "$1" = 1 ]; then echo "PASS"; else echo "MISS"; fi; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mbb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# An empty $WORKDIR that the servers' unprivileged user can traverse.
bench_workdir_fresh() {
	rm -rf "$WORKDIR"
	mkdir -p "$WORKDIR"
	chmod 0755 "$WORKDIR"
}

# The PostgreSQL benchmark servers' settings (scripts/pg-server.sh PG_SERVER_CONF).
BENCH_PG_CONF="shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
autovacuum = off"

# --steady-memory (every bench that times servers writing data): on a VM whose
# balloon reports free pages to its host, memory that sat free has been handed
# back, and the next process to write into it pays the host's fault-in as its
# own kernel CPU (seen here: up to ~26% of a restore's server samples copying
# into the page cache, against ~5% for the tool that ran once the free memory
# was used up), so the order the tools run in decides who pays.  This turns the
# reporting off for the run (page_reporting_order above the largest buddy
# order), touches the free memory once, untimed, and puts the setting back at
# exit: call bench_steady_memory_restore from the caller's EXIT trap.
BENCH_PR_ORDER=/sys/module/page_reporting/parameters/page_reporting_order
bench_pr_saved=
bench_steady_memory() { # $1: the script's name, for messages
	[ -w "$BENCH_PR_ORDER" ] || { echo "$1: --steady-memory needs root on a VM with free page reporting ($BENCH_PR_ORDER)" >&2; exit 2; }
	bench_pr_saved="$(cat "$BENCH_PR_ORDER")"
	echo 11 >"$BENCH_PR_ORDER"
	export BENCH_MEMORY_NOTE=", free page reporting off"
	echo "$1: free page reporting to the host off for this run (page_reporting_order $bench_pr_saved -> 11, put back at exit)" >&2
	# memory handed back before now stays so until touched: touch all of what is
	# free but 1 GB once (perl: in every Debian)
	perl -e 'my $mb = int($ARGV[0] / 1024) - 1024; my $blk = "\1" x (1 << 20); my @held;
		push @held, "$blk" for 1 .. $mb; print STDERR "$ARGV[1]: touched $mb MB of free memory\n" if $mb > 0' \
		"$(awk '/^MemFree:/ { print $2 }' /proc/meminfo)" "$1"
}
bench_steady_memory_restore() {
	[ -z "$bench_pr_saved" ] || echo "$bench_pr_saved" >"$BENCH_PR_ORDER" 2>/dev/null || true
}

# bench_exec_cost_us: this machine's cost of one fork+exec of /bin/true, in
# microseconds: the median of 51, each timed with $EPOCHREALTIME (no clock
# process: the only one started per sample is the one measured).  A VM's
# process start cost varies between sessions (5 ms one day, half that weeks
# before), and every figure that starts processes moves with it: the line
# below lets results of different sessions be compared.
bench_exec_cost_us() {
	local i t0 t1 samples=()
	/bin/true # into the page cache
	for ((i = 0; i < 51; i++)); do
		t0="$EPOCHREALTIME"
		/bin/true
		t1="$EPOCHREALTIME"
		# seconds.microseconds (the locale may say ","): as microseconds
		samples+=($((10#${t1//[.,]/} - 10#${t0//[.,]/})))
	done
	printf '%s\n' "${samples[@]}" | sort -n | sed -n 26p
}

# bench_machine_line [US]: the header line of a bench's results giving
# bench_exec_cost_us (measured now unless US is given)
bench_machine_line() {
	local us="${1:-$(bench_exec_cost_us)}"
	awk -v us="$us" 'BEGIN { printf "machine: one fork+exec of /bin/true %.2f ms (median of 51)\n", us / 1000 }'
}
