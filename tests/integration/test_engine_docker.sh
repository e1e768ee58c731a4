#!/usr/bin/env bash
#
# test_engine_docker - the docker engine against a real dockerd of its own
# (tests/lib/dockerd.sh), through the driver $GW_BUILD_DIR/tests/engine_run:
# exit codes, output of both streams in order, environment, the workspace
# bind mount, a missing image, an image without a shell, an image with an
# ENTRYPOINT, large output, stop (a script that does not trap TERM ends at
# once, one that does gets its grace period), free before done (while
# running, while create is in flight, from inside the output callback),
# several jobs at once, an unreachable engine, a docker host that is not
# unix://, engine cleanup of labelled leftovers, and ping. After every job no
# container may be left. Prints PASS/FAIL lines; exits non-zero on any failure.
#
# Needs: GW_BUILD_DIR (cmake build dir), GW_SOURCE_DIR (the source tree); root
# (dockerd), docker.io and busybox-static (installed when missing).

# Scripts for the jobs are in single quotes on purpose.
# shellcheck disable=SC2016,SC1003
set -u
GW_SOURCE_DIR=${GW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GW_BUILD_DIR=${GW_BUILD_DIR:-$GW_SOURCE_DIR/build}
RUN=$GW_BUILD_DIR/tests/engine_run
IMAGE=gwtest-busybox
# shellcheck source-path=SCRIPTDIR/../lib source=dockerd.sh
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"

PASSES=0
FAILS=0
pass() { PASSES=$((PASSES + 1)); echo "PASS: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
# expect_eq DESCRIPTION WANT GOT
expect_eq() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: want [$2] got [$3]"; fi; }
# expect_has DESCRIPTION NEEDLE HAYSTACK
expect_has() {
    if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1: [$2] not in [$3]"; fi
}

WORK=$(mktemp -d /tmp/gwe.XXXX)
on_exit() {
    gw_dockerd_stop
    rm -rf "$WORK"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

if [ ! -x "$RUN" ]; then
    echo "FAIL: the driver $RUN is not built"
    exit 1
fi
if ! gw_dockerd_start; then
    echo "FAIL: could not start a dockerd"
    exit 1
fi
echo "# dockerd at $DOCKER_HOST, storage driver $GW_DOCKERD_DRIVER"
if ! gw_busybox_image "$IMAGE"; then
    echo "FAIL: could not import the busybox image"
    exit 1
fi
WS=$WORK/ws
mkdir -p "$WS"

# run_job NAME ENGINE_RUN_ARGS...: OUT (stdout), RC, ELAPSED_MS; stderr in
# $WORK/NAME.err, shown when the driver itself failed.
run_job() {
    local name=$1 t0
    shift
    t0=$(date +%s%N)
    timeout 120 "$RUN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    RC=$?
    ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
    OUT=$(cat "$WORK/$name.out")
    if [ "$RC" != 0 ]; then
        fail "$name: engine_run exited with $RC"
        sed 's/^/#   /' "$WORK/$name.err"
    fi
}
# The exit line of the last job.
exit_line() { printf '%s\n' "$OUT" | tail -n 1; }
# The job's output without the exit line.
job_output() { printf '%s\n' "$OUT" | sed '$d'; }

# no_containers NAME: nothing left on the engine (removal of a freed job's
# container may trail its end a little).
no_containers() {
    local left i
    for ((i = 0; i < 40; i++)); do
        left=$(docker ps -aq)
        [ -z "$left" ] && break
        sleep 0.25
    done
    if [ -z "$left" ]; then
        pass "$1: no container left"
    else
        fail "$1: containers left: $(echo "$left" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        docker rm -f $left >/dev/null 2>&1
    fi
}

# docker ENGINE ... with the usual arguments.
job() {
    local name=$1 image=$2 script=$3
    shift 3
    run_job "$name" docker "$DOCKER_HOST" "$image" "$WS" "$script" "$@"
}

# --- exit codes ---
job exit0 "$IMAGE" 'echo hello'
expect_eq "exit 0: output" "hello" "$(job_output)"
expect_eq "exit 0: exit line" "exit=0 error=" "$(exit_line)"
echo "# a short job took ${ELAPSED_MS} ms from start to done"
no_containers "exit 0"

job exit3 "$IMAGE" 'echo before; exit 3'
expect_eq "exit 3: exit line" "exit=3 error=" "$(exit_line)"
expect_eq "exit 3: output" "before" "$(job_output)"
no_containers "exit 3"

job errexit "$IMAGE" 'echo one; false; echo not reached'
expect_eq "sh -e: stops at the failing command" "one
exit=1 error=" "$OUT"
no_containers "sh -e"

# --- both streams, in order (apart by more than the engine's jitter) ---
job streams "$IMAGE" 'echo out1; sleep 0.5; echo err1 >&2; sleep 0.5; echo out2; sleep 0.5; echo err2 >&2'
expect_eq "stdout and stderr in order" "out1
err1
out2
err2
exit=0 error=" "$OUT"
no_containers "streams"

# --- environment ---
job env "$IMAGE" 'echo "A=$GW_A"; echo "B=$GW_B"' --env 'GW_A=hello world' \
    --env 'GW_B=quote" dollar$ backslash\'
expect_eq "environment visible" 'A=hello world
B=quote" dollar$ backslash\' "$(job_output)"
no_containers "env"

# --- workspace bind mount ---
echo "from the host" >"$WS/input.txt"
job workspace "$IMAGE" 'pwd; cat input.txt; echo "from the job" > /workspace/output.txt'
expect_eq "workspace: working dir and host file" "/workspace
from the host" "$(job_output)"
expect_eq "workspace: file written by the job on the host" "from the job" \
    "$(cat "$WS/output.txt" 2>/dev/null)"
no_containers "workspace"

# --- large output: many frames over many reads ---
job large "$IMAGE" 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done'
expect_eq "large output: line count" "20000" "$(job_output | wc -l | tr -d ' ')"
expect_eq "large output: last line" "line 19999" "$(job_output | tail -n 1)"
expect_eq "large output: exit" "exit=0 error=" "$(exit_line)"
no_containers "large output"

# --- default image ---
run_job default_image docker "$DOCKER_HOST" "" "$WS" 'echo default' --default-image "$IMAGE"
expect_eq "default image used" "default
exit=0 error=" "$OUT"
no_containers "default image"

# --- missing image ---
job missing gwtest-no-such-image 'echo hi'
expect_eq "missing image: error" 'exit=-1 error=image "gwtest-no-such-image" not found' \
    "$(exit_line)"
expect_has "missing image: said in the output" \
    '[gitweave] image "gwtest-no-such-image" not found' "$(job_output)"
no_containers "missing image"

# --- an image without a shell: start fails after create ---
mkdir -p "$WORK/nosh"
echo x >"$WORK/nosh/file"
tar -C "$WORK/nosh" -cf "$WORK/nosh.tar" . && docker import "$WORK/nosh.tar" gwtest-nosh >/dev/null
job nosh gwtest-nosh 'echo hi'
# The container starts (its PID 1 is the engine's init), which then cannot
# run sh: the job fails with 127, like a shell's "command not found", and
# the init's reason is in its output.
expect_eq "no shell: fails with 127" "exit=127 error=" "$(exit_line)"
expect_has "no shell: the init's reason" "exec sh failed: No such file or directory" "$(job_output)"
no_containers "no shell"

# --- an image with an ENTRYPOINT still runs sh -e -c SCRIPT ---
docker create --name gwtest-entry-src "$IMAGE" true >/dev/null &&
    docker commit --change 'ENTRYPOINT ["/bin/false"]' gwtest-entry-src gwtest-entry >/dev/null &&
    docker rm gwtest-entry-src >/dev/null
job entrypoint gwtest-entry 'echo entrypoint ignored'
expect_eq "entrypoint cleared" "entrypoint ignored
exit=0 error=" "$OUT"
no_containers "entrypoint"

# --- stop ---
job stop "$IMAGE" 'echo started; sleep 100' --stop-after-ms 1000 2
expect_eq "stop: output" "started" "$(job_output)"
case "$(exit_line)" in
"exit=137 error=" | "exit=143 error=") pass "stop: ended by a signal ($(exit_line))" ;;
*) fail "stop: want exit 137 or 143, got [$(exit_line)]" ;;
esac
if [ "$ELAPSED_MS" -lt 10000 ]; then
    pass "stop: ended ${ELAPSED_MS} ms after the start (stop at 1000, grace 2 s)"
else
    fail "stop: took ${ELAPSED_MS} ms"
fi
no_containers "stop"

# --- stop: TERM reaches the script (an init is PID 1) ---
# stop_ms NAME: ms from the stop to done, as the driver saw it.
stop_ms() { sed -n 's/^engine_run: done \([0-9]*\) ms after the stop$/\1/p' "$WORK/$1.err"; }
for i in 1 2 3; do
    job "term$i" "$IMAGE" 'echo started; sleep 60' --stop-on-output started 10
    expect_eq "stop, no trap #$i: ended by TERM" "started
exit=143 error=" "$OUT"
    # done comes after the container's removal: nothing may be left by then.
    expect_eq "stop, no trap #$i: container gone at done" "" "$(docker ps -aq)"
    ms=$(stop_ms "term$i")
    # Far below the grace of 10 s: the script got TERM, not a KILL at the
    # grace's end (the room above a quiet second is for a loaded machine).
    if [ -n "$ms" ] && [ "$ms" -le 5000 ]; then
        pass "stop, no trap #$i: done and removed ${ms} ms after the stop (<= 5000, grace 10 s)"
    else
        fail "stop, no trap #$i: done [${ms}] ms after the stop (want <= 5000, grace 10 s)"
    fi
done
job trapper "$IMAGE" 'trap "echo got TERM" TERM; echo started; while :; do sleep 0.1; done' \
    --stop-on-output started 2
case "$OUT" in
"started"*"got TERM"*"exit=137 error=") pass "stop, trapped: saw TERM, went on, KILLed (137)" ;;
*) fail "stop, trapped: want TERM seen then exit 137, got [$OUT]" ;;
esac
ms=$(stop_ms trapper)
if [ -n "$ms" ] && [ "$ms" -ge 1900 ] && [ "$ms" -le 9000 ]; then
    pass "stop, trapped: done ${ms} ms after the stop (grace 2 s)"
else
    fail "stop, trapped: done [${ms}] ms after the stop (want the grace of 2 s, then KILL)"
fi
no_containers "stop, trapped"
# docker itself, for comparison: `docker stop -t 10` + rm of a running
# `sleep 60`, with and without --init (figures only).
docker_stop_ms() {
    local name=$1 t0
    # shellcheck disable=SC2086
    docker run -d --name "$name" $2 "$IMAGE" sh -c 'sleep 60' >/dev/null || return 1
    t0=$(date +%s%N)
    docker stop -t 10 "$name" >/dev/null && docker rm "$name" >/dev/null
    echo $((($(date +%s%N) - t0) / 1000000))
}
echo "# docker run --init: docker stop -t 10 + rm took $(docker_stop_ms gwe-init --init) ms"
echo "# docker run without init: docker stop -t 10 + rm took $(docker_stop_ms gwe-noinit '') ms"

# Stop while create is in flight: the container is removed, never run.
job stop_early "$IMAGE" 'echo must not run; sleep 100' --stop-after-ms 0 5
case "$(exit_line)" in
"exit=-1 error=stopped before the container started") pass "stop before start: not run" ;;
"exit=137 error=" | "exit=143 error=") pass "stop before start: raced into a stop ($(exit_line))" ;;
*) fail "stop before start: got [$OUT]" ;;
esac
if [ "$ELAPSED_MS" -lt 10000 ]; then
    pass "stop before start: quick"
else
    fail "stop before start: ${ELAPSED_MS} ms"
fi
no_containers "stop before start"

# --- free before done: the container is force-removed, done never comes ---
job free "$IMAGE" 'echo started; sleep 100' --free-after-ms 1500
expect_eq "free while running" "started
freed" "$OUT"
no_containers "free while running"

job free_early "$IMAGE" 'echo started; sleep 100' --free-after-ms 0
expect_eq "free while create is in flight" "freed" "$OUT"
no_containers "free while create is in flight"

# Freed from inside the output callback: no more output, container removed.
job free_in_output "$IMAGE" 'echo one; echo two; sleep 0.2; echo three; sleep 100' \
    --free-on-output two
expect_eq "free from inside output" "one
two
freed" "$OUT"
no_containers "free from inside output"

# --- several jobs at once on one engine ---
job parallel "$IMAGE" 'echo "job $GW_JOB_INDEX"; sleep 3; echo "end $GW_JOB_INDEX" >&2; exit $GW_JOB_INDEX' \
    --parallel 6
want=""
for i in 1 2 3 4 5 6; do
    want+="== job $i"$'\n'"job $i"$'\n'"end $i"$'\n'"exit=$i error="$'\n'
done
expect_eq "parallel: each job its own output and exit code" "${want%$'\n'}" "$OUT"
# One after the other they would take at least 18 s.
if [ "$ELAPSED_MS" -lt 15000 ]; then
    pass "parallel: 6 three-second jobs ran side by side (${ELAPSED_MS} ms)"
else
    fail "parallel: 6 three-second jobs took ${ELAPSED_MS} ms"
fi
no_containers "parallel"

job parallel_stop "$IMAGE" 'echo "job $GW_JOB_INDEX"; sleep 100' --parallel 4 --stop-after-ms 1500 1
expect_eq "parallel stop: every job ended by a signal" "4" \
    "$(printf '%s\n' "$OUT" | grep -cE '^exit=(137|143) error=$')"
no_containers "parallel stop"

# --- an engine that is not there ---
run_job unreachable docker "unix://$WORK/no.sock" "$IMAGE" "$WS" 'echo hi'
expect_eq "unreachable: error" \
    "exit=-1 error=container engine unreachable at unix://$WORK/no.sock: No such file or directory" \
    "$(exit_line)"
expect_has "unreachable: logged" "container engine unreachable at unix://$WORK/no.sock" \
    "$(cat "$WORK/unreachable.err")"

timeout 60 "$RUN" docker tcp://127.0.0.1:2375 "$IMAGE" "$WS" 'echo hi' >"$WORK/tcp.out" 2>&1
RC=$?
expect_eq "tcp docker host: refused" 1 "$RC"
expect_has "tcp docker host: says why" "only unix:///path/to/socket is supported" \
    "$(cat "$WORK/tcp.out")"

# --- cleanup: leftovers of this runner go, live jobs and other runners stay ---
docker create --label io.gitweave.runner=runner-a --label io.gitweave.job=job-dead \
    "$IMAGE" true >/dev/null
docker run -d --label io.gitweave.runner=runner-a --label io.gitweave.job=job-dead-running \
    "$IMAGE" sleep 100 >/dev/null
live=$(docker create --label io.gitweave.runner=runner-a --label io.gitweave.job=job-live \
    "$IMAGE" true)
other=$(docker create --label io.gitweave.runner=runner-b --label io.gitweave.job=job-dead \
    "$IMAGE" true)
OUT=$(timeout 60 "$RUN" --cleanup --runner-id runner-a docker "$DOCKER_HOST" job-live job-x \
    2>"$WORK/cleanup.err")
expect_eq "cleanup: removed the two leftovers" "removed=2" "$OUT"
expect_eq "cleanup: kept the live job's and the other runner's" \
    "$(printf '%s\n%s\n' "${live:0:12}" "${other:0:12}" | sort)" "$(docker ps -aq | sort)"
OUT=$(timeout 60 "$RUN" --cleanup --runner-id runner-a docker "$DOCKER_HOST" job-live 2>/dev/null)
expect_eq "cleanup: nothing more to remove" "removed=0" "$OUT"
docker rm -f "$live" "$other" >/dev/null
OUT=$(timeout 60 "$RUN" --cleanup --runner-id runner-a docker "unix://$WORK/no.sock" 2>/dev/null)
expect_eq "cleanup: unreachable engine" "removed=-1" "$OUT"
no_containers "cleanup"

# --- ping: an ordinary request, answered from the loop ---
OUT=$(timeout 60 "$RUN" --ping docker "$DOCKER_HOST" 2>"$WORK/ping.err")
expect_eq "ping: the engine can take jobs" "ping=ok" "$OUT"
expect_has "ping: answered from the loop" "engine_run: answered in" "$(cat "$WORK/ping.err")"
OUT=$(timeout 60 "$RUN" --ping docker "unix://$WORK/no.sock" 2>/dev/null)
expect_eq "ping: unreachable engine" \
    "ping=container engine unreachable at unix://$WORK/no.sock: No such file or directory" "$OUT"

echo "# $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
