#!/usr/bin/env bash
# Runs the libFuzzer targets of a build configured with --enable-fuzz.
#
#   tests/fuzz/run.sh BUILD_DIR [TARGET...]
#
# Each target first replays its seed corpus (tests/fuzz/corpus/<target>/, kept
# in the tree: real examples plus every input that once found a bug), then,
# with the tokens of tests/fuzz/dict/<target>.dict when there is one,
# fuzzes for BD_FUZZ_SECONDS seconds (default 7: about a minute for all of
# them), BD_FUZZ_JOBS targets at a time (default one per core: libFuzzer
# uses one).  New inputs go to BUILD_DIR/fuzz/corpus/<target>/ (kept between
# runs, never into the tree); a crash, leak, hang (BD_FUZZ_TIMEOUT seconds
# per input, default 10) or sanitizer report fails the target and leaves its
# reproducer in BUILD_DIR/fuzz/artifacts/<target>/ and its log in
# BUILD_DIR/fuzz/<target>.log.  Replay one with: BUILD_DIR/tests/fuzz/<target> FILE
#
# Prints one line per target and "N passed, N failed" last; exits 1 when any failed.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd -P)"
BUILD="${1:?usage: tests/fuzz/run.sh BUILD_DIR [TARGET...]}"
shift
BUILD="$(cd "$BUILD" && pwd -P)" || exit 2
SECONDS_PER="${BD_FUZZ_SECONDS:-7}"
TIMEOUT="${BD_FUZZ_TIMEOUT:-10}"

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
	for d in "$ROOT"/tests/fuzz/corpus/*/; do
		targets+=("$(basename "$d")_fuzz")
	done
fi

export ASAN_OPTIONS="${BD_FUZZ_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"

JOBS="${BD_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
case "$JOBS" in '' | *[!0-9]* | 0) echo "fuzz: BD_FUZZ_JOBS must be a positive integer" >&2; exit 2 ;; esac
RESULTS="$BUILD/fuzz/results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# fuzz_one TARGET: its lines to RESULTS/TARGET.out, its verdict (0 or 1) to
# RESULTS/TARGET.rc; printed in order once all have run
fuzz_one() {
	local t="$1" name bin seeds work art log dict start rc secs runs
	exec >"$RESULTS/$t.out"
	name="${t%_fuzz}"
	bin="$BUILD/tests/fuzz/$t"
	seeds="$ROOT/tests/fuzz/corpus/$name"
	work="$BUILD/fuzz/corpus/$name"
	art="$BUILD/fuzz/artifacts/$name"
	log="$BUILD/fuzz/$t.log"
	mkdir -p "$work" "$art"
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz: $t: FAILED (no program $bin or no seed corpus $seeds)"
		echo 1 >"$RESULTS/$t.rc"
		return
	fi
	dict=()
	if [ -f "$ROOT/tests/fuzz/dict/$name.dict" ]; then
		dict=(-dict="$ROOT/tests/fuzz/dict/$name.dict")
	fi
	start=$(date +%s)
	rc=0
	# stdout closed: the code under test may print; reports go to stderr
	"$bin" -max_total_time="$SECONDS_PER" -timeout="$TIMEOUT" -rss_limit_mb=2048 \
		-close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
		"$work" "$seeds" >"$log" 2>&1 || rc=$?
	secs=$(($(date +%s) - start))
	runs="$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || true)"
	if [ "$rc" -eq 0 ] && ! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|==ERROR: libFuzzer' "$log"; then
		echo "fuzz: $t: ok (${runs:-?} runs in ${secs}s, corpus $(find "$work" -type f | wc -l) files)"
		echo 0 >"$RESULTS/$t.rc"
	else
		echo "fuzz: $t: FAILED (exit $rc after ${secs}s; log $log)"
		grep -E 'ERROR:|runtime error:|SUMMARY:|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
		echo 1 >"$RESULTS/$t.rc"
	fi
}

running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	fuzz_one "$t" &
	running=$((running + 1))
done
wait
passed=0
failed=0
for t in "${targets[@]}"; do
	cat "$RESULTS/$t.out" 2>/dev/null || echo "fuzz: $t: FAILED (no result: the runner died)"
	if [ "$(cat "$RESULTS/$t.rc" 2>/dev/null)" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
