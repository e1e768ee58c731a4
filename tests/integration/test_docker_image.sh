#!/usr/bin/env bash
# Job images without a registry, on a dockerd of the test's own:
# - scripts/image.sh makes an image with the Debian packages named (jq), and
#   one from a Dockerfile built on top of it; a docker-engine worker runs a
#   job in each (the first as RUNNER_DEFAULT_IMAGE, the second named by the
#   job); a name that is no package is refused before anything is built;
# - a runner started again with the other engine, under the same name, keeps
#   a workspace per engine: the docker jobs never see what the local ones
#   left (a build directory configured for a host path) and the other way
#   round, and each engine finds its own files again.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"

gw_dockerd_start || { fail "dockerd did not start"; exit 1; }
# The root filesystem cache the other container tests use.
export GITWEAVE_IMAGE_CACHE=${GW_CI_CACHE:-/var/cache/gitweave-ci}
IMAGE=gwtest-job:jq
IMAGE_DF=gwtest-job:df

gw_log "scripts/image.sh"
"$GW_SOURCE_DIR/scripts/image.sh" "$IMAGE" jq >"$GW_TMP/image.out" 2>"$GW_TMP/image.err"
expect_eq "an image with a package: exit 0" 0 "$?"
sed 's/^/    image.sh: /' "$GW_TMP/image.err"
expect_eq "it prints the image's name" "$IMAGE" "$(cat "$GW_TMP/image.out")"
check "the engine has it" bash -c "docker image inspect '$IMAGE' >/dev/null"
check "with the package in it" bash -c "docker run --rm --network none '$IMAGE' jq --version >/dev/null"

mkdir "$GW_TMP/ctx"
cat >"$GW_TMP/ctx/Dockerfile" <<'EOF'
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY hello.txt /opt/hello.txt
EOF
echo from-the-dockerfile >"$GW_TMP/ctx/hello.txt"
"$GW_SOURCE_DIR/scripts/image.sh" "$IMAGE_DF" jq -f "$GW_TMP/ctx/Dockerfile" >"$GW_TMP/image.out" 2>"$GW_TMP/image.err"
expect_eq "a Dockerfile built on the packages: exit 0" 0 "$?"
sed 's/^/    image.sh: /' "$GW_TMP/image.err"
check "the engine has it" bash -c "docker image inspect '$IMAGE_DF' >/dev/null"

"$GW_SOURCE_DIR/scripts/image.sh" gwtest-job:bad 'jq;touch /x' >/dev/null 2>"$GW_TMP/image.err"
check "a name that is no package is refused" test $? != 0
check "saying which" grep -qF '"jq;touch /x" is not a Debian package name' "$GW_TMP/image.err"
check "and nothing was built" bash -c '! docker image inspect gwtest-job:bad >/dev/null 2>&1'

gw_pg_start || exit 1
gw_api_start || exit 1
gw_template uses '{"kind": "build", "jobs": [
  {"name": "default", "script": ["jq -cn \"{default: 1}\""]},
  {"name": "named", "image": "gwtest-job:df", "script": ["cat /opt/hello.txt", "jq -cn \"{named: 2}\""]}]}' || exit 1
gw_repo app uses || exit 1
RUNNER_CONTAINER_ENGINE=docker gw_worker_start d1 RUNNER_DEFAULT_IMAGE="$IMAGE"
run=$(gw_trigger app)
check "the run finishes" wait_for 90 run_is_final "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "it succeeded" success "$(jq -r .status <<<"$body")"
job_log() { gw_job_log "$(jq -r ".jobs[] | select(.name == \"$1\") | .id" <<<"$body")"; }
check "the default image has the package" grep -qx '{"default":1}' <<<"$(job_log default)"
expect_eq "the Dockerfile's image, named by the job" "\$ cat /opt/hello.txt
from-the-dockerfile
\$ jq -cn \"{named: 2}\"
{\"named\":2}" "$(job_log named)"
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null

gw_log "one runner, the local engine, then docker, then local again"
# What a build leaves names where it ran: a CMake cache says its directory.
gw_template where '{"kind": "build", "jobs": [{"name": "w", "script": [
  "if [ -f build/where ]; then echo \"configured in $(cat build/where)\"; else echo fresh; fi",
  "mkdir -p build && pwd > build/where"]}]}' || exit 1
gw_repo sw where || exit 1
id=$(gw_repo_id sw)
# run_on ENGINE: one run of sw by runner sw with ENGINE; prints what it found.
run_on() {
    RUNNER_CONTAINER_ENGINE=$1 gw_worker_start sw RUNNER_DEFAULT_IMAGE="$IMAGE"
    local r
    r=$(gw_trigger sw)
    wait_for 90 run_is_final "$r" || echo "run $r did not finish"
    [ "$(run_status "$r")" = success ] || echo "run $r: $(run_status "$r")"
    gw_job_log "$(api GET "/pipelines/runs/$r" | jq -r '.jobs[0].id')" | grep -v '^\$ '
    kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
}
expect_eq "local: a fresh workspace" fresh "$(run_on local)"
expect_eq "docker: a fresh workspace of its own, not the local one's" fresh "$(run_on docker)"
expect_eq "docker again: its own, kept" "configured in /workspace" "$(run_on docker)"
expect_eq "local again: its own, kept" "configured in $GW_TMP/work/sw/$id" "$(run_on local)"
expect_eq "the local engine's workspace is where it always was" "$GW_TMP/work/sw/$id" \
    "$(cat "$GW_TMP/work/sw/$id/build/where")"
expect_eq "the docker engine's is in docker/" /workspace "$(cat "$GW_TMP/work/sw/docker/$id/build/where")"
check "each private" test "$(stat -c %a "$GW_TMP/work/sw/docker" "$GW_TMP/work/sw/docker/$id" | sort -u)" = 700

gw_finish
