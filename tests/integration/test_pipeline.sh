#!/usr/bin/env bash
# A run from trigger to success with the local engine: statuses, logs read
# back page by page, environment, workspace shared by the jobs; a failing
# middle job fails the run and skips the rest; every status change is
# NOTIFYed, in order, and nothing else happens.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
"$GW_BUILD_DIR/tests/gw_listen" 120 >"$GW_TMP/events" 2>"$GW_TMP/listen.err" &
GW_PIDS+=($!)
wait_for 60 grep -q listening "$GW_TMP/listen.err" || fail "listener did not start"
gw_worker_start w1

gw_template multi '{
  "kind": "build",
  "inputs": {"GREETING": {"default": "hello"}},
  "jobs": [
    {"name": "first", "script": ["echo ${{ inputs.GREETING }} from $GITWEAVE_JOB_NAME",
                                 "echo to-stderr >&2",
                                 "echo CI=$CI repo=$GITWEAVE_REPO run=$GITWEAVE_RUN_ID",
                                 "echo data > shared.txt"]},
    {"name": "slow", "script": ["echo tick1", "sleep 1.2", "echo tick2"]},
    {"name": "big", "env": {"COUNT": "20000"},
     "script": ["i=0; while [ $i -lt $COUNT ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done",
                "cat shared.txt"]}
  ]}' || exit 1
gw_template broken '{
  "kind": "test",
  "jobs": [
    {"name": "ok", "script": ["echo fine"]},
    {"name": "bad", "script": ["echo about to fail", "exit 7", "echo never"]},
    {"name": "after", "script": ["echo must not run"]}
  ]}' || exit 1
gw_repo app multi || exit 1
gw_repo app2 broken || exit 1

run=$(gw_trigger app '{"inputs": {"GREETING": "hi"}}')
check "trigger returns a run id" grep -Eq "^[0-9a-f-]{36}$" <<<"$run"
check "run finishes" wait_for 60 run_is_final "$run"
expect_eq "run succeeded" success "$(run_status "$run")"
body=$(api GET "/pipelines/runs/$run")
expect_eq "all jobs succeeded" "success success success" "$(echo "$body" | jq -r '[.jobs[].status] | join(" ")')"
expect_eq "exit codes" "0 0 0" "$(echo "$body" | jq -r '[.jobs[].exit_code] | map(tostring) | join(" ")')"
check "run has started_at and ended_at" test "$(echo "$body" | jq -r '.started_at != null and .ended_at != null')" = true
expect_eq "run shows its runner" w1 "$(echo "$body" | jq -r .runner)"

job1=$(echo "$body" | jq -r '.jobs[0].id')
job3=$(echo "$body" | jq -r '.jobs[2].id')
log1=$(gw_job_log "$job1")
expect_eq "first job log (each step, then its stdout and stderr in order, env, inputs)" \
    '$ echo "${GITWEAVE_INPUT_GREETING}" from $GITWEAVE_JOB_NAME
hi from first
$ echo to-stderr >&2
to-stderr
$ echo CI=$CI repo=$GITWEAVE_REPO run=$GITWEAVE_RUN_ID'"
CI=true repo=app run=$run"'
$ echo data > shared.txt' "$log1"

# The first line, which says what ran, starts the first chunk (with what
# the job printed within RUNNER_LOG_FIRST_MS: test_log_first_store.sh).
first_chunk=$(gw_psql -c "SELECT chunk FROM logs WHERE job_id = '$job1' AND \"offset\" = 0")
check "the first chunk starts with the header" grep -qE "$GW_HEADER_RE" <<<"$(head -n 1 <<<"$first_chunk")"

# The big job's log, read back in small pages, equals what it printed.
{
    echo '$ i=0; while [ $i -lt $COUNT ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done'
    for i in $(seq 0 19999); do echo "line-$i-abcdefghijklmnopqrstuvwxyz"; done
    echo '$ cat shared.txt'
    echo data
} >"$GW_TMP/expected"
gw_job_log "$job3" 50000 >"$GW_TMP/got"
check "big log read page by page equals the output ($(wc -c <"$GW_TMP/expected") bytes)" cmp -s "$GW_TMP/expected" "$GW_TMP/got"
gaps=$(gw_psql -c "SELECT count(*) FROM (SELECT \"offset\", lead(\"offset\") OVER (ORDER BY \"offset\") AS nxt,
                      octet_length(chunk) AS len FROM logs WHERE job_id = '$job3') s
                   WHERE nxt IS NOT NULL AND nxt <> \"offset\" + len")
expect_eq "offsets are contiguous" 0 "$gaps"
chunks=$(gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$job3'")
check "big log is stored in several chunks (got $chunks)" test "$chunks" -gt 3
last=$(curl -s "$API/jobs/$job3/logs?offset=$(wc -c <"$GW_TMP/expected")")
expect_eq "log reader says complete at the end" true "$(echo "$last" | jq -r .complete)"

# Statuses, from LISTEN: queued -> running -> success for the run.
expect_events "run events" "$run" "queued running success "
expect_events "job events" "$job1" "running success "

# A failing middle job fails the run and skips the rest.
run2=$(gw_trigger app2)
check "failing run finishes" wait_for 30 run_is_final "$run2"
body=$(api GET "/pipelines/runs/$run2")
expect_eq "run failed" failed "$(echo "$body" | jq -r .status)"
expect_eq "job statuses" "success failed skipped" "$(echo "$body" | jq -r '[.jobs[].status] | join(" ")')"
expect_eq "failed job exit code" 7 "$(echo "$body" | jq -r '.jobs[1].exit_code')"
check "run error names the job" grep -q "bad" <<<"$(echo "$body" | jq -r .error)"
expect_eq "failed job log stops at the failing step" '$ echo about to fail
about to fail
$ exit 7' "$(gw_job_log "$(echo "$body" | jq -r '.jobs[1].id')")"
expect_eq "its error names the step" 'line 2 "exit 7" exited with code 7' "$(echo "$body" | jq -r '.jobs[1].error')"
expect_events "failed run events" "$run2" "queued running failed "

# No status ever went anywhere but forward.
bad=$(jq -r 'select(.type=="run") | .status' "$GW_TMP/events" | grep -cvE '^(queued|running|success|failed|canceled)$')
expect_eq "only known run statuses" 0 "$bad"

# A slow job's line is readable while the job runs (time bound of chunks).
gw_template slowpoke '{"kind": "build", "jobs": [{"name": "s", "script": ["echo early", "sleep 8", "echo late"]}]}' || exit 1
gw_repo slow slowpoke || exit 1
run3=$(gw_trigger slow)
job=""
wait_for 10 bash -c "[ \"\$(curl -s $API/pipelines/runs/$run3 | jq -r '.jobs[0].status')\" = running ]"
job=$(api GET "/pipelines/runs/$run3" | jq -r '.jobs[0].id')
check "early line readable while the job sleeps" wait_for 6 bash -c "curl -s '$API/jobs/$job/logs' | jq -e '[.chunks[].chunk] | join(\"\") | contains(\"}\\n\$ echo early\\nearly\\n\")' >/dev/null"
expect_eq "and the job is still running" running "$(gw_psql -c "SELECT status FROM jobs WHERE id = '$job'")"
check "slow run finishes" wait_for 20 run_is_final "$run3"

gw_finish
