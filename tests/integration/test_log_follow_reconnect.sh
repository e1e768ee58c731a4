#!/usr/bin/env bash
# Log readers outlived by their database reads: in each of several rounds,
# 150 clients read logs as fast as they can (live followers of a running
# job, followers of a long history of ESC bytes, logs.txt and JSON pages),
# every API connection to Postgres (the pool's and the listening one) is
# terminated, and every client leaves with a reset (SO_LINGER 0) within
# 0-40 ms, while the reads of their pages and topics are in flight. The API must
# live on (under the ASan build, GW_BUILD_DIR=build-asan, without a report:
# gw_cleanup fails the test on one), and a follower after the rounds still
# gets the whole log and its end.
source "$(dirname "$0")/../lib/postgres.sh"

export GITWEAVE_API_MAX_CONNECTIONS=600 GITWEAVE_API_MAX_STREAMS=500
gw_pg_start || exit 1
gw_api_start || exit 1
ROUNDS=${GW_ROUNDS:-8}

sse_chunks() { awk '/^event: chunk/{c=1;next} c&&/^data: /{sub(/^data: /,""); print; c=0}' "$1" | jq -j .chunk; }
stored() {
    gw_psql -c "SELECT encode(convert_to(coalesce(string_agg(chunk, '' ORDER BY \"offset\"), ''),
                'UTF8'), 'base64') FROM logs WHERE job_id = '$1'" | base64 -d
}
alive() { kill -0 "$GW_API_PID" 2>/dev/null && curl -sf -m 5 "${API%/api/v1}/healthz" >/dev/null; }
ready() { curl -sf -m 2 "${API%/api/v1}/readyz" >/dev/null; }

gw_template slow '{"kind": "build", "jobs": [{"name": "slow", "script": ["i=0; while [ $i -lt 300 ]; do echo tick-$i; printf \"\\033[1m\\001\\n\"; sleep 0.1; i=$((i+1)); done"]}]}' || exit 1
gw_template esc '{"kind": "build", "jobs": [{"name": "esc", "script": ["head -c 2000000 /dev/zero | tr \"\\000\" \"\\033\""]}]}' || exit 1
gw_repo slow slow || exit 1
gw_repo esc esc || exit 1
gw_worker_start w1 RUNNER_CONCURRENCY=2
erun=$(gw_trigger esc)
check "the ESC run succeeds" wait_for 60 run_is_final "$erun"
ejob=$(api GET "/pipelines/runs/$erun" | jq -r '.jobs[0].id')
srun=$(gw_trigger slow)
sjob=$(api GET "/pipelines/runs/$srun" | jq -r '.jobs[0].id')
running() { [ "$(gw_psql -c "SELECT status FROM jobs WHERE id = '$sjob'")" = running ]; }
check "the slow job runs" wait_for 30 running

for round in $(seq "$ROUNDS"); do
    python3 - "$API" "$sjob" "$ejob" "$DATABASE_URL" <<'PY'
import random, socket, struct, subprocess, sys, time, urllib.parse
api, sjob, ejob, db = sys.argv[1:]
u = urllib.parse.urlparse(api)
paths = ([f"/jobs/{sjob}/logs?follow=true"] * 60 + [f"/jobs/{ejob}/logs?follow=true"] * 60 +
         [f"/jobs/{ejob}/logs.txt"] * 20 + [f"/jobs/{ejob}/logs?limit=8388608"] * 10)
socks = []
for p in paths:
    s = socket.socket()
    s.connect((u.hostname, u.port))
    s.sendall(f"GET {u.path}{p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    s.setblocking(False)
    socks.append(s)

got = [0] * len(socks)

def read_all(until, everyone=False):
    """Take what the API sends (its readers read page after page meanwhile),
    until a time, or until every client has had the start of its reply."""
    while time.time() < until and not (everyone and min(got) > 0):
        for i, s in enumerate(socks):
            if s.fileno() < 0:
                continue
            try:
                got[i] += len(s.recv(1 << 20))
            except (BlockingIOError, OSError):
                pass

# The first pages are read; then page reads of their own are in flight.
read_all(time.time() + 20, everyone=True)
read_all(time.time() + random.uniform(0.05, 0.3))
subprocess.Popen(["psql", "-X", "-q", "-d", db, "-c",
                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE application_name IN ('gitweave-api', 'gitweave-api-listen')"],
                 stdout=subprocess.DEVNULL)
start = time.time()
for s, at in sorted(((s, random.uniform(0, 0.04)) for s in socks), key=lambda x: x[1]):
    read_all(start + at)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
    alive || break
    # The next round starts with the pool and the listening connection up.
    wait_for 30 ready || break
    sleep 0.5
done
check "the API lives through $ROUNDS rounds of reconnects while every client leaves" alive
check "and is ready again" wait_for 30 ready
n=$(grep -c 'listening again' "$GW_TMP/api.log")
check "the listening connection came back after each round ($n times)" test "$n" -ge "$ROUNDS"

curl -sN -m 120 "$API/jobs/$sjob/logs?follow=true" >"$GW_TMP/after.sse" 2>/dev/null
check "a follower after the rounds gets the slow job's end" grep -q '^event: end$' "$GW_TMP/after.sse"
check "and its whole log" cmp -s <(stored "$sjob") <(sse_chunks "$GW_TMP/after.sse")
curl -sN -m 60 "$API/jobs/$ejob/logs?follow=true" >"$GW_TMP/esc.sse" 2>/dev/null
check "a follower of the ESC log gets it whole" cmp -s <(stored "$ejob") <(sse_chunks "$GW_TMP/esc.sse")

gw_finish
