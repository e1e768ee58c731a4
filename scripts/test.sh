#!/usr/bin/env bash
# Build with warnings as errors and run every test: unit, integration (a real
# Postgres started by the tests) and container tests (a real dockerd started
# by the tests); then the Check programs and the lifetime tests again under
# ASan/UBSan; then every fuzz target for 30 s (clang, libFuzzer;
# tests/fuzz/README.md).
#
# Tests run side by side: the unit tests and the ASan stage one per core, the
# integration and e2e tests GW_TEST_JOBS at a time (default: two per core,
# since they mostly wait on Postgres, sleeps and containers); the ones that
# measure how fast something answers run alone, and those with a dockerd of
# their own take turns (tests/CMakeLists.txt). The fuzz targets run one per
# core. Timings: tests/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
test_jobs=${GW_TEST_JOBS:-$((2 * jobs))}

cmake -S . -B build -DGW_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" -L unit)
(cd build && ctest --output-on-failure -j"$test_jobs" -L 'integration|e2e')

cmake -S . -B build-asan -DGW_WERROR=ON -DGW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
# Every Check program (those that start a Postgres too), and the integration
# tests of object lifetimes, where a use-after-free shows only under ASan.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$jobs" \
    -R '^unit_check_|^integration_test_(stream_lifetimes|log_follow_reconnect)$')

bash scripts/fuzz.sh 30
