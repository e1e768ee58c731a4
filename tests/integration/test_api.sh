#!/usr/bin/env bash
# Integration test of the REST API (gitweave-api) against a throwaway
# Postgres: every endpoint, good and bad requests, events, auth, and the
# database going away.
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1

SHA=0123456789abcdef0123456789abcdef01234567
ZERO=0000000000000000000000000000000000000000
J=(-H 'Content-Type: application/json')

# jqe FILTER [FILE]: jq -e without the output (for check).
jqe() { jq -e "$@" >/dev/null; }
# jqv FILTER: apply a jq filter to the last body.
jqv() { jq -r "$1" <"$GW_TMP/body"; }
# header NAME: a header of the last reply made with -D "$GW_TMP/headers".
header() { grep -i "^$1:" "$GW_TMP/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# is_json_error: the last body is {"error": str, "detail": str}.
is_json_error() { jq -e '(.error | type) == "string" and (.detail | type) == "string"' \
    <"$GW_TMP/body" >/dev/null; }
# expect_status DESCRIPTION CODE: the status of the last request.
expect_status() { expect_eq "$1" "$2" "$(status)"; }
# expect_error DESCRIPTION CODE: the status, and a JSON error body.
expect_error() { expect_eq "$1" "$2" "$(status)"; check "$1: JSON error body" is_json_error; }

# Events: a LISTEN client records every payload on the channel.
"$GW_BUILD_DIR/tests/gw_listen" 600 >"$GW_TMP/events" 2>"$GW_TMP/listen.err" &
GW_PIDS+=("$!")
wait_for 60 grep -q listening "$GW_TMP/listen.err" || fail "gw_listen did not start"
# saw_event JQ-CONDITION: some recorded event satisfies the condition.
saw_event() { wait_for 5 bash -c "jq -e 'select($1)' '$GW_TMP/events' | grep -q ." ; }

gw_log "health"
api GET /healthz >/dev/null
expect_status "healthz 200" 200
expect_eq "healthz body" ok "$(jqv .status)"
api GET /readyz >/dev/null
expect_status "readyz 200" 200
curl -s -o /dev/null -w '%{http_code}' "${API%/api/v1}/healthz" >"$GW_STATUS_FILE"
expect_status "healthz also at the root" 200

gw_log "routing"
api GET /nope >/dev/null
expect_error "unknown route 404" 404
api PATCH /repos/demo -D "$GW_TMP/headers" >/dev/null
expect_error "wrong method 405" 405
expect_eq "405 Allow header" "GET, HEAD, PUT, DELETE" "$(header Allow)"
api DELETE /repos >/dev/null
expect_error "DELETE /repos 405" 405

gw_log "repos"
api PUT /repos/demo "${J[@]}" -d '{"clone_url": "https://git.example.com/demo.git"}' >/dev/null
expect_status "repo created 201" 201
expect_eq "repo name" demo "$(jqv .name)"
expect_eq "repo default branch" main "$(jqv .default_branch)"
check "repo timestamps are RFC 3339 UTC" \
    jqe '.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' "$GW_TMP/body"
repo_id=$(jqv .id)
api PUT /repos/demo "${J[@]}" -d '{"default_branch": "trunk"}' >/dev/null
expect_status "repo updated 200" 200
expect_eq "same repo id" "$repo_id" "$(jqv .id)"
expect_eq "clone_url kept" "https://git.example.com/demo.git" "$(jqv .clone_url)"
expect_eq "default branch changed" trunk "$(jqv .default_branch)"
api PUT /repos/demo >/dev/null
expect_status "repo PUT without body 200" 200
api GET /repos/demo >/dev/null
expect_status "GET repo 200" 200
expect_eq "GET repo body" trunk "$(jqv .default_branch)"
api GET /repos/missing >/dev/null
expect_error "unknown repo 404" 404
api PUT '/repos/bad%20name' >/dev/null
expect_error "bad repo name 400" 400
api PUT '/repos/.hidden' >/dev/null
expect_error "repo name starting with a dot 400" 400
api PUT "/repos/$(printf 'x%.0s' {1..101})" >/dev/null
expect_error "repo name too long 400" 400
api PUT /repos/demo "${J[@]}" -d '{"clone_url": 5}' >/dev/null
expect_error "repo clone_url wrong type 400" 400
api PUT /repos/demo "${J[@]}" -d '{"owner": "x"}' >/dev/null
expect_error "repo unknown field 400" 400
api PUT /repos/demo "${J[@]}" -d '[1, 2' >/dev/null
expect_error "repo malformed JSON 400" 400
for r in multi bare hooks paging; do api PUT "/repos/$r" >/dev/null; done
api GET /repos >/dev/null
expect_status "list repos 200" 200
expect_eq "list repos" "bare demo hooks multi paging" "$(jqv '[.repos[].name] | join(" ")')"

gw_log "templates"
BUILD='{"kind": "build",
  "inputs": {"VERSION": {"type": "string", "required": true},
             "MODE": {"type": "choice", "options": ["fast", "slow"], "default": "fast"}},
  "jobs": [{"name": "compile", "image": "alpine:3", "script": ["echo ${{ inputs.VERSION }} ${{ run.id }}"]},
           {"name": "package", "script": ["echo ${{ inputs.MODE }} ${{ repo.name }} ${{ ref }} ${{ commit.sha }}"]}]}'
api PUT /templates/build "${J[@]}" -d "$BUILD" >/dev/null
expect_status "template created 201" 201
expect_eq "template version 1" 1 "$(jqv .version)"
expect_eq "template kind" build "$(jqv .kind)"
check "template document normalised" jqe '.document.jobs[1].env == {}' "$GW_TMP/body"
api PUT /templates/build "${J[@]}" -d "$BUILD" >/dev/null
expect_status "identical template PUT 200" 200
expect_eq "identical PUT keeps the version" 1 "$(jqv .version)"
api PUT /templates/build -H 'Content-Type:' -d "$(jq -c '.jobs[0].image = "alpine:3.19"' <<<"$BUILD")" >/dev/null
expect_error "template body without a Content-Type 415" 415
api PUT /templates/build "${J[@]}" -d "$(jq -c '.jobs[0].image = "alpine:3.19"' <<<"$BUILD")" >/dev/null
expect_status "changed template PUT 200" 200
expect_eq "changed PUT bumps the version" 2 "$(jqv .version)"
api PUT /templates/broken "${J[@]}" \
    -d '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}, {"name": "b", "script": []}]}' >/dev/null
expect_error "invalid template 422" 422
expect_eq "invalid template error" "invalid template" "$(jqv .error)"
expect_eq "invalid template field" "jobs[1].script" "$(jqv .field)"
check "invalid template detail names the field" jqe '.detail | startswith("jobs[1].script: ")' "$GW_TMP/body"
api GET /templates/broken >/dev/null
expect_error "refused template not stored" 404
api PUT /templates/broken "${J[@]}" -d '{"kind": "build", "jobs": [' >/dev/null
expect_error "template malformed JSON 400" 400
api PUT /templates/broken -H 'Content-Type: text/plain' -d 'kind: build' >/dev/null
expect_error "template unsupported media type 415" 415
api PUT /templates/broken -d '{"kind": "build"}' >/dev/null
expect_error "template sent as a form (curl -d) 415" 415
api PUT /templates/broken "${J[@]}" >/dev/null
expect_error "template without body 400" 400

YAML=$'# a test template\nkind: test\non:\n  push:\n    branches: [main, "release/*"]\njobs:\n  - name: unit\n    script:\n      - make test   # runs the suite\n'
api PUT /templates/yamly -H 'Content-Type: application/yaml' --data-binary "$YAML" >/dev/null
expect_status "YAML template created 201" 201
expect_eq "YAML template kind" test "$(jqv .kind)"
expect_eq "YAML branch filter" "main release/*" "$(jqv '.document.on.push.branches | join(" ")')"
api PUT /templates/yamlbad -H 'Content-Type: text/yaml; charset=utf-8' \
    --data-binary $'kind: test\njobs:\n  - name: [unit\n' >/dev/null
expect_error "bad YAML 422" 422
check "bad YAML has line and column" jqe '(.line | type) == "number" and .line > 0 and (.column | type) == "number"' "$GW_TMP/body"
check "bad YAML detail has the line" jqe '.detail | test("line [0-9]+, column [0-9]+")' "$GW_TMP/body"
api PUT /templates/yamlbad -H 'Content-Type: application/x-yaml' \
    --data-binary $'kind: test\njobs:\n  - name: unit\n    script: []\n' >/dev/null
expect_error "invalid YAML template 422" 422
expect_eq "invalid YAML template field" "jobs[0].script" "$(jqv .field)"
curl -s -o "$GW_TMP/yaml.out" -D "$GW_TMP/headers" -H 'Accept: application/yaml' "$API/templates/yamly"
check "YAML round trip: the source as sent" cmp -s "$GW_TMP/yaml.out" <(printf '%s' "$YAML")
expect_eq "YAML round trip: content type" "application/yaml" "$(header Content-Type)"
api GET /templates/yamly >/dev/null
expect_status "GET template as JSON 200" 200
check "GET template has source" jqe --arg y "$YAML" '.source == $y' "$GW_TMP/body"
expect_eq "GET template has source_type" application/yaml "$(jqv .source_type)"
api GET /templates/build -H 'Accept: application/yaml' >/dev/null
expect_eq "JSON template stays JSON when YAML is asked for" build "$(jqv .name)"
api GET /templates >/dev/null
expect_status "list templates 200" 200
expect_eq "list templates" "build yamly" "$(jqv '[.templates[].name] | join(" ")')"
check "list templates without source" jqe 'all(.templates[]; has("source") | not)' "$GW_TMP/body"
api GET /templates/nothere >/dev/null
expect_error "unknown template 404" 404

for t in lint:'["manual"]' quick:'{"manual": {}}' pushonly:'{"push": {"branches": ["main", "release/*"]}}'; do
    api PUT "/templates/${t%%:*}" "${J[@]}" -d "{\"kind\": \"test\", \"on\": ${t#*:}, \"jobs\": [{\"name\": \"j\", \"script\": [\"true\"]}]}" >/dev/null
    expect_status "template ${t%%:*} created" 201
done
api PUT /templates/needs "${J[@]}" -d '{"kind": "build", "on": {"push": {"branches": ["main"]}},
  "inputs": {"TOKEN": {"required": true}}, "jobs": [{"name": "j", "script": ["echo ${{ inputs.TOKEN }}"]}]}' >/dev/null
expect_status "template needs created" 201

gw_log "attachments"
api PUT /repos/demo/templates/build "${J[@]}" -d '{"inputs": {"VERSION": "1.2.3"}}' >/dev/null
expect_status "attach 201" 201
expect_eq "attach body" "demo build 1.2.3" "$(jqv '"\(.repo) \(.template) \(.inputs.VERSION)"')"
api PUT /repos/demo/templates/build "${J[@]}" -d '{"inputs": {"VERSION": "1.2.3"}}' >/dev/null
expect_status "attach again 200" 200
api PUT /repos/demo/templates/build "${J[@]}" -d '{"inputs": {"NOPE": "x"}}' >/dev/null
expect_error "attach with an undeclared input 422" 422
expect_eq "attach undeclared field" inputs.NOPE "$(jqv .field)"
api PUT /repos/demo/templates/build "${J[@]}" -d '{"inputs": {"MODE": "medium"}}' >/dev/null
expect_error "attach with a value not among the options 422" 422
api PUT /repos/demo/templates/build "${J[@]}" -d '{"inputs": [1]}' >/dev/null
expect_error "attach inputs not an object 400" 400
api PUT /repos/demo/templates/nothere >/dev/null
expect_error "attach unknown template 404" 404
api PUT /repos/nothere/templates/build >/dev/null
expect_error "attach to unknown repo 404" 404
api PUT /repos/demo/templates/lint >/dev/null
expect_status "attach a second template 201" 201
api GET /repos/demo/templates >/dev/null
expect_status "list attachments 200" 200
expect_eq "list attachments" "build:2:1.2.3 lint:1:" \
    "$(jqv '[.templates[] | "\(.name):\(.version):\(.inputs.VERSION // "")"] | join(" ")')"
api DELETE /repos/demo/templates/lint >/dev/null
expect_status "detach 204" 204
api DELETE /repos/demo/templates/lint >/dev/null
expect_error "detach again 404" 404
api GET /repos/demo/templates >/dev/null
expect_eq "detached" "build" "$(jqv '[.templates[].name] | join(" ")')"
api GET /repos/nothere/templates >/dev/null
expect_error "list attachments of unknown repo 404" 404

gw_log "manual trigger"
api POST /repos/demo/pipelines/run -D "$GW_TMP/headers" >/dev/null
expect_status "trigger with one attached 201" 201
run=$(jqv .id)
expect_eq "Location header" "/api/v1/pipelines/runs/$run" "$(header Location)"
expect_eq "run queued" queued "$(jqv .status)"
expect_eq "jobs queued" "queued queued queued" "$(jqv '[.jobs[].status] | join(" ")')"
# The repo has a clone_url, so the run starts with its checkout.
expect_eq "jobs in position order, checkout first" "checkout:0:checkout compile:1:script package:2:script" \
    "$(jqv '[.jobs[] | "\(.name):\(.position):\(.kind)"] | join(" ")')"
expect_eq "job image" "null alpine:3.19 null" "$(jqv '[.jobs[].image] | map(tostring) | join(" ")')"
expect_eq "run template and version" "build 2 manual" "$(jqv '"\(.template) \(.template_version) \(.trigger)"')"
expect_eq "default ref" refs/heads/trunk "$(jqv .ref)"
expect_eq "resolved inputs" '{"MODE":"fast","VERSION":"1.2.3"}' "$(jqv '.inputs | tojson')"
# Script lines refer to variables of the job's env, which hold the values.
expect_eq "run id expanded in the stored spec" \
    "echo \"\${GITWEAVE_INPUT_VERSION}\" \"\${GITWEAVE_EXPR_RUN_ID}\"|1.2.3|$run" \
    "$(gw_psql -c "SELECT concat_ws('|', spec->0->'script'->>0, spec->0->'env'->>'GITWEAVE_INPUT_VERSION',
                                   spec->0->'env'->>'GITWEAVE_EXPR_RUN_ID') FROM pipeline_runs WHERE id = '$run'")"
expect_eq "jobs rows" "0 checkout |1 compile alpine:3.19|2 package " \
    "$(gw_psql -c "SELECT string_agg(position || ' ' || name || ' ' || coalesce(image, ''), '|' ORDER BY position) FROM jobs WHERE run_id = '$run'")"
check "queued event published" saw_event ".type == \"run\" and .id == \"$run\" and .status == \"queued\""

api POST /repos/demo/pipelines/run "${J[@]}" \
    -d '{"template": "build", "inputs": {"MODE": "slow", "VERSION": 7}, "ref": "feature/x", "commit": "abc1234", "triggered_by": "123e4567-e89b-12d3-a456-426614174000"}' >/dev/null
expect_status "trigger with everything 201" 201
run2=$(jqv .id)
expect_eq "bare branch normalised" refs/heads/feature/x "$(jqv .ref)"
expect_eq "commit and triggered_by" "abc1234 123e4567-e89b-12d3-a456-426614174000" "$(jqv '"\(.commit) \(.triggered_by)"')"
# commit.sha waits for the checkout, which gives the commit in full.
expect_eq "inputs expanded in the stored spec, commit.sha deferred" 'slow demo refs/heads/feature/x ${{ commit.sha }}' \
    "$(gw_psql -c "SELECT concat_ws(' ', e->>'GITWEAVE_INPUT_MODE', e->>'GITWEAVE_EXPR_REPO_NAME',
                                   e->>'GITWEAVE_EXPR_REF', e->>'GITWEAVE_EXPR_COMMIT_SHA')
                   FROM (SELECT spec->1->'env' AS e FROM pipeline_runs WHERE id = '$run2') s")"
expect_eq "trigger input wins over the repo's" 7 "$(jqv .inputs.VERSION)"

api POST /repos/demo/pipelines/run "${J[@]}" -d '{"ref": "refs/tags/v1.0"}' >/dev/null
expect_eq "full ref kept" refs/tags/v1.0 "$(jqv .ref)"

api PUT /repos/multi/templates/build "${J[@]}" -d '{"inputs": {"VERSION": "1"}}' >/dev/null
api PUT /repos/multi/templates/lint >/dev/null
api POST /repos/multi/pipelines/run >/dev/null
expect_error "trigger with two attached 422" 422
check "ambiguity lists the templates" jqe '.detail | contains("build") and contains("lint")' "$GW_TMP/body"
api POST /repos/multi/pipelines/run "${J[@]}" -d '{"template": "lint"}' >/dev/null
expect_status "trigger naming one of two 201" 201
api POST /repos/bare/pipelines/run >/dev/null
expect_error "trigger with none attached 422" 422
api POST /repos/nothere/pipelines/run >/dev/null
expect_error "trigger unknown repo 404" 404
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"template": "nothere"}' >/dev/null
expect_error "trigger unknown template 404" 404
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"template": "lint"}' >/dev/null
expect_error "trigger template not attached 422" 422
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": {"NOPE": "1"}}' >/dev/null
expect_error "trigger undeclared input 422" 422
expect_eq "undeclared input field" inputs.NOPE "$(jqv .field)"
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": {"MODE": "medium"}}' >/dev/null
expect_error "trigger input not among the options 422" 422
expect_eq "choice input field" inputs.MODE "$(jqv .field)"
api PUT /repos/bare/templates/build >/dev/null
api POST /repos/bare/pipelines/run >/dev/null
expect_error "trigger missing required input 422" 422
expect_eq "missing input field" inputs.VERSION "$(jqv .field)"
api DELETE /repos/bare/templates/build >/dev/null
api PUT /repos/bare/templates/pushonly >/dev/null
api POST /repos/bare/pipelines/run >/dev/null
expect_error "trigger of a push-only template 422" 422
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": ' >/dev/null
expect_error "trigger malformed JSON 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{} trailing' >/dev/null
expect_error "trigger trailing bytes 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": "x"}' >/dev/null
expect_error "trigger inputs not an object 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"ref": 5}' >/dev/null
expect_error "trigger ref not a string 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"ref": "a..b"}' >/dev/null
expect_error "trigger bad ref 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"triggered_by": "bob"}' >/dev/null
expect_error "trigger triggered_by not a uuid 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"commit": "not-hex"}' >/dev/null
expect_error "trigger bad commit 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"priority": 1}' >/dev/null
expect_error "trigger unknown field 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '[]' >/dev/null
expect_error "trigger body not an object 400" 400
head -c 1100000 /dev/zero | tr '\0' ' ' >"$GW_TMP/big"
api POST /repos/demo/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/big" >/dev/null
expect_error "oversize body 413" 413
api POST /repos/demo/pipelines/run "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$GW_TMP/big" >/dev/null
expect_error "oversize chunked body 413 (no Content-Length)" 413

gw_log "runs"
api GET "/pipelines/runs/$run" >/dev/null
expect_status "GET run 200" 200
expect_eq "run object fields" "allowed_failures attempt cancel_requested_at commit concurrency_group created_at ended_at error id inputs jobs logs_expired queued_seconds ref repo rerun_of retried_jobs retries run_seconds runner runs_on started_at status template template_version trigger triggered_by waiting" \
    "$(jqv 'keys | join(" ")')"
expect_eq "job object fields" "ended_at error exit_code id image kind logs_expired name position retry run_seconds secrets started_at status" \
    "$(jqv '.jobs[0] | keys | join(" ")')"
api GET /pipelines/runs/not-a-uuid >/dev/null
expect_error "bad run uuid 400" 400
api GET /pipelines/runs/123e4567-e89b-12d3-a456-42661417400 >/dev/null
expect_error "short run uuid 400" 400
api GET /pipelines/runs/123e4567-e89b-12d3-a456-426614174000 >/dev/null
expect_error "unknown run 404" 404

gw_log "run lists"
api PUT /repos/paging/templates/quick >/dev/null
for i in 1 2 3 4 5; do
    api POST /repos/paging/pipelines/run >/dev/null
    expect_status "paging run $i" 201
done
want=$(gw_psql -c "SELECT string_agg(r.id::text, ' ' ORDER BY r.created_at DESC, r.id DESC) FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = 'paging'")
api GET "/repos/paging/pipelines/runs?limit=2" >/dev/null
expect_status "page 1 200" 200
got=$(jqv '[.runs[].id] | join(" ")')
expect_eq "page 1 size" 2 "$(jqv '.runs | length')"
check "page 1 has no jobs" jqe 'all(.runs[]; has("jobs") | not)' "$GW_TMP/body"
next=$(jqv .next)
check "page 1 has a cursor" test "$next" != null
api GET "/repos/paging/pipelines/runs?limit=2&before=$next" >/dev/null
expect_eq "page 2 size" 2 "$(jqv '.runs | length')"
got="$got $(jqv '[.runs[].id] | join(" ")')"
next=$(jqv .next)
api GET "/repos/paging/pipelines/runs?limit=2&before=$next" >/dev/null
expect_eq "page 3 size" 1 "$(jqv '.runs | length')"
expect_eq "page 3 ends the list" null "$(jqv .next)"
got="$got $(jqv '[.runs[].id] | join(" ")')"
expect_eq "pages give every run once, newest first" "$want" "$got"
api GET "/repos/paging/pipelines/runs" >/dev/null
expect_eq "default limit lists all five" "5 null" "$(jqv '"\(.runs | length) \(.next)"')"
api GET "/repos/paging/pipelines/runs?limit=5" >/dev/null
expect_eq "exact limit: no next page" "5 null" "$(jqv '"\(.runs | length) \(.next)"')"
oldest=${want##* }
api POST "/pipelines/runs/$oldest/cancel" >/dev/null
api GET "/repos/paging/pipelines/runs?status=canceled" >/dev/null
expect_eq "status filter canceled" "$oldest" "$(jqv '[.runs[].id] | join(" ")')"
api GET "/repos/paging/pipelines/runs?status=queued&limit=100" >/dev/null
expect_eq "status filter queued" 4 "$(jqv '.runs | length')"
for bad in limit=0 limit=101 limit=abc limit=-1 limit=2.5 limit= status=bogus status=skipped \
    before=garbage before=1_notauuid 'limit=1&limit=2' 'limit=%zz'; do
    api GET "/repos/paging/pipelines/runs?$bad" >/dev/null
    expect_error "list runs ?$bad 400" 400
done
api GET /repos/nothere/pipelines/runs >/dev/null
expect_error "list runs of unknown repo 404" 404

gw_log "runs across repos"
want=$(gw_psql -c "SELECT string_agg(id::text, ' ' ORDER BY created_at DESC, id DESC) FROM pipeline_runs")
total=$(gw_psql -c "SELECT count(*) FROM pipeline_runs")
got=
before=
while :; do
    api GET "/pipelines/runs?limit=3${before:+&before=$before}" >/dev/null
    expect_status "across repos page 200" 200
    got="$got${got:+ }$(jqv '[.runs[].id] | join(" ")')"
    before=$(jqv .next)
    [ "$before" = null ] && break
done
expect_eq "across repos: every run once, newest first ($total)" "$want" "$got"
api GET "/pipelines/runs?repo=paging&status=queued&limit=100" >/dev/null
expect_eq "across repos: repo and status filters" "4 paging" "$(jqv '"\(.runs | length) \([.runs[].repo] | unique | join(","))"')"
api GET "/pipelines/runs?status=canceled" >/dev/null
check "across repos: status filter" jqe '(.runs | length) > 0 and all(.runs[]; .status == "canceled")' "$GW_TMP/body"
api GET "/pipelines/runs?repo=nothere" >/dev/null
expect_eq "across repos: an unknown repo has no runs" "200 0" "$(status) $(jqv '.runs | length')"
api GET "/pipelines/runs?template=quick&limit=100" >/dev/null
expect_eq "across repos: template filter" \
    "$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN templates t ON t.id = r.template_id WHERE t.name = 'quick'") quick" \
    "$(jqv '"\(.runs | length) \([.runs[].template] | unique | join(","))"')"
api GET "/pipelines/runs?template=nothere" >/dev/null
expect_eq "across repos: an unknown template has no runs" "200 0" "$(status) $(jqv '.runs | length')"
api GET "/repos/paging/pipelines/runs?template=quick&status=queued&limit=100" >/dev/null
expect_eq "a repo's runs: template and status filters" 4 "$(jqv '.runs | length')"
api GET "/repos/paging/pipelines/runs?template=other" >/dev/null
expect_eq "a repo's runs: another template has none" "200 0" "$(status) $(jqv '.runs | length')"
for bad in limit=0 limit=101 status=bogus before=garbage repo=-x 'repo=a%20b' template=-x; do
    api GET "/pipelines/runs?$bad" >/dev/null
    expect_error "across repos ?$bad 400" 400
done

gw_log "deletes"
gw_template gonetmpl '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}'
gw_repo gone gonetmpl
gw_repo keeper gonetmpl
gone_run=$(gw_trigger gone)
gw_psql -c "INSERT INTO logs (job_id, \"offset\", chunk) SELECT id, 0, E'kept\n' FROM jobs WHERE run_id = '$gone_run'"
api DELETE /repos/gone >/dev/null
expect_error "delete a repo with a queued run 409" 409
check "409 says why" jqe '.detail | contains("queued or running")' "$GW_TMP/body"
api DELETE /templates/gonetmpl >/dev/null
expect_error "delete a template with a queued run 409" 409
api POST "/pipelines/runs/$gone_run/cancel" >/dev/null
api DELETE /repos/gone >/dev/null
expect_status "delete the repo once its runs ended 204" 204
api GET /repos/gone >/dev/null
expect_error "a deleted repo is gone 404" 404
check "a deleted repo is not listed" bash -c "! curl -s '$API/repos' | jq -e '.repos[] | select(.name == \"gone\")' >/dev/null"
api DELETE /repos/gone >/dev/null
expect_error "delete it again 404" 404
api GET "/pipelines/runs/$gone_run" >/dev/null
expect_eq "its run stays readable, with the repo's name" "200 gone gonetmpl canceled" "$(status) $(jqv '"\(.repo) \(.template) \(.status)"')"
gone_job=$(jqv '.jobs[0].id')
expect_eq "its logs stay readable" "kept" "$(api GET "/jobs/$gone_job/logs.txt")"
api POST "/pipelines/runs/$gone_run/rerun" >/dev/null
expect_error "no rerun of a deleted repo's run 409" 409
check "the 409 says the repo is deleted" jqe '.detail | contains("deleted")' "$GW_TMP/body"
api GET "/pipelines/runs?repo=gone" >/dev/null
expect_eq "its run is in the list across repos" "$gone_run" "$(jqv '[.runs[].id] | join(" ")')"
api PUT /repos/gone -H 'Content-Type: application/json' -d '{}' >/dev/null
expect_status "the name is free again: a new repo 201" 201
api GET /repos/gone/pipelines/runs >/dev/null
expect_eq "the new repo has no runs" 0 "$(jqv '.runs | length')"
api GET /repos/gone/templates >/dev/null
expect_eq "nor the old one's templates" 0 "$(jqv '.templates | length')"
api DELETE /templates/gonetmpl >/dev/null
expect_status "delete the template 204" 204
api GET /templates/gonetmpl >/dev/null
expect_error "a deleted template is gone 404" 404
api GET /repos/keeper/templates >/dev/null
expect_eq "it is detached from every repo" 0 "$(jqv '.templates | length')"
api GET "/pipelines/runs/$gone_run" >/dev/null
expect_eq "the run still names its template" "gonetmpl" "$(jqv .template)"
gw_template gonetmpl '{"kind": "test", "jobs": [{"name": "b", "script": ["true"]}]}'
expect_eq "the template name is free again" "201 1 test" "$(status) $(jqv '"\(.version) \(.kind)"')"
api DELETE /templates/nothere >/dev/null
expect_error "delete an unknown template 404" 404
api DELETE /repos/-bad >/dev/null
expect_error "delete a bad repo name 400" 400

gw_log "logs"
job=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
gw_psql -c "INSERT INTO logs (job_id, \"offset\", chunk) VALUES
    ('$job', 0, E'hello\n'), ('$job', 6, E'world\n'), ('$job', 12, E'\u00e9!\n')"
api GET "/jobs/$job/logs" >/dev/null
expect_status "logs 200" 200
expect_eq "all chunks" "0 6 12" "$(jqv '[.chunks[].offset] | map(tostring) | join(" ")')"
expect_eq "chunk text" $'hello\nworld\n\xc3\xa9!' "$(jqv '[.chunks[].chunk] | join("")')"
expect_eq "next_offset counts bytes" 16 "$(jqv .next_offset)"
expect_eq "not complete while queued" "false queued $job" "$(jqv '"\(.complete) \(.status) \(.job_id)"')"
api GET "/jobs/$job/logs?limit=1" >/dev/null
expect_eq "limit 1: one chunk" "1 6" "$(jqv '"\(.chunks | length) \(.next_offset)"')"
api GET "/jobs/$job/logs?offset=6&limit=7" >/dev/null
expect_eq "offset 6 limit 7: two chunks" "6 12 16" "$(jqv '[.chunks[].offset, .next_offset] | map(tostring) | join(" ")')"
api GET "/jobs/$job/logs?offset=16" >/dev/null
expect_eq "past the end: no chunks" "0 16 false" "$(jqv '"\(.chunks | length) \(.next_offset) \(.complete)"')"
gw_psql -c "UPDATE jobs SET status = 'success' WHERE id = '$job'"
api GET "/jobs/$job/logs?offset=16" >/dev/null
expect_eq "complete once final and read to the end" true "$(jqv .complete)"
api GET "/jobs/$job/logs?limit=1" >/dev/null
expect_eq "not complete while chunks remain" false "$(jqv .complete)"
api GET "/jobs/$job/logs?offset=6" >/dev/null
expect_eq "complete with the last page" "true 16" "$(jqv '"\(.complete) \(.next_offset)"')"
# Offsets inside a chunk: the rest of that chunk, then the next ones.
api GET "/jobs/$job/logs?offset=2" >/dev/null
expect_eq "offset 2: from that byte" "2 llo|6 world|12 é!|16 true" \
    "$(jqv '[(.chunks[] | "\(.offset) \(.chunk | rtrimstr("\n"))"), "\(.next_offset) \(.complete)"] | join("|")')"
api GET "/jobs/$job/logs?offset=15&limit=1" >/dev/null
expect_eq "offset 15 (the last byte): that byte, not complete before it" $'15 \n 16 true' \
    "$(jqv '"\(.chunks[0].offset) \(.chunks[0].chunk) \(.next_offset) \(.complete)"')"
api GET "/jobs/$job/logs?offset=13" >/dev/null
expect_eq "offset 13, inside é: from its first byte" "12 é!" "$(jqv '.chunks[0] | "\(.offset) \(.chunk | rtrimstr("\n"))"')"
expect_eq "logs.txt?offset=8" $'rld\n\xc3\xa9!' "$(api GET "/jobs/$job/logs.txt?offset=8")"
expect_eq "logs.txt?offset=13 starts at the character" $'\xc3\xa9!' "$(api GET "/jobs/$job/logs.txt?offset=13")"
curl -sN -H 'Accept: text/event-stream' "$API/jobs/$job/logs?offset=9" -o "$GW_TMP/sse" -m 5
expect_eq "follow from offset 9" "9 ld|12 é!" "$(awk '/^data: /{sub(/^data: /,""); print}' "$GW_TMP/sse" |
    jq -r 'select(.chunk) | "\(.offset) \(.chunk | rtrimstr("\n"))"' | paste -sd '|')"
api GET "/jobs/$job/logs.txt?offset=x" >/dev/null
expect_error "logs.txt?offset=x 400" 400
for bad in offset=-1 offset=abc offset=99999999999 limit=0 limit=8388609 limit=x; do
    api GET "/jobs/$job/logs?$bad" >/dev/null
    expect_error "logs ?$bad 400" 400
done
api GET /jobs/123e4567-e89b-12d3-a456-426614174000/logs >/dev/null
expect_error "logs of unknown job 404" 404
api GET /jobs/xyz/logs >/dev/null
expect_error "logs bad job id 400" 400

gw_log "cancel"
api POST "/pipelines/runs/$run2/cancel" >/dev/null
expect_status "cancel queued run 202" 202
expect_eq "run canceled" canceled "$(jqv .status)"
expect_eq "cancel reason" "canceled before it started" "$(jqv .error)"
check "ended_at set" jqe '.ended_at != null' "$GW_TMP/body"
expect_eq "jobs canceled" "canceled canceled canceled" "$(jqv '[.jobs[].status] | join(" ")')"
check "run canceled event" saw_event ".type == \"run\" and .id == \"$run2\" and .status == \"canceled\""
check "job canceled events" saw_event ".type == \"job\" and .run_id == \"$run2\" and .status == \"canceled\""
api POST "/pipelines/runs/$run2/cancel" >/dev/null
expect_error "cancel again 409" 409
api POST /pipelines/runs/123e4567-e89b-12d3-a456-426614174000/cancel >/dev/null
expect_error "cancel unknown run 404" 404
api POST /pipelines/runs/nope/cancel >/dev/null
expect_error "cancel bad id 400" 400
api GET "/pipelines/runs/$run2/cancel" >/dev/null
expect_error "GET on cancel 405" 405

gw_log "runners and a running run"
live=11111111-1111-4111-8111-111111111111
old=22222222-2222-4222-8222-222222222222
gw_psql -c "INSERT INTO runners (id, name, hostname, engine, status, lease_seconds, last_seen_at) VALUES
    ('$live', 'r-live', 'host-a', 'local', 'busy', 30, now()),
    ('$old', 'r-old', 'host-b', 'docker', 'idle', 30, now() - interval '1 hour')"
gw_psql -c "UPDATE pipeline_runs SET status = 'running', started_at = now(), runner_id = '$live', attempt = 1 WHERE id = '$run'"
gw_psql -c "UPDATE jobs SET status = 'running', started_at = now() WHERE run_id = '$run' AND position = 1"
api GET /runners >/dev/null
expect_status "runners 200" 200
expect_eq "runner statuses" "r-live:busy r-old:offline" "$(jqv '[.runners[] | "\(.name):\(.status)"] | join(" ")')"
expect_eq "current run" "$run null" "$(jqv '[.runners[].current_run] | map(tostring) | join(" ")')"
check "runner fields" jqe 'all(.runners[]; has("id") and has("hostname") and has("engine") and has("status_detail") and has("started_at") and has("last_seen_at"))' "$GW_TMP/body"
api GET "/pipelines/runs/$run" >/dev/null
expect_eq "run names its runner" "r-live 1" "$(jqv '"\(.runner) \(.attempt)"')"
api POST "/pipelines/runs/$run/cancel" >/dev/null
expect_status "cancel running run 202" 202
expect_eq "running run keeps running" running "$(jqv .status)"
check "cancel_requested_at set" jqe '.cancel_requested_at != null' "$GW_TMP/body"
first=$(jqv .cancel_requested_at)
check "cancel event" saw_event ".type == \"cancel\" and .id == \"$run\""
api POST "/pipelines/runs/$run/cancel" >/dev/null
expect_eq "second cancel keeps the first request time" "$first" "$(jqv .cancel_requested_at)"

gw_log "push hook"
api PUT /repos/hooks/templates/pushonly >/dev/null
api PUT /repos/hooks/templates/needs >/dev/null
api PUT /repos/hooks/templates/lint >/dev/null
gw_template tagged '{"kind": "release", "on": {"push": {"tags": ["v*"]}}, "jobs": [{"name": "a", "script": ["true"]}]}'
api PUT /repos/hooks/templates/tagged >/dev/null
api POST /repos/hooks/hooks/push "${J[@]}" -H 'X-GitHub-Event: push' \
    -d "{\"ref\": \"refs/heads/main\", \"before\": \"$ZERO\", \"after\": \"$SHA\", \"commits\": [{\"id\": \"$SHA\"}], \"head_commit\": {\"id\": \"$SHA\"}, \"repository\": {\"full_name\": \"o/hooks\"}}" >/dev/null
expect_status "push to main 201" 201
expect_eq "push started the matching template" "pushonly" "$(jqv '[.runs[].template] | join(" ")')"
expect_eq "push run fields" "push refs/heads/main $SHA queued" "$(jqv '.runs[0] | "\(.trigger) \(.ref) \(.commit) \(.status)"')"
expect_eq "template lacking an input skipped" "needs" "$(jqv '[.skipped[].template] | join(" ")')"
check "skipped has a detail" jqe '.skipped[0].detail | contains("inputs.TOKEN")' "$GW_TMP/body"
api POST /repos/hooks/hooks/push "${J[@]}" -d "{\"ref\": \"refs/heads/release/2.0\", \"before\": \"$SHA\", \"after\": \"$SHA\"}" >/dev/null
expect_status "push to release/2.0 201" 201
api POST /repos/hooks/hooks/push "${J[@]}" -d "{\"ref\": \"refs/heads/feature/y\", \"before\": \"$SHA\", \"after\": \"$SHA\"}" >/dev/null
expect_status "push to a filtered-out branch 200" 200
expect_eq "no runs" 0 "$(jqv '.runs | length')"
expect_eq "each attached template says why it did not start" \
    "lint:false:not on push needs:false:branch not matched pushonly:false:branch not matched tagged:false:branch pushes not enabled" \
    "$(jqv '[.templates[] | "\(.template):\(.started):\(.reason)"] | join(" ")')"
api POST /repos/hooks/hooks/push "${J[@]}" -d "{\"ref\": \"refs/heads/main\", \"before\": \"$SHA\", \"after\": \"$ZERO\"}" >/dev/null
expect_status "branch delete push 200" 200
expect_eq "branch delete: no runs" 0 "$(jqv '.runs | length')"
expect_eq "branch delete: every template says so" "ref deleted" "$(jqv '[.templates[].reason] | unique | join(" ")')"
api POST /repos/hooks/hooks/push "${J[@]}" -d "{\"ref\": \"refs/tags/v1\", \"before\": \"$ZERO\", \"after\": \"$SHA\"}" >/dev/null
expect_status "tag push 201" 201
expect_eq "tag push starts the template whose tag filter matches" "tagged push refs/tags/v1 $SHA" \
    "$(jqv '.runs[] | "\(.template) \(.trigger) \(.ref) \(.commit)"')"
expect_eq "tag push: the others say why" \
    "lint:not on push needs:tag pushes not enabled pushonly:tag pushes not enabled tagged:null" \
    "$(jqv '[.templates[] | "\(.template):\(.reason)"] | join(" ")')"
check "a started template names its run" jqe '(.templates[] | select(.started) | .run) == .runs[0].id' "$GW_TMP/body"
api POST /repos/hooks/hooks/push "${J[@]}" -d "{\"ref\": \"refs/tags/nightly\", \"before\": \"$ZERO\", \"after\": \"$SHA\"}" >/dev/null
expect_status "unmatched tag push 200" 200
expect_eq "unmatched tag: no runs" 0 "$(jqv '.runs | length')"
expect_eq "unmatched tag: why" "tag not matched" "$(jqv '.templates[] | select(.template == "tagged") | .reason')"
api POST /repos/hooks/hooks/push "${J[@]}" -H 'X-GitHub-Event: ping' -d '{"zen": "x"}' >/dev/null
expect_status "ping event 200" 200
api POST /repos/hooks/hooks/push "${J[@]}" -d "{\"after\": \"$SHA\"}" >/dev/null
expect_error "push without ref 400" 400
api POST /repos/hooks/hooks/push "${J[@]}" -d '{"ref": "refs/heads/main"}' >/dev/null
expect_error "push without after 400" 400
api POST /repos/hooks/hooks/push "${J[@]}" -d '{"ref": "refs/heads/main", "after": 42}' >/dev/null
expect_error "push with after not a string 400" 400
api POST /repos/hooks/hooks/push "${J[@]}" -d '{"ref": ' >/dev/null
expect_error "push malformed JSON 400" 400
api POST /repos/hooks/hooks/push >/dev/null
expect_error "push without body 400" 400
api POST /repos/nothere/hooks/push "${J[@]}" -d "{\"ref\": \"refs/heads/main\", \"after\": \"$SHA\"}" >/dev/null
expect_error "push to unknown repo 404" 404
expect_eq "push runs stored" 3 "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE trigger = 'push'")"

gw_log "hostile input"
printf '\xff\xfe{}' >"$GW_TMP/bad-utf8"
api POST /repos/demo/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/bad-utf8" >/dev/null
expect_error "invalid UTF-8 body 400" 400
printf '{"ref": "ma\xc3in"}' >"$GW_TMP/bad-utf8"
api POST /repos/demo/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/bad-utf8" >/dev/null
expect_error "invalid UTF-8 inside a string 400" 400
printf '{"a": "x\0y"}' >"$GW_TMP/nul"
api PUT /repos/demo "${J[@]}" --data-binary @"$GW_TMP/nul" >/dev/null
expect_error "NUL byte in body 400" 400
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$GW_TMP/deep"
api POST /repos/demo/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/deep" >/dev/null
expect_error "deeply nested JSON 400" 400
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": {"VERSION": 1e999999}}' >/dev/null
check "huge number answered" test "$(status)" = 201 -o "$(status)" = 422
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": {"VERSION": {"x": 1}}}' >/dev/null
expect_error "input value not a scalar 422" 422
api POST /repos/demo/pipelines/run "${J[@]}" -d '{"inputs": {"VERSION": "\ud800"}}' >/dev/null
expect_error "lone surrogate escape 400" 400
api GET '/repos/%ff%fe' >/dev/null
expect_error "invalid UTF-8 in a path parameter 400" 400
api GET '/repos/%zz' >/dev/null
expect_error "bad percent-encoding 400" 400
api GET '/repos/a%00b' >/dev/null
expect_error "encoded NUL 400" 400
api GET '/repos/a%2Fb' >/dev/null
expect_error "encoded slash 400" 400
api GET '/repos/demo%2D' >/dev/null
expect_error "percent-decoded name is validated (demo- unknown) 404" 404
api GET "/$(printf 'a/%.0s' {1..40})" >/dev/null
expect_error "many segments 400" 400
api PUT /templates/x -H 'Content-Type: application/yaml' --data-binary $'a: &x 1\nb: *x\n' >/dev/null
expect_error "YAML alias 422" 422
api PUT /templates/x -H 'Content-Type: application/yaml' --data-binary @"$GW_TMP/bad-utf8" >/dev/null
expect_error "YAML invalid UTF-8 400" 400
# Malformed HTTP straight onto the socket: libevent answers or closes.
python3 - "${API#http://}" <<'EOF'
import socket, sys
host, port = sys.argv[1].split("/")[0].split(":")
for raw in [b"GARBAGE\r\n\r\n", b"GET /api/v1/healthz HTTP/9.9\r\n\r\n",
            b"GET /\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n", b"BREW /x HTTP/1.1\r\n\r\n",
            b"GET /api/v1/repos HTTP/1.1\r\nX: " + b"a" * 100000 + b"\r\n\r\n",
            b"POST /api/v1/repos/demo/pipelines/run HTTP/1.1\r\nContent-Length: 10\r\n\r\n{",
            b"PUT /api/v1/repos/demo HTTP/1.1\r\nContent-Length: -5\r\n\r\n"]:
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        s.recv(4096)
    except OSError:
        pass
    s.close()
EOF
api GET /healthz >/dev/null
expect_status "healthz after hostile input" 200
check "process alive after hostile input" kill -0 "$GW_API_PID"
api GET /repos/demo >/dev/null
expect_status "database requests after hostile input" 200
expect_eq "HEAD on a GET route" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' "$API/repos/demo")"

gw_log "auth"
kill "$GW_API_PID"
wait "$GW_API_PID"
expect_eq "API exits 0 on SIGTERM" 0 "$?"
export GITWEAVE_API_TOKEN=s3cret-token
gw_api_start || exit 1
unset GITWEAVE_API_TOKEN
api GET /repos >/dev/null
expect_error "no token 401" 401
api GET /repos -H 'Authorization: Bearer wrong' >/dev/null
expect_error "wrong token 401" 401
api GET /repos -H 'Authorization: Basic czNjcmV0LXRva2Vu' >/dev/null
expect_error "wrong scheme 401" 401
api GET /nope >/dev/null
expect_error "unknown route without token 401" 401
api GET /repos -H 'Authorization: Bearer s3cret-token' >/dev/null
expect_status "right token 200" 200
api GET /repos -H 'authorization: bearer s3cret-token' >/dev/null
expect_status "scheme is case-insensitive" 200
api GET /healthz >/dev/null
expect_status "healthz open without token" 200
api GET /readyz >/dev/null
expect_status "readyz open without token" 200

gw_log "database down"
gw_pg_stop
api GET /readyz >/dev/null
expect_status "readyz 503 without the database" 503
api GET /repos -H 'Authorization: Bearer s3cret-token' >/dev/null
expect_error "database request 503 without the database" 503
api GET /repos -H 'Authorization: Bearer s3cret-token' >/dev/null
expect_error "still 503 while reconnecting" 503
api GET /healthz >/dev/null
expect_status "healthz still 200" 200
check "process alive without the database" kill -0 "$GW_API_PID"

gw_log "database back"
pg_dir=$GW_TMP/pg
"${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 \
    -o "-p $PGPORT -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
GW_PG_DIR=$pg_dir
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/readyz")" = 200 ]; }
check "readyz 200 once the database is back (reconnected)" wait_for 30 ready
api GET /repos/demo -H 'Authorization: Bearer s3cret-token' >/dev/null
expect_status "database requests work again" 200
check "reconnection logged" grep -q "database connection restored" "$GW_TMP/api.log"

gw_finish
