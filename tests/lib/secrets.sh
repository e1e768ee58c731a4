# What the secrets tests share (source after postgres.sh): a key pair, the
# API and a worker that use it, a job that prints a secret in every form a
# template author might, and the checks that the value appears nowhere.
#
# The test's own processes never hold a value on their command line: values
# go through files (curl --data-binary @FILE, grep -f FILE).

# The secret: a slash, a space and a quote, so that its URL and JSON forms
# differ from it; and a multi-line one.
GW_SECRET='hunter2-S3cr3t/tok en"42'
GW_SECRET_ML=$'first-line-of-it\nsecond-line-too\n'

# gw_secrets_keys: a key pair in $GW_TMP; exports the API's setting.
gw_secrets_keys() {
    "$GW_BUILD_DIR/gitweave-worker" keygen "$GW_TMP/secrets.key" "$GW_TMP/secrets.pub" || return 1
    export GITWEAVE_SECRETS_PUBLIC_KEY_FILE=$GW_TMP/secrets.pub
    # Every form of the value that must never be stored, one a line: as it
    # is, its base64 at the three alignments (the characters that depend on
    # it alone), its URL and JSON forms, the lines of the multi-line one.
    local v=$GW_SECRET b
    {
        printf '%s\n' "$v"
        b=$(printf '%s' "$v" | base64 -w0); printf '%s\n' "${b%????}"
        b=$(printf 'x%s' "$v" | base64 -w0); b=${b:2}; printf '%s\n' "${b%????}"
        b=$(printf 'xy%s' "$v" | base64 -w0); b=${b:3}; printf '%s\n' "${b%????}"
        printf '%s' "$v" | jq -sRr @uri
        printf '%s' "$v" | jq -sR . | sed 's/^"//; s/"$//'
        printf '%s' "$v" | od -An -tx1 | tr -d ' \n'; echo
        printf '%s' "$GW_SECRET_ML" | grep .
        b=$(printf '%s' "$GW_SECRET_ML" | base64 -w0); printf '%s\n' "${b%????}"
    } >"$GW_TMP/forms"
}

# gw_secret_put PATH VALUE: PUT a secret (the value through a 0600 file).
gw_secret_put() {
    (umask 077 && jq -n --rawfile v /dev/stdin '{value: $v}' <<<"$2" | jq -c '.value |= rtrimstr("\n")' \
        >"$GW_TMP/secret-body")
    api PUT "$1" -H 'Content-Type: application/json' --data-binary @"$GW_TMP/secret-body" >/dev/null
    rm -f "$GW_TMP/secret-body"
}

# A job that prints the secret raw, in base64 (three alignments), URL- and
# JSON-encoded, half of it, then after a flush interval the rest, and the
# multi-line one; then sleeps so that a test can look at the processes.
gw_secrets_template() {
    cat >"$GW_TMP/leak.yaml" <<'YAML'
kind: release
jobs:
  - name: leak
    env:
      TOKEN: "${{ secrets.DEPLOY_TOKEN }}"
      ML: "${{ secrets.MULTI }}"
    script:
      - |-
        printf 'raw:%s\n' "$TOKEN"
      - |-
        printf 'b64:%s\n' "$(printf %s "$TOKEN" | base64 | tr -d '\n')"
      - |-
        printf 'b64x:%s\n' "$(printf x%s "$TOKEN" | base64 | tr -d '\n')"
      - |-
        printf 'b64xy:%s\n' "$(printf xy%s "$TOKEN" | base64 | tr -d '\n')"
      - |-
        printf 'url:%s\n' "$(printf %s "$TOKEN" | sed -e 's|%|%25|g' -e 's|/|%2F|g' -e 's| |%20|g' -e 's|"|%22|g')"
      - |-
        printf 'json:{"t":"%s"}\n' "$(printf %s "$TOKEN" | sed 's|"|\\"|g')"
      - |-
        printf 'split:%s' "$(printf %s "$TOKEN" | head -c 8)"; sleep 1; printf '%s\n' "$(printf %s "$TOKEN" | tail -c +9)"
      - |-
        printf '%s' "$ML"
      - |-
        echo "len=${#TOKEN}"; echo sleeping-now; sleep 4
YAML
    api PUT /templates/leak -H 'Content-Type: application/yaml' --data-binary @"$GW_TMP/leak.yaml" >/dev/null
    case $(status) in 200 | 201) ;; *) echo "template leak: HTTP $(status): $(cat "$GW_TMP/body")"; return 1 ;; esac
}

# gw_secrets_clean DESCRIPTION FILE: FILE holds none of the forms.
gw_secrets_clean() {
    if grep -F -q -f "$GW_TMP/forms" "$2"; then
        fail "$1: a form of the secret is in it: $(grep -F -o -f "$GW_TMP/forms" "$2" | head -3 | tr '\n' ' ')"
    else
        pass "$1"
    fi
}

# gw_secrets_check_log FILE: FILE is the log of the leak job, masked.
gw_secrets_check_log() {
    local log=$1
    gw_secrets_clean "the stored log holds no form of the secret" "$log"
    check "raw masked" grep -qx 'raw:\*\*\*' "$log"
    check "base64 masked" grep -qx 'b64:\*\*\*' "$log"
    check "base64 after one byte masked" grep -qE '^b64x:.{0,4}\*\*\*.{0,4}$' "$log"
    check "base64 after two bytes masked" grep -qE '^b64xy:.{0,4}\*\*\*.{0,4}$' "$log"
    check "URL form masked" grep -qx 'url:\*\*\*' "$log"
    check "JSON form masked" grep -qx 'json:{"t":"\*\*\*"}' "$log"
    check "split across a flush masked" grep -qx 'split:\*\*\*' "$log"
    check "multi-line value masked line by line" grep -qx '\*\*\*' "$log"
    expect_eq "the job had the value" "len=${#GW_SECRET}" "$(grep '^len=' "$log")"
}

# gw_secrets_run_leak REPO: trigger the leak job of REPO (sets run, job),
# read every process's command line while it runs, wait for its end and
# check its log; the run's reply is left in $GW_TMP/body.
gw_secrets_run_leak() {
    run=$(gw_trigger "$1")
    check "the run was created" grep -Eq '^[0-9a-f-]{36}$' <<<"$run"
    job=$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')
    check "the job runs" wait_for 60 bash -c "curl -s '$API/jobs/$job/logs.txt' | grep -q sleeping-now"
    # While it runs: no process's command line holds the value.
    cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' >"$GW_TMP/cmdlines"
    check "command lines were read" test -s "$GW_TMP/cmdlines"
    gw_secrets_clean "no command line holds the secret while the job runs" "$GW_TMP/cmdlines"
    check "the run finishes" wait_for 60 run_is_final "$run"
    expect_eq "the run succeeded" success "$(run_status "$run")"
    gw_logs "$job" >"$GW_TMP/log"
    sed 's/^/    log: /' "$GW_TMP/log"
    gw_secrets_check_log "$GW_TMP/log"
    api GET "/pipelines/runs/$run" >/dev/null
    expect_eq "the run lists the names the job received" '["DEPLOY_TOKEN","MULTI"]' \
        "$(jq -c '.jobs[0].secrets' <"$GW_TMP/body")"
}
