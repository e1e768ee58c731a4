#!/usr/bin/env bash
# What a developer reads on a run, docker engine (a dockerd of the test's
# own): the steps echoed in the container's log and the failing one named,
# a multi-line step with a here-document run byte for byte, a manual run's
# commit resolved by the checkout and given to the container (GITWEAVE_COMMIT,
# ${{ commit.sha }} in a script line, an env value and the image's tag), an
# allowed failure marked, and an image without a shell still failing clearly.
source "$(dirname "$0")/../lib/postgres.sh"
source "$(dirname "$0")/../lib/git_src.sh"
source "$(dirname "$0")/../lib/steps.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"

IMAGE=gwtest-busybox
gw_dockerd_busybox "$IMAGE"
gw_pg_start
gw_api_start
export RUNNER_CONTAINER_ENGINE=docker RUNNER_DEFAULT_IMAGE=$IMAGE RUNNER_STOP_GRACE_SECONDS=2
gw_worker_start d1
J=(-H 'Content-Type: application/json')
job_log() { gw_job_log "$(api GET "/pipelines/runs/$1" | jq -r ".jobs[] | select(.name == \"$2\") | .id")"; }

# --- steps ---
cat >"$GW_TMP/steps.json" <<'JSON'
{"kind": "build", "jobs": [{"name": "build", "script": [
  "echo one",
  "cat <<'EOF'\n$HOSTNAME stays, x='q' \\\\ \"d\"\nEOF",
  "test -f configure",
  "echo three"]}]}
JSON
gw_template steps "$(cat "$GW_TMP/steps.json")" || exit 1
gw_repo app steps || exit 1
run=$(gw_trigger app)
check "failing run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "the job's error names the line" 'line 3 "test -f configure" exited with code 1' \
    "$(jq -r '.jobs[0].error' <<<"$body")"
expected=$(cat <<'LOG'
$ echo one
one
$ cat <<'EOF'
> $HOSTNAME stays, x='q' \\ "d"
> EOF
$HOSTNAME stays, x='q' \\ "d"
$ test -f configure
LOG
)
expect_eq "the log shows each step, the here-document as written, up to the failing step" \
    "$expected" "$(job_log "$run" build)"

# --- the steps come out of band: output cannot forge them ---
gw_steps_unforgeable 60

# --- the commit of a manual run, in the container ---
gw_git_src || exit 1
echo v1 >"$GW_TMP/clone/version.txt"
git -C "$GW_TMP/clone" add -A && git -C "$GW_TMP/clone" commit -qm one
sha=$(git -C "$GW_TMP/clone" rev-parse HEAD)
gw_git_push
# An image tagged with the commit: the job's image waits for the commit too.
docker tag "$IMAGE" "$IMAGE:$sha"
gw_template rel '{"kind": "release", "jobs": [
  {"name": "stamp", "image": "gwtest-busybox:${{ commit.sha }}", "env": {"TAG": "v-${{ commit.sha }}"},
   "script": ["echo commit=$GITWEAVE_COMMIT", "echo sha=${{ commit.sha }}", "echo tag=$TAG",
              "echo version=$(cat version.txt)"]},
  {"name": "lint", "allow_failure": true, "script": ["echo linting", "exit 5"]},
  {"name": "last", "script": ["echo last"]}]}' || exit 1
api PUT /repos/lib "${J[@]}" -d "{\"clone_url\": \"$GW_TMP/src.git\"}" >/dev/null
api PUT /repos/lib/templates/rel >/dev/null
run=$(gw_trigger lib)
check "manual run finishes" wait_for 60 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "it succeeds, with an allowed failure" "success checkout:success stamp:success lint:failed last:success" \
    "$(jq -r '[.status, (.jobs[] | "\(.name):\(.status)")] | join(" ")' <<<"$body")"
expect_eq "the run records its commit" "$sha" "$(jq -r .commit <<<"$body")"
expect_eq "the container gets it, in the image's tag too" "commit=$sha
sha=$sha
tag=v-$sha
version=v1" "$(job_log "$run" stamp | grep -v '^\$ ')"
expect_eq "the allowed failure is listed on the run" '["lint"]' "$(jq -c .allowed_failures <<<"$body")"
expect_eq "and said in its log" \
    '[gitweave] job lint failed (line 2 "exit 5" exited with code 5); it may fail, so the run goes on' \
    "$(job_log "$run" lint | tail -n 1)"

# --- an image without a shell fails clearly, naming no line ---
mkdir -p "$GW_TMP/nosh"
echo x >"$GW_TMP/nosh/file"
tar -C "$GW_TMP/nosh" -cf "$GW_TMP/nosh.tar" . && docker import "$GW_TMP/nosh.tar" gwtest-nosh >/dev/null
gw_template nosh '{"kind": "test", "jobs": [{"name": "n", "image": "gwtest-nosh", "script": ["echo hi"]}]}' || exit 1
gw_repo r-nosh nosh || exit 1
run=$(gw_trigger r-nosh)
check "no-shell run finishes" wait_for 60 run_is_final "$run"
expect_eq "its error is the exit code of the missing shell" "exited with code 127" \
    "$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].error')"
check "and its log says why" grep -q "exec sh failed" <<<"$(job_log "$run" n)"
gw_finish
