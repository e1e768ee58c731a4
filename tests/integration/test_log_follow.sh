#!/usr/bin/env bash
# Live logs with real clients (curl -N): SSE log follow from before a job
# starts to its end, 100 followers of one job, history then live for a
# follower that joins mid-job, resume with Last-Event-ID, the end event,
# queued and canceled jobs, plain-text logs byte for byte, the event
# streams and their filters, the cap on streams, and bad input.
source "$(dirname "$0")/../lib/postgres.sh"

export GITWEAVE_API_KEEPALIVE_SECONDS=1
# A stream whose client stops reading is dropped after this long.
export GITWEAVE_API_IDLE_TIMEOUT_SECONDS=4
gw_pg_start || exit 1
gw_api_start || exit 1

# sse_chunks FILE: the log carried by the chunk events of an SSE capture.
sse_chunks() { awk '/^event: chunk/{c=1;next} c&&/^data: /{sub(/^data: /,""); print; c=0}' "$1" | jq -j .chunk; }
# sse_data FILE EVENT: the data lines of one kind of event, one JSON per line.
sse_data() { awk -v ev="event: $2" '$0==ev{c=1;next} c&&/^data: /{sub(/^data: /,""); print; c=0}' "$1"; }
# stored JOB: the job's log as stored, byte for byte (through the JSON pages).
stored() { gw_logs "$1"; }
# follow JOB FILE: a follower (?follow=true) in the background; sets FPID.
follow() {
    curl -sN "$API/jobs/$1/logs?follow=true" >"$2" 2>/dev/null &
    FPID=$!
    GW_PIDS+=("$FPID")
}
# is_json_error: the last body is {"error": str, "detail": str}.
is_json_error() { jq -e '(.error | type) == "string" and (.detail | type) == "string"' \
    <"$GW_TMP/body" >/dev/null; }
expect_status() { expect_eq "$1" "$2" "$(status)"; }
expect_error() { expect_eq "$1" "$2" "$(status)"; check "$1: JSON error body" is_json_error; }
# repos_in FILE: the repos named by the events of an SSE capture.
repos_in() { grep '^data: ' "$1" | cut -c7- | jq -r .repo | sort -u | tr '\n' ' ' | xargs; }
# ended PID: the process has exited.
ended() { ! kill -0 "$1" 2>/dev/null; }

live=$(cat <<'JSON'
{"kind": "build", "jobs": [
  {"name": "tick", "script": ["echo a", "sleep 2", "echo b", "sleep 2",
                              "echo 'ünïcode \"quoted\"'", "printf 'tab\\there\\n'", "echo c"]},
  {"name": "big", "script": ["i=0; while [ $i -lt 20000 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done"]}]}
JSON
)
gw_template live "$live" || exit 1
gw_template bad '{"kind": "test", "jobs": [{"name": "fails", "script": ["echo x", "exit 3"]}]}' || exit 1
gw_repo app live || exit 1
gw_repo app2 bad || exit 1
gw_repo other live || exit 1

gw_log "followers before the job starts (no worker yet)"
body=$(api POST /repos/app/pipelines/run -H 'Content-Type: application/json' -d '{}')
run=$(jq -r .id <<<"$body")
job=$(jq -r '.jobs[0].id' <<<"$body")
bigjob=$(jq -r '.jobs[1].id' <<<"$body")
curl -sN "$API/pipelines/runs/$run/events" >"$GW_TMP/run.sse" 2>/dev/null &
RUNPID=$!; GW_PIDS+=("$RUNPID")
curl -sN "$API/events?repo=app" >"$GW_TMP/ev_app.sse" 2>/dev/null &
GW_PIDS+=("$!")
curl -sN "$API/events?repo=other" >"$GW_TMP/ev_other.sse" 2>/dev/null &
GW_PIDS+=("$!")
curl -sN "$API/events?run=$run" >"$GW_TMP/ev_run.sse" 2>/dev/null &
GW_PIDS+=("$!")
curl -sN "$API/events" >"$GW_TMP/ev_all.sse" 2>/dev/null &
GW_PIDS+=("$!")
# One follower stamps each line with the time it arrived.
curl -sN -H 'Accept: text/event-stream' "$API/jobs/$job/logs" 2>/dev/null |
    while IFS= read -r line; do echo "$(date +%s%3N) $line"; done >"$GW_TMP/stamped" &
STAMPPID=$!; GW_PIDS+=("$STAMPPID")
FOLLOWERS=()
for i in $(seq 100); do
    follow "$job" "$GW_TMP/f$i.sse"
    FOLLOWERS+=("$FPID")
done
follow "$bigjob" "$GW_TMP/big.sse"
BIGPID=$FPID
check "100 followers connected" wait_for 20 bash -c \
    "[ \$(grep -c 'stream=open' '$GW_TMP/api.log') -ge 107 ]"
check "a queued job's follower waits, with keep-alive comments" wait_for 10 grep -q '^: keepalive$' "$GW_TMP/f1.sse"
check "a queued job's follower has no chunk yet" bash -c "! grep -q '^event:' '$GW_TMP/f1.sse'"
expect_eq "head of a follow" "200 text/event-stream" \
    "$(curl -s -o /dev/null -m 1 -w '%{http_code} %{content_type}' -H 'Accept: text/event-stream' "$API/jobs/$job/logs")"

gw_worker_start w1
check "the follower of the tick job ends with the job" wait_for 60 ended "$STAMPPID"
for pid in "${FOLLOWERS[@]}"; do wait_for 30 ended "$pid" || break; done
check "every follower ended" ended "${FOLLOWERS[99]}"
stored "$job" >"$GW_TMP/stored"
check "the stored log has quotes, a tab and non-ASCII text" \
    grep -qF "$(printf 'ünïcode "quoted"\ntab\there')" "$GW_TMP/stored"
same=0
for i in $(seq 100); do
    sse_chunks "$GW_TMP/f$i.sse" >"$GW_TMP/got$i"
    cmp -s "$GW_TMP/stored" "$GW_TMP/got$i" && [ "$(grep -c '^event: end$' "$GW_TMP/f$i.sse")" = 1 ] &&
        same=$((same + 1))
done
expect_eq "100 followers got the whole log, byte for byte, and one end each" 100 "$same"

# Live: "a" arrived while the job was still sleeping (4 s), well before "c" (the
# step's echo may come in a chunk of its own: the job's first output is
# stored at once).
ta=$(grep -m1 '"chunk":"\(.*\\n\)\?a\\n' "$GW_TMP/stamped" | cut -d' ' -f1)
tend=$(grep -m1 ' event: end$' "$GW_TMP/stamped" | cut -d' ' -f1)
check "chunks arrive live (first chunk ${ta:-?}, end ${tend:-?})" \
    test -n "$ta" -a -n "$tend" -a $((${tend:-0} - ${ta:-0})) -ge 1500

end=$(sse_data "$GW_TMP/f1.sse" end)
expect_eq "end event" "success 0 $(wc -c <"$GW_TMP/stored")" \
    "$(jq -r '"\(.status) \(.exit_code) \(.next_offset)"' <<<"$end")"
ids=$(grep '^id: ' "$GW_TMP/f1.sse" | cut -d' ' -f2 | tr '\n' ' ')
check "each chunk's id is where the next chunk starts" test -n "$ids"
first_next=$(sse_data "$GW_TMP/f1.sse" chunk | sed -n 2p | jq -r .offset)
expect_eq "id of the first chunk = offset of the second" "$(echo "$ids" | cut -d' ' -f1)" "$first_next"

gw_log "resume with Last-Event-ID"
id2=$(echo "$ids" | cut -d' ' -f2)
curl -sN -H "Last-Event-ID: $id2" -m 10 "$API/jobs/$job/logs?follow=true&offset=0" >"$GW_TMP/resume.sse"
head -c "$id2" "$GW_TMP/stored" >"$GW_TMP/joined"
sse_chunks "$GW_TMP/resume.sse" >>"$GW_TMP/joined"
check "history up to the id plus the resumed stream is the log, no gap, no duplicate" \
    cmp -s "$GW_TMP/stored" "$GW_TMP/joined"
expect_eq "the resumed stream starts at the id" "$id2" "$(sse_data "$GW_TMP/resume.sse" chunk | head -1 | jq -r .offset)"
curl -sN -m 10 "$API/jobs/$job/logs?follow=true&offset=$id2" >"$GW_TMP/resume2.sse"
check "?offset= resumes the same way" cmp -s <(sse_chunks "$GW_TMP/resume.sse") <(sse_chunks "$GW_TMP/resume2.sse")
total=$(wc -c <"$GW_TMP/stored")
curl -sN -m 10 -H "Last-Event-ID: $total" "$API/jobs/$job/logs?follow=true" >"$GW_TMP/resume3.sse"
expect_eq "resuming at the end gives only the end" "end" "$(grep '^event:' "$GW_TMP/resume3.sse" | cut -d' ' -f2 | tr '\n' ' ' | xargs)"

gw_log "a big log, followed and as text"
check "the big job's follower ends" wait_for 60 ended "$BIGPID"
stored "$bigjob" >"$GW_TMP/bigstored"
check "the big log spans several pages" test "$(wc -c <"$GW_TMP/bigstored")" -gt 700000
check "the big log's follower got it all" cmp -s "$GW_TMP/bigstored" <(sse_chunks "$GW_TMP/big.sse")
curl -s -D "$GW_TMP/headers" "$API/jobs/$bigjob/logs.txt" >"$GW_TMP/big.txt"
check "logs.txt is byte-identical to the stored log" cmp -s "$GW_TMP/bigstored" "$GW_TMP/big.txt"
check "logs.txt is text/plain" grep -qi '^content-type: text/plain; charset=utf-8' "$GW_TMP/headers"
curl -s -H 'Accept: text/plain' "$API/jobs/$job/logs" >"$GW_TMP/tick.txt"
check "Accept: text/plain gives the text" cmp -s "$GW_TMP/stored" "$GW_TMP/tick.txt"
check "without Accept the logs are still JSON" bash -c "curl -s '$API/jobs/$job/logs' | jq -e '.chunks | length > 0' >/dev/null"

gw_log "event streams"
check "the run's event stream ended by itself" wait_for 20 ended "$RUNPID"
last=$(sse_data "$GW_TMP/run.sse" run | tail -1)
expect_eq "its last event is the run's final status" "$run success" "$(jq -r '"\(.id) \(.status)"' <<<"$last")"
check "job events carry repo, run, exit code and timestamps" bash -c \
    "sse_data() { awk -v ev=\"event: \$2\" '\$0==ev{c=1;next} c&&/^data: /{sub(/^data: /,\"\"); print; c=0}' \"\$1\"; };
     sse_data '$GW_TMP/ev_app.sse' job | jq -e 'select(.id == \"$job\" and .status == \"success\" and .repo == \"app\"
       and .run_id == \"$run\" and .exit_code == 0 and (.ended_at | test(\"Z$\")) and (.at | test(\"Z$\")))' | grep -q ."
expect_eq "run statuses seen by ?repo=app" "running success" \
    "$(sse_data "$GW_TMP/ev_app.sse" run | jq -r "select(.id == \"$run\") | .status" | tr '\n' ' ' | xargs)"
expect_eq "job statuses of the tick job" "running success" \
    "$(sse_data "$GW_TMP/ev_app.sse" job | jq -r "select(.id == \"$job\") | .status" | tr '\n' ' ' | xargs)"
check "?run= sees the run" grep -q "^event: run$" "$GW_TMP/ev_run.sse"
check "?repo=other sees nothing of app" bash -c "! grep -q '^event:' '$GW_TMP/ev_other.sse'"
run2=$(gw_trigger app2)
check "a failing run finishes" wait_for 30 run_is_final "$run2"
wait_for 10 eval '[ "$(repos_in "$GW_TMP/ev_all.sse")" = "app app2" ]'
expect_eq "the unfiltered stream sees both repos" "app app2" "$(repos_in "$GW_TMP/ev_all.sse")"
expect_eq "?repo=app sees only app" "app" "$(repos_in "$GW_TMP/ev_app.sse")"
check "?run= sees only its run" bash -c "! grep -q '$run2' '$GW_TMP/ev_run.sse'"
job2=$(api GET "/pipelines/runs/$run2" | jq -r '.jobs[0].id')
curl -sN -m 10 "$API/jobs/$job2/logs?follow=true" >"$GW_TMP/fail.sse"
expect_eq "a failed job's end" "failed 3" "$(sse_data "$GW_TMP/fail.sse" end | jq -r '"\(.status) \(.exit_code)"')"
curl -sN -m 10 "$API/pipelines/runs/$run2/events" >"$GW_TMP/run2.sse"
expect_eq "a final run's event stream: its state, then the end" "failed" \
    "$(sse_data "$GW_TMP/run2.sse" run | jq -r .status)"

gw_log "a follower that stops reading is dropped; the others are not held up"
gw_template flood '{"kind": "build", "jobs": [{"name": "flood", "script": ["i=0; while [ $i -lt 200000 ]; do echo flood-line-$i-abcdefghijklmnopqr; i=$((i+1)); done"]}]}' || exit 1
gw_repo flood flood || exit 1
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
body=$(api POST /repos/flood/pipelines/run -H 'Content-Type: application/json' -d '{}')
fjob=$(jq -r '.jobs[0].id' <<<"$body")
# A client with a small receive window that never reads.
python3 - "$API" "$fjob" >"$GW_TMP/slow.out" <<'PY' &
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((u.hostname, u.port))
s.sendall(f"GET {u.path}/jobs/{sys.argv[2]}/logs?follow=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
print("sent", flush=True)
time.sleep(120)
PY
GW_PIDS+=("$!")
follow "$fjob" "$GW_TMP/flood.sse"
FLOODPID=$FPID
check "both followers of the flooding job are connected" wait_for 10 bash -c \
    "[ \$(grep -c 'GET /api/v1/jobs/$fjob/logs status=200 .*stream=open' '$GW_TMP/api.log') = 2 ]"
gw_worker_start w2
check "the reading follower of a flooding job gets to the end" wait_for 120 ended "$FLOODPID"
stored "$fjob" >"$GW_TMP/floodstored"
check "and has the whole log ($(wc -c <"$GW_TMP/floodstored") bytes)" cmp -s "$GW_TMP/floodstored" <(sse_chunks "$GW_TMP/flood.sse")
check "the follower that stopped reading is dropped, with the reason logged" wait_for 15 \
    grep -q "dropping a stream whose client stopped reading" "$GW_TMP/api.log"

gw_log "queued and canceled jobs"
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
body=$(api POST /repos/app2/pipelines/run -H 'Content-Type: application/json' -d '{}')
run3=$(jq -r .id <<<"$body"); job3=$(jq -r '.jobs[0].id' <<<"$body")
follow "$job3" "$GW_TMP/queued.sse"
QPID=$FPID
sleep 1.5
check "the follower of a queued job is still waiting" kill -0 "$QPID"
api POST "/pipelines/runs/$run3/cancel" >/dev/null
check "canceling the queued job ends its follower" wait_for 10 ended "$QPID"
expect_eq "its end" "canceled null 0" "$(sse_data "$GW_TMP/queued.sse" end | jq -r '"\(.status) \(.exit_code) \(.next_offset)"')"
curl -sN -m 5 "$API/jobs/$job3/logs?follow=true" >"$GW_TMP/canceled.sse"
expect_eq "a canceled job that never ran gets its end at once" "end" \
    "$(grep '^event:' "$GW_TMP/canceled.sse" | cut -d' ' -f2 | xargs)"

gw_log "the listening connection is lost and comes back"
listen_pid() { gw_psql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'gitweave-api-listen'"; }
old=$(listen_pid)
body=$(api POST /repos/app2/pipelines/run -H 'Content-Type: application/json' -d '{}')
job4=$(jq -r '.jobs[0].id' <<<"$body")
follow "$job4" "$GW_TMP/relisten.sse"
RPID=$FPID
check "its follower is connected before the outage" wait_for 10 grep -q "GET /api/v1/jobs/$job4/logs status=200 .*stream=open" "$GW_TMP/api.log"
gw_psql -c "SELECT pg_terminate_backend($old)" >/dev/null
check "the API listens again on a new connection" wait_for 10 bash -c \
    "p=\$(psql -X -A -t -d '$DATABASE_URL' -c \"SELECT pid FROM pg_stat_activity WHERE application_name = 'gitweave-api-listen'\"); [ -n \"\$p\" ] && [ \"\$p\" != '$old' ]"
gw_worker_start w3
check "the follower from before the outage gets to the end" wait_for 30 ended "$RPID"
expect_eq "with the whole log and the end" '$ echo x x $ exit 3 failed 3' \
    "$(sse_chunks "$GW_TMP/relisten.sse" | gw_unheaded | xargs) $(sse_data "$GW_TMP/relisten.sse" end | jq -r '"\(.status) \(.exit_code)"')"

gw_log "bad input"
for q in "offset=-1&follow=true" "offset=x&follow=true" "follow=maybe" "offset=99999999999&follow=true"; do
    api GET "/jobs/$job/logs?$q" >/dev/null
    expect_error "logs?$q 400" 400
done
api GET "/jobs/$job/logs" -H 'Accept: text/event-stream' -H 'Last-Event-ID: abc' >/dev/null
expect_error "a bad Last-Event-ID 400" 400
api GET "/jobs/00000000-0000-0000-0000-000000000000/logs?follow=true" >/dev/null
expect_error "following an unknown job 404" 404
api GET "/jobs/00000000-0000-0000-0000-000000000000/logs.txt" >/dev/null
expect_error "logs.txt of an unknown job 404" 404
api GET "/jobs/nope/logs.txt" >/dev/null
expect_error "logs.txt of a bad id 400" 400
api GET "/events?run=nope" >/dev/null
expect_error "events with a bad run 400" 400
api GET "/events?repo=bad%20name" >/dev/null
expect_error "events with a bad repo 400" 400
api GET "/pipelines/runs/00000000-0000-0000-0000-000000000000/events" >/dev/null
expect_error "events of an unknown run 404" 404
curl -sN -m 5 "$API/jobs/$job/logs?follow=true&offset=999999" >"$GW_TMP/past.sse"
expect_eq "an offset past the end of a final log gives the end" "end" \
    "$(grep '^event:' "$GW_TMP/past.sse" | cut -d' ' -f2 | xargs)"

gw_log "live follow from an offset past the stored end, and from the end"
gw_template pause '{"kind": "build", "jobs": [{"name": "p", "script": ["echo 0123456789", "sleep 2", "echo abcdefghij"]}]}' || exit 1
gw_repo pause pause || exit 1
prun=$(gw_trigger pause)
pjob=$(api GET "/pipelines/runs/$prun" | jq -r '.jobs[0].id')
sleeping() { stored "$pjob" | grep -q '^\$ sleep 2$'; }
check "the job sleeps with its first lines stored" wait_for 20 sleeping
cur=$(stored "$pjob" | wc -c)
# The first follower asks for a byte inside the chunk to come, the second
# for the end; each gets exactly the log from its byte.
curl -sN -m 15 "$API/jobs/$pjob/logs?follow=true&offset=$((cur + 5))" >"$GW_TMP/ahead.sse" 2>/dev/null &
AHEAD=$!; GW_PIDS+=("$AHEAD")
sleep 0.5
curl -sN -m 15 "$API/jobs/$pjob/logs?follow=true&offset=$cur" >"$GW_TMP/atend.sse" 2>/dev/null &
ATEND=$!; GW_PIDS+=("$ATEND")
both_ended() { ended "$AHEAD" && ended "$ATEND"; }
check "both followers end with the job" wait_for 20 both_ended
stored "$pjob" >"$GW_TMP/pstored"
expect_eq "the follower from past the end gets the log from its byte" \
    "$(tail -c +$((cur + 6)) "$GW_TMP/pstored")" "$(sse_chunks "$GW_TMP/ahead.sse")"
expect_eq "the follower from the end gets the rest" \
    "$(tail -c +$((cur + 1)) "$GW_TMP/pstored")" "$(sse_chunks "$GW_TMP/atend.sse")"
expect_eq "each ends once" "1 1" "$(grep -c '^event: end$' "$GW_TMP/ahead.sse") $(grep -c '^event: end$' "$GW_TMP/atend.sse")"

gw_log "the cap on streams, and a client that leaves frees its stream"
kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
GITWEAVE_API_MAX_STREAMS=2 gw_api_start || exit 1
opened() { grep -c "GET /api/v1/events status=200 .*stream=open" "$GW_TMP/api.log"; }
before=$(opened)
curl -sN "$API/events" >/dev/null 2>&1 & S1=$!; GW_PIDS+=("$S1")
curl -sN "$API/events" >/dev/null 2>&1 & S2=$!; GW_PIDS+=("$S2")
check "two streams open" wait_for 10 eval '[ "$(opened)" = $((before + 2)) ]'
api GET /events -m 5 >/dev/null
expect_error "a third stream is refused 503" 503
expect_eq "with a reason" "too many streams" "$(jq -r .error <"$GW_TMP/body")"
kill "$S1"; wait "$S1" 2>/dev/null
check "after a client leaves, a new stream opens" wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -m 1 '$API/events')\" = 200 ]"
check "and the API answers ordinary requests" bash -c "curl -s '$API/repos' | jq -e '.repos | length == 5' >/dev/null"

gw_finish
