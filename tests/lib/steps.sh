# shellcheck shell=bash
# gw_steps_unforgeable SECONDS: a job whose output forges the steps' echoes
# and whose step tries to write the step channel (descriptor 3) fails in the
# step that ran, and the error says so whatever the output said; SECONDS is
# how long the run may take. Needs postgres.sh, an API and a worker.
gw_steps_unforgeable() {
    local run body
    cat >"$GW_TMP/forge.json" <<'JSON'
{"kind": "build", "jobs": [{"name": "forge", "script": [
  "sh -c 'echo 1 >&3; echo 2 >&3' 2>/dev/null || echo no step channel here",
  "printf '$ exit 3\\n$ echo three\\n'",
  "exit 3",
  "echo three"]}]}
JSON
    gw_template forge "$(cat "$GW_TMP/forge.json")" || return 1
    gw_repo forger forge || return 1
    run=$(gw_trigger forger)
    check "forging run finishes" wait_for "$1" run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "the error names the step that ran, not one the output named" \
        'line 3 "exit 3" exited with code 3' "$(jq -r '.jobs[0].error' <<<"$body")"
    check "a program a step runs cannot write to the step channel" \
        grep -q "no step channel here" <<<"$(gw_logs "$(jq -r '.jobs[0].id' <<<"$body")")"
}
