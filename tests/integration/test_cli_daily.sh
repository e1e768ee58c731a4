#!/usr/bin/env bash
# What a user reaches for every day, against a real API, worker (local
# engine) and Postgres: how long a run waited and how long it ran, the same
# in the client, the API, the psql view and /metrics.
source "$(dirname "$0")/../lib/postgres.sh"

export GITWEAVE_API_TOKEN=daily-test-token
gw_pg_start
gw_api_start
source "$GW_SOURCE_DIR/tests/lib/cli.sh"
run_json() { curl -s "${AUTH[@]}" "$API/pipelines/runs/$1"; }
# secs S: S seconds as the client prints a duration under a minute.
secs() { awk -v s="$1" 'BEGIN { printf "%.1fs", s }'; }

printf 'kind: build\ninputs:\n  MODE: {default: fast}\njobs:\n  - name: one\n    script: ["sleep 1", "echo one ${{ inputs.MODE }}"]\n' >"$GW_TMP/build.yaml"
gw template put "$GW_TMP/build.yaml" && gw repo put hello && gw attach hello build
expect_eq "setup" 0 "$RC"

# ---- durations: a run that waited 2 s for a runner, then ran 1 s ----
"$GW" run hello -f >"$GW_TMP/follow" 2>"$GW_TMP/follow.err" &
follow=$!
wait_for 10 grep -q '^run ' "$GW_TMP/follow" || fail "run -f printed no run line"
waited_run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$GW_TMP/follow")
sleep 2
gw_worker_start w1
wait "$follow"
expect_eq "run -f of the waiting run exits 0" 0 "$?"
j=$(run_json "$waited_run")
# The API's figures to the millisecond, as psql prints them.
queued=$(printf %.3f "$(jq -r .queued_seconds <<<"$j")") ran=$(printf %.3f "$(jq -r .run_seconds <<<"$j")")
check "API: queued_seconds counts the wait" awk -v q="$queued" 'BEGIN { exit !(q >= 2 && q < 30) }'
check "API: run_seconds counts the run only" awk -v r="$ran" 'BEGIN { exit !(r >= 1 && r < 2) }'
expect_eq "API: queued_seconds is created_at to started_at" \
    "$(gw_psql -c "SELECT round(extract(epoch FROM started_at - created_at)::numeric, 3) FROM pipeline_runs WHERE id = '$waited_run'")" "$queued"
expect_eq "API: a job's run_seconds" \
    "$(gw_psql -c "SELECT round(extract(epoch FROM ended_at - started_at)::numeric, 3) FROM jobs WHERE run_id = '$waited_run'")" \
    "$(printf %.3f "$(jq -r '.jobs[0].run_seconds' <<<"$j")")"
check "run -f: the summary says both" \
    grep -qx -- "---- run $waited_run success: waited $(secs "$queued"), ran $(secs "$ran")" "$GW_TMP/follow"
gw show "$waited_run"
check "show: waited" grep -qx "waited    $(secs "$queued")" "$OUT"
check "show: ran" grep -qx "ran       $(secs "$ran")" "$OUT"
gw runs hello
check "runs: WAITED and RAN columns" grep -Eq '^RUN +STATUS +TEMPLATE +TRIGGER +COMMIT +CREATED +WAITED +RAN +REF$' "$OUT"
check "runs: the run's wait and run time" \
    grep -Eq "^$waited_run +success +build +manual +- +[0-9: -]{19} +$(secs "$queued") +$(secs "$ran") " "$OUT"
expect_eq "psql view run_durations: the same figures" "$queued|$ran" \
    "$(gw_psql -c "SELECT queued_seconds, run_seconds FROM run_durations WHERE id = '$waited_run'")"
curl -s "${AUTH[@]}" "${API%/api/v1}/metrics" >"$GW_TMP/metrics"
expect_eq "metrics: pickup is the queued time" "$queued" \
    "$(awk '/^gitweave_pickup_seconds_sum/ { printf "%.3f", $2 }' "$GW_TMP/metrics")"
expect_eq "metrics: duration is the run time" "$ran" \
    "$(awk '/^gitweave_run_duration_seconds_sum\{status="success"\}/ { printf "%.3f", $2 }' "$GW_TMP/metrics")"
# A run canceled while queued waited until it was canceled and never ran.
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
gw run hello
qrun=$(out)
sleep 0.3
gw cancel "$qrun"
j=$(run_json "$qrun")
check "canceled while queued: waited until canceled, ran null" \
    jq -e '.queued_seconds > 0 and .run_seconds == null' <<<"$j"
gw show "$qrun"
check "show of a run that never ran: ran -" grep -qx "ran       -" "$OUT"
gw_worker_start w1

gw_finish
