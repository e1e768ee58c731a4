#!/usr/bin/env bash
# Logs of control bytes, which JSON writes six times as long (\u001b): a
# job printing 300,000 ESC bytes is followed whole, live and from its
# history, by the client (gitweave logs -f) and by a raw SSE reader, each
# with one end whose next_offset is the log's length (also for a follower
# that asks for an offset past the end); the JSON pages of an 8 MB log of
# \001 bytes are bounded in size whatever the limit, and concatenate to
# the whole log; so does logs.txt.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
GW=$GW_BUILD_DIR/gitweave
export GITWEAVE_URL=${API%/api/v1} NO_COLOR=1
# The largest JSON page reply: 256 KiB of chunk text plus its envelope.
PAGE_MAX=$((256 * 1024 + 1024))

# stored JOB: the job's log as stored, byte for byte, from Postgres itself.
stored() {
    gw_psql -c "SELECT encode(convert_to(coalesce(string_agg(chunk, '' ORDER BY \"offset\"), ''),
                'UTF8'), 'base64') FROM logs WHERE job_id = '$1'" | base64 -d
}
# sse_chunks FILE: the log carried by the chunk events of an SSE capture.
sse_chunks() { awk '/^event: chunk/{c=1;next} c&&/^data: /{sub(/^data: /,""); print; c=0}' "$1" | jq -j .chunk; }
# sse_end FILE: "status next_offset" of the end events of an SSE capture.
sse_end() {
    awk '$0=="event: end"{c=1;next} c&&/^data: /{sub(/^data: /,""); print; c=0}' "$1" |
        jq -r '"\(.status) \(.next_offset)"'
}
ended() { ! kill -0 "$1" 2>/dev/null; }
# pages JOB LIMIT OUT: read the log through JSON pages into OUT; prints the
# number of pages and the largest reply in bytes.
pages() {
    python3 - "$API" "$@" <<'PY'
import json, sys, urllib.request
api, job, limit, out = sys.argv[1:]
offset, n, biggest = 0, 0, 0
with open(out, "wb") as f:
    while n <= 1000:
        body = urllib.request.urlopen(f"{api}/jobs/{job}/logs?offset={offset}&limit={limit}").read()
        n, biggest = n + 1, max(biggest, len(body))
        page = json.loads(body)
        if not page["chunks"]:
            break
        for c in page["chunks"]:
            f.write(c["chunk"].encode())
        offset = page["next_offset"]
print(n, biggest)
PY
}
# printed FILE: what the client prints of a log: the log, and a newline
# after it when it does not end with one.
# What gitweave logs JOB -f --raw prints of log FILE of job JOB: the log,
# a newline if it does not end with one, then the job's status line.
printed() {
    cat "$1"; [ -z "$(tail -c 1 "$1")" ] || echo
    echo "---- job $2 success (exit 0)"
}

gw_template esc '{"kind": "build", "jobs": [{"name": "esc", "script": ["head -c 300000 /dev/zero | tr \"\\000\" \"\\033\""]}]}' || exit 1
gw_template ctl '{"kind": "build", "jobs": [{"name": "ctl", "script": ["head -c 8000000 /dev/zero | tr \"\\000\" \"\\001\""]}]}' || exit 1
gw_repo esc esc || exit 1
gw_repo ctl ctl || exit 1

gw_log "live followers of a job printing 300,000 ESC bytes"
run=$(gw_trigger esc)
job=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
curl -sN "$API/jobs/$job/logs?follow=true" >"$GW_TMP/live.sse" 2>/dev/null &
LIVE=$!; GW_PIDS+=("$LIVE")
"$GW" logs "$job" -f --raw >"$GW_TMP/live.out" 2>"$GW_TMP/client-live.log" &
CLI=$!; GW_PIDS+=("$CLI")
check "both followers are connected" wait_for 10 bash -c \
    "[ \$(grep -c 'GET /api/v1/jobs/$job/logs.* status=200 .*stream=open' '$GW_TMP/api.log') = 2 ]"
# Large chunks: the worker stores the whole output in one chunk of 300 kB.
gw_worker_start w1 RUNNER_LOG_CHUNK_BYTES=1048576
check "the run succeeds" wait_for 60 run_is_final "$run"
check "the raw follower ends" wait_for 20 ended "$LIVE"
wait "$CLI"
expect_eq "gitweave logs -f exits 0" 0 "$?"
stored "$job" >"$GW_TMP/esc"
len=$(wc -c <"$GW_TMP/esc")
check "the stored log holds the 300,000 ESC bytes ($len bytes)" \
    test "$(tr -cd '\033' <"$GW_TMP/esc" | wc -c)" = 300000
check "the live raw follower got the whole log" cmp -s "$GW_TMP/esc" <(sse_chunks "$GW_TMP/live.sse")
expect_eq "and one end with the log's length" "success $len" "$(sse_end "$GW_TMP/live.sse")"
check "gitweave logs -f printed the whole log" cmp -s <(printed "$GW_TMP/esc" "$job") "$GW_TMP/live.out"

gw_log "followers of its history"
curl -sN -m 30 "$API/jobs/$job/logs?follow=true" >"$GW_TMP/hist.sse" 2>/dev/null
check "a raw follower of the history got the whole log" cmp -s "$GW_TMP/esc" <(sse_chunks "$GW_TMP/hist.sse")
expect_eq "and one end with the log's length" "success $len" "$(sse_end "$GW_TMP/hist.sse")"
"$GW" logs "$job" -f --raw >"$GW_TMP/hist.out" 2>"$GW_TMP/client-hist.log"
expect_eq "gitweave logs -f of the history exits 0" 0 "$?"
check "and printed the whole log" cmp -s <(printed "$GW_TMP/esc" "$job") "$GW_TMP/hist.out"
check "no stream was dropped" bash -c "! grep -q 'dropping a stream' '$GW_TMP/api.log'"
big=$(grep '^data: ' "$GW_TMP/hist.sse" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
check "no event carries more than 64 KiB of JSON text ($big bytes)" test "$big" -le $((65536 + 128))

gw_log "the end event carries the log's length"
for at in "$((len + 5))" 2147483647; do
    curl -sN -m 10 -H "Last-Event-ID: $at" "$API/jobs/$job/logs?follow=true" >"$GW_TMP/past.sse"
    expect_eq "Last-Event-ID $at: only the end, at the log's length" "success $len 0" \
        "$(sse_end "$GW_TMP/past.sse") $(grep -c '^event: chunk' "$GW_TMP/past.sse")"
done
curl -sN -m 10 "$API/jobs/$job/logs?follow=true&offset=$len" >"$GW_TMP/atend.sse"
expect_eq "?offset= at the end: the end, at the log's length" "success $len" "$(sse_end "$GW_TMP/atend.sse")"

gw_log "JSON pages and text of an 8 MB log of \\001 bytes"
run=$(gw_trigger ctl)
check "the 8 MB run succeeds" wait_for 120 run_is_final "$run"
cjob=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
stored "$cjob" >"$GW_TMP/ctl"
check "the stored log holds the 8,000,000 bytes" \
    test "$(tr -cd '\001' <"$GW_TMP/ctl" | wc -c)" = 8000000
size=$(curl -s -o /dev/null -w '%{size_download}' "$API/jobs/$cjob/logs?limit=8388608")
check "a page asked for with limit=8388608 is at most $PAGE_MAX bytes ($size)" test "$size" -le "$PAGE_MAX"
read -r n max < <(pages "$cjob" 8388608 "$GW_TMP/ctl.pages")
check "its pages ($n) are each at most $PAGE_MAX bytes (largest $max)" test "${max:-0}" -le "$PAGE_MAX"
check "and concatenate to the whole log" cmp -s "$GW_TMP/ctl" "$GW_TMP/ctl.pages"
read -r n max < <(pages "$job" 100 "$GW_TMP/esc.pages")
check "pages of a small limit ($n) concatenate to the whole ESC log" cmp -s "$GW_TMP/esc" "$GW_TMP/esc.pages"
last=$(curl -s "$API/jobs/$job/logs?offset=$((len - 10))")
expect_eq "the last page: complete, next_offset the length" "true $len" \
    "$(jq -r '"\(.complete) \(.next_offset)"' <<<"$last")"
gw_log "logs.txt"
check "logs.txt is the whole 8 MB log" cmp -s "$GW_TMP/ctl" <(curl -s "$API/jobs/$cjob/logs.txt")
gw_log "the client follows the 8 MB log"
"$GW" logs "$cjob" -f --raw >"$GW_TMP/ctl.out" 2>"$GW_TMP/client-ctl.log"
expect_eq "gitweave logs -f of the 8 MB log exits 0" 0 "$?"
check "and printed the whole log" cmp -s <(printed "$GW_TMP/ctl" "$cjob") "$GW_TMP/ctl.out"
check "no stream was dropped" bash -c "! grep -q 'dropping a stream' '$GW_TMP/api.log'"

gw_finish
