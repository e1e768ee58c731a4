#!/usr/bin/env bash
# A worker killed with SIGKILL mid-job: its run ends failed with a reason
# within the lease time, through another live worker; a restarted worker of
# the same name ends its own earlier runs at once. A worker survives the loss
# of its database connection and finishes its run.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template sleepy '{"kind": "build", "jobs": [
  {"name": "long", "script": ["echo started", "sleep 30", "echo never"]},
  {"name": "next", "script": ["echo next"]}]}' || exit 1
gw_template dbdrop '{"kind": "build", "jobs": [
  {"name": "a", "script": ["echo before", "sleep 3", "echo after"]},
  {"name": "b", "script": ["echo second job"]}]}' || exit 1
gw_repo r1 sleepy || exit 1
gw_repo r2 dbdrop || exit 1

export RUNNER_LEASE_SECONDS=3
gw_worker_start victim
victim=$GW_WORKER_PID
run=$(gw_trigger r1)
running() { [ "$(run_status "$run")" = running ]; }
check "run starts" wait_for 15 running
sleep 1
kill -9 "$victim"
t0=$(date +%s%3N)
gw_worker_start survivor
check "run of the killed worker ends" wait_for 15 run_is_final "$run"
gw_log "reaped $(( $(date +%s%3N) - t0 )) ms after the SIGKILL (lease 3 s)"
body=$(api GET "/pipelines/runs/$run")
expect_eq "run failed" failed "$(echo "$body" | jq -r .status)"
check "error says the runner was lost" grep -q "runner lost: victim" <<<"$(echo "$body" | jq -r .error)"
expect_eq "jobs: running one failed, the rest skipped" "failed skipped" "$(echo "$body" | jq -r '[.jobs[].status] | join(" ")')"
expect_eq "log kept what was printed" '$ echo started
started
$ sleep 30' "$(gw_job_log "$(echo "$body" | jq -r '.jobs[0].id')")"

# A restart under the same name: its earlier life's run ends at once.
kill "$GW_WORKER_PID"
wait "$GW_WORKER_PID" 2>/dev/null
run=$(gw_trigger r1)
gw_worker_start victim2
check "second run starts" wait_for 15 running
kill -9 "$GW_WORKER_PID"
gw_worker_start victim2
check "restarted runner ends its earlier run" wait_for 15 run_is_final "$run"
check "error says restarted" grep -q "restarted" <<<"$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$run'")"

# The database connection drops mid-job: the worker reconnects and finishes.
run=$(gw_trigger r2)
check "db-drop run starts" wait_for 15 running
sleep 1
gw_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gitweave-worker'" >/dev/null
check "run still finishes after the connection drop" wait_for 30 run_is_final "$run"
expect_eq "and succeeds" success "$(run_status "$run")"
job=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
expect_eq "no log line lost across the drop" '$ echo before
before
$ sleep 3
$ echo after
after' "$(gw_job_log "$job")"
gw_finish
