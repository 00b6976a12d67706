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

RESULTS="$(mktemp "${TMPDIR:-/tmp}/bd-integration-results.XXXXXX")"
trap 'rm -f "$RESULTS"' EXIT
export BD_RESULTS_FILE="$RESULTS"

total_pass=0
total_fail=0
summary=()
for t in "${tests[@]}"; do
	name="$(basename "$t" .sh)"
	echo "### $name"
	start=$SECONDS
	before="$(wc -l <"$RESULTS")"
	rc=0
	bash "$t" || rc=$?
	after="$(wc -l <"$RESULTS")"
	if [ "$after" -gt "$before" ]; then
		read -r p f _ < <(tail -n 1 "$RESULTS")
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
	summary+=("$(printf '%-40s %4d passed %4d failed %5ds' "$name" "$p" "$f" $((SECONDS - start)))")
done

echo "### integration summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
