#!/usr/bin/env bash
# Run every tests/integration/*_test.sh (or the ones named on the command
# line), each in its own process, and print the combined result last:
#
#   N passed, N failed
#
# Environment is passed through to the tests (BUILD_DIR, BACKUPD_BIN,
# DBRESTORE_BIN, PG_BINDIR, ASAN_OPTIONS, ...); see lib.sh.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd -P)"
tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		case "$t" in
		*/*) tests+=("$t") ;;
		*) tests+=("$HERE/$t") ;;
		esac
	done
else
	for t in "$HERE"/*_test.sh; do
		[ -e "$t" ] && tests+=("$t")
	done
fi

if [ "${#tests[@]}" -eq 0 ]; then
	echo "run.sh: no *_test.sh found in $HERE" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# BD_PARALLEL=N runs up to N suites at once (each with its own servers on
# random ports and its own scratch directory); a suite's output is printed
# whole when it ends, so logs never interleave.  A suite whose checks count
# what happens in a window of wall-clock time (schedulers, leases) says so
# with a line "# run.sh: alone" and then runs with nothing beside it.  A
# suite that takes minutes says "# run.sh: long" and starts early.
PARALLEL="${BD_PARALLEL:-1}"
case "$PARALLEL" in '' | *[!0-9]* | 0) echo "run.sh: BD_PARALLEL must be a positive integer" >&2; exit 2 ;; esac

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bd-integration.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

total_pass=0
total_fail=0
summary=()
declare -A started=()

# run_one I TEST: the suite's output to WORK/I.out, its tally to WORK/I.res,
# its exit code to WORK/I.rc
run_one() {
	local i="$1" t="$2" rc=0
	BD_RESULTS_FILE="$WORK/$i.res" bash "$t" >"$WORK/$i.out" 2>&1 || rc=$?
	echo "$rc" >"$WORK/$i.rc"
}

report_one() {
	local i="$1" t="${tests[$1]}" name p f rc
	name="$(basename "$t" .sh)"
	echo "### $name"
	cat "$WORK/$i.out"
	rc="$(cat "$WORK/$i.rc" 2>/dev/null || echo 1)"
	if [ -s "$WORK/$i.res" ]; then
		read -r p f _ < <(tail -n 1 "$WORK/$i.res")
	else
		# The test died without reporting (e.g. killed): count it as a failure.
		p=0
		f=1
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary+=("$(printf '%-40s %4d passed %4d failed %5ds' "$name" "$p" "$f" $((SECONDS - started[$i])))")
}

# With N at a time, the order decides how long the whole run takes: a suite
# that runs alone goes first (later, every slot would idle while the others
# drain), then the long ones marked "# run.sh: long", so that no long suite
# starts last and runs on with the other slots empty.
if [ "$PARALLEL" -gt 1 ]; then
	alone=() long=() rest=()
	for t in "${tests[@]}"; do
		if grep -q '^# run.sh: alone' "$t"; then
			alone+=("$t")
		elif grep -q '^# run.sh: long' "$t"; then
			long+=("$t")
		else
			rest+=("$t")
		fi
	done
	ordered=("${alone[@]}" "${long[@]}" "${rest[@]}")
	tests=("${ordered[@]}")
fi

if [ "$PARALLEL" -eq 1 ]; then
	for i in "${!tests[@]}"; do
		started[$i]=$SECONDS
		run_one "$i" "${tests[$i]}"
		report_one "$i"
	done
else
	declare -A pid_of=()
	next=0
	while [ "$next" -lt "${#tests[@]}" ] || [ "${#pid_of[@]}" -gt 0 ]; do
		while [ "$next" -lt "${#tests[@]}" ] && [ "${#pid_of[@]}" -lt "$PARALLEL" ]; do
			if grep -q '^# run.sh: alone' "${tests[$next]}"; then
				# wait for the others to end, then hold every slot
				[ "${#pid_of[@]}" -eq 0 ] || break
				started[$next]=$SECONDS
				run_one "$next" "${tests[$next]}"
				report_one "$next"
				next=$((next + 1))
				continue
			fi
			started[$next]=$SECONDS
			run_one "$next" "${tests[$next]}" &
			pid_of[$next]=$!
			next=$((next + 1))
		done
		[ "${#pid_of[@]}" -gt 0 ] || continue
		wait -n || true
		for i in "${!pid_of[@]}"; do
			if ! kill -0 "${pid_of[$i]}" 2>/dev/null; then
				wait "${pid_of[$i]}" 2>/dev/null || true
				unset "pid_of[$i]"
				report_one "$i"
			fi
		done
	done
fi

echo "### integration summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
