#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#
#   1. deps         scripts/deps.sh (apt-get update + install)
#   2. autoreconf   generate ./configure in the source root
#   3. build        build/       ../configure --enable-werror; make
#   4. unit         make check in build/ (cmocka logs printed)
#   4b. unit-valgrind  the same unit tests again, each under valgrind's
#                   memcheck (tests/valgrind.sh: any error or definite leak
#                   fails the test); tests/integration/valgrind_test.sh runs
#                   the tools themselves under it in phase 8
#   5. build-asan   build-asan/  ../configure --enable-werror --enable-sanitizers; make
#   6. unit-asan    make check in build-asan/ under ASan/UBSan/LSan
#   7. fuzz         build-fuzz/  CC=clang ../configure --enable-werror --enable-fuzz;
#                   make fuzz; tests/fuzz/run.sh: each libFuzzer target replays
#                   its seed corpus and fuzzes for BD_FUZZ_SECONDS (7 s each,
#                   about a minute in all); any crash, leak, hang or sanitizer
#                   report fails it
#   8. integration       tests/integration/run.sh with build/ binaries
#   9. integration-asan  with build-asan/ binaries: by default the suites
#                   that feed the tools hostile or broken input and kill
#                   them midway (ASAN_SUITES below: crafted and corrupted
#                   repositories, wrong keys and secrets, killed and
#                   disk-full runs, dropped connections, provisioning
#                   failures, WAL, check, migrate, cloud credentials);
#                   every suite with --long or BD_ASAN_SUITES=all.  Phase 8
#                   runs the others, so that each suite runs once (both
#                   phases run all with --long); the main paths of phase 8's
#                   suites run under valgrind there (valgrind_test.sh).
#                   (every suite in both phases took CI 44 of its 51 minutes)
#  10. package      tests/integration/package.sh: build the Debian package,
#                   install it, check it, purge it (last: it installs
#                   /etc/backupd/backupd.conf; needs root)
#
# Options (also as environment variables):
#   --no-deps        (BD_SKIP_DEPS=1)        skip scripts/deps.sh
#   --no-asan        (BD_SKIP_ASAN=1)        skip phases 5, 6 and 9
#   --no-fuzz        (BD_SKIP_FUZZ=1)        skip phase 7
#   --no-valgrind    (BD_SKIP_VALGRIND=1)    skip phase 4b
#   --long           (BD_LONG=1)             long variants: fuzz each target for
#                                            BD_FUZZ_SECONDS=300 unless that is set;
#                                            10 rounds of faults_test.sh; restore --create
#                                            killed after each statement (restore_kill_sweep_test.sh);
#                                            physical_test.sh
#                                            on every PostgreSQL major 12..18, every target;
#                                            majors_test the whole 12..18 dump/restore matrix
#   --no-integration (BD_SKIP_INTEGRATION=1) skip phases 8 and 9
#   --no-asan-integration (BD_SKIP_ASAN_INTEGRATION=1) skip phase 9
#   BD_ASAN_SUITES="a_test.sh b_test.sh" | all   the suites of phase 9
#   BD_ASAN_PARALLEL=N                       phase 9's suites at once (default
#                                            one more than --parallel: the ASan
#                                            suites wait on killed and restarted
#                                            servers, CPU more than half idle)
#   --no-package     (BD_SKIP_PACKAGE=1)     skip phase 10
#   --parallel=N     (BD_PARALLEL=N)         integration suites run N at a time
#                                            (default 2: they mostly wait on
#                                            servers, so two share 2 cores well)
#
# Exits non-zero if any phase failed; phases that need a failed build are
# skipped and counted as failed.  The last line is the grand total over the
# unit tests (both builds), the fuzz targets and the integration suites:
# "N passed, N failed".
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$ROOT"

SKIP_DEPS="${BD_SKIP_DEPS:-0}"
PARALLEL="${BD_PARALLEL:-2}"
SKIP_ASAN="${BD_SKIP_ASAN:-0}"
SKIP_INTEGRATION="${BD_SKIP_INTEGRATION:-0}"
SKIP_ASAN_INTEGRATION="${BD_SKIP_ASAN_INTEGRATION:-0}"
SKIP_PACKAGE="${BD_SKIP_PACKAGE:-0}"
SKIP_FUZZ="${BD_SKIP_FUZZ:-0}"
SKIP_VALGRIND="${BD_SKIP_VALGRIND:-0}"
LONG="${BD_LONG:-0}"
for arg in "$@"; do
	case "$arg" in
	--no-deps) SKIP_DEPS=1 ;;
	--no-asan) SKIP_ASAN=1 ;;
	--no-fuzz) SKIP_FUZZ=1 ;;
	--no-valgrind) SKIP_VALGRIND=1 ;;
	--long) LONG=1 ;;
	--parallel=*) PARALLEL="${arg#--parallel=}" ;;
	--no-integration) SKIP_INTEGRATION=1 ;;
	--no-asan-integration) SKIP_ASAN_INTEGRATION=1 ;;
	--no-package) SKIP_PACKAGE=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "test.sh: unknown option '$arg' (see --help)" >&2
		exit 2
		;;
	esac
done

JOBS="${BD_MAKE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# VPATH builds (build/, build-asan/) are impossible once the root itself is
# configured: automake refuses with "source directory already configured".
if [ -e "$ROOT/config.status" ]; then
	echo "test.sh: the source root is configured in-tree ($ROOT/config.status exists)." >&2
	echo "test.sh: builds go to build/ and build-asan/; clean the root first: (cd '$ROOT' && make distclean)" >&2
	exit 1
fi

# Sanitizer settings for every ASan-built program (unit tests and the
# integration run).  exitcode=99 keeps sanitizer failures distinct from the
# tools' own exit codes; the integration harness also greps for reports.
ASAN_ENV=(
	"ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
	"LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0:exitcode=99"
	"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99"
)

declare -a PHASE_NAMES=() PHASE_RESULTS=() PHASE_TIMES=()
UNIT_PASSED=0
UNIT_FAILED=0
INT_PASSED=0
INT_FAILED=0
FUZZ_PASSED=0
FUZZ_FAILED=0
FAILED=0

banner() { printf '\n======== %s ========\n' "$*"; }

# phase NAME FUNC: run FUNC, record result and time
phase() {
	local name="$1" fn="$2" start rc=0
	banner "$name"
	start=$(date +%s)
	"$fn" || rc=$?
	local t=$(($(date +%s) - start))
	PHASE_NAMES+=("$name")
	PHASE_TIMES+=("$t")
	if [ "$rc" -eq 0 ]; then
		PHASE_RESULTS+=("ok")
	else
		PHASE_RESULTS+=("FAILED")
		FAILED=1
	fi
	printf -- '-------- %s: %s (%ss)\n' "$name" "${PHASE_RESULTS[-1]}" "$t"
	return "$rc"
}

skip_phase() {
	local name="$1" why="$2" counts="${3:-0}"
	banner "$name"
	echo "skipped: $why"
	PHASE_NAMES+=("$name")
	PHASE_TIMES+=(0)
	if [ "$counts" -ne 0 ]; then
		PHASE_RESULTS+=("FAILED (skipped: $why)")
		FAILED=1
	else
		PHASE_RESULTS+=("skipped ($why)")
	fi
}

do_deps() { bash "$ROOT/scripts/deps.sh"; }

do_autoreconf() { autoreconf -fi; }

# configure_and_build DIR CONFIGURE-ARGS...
configure_and_build() {
	local dir="$1"
	shift
	mkdir -p "$ROOT/$dir"
	# Explicit && chains: set -e does not apply inside a function called
	# from a condition, which is how phase() runs it.
	(cd "$ROOT/$dir" && ../configure "$@" && make -j"$JOBS")
}

# Print every unit-test log so cmocka's summary lines appear in the CI output,
# and add their counts to the totals.
print_unit_logs() {
	local dir="$1" log trs n
	local -i p=0 f=0 files=0
	while IFS= read -r log; do
		files+=1
		echo "---- ${log#"$ROOT/"}"
		cat "$log"
		n="$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | tail -n 1 | grep -oE '[0-9]+' | head -n 1 || true)"
		p+=${n:-0}
		n="$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | tail -n 1 | grep -oE '[0-9]+' | head -n 1 || true)"
		if [ -n "$n" ]; then
			f+=$n
		else
			# A crash or an error outside cmocka: one failure per failed program.
			trs="${log%.log}.trs"
			if [ -f "$trs" ] && grep -q -E '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
				f+=1
			fi
		fi
	done < <(find "$ROOT/$dir/tests/unit" -name '*.log' -type f 2>/dev/null | sort)
	if [ "$files" -eq 0 ]; then
		echo "test.sh: no unit test logs under $dir/tests/unit" >&2
	fi
	UNIT_PASSED=$((UNIT_PASSED + p))
	UNIT_FAILED=$((UNIT_FAILED + f))
	echo "unit tests ($dir): $p passed, $f failed in $files programs"
}

# run_unit DIR [ENV...]
run_unit() {
	local dir="$1"
	shift
	local rc=0
	(cd "$ROOT/$dir" && env "$@" make -j"$JOBS" check) || rc=$?
	print_unit_logs "$dir"
	if [ "$rc" -ne 0 ] && [ -f "$ROOT/$dir/test-suite.log" ]; then
		echo "---- $dir/test-suite.log"
		cat "$ROOT/$dir/test-suite.log"
	fi
	if [ "$rc" -ne 0 ] && [ "$UNIT_FAILED" -eq 0 ]; then
		# make check failed without a failing test log (e.g. a compile error).
		UNIT_FAILED=$((UNIT_FAILED + 1))
	fi
	return "$rc"
}

# tally FILE PASSED_VAR FAILED_VAR: adds FILE's last "N passed, N failed" line
# to the two counters (no such line: the run itself failed, one failure).
tally() {
	local line
	line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1 || true)"
	if [ -n "$line" ]; then
		printf -v "$2" '%d' $((${!2} + $(echo "$line" | cut -d' ' -f1)))
		printf -v "$3" '%d' $((${!3} + $(echo "$line" | cut -d' ' -f3)))
	else
		printf -v "$3" '%d' $((${!3} + 1))
	fi
}

# run_integration DIR [VAR=VALUE...] [-- SUITE...]: run.sh with DIR's
# binaries (every suite unless some are named)
run_integration() {
	local dir="$1"
	shift
	local -a vars=() suites=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	suites=("$@")
	local out rc=0
	out="$(mktemp "${TMPDIR:-/tmp}/bd-integration-out.XXXXXX")"
	env BUILD_DIR="$ROOT/$dir" BD_PARALLEL="$PARALLEL" "${vars[@]}" bash "$ROOT/tests/integration/run.sh" "${suites[@]}" 2>&1 | tee "$out" || rc=$?
	tally "$out" INT_PASSED INT_FAILED
	rm -f "$out"
	return "$rc"
}

do_build() { configure_and_build build --enable-werror; }
do_unit() { run_unit build; }
# LOG_COMPILER (automake's test harness runs each test as "$LOG_COMPILER test")
do_unit_valgrind() { run_unit build LOG_COMPILER="$ROOT/tests/valgrind.sh"; }
do_build_asan() { configure_and_build build-asan --enable-werror --enable-sanitizers; }
do_unit_asan() { run_unit build-asan "${ASAN_ENV[@]}"; }
# The default ASan integration subset (see the header); --long runs them all.
ASAN_SUITES_DEFAULT="pitr_crafted_test.sh verify_test.sh encrypt_test.sh secrets_test.sh faults_test.sh
	pg_roles_test.sh check_test.sh wal_test.sh migrate_test.sh s3_credentials_test.sh"
# The suites phase 9 runs: a list, or "all"
asan_suites() {
	if [ -n "${BD_ASAN_SUITES:-}" ]; then
		echo "$BD_ASAN_SUITES"
	elif [ "$LONG" = 1 ]; then
		echo all
	else
		echo "$ASAN_SUITES_DEFAULT"
	fi
}
asan_integration_runs() {
	[ "$SKIP_INTEGRATION" != 1 ] && [ "$SKIP_ASAN" != 1 ] && [ "$SKIP_ASAN_INTEGRATION" != 1 ] &&
		[ "$built_asan" = 1 ]
}
# Phase 8 runs every suite that phase 9 does not (each suite runs once by
# default, ASan's where the input is hostile; --long runs all in both).
do_integration() {
	local -a plain=()
	local t asan
	asan="$(asan_suites)"
	asan=" ${asan//[$'\n\t']/ } "
	if asan_integration_runs && [ "$asan" != " all " ] && [ "$LONG" != 1 ]; then
		for t in "$ROOT"/tests/integration/*_test.sh; do
			t="${t##*/}"
			case "$asan" in *" $t "*) ;; *) plain+=("$t") ;; esac
		done
	fi
	run_integration build BD_LONG="$LONG" -- "${plain[@]}"
}
do_integration_asan() {
	local suites
	suites="$(asan_suites)"
	[ "$suites" != all ] || suites=""
	# (word splitting of $suites is meant: one argument per suite)
	# shellcheck disable=SC2086
	run_integration build-asan "${ASAN_ENV[@]}" BD_CMD_TIMEOUT=600 BD_LONG="$LONG" BD_ASAN=1 \
		BD_PARALLEL="${BD_ASAN_PARALLEL:-$((PARALLEL + 1))}" -- $suites
}

# The fuzz targets: clang, instrumented for libFuzzer plus ASan/UBSan.
do_build_fuzz() { configure_and_build_fuzz; }
configure_and_build_fuzz() {
	mkdir -p "$ROOT/build-fuzz"
	(cd "$ROOT/build-fuzz" && ../configure --enable-werror --enable-fuzz CC=clang &&
		make -j"$JOBS" fuzz)
}
do_fuzz() {
	local out rc=0 secs="${BD_FUZZ_SECONDS:-}"
	if [ -z "$secs" ]; then
		if [ "$LONG" = 1 ]; then secs=300; else secs=7; fi
	fi
	out="$(mktemp "${TMPDIR:-/tmp}/bd-fuzz-out.XXXXXX")"
	BD_FUZZ_SECONDS="$secs" bash "$ROOT/tests/fuzz/run.sh" "$ROOT/build-fuzz" 2>&1 | tee "$out" || rc=$?
	tally "$out" FUZZ_PASSED FUZZ_FAILED
	rm -f "$out"
	return "$rc"
}

# The package is built from a copy of the tree (not build/); its result line
# counts with the integration tests.
do_package() {
	local out rc=0 line
	out="$(mktemp "${TMPDIR:-/tmp}/bd-package-out.XXXXXX")"
	BD_MAKE_JOBS="$JOBS" bash "$ROOT/tests/integration/package.sh" 2>&1 | tee "$out" || rc=$?
	line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)"
	rm -f "$out"
	if [ -n "$line" ]; then
		INT_PASSED=$((INT_PASSED + $(echo "$line" | cut -d' ' -f1)))
		INT_FAILED=$((INT_FAILED + $(echo "$line" | cut -d' ' -f3)))
	else
		INT_FAILED=$((INT_FAILED + 1))
	fi
	return "$rc"
}

T0=$(date +%s)
built=0
built_asan=0

if [ "$SKIP_DEPS" = 1 ]; then skip_phase deps "--no-deps"; else phase deps do_deps || true; fi

if phase autoreconf do_autoreconf; then
	if phase build do_build; then
		built=1
		phase unit do_unit || true
		if [ "$SKIP_VALGRIND" = 1 ]; then
			skip_phase unit-valgrind "--no-valgrind"
		else
			phase unit-valgrind do_unit_valgrind || true
		fi
	else
		skip_phase unit "build failed" 1
		skip_phase unit-valgrind "build failed" 1
	fi
	if [ "$SKIP_ASAN" = 1 ]; then
		skip_phase build-asan "--no-asan"
		skip_phase unit-asan "--no-asan"
	elif phase build-asan do_build_asan; then
		built_asan=1
		phase unit-asan do_unit_asan || true
	else
		skip_phase unit-asan "build-asan failed" 1
	fi
	if [ "$SKIP_FUZZ" = 1 ]; then
		skip_phase build-fuzz "--no-fuzz"
		skip_phase fuzz "--no-fuzz"
	elif phase build-fuzz do_build_fuzz; then
		phase fuzz do_fuzz || true
	else
		FUZZ_FAILED=$((FUZZ_FAILED + 1))
		skip_phase fuzz "build-fuzz failed" 1
	fi
else
	skip_phase build "autoreconf failed" 1
fi

if [ "$SKIP_INTEGRATION" = 1 ]; then
	skip_phase integration "--no-integration"
elif [ "$built" = 1 ]; then
	phase integration do_integration || true
else
	skip_phase integration "no build" 1
fi

if [ "$SKIP_INTEGRATION" = 1 ] || [ "$SKIP_ASAN" = 1 ] || [ "$SKIP_ASAN_INTEGRATION" = 1 ]; then
	skip_phase integration-asan "skipped by option"
elif [ "$built_asan" = 1 ]; then
	phase integration-asan do_integration_asan || true
else
	skip_phase integration-asan "no ASan build" 1
fi

if [ "$SKIP_PACKAGE" = 1 ]; then
	skip_phase package "--no-package"
elif [ "$(id -u)" -ne 0 ]; then
	skip_phase package "needs root (apt-get install)"
else
	phase package do_package || true
fi

banner "summary"
for i in "${!PHASE_NAMES[@]}"; do
	printf '%-18s %-40s %5ss\n' "${PHASE_NAMES[$i]}" "${PHASE_RESULTS[$i]}" "${PHASE_TIMES[$i]}"
done
printf '%-18s %-40s %5ss\n' total "" "$(($(date +%s) - T0))"
echo "unit tests:        $UNIT_PASSED passed, $UNIT_FAILED failed (cmocka, all builds)"
echo "fuzz targets:      $FUZZ_PASSED passed, $FUZZ_FAILED failed (libFuzzer, build-fuzz)"
echo "integration tests: $INT_PASSED passed, $INT_FAILED failed (all runs)"
if [ "$FAILED" -ne 0 ] && [ "$UNIT_FAILED" -eq 0 ] && [ "$INT_FAILED" -eq 0 ] && [ "$FUZZ_FAILED" -eq 0 ]; then
	# A phase failed outside any test (deps, build): make the total say so.
	UNIT_FAILED=1
fi
echo "$((UNIT_PASSED + FUZZ_PASSED + INT_PASSED)) passed, $((UNIT_FAILED + FUZZ_FAILED + INT_FAILED)) failed"
exit "$FAILED"
