#!/usr/bin/env bash
# What a developer reads on a run, local engine: each step echoed before it
# runs and the failing one named in the error, whatever the output says; the
# commit of a manual run resolved by its checkout, stored before the next
# job, and given to the jobs (GITWEAVE_COMMIT, ${{ commit.sha }}); a run triggered with a commit
# keeps it; the ignored image and an allowed failure are said.
source "$(dirname "$0")/../lib/postgres.sh"
source "$(dirname "$0")/../lib/git_src.sh"
source "$(dirname "$0")/../lib/steps.sh"

gw_pg_start
gw_api_start
gw_worker_start w1
J=(-H 'Content-Type: application/json')

# --- steps visible, the failing line named ---
gw_template steps '{"kind": "build", "jobs": [
  {"name": "build", "script": ["echo one", "test -f configure", "echo three"]}]}' || exit 1
gw_repo app steps || exit 1
run=$(gw_trigger app)
check "failing run finishes" wait_for 30 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "run failed" failed "$(jq -r .status <<<"$body")"
expect_eq "the job's error names the line" 'line 2 "test -f configure" exited with code 1' \
    "$(jq -r '.jobs[0].error' <<<"$body")"
expect_eq "the run's error too" 'job build failed: line 2 "test -f configure" exited with code 1' \
    "$(jq -r .error <<<"$body")"
expect_eq "exit code is the command's" 1 "$(jq -r '.jobs[0].exit_code' <<<"$body")"
expect_eq "the log shows each step before its output, up to the failing one" \
    '$ echo one
one
$ test -f configure' "$(gw_job_log "$(jq -r '.jobs[0].id' <<<"$body")")"

# --- the steps come out of band: output cannot forge them ---
gw_steps_unforgeable 30

# --- image ignored, allowed failure marked ---
gw_template lint '{"kind": "test", "jobs": [
  {"name": "lint", "image": "alpine:3", "allow_failure": true, "script": ["echo linting", "exit 3"]},
  {"name": "after", "script": ["echo after"]}]}' || exit 1
gw_repo app2 lint || exit 1
run=$(gw_trigger app2)
check "run with an allowed failure finishes" wait_for 30 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "it succeeds" success "$(jq -r .status <<<"$body")"
expect_eq "and says which job failed" '["lint"]' "$(jq -c .allowed_failures <<<"$body")"
expect_eq "job statuses" "failed success" "$(jq -r '[.jobs[].status] | join(" ")' <<<"$body")"
expect_eq "the failed job's log says the image was ignored and the run went on" \
    '[gitweave] local engine: image "alpine:3" ignored, the job runs on the host
$ echo linting
linting
$ exit 3
[gitweave] job lint failed (line 2 "exit 3" exited with code 3); it may fail, so the run goes on' \
    "$(gw_job_log "$(jq -r '.jobs[0].id' <<<"$body")")"
expect_eq "a run without failures lists none" '[]' \
    "$(api GET "/pipelines/runs/$(gw_trigger app)" | jq -c .allowed_failures)"

# --- the commit of every run ---
gw_git_src || exit 1
echo first >"$GW_TMP/clone/version.txt"
git -C "$GW_TMP/clone" add -A && git -C "$GW_TMP/clone" commit -qm one
first=$(git -C "$GW_TMP/clone" rev-parse HEAD)
echo second >"$GW_TMP/clone/version.txt"
git -C "$GW_TMP/clone" commit -qam two
second=$(git -C "$GW_TMP/clone" rev-parse HEAD)
gw_git_push

# The job asks the database what the run's row says while it runs: the
# commit is stored before the first job after the checkout starts.
gw_template rel "$(jq -n --arg db "$DATABASE_URL" '{"kind": "release", "jobs": [
  {"name": "stamp", "env": {"DB": $db, "TAG": "build-${{ commit.sha }}"},
   "script": ["echo commit=$GITWEAVE_COMMIT",
              "echo sha=${{ commit.sha }} \"quoted ${{ commit.sha }}\"",
              "echo tag=$TAG",
              "echo stored=$(psql -X -A -t -d \"$DB\" -c \"SELECT commit_sha FROM pipeline_runs WHERE id = '"'"'$GITWEAVE_RUN_ID'"'"'\")",
              "echo version=$(cat version.txt)"]}]}')" || exit 1
api PUT /repos/lib "${J[@]}" -d "{\"clone_url\": \"$GW_TMP/src.git\"}" >/dev/null
api PUT /repos/lib/templates/rel >/dev/null

# stamp_log RUN: the lines of the stamp job's output (not the echoed steps).
stamp_log() {
    gw_job_log "$(api GET "/pipelines/runs/$1" | jq -r '.jobs[] | select(.name == "stamp") | .id')" |
        grep -v '^\$ '
}

run=$(gw_trigger lib)
check "manual run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "manual run succeeded" success "$(jq -r .status <<<"$body")"
expect_eq "a manual run records the commit it built" "$second" "$(jq -r .commit <<<"$body")"
expect_eq "the jobs see it" "commit=$second
sha=$second quoted $second
tag=build-$second
stored=$second
version=second" "$(stamp_log "$run")"
spec=$(gw_psql -c "SELECT spec::text FROM pipeline_runs WHERE id = '$run'")
check "the frozen spec keeps the expression and says it is deferred ($spec)" \
    jq -e '.[0].env.TAG == "build-${{ commit.sha }}" and (.[0].deferred.env.TAG | length) == 3' <<<"$spec"

run=$(gw_trigger lib "{\"commit\": \"$first\"}")
check "run with a commit finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "a run triggered with a commit keeps it" "$first" "$(jq -r .commit <<<"$body")"
expect_eq "and builds it" "commit=$first
sha=$first quoted $first
tag=build-$first
stored=$first
version=first" "$(stamp_log "$run")"

short=${first:0:10}
run=$(gw_trigger lib "{\"commit\": \"$short\"}")
check "run with an abbreviated commit finishes" wait_for 60 run_is_final "$run"
expect_eq "its commit is stored in full" "$first" "$(api GET "/pipelines/runs/$run" | jq -r .commit)"
expect_eq "and \${{ commit.sha }} is the full id too" "commit=$first
sha=$first quoted $first
tag=build-$first
stored=$first
version=first" "$(stamp_log "$run")"

# A run triggered with an annotated tag's id builds the commit the tag names.
git -C "$GW_TMP/clone" tag -a v1 -m "one" "$first"
git -C "$GW_TMP/clone" push -q "$GW_TMP/src.git" v1
tagobj=$(git -C "$GW_TMP/clone" rev-parse v1)
check "the tag's id is not its commit" test "$tagobj" != "$first"
run=$(gw_trigger lib "{\"ref\": \"refs/tags/v1\", \"commit\": \"$tagobj\"}")
check "run with a tag's id finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "it succeeds and records the tag's commit" "success $first" "$(jq -r '"\(.status) \(.commit)"' <<<"$body")"
expect_eq "the jobs see the commit, not the tag's id" "commit=$first
sha=$first quoted $first
tag=build-$first
stored=$first
version=first" "$(stamp_log "$run")"

gw_finish
