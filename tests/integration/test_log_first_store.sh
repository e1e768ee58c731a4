#!/usr/bin/env bash
# When a job's first lines are stored (RUNNER_LOG_FIRST_MS): a job that ends
# within that time stores its whole log, header and all, in its end's
# statement (one chunk, no insert of its own); a longer job's header and
# first output are stored while it still runs, in order, and the rest after;
# with RUNNER_LOG_FIRST_MS=0 the header is a chunk of its own, stored at
# once. The hold here is long (2 s) so that which side of it a job ends on
# does not depend on the machine's speed.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template quick '{"kind": "build", "jobs": [{"name": "q", "script": ["true"]}]}' || exit 1
gw_template two '{"kind": "build", "jobs": [{"name": "a", "script": ["echo one"]},
  {"name": "b", "script": ["echo two"]}]}' || exit 1
gw_template long '{"kind": "build", "jobs": [{"name": "l", "script": ["echo early", "sleep 4", "echo late"]}]}' || exit 1
gw_repo quick quick || exit 1
gw_repo two two || exit 1
gw_repo long long || exit 1

chunks() { gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$1'"; }
first_job() { api GET "/pipelines/runs/$1" | jq -r ".jobs[${2:-0}].id"; }
job_status() { gw_psql -c "SELECT status FROM jobs WHERE id = '$1'"; }

gw_worker_start w1 RUNNER_LOG_FIRST_MS=2000

run=$(gw_trigger quick)
check "the quick run finishes" wait_for 60 run_is_final "$run"
expect_eq "the quick run succeeded" success "$(run_status "$run")"
job=$(first_job "$run")
expect_eq "a job that ends within the hold stores its log in one chunk" 1 "$(chunks "$job")"
check "which starts with the header" grep -qE "$GW_HEADER_RE" <<<"$(gw_logs "$job" | head -n 1)"
expect_eq "and holds the job's output after it" '$ true' "$(gw_job_log "$job")"

run=$(gw_trigger two)
check "the two-job run finishes" wait_for 60 run_is_final "$run"
for i in 0 1; do
    job=$(first_job "$run" "$i")
    expect_eq "job $i of two ends within the hold: one chunk" 1 "$(chunks "$job")"
done
expect_eq "the second job's log" '$ echo two
two' "$(gw_job_log "$job")"

run=$(gw_trigger long)
job=$(first_job "$run")
early() { [ "$(chunks "$job")" -ge 1 ]; }
check "a long job's first lines are stored while it runs" wait_for 20 early
expect_eq "the job is still running then" running "$(job_status "$job")"
first=$(gw_psql -c "SELECT chunk FROM logs WHERE job_id = '$job' AND \"offset\" = 0")
check "the first chunk starts with the header" grep -qE "$GW_HEADER_RE" <<<"$(head -n 1 <<<"$first")"
check "and holds the output printed within the hold" grep -qx 'early' <<<"$first"
check "the long run finishes" wait_for 60 run_is_final "$run"
expect_eq "the long job's log, in order" '$ echo early
early
$ sleep 4
$ echo late
late' "$(gw_job_log "$job")"
kill "$GW_WORKER_PID" && wait "$GW_WORKER_PID" 2>/dev/null

# RUNNER_LOG_FIRST_MS=0: the header is stored at once, in a chunk of its own.
gw_worker_start w2 RUNNER_LOG_FIRST_MS=0
run=$(gw_trigger quick)
check "the quick run finishes on w2" wait_for 60 run_is_final "$run"
job=$(first_job "$run")
first=$(gw_psql -c "SELECT chunk FROM logs WHERE job_id = '$job' AND \"offset\" = 0")
check "with no hold the first chunk is the header" grep -qE "$GW_HEADER_RE" <<<"$first"
expect_eq "and only the header" 1 "$(printf '%s\n' "$first" | wc -l)"
expect_eq "the log is whole" '$ true' "$(gw_job_log "$job")"
gw_finish
