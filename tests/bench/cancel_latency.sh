#!/usr/bin/env bash
#
# cancel_latency.sh [build-dir [before-build-dir]] - how long a stop of a
# running docker job takes, side by side with `docker run`, on a dockerd of
# its own (tests/lib/dockerd.sh), busybox image:
#
#   - the docker engine (the build's tests/engine_run): a job `sleep 60` is
#     stopped (grace 10 s) 3 s after its start; the figure is the driver's
#     wall time minus those 3 s: stop, container gone, done, engine idle;
#   - the same with the engine of before-build-dir, when given;
#   - `docker run -d` of the same command, then `docker stop -t 10` + `docker
#     rm`, with --init and without.
#
# Each is run RUNS times (default 5); the median and the slowest are printed.
# Needs root (dockerd). No assertion: the figures go to tests/bench/README.md.
set -u
GW_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$GW_SOURCE_DIR/build}
BEFORE=${2:-}
RUNS=${RUNS:-5}
IMAGE=gwtest-busybox
STOP_AT_MS=3000
# shellcheck source-path=SCRIPTDIR/../lib source=dockerd.sh
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
WORK=$(mktemp -d /tmp/gwcl.XXXX)
trap 'gw_dockerd_stop; rm -rf "$WORK"' EXIT
gw_dockerd_start || { echo "could not start a dockerd" >&2; exit 1; }
gw_busybox_image "$IMAGE" || { echo "could not import the busybox image" >&2; exit 1; }
mkdir -p "$WORK/ws"

# summary LABEL MS...: median and max.
summary() {
    local label=$1
    shift
    printf '%s\n' "$@" | sort -n | awk -v l="$label" '{ v[NR] = $1 }
        END { printf "%-48s median %6d ms   max %6d ms   (%d runs)\n", l, v[int((NR + 1) / 2)], v[NR], NR }'
}

# engine BUILD-DIR: ms from the stop to the driver's exit, RUNS times.
engine() {
    local t0 t1 out=()
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$1/tests/engine_run" docker "$DOCKER_HOST" "$IMAGE" "$WORK/ws" 'sleep 60' \
            --stop-after-ms "$STOP_AT_MS" 10 >/dev/null 2>&1
        t1=$(date +%s%N)
        out+=($(((t1 - t0) / 1000000 - STOP_AT_MS)))
    done
    echo "${out[@]}"
}

# docker_cli FLAGS: ms of `docker stop -t 10` + `docker rm`, RUNS times.
docker_cli() {
    local t0 t1 out=()
    for ((i = 0; i < RUNS; i++)); do
        # shellcheck disable=SC2086
        docker run -d --name gwcl $1 "$IMAGE" sh -c 'sleep 60' >/dev/null
        sleep 0.5
        t0=$(date +%s%N)
        docker stop -t 10 gwcl >/dev/null && docker rm gwcl >/dev/null
        t1=$(date +%s%N)
        out+=($(((t1 - t0) / 1000000)))
    done
    echo "${out[@]}"
}

echo "# cancel of a running 'sleep 60', grace 10 s, $(nproc) cores, storage $GW_DOCKERD_DRIVER"
# shellcheck disable=SC2046
summary "engine ($BUILD)" $(engine "$BUILD")
if [ -n "$BEFORE" ]; then
    # shellcheck disable=SC2046
    summary "engine before ($BEFORE)" $(engine "$BEFORE")
fi
# shellcheck disable=SC2046
summary "docker run --init; docker stop + rm" $(docker_cli --init)
# shellcheck disable=SC2046
summary "docker run; docker stop + rm" $(docker_cli "")
