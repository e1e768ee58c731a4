#!/usr/bin/env bash
# Log retention: GITWEAVE_LOG_RETENTION_DAYS and a repo's own days remove
# the logs of finished runs that ended longer ago, in small batches, while
# a run writes its log and a follower reads it; the runs and jobs stay,
# marked logs_expired in the API and the client; nothing of a live run is
# removed; /metrics reports the stored logs.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
export GITWEAVE_LOG_RETENTION_DAYS=30 GITWEAVE_LOG_RETENTION_SWEEP_SECONDS=1

is_json_error() { jq -e '(.error | type) == "string" and (.detail | type) == "string"' \
    <"$GW_TMP/body" >/dev/null; }
expect_error() { expect_eq "$1: status" "$2" "$(status)"; check "$1: JSON error body" is_json_error; }
chunks_of_run() { gw_psql -c "SELECT count(*) FROM logs l JOIN jobs j ON j.id = l.job_id WHERE j.run_id = '$1'"; }
all_final() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status NOT IN ('success','failed','canceled')")" = 0 ]; }
# age RUN DAYS: the run ended (and was made) DAYS days ago.
age() { gw_psql -c "UPDATE pipeline_runs SET created_at = now() - interval '$2 days' - interval '1 min', started_at = now() - interval '$2 days' - interval '30 s', ended_at = now() - interval '$2 days' WHERE id = '$1'"; }

gw_template quick '{"kind": "build", "jobs": [{"name": "say", "script": ["echo kept or not"]}]}' || exit 1
gw_template slow '{"kind": "build", "jobs": [{"name": "count", "script": ["i=0; while [ $i -lt 60 ]; do echo live-line-$i; i=$((i+1)); sleep 0.1; done"]}]}' || exit 1
for r in app keep short; do gw_repo $r quick || exit 1; done
gw_repo live slow || exit 1

gw_log "a repo's own retention"
# put_days REPO BODY: PUT /repos/REPO/log-retention.
put_days() { api PUT "/repos/$1/log-retention" -H 'Content-Type: application/json' -d "$2" >/dev/null; }
put_days keep '{"days": 0}'
expect_eq "keep: 0 days (forever)" "200 0" "$(status) $(jq -r .log_retention_days "$GW_TMP/body")"
put_days short '{"days": 1}'
expect_eq "short: 1 day" "200 1" "$(status) $(jq -r .log_retention_days "$GW_TMP/body")"
put_days app '{"days": null}'
expect_eq "app: the setting's" "200 null" "$(status) $(jq -r .log_retention_days "$GW_TMP/body")"
expect_eq "GET shows it" "1" "$(api GET /repos/short | jq -r .log_retention_days)"
put_days app '{"days": -1}'
expect_error "negative days" 400
put_days app '{"days": "3"}'
expect_error "days as a string" 400
put_days app '{"days": 1.5}'
expect_error "fractional days" 400
put_days app '{}'
expect_error "no days" 400
put_days app '{"days": 1, "x": 2}'
expect_error "an unknown member" 400
put_days nope '{"days": 1}'
expect_error "unknown repo" 404

gw_log "finished runs, then aged"
# Runs with the worker (no retention yet: it would sweep them as they age).
GITWEAVE_LOG_RETENTION_DAYS=0 gw_worker_start w0
app_old=$(gw_trigger app); app_new=$(gw_trigger app); keep_old=$(gw_trigger keep)
short_2d=$(gw_trigger short); app_2d=$(gw_trigger app)
check "the runs end" wait_for 60 all_final
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
# How many chunks each run stored (its header line and its output).
declare -A had
for r in "$app_old" "$app_new" "$keep_old" "$app_2d"; do had[$r]=$(chunks_of_run "$r"); done
check "each run stored its log (${had[$app_old]} chunks)" test "${had[$app_old]}" -ge 1
age "$app_old" 40; age "$keep_old" 400; age "$short_2d" 2; age "$app_2d" 2
# A backlog: 3,000 more chunks of 4 KiB in the old run's job.
old_job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$app_old'")
gw_psql -c "INSERT INTO logs (job_id, \"offset\", chunk)
            SELECT '$old_job', 1000000 + i * 4096, repeat(md5(i::text), 128)
              FROM generate_series(0, 2999) i"
expect_eq "the backlog is stored" $((had[$app_old] + 3000)) "$(chunks_of_run "$app_old")"

gw_log "a live run writes while retention removes the backlog, a follower reads"
live=$(gw_trigger live)
live_job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$live'")
curl -sN "$API/jobs/$live_job/logs?follow=true" >"$GW_TMP/follow.sse" 2>/dev/null &
FPID=$!; GW_PIDS+=("$FPID")
gw_worker_start w1
check "the live run starts" wait_for 20 bash -c "[ \"\$(gw_psql -c \"SELECT status FROM pipeline_runs WHERE id = '$live'\")\" = running ] 2>/dev/null || [ \"\$(psql -X -A -t -d '$DATABASE_URL' -c \"SELECT status FROM pipeline_runs WHERE id = '$live'\")\" = running ]"
# Even made to look old, a live run is not touched: only final runs expire.
gw_psql -c "UPDATE pipeline_runs SET created_at = now() - interval '90 days' WHERE id = '$live'"
check "the backlog is removed" wait_for 60 bash -c "[ \"\$(psql -X -A -t -d '$DATABASE_URL' -c \"SELECT count(*) FROM logs l JOIN jobs j ON j.id = l.job_id WHERE j.run_id = '$app_old'\")\" = 0 ]"
check "the live run ends" wait_for 60 all_final
expect_eq "the live run succeeded" success "$(run_status "$live")"
check "the follower got its end" wait_for 10 grep -q '^event: end' "$GW_TMP/follow.sse"
follower=$(awk '/^event: chunk/{c=1;next} c&&/^data: /{sub(/^data: /,""); print; c=0}' "$GW_TMP/follow.sse" | jq -j .chunk)
stored=$(gw_logs "$live_job")
expect_eq "the follower's log is the stored log" "$stored" "$follower"
expect_eq "the live run's 60 lines are all stored" 60 "$(grep -c '^live-line-' <<<"$stored")"
expect_eq "the live run is not marked" "null" "$(api GET "/pipelines/runs/$live" | jq -c .logs_expired)"
check "removal ran in batches" grep -q "removed expired logs" "$GW_TMP/worker-w1.log"

gw_log "what expired, what stayed"
check "short's 2-day-old run expires (1 day)" wait_for 20 bash -c "[ \"\$(psql -X -A -t -d '$DATABASE_URL' -c \"SELECT logs_removed FROM pipeline_runs WHERE id = '$short_2d'\")\" = t ]"
expect_eq "app's 2-day-old run keeps its log (30 days)" "${had[$app_2d]}" "$(chunks_of_run "$app_2d")"
expect_eq "app's new run keeps its log" "${had[$app_new]}" "$(chunks_of_run "$app_new")"
expect_eq "keep's 400-day-old run keeps its log (0: forever)" "${had[$keep_old]}" "$(chunks_of_run "$keep_old")"
expect_eq "the short run's log is gone" 0 "$(chunks_of_run "$short_2d")"
body=$(api GET "/pipelines/runs/$app_old")
expect_eq "the run stays, with its jobs" "success 1" "$(jq -r '"\(.status) \(.jobs | length)"' <<<"$body")"
expect_eq "the run is marked" "30" "$(jq -r .logs_expired.after_days <<<"$body")"
expect_eq "its job is marked" "30" "$(jq -r '.jobs[0].logs_expired.after_days' <<<"$body")"
expect_eq "the short run says 1 day" "1" "$(api GET "/pipelines/runs/$short_2d" | jq -r .logs_expired.after_days)"
expect_eq "app's kept run is not marked" "null" "$(api GET "/pipelines/runs/$app_2d" | jq -c .logs_expired)"
body=$(api GET "/jobs/$old_job/logs")
expect_eq "the log page: no chunks, complete, marked" "0 true 30" \
    "$(jq -r '"\(.chunks | length) \(.complete) \(.logs_expired.after_days)"' <<<"$body")"
expect_eq "a kept log's page is not marked" "null" \
    "$(api GET "/jobs/$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$app_new'")/logs" | jq -c .logs_expired)"
out=$(GITWEAVE_URL=${API%/api/v1} "$GW_BUILD_DIR/gitweave" logs "$old_job" 2>&1)
check "gitweave logs says the log was removed ($out)" grep -q "log removed after 30 days" <<<"$out"
expect_eq "runs are listed as before" 6 "$(api GET '/pipelines/runs?limit=100' | jq '.runs | length')"

gw_log "/metrics and psql"
curl -s "${API%/api/v1}/metrics" >"$GW_TMP/body"
check "stored log bytes" grep -qE '^gitweave_log_stored_bytes [0-9]+' "$GW_TMP/body"
check "stored log rows" grep -qE '^gitweave_log_stored_rows [0-9]+' "$GW_TMP/body"
check "search index bytes" grep -qE '^gitweave_log_search_index_bytes [0-9]+' "$GW_TMP/body"
check "with HELP" grep -q '^# HELP gitweave_log_stored_bytes ' "$GW_TMP/body"
expect_eq "log_sizes per repo" "app keep live short" \
    "$(gw_psql -c "SELECT repo FROM log_sizes ORDER BY repo" | xargs)"

gw_finish
