#!/usr/bin/env bash
# Integration test of the API's HTTP front door against hostile clients:
# cross-site requests (CSRF, foreign Origin, DNS rebinding), the token
# checked before the body, bounded memory, the connection cap, deadlines
# (slowloris), file descriptor exhaustion, and a JSON body for every error.
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1

J=(-H 'Content-Type: application/json')
# The system's Python starts fast (a version manager's shim may not).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
jqv() { jq -r "$1" <"$GW_TMP/body"; }
is_json_error() { jq -e '(.error | type) == "string" and (.detail | type) == "string"' \
    <"$GW_TMP/body" >/dev/null 2>&1; }
expect_error() { expect_eq "$1" "$2" "$(status)"; check "$1: JSON error body" is_json_error; }
runs_count() { gw_psql -c "SELECT count(*) FROM pipeline_runs"; }

# restart_api [ENV=VALUE...]: stop the API if running, start it again with env.
restart_api() {
    local kv
    if [ -n "${GW_API_PID:-}" ]; then kill "$GW_API_PID" 2>/dev/null; wait "$GW_API_PID" 2>/dev/null; fi
    for kv in "$@"; do export "${kv?}"; done
    gw_api_start || return 1
    for kv in "$@"; do unset "${kv%%=*}"; done
    PORT=$(cat "$GW_TMP/api.port")
    ROOT="http://127.0.0.1:$PORT"
}

# hold_connections N: open N idle connections to the API and keep them
# until release_connections.
hold_connections() {
    rm -f "$GW_TMP/hold.ready" "$GW_TMP/hold.done"
    "$PY" - "$PORT" "$1" "$GW_TMP/hold.ready" "$GW_TMP/hold.done" <<'EOF' &
import os, socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
open(sys.argv[3], "w").close()
while not os.path.exists(sys.argv[4]):
    time.sleep(0.05)
EOF
    GW_HOLDER=$!
    wait_for 5 test -e "$GW_TMP/hold.ready"
}
release_connections() { touch "$GW_TMP/hold.done"; wait "$GW_HOLDER"; }

# raw SEND_PYTHON_BYTES_EXPR: send raw bytes on one connection, print the reply
# (the first one, or with RAW_ALL=1 all until the server closes).
raw() {
    "$PY" - "$PORT" "$1" <<'EOF'
import os, socket, sys
whole = os.environ.get("RAW_ALL") == "1"
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
data = eval(sys.argv[2])
try:
    s.sendall(data)
except OSError:
    pass
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
        if b"\r\n\r\n" in out and not whole:
            head, _, rest = out.partition(b"\r\n\r\n")
            n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if n and len(rest) >= n[0]:
                break
except OSError:
    pass
sys.stdout.write(out.decode("latin-1"))
EOF
}
# raw_check DESCRIPTION STATUS PYTHON_BYTES: the status line and a JSON error body.
raw_check() {
    raw "$3" >"$GW_TMP/raw"
    expect_eq "$1" "$2" "$(head -1 "$GW_TMP/raw" | cut -d' ' -f2)"
    sed '1,/^\r$/d' "$GW_TMP/raw" >"$GW_TMP/body"
    check "$1: JSON error body" is_json_error
    check "$1: application/json" grep -qi '^Content-Type: application/json' "$GW_TMP/raw"
}

restart_api || exit 1
gw_template build '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo build || exit 1
base_runs=$(runs_count)

gw_log "CSRF: only JSON (or YAML where documented) bodies"
api POST /repos/demo/pipelines/run -H 'Content-Type: text/plain' -d '{}' >/dev/null
expect_error "text/plain POST refused 415" 415
api POST /repos/demo/pipelines/run -d '{}' >/dev/null
expect_error "form-encoded POST refused 415" 415
api POST /repos/demo/pipelines/run -H 'Content-Type: multipart/form-data; boundary=x' \
    --data-binary $'--x\r\n\r\n{}\r\n--x--\r\n' >/dev/null
expect_error "multipart POST refused 415" 415
api POST /repos/demo/pipelines/run -H 'Content-Type:' -d '{}' >/dev/null
expect_error "body without a Content-Type refused 415" 415
api POST /repos/demo/pipelines/run -H 'Content-Type: application/yaml' -d 'a: 1' >/dev/null
expect_error "YAML where only JSON is taken 415" 415
expect_eq "no run was created" "$base_runs" "$(runs_count)"
api POST /repos/demo/pipelines/run "${J[@]}" -d '{}' >/dev/null
expect_eq "JSON POST accepted" 201 "$(status)"
api POST /repos/demo/pipelines/run >/dev/null
expect_eq "POST without a body accepted" 201 "$(status)"
base_runs=$(runs_count)

gw_log "foreign Origin"
api POST /repos/demo/pipelines/run "${J[@]}" -H 'Origin: http://evil.example' -d '{}' >/dev/null
expect_error "foreign Origin refused 403" 403
api GET /repos -H 'Origin: null' >/dev/null
expect_error "Origin null refused 403" 403
expect_eq "no run was created" "$base_runs" "$(runs_count)"

gw_log "foreign Host on loopback (DNS rebinding)"
api POST /repos/demo/pipelines/run "${J[@]}" -H 'Host: evil.example' -d '{}' >/dev/null
expect_error "foreign Host refused 421" 421
api GET /repos -H "Host: evil.example:$PORT" >/dev/null
expect_error "foreign Host with port refused 421" 421
api GET /repos -H "Host: 127.0.0.1.evil.example" >/dev/null
expect_error "Host that starts like a loopback address refused 421" 421
expect_eq "no run was created" "$base_runs" "$(runs_count)"
for h in localhost "localhost:$PORT" "LOCALHOST:1" 127.0.0.1 "127.0.0.2:80" "[::1]" "[::1]:$PORT"; do
    api GET /repos -H "Host: $h" >/dev/null
    expect_eq "loopback Host $h accepted" 200 "$(status)"
done

gw_log "allowed origins"
restart_api GITWEAVE_ALLOWED_ORIGINS="http://ui.example, https://ci.example:8443" || exit 1
api POST /repos/demo/pipelines/run "${J[@]}" -H 'Origin: https://ci.example:8443' -D "$GW_TMP/headers" -d '{}' >/dev/null
expect_eq "allowed Origin accepted" 201 "$(status)"
check "allowed Origin echoed for CORS" grep -qi '^Access-Control-Allow-Origin: https://ci.example:8443' "$GW_TMP/headers"
api POST /repos/demo/pipelines/run "${J[@]}" -H 'Origin: http://ui.example.evil' -d '{}' >/dev/null
expect_error "origin not in the list refused 403" 403
code=$(curl -s -o /dev/null -D "$GW_TMP/headers" -w '%{http_code}' -X OPTIONS "$API/repos/demo/pipelines/run" \
    -H 'Origin: http://ui.example' -H 'Access-Control-Request-Method: POST')
expect_eq "CORS preflight of an allowed origin 204" 204 "$code"
check "preflight allows Content-Type" grep -qi '^Access-Control-Allow-Headers:.*Content-Type' "$GW_TMP/headers"

gw_log "every error is JSON"
restart_api GITWEAVE_API_MAX_BODY_BYTES=65536 || exit 1
raw_check "unknown method 501" 501 'b"FOO /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"'
raw_check "malformed request line 400" 400 'b"GET\r\n\r\n"'
raw_check "unsupported HTTP version 505" 505 'b"GET /healthz HTTP/2.0\r\nHost: localhost\r\n\r\n"'
raw_check "huge header 431" 431 'b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"'
raw_check "too many headers 431" 431 'b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"X-A: b\r\n" * 500 + b"\r\n"'
raw_check "malformed header line 400" 400 'b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n"'
raw_check "bad Content-Length 400" 400 'b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"'
raw_check "conflicting Content-Length 400" 400 'b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"'
raw_check "Content-Length with chunked 400" 400 'b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"'
raw_check "unknown transfer coding 501" 501 'b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n"'
raw_check "bad chunk size 400" 400 'b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"'
raw_check "HTTP/1.1 without Host 400" 400 'b"GET /healthz HTTP/1.1\r\n\r\n"'
head -c 70000 /dev/zero | tr '\0' ' ' >"$GW_TMP/big"
api POST /repos/demo/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/big" >/dev/null
expect_error "oversize body 413 (Content-Length)" 413
api POST /repos/demo/pipelines/run "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$GW_TMP/big" >/dev/null
expect_error "oversize chunked body 413 (no Content-Length)" 413
raw_check "oversize chunked body in one chunk 413" 413 'b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n"'
api PUT /repos/demo -X PATCH >/dev/null
expect_error "known method on no route 405" 405
api GET /healthz >/dev/null
expect_eq "healthz after the errors" 200 "$(status)"
RAW_ALL=1 raw 'b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"' >"$GW_TMP/raw"
expect_eq "two pipelined requests, two replies" 2 "$(grep -o 'HTTP/1.1 200 OK' "$GW_TMP/raw" | wc -l)"
code=$(curl -s -o "$GW_TMP/body" -w '%{http_code}' -X POST "${J[@]}" -H 'Transfer-Encoding: chunked' \
    --data-binary '{"ref": "main"}' "$API/repos/demo/pipelines/run")
expect_eq "chunked JSON body accepted" 201 "$code"
expect_eq "chunked body read whole" refs/heads/main "$(jqv .ref)"

gw_log "token before the body, bounded memory"
restart_api GITWEAVE_API_TOKEN=s3cret GITWEAVE_API_MAX_CONNECTIONS=2000 || exit 1
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$GW_API_PID/status")
"$PY" - "$PORT" 300 >"$GW_TMP/flood.out" <<'EOF'
import select, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
size = 1 << 20
head = ("POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size).encode()
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head)
    socks.append(s)
# Replies that come before any body byte is sent.
early, got, deadline = 0, {}, time.time() + 5
while len(got) < n and time.time() < deadline:
    r, _, _ = select.select([s for s in socks if s not in got], [], [], 0.2)
    for s in r:
        try:
            got[s] = s.recv(4096)
        except OSError:
            got[s] = b""
early = sum(1 for v in got.values() if v.startswith(b"HTTP/1.1 401"))
# Then everyone sends the body anyway.
body = b" " * size
for s in socks:
    s.setblocking(False)
for _ in range(3):
    for s in socks:
        try:
            s.send(body)
        except OSError:
            pass
time.sleep(1)
print(early)
for s in socks:
    s.close()
EOF
rss_peak=$(awk '/^VmHWM/ {print $2}' "/proc/$GW_API_PID/status")
expect_eq "300 unauthenticated 1 MiB bodies: 401 before the body on each" 300 "$(cat "$GW_TMP/flood.out")"
gw_log "RSS before ${rss_before} kB, peak ${rss_peak} kB"
# The growth, not the absolute figure: a sanitizer build starts far larger.
check "peak RSS grows by under 64 MB (grew $((rss_peak - rss_before)) kB)" \
    test $((rss_peak - rss_before)) -lt 65536
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' -X POST "${J[@]}" \
    --data-binary @"$GW_TMP/big" "$API/repos/demo/pipelines/run")
expect_eq "curl with a wrong token and a body gets 401" 401 "$code"
api GET /healthz >/dev/null
expect_eq "healthz after the flood" 200 "$(status)"

gw_log "connection cap"
restart_api GITWEAVE_API_MAX_CONNECTIONS=8 || exit 1
hold_connections 8
sleep 0.3
api GET /healthz >/dev/null
expect_error "past the cap 503" 503
release_connections
check "healthz once connections are free" wait_for 5 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' $ROOT/healthz) = 200 ]"

gw_log "slowloris"
restart_api GITWEAVE_API_HEADER_TIMEOUT_SECONDS=2 || exit 1
"$PY" - "$PORT" >"$GW_TMP/slow.out" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.5)
start = time.time()
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
reply = b""
while time.time() - start < 10:
    try:
        s.sendall(b"X-Slow: 1\r\n")
    except OSError:
        break
    try:
        b = s.recv(4096)
        if not b:
            break
        reply += b
    except socket.timeout:
        pass
    except OSError:
        break
print("%.1f %s" % (time.time() - start, reply.split(b"\r\n")[0].decode()))
EOF
read -r secs line <"$GW_TMP/slow.out"
check "slowloris cut off by the header deadline (after ${secs}s)" awk "BEGIN{exit !($secs < 5)}"
expect_eq "slowloris gets 408" "HTTP/1.1 408 Request Timeout" "$line"

gw_log "file descriptors exhausted"
kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
(ulimit -n 48; restart_api GITWEAVE_API_MAX_CONNECTIONS=1000 GITWEAVE_API_HEADER_TIMEOUT_SECONDS=8; echo "$GW_API_PID" >"$GW_TMP/api.pid") || exit 1
GW_API_PID=$(cat "$GW_TMP/api.pid"); GW_PIDS+=("$GW_API_PID")
PORT=$(cat "$GW_TMP/api.port"); ROOT="http://127.0.0.1:$PORT"
cpu() { awk '{print $14 + $15}' "/proc/$GW_API_PID/stat"; }
lines_before=$(wc -l <"$GW_TMP/api.log")
hold_connections 100
cpu0=$(cpu)
sleep 3
cpu1=$(cpu)
release_connections
ticks=$((cpu1 - cpu0))
gw_log "API CPU over 3 s out of descriptors: $ticks ticks"
check "no accept spin: under 50 CPU ticks in 3 s (was $ticks)" test "$ticks" -lt 50
log_lines=$(($(wc -l <"$GW_TMP/api.log") - lines_before))
check "accept errors logged a few times, not per try ($log_lines lines)" test "$log_lines" -lt 20
check "healthz works again afterwards" wait_for 10 bash -c "[ \$(curl -s -m 2 -o /dev/null -w '%{http_code}' $ROOT/healthz) = 200 ]"

gw_finish
