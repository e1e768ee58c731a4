#!/usr/bin/env bash
# Several runs per worker: two workers with RUNNER_CONCURRENCY=4 run 400
# queued runs of two repos, each exactly once, never two at a time in one
# workspace (a job that finds the workspace taken fails its run), and the
# workspaces are reused (at most four per repo and runner).
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
# The workspace is RUNNER_WORKDIR/<runner>/<repo>[@i]: ../../ is RUNNER_WORKDIR.
gw_template guarded '{"kind": "test", "jobs": [{"name": "g", "script": [
  "mkdir .taken || { echo \"workspace $PWD is in use\"; exit 1; }",
  "echo \"$GITWEAVE_RUN_ID\" >> ../../executions.log",
  "sleep 0.02",
  "rmdir .taken"]}]}' || exit 1
gw_repo ra guarded || exit 1
gw_repo rb guarded || exit 1
N=400
# One curl for all the triggers, over one connection.
urls=()
for i in $(seq $N); do
    urls+=(-o /dev/null "$API/repos/r$([ $((i % 2)) = 0 ] && echo a || echo b)/pipelines/run")
done
curl -s -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' -d '{}' "${urls[@]}" >"$GW_TMP/codes"
expect_eq "every trigger answered 201" "$N 201" "$(sort "$GW_TMP/codes" | uniq -c | awk '{print $1, $2}')"
expect_eq "$N runs queued" $N "$(gw_psql -c "SELECT count(*) FROM run_queue")"

gw_worker_start wa RUNNER_CONCURRENCY=4
gw_worker_start wb RUNNER_CONCURRENCY=4
all_final() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status IN ('success','failed','canceled')")" = $N ]; }
busy_seen=0
t0=$(date +%s%3N)
while ! all_final && [ $(( $(date +%s%3N) - t0 )) -lt 300000 ]; do
    b=$(api GET /runners | jq '[.runners[].busy] | max')
    [ "$b" -gt "$busy_seen" ] && busy_seen=$b
    sleep 0.2
done
check "all $N runs finish" all_final
gw_log "$N runs took $(( $(date +%s%3N) - t0 )) ms with two workers of 4 slots"
expect_eq "all succeeded (no workspace was shared)" $N "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'success'")"
expect_eq "each run executed exactly once" $N "$(sort -u "$GW_TMP/work/executions.log" | wc -l)"
expect_eq "no run executed twice" $N "$(wc -l <"$GW_TMP/work/executions.log")"
expect_eq "every run attempt is 1" $N "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE attempt = 1")"
check "a runner had more than one run at once (busy up to $busy_seen)" test "$busy_seen" -gt 1
expect_eq "GET /runners shows the slots" "4 4" "$(api GET /runners | jq -r '[.runners[].slots] | join(" ")')"
for r in wa wb; do
    n=$(find "$GW_TMP/work/$r" -maxdepth 1 \( -name "$(gw_repo_id ra)*" -o -name "$(gw_repo_id rb)*" \) | wc -l)
    check "runner $r reused its workspaces ($n for 2 repos, at most 8)" test "$n" -ge 2 -a "$n" -le 8
done
gw_finish
