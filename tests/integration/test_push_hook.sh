#!/usr/bin/env bash
# The shipped post-receive hooks against an API that needs a token, with the
# local engine, each through the same scenarios: the program (gitweave-hook,
# run by docs/examples/git-hooks/post-receive) and the shell fallback
# (post-receive.sh). The token is read from a file; the shell hook hands it
# to curl only in its config on its stdin (-K -), never on a command line and
# in no file (a curl shim on the PATH records every argument, the mode of
# every @file, and its stdin); the program starts no curl for an http URL
# and, for an https one, hands the token to curl the same way. A token left
# in a git config that others can read is refused; " and \ are escaped, so a
# branch named feat"x, and one with every other odd character git allows,
# starts its run; an annotated tag starts a run of its commit; the settings
# may come from an included config file; the hook prints the ids and URLs of
# the runs it started and why the other templates did not start; with the
# API down it tries again with back-off and, when the API comes back within
# its window, the run starts; when it never comes back, the hook fails loudly
# with a command that, run by hand, starts the run. The program also works
# as hooks/post-receive itself (a symlink).
source "$(dirname "$0")/../lib/postgres.sh"

TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
gw_pg_start
GITWEAVE_API_TOKEN=$TOKEN gw_api_start
API_ROOT=${API%/api/v1}
AUTH=$GW_TMP/auth-header
(umask 077 && printf 'Authorization: Bearer %s\n' "$TOKEN" >"$AUTH")
# The test's own calls carry the token in a header file too.
api() {
    local method=$1 path=$2; shift 2
    curl -s -H @"$AUTH" -o "$GW_TMP/body" -w '%{http_code}' -X "$method" "$API$path" "$@" >"$GW_STATUS_FILE"
    cat "$GW_TMP/body"
}
expect_eq "the API needs the token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$API/repos")"

gw_template feat '{"kind": "build", "on": {"push": {"branches": ["feat*", "main"]}},
  "jobs": [{"name": "b", "script": ["echo \"built $GITWEAVE_REF\""]}]}' || exit 1
gw_template ship '{"kind": "release", "on": {"push": {"tags": ["v*"]}},
  "jobs": [{"name": "b", "script": ["true"]}]}' || exit 1

# A curl on the PATH of the push that records its arguments, the mode of
# every file handed to it with @, and its stdin.
SHIM=$GW_TMP/shim
ARGV=$GW_TMP/curl-argv
STDIN=$GW_TMP/curl-stdin
mkdir -p "$SHIM"
# An https URL in its config is sent as http (the test's API has no TLS).
cat >"$SHIM/curl" <<SH
#!/bin/sh
for a in "\$@"; do
    printf 'arg %s\n' "\$a" >>"$ARGV"
    case \$a in @*) f=\${a#@}; [ -f "\$f" ] && printf 'file %s %s\n' "\$(stat -c %a "\$f")" "\$f" >>"$ARGV" ;; esac
done
cat >"$STDIN"
sed 's#^url = "https://#url = "http://#' "$STDIN" | exec $(command -v curl) "\$@"
SH
chmod +x "$SHIM/curl"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
# gitweave-hook on the PATH of the push, as where the client is installed.
ln -s "$GW_BUILD_DIR/gitweave-hook" "$SHIM/gitweave-hook"
push() { PATH=$SHIM:$PATH git -C "$work" push -q origin "$@" 2>"$GW_TMP/push.err"; }

runs_of() { gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = '$repo'"; }
runs_are() { [ "$(runs_of)" = "$1" ]; }
no_token_in_argv() { ! grep -qsF -- "$TOKEN" "$ARGV"; }
latest() { gw_psql -c "SELECT $1 FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = '$repo' ORDER BY r.created_at DESC LIMIT 1"; }
port=${API_ROOT##*:}
restart_api() {
    GITWEAVE_API_TOKEN=$TOKEN GITWEAVE_API_ADDR=127.0.0.1:$port \
        "$GW_BUILD_DIR/gitweave-api" >>"$GW_TMP/api.log" 2>&1 &
    GW_API_PID=$!
    GW_PIDS+=("$GW_API_PID")
    wait_for 10 curl -sf -o /dev/null "$API_ROOT/healthz"
}
# The token is handed to curl on its stdin only; kind=program starts no curl.
token_went_to_curl_stdin() {
    check "[$kind] curl was called" test -s "$ARGV"
    check "[$kind] the token is on no curl command line" no_token_in_argv
    check "[$kind] curl read its config on its stdin (-K -)" grep -qx -- 'arg -K' "$ARGV"
    check "[$kind] no file was handed to curl" bash -c "! grep -q '^arg @' '$ARGV'"
    check "[$kind] the token reached curl there, as a header" \
        grep -qxF "header = \"Authorization: Bearer $TOKEN\"" "$STDIN"
}
gw_worker_start w1

# hook_scenarios KIND HOOK: the scenarios below with HOOK installed as the
# post-receive hook of a repository of its own.
hook_scenarios() {
kind=$1
repo=hooked-$kind
bare=$GW_TMP/git/$repo.git
work=$GW_TMP/clone-$kind
git init -q --bare -b main "$bare"
install -m 755 "$2" "$bare/hooks/post-receive"
api PUT "/repos/$repo" -H 'Content-Type: application/json' -d "{\"clone_url\": \"$bare\"}" >/dev/null
api PUT "/repos/$repo/templates/ship" >/dev/null
api PUT "/repos/$repo/templates/feat" >/dev/null
check "[$kind] repo registered and template attached ($(status))" test "$(status)" = 201
git init -q -b main "$work"
echo one >"$work/f"
git -C "$work" add f && git -C "$work" commit -qm one
git -C "$work" remote add origin "$bare"

# 1. The token in the repository's config, readable by every local user:
# refused, and said so.
git -C "$bare" config gitweave.url "$API_ROOT"
git -C "$bare" config gitweave.token "$TOKEN"
chmod 644 "$bare/config"
push main
sleep 1
expect_eq "[$kind] a token in a config others can read starts nothing" 0 "$(runs_of)"
check "[$kind] the hook says why it refused the token" grep -q "config.*readable" "$GW_TMP/push.err"
check "[$kind] the token was not sent" no_token_in_argv
git -C "$bare" config --unset gitweave.token

# 2. The documented set-up: the token in a file only its owner can read,
# named by gitweave.tokenfile in a config that is 0600.
chmod 600 "$bare/config"
(umask 077 && printf '%s\n' "$TOKEN" >"$GW_TMP/api-token")
git -C "$bare" config gitweave.tokenfile "$GW_TMP/api-token"
expect_eq "[$kind] git keeps the config at 0600" 600 "$(stat -c %a "$bare/config")"
rm -f "$ARGV"
echo two >"$work/f"
git -C "$work" commit -qam two
push main
check "[$kind] a push to main starts a run" wait_for 10 runs_are 1
if [ "$kind" = shell ]; then
    token_went_to_curl_stdin
else
    check "[$kind] no curl was started" test ! -e "$ARGV"
fi
run=$(latest r.id)
check "[$kind] the hook prints the started run's id" grep -q "$run" "$GW_TMP/push.err"
check "[$kind] the hook prints the run's page" grep -qF "$API_ROOT/runs/$run" "$GW_TMP/push.err"
check "[$kind] the hook says why the tag template did not start" \
    grep -q "ship: not started (branch pushes not enabled)" "$GW_TMP/push.err"

# 3. A branch whose name needs quoting in JSON.
git -C "$work" checkout -q -b 'feat"x'
echo three >"$work/f"
git -C "$work" commit -qam three
push 'feat"x'
check "[$kind] a push to feat\"x starts a run" wait_for 10 runs_are 2
run=$(latest r.id)
expect_eq "[$kind] its ref is the branch, quote and all" 'refs/heads/feat"x' "$(gw_psql -c "SELECT ref FROM pipeline_runs WHERE id = '$run'")"
check "[$kind] the hook prints that run's id" grep -q "$run" "$GW_TMP/push.err"
check "[$kind] the feat\"x run finishes" wait_for 60 run_is_final "$run"
expect_eq "[$kind] the feat\"x run succeeded" success "$(run_status "$run")"
check "[$kind] the token is on no curl command line" no_token_in_argv

# 4. A token file others can read is refused too.
chmod 644 "$GW_TMP/api-token"
echo four >"$work/f"
git -C "$work" commit -qam four
push 'feat"x'
sleep 1
expect_eq "[$kind] a token file others can read starts nothing" 2 "$(runs_of)"
check "[$kind] the hook says why" grep -q "api-token.*readable" "$GW_TMP/push.err"

# 5. The token from the environment (GITWEAVE_API_TOKEN), as for any client.
git -C "$bare" config --unset gitweave.tokenfile
echo five >"$work/f"
git -C "$work" commit -qam five
GITWEAVE_API_TOKEN=$TOKEN push 'feat"x'
check "[$kind] GITWEAVE_API_TOKEN in the environment is used" wait_for 10 runs_are 3
check "[$kind] the token is on no curl command line" no_token_in_argv
# 6. The API down during the push: the hook tries again and the run starts
# once the API is back within the window.
kill "$GW_API_PID" && wait "$GW_API_PID" 2>/dev/null
git -C "$bare" config gitweave.tokenfile "$GW_TMP/api-token"
chmod 600 "$GW_TMP/api-token"
git -C "$bare" config gitweave.retryseconds 20
echo six >"$work/f"
git -C "$work" commit -qam six
push 'feat"x' &
pusher=$!
# The API comes back once the hook has found it down (however slow the machine).
check "[$kind] the hook tries again while the API is down" wait_for 60 grep -q "trying again in" "$GW_TMP/push.err"
expect_eq "[$kind] nothing started while the API is down" 3 "$(runs_of)"
check "[$kind] the API comes back" restart_api
wait "$pusher"
check "[$kind] the push started its run after the API came back" wait_for 10 runs_are 4
check "[$kind] the hook said it tried again" grep -q "trying again in" "$GW_TMP/push.err"
check "[$kind] the hook printed the run once it started" grep -q "1 pipeline run(s) started" "$GW_TMP/push.err"

# 7. The API never comes back within the window: an error, and the command
# it prints starts the run by hand.
kill "$GW_API_PID" && wait "$GW_API_PID" 2>/dev/null
git -C "$bare" config gitweave.retryseconds 3
git -C "$work" tag -a -m release v1.0.0
before=$(date +%s)
push v1.0.0
took=$(($(date +%s) - before))
check "[$kind] the hook gave up within its window (${took}s)" test "$took" -le 15
check "[$kind] the hook says the API could not be reached" grep -q "ERROR: the API at .* could not be reached" "$GW_TMP/push.err"
check "[$kind] it names the ref" grep -q "gitweave:   refs/tags/v1.0.0" "$GW_TMP/push.err"
cmd=$(sed -n 's/^.*gitweave:   cd /cd /p' "$GW_TMP/push.err")
check "[$kind] it prints the command to run by hand" test -n "$cmd" || cat "$GW_TMP/push.err"
expect_eq "[$kind] nothing started" 4 "$(runs_of)"
check "[$kind] the API comes back" restart_api
bash -c "$cmd" 2>"$GW_TMP/replay.err"
check "[$kind] the printed command starts the tag's run" wait_for 10 runs_are 5
expect_eq "[$kind] the release template ran for the tag" "ship refs/tags/v1.0.0" \
    "$(gw_psql -c "SELECT t.name || ' ' || r.ref FROM pipeline_runs r JOIN templates t ON t.id = r.template_id JOIN repos p ON p.id = r.repo_id WHERE p.name = '$repo' ORDER BY r.created_at DESC LIMIT 1")"
expect_eq "[$kind] the annotated tag's run builds its commit" "$(git -C "$work" rev-parse 'v1.0.0^{commit}')" "$(latest r.commit_sha)"
check "[$kind] the replay printed the run" grep -q "1 pipeline run(s) started" "$GW_TMP/replay.err"

# 8. A branch with every odd character git allows in a ref name (a quote, an
# apostrophe, $, a backquote, braces, <>|&;!#%,=+(), non-ASCII): its run's
# ref is exactly that name.
odd='feat"a'"'"'b$c`d{e}<f>|&;!#%,=+(g)-é日'
check "[$kind] git takes the odd name" git check-ref-format "refs/heads/$odd"
git -C "$work" checkout -q -b "$odd"
echo eight >"$work/f"
git -C "$work" commit -qam eight
push "$odd"
check "[$kind] a push to the odd branch starts a run" wait_for 10 runs_are 6
expect_eq "[$kind] its ref is the branch, every character kept" "refs/heads/$odd" "$(latest r.ref)"
check "[$kind] the hook printed it" grep -qF "refs/heads/$odd: 1 pipeline run(s) started" "$GW_TMP/push.err"

# 9. The settings in a file the repository's config includes: git reads it
# for the shell hook; the program hands such a config to git.
git -C "$bare" config --unset gitweave.url
git -C "$bare" config --unset gitweave.retryseconds
printf '[gitweave]\n\turl = "%s" ; a comment\n' "$API_ROOT" >"$GW_TMP/included-$kind"
git -C "$bare" config include.path "$GW_TMP/included-$kind"
echo nine >"$work/f"
git -C "$work" commit -qam nine
push "$odd"
check "[$kind] a push with the URL from an included file starts a run" wait_for 10 runs_are 7
}
hook_scenarios program "$GW_SOURCE_DIR/docs/examples/git-hooks/post-receive"
hook_scenarios shell "$GW_SOURCE_DIR/docs/examples/git-hooks/post-receive.sh"

# The program as hooks/post-receive itself, and an https URL, which it
# hands to curl: the token on curl's stdin, never on its command line.
kind=program
rm "$bare/hooks/post-receive"
ln -s "$GW_BUILD_DIR/gitweave-hook" "$bare/hooks/post-receive"
git -C "$bare" config --unset include.path
git -C "$bare" config gitweave.url "$API_ROOT"
git -C "$bare" config gitweave.tokenfile "$GW_TMP/api-token"
echo ten >"$work/f"
git -C "$work" commit -qam ten
rm -f "$ARGV"
push "$odd"
check "[$kind] the program as the hook itself starts a run" wait_for 10 runs_are 8
check "[$kind] no curl was started for an http URL" test ! -e "$ARGV"
echo eleven >"$work/f"
git -C "$work" commit -qam eleven
GITWEAVE_URL=https://${API_ROOT#http://} push "$odd"
check "[$kind] a push with an https URL starts a run" wait_for 10 runs_are 9
token_went_to_curl_stdin
check "[$kind] the hook printed the run" grep -qF "1 pipeline run(s) started" "$GW_TMP/push.err"

# A token with a line break would end the Authorization header and send the
# rest as a header of its own: refused, nothing sent.
echo twelve >"$work/f"
git -C "$work" commit -qam twelve
GITWEAVE_API_TOKEN="$TOKEN"$'\r\nX-Other: 1' push "$odd"
check "[$kind] a token with a line break is refused" grep -q "control character" "$GW_TMP/push.err"
sleep 1
expect_eq "[$kind] and nothing started" 9 "$(runs_of)"

# An https URL where there is no curl: said at once, no retries, exit 0.
NOCURL=$GW_TMP/nocurl
mkdir -p "$NOCURL"
ln -s "$(command -v git)" "$NOCURL/git"
echo thirteen >"$work/f"
git -C "$work" commit -qam thirteen
before=$(date +%s)
GITWEAVE_URL=https://${API_ROOT#http://} PATH=$NOCURL git -C "$work" push -q origin "$odd" 2>"$GW_TMP/push.err"
rc=$?
took=$(($(date +%s) - before))
check "[$kind] without curl an https URL is refused: it says so" grep -q "curl is not installed" "$GW_TMP/push.err"
check "[$kind] without retrying (${took}s)" test "$took" -le 15
expect_eq "[$kind] the push itself succeeds" 0 "$rc"

# A server (a proxy) that keeps the connection open after a whole reply:
# the reply ends at its Content-Length, not at the close or the timeout.
python3 - "$GW_TMP/keep-open.port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
data = b""
while b"\r\n\r\n" not in data:
    data += c.recv(4096)
body = b'{"runs": [], "templates": []}'
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
time.sleep(30)
PY
keeper=$!
wait_for 10 test -s "$GW_TMP/keep-open.port"
echo fourteen >"$work/f"
git -C "$work" commit -qam fourteen
before=$(date +%s)
GITWEAVE_URL=http://127.0.0.1:$(cat "$GW_TMP/keep-open.port") push "$odd"
took=$(($(date +%s) - before))
kill "$keeper" 2>/dev/null; wait "$keeper" 2>/dev/null
check "[$kind] a reply read up to its Content-Length ends the POST (${took}s)" test "$took" -le 15
expect_eq "[$kind] and is not taken for an API that is down" 0 "$(grep -c "trying again" "$GW_TMP/push.err")"
gw_finish
