#!/usr/bin/env python3
"""A scripted API for tests/integration/test_cli.sh: one job's log as a
Server-Sent Events stream that breaks off mid-event, then, on the
reconnect, resends bytes already sent (from an earlier offset), joins data
lines, and ends. Every request's path goes to the log file (argv[2]); the
port goes to argv[1]."""
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

# First connection: a comment, one chunk sent a few bytes at a time with
# CRLF line ends, then half of the next event and a close.
FIRST = [b": stream opened\n\n",
         b"event: chunk\r\nid: 6\r\n", b"data: {\"offset\": 0, ", b"\"chunk\": \"hello\\n\"}\r", b"\n\r\n",
         b"event: chunk\nid: 12\nda", b"ta: {\"offset\": 6, \"chu"]
# The reconnect (offset=6): from offset 3 (3 bytes already printed), a
# data field over two lines, the end.
SECOND = [b"event: chunk\nid: 12\ndata: {\"offset\": 3, \"chunk\": \"lo\\nworld\\n\"}\n\n",
          b"event: chunk\nid: 16\ndata: {\"offset\": 12,\ndata:  \"chunk\": \"bye\\n\"}\n\n",
          b": keep-alive\n\n",
          b"event: end\ndata: {\"status\": \"failed\", \"exit_code\": 1, \"next_offset\": 16}\n\n"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(sys.argv[2], "a") as f:
            f.write(self.path + " " + self.headers.get("Accept", "") + "\n")
        if not self.path.startswith("/api/v1/jobs/"):
            body = b'{"error": "run not found", "detail": "no such run"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in FIRST if self.path.endswith("offset=0") else SECOND:
            self.wfile.write(piece)
            self.wfile.flush()
            time.sleep(0.05)


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
