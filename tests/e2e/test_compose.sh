#!/usr/bin/env bash
# The compose stack, end to end, on a dockerd of the test's own and without a
# registry: `docker-compose config` validates compose/docker-compose.yml; a
# Debian bookworm base image comes from mmdebstrap (tests/lib/debian_image.sh,
# cached between runs, as are the layers of the images' apt-get installs),
# the CI override builds a postgres:15 stand-in on it; Dockerfile.api and
# Dockerfile.worker are built through compose; `up -d`
# starts postgres, migrate, api and worker. Then, through the published API
# port only: a pipeline in containers (busybox and the default Debian image)
# whose logs are read back, a repository checked out by git in the worker
# into the same-path workspace, `--scale worker=2` with both runners claiming
# runs of one queue, psql in the postgres container. Prints image sizes and
# the time taken; everything (containers, volumes, the daemon) goes away in
# the EXIT trap, pass or fail. The API needs GITWEAVE_API_TOKEN: the file is
# refused without it, and the test makes a random one.
#
# Env: GW_COMPOSE (default docker-compose, installed with apt if missing),
# GW_CI_CACHE (default /var/cache/gitweave-ci, see debian_image.sh).
source "$(dirname "$0")/../lib/postgres.sh"
# A daemon named by the calling shell is not ours to stop.
unset GW_DOCKERD_PID GW_DOCKERD_DIR
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
source "$GW_SOURCE_DIR/tests/lib/debian_image.sh"

T0=$(date +%s)
T_PHASE=$T0
TIMINGS=()
# phase NAME: record how long the work since the previous call took.
phase() {
    local now
    now=$(date +%s)
    TIMINGS+=("$(printf '%-28s %4d s' "$1" $((now - T_PHASE)))")
    gw_log "$1: $((now - T_PHASE)) s"
    T_PHASE=$now
}

# must DESCRIPTION COMMAND...: like check, but a failure ends the test.
must() {
    local d=$1
    shift
    if "$@"; then pass "$d"; else fail "$d"; exit 1; fi
}

PROJECT=gwtest
COMPOSE_DIR=$GW_SOURCE_DIR/compose
COMPOSE_STARTED=0

# The EXIT trap: the stack's logs (printed by gw_cleanup on failure), then
# down with volumes, job containers, and only then the daemon (gw_cleanup).
compose_cleanup() {
    local rc=$?
    if [ "$COMPOSE_STARTED" = 1 ]; then
        compose logs --no-color >"$GW_TMP/compose.log" 2>&1
        compose down -v --remove-orphans -t 5 >"$GW_TMP/down.out" 2>&1 ||
            cat "$GW_TMP/down.out"
        COMPOSE_STARTED=0
    fi
    if [ -n "${DOCKER_HOST:-}" ] && [ -n "${GW_DOCKERD_PID:-}" ]; then
        docker ps -aq --filter label=io.gitweave.job | xargs -r docker rm -f >/dev/null 2>&1
    fi
    (exit "$rc")
    gw_cleanup
}
trap compose_cleanup EXIT

# ---- docker-compose: what validates and drives the files ----
if [ -z "${GW_COMPOSE:-}" ]; then
    if ! command -v docker-compose >/dev/null 2>&1; then
        echo "test_compose.sh: installing docker-compose" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >&2 ||
            { apt-get update >&2 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >&2; }
    fi
    GW_COMPOSE=docker-compose
fi
command -v "${GW_COMPOSE%% *}" >/dev/null 2>&1 || { fail "no $GW_COMPOSE"; exit 1; }
# compose ARGS...: the real file plus the CI override, project gwtest.
compose() {
    $GW_COMPOSE -f "$COMPOSE_DIR/docker-compose.yml" -f "$COMPOSE_DIR/docker-compose.ci.yml" \
        -p "$PROJECT" "$@"
}

# The API needs a token and compose cannot make one: without
# GITWEAVE_API_TOKEN (from the shell or compose/.env) the file is refused,
# saying which variable is missing.
: >"$GW_TMP/empty.env"
# shellcheck disable=SC2086
if env -u GITWEAVE_API_TOKEN $GW_COMPOSE -f "$COMPOSE_DIR/docker-compose.yml" \
    --env-file "$GW_TMP/empty.env" config -q >"$GW_TMP/notoken.out" 2>&1; then
    fail "compose accepts a stack without GITWEAVE_API_TOKEN"
else
    check "compose refuses a stack without GITWEAVE_API_TOKEN, naming it" \
        grep -q GITWEAVE_API_TOKEN "$GW_TMP/notoken.out"
fi
# A random token, as docs/compose.md makes one; every call of this test
# carries it in a header file.
GITWEAVE_API_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export GITWEAVE_API_TOKEN
AUTH=$GW_TMP/auth-header
(umask 077 && printf 'Authorization: Bearer %s\n' "$GITWEAVE_API_TOKEN" >"$AUTH")
curl() { command curl -H @"$AUTH" "$@"; }

# GW_COMPOSE unquoted on purpose: it may be "docker compose". One `config`
# both validates the file and prints what the checks below read.
# shellcheck disable=SC2086
$GW_COMPOSE -f "$COMPOSE_DIR/docker-compose.yml" config >"$GW_TMP/config.out"
expect_eq "docker-compose.yml is valid on its own" 0 "$?"
check "docker-compose.yml with the CI override is valid" compose config -q
check "no worker replica is pinned to a name" \
    test -z "$(awk '/^  [a-z]/ { s = $1 } s == "worker:" && /^    (hostname|container_name):/' "$GW_TMP/config.out")"
expect_eq "the real file uses the official postgres image" "postgres:15" \
    "$(awk '/^  postgres:/ { p = 1 } p && /^    image:/ { print $2; exit }' "$GW_TMP/config.out")"

# ---- a daemon, a base image, the images ----
gw_dockerd_start || { fail "dockerd did not start"; exit 1; }
gw_log "dockerd $(docker version --format '{{.Server.Version}}') storage=$GW_DOCKERD_DRIVER; $($GW_COMPOSE version --short 2>/dev/null || $GW_COMPOSE version | head -1)"
phase "compose config, dockerd"

if compgen -G "$GW_CI_CACHE/build-cache-*.tar" >/dev/null; then KIND=warm; else KIND=cold; fi
gw_log "$KIND run: the cache is $GW_CI_CACHE"
# Every stage's packages are in the engine's build cache from here on: the
# builds below run apt-get only when one of those lines changed.
must "base image $GW_DEBIAN_IMAGE from mmdebstrap, the images' packages (cached)" \
    gw_build_cache "$GW_SOURCE_DIR/Dockerfile.api" "$GW_SOURCE_DIR/Dockerfile.worker" \
    "$COMPOSE_DIR/ci/Dockerfile.postgres"
phase "base image, packages ($KIND)"

IMAGE=gwtest-busybox
must "busybox image" gw_busybox_image "$IMAGE"

export GITWEAVE_DOCKER_SOCKET=${DOCKER_HOST#unix://}
export GITWEAVE_RUNS_DIR=$GW_TMP/runs GITWEAVE_GIT_DIR=$GW_TMP/git
PORT=$(gw_free_port)
export GITWEAVE_API_PUBLISH=127.0.0.1:$PORT
API="http://127.0.0.1:$PORT/api/v1"
mkdir -p "$GITWEAVE_RUNS_DIR" "$GITWEAVE_GIT_DIR"

must "postgres:15 stand-in (compose/ci, cached)" gw_postgres_image
phase "postgres image"
# The api image is built once (migrate shares it; compose builds it twice,
# the second time from the cache).
if compose build api migrate worker >"$GW_TMP/build.out" 2>&1; then
    pass "compose build (api, migrate, worker)"
else
    fail "compose build"
    tail -n 40 "$GW_TMP/build.out"
    exit 1
fi
phase "compose build api, worker"

# ---- up ----
COMPOSE_STARTED=1
if compose up -d >"$GW_TMP/up.out" 2>&1; then
    pass "compose up -d"
else
    fail "compose up -d"
    cat "$GW_TMP/up.out"
    exit 1
fi
# ctr SERVICE: a container of the service, as `compose ps -q SERVICE` would
# name it, from the labels compose gives its containers.
ctr() {
    docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1" | head -n 1
}
health() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$(ctr "$1")"; }
api_healthy() { [ "$(health api)" = healthy ]; }
must "the api container becomes healthy (HEALTHCHECK GET /healthz)" wait_for 90 api_healthy
phase "compose up until healthy"
expect_eq "postgres is healthy (pg_isready)" healthy "$(health postgres)"
expect_eq "migrate ran once and exited 0" "exited 0" \
    "$(docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$(ctr migrate)")"
expect_eq "the api runs as a non-root user" 10001 "$(docker exec "$(ctr api)" id -u)"
expect_eq "GET /healthz on the published port" '200 {"status":"ok"}' \
    "$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/healthz" | awk '{ print $2, $1 }')"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" >"$GW_STATUS_FILE"
expect_eq "GET /readyz (the api reaches postgres)" 200 "$(status)"
expect_eq "the API refuses a call without the token" 401 \
    "$(command curl -s -o /dev/null -w '%{http_code}' "$API/runners")"
expect_eq "and answers one with it" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API/runners")"

# ---- a pipeline in containers ----
# Through the API only: the stack's postgres is not published to the host.
run_status_api() { curl -s "$API/pipelines/runs/$1" | jq -r .status; }
run_final_api() {
    case $(run_status_api "$1") in success | failed | canceled) return 0 ;; *) return 1 ;; esac
}
gw_template hello '{"kind": "build", "jobs": [
  {"name": "greet", "image": "gwtest-busybox",
   "script": ["echo hello from $(pwd) in compose", "echo artifact > out.txt"]},
  {"name": "debian", "script": ["cat out.txt", "cat /etc/debian_version"]}]}' || exit 1
gw_repo demo hello || exit 1
t_run=$(date +%s%3N)
run=$(gw_trigger demo)
check "the run finishes" wait_for 120 run_final_api "$run"
gw_log "first run took $(( $(date +%s%3N) - t_run )) ms from trigger to final"
body=$(api GET "/pipelines/runs/$run")
expect_eq "the run succeeded" "success success success" \
    "$(echo "$body" | jq -r '[.status, .jobs[].status] | join(" ")')"
expect_eq "job greet's log, read through the API" '$ echo hello from $(pwd) in compose
hello from /workspace in compose
$ echo artifact > out.txt' \
    "$(gw_job_log "$(echo "$body" | jq -r '.jobs[0].id')")"
expect_eq "job debian (RUNNER_DEFAULT_IMAGE) sees the workspace" "\$ cat out.txt
artifact
\$ cat /etc/debian_version
$(docker run --rm "$GW_DEBIAN_IMAGE" cat /etc/debian_version)" \
    "$(gw_job_log "$(echo "$body" | jq -r '.jobs[1].id')")"
runner1=$(echo "$body" | jq -r .runner)
worker1=$(ctr worker)
expect_eq "the runner is named after the worker container's host name" \
    "$(docker inspect --format '{{.Config.Hostname}}' "$worker1")" "$runner1"
# Workspaces are named by the engine and the repo's id, not its name.
demo_id=$(curl -s "$API/repos/demo" | jq -r .id)
check "the workspace is at the same path on the host" \
    test -f "$GITWEAVE_RUNS_DIR/$runner1/docker/$demo_id/out.txt"

# The README's calls: the example build template (YAML), a repository cloned
# by path from GITWEAVE_GIT_DIR (mounted read-only into the worker, owned by
# another user as on a real host), a manual trigger with an input.
src=$GW_TMP/src
git init -q -b main "$src" &&
    printf '#!/bin/sh\necho "build.sh for $TARGET"\n' >"$src/build.sh" && chmod +x "$src/build.sh" &&
    git -C "$src" add build.sh &&
    git -C "$src" -c user.name=t -c user.email=t@e commit -q -m first &&
    git clone -q --bare "$src" "$GITWEAVE_GIT_DIR/hello.git" &&
    chown -R 1000:1000 "$GITWEAVE_GIT_DIR/hello.git" || { fail "make a git repository"; exit 1; }
api PUT /templates/build -H 'Content-Type: application/yaml' \
    --data-binary @"$GW_SOURCE_DIR/docs/examples/templates/build.yaml" >/dev/null
expect_eq "PUT the example build template (YAML)" 201 "$(status)"
api PUT /repos/hello -H 'Content-Type: application/json' \
    -d "{\"clone_url\": \"$GITWEAVE_GIT_DIR/hello.git\", \"default_branch\": \"main\"}" >/dev/null
api PUT /repos/hello/templates/build >/dev/null
run=$(gw_trigger hello '{"inputs": {"TARGET": "debug"}}')
check "the git run finishes" wait_for 120 run_final_api "$run"
body=$(api GET "/pipelines/runs/$run")
expect_eq "checkout by git in the worker, then the jobs" "success checkout:success" \
    "$(echo "$body" | jq -r '[.status, (.jobs[0] | .name + ":" + .status)] | join(" ")')"
check "the build job ran the checked-out build.sh" \
    grep -qx "build.sh for debug" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[1].id')")"
phase "pipelines on one worker"

# ---- two workers, one queue ----
if compose up -d --scale worker=2 >"$GW_TMP/scale.out" 2>&1; then
    pass "compose up -d --scale worker=2"
else
    fail "compose up -d --scale worker=2"
    cat "$GW_TMP/scale.out"
fi
live_runners() { api GET /runners | jq -r '[.runners[] | select(.status == "idle" or .status == "busy")] | length'; }
two_runners() { [ "$(live_runners)" = 2 ]; }
check "GET /runners lists two live runners" wait_for 60 two_runners
expect_eq "two worker containers" 2 "$(compose ps -q worker | wc -l)"
gw_template sleepy '{"kind": "test", "jobs": [{"name": "nap", "image": "gwtest-busybox", "script": ["sleep 1", "echo rested"]}]}' || exit 1
gw_repo naps sleepy || exit 1
runs=()
for _ in 1 2 3 4 5 6; do runs+=("$(gw_trigger naps)"); done
all_final() { local r; for r in "${runs[@]}"; do run_final_api "$r" || return 1; done; }
check "six runs finish" wait_for 180 all_final
summary=$(for r in "${runs[@]}"; do api GET "/pipelines/runs/$r" | jq -r '.status + " " + .runner'; done)
expect_eq "all six succeeded" 6 "$(grep -c '^success ' <<<"$summary")"
claimed_by=$(awk '{ print $2 }' <<<"$summary" | sort -u)
gw_log "runs per runner: $(awk '{ print $2 }' <<<"$summary" | sort | uniq -c | tr -s ' \n' ' ')"
expect_eq "two different runners claimed runs" 2 "$(wc -l <<<"$claimed_by")"
registered=$(api GET /runners | jq -r '.runners[].name' | sort)
check "both claimants are registered runners" \
    test -z "$(comm -23 <(echo "$claimed_by") <(echo "$registered"))"
expect_eq "no job container left behind" 0 "$(docker ps -aq --filter label=io.gitweave.job | wc -l)"
# The client in the API's image, with the API's own token and address.
expect_eq "gitweave in the api container lists the six runs" 6 \
    "$(docker exec "$(ctr api)" gitweave runs naps --json | jq '.runs | length')"
phase "two workers, six runs"

# ---- psql in the postgres container, as docs/compose.md says ----
expect_eq "psql: the queue views (run_queue empty, run_activity empty)" "0|0" \
    "$(compose exec -T postgres psql -U gitweave -X -A -t \
        -c 'SELECT (SELECT count(*) FROM run_queue), (SELECT count(*) FROM run_activity)' 2>&1)"
expect_eq "psql: the runs are in the database" 8 \
    "$(compose exec -T postgres psql -U gitweave -X -A -t -c 'SELECT count(*) FROM pipeline_runs' 2>&1)"

# ---- sizes and time ----
gw_log "images:"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -v '^<none>' | sort |
    while read -r name size; do printf '#   %-32s %s\n' "$name" "$size"; done
compose logs --no-color >"$GW_TMP/compose.log" 2>&1
gw_build_cache_saved
compose down -v --remove-orphans -t 5 >"$GW_TMP/down.out" 2>&1 && COMPOSE_STARTED=0
check "compose down -v removes the stack" test -z "$(docker ps -aq; docker volume ls -q)"
phase "down"
gw_log "timings ($KIND):"
for t in "${TIMINGS[@]}"; do echo "#   $t"; done
gw_log "total ($KIND): $(( $(date +%s) - T0 )) s"
gw_finish
