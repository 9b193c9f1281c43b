#!/usr/bin/env bash
# Build ARG in build-test/ and run the whole test suite; then build it again
# with AddressSanitizer and UndefinedBehaviorSanitizer in build-asan/ and run
# the suites that exercise the C code (unit, tools, codec, container,
# conformance, fuzz corpora) there.
#
#   bash scripts/test.sh [extra meson test arguments]
#
# Extra arguments go to the normal run only, and skip the sanitizer run
# unless ARG_TEST_ASAN=1; ARG_TEST_ASAN=0 skips it always. The closing line
# counts both runs: 'meson: N passed, N failed, N skipped'.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

asan=${ARG_TEST_ASAN:-}
if [ -z "$asan" ]; then
    asan=$([ $# -eq 0 ] && echo 1 || echo 0)
fi

# setup DIR [meson options]: configure DIR, or reconfigure it when it exists
setup() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# run_tests DIR LOG [meson test arguments]: the exit status of meson test
run_tests() {
    local dir=$1 log=$2
    shift 2
    set +e
    meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    return $rc
}

rc=0
logs=()

# 1. the normal build, every suite
t0=$SECONDS
setup build-test
ninja -C build-test
logs+=(build-test/meson-test-output.txt)
run_tests build-test build-test/meson-test-output.txt "$@" || rc=$?
normal_s=$((SECONDS - t0))
echo "test.sh: normal build and tests: ${normal_s} s"

# 2. ASan + UBSan. UBSan aborts on the first finding (-fno-sanitize-recover
# and halt_on_error), so a finding fails its test; LSan reads the known
# leaks of system libraries from tests/lsan.supp (tests that run the
# container set it themselves). Vulkan is left out: the normal run covers
# it, and the loader of the Vulkan drivers leaks by design.
if [ "$asan" = 1 ]; then
    t0=$SECONDS
    setup build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
        -Dc_args=-fno-sanitize-recover=undefined -Dcpp_args=-fno-sanitize-recover=undefined \
        -Dvulkan=disabled
    asan_built=1
    ninja -C build-asan || asan_built=0
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
    if [ $asan_built = 1 ]; then
        logs+=(build-asan/meson-test-output.txt)
        run_tests build-asan build-asan/meson-test-output.txt --timeout-multiplier 3 \
            --suite unit --suite tools --suite codec --suite container --suite conformance --suite fuzz || rc=$?
    else
        echo "test.sh: the ASan+UBSan build failed" >&2
        rc=1
        build_failed=1
    fi
    asan_s=$((SECONDS - t0))
    echo "test.sh: ASan+UBSan build and tests: ${asan_s} s"
fi

# One closing line with the counts of both runs, from meson's summaries.
count() { sed -n "s/^$1:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1; }
passed=0 failed=${build_failed:-0} skipped=0
for log in "${logs[@]}"; do
    ok=$(count 'Ok' "$log"); xfail=$(count 'Expected Fail' "$log")
    fail=$(count 'Fail' "$log"); xpass=$(count 'Unexpected Pass' "$log")
    skip=$(count 'Skipped' "$log"); tmo=$(count 'Timeout' "$log")
    passed=$((passed + ${ok:-0} + ${xfail:-0}))
    failed=$((failed + ${fail:-0} + ${xpass:-0} + ${tmo:-0}))
    skipped=$((skipped + ${skip:-0}))
done
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ] && [ $rc -eq 0 ]; then
    echo "test.sh: meson ran no test" >&2
    rc=1
fi
echo "meson: $passed passed, $failed failed, $skipped skipped"
exit $rc
