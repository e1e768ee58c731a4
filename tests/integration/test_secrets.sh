#!/usr/bin/env bash
# Secrets end to end with the local engine:
# - set per repo and for every repo (a repo's own wins), listed by name
#   only, deleted; a bad name, a short value, a secret in a script line and
#   a trigger naming a secret that is not set are refused (422);
# - a job gets the values its env names, and its log has "***" wherever it
#   printed one: raw, base64 at three alignments, URL and JSON forms, split
#   across a flush, a multi-line value line by line;
# - the value is nowhere else: pg_dump, every API reply and event of the
#   run, the API's and the worker's logs at debug level, /proc/*/cmdline
#   while the job runs;
# - a secret deleted between trigger and job start fails the job with that
#   reason; the run lists the names each job received.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/secrets.sh"

gw_pg_start || exit 1
gw_secrets_keys || exit 1
GITWEAVE_LOG_LEVEL=debug gw_api_start || exit 1
gw_worker_start w1 RUNNER_SECRETS_KEY_FILE="$GW_TMP/secrets.key" GITWEAVE_LOG_LEVEL=debug
J=(-H 'Content-Type: application/json')
jqv() { jq -r "$1" <"$GW_TMP/body"; }
# Every reply of the test is kept, to be searched at the end.
replies() { cat "$GW_TMP/body" >>"$GW_TMP/replies"; }

gw_log "keys"
check "the secret key file is 0600" test "$(stat -c %a "$GW_TMP/secrets.key")" = 600
check "the public key file is 0600" test "$(stat -c %a "$GW_TMP/secrets.pub")" = 600

gw_log "setting secrets"
gw_secrets_template || exit 1
gw_repo app leak || exit 1
gw_repo other leak || exit 1
gw_secret_put /repos/app/secrets/DEPLOY_TOKEN "$GW_SECRET"
expect_eq "PUT a repo's secret: 204" 204 "$(status)"
gw_secret_put /secrets/DEPLOY_TOKEN "a-global-value-of-another-length"
expect_eq "PUT a global secret: 204" 204 "$(status)"
gw_secret_put /secrets/MULTI "$GW_SECRET_ML"
expect_eq "PUT a multi-line global secret: 204" 204 "$(status)"
gw_secret_put /repos/nosuch/secrets/X "abcdefgh"
expect_eq "a secret of an unknown repo: 404" 404 "$(status)"

api GET /repos/app/secrets >/dev/null; replies
expect_eq "the repo's list: 200" 200 "$(status)"
expect_eq "the repo's list names its secret" DEPLOY_TOKEN "$(jqv '[.secrets[].name] | join(",")')"
expect_eq "with its scope and key" "repo $(jq -r '.secrets[0].key_id' "$GW_TMP/body" | grep -E '^[0-9a-f]{16}$')" \
    "$(jqv '.secrets[0] | "\(.scope) \(.key_id)"')"
check "and no value" jq -e '.secrets[0] | has("value") | not' "$GW_TMP/body"
api GET /secrets >/dev/null; replies
expect_eq "the global list" "DEPLOY_TOKEN,MULTI" "$(jqv '[.secrets[].name] | join(",")')"

gw_log "the client"
GW=("$GW_BUILD_DIR/gitweave")
export GITWEAVE_URL=${API%/api/v1}
printf '%s\n' "from-the-client-1" | "${GW[@]}" secret put CLIENT_ONE -r app >"$GW_TMP/cli.out" 2>&1
expect_eq "secret put from standard input" "secret CLIENT_ONE set for repo app" "$(cat "$GW_TMP/cli.out")"
(umask 077 && printf 'from-a-file-2' >"$GW_TMP/value.txt")
"${GW[@]}" secret put CLIENT_TWO --file "$GW_TMP/value.txt" >"$GW_TMP/cli.out" 2>&1
expect_eq "secret put from a file, for every repo" "secret CLIENT_TWO set for every repo" "$(cat "$GW_TMP/cli.out")"
"${GW[@]}" secret list -r app >"$GW_TMP/cli.out" 2>&1
check "secret list names both of the repo's" bash -c "grep -q '^CLIENT_ONE ' '$GW_TMP/cli.out' && grep -q '^DEPLOY_TOKEN ' '$GW_TMP/cli.out'"
check "and no value" bash -c "! grep -q from-the-client '$GW_TMP/cli.out'"
"${GW[@]}" secret delete CLIENT_ONE -r app >"$GW_TMP/cli.out" 2>&1
expect_eq "secret delete" "secret CLIENT_ONE deleted for repo app" "$(cat "$GW_TMP/cli.out")"
"${GW[@]}" secret delete CLIENT_TWO >/dev/null 2>&1
"${GW[@]}" secret delete CLIENT_TWO >/dev/null 2>&1
expect_eq "deleting it again: exit 3" 3 "$?"
printf 'short\n' | "${GW[@]}" secret put SHORT >"$GW_TMP/cli.out" 2>&1
expect_eq "a short value: exit 3" 3 "$?"
check "the client says why" grep -q "could not be masked" "$GW_TMP/cli.out"

gw_log "refused"
gw_secret_put /repos/app/secrets/lower_case "abcdefgh"
expect_eq "a bad name: 422" 422 "$(status)"
expect_eq "a bad name: error" "invalid secret name" "$(jqv .error)"
gw_secret_put /repos/app/secrets/SHORT "12345"
expect_eq "a value under 6 bytes: 422" 422 "$(status)"
check "it says why" grep -q "could not be masked" "$GW_TMP/body"
api PUT /templates/inscript "${J[@]}" \
    -d '{"kind": "build", "jobs": [{"name": "a", "script": ["echo ${{ secrets.DEPLOY_TOKEN }}"]}]}' >/dev/null
expect_eq "a secret in a script line: 422" 422 "$(status)"
expect_eq "naming the field" "jobs[0].script[0]" "$(jqv .field)"
gw_template missing '{"kind": "build", "jobs": [{"name": "a", "env": {"T": "${{ secrets.NOT_SET }}"}, "script": ["true"]}]}'
gw_repo miss missing || exit 1
api POST /repos/miss/pipelines/run "${J[@]}" -d '{}' >/dev/null
expect_eq "a trigger naming a secret not set: 422" 422 "$(status)"
expect_eq "naming the env entry" "jobs[0].env.T" "$(jqv .field)"
check "and the secret" grep -q 'NOT_SET' "$GW_TMP/body"

gw_log "a job that prints the secret"
curl -sN "$API/events" >"$GW_TMP/events.sse" 2>/dev/null &
GW_PIDS+=($!)
sleep 0.3
gw_secrets_run_leak app
replies
api GET "/jobs/$job/logs.txt" >/dev/null; replies
api GET "/jobs/$job/logs?offset=0" >/dev/null; replies
api GET "/pipelines/runs/$run/events" >/dev/null; replies
cp "$GW_TMP/events.sse" "$GW_TMP/events.copy"

gw_log "the repo's own value wins; another repo gets the global one"
run2=$(gw_trigger other)
check "the other repo's run finishes" wait_for 60 run_is_final "$run2"
job2=$(api GET "/pipelines/runs/$run2" | jq -r '.jobs[0].id')
expect_eq "it got the global value" "len=32" "$(gw_logs "$job2" | grep '^len=')"

gw_log "a secret deleted between trigger and start"
api POST /runners/w1/pause >/dev/null
expect_eq "pause: 200" 200 "$(status)"
sleep 0.5
run3=$(gw_trigger app)
api DELETE /repos/app/secrets/DEPLOY_TOKEN >/dev/null
expect_eq "DELETE a repo's secret: 204" 204 "$(status)"
api DELETE /repos/app/secrets/DEPLOY_TOKEN >/dev/null
expect_eq "DELETE it again: 404" 404 "$(status)"
api DELETE /secrets/DEPLOY_TOKEN >/dev/null
expect_eq "DELETE the global one: 204" 204 "$(status)"
api POST /runners/w1/resume >/dev/null
check "the run finishes" wait_for 60 run_is_final "$run3"
expect_eq "the run failed" failed "$(run_status "$run3")"
api GET "/pipelines/runs/$run3" >/dev/null
check "the job says which secret" jq -e '.jobs[0].error | test("secret DEPLOY_TOKEN is not set")' "$GW_TMP/body"

gw_log "the value is nowhere else"
pg_dump -d "$DATABASE_URL" >"$GW_TMP/dump.sql"
check "pg_dump has the sealed secrets" grep -q 'secrets' "$GW_TMP/dump.sql"
gw_secrets_clean "pg_dump of the database" "$GW_TMP/dump.sql"
gw_secrets_clean "the API's replies" "$GW_TMP/replies"
gw_secrets_clean "the events" "$GW_TMP/events.copy"
check "the events were read" grep -q "$run" "$GW_TMP/events.copy"
gw_secrets_clean "the worker's log at debug level" "$GW_TMP/worker-w1.log"
gw_secrets_clean "the API's log at debug level" "$GW_TMP/api.log"
gw_psql -c "SELECT spec::text FROM pipeline_runs" >"$GW_TMP/specs"
check "the frozen spec names the secret" grep -q 'secrets.DEPLOY_TOKEN' "$GW_TMP/specs"
gw_secrets_clean "the frozen specs" "$GW_TMP/specs"

gw_log "the header of a job's log: an input holding a secret's value is masked"
# Inputs are stored in clear on the run (they are not a place for a
# secret); still, a job that received the secret never shows it.
cat >"$GW_TMP/hdr.yaml" <<'YAML'
kind: release
inputs:
  V: {required: true}
jobs:
  - name: shows
    env:
      TOKEN: "${{ secrets.HDR_TOKEN }}"
    script:
      - echo "len=${#TOKEN}"
YAML
api PUT /templates/hdr -H 'Content-Type: application/yaml' --data-binary @"$GW_TMP/hdr.yaml" >/dev/null
expect_eq "the template is stored" 201 "$(status)"
gw_repo hdr hdr || exit 1
gw_secret_put /repos/hdr/secrets/HDR_TOKEN "$GW_SECRET"
expect_eq "its secret is set" 204 "$(status)"
(umask 077 && printf '%s' "$GW_SECRET" | jq -Rs '{inputs: {V: .}}' >"$GW_TMP/hdr-body")
api POST /repos/hdr/pipelines/run "${J[@]}" --data-binary @"$GW_TMP/hdr-body" >/dev/null
rm -f "$GW_TMP/hdr-body"
hrun=$(jqv .id)
check "the run finishes" wait_for 60 run_is_final "$hrun"
hjob=$(api GET "/pipelines/runs/$hrun" | jq -r '.jobs[0].id')
gw_logs "$hjob" >"$GW_TMP/hdr-log"
sed 's/^/    log: /' "$GW_TMP/hdr-log"
expect_eq "the header lists the input, masked" \
    "[gitweave] job shows, run ${hrun:0:8} attempt 1, runner w1 (local engine), image none, ref refs/heads/main, commit none, inputs {\"V\":\"***\"}" \
    "$(head -n 1 "$GW_TMP/hdr-log")"
expect_eq "the job had the value" "len=${#GW_SECRET}" "$(grep '^len=' "$GW_TMP/hdr-log")"
gw_secrets_clean "the job's log, header included" "$GW_TMP/hdr-log"

gw_finish
