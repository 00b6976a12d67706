#!/bin/sh
# Run one program under valgrind's memcheck, as scripts/test.sh's
# unit-valgrind phase (make check LOG_COMPILER=) and
# tests/integration/valgrind_test.sh do:
#
#   tests/valgrind.sh PROGRAM [ARG...]
#
# Exit 99 on any memcheck error (invalid reads and writes, uses of
# uninitialised values, bad frees, memory definitely lost at exit) or the
# program's own exit code.  Leaks "still reachable" at exit are not errors:
# libraries loaded once on demand (common/lazylib.c) stay loaded for the
# process's life by design.  BD_VALGRIND_LOG_DIR: write each process's report
# to DIR/vg.PID.log instead of stderr (a command whose stderr the caller
# parses, or one run by a server as archive_command).
here="$(cd "$(dirname "$0")" && pwd -P)"
set -- --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--num-callers=30 --suppressions="$here/valgrind.supp" "$@"
if [ -n "${BD_VALGRIND_LOG_DIR:-}" ]; then
	set -- --log-file="$BD_VALGRIND_LOG_DIR/vg.%p.log" "$@"
fi
exec valgrind "$@"
