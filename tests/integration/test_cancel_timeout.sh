#!/usr/bin/env bash
# Timeouts and cancel with the local engine: the whole process group is
# stopped (TERM, grace, KILL), the statuses say why, later jobs do not run;
# allow_failure keeps a run going; SIGINT to a busy worker ends its run
# instead of leaving it running.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
"$GW_BUILD_DIR/tests/gw_listen" 120 >"$GW_TMP/events" 2>"$GW_TMP/listen.err" &
GW_PIDS+=($!)
wait_for 60 grep -q listening "$GW_TMP/listen.err" || fail "listener did not start"
# A long lease: the lease renewal (which also reads cancel requests) cannot be
# what makes the cancel prompt; the NOTIFY must.
export RUNNER_STOP_GRACE_SECONDS=1 RUNNER_LEASE_SECONDS=30
gw_worker_start l1

gw_template tmo '{"kind": "test", "jobs": [
  {"name": "s", "timeout": 1, "script": ["(sleep 60; echo child-survived > survived.txt) &", "echo sleeping", "sleep 60"]},
  {"name": "after", "script": ["echo never"]}]}' || exit 1
gw_template stubborn '{"kind": "test", "jobs": [
  {"name": "s", "timeout": 1, "script": ["trap \"echo got TERM\" TERM", "while :; do sleep 0.1; done"]}]}' || exit 1
gw_template long '{"kind": "test", "jobs": [
  {"name": "l", "script": ["echo long", "sleep 60"]}, {"name": "after", "script": ["echo never"]}]}' || exit 1
gw_template lenient '{"kind": "test", "jobs": [
  {"name": "may-fail", "allow_failure": true, "script": ["exit 2"]}, {"name": "after", "script": ["echo ran"]}]}' || exit 1
for t in tmo stubborn long lenient; do gw_repo "r-$t" "$t" || exit 1; done

run=$(gw_trigger r-tmo)
check "timed-out run finishes" wait_for 20 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "timeout statuses" "failed failed skipped" "$(echo "$body" | jq -r '[.status, .jobs[].status] | join(" ")')"
expect_eq "timeout error" "timed out after 1 s" "$(echo "$body" | jq -r '.jobs[0].error')"
expect_eq "timeout log: the steps, then the runner's line" '$ (sleep 60; echo child-survived > survived.txt) &
$ echo sleeping
sleeping
$ sleep 60
[gitweave] job timed out after 1 s; stopping it' "$(gw_job_log "$(echo "$body" | jq -r '.jobs[0].id')")"
sleep 1
check "the job's background child was killed with its group" test ! -e "$GW_TMP/work/l1/$(gw_repo_id r-tmo)/survived.txt"

run=$(gw_trigger r-stubborn)
check "a job ignoring TERM is killed after the grace" wait_for 20 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "stubborn job failed by timeout" "failed timed out after 1 s" "$(echo "$body" | jq -r '.jobs[0] | "\(.status) \(.error)"')"
check "it was sent TERM first" grep -q "got TERM" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[0].id')")"

run=$(gw_trigger r-lenient)
check "allow_failure run finishes" wait_for 20 run_is_final "$run"
expect_eq "allow_failure: the run succeeds, the job shows failed, the run lists it" \
    "success failed success may-fail" \
    "$(api GET "/pipelines/runs/$run" | jq -r '[.status, .jobs[].status, .allowed_failures[]] | join(" ")')"

run=$(gw_trigger r-long)
job_running() { [ "$(gw_psql -c "SELECT status FROM jobs WHERE run_id = '$run' AND position = 0")" = running ]; }
check "long run starts" wait_for 20 job_running
t0=$(date +%s%3N)
api POST "/pipelines/runs/$run/cancel" >/dev/null
expect_eq "cancel: 202" 202 "$(status)"
check "canceled run ends" wait_for 10 run_is_final "$run"
ms=$(( $(date +%s%3N) - t0 ))
gw_log "running run canceled in $ms ms"
check "cancel obeyed through LISTEN, well before a lease renewal ($ms ms < 5000)" test "$ms" -lt 5000
expect_eq "cancel statuses" "canceled canceled canceled" "$(api GET "/pipelines/runs/$run" | jq -r '[.status, .jobs[].status] | join(" ")')"
expect_events "run events of the cancel" "$run" "queued running canceled "
check "cancel event was published" grep -q "\"cancel\"" "$GW_TMP/events"

# SIGINT to a busy worker (SIGTERM drains, see test_worker_drain.sh): the run
# ends failed, saying so, and the worker exits.
run=$(gw_trigger r-long)
check "run for the shutdown starts" wait_for 20 job_running
kill -INT "$GW_WORKER_PID"
check "the worker exits" wait_for 10 bash -c "! kill -0 $GW_WORKER_PID 2>/dev/null"
expect_eq "its run is failed, not left running" failed "$(run_status "$run")"
check "error says the runner was stopped" grep -q "was stopped" <<<"$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$run'")"
expect_eq "runner shows stopped or offline" true "$(api GET /runners | jq -r '.runners[] | select(.name == "l1") | .status == "stopped" or .status == "offline"')"
gw_finish
