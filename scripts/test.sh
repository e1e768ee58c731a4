#!/usr/bin/env bash
# Build with warnings as errors and run every test: unit, integration (a real
# Postgres started by the tests) and container tests (a real dockerd started
# by the tests); the Check programs and the lifetime tests again under
# ASan/UBSan; every fuzz target for 30 s (clang, libFuzzer;
# tests/fuzz/README.md).
#
# Tests run side by side: the unit tests one per core, the integration and
# e2e tests GW_TEST_JOBS at a time (default: two per core, since they mostly
# wait on Postgres, sleeps and containers; none runs alone, and the longest
# start first: tests/CMakeLists.txt). Meanwhile the ASan build and tests and
# then the fuzz targets (one per core) run in the background at idle
# priority, on the CPU the waiting tests leave; their output is printed after
# the tests. Each stage prints its time; timings: tests/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
test_jobs=${GW_TEST_JOBS:-$((2 * jobs))}
start=$(date +%s)
export jobs start
# stage NAME: the time since the run began, at the end of stage NAME.
stage() {
    echo "== $1: done $(($(date +%s) - start)) s into the run"
}
# At idle priority (SCHED_IDLE, else nice 19): what runs in the background.
if chrt --idle 0 true 2>/dev/null; then idle=(chrt --idle 0); else idle=(nice -n 19); fi

# generator DIR: Ninja for a new build folder when there is one (make starts
# a shell and a cmake for every object it builds, and process starts cost
# milliseconds of CPU each on a small machine); a folder keeps the generator
# it was made with.
generator() {
    if [ ! -e "$1/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then echo Ninja; fi
}
gen=$(generator build)
cmake ${gen:+-G "$gen"} -S . -B build -DGW_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
stage build

# sanitizer_and_fuzz: the ASan build; every Check program (those that start a
# Postgres too) and the integration tests of object lifetimes, where a
# use-after-free shows only under ASan; then the fuzz targets. At idle
# priority a test may wait minutes for a core while the foreground tests run:
# its time limit is ten times the usual one (GW_TEST_TIMEOUT_SCALE).
sanitizer_and_fuzz() {
    local gen
    gen=$(generator build-asan)
    cmake ${gen:+-G "$gen"} -S . -B build-asan -DGW_WERROR=ON -DGW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
        -DGW_TEST_TIMEOUT_SCALE=10 >/dev/null &&
        cmake --build build-asan -j"$jobs" >/dev/null || return 1
    stage "ASan build"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j"$jobs" \
        -R '^unit_check_|^integration_test_(stream_lifetimes|log_follow_reconnect)$') || return 1
    stage "ASan tests"
    bash scripts/fuzz.sh 30 || return 1
    stage "fuzz targets"
}
background_log=$PWD/build/sanitizer-and-fuzz.log
# In a process group of its own, stopped with everything it started if a
# test stage fails.
setsid "${idle[@]}" bash -c "$(declare -f stage generator sanitizer_and_fuzz); sanitizer_and_fuzz" \
    >"$background_log" 2>&1 &
background_pid=$!
trap 'kill -- -"$background_pid" 2>/dev/null || true' EXIT

(cd build && ctest --output-on-failure -j"$jobs" -L unit)
stage "unit tests"
(cd build && ctest --output-on-failure -j"$test_jobs" -L 'integration|e2e')
stage "integration and e2e tests"

rc=0
wait "$background_pid" || rc=$?
echo "---- in the background: the ASan build and tests, the fuzz targets ----"
cat "$background_log"
stage "ASan tests and fuzz targets"
if [ "$rc" != 0 ]; then
    echo "the ASan tests or the fuzz targets failed" >&2
    exit 1
fi
