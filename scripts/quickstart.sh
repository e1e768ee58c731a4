#!/usr/bin/env bash
# Set up and run GitWeave Runner on this machine, with a sample pipeline:
# installs the Debian packages, builds, starts a throwaway Postgres, the API
# and a worker (the docker engine when a Docker engine with the job image is
# reachable, else the local engine), registers a sample git repository with
# the example templates, pushes a commit to it (which starts the build
# pipeline through the post-receive hook), and prints the run's logs.
#
#   scripts/quickstart.sh          set up, run the sample, leave the stack running
#   scripts/quickstart.sh stop     stop everything it started and remove its state
#
# State lives in $GITWEAVE_STATE (default /tmp/gitweave-quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
STATE=${GITWEAVE_STATE:-/tmp/gitweave-quickstart}
PG_BIN=/usr/lib/postgresql/15/bin
API_ADDR=${GITWEAVE_API_ADDR:-127.0.0.1:8080}
API=http://$API_ADDR/api/v1
PGPORT=${GITWEAVE_PGPORT:-55432}
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(runuser -u postgres --)

stop() {
    for f in "$STATE"/*.pid; do
        [ -f "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    if [ -d "$STATE/pg/data" ]; then
        "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m fast stop >/dev/null 2>&1 || true
    fi
}
if [ "${1:-}" = stop ]; then
    stop
    rm -rf "$STATE"
    echo "stopped; removed $STATE"
    exit 0
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say "installing packages and building"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
stop
rm -rf "$STATE"
mkdir -p "$STATE/pg" "$STATE/work"
chmod 755 "$STATE"

say "starting a throwaway Postgres on 127.0.0.1:$PGPORT"
[ "$(id -u)" = 0 ] && chown postgres "$STATE/pg"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$STATE/pg/data" -U gitweave --auth=trust -E UTF8 >/dev/null
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/log" -w \
    -o "-p $PGPORT -k $STATE/pg -c listen_addresses=127.0.0.1" start >/dev/null
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U gitweave gitweave
export DATABASE_URL="postgresql://gitweave@127.0.0.1:$PGPORT/gitweave"
build/gitweave-api migrate

say "starting the API on $API_ADDR"
GITWEAVE_API_ADDR=$API_ADDR nohup build/gitweave-api >"$STATE/api.log" 2>&1 &
echo $! >"$STATE/api.pid"
for _ in $(seq 50); do curl -sf "$API/../../healthz" >/dev/null 2>&1 && break; sleep 0.1; done

engine=local
image=${RUNNER_DEFAULT_IMAGE:-debian:bookworm-slim}
sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${sock#unix://}
if [ -S "$sock" ] && curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; then
    if curl -sf --unix-socket "$sock" "http://localhost/v1.41/images/$image/json" >/dev/null; then
        engine=docker
    else
        echo "a Docker engine answers at $sock but has no image $image: using the local engine"
        echo "(set RUNNER_DEFAULT_IMAGE to an image it has, or docker pull $image)"
    fi
else
    echo "no Docker engine at $sock: using the local engine (jobs run as processes here)"
fi
say "starting a worker (engine: $engine)"
RUNNER_NAME=quickstart RUNNER_CONTAINER_ENGINE=$engine RUNNER_DEFAULT_IMAGE=$image \
    RUNNER_WORKDIR=$STATE/work nohup build/gitweave-worker >"$STATE/worker.log" 2>&1 &
echo $! >"$STATE/worker.pid"

say "registering the example templates and a sample repository"
for t in build test release; do
    curl -sf -X PUT "$API/templates/$t" -H 'Content-Type: application/yaml' \
        --data-binary @"docs/examples/templates/$t.yaml" | jq -c '{name, kind, version}'
done
git init -q --bare -b main "$STATE/git/hello.git"
cp docs/examples/git-hooks/post-receive "$STATE/git/hello.git/hooks/"
git -C "$STATE/git/hello.git" config gitweave.url "http://$API_ADDR"
curl -sf -X PUT "$API/repos/hello" -H 'Content-Type: application/json' \
    -d "{\"clone_url\": \"$STATE/git/hello.git\"}" | jq -c '{name, clone_url}'
curl -sf -X PUT "$API/repos/hello/templates/build" >/dev/null
curl -sf -X PUT "$API/repos/hello/templates/release" >/dev/null

say "pushing a commit: the post-receive hook starts the build pipeline"
export GIT_AUTHOR_NAME=quickstart GIT_AUTHOR_EMAIL=quickstart@example.com
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
git init -q -b main "$STATE/hello"
printf '#!/bin/sh\necho "compiling hello..."\nsleep 1\necho "hello, world" > hello.txt\necho "built hello.txt"\n' >"$STATE/hello/build.sh"
chmod +x "$STATE/hello/build.sh"
git -C "$STATE/hello" add -A
git -C "$STATE/hello" commit -qm "first commit"
git -C "$STATE/hello" push -q "$STATE/git/hello.git" main

run=""
for _ in $(seq 50); do
    run=$(curl -sf "$API/repos/hello/pipelines/runs?limit=1" | jq -r '.runs[0].id // empty')
    [ -n "$run" ] && break
    sleep 0.2
done
[ -n "$run" ] || { echo "no run was started; see $STATE/api.log"; exit 1; }
echo "run $run"
while :; do
    st=$(curl -sf "$API/pipelines/runs/$run" | jq -r .status)
    case $st in success | failed | canceled) break ;; esac
    sleep 0.5
done
body=$(curl -sf "$API/pipelines/runs/$run")
echo "$body" | jq -r '"run \(.status): \(.jobs | map("\(.name)=\(.status)") | join(" "))"'
for job in $(echo "$body" | jq -r '.jobs[].id'); do
    name=$(echo "$body" | jq -r --arg j "$job" '.jobs[] | select(.id == $j) | .name')
    say "log of $name"
    curl -sf "$API/jobs/$job/logs" | jq -j '.chunks[].chunk'
done

cat <<TXT

The stack is running (state in $STATE):
  API      http://$API_ADDR/api/v1        log: $STATE/api.log
  worker   engine $engine                 log: $STATE/worker.log
  Postgres psql "$DATABASE_URL"
Try:
  curl -s -X POST $API/repos/hello/pipelines/run -H 'Content-Type: application/json' \\
       -d '{"template": "release", "inputs": {"VERSION": "1.0.0"}}' | jq
  psql "$DATABASE_URL" -c 'SELECT * FROM run_queue' -c 'SELECT * FROM run_activity'
Stop it with: scripts/quickstart.sh stop
TXT
