#!/usr/bin/env bash
# Operating the runner: pausing and resuming a runner (it claims nothing new,
# finishes what it runs, stays paused over a restart), removing a runner that
# is gone, rerunning a run with its frozen spec after the template changed,
# and the psql views of what is stuck, what failed and runner utilisation.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
J=(-H 'Content-Type: application/json')
gw_template quick '{"kind": "test", "jobs": [{"name": "one", "script": ["echo quick-v1"]}]}' || exit 1
gw_template slow '{"kind": "test", "jobs": [{"name": "nap", "script": ["sleep 3", "echo slept"]}]}' || exit 1
gw_template boom '{"kind": "test", "jobs": [{"name": "fine", "script": ["echo fine"]}, {"name": "bad", "script": ["echo about to fail", "echo the last words", "exit 3"]}]}' || exit 1
gw_repo ops quick slow boom || exit 1

runner_field() { api GET /runners | jq -r --arg n "$1" ".runners[] | select(.name == \$n) | .$2"; }
runner_seen() { [ "$(runner_field "$1" name)" = "$1" ]; }
run_runner() { gw_psql -c "SELECT n.name FROM pipeline_runs r JOIN runners n ON n.id = r.runner_id WHERE r.id = '$1'"; }
runner_started() { gw_psql -c "SELECT started_at FROM runners WHERE name = '$1'"; }
is_running() { [ "$(run_status "$1")" = running ]; }

# ---- pause ----
gw_worker_start wa
WA=$GW_WORKER_PID
check "wa registers" wait_for 10 runner_seen wa
expect_eq "a new runner is not paused" false "$(runner_field wa paused)"
api POST /runners/wa/pause >/dev/null
expect_eq "pause: 200" 200 "$(status)"
expect_eq "pause replies with the runner, paused" "wa true" "$(jq -r '"\(.name) \(.paused)"' "$GW_TMP/body")"
expect_eq "GET /runners shows paused" true "$(runner_field wa paused)"
api POST /runners/wa/pause >/dev/null
expect_eq "pausing twice is fine" "200 true" "$(status) $(jq -r .paused "$GW_TMP/body")"

r1=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "quick"}' | jq -r .id)
sleep 3 # three claim polls of wa
expect_eq "a paused runner leaves a queued run alone" queued "$(run_status "$r1")"

# The flag lives on the runner's row: a restarted worker is still paused.
before=$(runner_started wa)
kill "$WA"; wait "$WA" 2>/dev/null
gw_worker_start wa
WA=$GW_WORKER_PID
restarted() { [ "$(runner_started wa)" != "$before" ]; }
check "wa registers again" wait_for 10 restarted
expect_eq "paused survives a worker restart" true "$(runner_field wa paused)"
sleep 3
expect_eq "the restarted paused runner still leaves the run alone" queued "$(run_status "$r1")"

gw_worker_start wb
WB=$GW_WORKER_PID
check "another runner takes the run" wait_for 15 run_is_final "$r1"
expect_eq "the run ran on wb" "success wb" "$(run_status "$r1") $(run_runner "$r1")"

# A runner paused while it runs finishes that run and claims nothing more.
r2=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "slow"}' | jq -r .id)
check "wb claims the slow run" wait_for 10 is_running "$r2"
api POST /runners/wb/pause >/dev/null
r3=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "quick"}' | jq -r .id)
check "the paused runner finishes what it runs" wait_for 15 run_is_final "$r2"
expect_eq "it finished with success" success "$(run_status "$r2")"
sleep 3
expect_eq "with both runners paused the queued run waits" queued "$(run_status "$r3")"

api POST /runners/wa/resume >/dev/null
expect_eq "resume: 200, not paused" "200 false" "$(status) $(jq -r .paused "$GW_TMP/body")"
check "a resumed runner claims again" wait_for 15 run_is_final "$r3"
expect_eq "the resumed runner ran it" "success wa" "$(run_status "$r3") $(run_runner "$r3")"

api POST /runners/nobody/pause >/dev/null
expect_eq "pause of an unknown runner: 404" "404 runner not found" "$(status) $(jq -r .error "$GW_TMP/body")"
api POST /runners/nobody/resume >/dev/null
expect_eq "resume of an unknown runner: 404" 404 "$(status)"
api POST '/runners/bad%20name/pause' >/dev/null
expect_eq "a malformed runner name: 400" "400 invalid runner name" "$(status) $(jq -r .error "$GW_TMP/body")"
api GET /runners/wa/pause >/dev/null
expect_eq "GET on pause: 405" 405 "$(status)"

# ---- delete ----
api DELETE /runners/wa >/dev/null
expect_eq "deleting a live runner: 409" "409 runner is live" "$(status) $(jq -r .error "$GW_TMP/body")"
check "the 409 says its status" jq -e '.detail | test("is (idle|busy)")' "$GW_TMP/body"
# A worker stopped gracefully marks its row stopped: removable at once.
kill "$WB"; wait "$WB" 2>/dev/null
api DELETE /runners/wb >/dev/null
expect_eq "deleting a stopped runner: 204" 204 "$(status)"
expect_eq "it is gone from GET /runners" "" "$(runner_field wb name)"
expect_eq "its runs keep their history without a runner" "success " "$(run_status "$r1") $(run_runner "$r1")"
api DELETE /runners/wb >/dev/null
expect_eq "deleting it again: 404" 404 "$(status)"
# A worker that died is removable once it is offline (not seen within its lease).
kill -9 "$WA"; wait "$WA" 2>/dev/null
offline() { [ "$(runner_field wa status)" = offline ]; }
check "wa shows offline after its lease" wait_for 15 offline
# GET /runners reads its status and busy slots from the view runner_state.
expect_eq "GET /runners agrees with runner_state" \
    "$(gw_psql -c "SELECT string_agg(name || ' ' || status || ' ' || busy, ',' ORDER BY name) FROM runner_state")" \
    "$(api GET /runners | jq -r '[.runners[] | "\(.name) \(.status) \(.busy)"] | sort | join(",")')"
api DELETE /runners/wa >/dev/null
expect_eq "deleting an offline runner: 204" 204 "$(status)"

# ---- rerun ----
gw_worker_start wc
WC=$GW_WORKER_PID
orig=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "quick", "ref": "refs/heads/topic", "commit": "0123abcd"}' | jq -r .id)
check "the original run finishes" wait_for 15 run_is_final "$orig"
job_names() { api GET "/pipelines/runs/$1" | jq -c '[.jobs[] | [.position, .name, .kind, .image]]'; }
orig_jobs=$(job_names "$orig")
# The template changes after the run: a rerun keeps the frozen spec.
gw_template quick '{"kind": "test", "jobs": [{"name": "first", "script": ["echo quick-v2"]}, {"name": "second", "script": ["echo more"]}]}' || exit 1
curl -s -D "$GW_TMP/headers" -o "$GW_TMP/body" -w '%{http_code}' -X POST "$API/pipelines/runs/$orig/rerun" >"$GW_STATUS_FILE"
expect_eq "rerun: 201" 201 "$(status)"
re=$(jq -r .id "$GW_TMP/body")
expect_eq "rerun: Location names the new run" "/api/v1/pipelines/runs/$re" "$(grep -i '^Location:' "$GW_TMP/headers" | tr -d '\r' | cut -d' ' -f2)"
expect_eq "the new run is queued and points back" "queued $orig" "$(jq -r '"\(.status) \(.rerun_of)"' "$GW_TMP/body")"
check "the new run is another run" test "$re" != "$orig"
same() { gw_psql -c "SELECT a.$1 IS NOT DISTINCT FROM b.$1 FROM pipeline_runs a, pipeline_runs b WHERE a.id = '$orig' AND b.id = '$re'"; }
for col in spec inputs ref commit_sha template_id template_version repo_id clean; do
    expect_eq "the rerun copies $col" t "$(same $col)"
done
expect_eq "the original's ref and commit" "refs/heads/topic 0123abcd" "$(gw_psql -c "SELECT ref || ' ' || commit_sha FROM pipeline_runs WHERE id = '$re'")"
check "the rerun finishes" wait_for 15 run_is_final "$re"
expect_eq "the rerun has the original's jobs" "$orig_jobs" "$(job_names "$re")"
rjob=$(api GET "/pipelines/runs/$re" | jq -r '.jobs[0].id')
expect_eq "the rerun ran the original script" quick-v1 "$(gw_logs "$rjob" | grep '^quick-')"
expect_eq "GET shows rerun_of" "$orig" "$(api GET "/pipelines/runs/$re" | jq -r .rerun_of)"
expect_eq "the original has none" null "$(api GET "/pipelines/runs/$orig" | jq -r .rerun_of)"
# A rerun of a rerun points at the run it copied.
re2=$(api POST "/pipelines/runs/$re/rerun" | jq -r .id)
expect_eq "a rerun of a rerun points back one step" "$re" "$(api GET "/pipelines/runs/$re2" | jq -r .rerun_of)"
check "the second rerun finishes" wait_for 15 run_is_final "$re2"

api POST /runners/wc/pause >/dev/null
q=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "quick"}' | jq -r .id)
api POST "/pipelines/runs/$q/rerun" >/dev/null
expect_eq "rerun of a queued run: 409" "409 run not finished" "$(status) $(jq -r .error "$GW_TMP/body")"
api POST /pipelines/runs/123e4567-e89b-12d3-a456-426614174000/rerun >/dev/null
expect_eq "rerun of an unknown run: 404" 404 "$(status)"
api POST /pipelines/runs/nope/rerun >/dev/null
expect_eq "rerun of a malformed id: 400" 400 "$(status)"
api POST "/pipelines/runs/$q/cancel" >/dev/null
api POST "/pipelines/runs/$q/rerun" >/dev/null
expect_eq "a canceled run can be rerun" 201 "$(status)"
api POST /runners/wc/resume >/dev/null

# ---- views ----
bad=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "boom"}' | jq -r .id)
check "the failing run ends" wait_for 15 run_is_final "$bad"
expect_eq "recent_failures: the run, its failing job, exit code, error and last line printed" \
    "$bad|bad|3|line 3 \"exit 3\" exited with code 3|the last words" \
    "$(gw_psql -c "SELECT id, failed_job, exit_code, job_error, last_log_line FROM recent_failures WHERE id = '$bad'")"
expect_eq "recent_failures holds only failed runs" 0 "$(gw_psql -c "SELECT count(*) FROM recent_failures WHERE id <> '$bad'")"
expect_eq "runner_utilisation: a row per runner" wc "$(gw_psql -c "SELECT runner FROM runner_utilisation WHERE runs > 0")"
expect_eq "runner_utilisation: wc was busy for the length of its runs" t \
    "$(gw_psql -c "SELECT busy > interval '0' AND busy < interval '1 min' AND busy_percent BETWEEN 0 AND 100 FROM runner_utilisation WHERE runner = 'wc'")"

expect_eq "stuck_runs: nothing stuck yet" 0 "$(gw_psql -c "SELECT count(*) FROM stuck_runs")"
# A worker killed in the middle of a run, with no other worker to reap it.
stuck=$(api POST /repos/ops/pipelines/run "${J[@]}" -d '{"template": "slow"}' | jq -r .id)
check "wc claims the slow run" wait_for 10 is_running "$stuck"
kill -9 "$WC"; wait "$WC" 2>/dev/null
listed() { [ "$(gw_psql -c "SELECT count(*) FROM stuck_runs WHERE id = '$stuck'")" = 1 ]; }
check "stuck_runs lists the run once its lease expired" wait_for 15 listed
# The run's lease and the runner's heartbeat are renewed by one statement,
# so they run out together: either reason is the truth.
expect_eq "stuck_runs says why and where" "wc|t" \
    "$(gw_psql -c "SELECT runner, reason IN ('lease expired', 'runner offline') FROM stuck_runs WHERE id = '$stuck'")"
lost() { curl -s "${API%/api/v1}/metrics" | awk '$1 == "gitweave_runs_lost_total" { print $2 }'; }
expect_eq "no run lost yet" 0 "$(lost)"
# Another worker's reaper ends it: failed as "runner lost", counted as such.
gw_worker_start wd
check "the reaper ends the stuck run" wait_for 15 run_is_final "$stuck"
expect_eq "stuck_runs is empty again" 0 "$(gw_psql -c "SELECT count(*) FROM stuck_runs")"
check "recent_failures gives the reaper's error" \
    test "$(gw_psql -c "SELECT error LIKE 'runner lost: wc %' FROM recent_failures WHERE id = '$stuck'")" = t
sleep 1.1 # the metrics' cache
expect_eq "the lost run is counted in gitweave_runs_lost_total" 1 "$(lost)"
gw_finish
