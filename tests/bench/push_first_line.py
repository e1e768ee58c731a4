#!/usr/bin/env python3
"""One push, timed to the first log line a live follower reads.

    push_first_line.py API_ROOT CLONE_DIR BARE_DIR

Listens to GET /api/v1/events, starts `git push` of CLONE_DIR's main to
BARE_DIR (whose post-receive hook triggers the run), and as soon as the run
is announced (queued) follows its first job's log (GET /jobs/{id}/logs,
follow=true), until the first chunk arrives. The run's GET and the follow
go on one connection, opened before the push, as a page that already shows
the repository would have it. Prints one line of JSON: the
times (seconds since the epoch, this host's clock, which Postgres shares)
of the push's start, the push's end, the follower's connection and the
first chunk read, with the run and job ids and the chunk's first line.
"""
import http.client
import json
import subprocess
import sys
import time
import urllib.parse


def sse_events(resp):
    """Yield (event, data) of an SSE response, as they arrive."""
    event, data = None, []
    while True:
        line = resp.fp.readline()
        if not line:
            return
        line = line.decode().rstrip("\n")
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


def get(host, port, path, stream=False, conn=None):
    conn = conn or http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", path, headers={"Accept": "text/event-stream"} if stream else {})
    resp = conn.getresponse()
    if resp.status != 200:
        sys.exit("GET %s: HTTP %d" % (path, resp.status))
    return resp


def main():
    root, clone, bare = sys.argv[1:4]
    u = urllib.parse.urlsplit(root)
    host, port = u.hostname, u.port
    events = sse_events(get(host, port, "/api/v1/events", stream=True))
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.connect()
    t_push = time.time()
    push = subprocess.Popen(["git", "-C", clone, "push", "-q", bare, "main"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = None
    for ev, data in events:
        d = json.loads(data)
        if ev == "run" and d.get("status") == "queued":
            run = d["id"]
            break
    body = json.loads(get(host, port, "/api/v1/pipelines/runs/%s" % run, conn=conn).read())
    job = body["jobs"][0]["id"]
    resp = get(host, port, "/api/v1/jobs/%s/logs?follow=true" % job, stream=True, conn=conn)
    t_conn = time.time()
    for ev, data in sse_events(resp):
        if ev == "chunk":
            t_first = time.time()
            chunk = json.loads(data)
            break
    push.wait()
    t_pushed = time.time()
    print(json.dumps({"run": run, "job": job, "push": t_push, "pushed": t_pushed,
                      "connected": t_conn, "first": t_first,
                      "line": chunk["chunk"].split("\n")[0][:60]}))


main()
