#!/usr/bin/env bash
# Why a queued run waits, each reason made for real by runners in that
# state, and said the same way in the run's JSON (`waiting`), by `gitweave
# show` and by the view run_waiting: matching_runners_offline (the runner
# with its labels has stopped), matching_runners_paused,
# matching_runners_draining (its runner drains after SIGTERM) and
# matching_runners_busy (its runner's one slot is taken).
# no_matching_runner is in test_labels, concurrency_group in
# test_concurrency.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
export GITWEAVE_URL=${API%/api/v1} NO_COLOR=1
mkdir -p "$GW_TMP/gates"
# A job that waits for its gate file, named by an input.
job='{"name": "j", "script": ["while [ ! -e '"$GW_TMP"'/gates/${{ inputs.GATE }} ]; do sleep 0.1; done"]}'
for l in off pz dr bz; do
    gw_template "$l" "{\"kind\": \"test\", \"runs-on\": [\"$l\"],
      \"inputs\": {\"GATE\": {\"default\": \"none\"}}, \"jobs\": [$job]}" || exit 1
done
gw_repo w off pz dr bz || exit 1

runner_status() { api GET /runners | jq -r --arg n "$1" '.runners[] | select(.name == $n) | .status'; }
runner_is() { [ "$(runner_status "$1")" = "$2" ]; }
job_running() { [ "$(gw_psql -c "SELECT count(*) FROM jobs WHERE run_id = '$1' AND status = 'running'")" = 1 ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }
trig() { gw_trigger w "{\"template\": \"$1\", \"inputs\": {\"GATE\": \"$2\"}}"; }
worker() { gw_worker_start "$1" RUNNER_LABELS="$2" RUNNER_RUN_UNLABELED=false RUNNER_LEASE_SECONDS=30; }

# expect_waiting WHAT RUN REASON POSITION DETAIL: the three ways say it.
expect_waiting() {
    local what=$1 run=$2 reason=$3 pos=$4 detail=$5
    expect_eq "$what: the run's JSON" "$(jq -cn --arg r "$reason" --argjson p "$pos" --arg d "$detail" '[$r, $p, $d]')" \
        "$(api GET "/pipelines/runs/$run" | jq -c '.waiting | [.reason, .position, .detail]')"
    expect_eq "$what: the view run_waiting" "$reason|$pos|$detail" \
        "$(gw_psql -c "SELECT reason, position, detail FROM run_waiting WHERE id = '$run'")"
    "$GW_BUILD_DIR/gitweave" show "$run" >"$GW_TMP/show"
    check "$what: gitweave show, the reason" grep -qx "waiting   $reason, position $pos" "$GW_TMP/show"
    check "$what: gitweave show, in words" grep -qxF "          $detail" "$GW_TMP/show"
}

# ---- matching_runners_offline: the one runner with the label has stopped ----
worker offw off
pid=$GW_WORKER_PID
check "offw registers" wait_for 10 runner_is offw idle
kill -TERM "$pid"
check "offw stops" wait_for 10 exited "$pid"
o=$(trig off o)
sleep 1.5
expect_eq "a run for a stopped runner stays queued" queued "$(run_status "$o")"
expect_waiting offline "$o" matching_runners_offline 1 "no live runner has the labels off: offw is stopped"

# ---- matching_runners_paused ----
worker pzw pz
check "pzw registers" wait_for 10 runner_is pzw idle
api POST /runners/pzw/pause >/dev/null
expect_eq "pause: 200" 200 "$(status)"
p=$(trig pz p)
sleep 2.5 # two claim polls
expect_eq "a run for a paused runner stays queued" queued "$(run_status "$p")"
expect_waiting paused "$p" matching_runners_paused 1 "the runners with the labels pz are paused: pzw"
api POST /runners/pzw/resume >/dev/null
touch "$GW_TMP/gates/p"
check "resumed, the runner takes it" wait_for 15 run_is_final "$p"

# ---- matching_runners_busy: the runner's one slot is taken ----
worker bzw bz
check "bzw registers" wait_for 10 runner_is bzw idle
b1=$(trig bz b1)
check "the first run takes the slot" wait_for 15 job_running "$b1"
b2=$(trig bz b2)
b3=$(trig bz b3)
sleep 1.5
expect_eq "the next runs wait" "queued queued" "$(run_status "$b2") $(run_status "$b3")"
expect_waiting busy "$b2" matching_runners_busy 1 \
    "waiting for a free slot on the runners with the labels bz (bzw); 0 queued ahead"
expect_waiting "busy, second in line" "$b3" matching_runners_busy 2 \
    "waiting for a free slot on the runners with the labels bz (bzw); 1 queued ahead"
touch "$GW_TMP/gates/b1" "$GW_TMP/gates/b2" "$GW_TMP/gates/b3"
check "the slot frees and the runs that waited end" wait_for 20 run_is_final "$b3"

# ---- matching_runners_draining: SIGTERM while the runner is busy ----
worker drw dr
pid=$GW_WORKER_PID
check "drw registers" wait_for 10 runner_is drw idle
d1=$(trig dr d1)
check "its run starts" wait_for 15 job_running "$d1"
kill -TERM "$pid"
check "drw drains" wait_for 5 runner_is drw draining
d2=$(trig dr d2)
sleep 1.5
expect_eq "a run for a draining runner stays queued" queued "$(run_status "$d2")"
expect_waiting draining "$d2" matching_runners_draining 1 \
    "the runners with the labels dr are draining: drw"
touch "$GW_TMP/gates/d1"
check "the drain ends with its run" wait_for 15 exited "$pid"
expect_eq "the run of the draining runner finished; the waiting one is still queued" "success queued" \
    "$(run_status "$d1") $(run_status "$d2")"
expect_waiting "after the drain" "$d2" matching_runners_offline 1 \
    "no live runner has the labels dr: drw is stopped"

gw_finish
