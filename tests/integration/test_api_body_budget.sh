#!/usr/bin/env bash
# Request bodies have one budget in all (GITWEAVE_API_BODY_BUDGET_BYTES),
# token or not: 300 clients send 1 MiB bodies at once (Content-Length,
# Expect: 100-continue, then all but the last byte, held); past the budget
# a request gets 503 with a JSON error and Retry-After before its body is
# read, as does a chunked body while the budget is full; requests without
# a body are served meanwhile; the API's peak RSS stays bounded; once the
# bodies are answered the budget is whole again.
source "$(dirname "$0")/../lib/postgres.sh"

# On a sanitizer build, freed bodies would wait in ASan's quarantine and
# count in the RSS.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
MIB=1048576
BUDGET=$((16 * MIB))
gw_pg_start || exit 1
# The largest body is the whole budget, so that the last check can see
# that all of it was given back.
GITWEAVE_API_MAX_CONNECTIONS=2000 GITWEAVE_API_BODY_BUDGET_BYTES=$BUDGET \
    GITWEAVE_API_MAX_BODY_BYTES=$BUDGET gw_api_start || exit 1
PORT=$(cat "$GW_TMP/api.port")
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$GW_API_PID/status")

# Prints one JSON object: the final statuses of the 300 (by status), how
# many were told to go on (100), whether every 503 was a JSON error with
# Retry-After, the chunked request's and a GET's statuses while the
# budget was full.
"$PY" - "$PORT" 300 "$MIB" >"$GW_TMP/flood.json" 2>"$GW_TMP/flood.err" <<'EOF'
import json, socket, sys, threading

port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = memoryview(b'"' + b"a" * (size - 2) + b'"')
held = threading.Barrier(n + 1, timeout=120)
release = threading.Event()
results = [None] * n
lock = threading.Lock()


def reply(f, first=None):
    """Read one HTTP reply (whose status line may be read already):
    (status, headers, body)."""
    status = int((first or f.readline()).split()[1])
    headers = {}
    while True:
        line = f.readline().strip()
        if not line:
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    data = f.read(int(headers.get("content-length", "0")))
    return status, headers, data


def request(head):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(120)
    s.sendall(head)
    return s, s.makefile("rb")


def client(i):
    head = ("PUT /api/v1/templates/big%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "Expect: 100-continue\r\n\r\n" % (i, size)).encode()
    s, f = request(head)
    try:
        line = f.readline()
        if line.startswith(b"HTTP/1.1 100"):
            f.readline()
            s.sendall(body[:-1])
            held.wait()
            release.wait()
            s.sendall(body[-1:])
            results[i] = (True,) + reply(f)
        else:
            results[i] = (False,) + reply(f, line)
            held.wait()
    finally:
        s.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
held.wait()
# The budget is full: a chunked body is refused before it is read; a
# request without a body is served.
s, f = request(b"PUT /api/v1/templates/chunked HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
               b"Expect: 100-continue\r\n\r\n")
chunked = reply(f)[0]
s.close()
s, f = request(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
healthz = reply(f)[0]
s.close()
release.set()
for t in threads:
    t.join()
statuses = {}
busy_ok = True
for went_on, status, headers, data in results:
    statuses[str(status)] = statuses.get(str(status), 0) + 1
    if status == 503:
        try:
            e = json.loads(data)
            busy_ok = busy_ok and isinstance(e["error"], str) and isinstance(e["detail"], str)
        except (ValueError, KeyError):
            busy_ok = False
        busy_ok = busy_ok and headers.get("retry-after") is not None and not went_on
print(json.dumps({"statuses": statuses, "went_on": sum(1 for r in results if r[0]),
                  "busy_ok": busy_ok, "chunked": chunked, "healthz": healthz,
                  "went_on_503": sum(1 for r in results if r[0] and r[1] == 503)}))
EOF
rss_peak=$(awk '/^VmHWM/ {print $2}' "/proc/$GW_API_PID/status")
cat "$GW_TMP/flood.err"
out=$(cat "$GW_TMP/flood.json")
gw_log "flood: $out"
gw_log "RSS before ${rss_before} kB, peak ${rss_peak} kB"
went_on=$(jq -r .went_on <<<"$out")
busy=$(jq -r '.statuses["503"] // 0' <<<"$out")
check "some requests are told to go on with their body ($went_on)" test "$went_on" -gt 0
check "no more bodies than fit in the budget are read at once ($went_on <= $((BUDGET / MIB)))" \
    test "$went_on" -le $((BUDGET / MIB))
expect_eq "the rest get 503 before their body" $((300 - went_on)) "$busy"
expect_eq "every 503 is a JSON error with Retry-After, before the body" true "$(jq -r .busy_ok <<<"$out")"
expect_eq "a body that was read is answered on its own merits (not 503)" 0 "$(jq -r .went_on_503 <<<"$out")"
expect_eq "a chunked body while the budget is full gets 503" 503 "$(jq -r .chunked <<<"$out")"
expect_eq "a request without a body is served while the budget is full" 200 "$(jq -r .healthz <<<"$out")"
# The growth, not the absolute figure: a sanitizer build starts far larger.
check "peak RSS grows by under 64 MB (grew $((rss_peak - rss_before)) kB)" \
    test $((rss_peak - rss_before)) -lt 65536

# The budget is given back: a body as large as it all fits again.
{ printf '"'; head -c $((BUDGET - 2)) /dev/zero | tr '\0' a; printf '"'; } >"$GW_TMP/whole.json"
code=$(curl -s -o "$GW_TMP/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary @"$GW_TMP/whole.json" "$API/repos/whole")
expect_eq "afterwards a body of the whole budget is read (a string is not a repo: 400)" 400 "$code"
gw_finish
