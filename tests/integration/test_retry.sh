#!/usr/bin/env bash
# Retry when a runner is lost: a worker SIGKILLed mid-job. A run whose
# template (or job) says `retry` goes back to the queue as its next try and
# succeeds there, starting again from its first job; the earlier try's jobs
# and logs stay readable (API, client, psql) and the run says why it was
# retried. A run without retry still fails "runner lost"; a job's own
# failure is never retried.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
mark=$GW_TMP/marks
mkdir -p "$mark"
# The second job waits on its first try (until the worker is killed) and
# finishes at once on the next: it knows by a file of its first try.
slow_then_quick() {
    printf '"echo try of %s", "if [ -e %s/%s ]; then echo second try; else touch %s/%s; echo first try; sleep 60; fi", "echo %s done"' \
        "$1" "$mark" "$1" "$mark" "$1" "$1"
}
gw_template flaky "{\"kind\": \"build\", \"retry\": {\"max\": 2, \"when\": [\"runner_lost\"]}, \"jobs\": [
  {\"name\": \"one\", \"script\": [\"echo one\"]},
  {\"name\": \"two\", \"script\": [$(slow_then_quick flaky)]}]}" || exit 1
gw_template jobflaky "{\"kind\": \"build\", \"jobs\": [
  {\"name\": \"one\", \"script\": [\"echo one\"]},
  {\"name\": \"two\", \"retry\": {\"max\": 1}, \"script\": [$(slow_then_quick jobflaky)]}]}" || exit 1
gw_template plain "{\"kind\": \"build\", \"jobs\": [
  {\"name\": \"one\", \"script\": [\"echo one\"]},
  {\"name\": \"two\", \"script\": [$(slow_then_quick plain)]}]}" || exit 1
gw_template ownfail '{"kind": "build", "retry": {"max": 3}, "jobs": [
  {"name": "bad", "script": ["echo failing", "exit 3"]}]}' || exit 1
gw_repo r1 flaky || exit 1
gw_repo r2 jobflaky || exit 1
gw_repo r3 plain || exit 1
gw_repo r4 ownfail || exit 1

# The stored template keeps its retry, in its normal form.
expect_eq "a job's retry in its normal form" '{"max":1,"when":["runner_lost"]}' \
  "$(api GET /templates/jobflaky | jq -c '.document.jobs[1].retry')"
api PUT /templates/bad -H 'Content-Type: application/json' \
  -d '{"kind": "build", "retry": {"max": 4}, "jobs": [{"name": "a", "script": ["x"]}]}' >/dev/null
expect_eq "retry.max past 3 is refused" "422 retry.max" "$(status) $(jq -r .field "$GW_TMP/body")"

export RUNNER_LEASE_SECONDS=3
gw_worker_start victim RUNNER_CONCURRENCY=3
victim=$GW_WORKER_PID
flaky=$(gw_trigger r1)
jobflaky=$(gw_trigger r2)
plain=$(gw_trigger r3)
at_first_try() { [ "$(ls "$mark" | wc -l)" = 3 ]; }
check "the three runs reach their slow job" wait_for 20 at_first_try
# Only now the survivor: every run is the victim's.
gw_worker_start survivor
registered() { [ "$(gw_psql -c "SELECT count(*) FROM runners WHERE name = 'survivor'")" = 1 ]; }
check "survivor registers" wait_for 10 registered
sleep 1
kill -9 "$victim"
ownfail=$(gw_trigger r4)
check "a job's own failure ends its run" wait_for 20 run_is_final "$ownfail"

check "the run without retry ends" wait_for 10 run_is_final "$plain"
body=$(api GET "/pipelines/runs/$plain")
expect_eq "and fails as runner lost, never retried" "failed 0 0" \
  "$(echo "$body" | jq -r '"\(.status) \(.retries | length) \(.retried_jobs | length)"')"
check "its error names the lost runner" grep -q "runner lost: victim ended its database session" \
  <<<"$(echo "$body" | jq -r .error)"

for run in "$flaky" "$jobflaky"; do
  check "the run with retry ends" wait_for 30 run_is_final "$run"
  body=$(api GET "/pipelines/runs/$run")
  expect_eq "and succeeds on its second try" "success 1" \
    "$(echo "$body" | jq -r '"\(.status) \(.retries | length)"')"
  check "it says why it was retried" grep -q "^runner lost: victim ended its database session" \
    <<<"$(echo "$body" | jq -r '.retries[0]')"
  expect_eq "its jobs are the second try's, every one run again" "one:success:1 two:success:1" \
    "$(echo "$body" | jq -r '[.jobs[] | "\(.name):\(.status):\(.retry)"] | join(" ")')"
  expect_eq "the first try's jobs stay as they ended" "one:success:0 two:failed:0:runner lost" \
    "$(echo "$body" | jq -r '[.retried_jobs[] | "\(.name):\(.status):\(.retry)" + (if .error then ":\(.error)" else "" end)] | join(" ")')"
  old=$(echo "$body" | jq -r '.retried_jobs[1].id')
  new=$(echo "$body" | jq -r '.jobs[1].id')
  old_log=$(gw_logs "$old")
  new_log=$(gw_logs "$new")
  # (The echo of a step, "$ if ...", names both: the job's own lines are whole lines.)
  check "the first try's log is readable and whole up to the kill" grep -qx "first try" <<<"$old_log"
  check "and the second try never wrote into it" bash -c '! grep -qx "second try" <<<"$1"' _ "$old_log"
  check "the second try's log is its own" bash -c 'grep -qx "second try" <<<"$1" && ! grep -qx "first try" <<<"$1"' _ "$new_log"
  expect_eq "the first try's job logs end where it was killed" 0 \
    "$(gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$old' AND chunk LIKE '%done%'")"
done

body=$(api GET "/pipelines/runs/$ownfail")
expect_eq "a job's own failure is not retried" "failed 0 1" \
  "$(echo "$body" | jq -r '"\(.status) \(.retries | length) \(.jobs | length)"')"
expect_eq "one try only, in the database too" 1 \
  "$(gw_psql -c "SELECT count(*) FROM jobs WHERE run_id = '$ownfail'")"

# psql: every try of a run at a glance.
expect_eq "run_tries shows both tries" "0|one|success 0|two|failed 1|one|success 1|two|success" \
  "$(gw_psql -c "SELECT retry || '|' || name || '|' || status FROM run_tries WHERE run_id = '$flaky'" | tr '\n' ' ' | sed 's/ $//')"
# The client shows the earlier try.
out=$(GITWEAVE_URL=${API%/api/v1} "$GW_BUILD_DIR/gitweave" show "$flaky" 2>&1)
check "gitweave show names the retry and its reason" grep -q "retried: runner lost: victim" <<<"$out"
check "gitweave show lists the first try's jobs" grep -q "two .*failed.*runner lost" <<<"$out"

# A rerun is a separate run, with one try of the last try's jobs.
rerun=$(api POST "/pipelines/runs/$flaky/rerun" | jq -r .id)
check "the rerun ends" wait_for 20 run_is_final "$rerun"
expect_eq "rerun: a new run of its own, no retries of the original" "success 0 2" \
  "$(api GET "/pipelines/runs/$rerun" | jq -r '"\(.status) \(.retries | length) \(.jobs | length)"')"
gw_finish
