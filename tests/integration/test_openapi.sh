#!/usr/bin/env bash
# docs/openapi.yaml: it lints clean (@redocly/cli, pinned in tests/package.json);
# the routes the router serves are exactly its operations; replies to requests
# on every route, successes and errors, are responses it declares, their JSON
# bodies valid against its schemas; the API serves the file as built in.
source "$(dirname "$0")/../lib/postgres.sh"

NODE_MODULES=$GW_SOURCE_DIR/tests/node_modules
SPEC=$GW_SOURCE_DIR/docs/openapi.yaml
CHECK=$GW_SOURCE_DIR/tests/tools/openapi_check.js
[ -x "$NODE_MODULES/.bin/redocly" ] || { echo "FAIL: tests/node_modules is missing: run scripts/deps.sh"; exit 1; }

check "the file lints clean (recommended-strict)" \
    "$NODE_MODULES/.bin/redocly" lint --extends recommended-strict "$SPEC"
"$GW_BUILD_DIR/tests/gw_routes" >"$GW_TMP/routes"
check "every route served is described, every path described is served" \
    node "$CHECK" routes "$SPEC" "$GW_TMP/routes"

gw_pg_start
GITWEAVE_API_TOKEN=secret gw_api_start
AUTH=(-H 'Authorization: Bearer secret')
J=(-H 'Content-Type: application/json')
N=0
# cap METHOD PATH [curl args...]: a request whose reply the file must declare.
cap() {
    local method=$1 path=$2; shift 2
    N=$((N + 1))
    local out=$GW_TMP/reply.$N
    curl -s -o "$out" -D "$out.h" -w '%{http_code} %{content_type}' -X "$method" \
        "${API%/api/v1}$path" "$@" >"$GW_STATUS_FILE"
    # The capture as a JSON line, written by the shell (a jq, two cuts and a
    # cp for each of a hundred requests cost seconds of CPU).
    local st type=
    st=$(<"$GW_STATUS_FILE")
    [[ $st == *" "* ]] && type=${st#* }
    printf '{"method": "%s", "path": "%s", "status": %d, "content_type": "%s", "body_file": "%s"}\n' \
        "$(json_str "$method")" "$(json_str "$path")" "${st%% *}" "$(json_str "$type")" \
        "$(json_str "$out")" >>"$GW_TMP/captures"
    # (no file for a reply without a body)
    if [ -e "$out" ]; then gw_cat "$out" >"$GW_TMP/body"; else : >"$GW_TMP/body"; fi
}
# json_str TEXT: TEXT as the inside of a JSON string.
json_str() {
    local s=${1//\\/\\\\}
    printf '%s' "${s//\"/\\\"}"
}
V=/api/v1

# Served as built in: the same bytes as the file.
cap GET $V/openapi.yaml "${AUTH[@]}"
check "GET /api/v1/openapi.yaml serves docs/openapi.yaml" cmp -s "$SPEC" "$GW_TMP/body"

cap GET /healthz; cap GET /readyz; cap GET $V/healthz; cap GET $V/readyz
# The web page: its shell at every page address, its files.
cap GET /; cap GET /runners; cap GET /repos/app; cap GET '/search?q=x'; cap GET /runs/not-a-uuid   # 400
cap GET /; ui=$(sed -n 's|.*/ui/\([0-9a-f]*\)/app.js.*|\1|p' "$GW_TMP/body")
cap GET "/ui/$ui/app.js"
etag=$(grep -i '^etag:' "$GW_TMP/reply.$N.h" | cut -d' ' -f2 | tr -d '\r')
cap GET "/ui/$ui/style.css"; cap GET "/ui/$ui/icon.svg"
cap GET "/ui/$ui/app.js" -H "If-None-Match: $etag"
expect_eq "a page file the client has: 304" 304 "$(cut -d' ' -f1 "$GW_STATUS_FILE")"
cap GET /ui/0000/app.js; cap GET "/ui/$ui/nope.js"                                   # 404
cap GET $V/repos                                   # 401
cap GET $V/repos "${AUTH[@]}"
cap PUT $V/repos/app "${AUTH[@]}" "${J[@]}" -d '{"default_branch": "main"}'
cap PUT $V/repos/app "${AUTH[@]}" "${J[@]}" -d '{"clone_url": null}'
cap PUT $V/repos/app "${AUTH[@]}" "${J[@]}" -d '{"nope": 1}'            # 400
cap PUT $V/repos/app "${AUTH[@]}" -H 'Content-Type: text/plain' -d 'x'  # 415
cap PUT $V/repos/app "${AUTH[@]}" "${J[@]}" -d '{"clone_url": "-x"}'    # 422
cap GET $V/repos/app "${AUTH[@]}"
cap GET $V/repos/nope "${AUTH[@]}"                                      # 404
cap GET '/api/v1/repos/bad%20name' "${AUTH[@]}"                          # 400

tmpl='{"kind": "test", "inputs": {"MSG": {"default": "hi"}}, "jobs": [{"name": "say", "script": ["echo ${{ inputs.MSG }}"]}, {"name": "fail", "script": ["exit 2"]}]}'
cap PUT $V/templates/t1 "${AUTH[@]}" "${J[@]}" -d "$tmpl"
cap PUT $V/templates/t1 "${AUTH[@]}" "${J[@]}" -d "$tmpl"
cap PUT $V/templates/t2 "${AUTH[@]}" -H 'Content-Type: application/yaml' --data-binary $'kind: build\njobs:\n  - name: b\n    script: [echo b]\n'
cap PUT $V/templates/t3 "${AUTH[@]}" "${J[@]}" -d '{"kind": "nope", "jobs": []}'   # 422
cap PUT $V/templates/t3 "${AUTH[@]}" -H 'Content-Type: application/yaml' --data-binary $'kind: [\n'  # 422 with line
cap PUT $V/templates/t3 "${AUTH[@]}" "${J[@]}"                                     # 400 missing body
cap GET $V/templates "${AUTH[@]}"
cap GET $V/templates/t1 "${AUTH[@]}"
cap GET $V/templates/t2 "${AUTH[@]}" -H 'Accept: application/yaml'
cap GET $V/templates/none "${AUTH[@]}"

cap PUT $V/repos/app/templates/t1 "${AUTH[@]}" "${J[@]}" -d '{"inputs": {"MSG": "from repo"}}'
cap PUT $V/repos/app/templates/t1 "${AUTH[@]}"
cap PUT $V/repos/app/templates/t2 "${AUTH[@]}"
cap PUT $V/repos/app/templates/none "${AUTH[@]}"                                   # 404
cap PUT $V/repos/app/templates/t1 "${AUTH[@]}" "${J[@]}" -d '{"inputs": 3}'        # 400
cap GET $V/repos/app/templates "${AUTH[@]}"
cap DELETE $V/repos/app/templates/t2 "${AUTH[@]}"
cap DELETE $V/repos/app/templates/t2 "${AUTH[@]}"                                  # 404
# Schedules, on a repo of their own (its runs stay out of app's lists).
cap PUT $V/templates/t4 "${AUTH[@]}" "${J[@]}" -d '{"kind": "test", "on": {"schedule": ["0 0 1 1 *"]}, "jobs": [{"name": "s", "script": ["true"]}]}'
cap PUT $V/templates/t4 "${AUTH[@]}" "${J[@]}" -d '{"kind": "test", "on": {"schedule": ["0 0 30 2 *"]}, "jobs": [{"name": "s", "script": ["true"]}]}'  # 422
cap GET $V/templates/t4 "${AUTH[@]}"
cap PUT $V/repos/cal "${AUTH[@]}" "${J[@]}" -d '{}'
cap GET $V/repos/cal/schedules "${AUTH[@]}"
cap PUT $V/repos/cal/templates/t4 "${AUTH[@]}"
cap GET $V/repos/cal/schedules "${AUTH[@]}"
cap GET $V/repos/nope/schedules "${AUTH[@]}"                                       # 404

cap POST $V/repos/app/pipelines/run "${AUTH[@]}" "${J[@]}" -d '{"template": "t1", "ref": "refs/heads/x", "commit": "abcd1234"}'
run=$(jq -r .id "$GW_TMP/body")
cap POST $V/repos/app/pipelines/run "${AUTH[@]}" "${J[@]}" -d '{"template": "t2"}'   # 422 not attached
cap POST $V/repos/app/pipelines/run "${AUTH[@]}" "${J[@]}" -d '{"template": 5}'      # 400
cap POST $V/repos/nope/pipelines/run "${AUTH[@]}" "${J[@]}" -d '{}'                  # 404
cap POST $V/repos/app/hooks/push "${AUTH[@]}" "${J[@]}" -d '{"ref": "refs/heads/main", "before": "0000000000000000000000000000000000000000", "after": "1111111111111111111111111111111111111111"}'
cap POST $V/repos/app/hooks/push "${AUTH[@]}" "${J[@]}" -d '{"ref": "refs/heads/main", "before": "1111111111111111111111111111111111111111", "after": "0000000000000000000000000000000000000000"}'
cap POST $V/repos/app/hooks/push "${AUTH[@]}" "${J[@]}" -d '[]'                      # 400

cap GET "$V/pipelines/runs/$run" "${AUTH[@]}"
cap GET $V/pipelines/runs/123e4567-e89b-12d3-a456-426614174000 "${AUTH[@]}"          # 404
cap GET $V/pipelines/runs/nope "${AUTH[@]}"                                         # 400
cap GET "$V/repos/app/pipelines/runs?limit=1" "${AUTH[@]}"
cap GET "$V/repos/app/pipelines/runs?before=$(jq -r .next "$GW_TMP/body")" "${AUTH[@]}"
cap GET "$V/repos/app/pipelines/runs?status=nope" "${AUTH[@]}"                       # 400
cap GET "$V/repos/nope/pipelines/runs" "${AUTH[@]}"                                  # 404
cap POST "$V/pipelines/runs/$run/rerun" "${AUTH[@]}"                                 # 409 queued

RUNNER_LEASE_SECONDS=2 gw_worker_start w1
final() { run_is_final "$run"; }
check "the run ends" wait_for 20 final
job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$run' ORDER BY position LIMIT 1")
cap GET "$V/jobs/$job/logs" "${AUTH[@]}"
cap GET "$V/jobs/$job/logs?offset=1&limit=1" "${AUTH[@]}"
cap GET "$V/jobs/$job/logs?offset=-1" "${AUTH[@]}"                                   # 400
cap GET $V/jobs/123e4567-e89b-12d3-a456-426614174000/logs "${AUTH[@]}"               # 404
cap POST "$V/pipelines/runs/$run/cancel" "${AUTH[@]}"                                # 409 final
# The streams of a final run and job end by themselves; /events stays open.
cap GET "$V/jobs/$job/logs?follow=true" "${AUTH[@]}"
cap GET "$V/jobs/$job/logs" "${AUTH[@]}" -H 'Accept: text/event-stream'
cap GET "$V/jobs/$job/logs" "${AUTH[@]}" -H 'Accept: text/plain'
cap GET "$V/jobs/$job/logs?follow=maybe" "${AUTH[@]}"                                # 400
cap GET "$V/jobs/$job/logs.txt" "${AUTH[@]}"
cap GET $V/jobs/123e4567-e89b-12d3-a456-426614174000/logs.txt "${AUTH[@]}"           # 404
cap GET "$V/pipelines/runs/$run/events" "${AUTH[@]}"
cap GET $V/pipelines/runs/123e4567-e89b-12d3-a456-426614174000/events "${AUTH[@]}"   # 404
cap GET "$V/events?repo=app" "${AUTH[@]}" --max-time 1
cap GET "$V/events?run=nope" "${AUTH[@]}"                                            # 400
cap POST "$V/pipelines/runs/$run/rerun" "${AUTH[@]}"
rerun=$(jq -r .id "$GW_TMP/body")
cap POST $V/pipelines/runs/123e4567-e89b-12d3-a456-426614174000/rerun "${AUTH[@]}"   # 404
cap GET "$V/ids?prefix=${rerun:0:8}" "${AUTH[@]}"
cap GET "$V/ids?prefix=abc" "${AUTH[@]}"                                                # 400
cap GET $V/runners "${AUTH[@]}"
cap POST $V/runners/w1/pause "${AUTH[@]}"
cap POST $V/runners/w1/resume "${AUTH[@]}"
cap POST $V/runners/none/pause "${AUTH[@]}"                                          # 404
cap POST '/api/v1/runners/bad%20name/resume' "${AUTH[@]}"                             # 400
cap DELETE $V/runners/w1 "${AUTH[@]}"                                                # 409 live
check "the rerun ends" wait_for 20 run_is_final "$rerun"
cap POST $V/runners/w1/pause "${AUTH[@]}"
q=$(curl -s "${AUTH[@]}" "${J[@]}" -X POST "$API/repos/app/pipelines/run" -d '{"template": "t1"}' | jq -r .id)
cap POST "$V/pipelines/runs/$q/cancel" "${AUTH[@]}"                                  # 202
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
cap DELETE $V/runners/w1 "${AUTH[@]}"                                                # 204
cap DELETE $V/runners/w1 "${AUTH[@]}"                                                # 404
cap GET /metrics "${AUTH[@]}"
cap GET /metrics                                                                      # 401

# The database goes away: 503 from an operation that needs it.
gw_pg_stop
cap GET $V/runners "${AUTH[@]}"
expect_eq "without the database: 503" 503 "$(cut -d' ' -f1 "$GW_STATUS_FILE")"
cap GET $V/readyz

gw_log "$N replies captured"
check "every reply is declared by the file and valid against its schema" \
    node "$CHECK" replies "$SPEC" "$GW_TMP/captures"
gw_finish
