#!/usr/bin/env bash
# Two workers share the queue: 200 queued runs, each executed exactly once.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template tiny '{"kind": "test", "jobs": [{"name": "t", "script": ["echo run $GITWEAVE_RUN_ID >> ../../executions.log", "echo done"]}]}' || exit 1
gw_repo many tiny || exit 1
N=200
for i in $(seq $N); do gw_trigger many >>"$GW_TMP/runs"; done
expect_eq "$N runs queued" $N "$(gw_psql -c "SELECT count(*) FROM run_queue")"

gw_worker_start wa
gw_worker_start wb
all_final() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status IN ('success','failed','canceled')")" = $N ]; }
t0=$(date +%s%3N)
check "all $N runs finish" wait_for 120 all_final
gw_log "200 runs took $(( $(date +%s%3N) - t0 )) ms with two workers"
expect_eq "all succeeded" $N "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'success'")"
# The workspace is RUNNER_WORKDIR/<runner>/<repo id>: executions.log two levels up is RUNNER_WORKDIR.
expect_eq "each run executed exactly once" $N "$(sort -u "$GW_TMP/work/executions.log" | wc -l)"
expect_eq "no run executed twice" $N "$(wc -l <"$GW_TMP/work/executions.log")"
expect_eq "every run attempt is 1" $N "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE attempt = 1")"
wa=$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN runners n ON n.id = r.runner_id WHERE n.name = 'wa'")
wb=$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN runners n ON n.id = r.runner_id WHERE n.name = 'wb'")
gw_log "wa ran $wa, wb ran $wb"
check "both workers claimed runs (wa=$wa wb=$wb)" test "$wa" -gt 0 -a "$wb" -gt 0
expect_eq "runners listed" "wa wb" "$(api GET /runners | jq -r '[.runners[].name] | sort | join(" ")')"
gw_finish
