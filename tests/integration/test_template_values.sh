#!/usr/bin/env bash
# What a template value may do, end to end with the local engine:
# - an expanded value is never shell code: a pushed ref `refs/heads/x$(id)`
#   and an input `x"; echo INJECTED; echo "` reach the script as text, in
#   every quoting context, while image and env keep plain substitution;
# - a NUL inside a JSON or YAML string is refused (422 naming the field),
#   never cut, in template bodies, trigger and attachment inputs, repo
#   fields and push hook bodies;
# - documents and bodies far beyond the documented caps are refused quickly
#   (linear-time checks) while /healthz keeps answering.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
gw_worker_start w1

SHA=0123456789abcdef0123456789abcdef01234567
J=(-H 'Content-Type: application/json')
Y=(-H 'Content-Type: application/yaml')
jqv() { jq -r "$1" <"$GW_TMP/body"; }
# millis: a clock for timing requests.
millis() { date +%s%3N; }

gw_log "an expanded value is never shell code"
gw_template echo '{
  "kind": "build",
  "inputs": {"MSG": {"default": "plain"}},
  "jobs": [{"name": "show",
            "env": {"E": "env=${{ inputs.MSG }}"},
            "script": ["echo \"dq=${{ inputs.MSG }}\"",
                       "echo sq='"'"'${{ inputs.MSG }}'"'"'",
                       "echo bare=${{ inputs.MSG }}",
                       "echo \"ref=${{ ref }}\" ref2=${{ ref }}",
                       "echo \"$E\""]}]}' || exit 1
gw_repo app echo || exit 1

# A ref that git accepts and that is shell code when pasted into a script.
ref='refs/heads/x$(id)'
api POST /repos/app/hooks/push "${J[@]}" \
    -d "$(jq -cn --arg ref "$ref" --arg sha "$SHA" '{ref: $ref, before: $sha, after: $sha}')" >/dev/null
expect_eq "push with a hostile ref starts a run" 201 "$(status)"
prun=$(jqv '.runs[0].id')
check "push run finishes" wait_for 60 run_is_final "$prun"
expect_eq "push run succeeded" success "$(run_status "$prun")"
pjob=$(api GET "/pipelines/runs/$prun" | jq -r '.jobs[0].id')
plog=$(gw_logs "$pjob")
echo "$plog" | sed 's/^/    push log: /'
check "the ref is printed literally" grep -qxF "ref=$ref ref2=$ref" <<<"$plog"
check "the ref's command substitution never ran (no uid=)" bash -c '! grep -q "uid=" <<<"$1"' _ "$plog"

value='x"; echo INJECTED; echo "'
run=$(gw_trigger app "$(jq -cn --arg v "$value" '{inputs: {MSG: $v}}')")
check "manual run with a hostile input" grep -Eq '^[0-9a-f-]{36}$' <<<"$run"
check "manual run finishes" wait_for 60 run_is_final "$run"
expect_eq "manual run succeeded" success "$(run_status "$run")"
mjob=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
mlog=$(gw_job_log "$mjob")
echo "$mlog" | sed 's/^/    manual log: /'
expect_eq "every quoting context shows the value as text" \
    "dq=$value
sq=$value
bare=$value
ref=refs/heads/main ref2=refs/heads/main
env=$value" "$(grep -v '^\$ ' <<<"$mlog")"
expect_eq "the log's first line shows the value, as JSON text" \
    "inputs $(jq -cn --arg v "$value" '{MSG: $v}')" "$(gw_logs "$mjob" | head -n 1 | grep -o 'inputs {.*}$')"
check "INJECTED never printed on a line of its own" bash -c '! grep -qx "INJECTED" <<<"$1"' _ "$mlog"
spec=$(gw_psql -c "SELECT spec::text FROM pipeline_runs WHERE id = '$run'")
check "the frozen script refers to a variable" \
    jq -e '.[0].script[0] == "echo \"dq=${GITWEAVE_INPUT_MSG}\""' <<<"$spec"
check "the frozen env holds the value" jq -e --arg v "$value" '.[0].env.GITWEAVE_INPUT_MSG == $v' <<<"$spec"
check "env keeps plain substitution" jq -e --arg v "env=$value" '.[0].env.E == $v' <<<"$spec"

api PUT /templates/reserved "${J[@]}" \
    -d '{"kind": "build", "jobs": [{"name": "a", "script": ["true"], "env": {"GITWEAVE_INPUT_X": "1"}}]}' >/dev/null
expect_eq "a template env name in the reserved namespace is refused" 422 "$(status)"
expect_eq "and the field is named" "jobs[0].env.GITWEAVE_INPUT_X" "$(jqv .field)"

gw_log "a NUL inside a string is refused, never cut"
# expect_nul DESCRIPTION FIELD: the last reply is a 422 naming FIELD.
expect_nul() {
    expect_eq "$1: 422" 422 "$(status)"
    check "$1: the detail names $2" jq -e --arg f "$2" '.detail | contains($f)' "$GW_TMP/body"
}
api PUT /templates/nul "${J[@]}" \
    -d '{"kind": "build", "jobs": [{"name": "a", "script": ["echo shown\u0000; echo hidden"]}]}' >/dev/null
expect_nul "JSON template with \\u0000" "jobs[0].script[0]"
api PUT /templates/nul "${Y[@]}" --data-binary $'kind: build\njobs:\n  - name: a\n    script:\n      - "echo shown\\0; echo hidden"\n' >/dev/null
expect_nul "YAML template with a \\0 escape" "jobs[0].script[0]"
printf 'kind: build\njobs:\n  - name: a\n    script:\n      - echo shown\0; echo hidden\n' >"$GW_TMP/nul.yaml"
api PUT /templates/nul "${Y[@]}" --data-binary @"$GW_TMP/nul.yaml" >/dev/null
expect_nul "YAML template with a raw NUL byte" "jobs[0].script[0]"
api PUT /templates/nul "${J[@]}" -d '{"kind": "build", "jobs": [{"name": "a", "script": ["true"], "env": {"A\u0000B": "x"}}]}' >/dev/null
expect_nul "JSON template with \\u0000 in a key" "jobs[0].env"
api GET /templates/nul >/dev/null
expect_eq "nothing was stored" 404 "$(status)"

api POST /repos/app/pipelines/run "${J[@]}" -d '{"inputs": {"MSG": "shown\u0000hidden"}}' >/dev/null
expect_nul "trigger input with \\u0000" "inputs.MSG"
api PUT /repos/app/templates/echo "${J[@]}" -d '{"inputs": {"MSG": "shown\u0000hidden"}}' >/dev/null
expect_nul "attachment input with \\u0000" "inputs.MSG"
api PUT /repos/nulrepo "${J[@]}" -d '{"clone_url": "https://git.example.com/a\u0000b.git"}' >/dev/null
expect_nul "repo clone_url with \\u0000" "clone_url"
api GET /repos/nulrepo >/dev/null
expect_eq "the repo was not created" 404 "$(status)"
api POST /repos/app/hooks/push "${J[@]}" -d "{\"ref\": \"refs/heads/main\\u0000x\", \"after\": \"$SHA\"}" >/dev/null
expect_nul "push ref with \\u0000" "ref"
expect_eq "no run from the NUL push" 1 "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE trigger = 'push'")"

gw_log "caps, enforced in linear time"
# timed_api BOUND_MS DESCRIPTION METHOD PATH ARGS...: the request and a
# concurrent /healthz both finish within the bound.
timed_api() {
    local bound=$1 desc=$2 t0 t1 h
    shift 2
    t0=$(millis)
    api "$@" >/dev/null &
    local pid=$!
    sleep 0.2
    h=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "${API%/api/v1}/healthz")
    wait "$pid"
    t1=$(millis)
    echo "    $desc: $((t1 - t0)) ms, concurrent healthz: $h"
    check "$desc: answered within ${bound} ms (took $((t1 - t0)))" test $((t1 - t0)) -lt "$bound"
    check "$desc: healthz answered meanwhile ($h)" \
        awk -v h="$h" -v b="$bound" 'BEGIN { split(h, a, " "); exit !(a[1] == 200 && a[2] * 1000 < b) }'
}
python3 - "$GW_TMP/keys.yaml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("kind: build\njobs:\n  - name: a\n    script: [true]\n    env:\n")
    for i in range(60000):
        f.write(f"      K{i}: v\n")
EOF
timed_api 5000 "YAML template with 60,000 keys in one mapping" PUT /templates/many "${Y[@]}" --data-binary @"$GW_TMP/keys.yaml"
expect_eq "60,000 keys refused 422" 422 "$(status)"
check "the detail names the limit" jq -e '.detail | test("at most [0-9]+ keys")' "$GW_TMP/body"

python3 - "$GW_TMP/keys.json" <<'EOF'
import json, sys
env = {f"K{i}": "v" for i in range(60000)}
json.dump({"kind": "build", "jobs": [{"name": "a", "script": ["true"], "env": env}]}, open(sys.argv[1], "w"))
EOF
timed_api 5000 "JSON template with 60,000 keys in one mapping" PUT /templates/many "${J[@]}" --data-binary @"$GW_TMP/keys.json"
expect_eq "60,000 JSON keys refused 422" 422 "$(status)"
check "the detail names the limit" jq -e '.detail | test("at most [0-9]+")' "$GW_TMP/body"

# A template stored before the caps existed, with 30,000 inputs, and a
# trigger naming all of them.
gw_template wide '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
python3 - "$GW_TMP/wide.json" "$GW_TMP/trigger.json" <<'EOF'
import json, sys
names = [f"I{i}" for i in range(30000)]
doc = {"kind": "build", "on": {"push": {"branches": None}, "manual": {}}, "clean": False,
       "inputs": {n: {"type": "string", "required": False} for n in names},
       "jobs": [{"name": "a", "image": None, "script": ["true"], "env": {}, "timeout": None,
                 "allow_failure": False}]}
json.dump(doc, open(sys.argv[1], "w"))
json.dump({"template": "wide", "inputs": {n: "v" for n in names}}, open(sys.argv[2], "w"))
EOF
gw_psql -c "UPDATE templates SET document = pg_read_file('$GW_TMP/wide.json')::jsonb WHERE name = 'wide'" 2>/dev/null ||
    gw_psql -c "UPDATE templates SET document = \$j\$$(cat "$GW_TMP/wide.json")\$j\$::jsonb WHERE name = 'wide'"
api PUT /repos/app/templates/wide >/dev/null
timed_api 5000 "trigger with 30,000 inputs" POST /repos/app/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/trigger.json"
expect_eq "30,000 inputs refused 422" 422 "$(status)"
check "the detail names the limit" jq -e '.detail | test("at most [0-9]+ inputs")' "$GW_TMP/body"

python3 - "$GW_TMP/deep.yaml" <<'EOF'
import sys
open(sys.argv[1], "w").write("kind: build\njobs:\n  - name: a\n    script: [true]\n    env: " + "[" * 40 + "]" * 40 + "\n")
EOF
api PUT /templates/deep "${Y[@]}" --data-binary @"$GW_TMP/deep.yaml" >/dev/null
expect_eq "YAML nested 40 deep refused 422" 422 "$(status)"
check "the detail names the depth limit" jq -e '.detail | test("deeper than [0-9]+")' "$GW_TMP/body"

api GET /healthz >/dev/null
expect_eq "healthz after all that" 200 "$(status)"
check "API alive" kill -0 "$GW_API_PID"

gw_finish
