#!/usr/bin/env python3
"""Raw HTTP clients for the lifetime tests (test_stream_lifetimes.sh):
  raw_clients.py PORT MARKER COUNT PATH...
opens COUNT connections per PATH to 127.0.0.1:PORT and sends each
`GET PATH`; waits until each has received MARKER ("-": nothing, send and
go on); prints "open"; then, on a line from stdin, closes every
connection with a reset (SO_LINGER 0), as a client that dies does, and
prints "closed"."""
import socket
import struct
import sys

port, marker, count, paths = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
socks = []
for path in paths:
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        socks.append(s)
if marker != "-":
    for s in socks:
        s.settimeout(30)
        got = b""
        while marker.encode() not in got:
            data = s.recv(65536)
            if not data:
                sys.exit(f"a client's stream ended before {marker!r}: {got[:300]!r}")
            got += data
print("open", flush=True)
sys.stdin.readline()
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
print("closed", flush=True)
