#!/usr/bin/env bash
# Build ARG in build-test/ and run the whole test suite.
#
#   bash scripts/test.sh [extra meson test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

if [ -f build-test/build.ninja ]; then
    meson setup --reconfigure build-test
else
    rm -rf build-test
    meson setup build-test
fi
ninja -C build-test

log=build-test/meson-test-output.txt
set +e
meson test -C build-test --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# One closing line with the counts, from meson's summary.
count() { sed -n "s/^$1:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1; }
ok=$(count 'Ok'); xfail=$(count 'Expected Fail')
fail=$(count 'Fail'); xpass=$(count 'Unexpected Pass')
skip=$(count 'Skipped'); tmo=$(count 'Timeout')
passed=$(( ${ok:-0} + ${xfail:-0} ))
failed=$(( ${fail:-0} + ${xpass:-0} + ${tmo:-0} ))
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ] && [ $rc -eq 0 ]; then
    echo "test.sh: meson ran no test" >&2
    rc=1
fi
echo "meson: $passed passed, $failed failed, ${skip:-0} skipped"
exit $rc
