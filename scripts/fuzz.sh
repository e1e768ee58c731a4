#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz (clang, with ASan and UBSan) and
# run each for SECONDS as a single process, GW_FUZZ_JOBS of them at a time
# (default: the number of cores). Fails when a
# target finds a crash, a leak, a sanitizer report, a hang (an input taking
# more than 10 s) or runs out of memory; the input is then kept in
# <build>/fuzz/artifacts/TARGET/ and the log in <build>/fuzz/TARGET.log.
#
#   scripts/fuzz.sh SECONDS [TARGET...]   (default: every target)
#   scripts/fuzz.sh --build [TARGET...]   only build them
#
# Targets: template request http logchunk docker_frames secret_mask cron. The build goes to
# build-fuzz (GW_FUZZ_BUILD_DIR), apart from the gcc build. The corpus each
# target grows is kept in <build>/fuzz/corpus/TARGET across runs; the seeds
# in tests/fuzz/corpus/TARGET are read, never written. See tests/fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(template request http logchunk docker_frames secret_mask cron)
if [ $# -lt 1 ] || ! [[ "$1" =~ ^([1-9][0-9]*|--build)$ ]]; then
    echo "usage: scripts/fuzz.sh SECONDS|--build [TARGET...]   (targets: ${all[*]})" >&2
    exit 2
fi
secs=$1
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
        echo "fuzz: unknown target \"$t\" (targets: ${all[*]})" >&2
        exit 2
    fi
done

build=${GW_FUZZ_BUILD_DIR:-build-fuzz}
gen=
# Ninja for a new folder, as scripts/test.sh.
[ ! -e "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1 && gen=Ninja
cmake ${gen:+-G "$gen"} -S . -B "$build" -DCMAKE_C_COMPILER=clang -DGW_FUZZ=ON -DGW_WERROR=ON \
    -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
[ "$secs" = --build ] && exit 0

# fuzz_one TARGET: run it; its report line goes to <build>/fuzz/TARGET.result
# (a second line "FAILED" when it failed).
fuzz_one() {
    local t=$1 work="$build/fuzz" log rc=0 done_line runs speed cov ft corp
    log="$work/$t.log"
    opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
          -artifact_prefix="$work/artifacts/$t/")
    [ -f "tests/fuzz/dict/$t.dict" ] && opts+=(-dict="tests/fuzz/dict/$t.dict")
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/tests/fuzz/fuzz_$t" "${opts[@]}" "$work/corpus/$t" "tests/fuzz/corpus/$t" \
        >"$log" 2>&1 || rc=$?

    # The last status line: "#N DONE cov: C ft: F corp: U/Sb ...".
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done_line")
    if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|^SUMMARY: ' "$log"; then
        {
            echo "fuzz_$t: FAILED (exit $rc); log $log, input in $work/artifacts/$t/"
            grep -E 'invariant broken|ERROR:|runtime error:|SUMMARY:|Test unit written' "$log" || tail -20 "$log"
        } >"$work/$t.result"
        return 1
    fi
    echo "fuzz_$t: ok: ${runs:-?} runs in ${secs} s, ${speed:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}" \
        >"$work/$t.result"
}

# GW_FUZZ_JOBS targets at a time (default: one per core); each is a single
# process on one core.
par=${GW_FUZZ_JOBS:-$(nproc)}
for t in "${targets[@]}"; do
    mkdir -p "$build/fuzz/corpus/$t" "$build/fuzz/artifacts/$t"
    rm -f "$build/fuzz/$t.result"
    while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do
        wait -n || true
    done
    fuzz_one "$t" &
done
wait || true

failed=()
for t in "${targets[@]}"; do
    if [ ! -f "$build/fuzz/$t.result" ] || grep -q "^fuzz_$t: FAILED" "$build/fuzz/$t.result"; then
        [ -f "$build/fuzz/$t.result" ] && cat "$build/fuzz/$t.result" >&2 ||
            echo "fuzz_$t: FAILED (no result)" >&2
        failed+=("$t")
    else
        cat "$build/fuzz/$t.result"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
