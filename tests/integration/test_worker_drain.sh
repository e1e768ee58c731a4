#!/usr/bin/env bash
# Graceful drain: SIGTERM to a busy worker stops its claims and lets its run
# finish, GET /runners says `draining` meanwhile, then the worker exits and
# queued runs stay queued for other workers. RUNNER_DRAIN_SECONDS bounds the
# wait; a second SIGTERM stops the running run at once, as SIGINT does. A
# run claimed during the drain goes back to the queue, never started.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template medium '{"kind": "build", "jobs": [
  {"name": "m", "script": ["echo begin", "sleep 6", "echo finished"]},
  {"name": "after", "script": ["echo second job"]}]}' || exit 1
gw_template long '{"kind": "build", "jobs": [{"name": "l", "script": ["sleep 30"]}]}' || exit 1
gw_repo rm medium || exit 1
gw_repo rl long || exit 1

runner_status() { api GET /runners | jq -r --arg n "$1" '.runners[] | select(.name == $n) | .status'; }
job_running() { [ "$(gw_psql -c "SELECT count(*) FROM jobs WHERE run_id = '$1' AND status = 'running'")" = 1 ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }

gw_worker_start d1
pid=$GW_WORKER_PID
run=$(gw_trigger rm)
check "run starts" wait_for 15 job_running "$run"
queued=$(gw_trigger rm)
kill -TERM "$pid"
is_draining() { [ "$(runner_status d1)" = draining ]; }
check "runner shows draining" wait_for 10 is_draining
sleep 0.5
check "still running while draining" kill -0 "$pid"
check "the worker exits once its run is over" wait_for 15 exited "$pid"
expect_eq "the run finished" success "$(run_status "$run")"
expect_eq "both of its jobs ran" "success success" "$(api GET "/pipelines/runs/$run" | jq -r '[.jobs[].status] | join(" ")')"
expect_eq "its log is whole" '$ echo begin
begin
$ sleep 6
$ echo finished
finished' "$(gw_job_log "$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')")"
expect_eq "the queued run was not claimed" queued "$(run_status "$queued")"
expect_eq "runner row says stopped" stopped "$(gw_psql -c "SELECT status FROM runners WHERE name = 'd1'")"

# The drain is bounded: past RUNNER_DRAIN_SECONDS the run is stopped.
gw_psql -c "UPDATE pipeline_runs SET status = 'canceled', ended_at = now() WHERE id = '$queued'" >/dev/null
gw_worker_start d2 RUNNER_DRAIN_SECONDS=1 RUNNER_STOP_GRACE_SECONDS=1
pid=$GW_WORKER_PID
run=$(gw_trigger rl)
check "long run starts" wait_for 15 job_running "$run"
kill -TERM "$pid"
check "the drain ends after RUNNER_DRAIN_SECONDS and the worker exits" wait_for 10 exited "$pid"
expect_eq "the run was stopped" failed "$(run_status "$run")"
check "error says the runner was stopped" grep -q "was stopped" <<<"$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$run'")"

# A second SIGTERM stops the run without waiting.
gw_worker_start d3 RUNNER_STOP_GRACE_SECONDS=1
pid=$GW_WORKER_PID
run=$(gw_trigger rl)
check "third run starts" wait_for 15 job_running "$run"
kill -TERM "$pid"
sleep 0.5
check "draining, not stopping, after one SIGTERM" kill -0 "$pid"
kill -TERM "$pid"
check "a second SIGTERM stops the run and the worker exits" wait_for 10 exited "$pid"
expect_eq "that run was stopped" failed "$(run_status "$run")"

# A run claimed while the worker drains goes back to the queue before its
# first job reaches the engine. The claim is held up by a lock on the run's
# job (the claim starts it), the worker gets SIGTERM, then the lock goes.
gw_template quick '{"kind": "build", "jobs": [{"name": "q", "script": ["echo quick ran"]}]}' || exit 1
gw_repo rq quick || exit 1
gw_worker_start d4
pid=$GW_WORKER_PID
registered() { [ "$(gw_psql -c "SELECT count(*) FROM runners WHERE name = 'd4' AND status = 'idle'")" = 1 ]; }
check "d4 registers" wait_for 10 registered
api POST /runners/d4/pause >/dev/null
run=$(gw_trigger rq)
# The lock is held until the worker has taken the SIGTERM.
check "the job is locked" gw_hold_lock "SELECT 1 FROM jobs WHERE run_id = '$run' FOR UPDATE"
api POST /runners/d4/resume >/dev/null
claim_waits() { [ "$(gw_psql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gitweave-worker' AND wait_event_type = 'Lock'")" = 1 ]; }
check "the claim waits for the lock" wait_for 10 claim_waits
kill -TERM "$pid"
check "the worker takes the SIGTERM while its claim waits" wait_for 10 grep -q "stopping signal=15" "$GW_TMP/worker-d4.log"
gw_release_lock
check "the worker exits once the claim is answered" wait_for 10 exited "$pid"
expect_eq "the run is queued again" "queued  1" \
  "$(gw_psql -c "SELECT status || ' ' || COALESCE(runner_id::text, '') || ' ' || attempt FROM pipeline_runs WHERE id = '$run'")"
expect_eq "its job is queued again, not started" "queued true" \
  "$(gw_psql -c "SELECT status || ' ' || (started_at IS NULL) FROM jobs WHERE run_id = '$run'")"
expect_eq "nothing of it ran" 0 "$(gw_psql -c "SELECT count(*) FROM logs l JOIN jobs j ON j.id = l.job_id WHERE j.run_id = '$run'")"
gw_worker_start d5
check "another worker runs it" wait_for 15 run_is_final "$run"
expect_eq "and it succeeds on its second attempt" "success 2" \
  "$(gw_psql -c "SELECT status || ' ' || attempt FROM pipeline_runs WHERE id = '$run'")"
expect_eq "its log is whole" '$ echo quick ran
quick ran' "$(gw_job_log "$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')")"
gw_finish
