#!/usr/bin/env bash
# Stored log throughput with secrets masked, against the same job without:
#   tests/bench/secrets_throughput.sh [build-dir] [rounds]
# A local-engine worker runs, alternately, a job whose env names 50 secrets
# of 32 bytes (so its log goes through the masker, with 50 values and their
# encoded forms) and the same job naming none; each prints 50 MB of text
# lines. Throughput is the bytes stored over the job's run time
# (started_at -> ended_at: the log is stored before the job's end is).
# Prints each round and the ratio of the medians (with / without).
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
ROUNDS=${2:-3}
BYTES=$((50 * 1000 * 1000))
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
"$GW_BUILD_DIR/gitweave-worker" keygen "$GW_TMP/secrets.key" "$GW_TMP/secrets.pub" || exit 1
GITWEAVE_SECRETS_PUBLIC_KEY_FILE=$GW_TMP/secrets.pub gw_api_start || exit 1
gw_worker_start b1 RUNNER_SECRETS_KEY_FILE="$GW_TMP/secrets.key" RUNNER_LOG_MAX_BYTES=$((64 << 20)) \
    RUNNER_LOG_FLUSH_MS=500

script="yes 'line of output: the quick brown fox jumps over the lazy dog 0123456789 ABCDEF' | head -c $BYTES"
env_json=$(for i in $(seq -w 1 50); do printf '"S%s": "${{ secrets.S%s }}"\n' "$i" "$i"; done | paste -sd, -)
gw_template with "{\"kind\": \"build\", \"jobs\": [{\"name\": \"print\", \"env\": {$env_json},
  \"script\": [$(jq -Rn --arg s "$script" '$s')]}]}" || exit 1
gw_template without "{\"kind\": \"build\", \"jobs\": [{\"name\": \"print\",
  \"script\": [$(jq -Rn --arg s "$script" '$s')]}]}" || exit 1
gw_repo demo with without || exit 1
for i in $(seq -w 1 50); do
    head -c 24 /dev/urandom | base64 | tr -d '\n' | jq -Rc '{value: .}' >"$GW_TMP/v.json"
    api PUT "/repos/demo/secrets/S$i" -H 'Content-Type: application/json' --data-binary @"$GW_TMP/v.json" >/dev/null
    [ "$(status)" = 204 ] || { echo "secret S$i: HTTP $(status)"; exit 1; }
done
rm -f "$GW_TMP/v.json"

echo "## $(date -u '+%F %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# one TEMPLATE: MB/s stored by one run of TEMPLATE.
one() {
    local run job
    run=$(gw_trigger demo "{\"template\": \"$1\"}")
    wait_for 600 run_is_final "$run" || { echo "run $run did not end"; exit 1; }
    job=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
    gw_psql -c "SELECT round((SELECT sum(length(chunk)) FROM logs WHERE job_id = '$job')
                  / extract(epoch FROM ended_at - started_at) / 1e6, 1),
                  (SELECT sum(length(chunk)) FROM logs WHERE job_id = '$job')
                FROM jobs WHERE id = '$job'"
}
with=() without=()
for r in $(seq "$ROUNDS"); do
    a=$(one without); b=$(one with)
    echo "round $r: without secrets ${a%%|*} MB/s (${a##*|} bytes), with 50 secrets ${b%%|*} MB/s (${b##*|} bytes)"
    without+=("${a%%|*}"); with+=("${b%%|*}")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
echo "median: without $mo MB/s, with $mw MB/s, ratio $(awk -v a="$mw" -v b="$mo" 'BEGIN{printf "%.2f", a/b}')"
gw_finish >/dev/null
