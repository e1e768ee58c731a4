#!/usr/bin/env bash
# Concurrency groups: at most one run of a group runs at a time, the others
# wait in order (reason concurrency_group: in the run's JSON, `gitweave
# show` and the view run_waiting) even with free slots; a template with
# cancel_in_progress supersedes the group's queued and running runs in the
# statement that queues the new one: each ends canceled, "superseded by run
# <id>", with the events of a cancel, and the running one's job process is
# stopped. Groups are expanded from the template's expressions when a run
# is queued.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
export GITWEAVE_URL=${API%/api/v1} NO_COLOR=1
J=(-H 'Content-Type: application/json')
"$GW_BUILD_DIR/tests/gw_listen" 120 >"$GW_TMP/events" 2>"$GW_TMP/listen.err" &
GW_PIDS+=($!)
wait_for 10 grep -q listening "$GW_TMP/listen.err" || fail "listener did not start"
mkdir -p "$GW_TMP/pids" "$GW_TMP/gates"

# A job that records the pid of its sleep and waits for its gate file
# (named by an input) or its sleep's end.
job() {
    printf '{"name": "%s", "script": ["sleep 60 & echo $! > %s/pids/${{ run.id }}", "while [ ! -e %s/gates/${{ inputs.GATE }} ] && kill -0 $(cat %s/pids/${{ run.id }}) 2>/dev/null; do sleep 0.1; done", "kill $(cat %s/pids/${{ run.id }}) 2>/dev/null || true"]}' \
        "$1" "$GW_TMP" "$GW_TMP" "$GW_TMP" "$GW_TMP"
}
inputs='"inputs": {"GATE": {"default": "none"}}'
# serial: one at a time per repo and ref; super: the same group, superseding.
gw_template serial "{\"kind\": \"release\", $inputs,
  \"concurrency\": {\"group\": \"g-\${{ repo.name }}-\${{ ref }}\"}, \"jobs\": [$(job s)]}" || exit 1
gw_template super "{\"kind\": \"build\", $inputs,
  \"concurrency\": {\"group\": \"g-\${{ repo.name }}-\${{ ref }}\", \"cancel_in_progress\": true},
  \"jobs\": [$(job b)]}" || exit 1
gw_template free "{\"kind\": \"test\", $inputs, \"jobs\": [$(job f)]}" || exit 1
gw_repo app serial super free || exit 1
gw_repo other serial || exit 1

# ---- templates ----
api PUT /templates/bad "${J[@]}" -d '{"kind": "test", "concurrency": {"group": "x-${{ run.id }}"},
  "jobs": [{"name": "a", "script": ["true"]}]}' >/dev/null
expect_eq "a group with run.id: 422 naming the field" "422 concurrency.group" \
    "$(status) $(jq -r .field "$GW_TMP/body")"
api PUT /templates/bad "${J[@]}" -d '{"kind": "test", "concurrency": {"cancel_in_progress": true},
  "jobs": [{"name": "a", "script": ["true"]}]}' >/dev/null
expect_eq "a concurrency without a group: 422" "422 concurrency.group" \
    "$(status) $(jq -r .field "$GW_TMP/body")"
expect_eq "the stored document has cancel_in_progress filled in" \
    '{"group":"g-${{ repo.name }}-${{ ref }}","cancel_in_progress":false}' \
    "$(api GET /templates/serial | jq -c .document.concurrency)"

# The shipped examples: the build supersedes per repo and ref, the release
# serialises per repo.
for t in build release; do
    api PUT "/templates/ex-$t" -H 'Content-Type: application/yaml' \
        --data-binary @"$GW_SOURCE_DIR/docs/examples/templates/$t.yaml" >/dev/null
    expect_eq "the example $t template is stored" 201 "$(status)"
done
expect_eq "the example build groups by repo and ref, superseding" \
    '{"group":"build-${{ repo.name }}-${{ ref }}","cancel_in_progress":true}' \
    "$(api GET /templates/ex-build | jq -c .document.concurrency)"
expect_eq "the example release groups by repo, without cancelling" \
    '{"group":"release-${{ repo.name }}","cancel_in_progress":false}' \
    "$(api GET /templates/ex-release | jq -c .document.concurrency)"

# Two slots: what holds a run back is its group, not the runner.
gw_worker_start cw RUNNER_CONCURRENCY=2 RUNNER_STOP_GRACE_SECONDS=1 RUNNER_LEASE_SECONDS=30
job_running() { [ "$(gw_psql -c "SELECT count(*) FROM jobs WHERE run_id = '$1' AND status = 'running'")" = 1 ]; }
trig() { gw_trigger "$1" "{\"template\": \"$2\", \"inputs\": {\"GATE\": \"$3\"}}"; }
waiting() { api GET "/pipelines/runs/$1" | jq -c '.waiting | [.reason, .position, .detail]'; }
view() { gw_psql -c "SELECT reason, position, detail, concurrency_group FROM run_waiting WHERE id = '$1'"; }
error_of() { gw_psql -c "SELECT status || ' ' || coalesce(error, '-') FROM pipeline_runs WHERE id = '$1'"; }

# ---- serialization ----
a=$(trig app serial a)
expect_eq "the run carries its expanded group" '"g-app-refs/heads/main"' \
    "$(api GET "/pipelines/runs/$a" | jq -c .concurrency_group)"
check "the first run of the group starts" wait_for 15 job_running "$a"
b=$(trig app serial b)
c=$(trig app serial c)
o=$(trig other serial o)
check "a run of another group starts beside it (the other slot)" wait_for 15 job_running "$o"
sleep 2.5 # two claim polls with a free slot after o ends
touch "$GW_TMP/gates/o"
check "the other group's run ends" wait_for 15 run_is_final "$o"
sleep 2.5
expect_eq "the second and third runs of the group wait, with a free slot" "queued queued" \
    "$(run_status "$b") $(run_status "$c")"
expect_eq "the second waits for the group: in the run's JSON" \
    "[\"concurrency_group\",1,\"waiting for run $a of the concurrency group \\\"g-app-refs/heads/main\\\" (running); 0 queued ahead in the group\"]" \
    "$(waiting "$b")"
expect_eq "the third is second in the group" \
    "[\"concurrency_group\",2,\"waiting for run $a of the concurrency group \\\"g-app-refs/heads/main\\\" (running); 1 queued ahead in the group\"]" \
    "$(waiting "$c")"
expect_eq "the view run_waiting says the same, with the group" \
    "concurrency_group|1|waiting for run $a of the concurrency group \"g-app-refs/heads/main\" (running); 0 queued ahead in the group|g-app-refs/heads/main" \
    "$(view "$b")"
"$GW_BUILD_DIR/gitweave" show "$b" >"$GW_TMP/show"
check "gitweave show prints why it waits" grep -q '^waiting   concurrency_group, position 1$' "$GW_TMP/show"
check "... in words" grep -qF "          waiting for run $a of the concurrency group \"g-app-refs/heads/main\" (running); 0 queued ahead" "$GW_TMP/show"

touch "$GW_TMP/gates/a"
check "when the first ends, the second starts" wait_for 15 job_running "$b"
expect_eq "the third still waits, now for the second" "queued concurrency_group" \
    "$(run_status "$c") $(api GET "/pipelines/runs/$c" | jq -r .waiting.reason)"
touch "$GW_TMP/gates/b" "$GW_TMP/gates/c"
check "the third runs and ends" wait_for 20 run_is_final "$c"
expect_eq "all three succeeded" "success success success" \
    "$(run_status "$a") $(run_status "$b") $(run_status "$c")"
expect_eq "never two at once: each started after the one before had ended" "true true" \
    "$(gw_psql -c "SELECT (SELECT started_at >= (SELECT ended_at FROM pipeline_runs WHERE id = '$a') FROM pipeline_runs WHERE id = '$b')
                  || ' ' || (SELECT started_at >= (SELECT ended_at FROM pipeline_runs WHERE id = '$b') FROM pipeline_runs WHERE id = '$c')")"

# ---- superseding ----
r1=$(trig app serial r1)
check "a run of the group is running" wait_for 15 job_running "$r1"
q1=$(trig app serial q1)
sleep 1.5
expect_eq "a second one waits for the group" "queued concurrency_group" \
    "$(run_status "$q1") $(api GET "/pipelines/runs/$q1" | jq -r .waiting.reason)"
pid=$(cat "$GW_TMP/pids/$r1")
check "the running run's job process is alive" kill -0 "$pid"
f=$(trig app free f)
check "a run without a group runs beside it" wait_for 15 job_running "$f"
s=$(trig app super s)
expect_eq "the queued run was superseded at once, in the trigger's statement" \
    "canceled superseded by run $s" "$(error_of "$q1")"
expect_eq "its jobs were canceled" canceled \
    "$(api GET "/pipelines/runs/$q1" | jq -r '[.jobs[].status] | unique | join(" ")')"
expect_eq "the running one was asked to stop in the same statement" 1 \
    "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE id = '$r1' AND cancel_requested_at IS NOT NULL")"
check "the running one ends" wait_for 15 run_is_final "$r1"
expect_eq "... canceled, superseded by the new run" "canceled superseded by run $s" "$(error_of "$r1")"
stopped() { ! kill -0 "$pid" 2>/dev/null; }
check "its job's process was stopped" wait_for 5 stopped
expect_eq "its job ended canceled" canceled "$(api GET "/pipelines/runs/$r1" | jq -r '.jobs[0].status')"
expect_eq "the run without a group was left alone" running "$(run_status "$f")"
check "the superseding run starts once the superseded one has stopped" wait_for 15 job_running "$s"
expect_eq "events: the queued run queued then canceled, with its job" "queued canceled " "$(events_of "$q1")"
expect_eq "events: the running run got the worker's cancel" 1 \
    "$(jq -r --arg id "$r1" 'select(.type == "cancel" and .id == $id) | .id' "$GW_TMP/events" | wc -l)"
expect_eq "events: the running run ended canceled" "queued running canceled " "$(events_of "$r1")"

# A superseding run of another repo's group (another group) cancels nothing there.
touch "$GW_TMP/gates/f"
check "the run without a group ends (its slot is free)" wait_for 15 run_is_final "$f"
o2=$(trig other serial o2)
check "the other repo's run starts" wait_for 15 job_running "$o2"
s2=$(trig app super s2)
expect_eq "superseding is within the group only" running "$(run_status "$o2")"
check "the superseded run of the group ends" wait_for 15 run_is_final "$s"
expect_eq "a superseding run is itself superseded by the next" "canceled superseded by run $s2" "$(error_of "$s")"
touch "$GW_TMP/gates/s2" "$GW_TMP/gates/o2"
check "the last run of the group ends" wait_for 20 run_is_final "$s2"
expect_eq "and succeeds" success "$(run_status "$s2")"

# A rerun keeps its group and waits its turn, superseding nothing.
x=$(trig app serial x)
check "a run of the group runs" wait_for 15 job_running "$x"
api POST "/pipelines/runs/$a/rerun" >/dev/null
ra=$(jq -r .id "$GW_TMP/body")
expect_eq "the rerun has the group" '201 "g-app-refs/heads/main"' "$(status) $(jq -c .concurrency_group "$GW_TMP/body")"
sleep 1.5
expect_eq "it waits for the group; the running run goes on" "queued concurrency_group running" \
    "$(run_status "$ra") $(api GET "/pipelines/runs/$ra" | jq -r .waiting.reason) $(run_status "$x")"
touch "$GW_TMP/gates/x"
check "then it runs" wait_for 20 run_is_final "$ra"
expect_eq "after the run before it" "success success" "$(run_status "$x") $(run_status "$ra")"

# A cancel by hand of a running run still says canceled.
m=$(trig app serial m)
check "a run to cancel by hand runs" wait_for 15 job_running "$m"
api POST "/pipelines/runs/$m/cancel" >/dev/null
check "it ends" wait_for 15 run_is_final "$m"
expect_eq "a cancel by hand: canceled" "canceled canceled" "$(error_of "$m")"

gw_finish
