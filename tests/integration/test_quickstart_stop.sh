#!/usr/bin/env bash
# `scripts/quickstart.sh stop` during a run: it says what it does and waits
# for the worker, which drains (GITWEAVE_DRAIN_SECONDS), then stops its
# runs: the one whose template says retry goes back to the queue as its
# next try, the other fails "runner quickstart was stopped ...", each with
# its log stored whole. Only then are the pid files removed and the API
# stopped. The next worker of the same name runs the retry to success; no
# run says "was restarted".
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
STATE=$GW_TMP/qs
mkdir -m 0711 "$STATE"
mark=$GW_TMP/mark
long='"echo started", "if [ -e '$mark'-$1 ]; then echo again; else touch '$mark'-$1; sleep 60; fi", "echo finished"'
gw_template keep "{\"kind\": \"build\", \"retry\": {\"max\": 1}, \"jobs\": [{\"name\": \"j\", \"script\": [${long//\$1/keep}]}]}" || exit 1
gw_template once "{\"kind\": \"build\", \"jobs\": [{\"name\": \"j\", \"script\": [${long//\$1/once}]}]}" || exit 1
gw_repo r1 keep || exit 1
gw_repo r2 once || exit 1

gw_worker_start quickstart RUNNER_CONCURRENCY=2 RUNNER_DRAIN_SECONDS=2 RUNNER_STOP_GRACE_SECONDS=1
worker=$GW_WORKER_PID
echo "$worker" >"$STATE/worker.pid"
echo "$GW_API_PID" >"$STATE/api.pid"
keep=$(gw_trigger r1)
once=$(gw_trigger r2)
both_started() { [ -e "$mark-keep" ] && [ -e "$mark-once" ]; }
check "both runs reach their long step" wait_for 20 both_started

t0=$(date +%s%3N)
out=$(GITWEAVE_STATE=$STATE GITWEAVE_DRAIN_SECONDS=2 GITWEAVE_STOP_GRACE_SECONDS=1 \
    bash "$GW_SOURCE_DIR/scripts/quickstart.sh" stop 2>&1)
ms=$(( $(date +%s%3N) - t0 ))
gw_log "stop took $ms ms: $out"
check "stop waited for the worker to exit" bash -c '! kill -0 "$1" 2>/dev/null' _ "$worker"
check "and the API" bash -c '! kill -0 "$1" 2>/dev/null' _ "$GW_API_PID"
check "stop says it waits for the worker's runs" grep -q "stopping the worker (pid $worker): running runs may finish for up to 2 s" <<<"$out"
check "and when the worker stopped" grep -q "^the worker stopped" <<<"$out"
check "the pid files are gone" test ! -e "$STATE/worker.pid" -a ! -e "$STATE/api.pid"

expect_eq "the run with retry went back to the queue, its first try ended" "queued 1" \
  "$(gw_psql -c "SELECT status || ' ' || cardinality(retries) FROM pipeline_runs WHERE id = '$keep'")"
check "its reason: the runner was stopped" grep -q "^runner quickstart was stopped while the run was in progress" \
  <<<"$(gw_psql -c "SELECT retries[1] FROM pipeline_runs WHERE id = '$keep'")"
expect_eq "the run without retry failed" failed "$(run_status "$once")"
check "saying the runner was stopped" grep -q "^runner quickstart was stopped while the run was in progress" \
  <<<"$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$once'")"
log_of() { gw_psql -c "SELECT string_agg(chunk, '' ORDER BY \"offset\") FROM logs l JOIN jobs j ON j.id = l.job_id WHERE j.run_id = '$1' AND j.retry = 0"; }
for run in "$keep" "$once"; do
  check "its log is stored to the stop" grep -q "the runner is shutting down; stopping the job" <<<"$(log_of "$run")"
done

# The next start: one worker of that name, which runs the retry.
gw_api_start
gw_worker_start quickstart
check "the retried run runs again" wait_for 20 run_is_final "$keep"
expect_eq "and succeeds on its second try" "success 1" \
  "$(gw_psql -c "SELECT status || ' ' || cardinality(retries) FROM pipeline_runs WHERE id = '$keep'")"
expect_eq "no run says it was restarted" 0 \
  "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE error LIKE '%restarted%' OR array_to_string(retries, ' ') LIKE '%restarted%'")"
gw_finish
