#!/usr/bin/env bash
# GET /metrics: valid Prometheus text (promtool) while runs are going on;
# the queue gauge follows the queue, the counters move as runs finish and
# survive an API restart; request counters by route pattern; the token rule.
source "$(dirname "$0")/../lib/postgres.sh"

# The alert rules of docs/metrics.md: the yaml block after "Example alert rules".
awk '/^## Example alert rules/ { on = 1 } on && /^```yaml/ { inb = 1; next } inb && /^```/ { exit } inb' \
    "$GW_SOURCE_DIR/docs/metrics.md" >"$GW_TMP/rules.yml"
check "promtool accepts the example alert rules" promtool check rules "$GW_TMP/rules.yml"
grep -c "alert:" "$GW_TMP/rules.yml" | grep -qx 3 && pass "three rules" || fail "three rules"

gw_pg_start
gw_api_start
# one_job NAME COMMAND: a template of one job.
one_job() { gw_template "$1" "$(jq -cn --arg c "$2" '{kind: "test", jobs: [{name: "j", script: [$c]}]}')"; }
# nap runs until the test wakes it, however slow the machine.
one_job quick "echo hi" && one_job nap "while [ ! -e $GW_TMP/wake ]; do sleep 0.1; done" &&
    one_job boom "exit 1" || exit 1
gw_repo m quick nap boom || exit 1
J=(-H 'Content-Type: application/json')

scrape() { curl -s "${@:2}" "${API%/api/v1}/metrics" >"$GW_TMP/$1"; }
# value FILE SAMPLE: the value of a sample line (name with its labels, as written).
value() { awk -v s="$2" '$1 == s { print $2 }' "$GW_TMP/$1"; }
# A scrape after the one-second cache has passed.
fresh() { sleep 1.1; scrape "$@"; }

fresh s0
curl -s -D "$GW_TMP/h0" -o /dev/null "${API%/api/v1}/metrics"
check "the content type is the text format 0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' "$GW_TMP/h0"
expect_eq "an empty queue" 0 "$(value s0 gitweave_queue_depth)"
expect_eq "no finished run" 0 "$(value s0 'gitweave_runs_total{status="success"}')"
check "promtool accepts an idle scrape" promtool check metrics <"$GW_TMP/s0"

for i in 1 2 3; do api POST /repos/m/pipelines/run "${J[@]}" -d '{"template": "quick"}' >/dev/null; done
api POST /repos/m/pipelines/run "${J[@]}" -d '{"template": "boom"}' >/dev/null
fresh s1
expect_eq "the queue gauge follows the queue" 4 "$(value s1 gitweave_queue_depth)"
check "the oldest queued run has an age" awk -v v="$(value s1 gitweave_queue_oldest_seconds)" 'BEGIN { exit !(v > 0.5 && v < 60) }'

gw_worker_start w1
all_done() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status IN ('queued', 'running')")" = 0 ]; }
check "the runs finish" wait_for 20 all_done
fresh s2
expect_eq "the queue is empty again" 0 "$(value s2 gitweave_queue_depth)"
expect_eq "three successes counted" 3 "$(value s2 'gitweave_runs_total{status="success"}')"
expect_eq "one failure counted" 1 "$(value s2 'gitweave_runs_total{status="failed"}')"
expect_eq "the jobs counted" "3 1" "$(value s2 'gitweave_jobs_total{status="success"}') $(value s2 'gitweave_jobs_total{status="failed"}')"
expect_eq "four pickups in the histogram" 4 "$(value s2 gitweave_pickup_seconds_count)"
expect_eq "every pickup under the +Inf bucket" 4 "$(value s2 'gitweave_pickup_seconds_bucket{le="+Inf"}')"
expect_eq "durations by status" "3 1" "$(value s2 'gitweave_run_duration_seconds_count{status="success"}') $(value s2 'gitweave_run_duration_seconds_count{status="failed"}')"
expect_eq "the runner, its slot" "1 1 0 0" "$(value s2 'gitweave_runners{status="idle"}') $(value s2 'gitweave_runner_slots{runner="w1"}') $(value s2 'gitweave_runner_busy_slots{runner="w1"}') $(value s2 'gitweave_runner_paused{runner="w1"}')"

# A scrape taken while runs are going on.
for i in 1 2; do api POST /repos/m/pipelines/run "${J[@]}" -d '{"template": "nap"}' >/dev/null; done
running() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'running'")" = 1 ]; }
check "a run is going on" wait_for 10 running
# Paused, the runner finishes that run and leaves the other queued.
api POST /runners/w1/pause >/dev/null
fresh s3
scrape s4 # at once: the cache's second has not passed (checked below)
expect_eq "one running, one queued" "1 1" "$(value s3 gitweave_runs_running) $(value s3 gitweave_queue_depth)"
expect_eq "its runner's slot is busy, and it is paused" "1 1 1" "$(value s3 'gitweave_runner_busy_slots{runner="w1"}') $(value s3 'gitweave_runners{status="busy"}') $(value s3 'gitweave_runner_paused{runner="w1"}')"
check "promtool accepts a scrape taken while runs are going on" promtool check metrics <"$GW_TMP/s3"
gw_log "a scrape while runs are going on:"; cat "$GW_TMP/s3"

# The cache: a second scrape within the second gives the same database figures.
expect_eq "scrapes within a second share one reading" "$(value s3 gitweave_queue_oldest_seconds)" "$(value s4 gitweave_queue_oldest_seconds)"

# The API's own requests, by route pattern (never the raw path).
run=$(gw_psql -c "SELECT id FROM pipeline_runs LIMIT 1")
api GET "/pipelines/runs/$run" >/dev/null
api GET /pipelines/runs/123e4567-e89b-12d3-a456-426614174000 >/dev/null
api GET /no/such/thing >/dev/null
scrape s5
expect_eq "requests counted by route pattern and code" "1 1" \
    "$(value s5 'gitweave_http_requests_total{method="GET",route="/api/v1/pipelines/runs/{run}",code="200"}') $(value s5 'gitweave_http_requests_total{method="GET",route="/api/v1/pipelines/runs/{run}",code="404"}')"
expect_eq "a path no route matches is counted as none" 1 "$(value s5 'gitweave_http_requests_total{method="GET",route="none",code="404"}')"
check "no raw path in a label" bash -c "! grep -q '$run' '$GW_TMP/s5'"
expect_eq "the duration histogram counts them" 2 "$(value s5 'gitweave_http_request_duration_seconds_count{method="GET",route="/api/v1/pipelines/runs/{run}"}')"
check "process metrics" bash -c "grep -q '^process_resident_memory_bytes [1-9]' '$GW_TMP/s5' && grep -q '^process_open_fds [1-9]' '$GW_TMP/s5'"
start=$(value s5 process_start_time_seconds)
check "the process start time is within the last minutes" awk -v s="$start" -v now="$(date +%s)" 'BEGIN { exit !(s > now - 600 && s <= now + 1) }'
check "promtool accepts the scrape with request metrics" promtool check metrics <"$GW_TMP/s5"

touch "$GW_TMP/wake"
api POST /runners/w1/resume >/dev/null
check "the runs finish" wait_for 20 all_done
# The counters are kept in the database: an API restart keeps them.
kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
GITWEAVE_API_TOKEN=secret gw_api_start
scrape s6 -H 'Authorization: Bearer secret'
expect_eq "the counters survive an API restart" 5 "$(value s6 'gitweave_runs_total{status="success"}')"

# The token applies to /metrics unless GITWEAVE_METRICS_PUBLIC=true.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "/metrics without the token: 401" 401 "$(code "${API%/api/v1}/metrics")"
expect_eq "/metrics with a wrong token: 401" 401 "$(code -H 'Authorization: Bearer nope' "${API%/api/v1}/metrics")"
expect_eq "/metrics with the token: 200" 200 "$(code -H 'Authorization: Bearer secret' "${API%/api/v1}/metrics")"
kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
GITWEAVE_API_TOKEN=secret GITWEAVE_METRICS_PUBLIC=true gw_api_start
expect_eq "public metrics without the token: 200" 200 "$(code "${API%/api/v1}/metrics")"
expect_eq "the rest of the API still needs it" 401 "$(code "$API/runners")"
kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
GITWEAVE_METRICS_PUBLIC=yes "$GW_BUILD_DIR/gitweave-api" >"$GW_TMP/bad-config.out" 2>&1
rc=$?
check "a value other than true or false is refused (exit $rc)" test "$rc" -ne 0
check "the message names the variable" grep -q 'GITWEAVE_METRICS_PUBLIC="yes" is not true or false' "$GW_TMP/bad-config.out"
gw_finish
