#!/usr/bin/env bash
# Labels: a template's runs-on sends its runs only to runners that have every
# label (RUNNER_LABELS plus the engine's name); RUNNER_RUN_UNLABELED=false
# keeps a runner to labelled runs; GET /runners and the metrics show labels.
source "$(dirname "$0")/../lib/postgres.sh"
source "$(dirname "$0")/../lib/git_src.sh"

gw_pg_start
gw_api_start
export GITWEAVE_URL=${API%/api/v1} NO_COLOR=1
J=(-H 'Content-Type: application/json')
script='"jobs": [{"name": "one", "script": ["echo hi"]}]'
gw_template plain "{\"kind\": \"test\", $script}" || exit 1
gw_template gpu "{\"kind\": \"test\", \"runs-on\": [\"gpu\", \"local\"], $script}" || exit 1
gw_template arm "{\"kind\": \"test\", \"runs-on\": [\"arch=arm64\"], $script}" || exit 1
gw_repo lab plain gpu arm || exit 1

# ---- templates ----
api PUT /templates/bad "${J[@]}" -d "{\"kind\": \"test\", \"runs-on\": [\"no spaces\"], $script}" >/dev/null
expect_eq "a label that is not one: 422" "422 runs-on[0]" "$(status) $(jq -r .field "$GW_TMP/body")"
api PUT /templates/bad "${J[@]}" -d "{\"kind\": \"test\", \"runs-on\": \"gpu\", $script}" >/dev/null
expect_eq "runs-on that is not a list: 422" "422 runs-on" "$(status) $(jq -r .field "$GW_TMP/body")"
api PUT /templates/bad "${J[@]}" -d "{\"kind\": \"test\", \"runs-on\": [], $script}" >/dev/null
expect_eq "an empty runs-on: 422" 422 "$(status)"
api GET /templates/gpu >/dev/null
expect_eq "the document keeps runs-on" '["gpu","local"]' "$(jq -c '.document["runs-on"]' "$GW_TMP/body")"

# ---- runners ----
runner_field() { api GET /runners | jq -c --arg n "$1" ".runners[] | select(.name == \$n) | .$2"; }
runner_seen() { [ "$(runner_field "$1" name)" = "\"$1\"" ]; }
run_runner() { gw_psql -c "SELECT n.name FROM pipeline_runs r JOIN runners n ON n.id = r.runner_id WHERE r.id = '$1'"; }

gw_worker_start plainw
check "plainw registers" wait_for 10 runner_seen plainw
gw_worker_start gpuw RUNNER_LABELS=' gpu, os=linux,gpu' RUNNER_RUN_UNLABELED=false
check "gpuw registers" wait_for 10 runner_seen gpuw
expect_eq "a runner without RUNNER_LABELS has its engine's name" '["local"]' "$(runner_field plainw labels)"
expect_eq "labels: RUNNER_LABELS and the engine, sorted, once each" '["gpu","local","os=linux"]' \
    "$(runner_field gpuw labels)"
expect_eq "run_unlabeled shown" "true false" "$(runner_field plainw run_unlabeled) $(runner_field gpuw run_unlabeled)"

for i in 1 2 3; do
    p[$i]=$(gw_trigger lab '{"template": "plain"}')
    g[$i]=$(gw_trigger lab '{"template": "gpu"}')
done
expect_eq "a run carries its runs-on" '["gpu","local"]' \
    "$(api GET "/pipelines/runs/${g[1]}" | jq -c .runs_on)"
for i in 1 2 3; do
    check "plain run $i ends" wait_for 20 run_is_final "${p[$i]}"
    check "gpu run $i ends" wait_for 20 run_is_final "${g[$i]}"
    expect_eq "plain run $i ran on the runner that takes unlabelled runs" "success plainw" \
        "$(run_status "${p[$i]}") $(run_runner "${p[$i]}")"
    expect_eq "gpu run $i ran on the runner with the labels" "success gpuw" \
        "$(run_status "${g[$i]}") $(run_runner "${g[$i]}")"
done

api POST /repos/lab/pipelines/run "${J[@]}" -d '{"template": "arm"}' >/dev/null
a=$(jq -r .id "$GW_TMP/body")
expect_eq "a trigger no live runner can serve: 201 with a warning" \
    '201 ["no live runner has the labels arch=arm64"]' "$(status) $(jq -c .warnings "$GW_TMP/body")"
api POST /repos/lab/pipelines/run "${J[@]}" -d '{"template": "plain"}' >/dev/null
expect_eq "a trigger a live runner can serve: no warnings" '201 []' "$(status) $(jq -c .warnings "$GW_TMP/body")"
sleep 2.5 # two claim polls of each runner
expect_eq "a run no runner has the labels of stays queued" queued "$(run_status "$a")"
waiting() { api GET "/pipelines/runs/$1" | jq -c '.waiting | [.reason, .position, .detail]'; }
expect_eq "it waits: no_matching_runner" '["no_matching_runner",1,"no runner has the labels arch=arm64"]' "$(waiting "$a")"
expect_eq "the view says the same" "no_matching_runner|1|no runner has the labels arch=arm64" \
    "$(gw_psql -c "SELECT reason, position, detail FROM run_waiting WHERE id = '$a'")"
"$GW_BUILD_DIR/gitweave" show "$a" >"$GW_TMP/show"
check "gitweave show prints why it waits" grep -q '^waiting   no_matching_runner, position 1$' "$GW_TMP/show"
check "... in words" grep -q '^          no runner has the labels arch=arm64$' "$GW_TMP/show"
expect_eq "a run that is not queued has no waiting" null "$(api GET "/pipelines/runs/${g[1]}" | jq -c .waiting)"

# A rerun keeps the labels of the run it repeats.
api POST "/pipelines/runs/${g[1]}/rerun" >/dev/null
rr=$(jq -r .id "$GW_TMP/body")
check "the rerun ends" wait_for 20 run_is_final "$rr"
expect_eq "the rerun ran on the runner with the labels" "success gpuw" "$(run_status "$rr") $(run_runner "$rr")"

# The push hook prints the warning of a run no live runner can take.
API_ROOT=${API%/api/v1}
(umask 077 && echo unused >"$GW_TMP/api-token")
gw_template armpush "{\"kind\": \"build\", \"on\": [\"push\"], \"runs-on\": [\"arch=arm64\"], $script}" || exit 1
gw_hooked_repo pushed "$GW_TMP/pushed.git" armpush
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
git init -q -b main "$GW_TMP/clone"
git -C "$GW_TMP/clone" commit -q --allow-empty -m one
git -C "$GW_TMP/clone" push -q "$GW_TMP/pushed.git" main 2>"$GW_TMP/push.err"; cat "$GW_TMP/push.err"
check "the push hook prints the warning" \
    grep -q 'gitweave:   warning: no live runner has the labels arch=arm64 (the run waits for one)' "$GW_TMP/push.err"

# A runner that comes with the labels takes the waiting run.
gw_worker_start armw RUNNER_LABELS=arch=arm64
check "a runner with the labels takes the waiting run" wait_for 20 run_is_final "$a"
expect_eq "it ran there" "success armw" "$(run_status "$a") $(run_runner "$a")"

sleep 1.1 # the metrics' cache
expect_eq "the metrics show each runner's labels" 'gitweave_runner_labels{runner="gpuw",labels="gpu,local,os=linux"} 1' \
    "$(curl -s "${API%/api/v1}/metrics" | grep '^gitweave_runner_labels{runner="gpuw"')"

api POST /runners/plainw/pause >/dev/null
"$GW_BUILD_DIR/gitweave" runners >"$GW_TMP/runners"
check "gitweave runners shows a paused runner as paused" grep -Eq '^plainw +paused +local ' "$GW_TMP/runners"
check "... and each runner's labels" grep -Eq '^gpuw +(idle|busy) +local .* gpu,local,os=linux ' "$GW_TMP/runners"

gw_finish
