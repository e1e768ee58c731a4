#!/usr/bin/env bash
# What a user reaches for every day, against a real API, worker (local
# engine) and Postgres: how long a run waited and how long it ran, the same
# in the client, the API, the psql view and /metrics; the verbs to list,
# show, delete and detach templates and repos, pause and resume runners;
# unique id prefixes; what run, runs, show and logs -f print.
source "$(dirname "$0")/../lib/postgres.sh"

export GITWEAVE_API_TOKEN=daily-test-token
gw_pg_start
gw_api_start
source "$GW_SOURCE_DIR/tests/lib/cli.sh"
run_json() { curl -s "${AUTH[@]}" "$API/pipelines/runs/$1"; }
# secs S: S seconds as the client prints a duration under a minute.
secs() { awk -v s="$1" 'BEGIN { printf "%.1fs", s }'; }

printf 'kind: build\ninputs:\n  MODE: {default: fast}\njobs:\n  - name: one\n    script: ["sleep 1", "echo one ${{ inputs.MODE }}"]\n' >"$GW_TMP/build.yaml"
gw template put "$GW_TMP/build.yaml" && gw repo put hello && gw attach hello build
expect_eq "setup" 0 "$RC"

# ---- durations: a run that waited 2 s for a runner, then ran 1 s ----
"$GW" run hello -f >"$GW_TMP/follow" 2>"$GW_TMP/follow.err" &
follow=$!
wait_for 10 grep -q '^run ' "$GW_TMP/follow" || fail "run -f printed no run line"
waited_run=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$GW_TMP/follow")
sleep 2
gw_worker_start w1
wait "$follow"
expect_eq "run -f of the waiting run exits 0" 0 "$?"
j=$(run_json "$waited_run")
# The API's figures to the millisecond, as psql prints them.
queued=$(printf %.3f "$(jq -r .queued_seconds <<<"$j")") ran=$(printf %.3f "$(jq -r .run_seconds <<<"$j")")
check "API: queued_seconds counts the wait" awk -v q="$queued" 'BEGIN { exit !(q >= 2 && q < 30) }'
check "API: run_seconds counts the run only" awk -v r="$ran" 'BEGIN { exit !(r >= 1 && r < 2) }'
expect_eq "API: queued_seconds is created_at to started_at" \
    "$(gw_psql -c "SELECT round(extract(epoch FROM started_at - created_at)::numeric, 3) FROM pipeline_runs WHERE id = '$waited_run'")" "$queued"
expect_eq "API: a job's run_seconds" \
    "$(gw_psql -c "SELECT round(extract(epoch FROM ended_at - started_at)::numeric, 3) FROM jobs WHERE run_id = '$waited_run'")" \
    "$(printf %.3f "$(jq -r '.jobs[0].run_seconds' <<<"$j")")"
check "run -f: the summary says both" \
    grep -qx -- "---- run $waited_run success: waited $(secs "$queued"), ran $(secs "$ran")" "$GW_TMP/follow"
gw show "$waited_run"
check "show: waited" grep -qx "waited    $(secs "$queued")" "$OUT"
check "show: ran" grep -qx "ran       $(secs "$ran")" "$OUT"
gw runs hello
check "runs: WAITED and RAN columns" grep -Eq '^RUN +STATUS +TEMPLATE +TRIGGER +COMMIT +CREATED +WAITED +RAN +REF$' "$OUT"
check "runs: the run's wait and run time" \
    grep -Eq "^$waited_run +success +build +manual +- +[0-9: -]{19} +$(secs "$queued") +$(secs "$ran") " "$OUT"
expect_eq "psql view run_durations: the same figures" "$queued|$ran" \
    "$(gw_psql -c "SELECT queued_seconds, run_seconds FROM run_durations WHERE id = '$waited_run'")"
curl -s "${AUTH[@]}" "${API%/api/v1}/metrics" >"$GW_TMP/metrics"
expect_eq "metrics: pickup is the queued time" "$queued" \
    "$(awk '/^gitweave_pickup_seconds_sum/ { printf "%.3f", $2 }' "$GW_TMP/metrics")"
expect_eq "metrics: duration is the run time" "$ran" \
    "$(awk '/^gitweave_run_duration_seconds_sum\{status="success"\}/ { printf "%.3f", $2 }' "$GW_TMP/metrics")"
# A run canceled while queued waited until it was canceled and never ran.
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
gw run hello
qrun=$(out)
sleep 0.3
gw cancel "$qrun"
j=$(run_json "$qrun")
check "canceled while queued: waited until canceled, ran null" \
    jq -e '.queued_seconds > 0 and .run_seconds == null' <<<"$j"
gw show "$qrun"
check "show of a run that never ran: ran -" grep -qx "ran       -" "$OUT"
gw_worker_start w1

# ---- templates and repos: list, show, delete, detach ----
for cmd in "template list" "template show" "template delete" "repo list" "repo show" \
    "repo delete" "detach" "runner pause" "runner resume" "runner delete"; do
    gw $cmd --help
    check "$cmd --help" test "$RC" = 0 -a -s "$OUT"
done
printf 'kind: test\njobs:\n  - name: t\n    script: ["true"]\n' >"$GW_TMP/spare.yaml"
gw template put "$GW_TMP/spare.yaml" && gw attach hello spare
gw template list
expect_eq "template list exits 0" 0 "$RC"
check "template list: a header" grep -Eq '^NAME +KIND +VERSION +UPDATED$' "$OUT"
check "template list: each template" \
    bash -c "grep -Eq '^build +build +1 ' '$OUT' && grep -Eq '^spare +test +1 ' '$OUT'"
gw template list --json
expect_eq "template list --json: the API's list" "build spare" "$(jq -r '[.templates[].name] | join(" ")' "$OUT")"
gw template show spare
expect_eq "template show: the template as it was written" "$(cat "$GW_TMP/spare.yaml")" "$(out)"
gw template show nosuch
expect_eq "template show of an unknown template exits 3" 3 "$RC"
check "template show of an unknown template: not found" grep -q "template not found" "$ERR"
gw repo put other --clone-url /srv/git/other.git
gw repo list
check "repo list: a header" grep -Eq '^NAME +BRANCH +CLONE URL$' "$OUT"
check "repo list: each repo" \
    bash -c "grep -Eq '^hello +main +-$' '$OUT' && grep -Eq '^other +main +/srv/git/other.git$' '$OUT'"
gw repo show hello
expect_eq "repo show: the repo and its templates" "repo      hello
branch    main
clone url -
templates
  build  build  version 1
  spare  test   version 1" "$(out)"
gw detach hello spare
expect_eq "detach" "template spare detached from repo hello" "$(out)"
gw repo show hello --json
expect_eq "detach: the template is no longer attached" build "$(jq -r '[.templates[].name] | join(" ")' "$OUT")"
gw detach hello spare
expect_eq "detach of a template not attached exits 3" 3 "$RC"
gw template delete spare
expect_eq "template delete" "template spare deleted" "$(out)"
gw template show spare
expect_eq "a deleted template is gone" 3 "$RC"
gw repo delete other
expect_eq "repo delete" "repo other deleted" "$(out)"
gw repo delete other
expect_eq "repo delete of an unknown repo exits 3" 3 "$RC"
check "repo delete of an unknown repo: not found" grep -q "repo not found" "$ERR"
gw template
expect_eq "template without a verb exits 3" 3 "$RC"
check "template without a verb: names the verbs" \
    grep -q 'template takes one of: list, show, put, delete' "$ERR"
gw repo frob
check "repo with an unknown verb: names the verbs" \
    grep -q 'unknown command "repo frob": repo takes one of: list, show, put, delete' "$ERR"

# ---- runner pause and resume ----
gw runner pause w1
expect_eq "runner pause" "runner w1 paused: it claims no new run" "$(out)"
expect_eq "the runner is paused" t "$(gw_psql -c "SELECT paused FROM runners WHERE name = 'w1'")"
gw runner resume w1
expect_eq "runner resume" "runner w1 resumed" "$(out)"
expect_eq "the runner is resumed" f "$(gw_psql -c "SELECT paused FROM runners WHERE name = 'w1'")"
gw runner pause nosuch
expect_eq "runner pause of an unknown runner exits 3" 3 "$RC"

# ---- run without -t names the flag ----
gw template put "$GW_TMP/spare.yaml" && gw attach hello spare
gw run hello
expect_eq "run with two templates and no -t exits 3" 3 "$RC"
check "run without -t: names the -t flag" grep -q 'name one with -t TEMPLATE' "$ERR"
gw detach hello spare

# ---- unique id prefixes, as git takes them ----
short=${waited_run:0:8}
gw show "$short"
expect_eq "show with an 8-character prefix" 0 "$RC"
check "show with a prefix: the run" grep -qx "run       $waited_run" "$OUT"
gw show "${waited_run:0:7}"
expect_eq "a 7-character prefix exits 3" 3 "$RC"
check "a 7-character prefix: says 8" grep -q "at least 8 characters" "$ERR"
gw show ffffffff
check "an unknown prefix: said so" grep -q 'no run with an id starting with "ffffffff"' "$ERR"
job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$waited_run'")
gw logs "${job:0:10}"
expect_eq "logs of a job by its prefix" "$(gw_psql -c "SELECT string_agg(chunk, '' ORDER BY \"offset\") FROM logs WHERE job_id = '$job'")" "$(out)"
# A second run whose id starts with the same 8 characters.
twin="$short-0000-4000-8000-000000000000"
[ "${waited_run:9:4}" = 0000 ] && twin="$short-1111-4000-8000-000000000000"
gw_psql -c "INSERT INTO pipeline_runs SELECT (jsonb_populate_record(r, jsonb_build_object('id', '$twin', 'rerun_of', NULL))).* FROM pipeline_runs r WHERE r.id = '$waited_run'"
gw show "$short"
expect_eq "an ambiguous prefix exits 3" 3 "$RC"
expect_eq "an ambiguous prefix: the candidates" "gitweave: the id prefix \"$short\" is ambiguous; it matches:
  run $(sort <<<"$twin
$waited_run" | head -1)
  run $(sort <<<"$twin
$waited_run" | tail -1)" "$(err)"
gw rerun "${waited_run:0:13}"
expect_eq "rerun with a longer, unique prefix" 0 "$RC"
rerun=$(out)
gw cancel "${twin:0:13}"
check "cancel by prefix reaches the API" grep -q "run already finished: run $twin" "$ERR"

# ---- show: rerun_of and attempt; logs -f: the status line at the end ----
wait_for 30 run_is_final "$rerun" || fail "the rerun did not finish"
gw show "${rerun:0:8}"
check "show: rerun of" grep -qx "rerun of  $waited_run" "$OUT"
check "show: attempt" grep -qx "attempt   1" "$OUT"
gw show "$waited_run"
check "show of a run that is no rerun: no rerun line" bash -c "! grep -q '^rerun of' '$OUT'"
gw logs "$rerun" -f
expect_eq "logs -f of a run exits 0" 0 "$RC"
check "logs -f of a run: ends with the run's summary" \
    bash -c "tail -n 2 '$OUT' | head -1 | grep -Eq '^---- run $rerun success: waited [0-9.]+s, ran [0-9.]+s$'"
check "logs -f of a run: the job's line last" bash -c "tail -n 1 '$OUT' | grep -Eq '^  one +success +[0-9.]+s  exit 0$'"
rjob=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$rerun'")
gw logs "$rjob" -f
expect_eq "logs -f of a job: ends with its status line" "---- job $rjob success (exit 0)" "$(tail -n 1 "$OUT")"
gw logs "$rjob"
check "logs without -f: no status line" bash -c "! grep -q '^----' '$OUT'"

# ---- run -f of a run canceled while it runs: no stray line ----
printf 'kind: build\njobs:\n  - name: s\n    script: ["echo early", "sleep 30"]\n' >"$GW_TMP/slow.yaml"
gw template put "$GW_TMP/slow.yaml" && gw repo put slowrepo && gw attach slowrepo slow
"$GW" run slowrepo -f >"$GW_TMP/follow2" 2>&1 &
f2=$!
wait_for 15 grep -q '^early$' "$GW_TMP/follow2" || fail "the slow run did not start"
gw cancel "$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$GW_TMP/follow2")"
wait "$f2"
expect_eq "run -f of a canceled run exits 2" 2 "$?"
check "run -f of a canceled run: the summary" grep -Eq '^---- run [0-9a-f-]{36} canceled: waited' "$GW_TMP/follow2"
check "run -f of a canceled run: no stray canceled line" bash -c "! grep -qx '  canceled' '$GW_TMP/follow2'"

# ---- each job's log starts with one [gitweave] line: what ran ----
gw run hello -i MODE='slow and "careful"' --ref refs/heads/dev --commit 0123abc -f
expect_eq "a run with an input value" 0 "$RC"
hrun=$(sed -n '1s/^run \([0-9a-f-]*\):.*/\1/p' "$OUT")
hjob=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$hrun'")
first=$(gw_psql -c "SELECT substring(chunk FROM '^[^\n]*') FROM logs WHERE job_id = '$hjob' AND \"offset\" = 0")
expect_eq "the job's log starts with its header" \
    "[gitweave] job one, run ${hrun:0:8} attempt 1, runner w1 (local engine), image none, ref refs/heads/dev, commit 0123abc, inputs {\"MODE\":\"slow and \\\"careful\\\"\"}" "$first"
check "run -f shows it first under the job's name" grep -qxF -- "$first" "$OUT"

gw_finish
