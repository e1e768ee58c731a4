#!/usr/bin/env bash
# Slow readers of a log of control bytes: one job prints 8,000,000 \001
# bytes (JSON writes each as \u0001, six bytes), then N clients (default
# 100) read its log slowly, each with a 4 KiB receive buffer taking 1 KiB
# every 100 ms, for S seconds (default 20), in each of three ways on a fresh
# API process: JSON pages (GET /jobs/{id}/logs?limit=8388608), the event
# stream (?follow=true) and logs.txt. Prints, for each, the API's RSS
# before the readers, its peak (VmHWM) and at the end, how many readers were
# still connected at the end and the bytes they got.
#   tests/bench/log_slow_readers.sh [build-dir] [readers] [seconds] [modes]
# modes: any of json,sse,text (default all three).
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
N=${2:-100}
SECONDS_READ=${3:-20}
MODES=${4:-json,sse,text}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"
ulimit -n 4096

export GITWEAVE_API_MAX_CONNECTIONS=$((N + 50)) GITWEAVE_API_MAX_STREAMS=$((N + 10))
# Slow readers are not stopped readers: none is dropped for being idle.
export GITWEAVE_API_IDLE_TIMEOUT_SECONDS=600
gw_pg_start || exit 1
gw_api_start || exit 1
gw_template ctl '{"kind": "build", "jobs": [{"name": "ctl", "script": ["head -c 8000000 /dev/zero | tr \"\\000\" \"\\001\""]}]}' || exit 1
gw_repo ctl ctl || exit 1
run=$(gw_trigger ctl)
gw_worker_start w1
wait_for 120 run_is_final "$run" || { echo "the job did not finish"; exit 1; }
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
job=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
stored=$(gw_psql -c "SELECT sum(octet_length(chunk)) FROM logs WHERE job_id = '$job'")

kib() { awk -v k="$1" '/^'"$1"'/ {print $2}' "/proc/$GW_API_PID/status"; }
echo "## $(date -u '+%F %H:%M UTC') on $(nproc) cores (load $(cut -d' ' -f1-3 /proc/loadavg)):" \
    "$N slow readers of a log of $stored bytes of \\001, $SECONDS_READ s each way"
echo "| way | API RSS before | peak (VmHWM) | at the end | readers connected at the end | bytes received |"
echo "|---|---|---|---|---|---|"
for mode in ${MODES//,/ }; do
    case $mode in
    json) path="/jobs/$job/logs?limit=8388608" ;;
    sse) path="/jobs/$job/logs?follow=true" ;;
    text) path="/jobs/$job/logs.txt" ;;
    *) echo "unknown way $mode"; exit 1 ;;
    esac
    # A fresh API for each way, so that its peak is that way's.
    kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
    gw_api_start || exit 1
    before=$(kib VmRSS)
    read -r open got < <(python3 - "$API" "$path" "$N" "$SECONDS_READ" <<'PY'
import socket, sys, time, urllib.parse
api, path, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
u = urllib.parse.urlparse(api)
socks = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((u.hostname, u.port))
    s.sendall(f"GET {u.path}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    s.setblocking(False)
    socks.append(s)
got, alive = 0, set(range(n))
end = time.time() + secs
while time.time() < end:
    for i in list(alive):
        try:
            data = socks[i].recv(1024)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            alive.discard(i)
        got += len(data)
    time.sleep(0.1)
print(len(alive), got)
PY
)
    echo "| $mode | $before KiB | **$(kib VmHWM) KiB** | $(kib VmRSS) KiB | $open of $N | $got |"
done
