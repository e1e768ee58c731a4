#!/usr/bin/env bash
# Live log followers: N clients follow one busy job over SSE (GET
# /jobs/{id}/logs?follow=true) on one API process. Prints the followers
# held open, chunk delivery latency (the chunk's created_at in Postgres ->
# received by a follower; p50/p99/max over every chunk and follower), that
# every follower got the whole log, and the API's RSS with all of them open.
#   tests/bench/follow_bench.sh [build-dir] [followers]
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
N=${2:-1000}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"
ulimit -n 8192

gw_pg_start || exit 1
GITWEAVE_API_MAX_CONNECTIONS=$((N + 100)) GITWEAVE_API_MAX_STREAMS=$N gw_api_start || exit 1
# About 40 lines a second for 15 s; the worker flushes every 100 ms.
gw_template busy '{"kind": "test", "jobs": [{"name": "busy", "script": ["i=0; while [ $i -lt 600 ]; do echo busy-line-$i-abcdefghijklmnopqrstuvwxyz; sleep 0.025; i=$((i+1)); done"]}]}' || exit 1
gw_repo bench busy || exit 1
body=$(api POST /repos/bench/pipelines/run -H 'Content-Type: application/json' -d '{}')
job=$(jq -r '.jobs[0].id' <<<"$body")
echo "## $(date -u +%F) on $(nproc) cores: $N followers of one busy job"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$GW_API_PID/status"; }
echo "API RSS before the followers: $(rss) KiB"

# One process holds every follower (selectors, non-blocking sockets) and
# stamps each chunk event with the time it arrived.
python3 - "$API" "$job" "$N" "$GW_TMP/arrivals" "$GW_TMP/logs" <<'PY' &
import json, selectors, socket, sys, time, urllib.parse
api, job, n, arrivals, logs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
u = urllib.parse.urlparse(api)
sel = selectors.DefaultSelector()
state = {}
for i in range(n):
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(f"GET {u.path}/jobs/{job}/logs?follow=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, i)
    state[i] = [b"", [], False, False]  # unparsed, chunks, end seen, head read
print("connected", flush=True)
out = open(arrivals, "w")
open_n = n
while open_n:
    for key, _ in sel.select():
        i = key.data
        data = key.fileobj.recv(65536)
        now = time.time()
        st = state[i]
        if not data:
            sel.unregister(key.fileobj); key.fileobj.close(); open_n -= 1
            continue
        st[0] += data
        if not st[3]:
            if b"\r\n\r\n" not in st[0]:
                continue
            st[0] = st[0].split(b"\r\n\r\n", 1)[1]
            st[3] = True
        while b"\n\n" in st[0]:
            ev, st[0] = st[0].split(b"\n\n", 1)
            if ev.startswith(b"event: chunk"):
                d = json.loads(ev.split(b"data: ", 1)[1])
                st[1].append(d["chunk"])
                out.write(f"{d['offset']} {now:.6f}\n")
            elif ev.startswith(b"event: end"):
                st[2] = True
out.close()
texts = {"".join(st[1]) for st in state.values()}
ends = sum(1 for st in state.values() if st[2])
with open(logs, "w") as f:
    f.write(f"{len(texts)} {ends}\n")
    f.write(texts.pop() if len(texts) == 1 else "")
PY
CLIENTS=$!
GW_PIDS+=("$CLIENTS")
wait_for 60 bash -c "[ \$(grep -c 'stream=open' '$GW_TMP/api.log') -ge $N ]" || echo "not every follower connected"
echo "followers held open: $(grep -c 'stream=open' "$GW_TMP/api.log")"
echo "API RSS with $N followers open, job queued: $(rss) KiB"
gw_worker_start b1 RUNNER_LOG_FLUSH_MS=100
peak=0
while kill -0 "$CLIENTS" 2>/dev/null; do
    r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.5
done
echo "API CPU time over the whole run: $(awk '{printf "%.2f s", ($14 + $15) / 100}' "/proc/$GW_API_PID/stat"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "API RSS peak while the job ran: $peak KiB (VmHWM $(awk '/^VmHWM/ {print $2}' "/proc/$GW_API_PID/status") KiB)"
read -r distinct ends <"$GW_TMP/logs"
gw_logs "$job" >"$GW_TMP/stored"
echo "followers with an end event: $ends; distinct logs received: $distinct;" \
    "same as stored: $(cmp -s <(tail -n +2 "$GW_TMP/logs") "$GW_TMP/stored" && echo yes || echo no)"
gw_psql -c "SELECT \"offset\", extract(epoch FROM created_at) FROM logs WHERE job_id = '$job'" |
    tr '|' ' ' >"$GW_TMP/stored_at"
echo "chunks: $(wc -l <"$GW_TMP/stored_at"), deliveries: $(wc -l <"$GW_TMP/arrivals")"
awk 'NR == FNR { at[$1] = $2; next } ($1 in at) { print ($2 - at[$1]) * 1000 }' \
    "$GW_TMP/stored_at" "$GW_TMP/arrivals" | sort -n >"$GW_TMP/lat"
awk '{ v[NR] = $1 } END { printf "delivery latency ms (stored -> received): p50 %.1f  p99 %.1f  max %.1f\n",
    v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR] }' "$GW_TMP/lat"
