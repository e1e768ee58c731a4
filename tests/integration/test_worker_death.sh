#!/usr/bin/env bash
# Death noticed in seconds: a busy worker killed with SIGKILL loses its
# database session, and with it its advisory lock; another live worker's
# reaper ends the run within 2 s, long before the lease (30 s here) runs
# out. A claim whose answer was lost with the connection goes back to the
# queue when none of its jobs started, instead of failing.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template sleepy '{"kind": "build", "jobs": [
  {"name": "long", "script": ["echo started", "sleep 30", "echo never"]}]}' || exit 1
gw_template short '{"kind": "build", "jobs": [
  {"name": "a", "script": ["sleep 3", "echo short done"]}]}' || exit 1
gw_template quick '{"kind": "build", "jobs": [{"name": "q", "script": ["echo quick"]}]}' || exit 1
gw_repo r1 sleepy || exit 1
gw_repo r2 short || exit 1
gw_repo r3 quick || exit 1

export RUNNER_LEASE_SECONDS=30
gw_worker_start victim
victim=$GW_WORKER_PID
run=$(gw_trigger r1)
job_running() { [ "$(gw_psql -c "SELECT count(*) FROM jobs WHERE run_id = '$run' AND status = 'running'")" = 1 ]; }
check "run starts on the victim" wait_for 15 job_running
# The claim starts the first job in its own statement: one round trip less
# before a job runs.
expect_eq "the claim started the first job" t \
  "$(gw_psql -c "SELECT j.started_at = r.started_at FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id WHERE r.id = '$run'")"
# Only now the survivor: the run is the victim's.
gw_worker_start survivor
registered() { [ "$(gw_psql -c "SELECT count(*) FROM runners WHERE name = 'survivor'")" = 1 ]; }
check "survivor registers" wait_for 10 registered
sleep 1
expect_eq "the run is the victim's" victim "$(gw_psql -c "SELECT n.name FROM pipeline_runs r JOIN runners n ON n.id = r.runner_id WHERE r.id = '$run'")"
kill -9 "$victim"
t0=$(date +%s%3N)
check "the killed worker's run ends within 2 s" wait_for 2 run_is_final "$run"
gw_log "ended $(( $(date +%s%3N) - t0 )) ms after the SIGKILL (lease 30 s)"
body=$(api GET "/pipelines/runs/$run")
expect_eq "run failed" failed "$(echo "$body" | jq -r .status)"
check "error says the runner was lost with its session" grep -q "runner lost: victim ended its database session" <<<"$(echo "$body" | jq -r .error)"
expect_eq "its running job failed" failed "$(echo "$body" | jq -r '.jobs[0].status')"

# A worker whose connection drops is not taken for dead: it reconnects and
# takes its lock again within the reaper's grace, and its run finishes.
run=$(gw_trigger r2)
job_running() { [ "$(gw_psql -c "SELECT count(*) FROM jobs WHERE run_id = '$run' AND status = 'running'")" = 1 ]; }
check "run of the reconnect starts" wait_for 15 job_running
holder=$(gw_psql -c "SELECT n.name FROM pipeline_runs r JOIN runners n ON n.id = r.runner_id WHERE r.id = '$run'")
# A claim of this worker whose answer was lost: the run is the worker's, its
# first job started by the claim, and the worker does not hold it.
# Paused meanwhile, so that it claims neither before they are set up.
api POST "/runners/$holder/pause" >/dev/null
lost=$(gw_trigger r3)
gw_psql -c "WITH c AS (UPDATE pipeline_runs SET status = 'running',
  runner_id = (SELECT id FROM runners WHERE name = '$holder'),
  attempt = attempt + 1, started_at = now(), lease_expires_at = now() + interval '1 hour'
  WHERE id = '$lost' AND status = 'queued' RETURNING id)
  UPDATE jobs SET status = 'running', started_at = now() WHERE run_id IN (SELECT id FROM c)" >/dev/null
expect_eq "the lost claim is running" running "$(run_status "$lost")"
# A run of this worker it no longer holds whose job did run (it logged its
# first step): not a lost claim, it ends failed.
gone=$(gw_trigger r3)
gw_psql -c "WITH c AS (UPDATE pipeline_runs SET status = 'running',
  runner_id = (SELECT id FROM runners WHERE name = '$holder'),
  attempt = attempt + 1, started_at = now(), lease_expires_at = now() + interval '1 hour'
  WHERE id = '$gone' AND status = 'queued' RETURNING id),
  j AS (UPDATE jobs SET status = 'running', started_at = now() WHERE run_id IN (SELECT id FROM c) RETURNING id)
  INSERT INTO logs (job_id, \"offset\", chunk) SELECT id, 0, '\$ echo quick' || chr(10) FROM j" >/dev/null
api POST "/runners/$holder/resume" >/dev/null
expect_eq "both set up" "running running" "$(run_status "$lost") $(run_status "$gone")"
gw_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gitweave-worker'" >/dev/null
check "the run finishes after the connection drop" wait_for 20 run_is_final "$run"
expect_eq "and succeeds (not reaped as lost)" success "$(run_status "$run")"
check "the lost claim runs after going back to the queue" wait_for 20 run_is_final "$lost"
expect_eq "and succeeds" success "$(run_status "$lost")"
expect_eq "on its second attempt" 2 "$(gw_psql -c "SELECT attempt FROM pipeline_runs WHERE id = '$lost'")"
expect_eq "its job, set back to queued with it, ran" success \
  "$(gw_psql -c "SELECT status FROM jobs WHERE run_id = '$lost'")"
check "the run whose job had run ends" wait_for 20 run_is_final "$gone"
expect_eq "failed, not given back" "failed 1" "$(gw_psql -c "SELECT status || ' ' || attempt FROM pipeline_runs WHERE id = '$gone'")"
check "as lost with the connection" grep -q "lost the run when its database connection dropped" \
  <<<"$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$gone'")"
gw_finish
