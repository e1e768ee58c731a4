#!/usr/bin/env bash
# Pipelines in real containers, through the API, on a dockerd of the test's
# own: exit codes, stdout and stderr, env, the workspace shared by the jobs, a
# missing image, a timeout, cancel of a queued and of a running run (the
# container is gone afterwards), a SIGKILLed worker's container removed by
# the next life of that worker, an unreachable engine that does not eat the
# queue, and no container left behind. Also prints the per-job overhead.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"

IMAGE=gwtest-busybox
gw_dockerd_busybox "$IMAGE"
gw_pg_start
gw_api_start
export RUNNER_CONTAINER_ENGINE=docker RUNNER_DEFAULT_IMAGE=$IMAGE RUNNER_STOP_GRACE_SECONDS=2
gw_worker_start d1
containers() { docker ps -aq "$@" | wc -l; }
# run_containers_are RUN N: whether RUN has N containers (re-evaluated by wait_for).
run_containers_are() { [ "$(containers --filter "label=io.gitweave.run=$1")" = "$2" ]; }

gw_template ctr '{"kind": "build", "jobs": [
  {"name": "one", "env": {"GREETING": "hello"},
   "script": ["echo $GREETING from $(pwd) on $GITWEAVE_REPO", "echo oops >&2", "echo artifact > out.txt", "hostname > host.txt"]},
  {"name": "two", "image": "gwtest-busybox",
   "script": ["cat out.txt", "test \"$(cat host.txt)\" != \"$(hostname)\"", "echo CI=$CI"]}]}' || exit 1
gw_template fails '{"kind": "test", "jobs": [
  {"name": "f", "script": ["echo failing", "exit 4"]}, {"name": "g", "script": ["echo never"]}]}' || exit 1
gw_template noimage '{"kind": "test", "jobs": [{"name": "x", "image": "gwtest-no-such-image:1", "script": ["true"]}]}' || exit 1
gw_template slow '{"kind": "test", "jobs": [
  {"name": "s", "timeout": 2, "script": ["echo sleeping", "sleep 30"]}, {"name": "after", "script": ["echo never"]}]}' || exit 1
gw_template long '{"kind": "test", "jobs": [
  {"name": "l", "script": ["echo long", "sleep 60"]}, {"name": "after", "script": ["echo never"]}]}' || exit 1
gw_template quick '{"kind": "test", "jobs": [{"name": "q", "script": ["true"]}]}' || exit 1
for t in ctr fails noimage slow long quick; do gw_repo "r-$t" "$t" || exit 1; done

# A multi-job pipeline in containers.
run=$(gw_trigger r-ctr)
check "container run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "container run succeeded" success "$(echo "$body" | jq -r .status)"
expect_eq "job one log: each step, env, /workspace, stdout and stderr" '$ echo $GREETING from $(pwd) on $GITWEAVE_REPO
hello from /workspace on r-ctr
$ echo oops >&2
oops
$ echo artifact > out.txt
$ hostname > host.txt' "$(gw_job_log "$(echo "$body" | jq -r '.jobs[0].id')")"
expect_eq "job two sees job one's file, in another container" '$ cat out.txt
artifact
$ test "$(cat host.txt)" != "$(hostname)"
$ echo CI=$CI
CI=true' "$(gw_job_log "$(echo "$body" | jq -r '.jobs[1].id')")"
check "the file is in the runner's workspace on the host" test -f "$GW_TMP/work/d1/docker/$(gw_repo_id r-ctr)/out.txt"
expect_eq "no container left after the run" 0 "$(containers)"

# Exit codes fail the run and skip the rest.
run=$(gw_trigger r-fails)
check "failing container run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "statuses" "failed failed skipped" "$(echo "$body" | jq -r '[.status, .jobs[].status] | join(" ")')"
expect_eq "exit code 4" 4 "$(echo "$body" | jq -r '.jobs[0].exit_code')"
expect_eq "the error names the step" 'line 2 "exit 4" exited with code 4' "$(echo "$body" | jq -r '.jobs[0].error')"

# A missing image fails the job with a clear line; the worker keeps serving.
run=$(gw_trigger r-noimage)
check "missing-image run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "missing image fails the run" failed "$(echo "$body" | jq -r .status)"
check "job error names the image" grep -q 'gwtest-no-such-image:1' <<<"$(echo "$body" | jq -r '.jobs[0].error')"
check "job log says the image is missing" grep -q 'gwtest-no-such-image:1' <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[0].id')")"
run=$(gw_trigger r-quick)
check "the worker still serves after it" wait_for 60 run_is_final "$run"
expect_eq "next run succeeds" success "$(run_status "$run")"

# A timeout stops the container and fails the run.
run=$(gw_trigger r-slow)
check "timed-out run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "timeout statuses" "failed failed skipped" "$(echo "$body" | jq -r '[.status, .jobs[].status] | join(" ")')"
expect_eq "timeout error" "timed out after 2 s" "$(echo "$body" | jq -r '.jobs[0].error')"
check "timeout line in the log" grep -q "timed out after 2 s" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[0].id')")"
expect_eq "no container left after the timeout" 0 "$(containers)"

# Cancel: a running run (LISTEN, not a poll), and a queued one behind it.
run=$(gw_trigger r-long)
job_running() { [ "$(gw_psql -c "SELECT status FROM jobs WHERE run_id = '$run' AND position = 0")" = running ]; }
check "long run's job starts" wait_for 30 job_running
check "its container runs" wait_for 10 run_containers_are "$run" 1
queued=$(gw_trigger r-quick)
api POST "/pipelines/runs/$queued/cancel" >/dev/null
expect_eq "cancel of a queued run: 202" 202 "$(status)"
expect_eq "queued run canceled at once" "canceled canceled" "$(api GET "/pipelines/runs/$queued" | jq -r '[.status, .jobs[].status] | join(" ")')"
t0=$(date +%s%3N)
api POST "/pipelines/runs/$run/cancel" >/dev/null
expect_eq "cancel of a running run: 202" 202 "$(status)"
check "running run ends after the cancel" wait_for 20 run_is_final "$run"
gw_log "running run canceled in $(( $(date +%s%3N) - t0 )) ms (grace 2 s)"
expect_eq "canceled statuses (later jobs canceled too)" "canceled canceled canceled" "$(api GET "/pipelines/runs/$run" | jq -r '[.status, .jobs[].status] | join(" ")')"
expect_eq "its container is gone" 0 "$(containers --filter "label=io.gitweave.run=$run")"
api POST "/pipelines/runs/$run/cancel" >/dev/null
expect_eq "cancel of a finished run: 409" 409 "$(status)"

# A SIGKILLed worker leaves its container; its next life removes it.
run=$(gw_trigger r-long)
check "run for the kill starts" wait_for 30 job_running
check "container for the kill runs" wait_for 10 run_containers_are "$run" 1
kill -9 "$GW_WORKER_PID"
sleep 1
expect_eq "the container outlives the killed worker" 1 "$(containers --filter "label=io.gitweave.run=$run")"
gw_worker_start d1
check "the restarted worker removes it" wait_for 20 run_containers_are "$run" 0
check "and ends the run" wait_for 20 run_is_final "$run"
check "with a reason" grep -q "restarted" <<<"$(api GET "/pipelines/runs/$run" | jq -r .error)"

# Overhead per job: trigger -> job running, job exit -> success, against docker run --rm.
overhead=$(gw_psql -c "SELECT round(avg(extract(epoch FROM j.started_at - r.created_at)) * 1000),
                              round(avg(extract(epoch FROM j.ended_at - j.started_at)) * 1000)
                         FROM pipeline_runs r JOIN jobs j ON j.run_id = r.id
                         JOIN repos p ON p.id = r.repo_id WHERE p.name = 'r-quick' AND r.status = 'success'")
t0=$(date +%s%3N); docker run --rm "$IMAGE" sh -e -c true; t1=$(date +%s%3N)
gw_log "quick job: trigger->running ms | running->ended ms = $overhead; docker run --rm: $((t1 - t0)) ms"

# An unreachable engine: the runner says so and leaves the queue alone.
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
gw_worker_start dead DOCKER_HOST=unix:///nonexistent/docker.sock
run=$(gw_trigger r-quick)
degraded() { [ "$(api GET /runners | jq -r '.runners[] | select(.name == "dead") | .status')" = degraded ]; }
check "runner with a dead engine shows degraded" wait_for 10 degraded
check "and says why" grep -q "/nonexistent/docker.sock" <<<"$(api GET /runners | jq -r '.runners[] | select(.name == "dead") | .status_detail')"
sleep 2
expect_eq "and its run stays queued" queued "$(run_status "$run")"
gw_worker_start d1
check "a healthy runner takes it" wait_for 30 run_is_final "$run"
expect_eq "no container left behind" 0 "$(containers)"
gw_finish
