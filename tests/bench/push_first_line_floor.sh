#!/usr/bin/env bash
# What of a push's time is git's and what is the hook's: `git push` of an
# empty commit to a local bare repository with no hook, with an empty
# `#!/bin/sh` hook, with the shell hook (post-receive.sh) and with
# gitweave-hook (a symlink), each hook posting to a stub of the API that
# answers at once (no database), timed by hyperfine (wall and CPU).
#   tests/bench/push_first_line_floor.sh [build-dir] [runs]   (default 40)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
runs=${2:-40}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
stub=
trap '[ -n "$stub" ] && kill "$stub"; rm -rf "$tmp"' EXIT
cat >"$tmp/stub.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        b = b'{"runs": [{"id": "0b5e0000-0000-0000-0000-000000000000", "template": "t"}], "templates": []}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
coproc STUB { exec python3 "$tmp/stub.py" 2>/dev/null; }
stub=$STUB_PID
read -r port <&"${STUB[0]}"
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com
for k in nohook empty shell program; do
    git init -q --bare -b main "$tmp/$k.git"
    git -C "$tmp/$k.git" config gitweave.url "http://127.0.0.1:$port"
    git -C "$tmp/$k.git" config gitweave.repo app
done
printf '#!/bin/sh\n' >"$tmp/empty.git/hooks/post-receive"
chmod 755 "$tmp/empty.git/hooks/post-receive"
install -m 755 "$src/docs/examples/git-hooks/post-receive.sh" "$tmp/shell.git/hooks/post-receive"
ln -s "$build/gitweave-hook" "$tmp/program.git/hooks/post-receive"
git init -q -b main "$tmp/clone"
git -C "$tmp/clone" commit -q --allow-empty -m first
for k in nohook empty shell program; do git -C "$tmp/clone" push -q "$tmp/$k.git" main 2>/dev/null; done
echo "## $(date -u '+%F %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs pushes each"
hyperfine -N -w 3 -r "$runs" --style basic --export-markdown "$tmp/table.md" \
    --prepare "git -C $tmp/clone commit -q --allow-empty -m x" \
    -n 'no hook' "git -C $tmp/clone push -q $tmp/nohook.git main" \
    -n 'empty sh hook' "git -C $tmp/clone push -q $tmp/empty.git main" \
    -n 'post-receive.sh' "git -C $tmp/clone push -q $tmp/shell.git main" \
    -n 'gitweave-hook' "git -C $tmp/clone push -q $tmp/program.git main" |
    grep -E '^(Benchmark|  Time|  Range)'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$tmp/table.md"
