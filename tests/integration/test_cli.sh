#!/usr/bin/env bash
# The gitweave client against a real API, worker (local engine) and
# Postgres: every command, its text and --json output, errors shown as the
# API's error and detail, live log follow, and the exit statuses (0 success,
# 1 failed run, 2 canceled run, 3 usage/network/API error, 130 Ctrl-C).
source "$(dirname "$0")/../lib/postgres.sh"

export GITWEAVE_API_TOKEN=cli-test-token
gw_pg_start
gw_api_start
gw_worker_start w1
source "$GW_SOURCE_DIR/tests/lib/cli.sh"
no_json_in_err() { ! grep -q '[{}]' "$ERR"; }
# tty_run COMMAND: run it on a pseudo-terminal; what the terminal got goes to $OUT.
tty_run() { script -qec "$1" /dev/null >"$OUT" 2>&1; }

# ---- usage errors: 3, with the usage; --help: 0 ----
gw
expect_eq "no command exits 3" 3 "$RC"
check "no command prints the usage" grep -q "usage: gitweave COMMAND" "$ERR"
gw frobnicate
expect_eq "unknown command exits 3" 3 "$RC"
check "unknown command is named" grep -q 'unknown command "frobnicate"' "$ERR"
gw run
expect_eq "missing argument exits 3" 3 "$RC"
check "missing argument prints the command's usage" grep -q "usage: gitweave run REPO" "$ERR"
gw runs hello --limit 0
expect_eq "bad --limit exits 3" 3 "$RC"
gw run hello -i NOEQUALS
expect_eq "bad -i exits 3" 3 "$RC"
check "bad -i says why" grep -q 'takes NAME=VALUE' "$ERR"
gw run --help
expect_eq "run --help exits 0" 0 "$RC"
check "run --help prints its usage on stdout" grep -q -- "--commit SHA" "$OUT"
for cmd in "logs" "runs" "show" "cancel" "rerun" "runners" "template put" "repo put" "attach"; do
    gw $cmd --help
    check "$cmd --help" test "$RC" = 0 -a -s "$OUT"
done

# ---- network and API errors: 3, shown as error and detail ----
GITWEAVE_URL=http://127.0.0.1:$(gw_free_port) gw runners
expect_eq "unreachable API exits 3" 3 "$RC"
check "unreachable API is said so" grep -q "could not reach the API" "$ERR"
GITWEAVE_URL=http://gwuser:s3cret-pw@127.0.0.1:$(gw_free_port)/?token=t0ken gw runners
expect_eq "unreachable API with credentials in its URL exits 3" 3 "$RC"
check "credentials in GITWEAVE_URL are never printed" bash -c "! grep -Eq 'gwuser|s3cret|t0ken' '$ERR'"
check "the address is printed without them" grep -q "could not reach the API at http://\*\*\*@127.0.0.1:[0-9]*/?token=\*\*\*: " "$ERR"
# A server that is not the API (a 404 page): its address printed without them too.
www_port=$(gw_free_port)
mkdir -p "$GW_TMP/www"
python3 -m http.server "$www_port" --bind 127.0.0.1 --directory "$GW_TMP/www" >/dev/null 2>&1 &
GW_PIDS+=($!)
wait_for 60 curl -s -o /dev/null "http://127.0.0.1:$www_port/" || fail "the web server did not start"
GITWEAVE_URL=http://gwuser:s3cret-pw@127.0.0.1:$www_port gw runners
expect_eq "not the API, with credentials in its URL: said so without them" \
    "gitweave: the API at http://***@127.0.0.1:$www_port/api/v1 answered HTTP 404" "$(err)"
GITWEAVE_TOKEN=wrong-token gw runners
expect_eq "bad token exits 3" 3 "$RC"
check "bad token shows the API's error and detail" \
    grep -q 'unauthorized: this API needs the header "Authorization: Bearer <token>"' "$ERR"
check "bad token: no raw JSON" no_json_in_err
GITWEAVE_TOKEN= GITWEAVE_API_TOKEN= gw runners
expect_eq "no token exits 3" 3 "$RC"
check "no token: hint to set GITWEAVE_TOKEN" grep -q "set GITWEAVE_TOKEN" "$ERR"
gw show 00000000-0000-4000-8000-000000000000
expect_eq "unknown run exits 3" 3 "$RC"
check "unknown run: not found" grep -q "run not found: there is no run with id" "$ERR"
gw show not-a-uuid
expect_eq "invalid run id exits 3" 3 "$RC"
check "invalid run id: the API's error" grep -q "invalid run id" "$ERR"

# ---- template put, repo put, attach ----
cat >"$GW_TMP/hello.yaml" <<'YAML'
kind: build
inputs:
  GREETING: {default: hello}
jobs:
  - name: first
    script:
      - echo "${{ inputs.GREETING }} from $GITWEAVE_JOB_NAME"
      - printf 'no newline at the end'
  - name: second
    script: [echo second job, echo "é ü 日本"]
YAML
gw template put "$GW_TMP/hello.yaml"
expect_eq "template put exits 0" 0 "$RC"
expect_eq "template named after the file" "template hello created (version 1)" "$(out)"
gw template put "$GW_TMP/hello.yaml"
expect_eq "template put again: updated" "template hello updated (version 1)" "$(out)"
printf '{"kind": "test", "jobs": [{"name": "ok", "script": ["echo fine"]}, {"name": "bad", "script": ["echo about to fail", "exit 7"]}, {"name": "after", "script": ["echo never"]}]}' >"$GW_TMP/broken.json"
gw template put "$GW_TMP/broken.json" failing
expect_eq "JSON template under a given name" "template failing created (version 1)" "$(out)"
printf 'kind: build\njobs:\n  - name: s\n    script: ["echo early", "sleep 30", "echo late"]\n' |
    { "$GW" template put - slow >"$OUT" 2>"$ERR"; }
expect_eq "template from standard input" "template slow created (version 1)" "$(out)"
gw template put -
expect_eq "stdin without a name exits 3" 3 "$RC"
printf 'kind: build\njobs: [\n' >"$GW_TMP/bad.yaml"
gw template put "$GW_TMP/bad.yaml"
expect_eq "invalid YAML exits 3" 3 "$RC"
check "invalid YAML: error and detail with the line" grep -q "^gitweave: invalid YAML: line" "$ERR"
check "invalid YAML: no raw JSON" no_json_in_err
gw template put "$GW_TMP/missing.yaml"
expect_eq "missing file exits 3" 3 "$RC"
check "missing file named" grep -q "could not read" "$ERR"

gw repo put hello
expect_eq "repo put: created" "repo hello created" "$(out)"
gw repo put hello --branch trunk --json
expect_eq "repo put --json: the API's reply" trunk "$(jq -r .default_branch "$OUT")"
gw repo put hello --branch main
expect_eq "repo put again: updated" "repo hello updated" "$(out)"
gw repo put hello --clone-url /srv/git/x.git --json
expect_eq "repo put --clone-url sets it" "/srv/git/x.git main" "$(jq -r '"\(.clone_url) \(.default_branch)"' "$OUT")"
gw repo put hello --clone-url '' --json
expect_eq "repo put --clone-url '' removes it" null "$(jq -r .clone_url "$OUT")"
gw attach hello hello -i GREETING=hi
expect_eq "attach" "template hello attached to repo hello" "$(out)"
gw attach hello nosuch
expect_eq "attach an unknown template exits 3" 3 "$RC"
check "attach an unknown template: not found" grep -q "not found" "$ERR"
gw repo put other && gw attach other failing && gw repo put slowrepo && gw attach slowrepo slow
expect_eq "second and third repos" 0 "$RC"

# ---- run -f: live logs, summary, exit 0 ----
gw run hello -f
expect_eq "run -f of a succeeding run exits 0" 0 "$RC"
run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$OUT")
check "run -f names the run first" grep -Eq '^[0-9a-f-]{36}$' <<<"$run"
expect_eq "run -f then the address of its page" "  $GITWEAVE_URL/runs/$run" "$(sed -n 2p "$OUT")"
expect_eq "run -f prints each job's header and log" \
'==> first
$ echo "${GITWEAVE_INPUT_GREETING} from $GITWEAVE_JOB_NAME"
hi from first
$ printf '"'"'no newline at the end'"'"'
no newline at the end
==> second
$ echo second job
second job
$ echo "é ü 日本"
é ü 日本' "$(sed -n '3,14p' "$OUT" | gw_unheaded_jobs)"
expect_eq "each job's log starts with what ran: its inputs' values, runner, image, ref and commit" \
    "[gitweave] job first, run ${run:0:8} attempt 1, runner w1 (local engine), image none, ref refs/heads/main, commit none, inputs {\"GREETING\":\"hi\"}" \
    "$(sed -n 4p "$OUT")"
check "the second job's too" grep -qxF "[gitweave] job second, run ${run:0:8} attempt 1, runner w1 (local engine), image none, ref refs/heads/main, commit none, inputs {\"GREETING\":\"hi\"}" "$OUT"
check "summary line of the run" grep -Eq "^---- run $run success: waited [0-9.]+s, ran [0-9.]+s$" "$OUT"
check "summary line per job with its duration" grep -Eq '^  first +success +[0-9.]+s  exit 0$' "$OUT"
check "summary of the second job" grep -Eq '^  second +success +[0-9.]+s  exit 0$' "$OUT"
expect_eq "the run really succeeded" success "$(run_status "$run")"
first_job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$run' AND position = 0")
check "run -f read the log as an event stream" \
    grep -q "GET /api/v1/jobs/$first_job/logs status=200 .*stream=open" "$GW_TMP/api.log"

gw run hello -i GREETING=bye
expect_eq "run without -f exits 0" 0 "$RC"
run2=$(out)
check "run without -f prints the run id" grep -Eq '^[0-9a-f-]{36}$' <<<"$run2"
check "it finishes" wait_for 30 run_is_final "$run2"
gw run hello --json -t hello --ref refs/heads/dev --commit 0123abc
expect_eq "run --json: the run as created" "queued refs/heads/dev 0123abc" \
    "$(jq -r '"\(.status) \(.ref) \(.commit)"' "$OUT")"
run3=$(jq -r .id "$OUT")
gw run hello -t nosuch
expect_eq "run of an unknown template exits 3" 3 "$RC"
check "run of an unknown template: not found" grep -q "template not found" "$ERR"
gw run nosuchrepo
expect_eq "run of an unknown repo exits 3" 3 "$RC"

# ---- a failing run: exit 1 ----
gw run other -f
expect_eq "run -f of a failing run exits 1" 1 "$RC"
check "failing job's log shown" grep -q "^about to fail$" "$OUT"
check "failed run in the summary" grep -Eq "^---- run [0-9a-f-]{36} failed: waited " "$OUT"
check "failed job with its exit code" grep -Eq '^  bad +failed +[0-9.]+s  exit 7' "$OUT"
check "skipped job in the summary" grep -Eq '^  after +skipped +-$' "$OUT"
check "the skipped job has no header" bash -c "! grep -q '^==> after' '$OUT'"
failed_run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$OUT")

# ---- show, logs, runs, runners ----
gw show "$run"
expect_eq "show exits 0" 0 "$RC"
check "show: status" grep -q "^status    success$" "$OUT"
check "show: repo and template" grep -q "^template  hello (version 1)$" "$OUT"
check "show: a line per job" grep -Eq '^  second +success' "$OUT"
check "show: the run's page" grep -qxF "page      $GITWEAVE_URL/runs/$run" "$OUT"
gw show "$run" --json
expect_eq "show --json: the API's run" "$run success 2" "$(jq -r '"\(.id) \(.status) \(.jobs | length)"' "$OUT")"

gw logs "$run"
expect_eq "logs of a run: every job with its header" \
'==> first
$ echo "${GITWEAVE_INPUT_GREETING} from $GITWEAVE_JOB_NAME"
hi from first
$ printf '"'"'no newline at the end'"'"'
no newline at the end
==> second
$ echo second job
second job
$ echo "é ü 日本"
é ü 日本' "$(out | gw_unheaded_jobs)"
job1=$(curl -s "${AUTH[@]}" "$API/pipelines/runs/$run" | jq -r '.jobs[0].id')
gw logs "$job1"
expect_eq "logs of a job: its bytes as stored" \
    "$(gw_psql -c "SELECT string_agg(chunk, '' ORDER BY \"offset\") FROM logs WHERE job_id = '$job1'")" "$(out)"
check "logs of a job: no header" bash -c "! grep -q '==>' '$OUT'"
gw logs "$job1" --json
expect_eq "logs --json of a job" "success hi from first" "$(jq -r '"\(.status) \(.log | split("\n")[2])"' "$OUT")"
gw logs "$run" --json
expect_eq "logs --json of a run" "first second" "$(jq -r 'map(.name) | join(" ")' "$OUT")"
gw logs "$failed_run" -f
expect_eq "logs -f of a failed run exits 1" 1 "$RC"
gw logs "$job1" -f
expect_eq "logs -f of a succeeded job exits 0" 0 "$RC"
gw logs 00000000-0000-4000-8000-000000000000
expect_eq "logs of an unknown id exits 3" 3 "$RC"
check "logs of an unknown id: job not found" grep -q "job not found" "$ERR"

check "run3 finishes" wait_for 30 run_is_final "$run3"
gw runs hello
expect_eq "runs exits 0" 0 "$RC"
check "runs: a header line" grep -Eq '^RUN +STATUS +TEMPLATE +TRIGGER +COMMIT +CREATED +WAITED +RAN +REF$' "$OUT"
expect_eq "runs: a line per run, newest first" "$run3 $run2 $run" "$(awk 'NR > 1 {print $1}' "$OUT" | tr '\n' ' ' | sed 's/ $//')"
check "runs: status, template, trigger" grep -Eq "^$run +success +hello +manual " "$OUT"
gw runs
expect_eq "runs without a repo exits 0" 0 "$RC"
check "runs without a repo: a REPO column" grep -Eq '^RUN +STATUS +REPO +TEMPLATE +TRIGGER +COMMIT +CREATED +WAITED +RAN +REF$' "$OUT"
check "runs without a repo: each run with its repo" grep -Eq "^$run +success +hello +hello +manual " "$OUT"
gw runs --status success --json
check "runs --status without a repo: the API's list across repos" \
    jq -e '(.runs | length) >= 3 and all(.runs[]; .status == "success")' "$OUT"
gw runs hello --limit 1 --json
expect_eq "runs --limit 1 --json" "1 $run3" "$(jq -r '"\(.runs | length) \(.runs[0].id)"' "$OUT")"
gw runs other --status success
expect_eq "runs --status: only the header" 1 "$(wc -l <"$OUT")"
gw runs hello --status bogus
expect_eq "runs --status bogus exits 3" 3 "$RC"
check "runs --status bogus: the API's detail" grep -q "invalid status: status is one of" "$ERR"

gw runners
expect_eq "runners exits 0" 0 "$RC"
check "runners: the worker" grep -Eq '^w1 +idle +local ' "$OUT"
gw runners --json
expect_eq "runners --json" w1 "$(jq -r '.runners[0].name' "$OUT")"

# ---- live follow, Ctrl-C, cancel: exit 2 ----
"$GW" run slowrepo -f >"$GW_TMP/follow1" 2>"$GW_TMP/follow1.log" &
f1=$!
check "the early line is printed while the job runs" wait_for 15 grep -q '^early$' "$GW_TMP/follow1"
slow_run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$GW_TMP/follow1")
expect_eq "and the run is still running" running "$(run_status "$slow_run")"
"$GW" logs "$slow_run" -f >"$GW_TMP/follow2" 2>"$GW_TMP/follow2.log" &
f2=$!
check "a second follower (logs -f) gets the history" wait_for 10 grep -q '^early$' "$GW_TMP/follow2"
kill -INT "$f2"
wait "$f2"
expect_eq "Ctrl-C while following exits 130" 130 "$?"
check "Ctrl-C says the run goes on" grep -q "stopped following; the run goes on" "$GW_TMP/follow2.log"
expect_eq "Ctrl-C does not cancel the run" running "$(run_status "$slow_run")"
gw cancel "$slow_run"
expect_eq "cancel exits 0" 0 "$RC"
# The reply reads the run after the request: its runner may have stopped it
# already (a busy machine), and the client then says so.
cancel_said() { [[ "$(out)" =~ ^run\ $slow_run(: cancel requested; its runner stops it| canceled)$ ]]; }
check "cancel of a running run" cancel_said
wait "$f1"
expect_eq "run -f of a canceled run exits 2" 2 "$?"
check "canceled run in the summary" grep -Eq "^---- run $slow_run canceled: waited " "$GW_TMP/follow1"
check "late line never printed" bash -c "! grep -q '^late$' '$GW_TMP/follow1'"
gw cancel "$slow_run"
expect_eq "cancel of a final run exits 3" 3 "$RC"
check "cancel of a final run: the API's error" grep -q "run already finished: run $slow_run is canceled" "$ERR"

# ---- rerun: a new run of a finished run's jobs ----
gw run hello -f
expect_eq "run -f of hello exits 0" 0 "$RC"
done_run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$OUT")
gw rerun "$done_run" -f
expect_eq "rerun -f of a successful run exits 0" 0 "$RC"
rerun=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$OUT")
check "rerun started another run" test -n "$rerun" -a "$rerun" != "$done_run"
gw show "$rerun" --json
expect_eq "the rerun points back to its original" "$done_run" "$(jq -r .rerun_of "$OUT")"
gw rerun "$rerun"
expect_eq "rerun without -f exits 0" 0 "$RC"
check "rerun without -f prints the new run's id" grep -Eq '^[0-9a-f-]{36}$' "$OUT"
gw rerun 00000000-0000-0000-0000-000000000000
expect_eq "rerun of an unknown run exits 3" 3 "$RC"
check "rerun of an unknown run: an error, not JSON" no_json_in_err

# ---- a job's terminal escapes: shown, never obeyed; --raw keeps them ----
# A clipboard write (OSC 52), a title (OSC 0), a link (OSC 8), a screen
# clear, concealed text (SGR 8), a C1 CSI (U+009B) and a bell, between plain
# colours (16, 256 and 24-bit), and a colour left on at the end.
cat >"$GW_TMP/escapes.json" <<'JSON'
{"kind": "build", "jobs": [{"name": "esc", "script": [
  "printf '\\033]52;c;cHduZWQ=\\007clip \\033]0;TITLE\\007title \\033[2Jclear \\033[8mhidden\\033[0m\\n'",
  "printf '\\033]8;;http://example.com/\\033\\\\link\\033]8;;\\033\\\\ \\302\\23331mc1 \\a\\n'",
  "printf '\\033[1;31mred\\033[0m \\033[38;5;208mx\\033[38;2;1;2;3my \\033[32mleft green'"
]}, {"name": "quoted", "script": ["exit 3 # \u001b]0;TITLE\u0007"]}]}
JSON
gw template put "$GW_TMP/escapes.json" && gw repo put escrepo && gw attach escrepo escapes
gw run escrepo -f
expect_eq "run -f of a job printing escapes (then one failing) exits 1" 1 "$RC"
esc_run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$OUT")
# No control byte but \t, \n and \r, and no ESC but in an allowed colour.
only_colours() {
    ! sed -E $'s/\033\\[([0-9;]*)m/<SGR \\1>/g' "$1" |
        LC_ALL=C grep -qaP '[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]'
}
shows_escapes() {
    grep -qF '^[]52;c;cHduZWQ=^Gclip ^[]0;TITLE^Gtitle ^[[2Jclear ^[[8mhidden' "$1" &&
        grep -qF '^[]8;;http://example.com/^[\link^[]8;;^[\ M-^[31mc1 ^G' "$1" &&
        grep -qF $'\033[1;31mred\033[0m \033[38;5;208mx\033[38;2;1;2;3my \033[32mleft green\033[0m' "$1"
}
check "run -f: only colours reach the output" only_colours "$OUT"
check "run -f: other escapes shown, colours kept, a colour left on reset" shows_escapes "$OUT"
check "run -f: an error quoting a script line shows its escapes" \
    grep -qF '"exit 3 # ^[]0;TITLE^G"' "$OUT"
gw show "$esc_run"
check "show: an error quoting a script line shows its escapes" grep -qF '"exit 3 # ^[]0;TITLE^G"' "$OUT"
check "show: only colours" only_colours "$OUT"
NO_COLOR=1 tty_run "'$GW' logs $esc_run"
check "logs on a terminal: only colours reach it" only_colours "$OUT"
check "logs on a terminal: other escapes shown" shows_escapes "$OUT"
NO_COLOR=1 tty_run "'$GW' logs $esc_run -f"
check "logs -f on a terminal: only colours reach it" only_colours "$OUT"
check "logs -f on a terminal: other escapes shown" shows_escapes "$OUT"
NO_COLOR=1 tty_run "'$GW' logs $esc_run --raw"
check "logs --raw: the bytes as stored" grep -qF $'\033]52;c;cHduZWQ=\007clip \033]0;TITLE\007title \033[2Jclear \033[8mhidden' "$OUT"
check "logs --raw: the C1 CSI as stored" grep -qF $'\302\23331mc1 \a' "$OUT"
esc_job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$esc_run' AND name = 'esc'")
gw logs "$esc_job" --raw
expect_eq "logs --raw of a job: its bytes as stored" \
    "$(gw_psql -c "SELECT string_agg(chunk, '' ORDER BY \"offset\") FROM logs WHERE job_id = '$esc_job'")" "$(out)"
gw logs "$esc_job" --json
check "logs --json: the bytes as stored, escaped by JSON" \
    jq -e '.log | contains("\u001b]52;c;cHduZWQ=\u0007clip")' "$OUT"

# A queued run (no worker) canceled at once.
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
gw run hello
queued=$(out)
"$GW" run slowrepo -f >"$GW_TMP/follow3" 2>&1 &
f3=$!
sleep 0.5
queued2=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$GW_TMP/follow3")
gw cancel "$queued" --json
expect_eq "cancel --json of a queued run" canceled "$(jq -r .status "$OUT")"
gw cancel "$queued2"
expect_eq "cancel of a queued run" "run $queued2 canceled" "$(out)"
wait "$f3"
expect_eq "run -f of a run canceled while queued exits 2" 2 "$?"
gw logs "$queued2" -f
expect_eq "logs -f of a canceled run exits 2" 2 "$RC"
# Waiting for a runner: a spinner on a terminal, none with NO_COLOR.
timeout 2 script -qec "env -u NO_COLOR '$GW' run hello -f" /dev/null >"$GW_TMP/spin" 2>&1
check "a spinner while the run waits, on a terminal" grep -q "waiting for" "$GW_TMP/spin"
timeout 2 script -qec "NO_COLOR=1 '$GW' run hello -f" /dev/null >"$GW_TMP/spin" 2>&1
check "no spinner with NO_COLOR" bash -c "! grep -q 'waiting for' '$GW_TMP/spin'"

# ---- an event stream that breaks off: resumed at the next offset ----
python3 "$GW_SOURCE_DIR/tests/integration/sse_script_server.py" "$GW_TMP/sse.port" "$GW_TMP/sse.log" &
GW_PIDS+=($!)
wait_for 60 test -s "$GW_TMP/sse.port" || fail "scripted event-stream server did not start"
job=11111111-1111-4111-8111-111111111111
GITWEAVE_URL=http://127.0.0.1:$(cat "$GW_TMP/sse.port") gw logs "$job" -f
expect_eq "event stream: every byte once, in order, across a broken stream, then the job's status" \
"hello
world
bye
---- job $job failed (exit 1)" "$(out)"
expect_eq "event stream: the end event's status gives the exit status" 1 "$RC"
expect_eq "event stream: asked for a stream, then resumed at the next unread offset" \
"/api/v1/pipelines/runs/$job application/json
/api/v1/jobs/$job/logs?offset=0 text/event-stream
/api/v1/jobs/$job/logs?offset=6 text/event-stream" "$(cat "$GW_TMP/sse.log")"

# ---- colour and spinner only on a terminal, never with NO_COLOR ----
gw show "$run"
check "no colour when stdout is not a terminal" bash -c "! grep -q $'\033' '$OUT'"
NO_COLOR= tty_run "env -u NO_COLOR '$GW' show $run"
check "colour on a terminal" grep -q $'\033\[32msuccess' "$OUT"
NO_COLOR=1 tty_run "'$GW' show $run"
check "no colour on a terminal with NO_COLOR" bash -c "! grep -q $'\033' '$OUT'"

gw_finish
