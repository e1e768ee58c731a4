#!/usr/bin/env bash
# Build with warnings as errors and run every test: unit, integration (a real
# Postgres started by the tests) and container tests (a real dockerd started
# by the tests); then the unit tests and the lifetime tests again under
# ASan/UBSan; then every fuzz target for 30 s (clang, libFuzzer;
# tests/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DGW_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" -L unit)
(cd build && ctest --output-on-failure -L 'integration|e2e')

cmake -S . -B build-asan -DGW_WERROR=ON -DGW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$jobs" -L unit)
# The integration tests of object lifetimes, where a use-after-free shows
# only under ASan.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -R 'integration_test_(stream_lifetimes|log_follow_reconnect)')

bash scripts/fuzz.sh 30
