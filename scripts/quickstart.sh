#!/usr/bin/env bash
# Set up and run GitWeave Runner on this machine, with a sample pipeline:
# installs the Debian packages, builds, starts a throwaway Postgres, the API
# and a worker (the docker engine when a Docker engine with the job image is
# reachable, else the local engine), registers a sample git repository with
# the example templates, pushes a commit to it (which starts the build
# pipeline through the post-receive hook), and follows the run's logs with
# the gitweave client.
#
#   scripts/quickstart.sh           set up (or start again), run the sample, leave the stack running
#   scripts/quickstart.sh docker [PACKAGE...]
#                                   the same with a docker-engine worker, whose job image
#                                   gitweave-job:quickstart (RUNNER_DEFAULT_IMAGE to name
#                                   another) scripts/image.sh makes from Debian with these
#                                   packages when the engine lacks it or packages are
#                                   named; no registry is needed
#   scripts/quickstart.sh db-start  only start the Postgres and print its DATABASE_URL
#   scripts/quickstart.sh stop      stop everything it started; the database and runs are kept
#                                   (waits for the worker: its runs may finish for
#                                   GITWEAVE_DRAIN_SECONDS, default 30, then they are stopped)
#   scripts/quickstart.sh purge     stop, then remove all its state (database, repos, workspaces)
#
# Starting again reuses the database (every run so far stays), the token and
# the sample repository, and pushes one more commit.
#
# State lives in $GITWEAVE_STATE (default /tmp/gitweave-quickstart), a
# directory of the user running this script. Postgres listens on no TCP port:
# only on a unix socket in $GITWEAVE_STATE/pg, a directory private to the
# server's user, with peer authentication that lets in this script's user
# (as the superuser gitweave) and nobody else. The API needs a random token,
# kept in $GITWEAVE_STATE/api-token (0600); see docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
STATE=${GITWEAVE_STATE:-/tmp/gitweave-quickstart}
PG_BIN=/usr/lib/postgresql/15/bin
API_ADDR=${GITWEAVE_API_ADDR:-127.0.0.1:8080}
API=http://$API_ADDR/api/v1
# Names the socket (.s.PGSQL.<port>); there is no TCP listener.
PGPORT=${GITWEAVE_PGPORT:-55432}
ME=$(id -un)
AS_PG=()
PG_OWNER=$ME
if [ "$(id -u)" = 0 ]; then
    AS_PG=(runuser -u postgres --)
    PG_OWNER=postgres
fi

die() { echo "quickstart: $*" >&2; exit 1; }

# The state directory is ours or absent: in /tmp, another user may have
# created it first (with pid files to kill, or links to follow).
check_state() {
    if [ -L "$STATE" ] || { [ -e "$STATE" ] && [ ! -O "$STATE" ]; }; then
        die "$STATE exists and is not a directory of $ME; remove it or set GITWEAVE_STATE"
    fi
}

# How long the worker's SIGTERM lets running runs finish (its
# RUNNER_DRAIN_SECONDS), and how long a stopped job gets between TERM and
# KILL (RUNNER_STOP_GRACE_SECONDS).
DRAIN=${GITWEAVE_DRAIN_SECONDS:-30}
STOP_GRACE=${GITWEAVE_STOP_GRACE_SECONDS:-10}

# The pid in pid file $1 when that process is still the program $2 (a pid
# file outlives its process, and the number may be reused).
pid_alive() {
    local pid
    [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$2" || return 1
    echo "$pid"
}

# Wait up to $2 seconds for process $1 to end; false if it did not.
wait_gone() {
    local i
    for i in $(seq $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

# The worker first, and waited for: its SIGTERM drains it (running runs
# may finish for $DRAIN s), then it stops what still runs (each job: TERM,
# $STOP_GRACE s, KILL; the run goes back to the queue as its next try when
# its template says retry, else it fails "runner quickstart was stopped
# ..."), records that and exits. Only then the API, and Postgres last, so
# that the worker can write how its runs ended.
stop() {
    local pid
    check_state
    if pid=$(pid_alive "$STATE/worker.pid" gitweave-worker); then
        echo "stopping the worker (pid $pid): running runs may finish for up to ${DRAIN} s," \
            "then they are stopped (given back to the queue when their template says retry)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" $((DRAIN + STOP_GRACE + 15)); then
            echo "the worker did not stop in time; stopping its runs now"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" $((STOP_GRACE + 10)) || { echo "killing the worker"; kill -KILL "$pid" 2>/dev/null || true; }
        fi
        echo "the worker stopped"
    fi
    rm -f "$STATE/worker.pid"
    if pid=$(pid_alive "$STATE/api.pid" gitweave-api); then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
        echo "the API stopped"
    fi
    rm -f "$STATE/api.pid"
    if [ -d "$STATE/pg/data" ]; then
        "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m fast stop >/dev/null 2>&1 || true
    fi
}

# A new state directory: fails if one appeared since it was removed. Others
# may pass through it (the server's user must reach pg/), not list it.
new_state() {
    check_state
    [ -e "$STATE" ] || mkdir -m 0711 "$STATE"
}

# Start the Postgres cluster in $STATE/pg, initialising it the first time;
# sets DATABASE_URL.
db_start() {
    local pg=$STATE/pg
    export DATABASE_URL="host=$pg port=$PGPORT dbname=gitweave user=gitweave"
    if [ -f "$pg/data/PG_VERSION" ]; then
        if ! "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
            "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$pg/data" -l "$pg/log" -w start >/dev/null ||
                { cat "$pg/log" >&2; die "Postgres did not start"; }
        fi
        return
    fi
    [ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb: run scripts/deps.sh --runtime first"
    [ ! -e "$pg" ] || die "$pg holds no database: run scripts/quickstart.sh purge first"
    mkdir -m 0700 "$pg"
    [ "$PG_OWNER" = "$ME" ] || chown "$PG_OWNER" "$pg"
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$pg/data" -U gitweave --auth-local=peer --auth-host=reject \
        -E UTF8 >"$pg/initdb.log" 2>&1 || { cat "$pg/initdb.log" >&2; die "initdb failed"; }
    # No TCP at all; the socket in the private directory; peer authentication
    # of the OS user, mapped: this script's user and the server's own become
    # the role gitweave, nobody else becomes anything.
    cat >>"$pg/data/postgresql.conf" <<CONF

# scripts/quickstart.sh
listen_addresses = ''
unix_socket_directories = '$pg'
port = $PGPORT
CONF
    printf '# scripts/quickstart.sh: the socket only, peer authentication, mapped\nlocal all all peer map=gitweave\n' \
        >"$pg/data/pg_hba.conf"
    {
        echo "# scripts/quickstart.sh: OS user -> role"
        echo "gitweave $ME gitweave"
        [ "$PG_OWNER" = "$ME" ] || echo "gitweave $PG_OWNER gitweave"
    } >"$pg/data/pg_ident.conf"
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$pg/data" -l "$pg/log" -w start >/dev/null ||
        { cat "$pg/log" >&2; die "Postgres did not start"; }
    "$PG_BIN/createdb" -h "$pg" -p "$PGPORT" -U gitweave gitweave
}

case ${1:-} in
stop)
    stop
    echo "stopped; the database and runs are kept in $STATE (scripts/quickstart.sh purge removes them)"
    exit 0 ;;
purge)
    stop
    rm -rf "$STATE"
    echo "stopped; removed $STATE"
    exit 0 ;;
db-start)
    new_state
    db_start
    echo "DATABASE_URL=$DATABASE_URL"
    exit 0 ;;
"") ;;
docker) ;;
*) die "unknown command \"$1\" (none, docker, db-start, stop or purge)" ;;
esac
WANT_DOCKER=0
PACKAGES=()
sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${sock#unix://}
if [ "${1:-}" = docker ]; then
    WANT_DOCKER=1
    shift
    PACKAGES=("$@")
    # Said before anything is installed or started.
    curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1 ||
        die "no Docker engine answers at $sock (set DOCKER_HOST)"
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say "installing what running needs (scripts/deps.sh --runtime; nothing once installed) and building"
bash scripts/deps.sh --runtime
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
stop
new_state
[ -d "$STATE/work" ] || mkdir -m 0700 "$STATE/work"

say "starting Postgres on a unix socket in $STATE/pg (kept between starts)"
db_start
build/gitweave-api migrate

# The secrets key pair (docs/secrets.md): the API seals with the public
# key, only the worker opens with the secret one. Both 0600, kept between
# starts (a new pair would leave the secrets set so far unreadable).
if [ ! -s "$STATE/secrets.key" ]; then
    rm -f "$STATE/secrets.pub"
    build/gitweave-worker keygen "$STATE/secrets.key" "$STATE/secrets.pub"
fi

say "starting the API on $API_ADDR, with a random token in $STATE/api-token"
# Written by shell builtins: the token is on no command line. Kept between
# starts, so that clients and the hook go on working.
if [ -s "$STATE/api-token" ]; then
    IFS= read -r token <"$STATE/api-token"
else
    token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
fi
(
    umask 077
    printf '%s\n' "$token" >"$STATE/api-token"
    printf 'Authorization: Bearer %s\n' "$token" >"$STATE/api-auth-header"
)
GITWEAVE_API_TOKEN=$token GITWEAVE_API_ADDR=$API_ADDR \
    GITWEAVE_SECRETS_PUBLIC_KEY_FILE=$STATE/secrets.pub nohup build/gitweave-api >"$STATE/api.log" 2>&1 &
echo $! >"$STATE/api.pid"
unset token
# Every call of this script carries the token in a header file.
acurl() { curl -sf -H @"$STATE/api-auth-header" "$@"; }
for _ in $(seq 50); do curl -sf "$API/../../healthz" >/dev/null 2>&1 && break; sleep 0.1; done

engine=local
image=${RUNNER_DEFAULT_IMAGE:-debian:bookworm-slim}
if [ "$WANT_DOCKER" = 1 ]; then
    image=${RUNNER_DEFAULT_IMAGE:-gitweave-job:quickstart}
    if [ ${#PACKAGES[@]} -gt 0 ] ||
        ! curl -sf --unix-socket "$sock" "http://localhost/v1.41/images/$image/json" >/dev/null; then
        say "making the job image $image from Debian (scripts/image.sh; no registry)"
        bash scripts/image.sh "$image" "${PACKAGES[@]}" >/dev/null ||
            die "scripts/image.sh could not make $image"
    fi
    engine=docker
elif [ -S "$sock" ] && curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; then
    if curl -sf --unix-socket "$sock" "http://localhost/v1.41/images/$image/json" >/dev/null; then
        engine=docker
    else
        echo "a Docker engine answers at $sock but has no image $image: using the local engine"
        echo "(scripts/quickstart.sh docker makes one from Debian; or set RUNNER_DEFAULT_IMAGE to an image it has)"
    fi
else
    echo "no Docker engine at $sock: using the local engine (jobs run as processes here)"
fi
say "starting a worker (engine: $engine)"
RUNNER_NAME=quickstart RUNNER_CONTAINER_ENGINE=$engine RUNNER_DEFAULT_IMAGE=$image \
    RUNNER_DRAIN_SECONDS=$DRAIN RUNNER_STOP_GRACE_SECONDS=$STOP_GRACE \
    RUNNER_WORKDIR=$STATE/work RUNNER_SECRETS_KEY_FILE=$STATE/secrets.key nohup build/gitweave-worker >"$STATE/worker.log" 2>&1 &
echo $! >"$STATE/worker.pid"

say "registering the example templates and a sample repository"
for t in build test release; do
    acurl -X PUT "$API/templates/$t" -H 'Content-Type: application/yaml' \
        --data-binary @"docs/examples/templates/$t.yaml" | jq -c '{name, kind, version}'
done
[ -d "$STATE/git/hello.git" ] || git init -q --bare -b main "$STATE/git/hello.git"
ln -sfn "$PWD/build/gitweave-hook" "$STATE/git/hello.git/hooks/post-receive"
chmod 600 "$STATE/git/hello.git/config"
git -C "$STATE/git/hello.git" config gitweave.url "http://$API_ADDR"
git -C "$STATE/git/hello.git" config gitweave.tokenfile "$STATE/api-token"
jq -n --arg url "$STATE/git/hello.git" '{clone_url: $url}' |
    acurl -X PUT "$API/repos/hello" -H 'Content-Type: application/json' --data-binary @- |
    jq -c '{name, clone_url}'
acurl -X PUT "$API/repos/hello/templates/build" >/dev/null
acurl -X PUT "$API/repos/hello/templates/release" >/dev/null

say "pushing a commit: the post-receive hook starts the build pipeline"
export GIT_AUTHOR_NAME=quickstart GIT_AUTHOR_EMAIL=quickstart@example.com
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
if [ ! -d "$STATE/hello/.git" ]; then
    git init -q -b main "$STATE/hello"
    printf '#!/bin/sh\necho "compiling hello..."\nsleep 1\necho "hello, world" > hello.txt\necho "built hello.txt"\n' >"$STATE/hello/build.sh"
    chmod +x "$STATE/hello/build.sh"
    git -C "$STATE/hello" add -A
    git -C "$STATE/hello" commit -qm "first commit"
else
    git -C "$STATE/hello" commit -q --allow-empty -m "quickstart started again"
fi
# The hook prints the runs it started: "gitweave:   run <id> (build) <url>".
git -C "$STATE/hello" push -q "$STATE/git/hello.git" main 2>&1 | tee "$STATE/push.out"
run=$(sed -n 's/.*gitweave:   run \([0-9a-f-]*\) (build).*/\1/p' "$STATE/push.out" | head -n 1)
[ -n "$run" ] || { echo "no run was started; see $STATE/api.log"; exit 1; }
say "following run $run with the client (build/gitweave)"
# The client takes the token from its environment, never from its arguments.
GITWEAVE_TOKEN=$(cat "$STATE/api-token")
export GITWEAVE_URL=http://$API_ADDR GITWEAVE_TOKEN
build/gitweave logs "$run" -f || true
build/gitweave show "$run"

cat <<TXT

The stack is running (state in $STATE):
  web page http://$API_ADDR/              (this run: http://$API_ADDR/runs/$run; it asks for the token)
  API      http://$API_ADDR/api/v1        log: $STATE/api.log
  token    $STATE/api-token (0600): every call but /healthz and /readyz needs it
  worker   engine $engine                 log: $STATE/worker.log
  secrets  sealed to $STATE/secrets.pub, opened by the worker with $STATE/secrets.key
           (both 0600): gitweave secret put NAME [-r REPO] <FILE (docs/secrets.md)
  Postgres psql "$DATABASE_URL"
           (a unix socket in $STATE/pg, no TCP; only $ME may connect)
Try the client:
  export GITWEAVE_URL=http://$API_ADDR GITWEAVE_TOKEN=\$(cat $STATE/api-token)
  build/gitweave runs                 (every repo's runs; "runs hello" for one)
  build/gitweave run hello -t release -i VERSION=1.0.0 -f
  git -C $STATE/hello tag v1.0.0 && git -C $STATE/hello push $STATE/git/hello.git v1.0.0
                                      (a v* tag starts the release template)
  build/gitweave runners
or the API itself:
  export GITWEAVE_API_TOKEN=\$(cat $STATE/api-token)
  curl -s -H "Authorization: Bearer \$GITWEAVE_API_TOKEN" $API/runners | jq
  curl -s -H @$STATE/api-auth-header -X POST $API/repos/hello/pipelines/run \\
       -H 'Content-Type: application/json' \\
       -d '{"template": "release", "inputs": {"VERSION": "1.0.0"}}' | jq
  (-H @file keeps the token off the command line, where other local users can see it)
  psql "$DATABASE_URL" -c 'SELECT * FROM run_queue' -c 'SELECT * FROM run_activity'
Stop it with scripts/quickstart.sh stop (the database and runs are kept for the
next start; running runs may finish for ${DRAIN} s, then they are stopped);
scripts/quickstart.sh purge removes everything.
TXT
