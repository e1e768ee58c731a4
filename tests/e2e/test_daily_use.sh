#!/usr/bin/env bash
# A developer's day (issue 14), on the local and the docker engine: a small
# project pushed through the shipped post-receive hook with the example
# build and release templates attached. A push to main starts the build and
# the hook prints the run's URL, which answers; an annotated tag v1.2.0
# starts the release template, which checks the tag's commit out (the run
# records the commit, not the tag object) and packages 1.2.0; a push to
# a branch that no template takes starts nothing and the hook says why for
# each template; the runs are in the list across repos and in `gitweave
# runs`; and the build's log read from every byte offset is exactly the log
# from that byte (from the start of a multi-byte character when the offset
# is inside one), through the JSON pages and logs.txt. A build broken by
# hand and run with the client names its failing line, and the manual run
# records the commit it checked out.
#
# Each part is a function section_NAME ENGINE, run in the order of SECTIONS
# for each engine, after setup ENGINE; they share the state setup leaves
# (repo, bare, work, hook output in $GW_TMP/push.err). To add a part, write
# its function and add its name to SECTIONS.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
source "$GW_SOURCE_DIR/tests/lib/git_src.sh"

IMAGE=gwtest-busybox
gw_dockerd_busybox "$IMAGE"
gw_pg_start
gw_api_start_token || exit 1
gwc() { GITWEAVE_URL=$API_ROOT GITWEAVE_TOKEN=$TOKEN "$GW_BUILD_DIR/gitweave" "$@"; }
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com

for t in build release; do
    api PUT "/templates/$t" -H 'Content-Type: application/yaml' \
        --data-binary @"$GW_SOURCE_DIR/docs/examples/templates/$t.yaml" >/dev/null
    check "example $t template stored ($(status))" test "$(status)" = 201
done

runs_of() { gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = '$1'"; }
# push REF...: push through the hook; its output in $GW_TMP/push.err.
push() { git -C "$work" push -q origin "$@" 2>"$GW_TMP/push.err"; }
# hook_runs TEMPLATE: the ids of the runs of TEMPLATE that the hook printed.
hook_runs() { sed -n "s/.*gitweave:   run \([0-9a-f-]*\) ($1) .*/\1/p" "$GW_TMP/push.err"; }

# setup ENGINE: a bare repository with the hook, the repo registered with
# build and release attached, a clone with a small project, a worker.
setup() {
    local engine=$1
    repo=day-$engine
    bare=$GW_TMP/git/$repo.git
    work=$GW_TMP/clone-$repo
    gw_hooked_repo "$repo" "$bare" build release
    check "[$engine] repo registered, build and release attached" test "$(status)" = 201

    git init -q -b main "$work"
    # Output with multi-byte characters, in one chunk.
    printf '#!/bin/sh\necho "compiling héllo wörld ✓ — ok"\necho "tests: 3 passed, ünïcödé fine"\n' >"$work/build.sh"
    chmod +x "$work/build.sh"
    git -C "$work" add -A && git -C "$work" commit -qm one
    git -C "$work" remote add origin "$bare"

    gw_worker_start "w-$engine" RUNNER_CONTAINER_ENGINE="$engine" RUNNER_DEFAULT_IMAGE=$IMAGE
    worker=$GW_WORKER_PID
}

# A push to main starts the build; the hook prints the run's id and the
# address of its page (a web page of the API).
section_push_prints_url() {
    local engine=$1 url
    push main
    check "[$engine] the hook says one run started" grep -q "refs/heads/main: 1 pipeline run(s) started" "$GW_TMP/push.err"
    build_run=$(hook_runs build)
    check "[$engine] the hook prints the build run's id" test -n "$build_run"
    check "[$engine] and why release did not start" \
        grep -q "release: not started (branch pushes not enabled)" "$GW_TMP/push.err"
    url=$(sed -n "s|.*run $build_run (build) \(http[^ ]*\).*|\1|p" "$GW_TMP/push.err" | head -n 1)
    expect_eq "[$engine] the run's page" "$API_ROOT/runs/$build_run" "$url"
    expect_eq "[$engine] the page answers" "200 text/html; charset=utf-8" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url")"
    expect_eq "[$engine] the run it names is there" "$build_run build" \
        "$(curl -s "$API/pipelines/runs/${url##*/runs/}" | jq -r '"\(.id) \(.template)"')"
    check "[$engine] the build finishes" wait_for 90 run_is_final "$build_run"
    expect_eq "[$engine] the build succeeded" success "$(run_status "$build_run")"
}

# A tag v1.2.0 starts the release template on the tag; it packages 1.2.0.
section_tag_starts_release() {
    local engine=$1 run body c
    echo "1.2.0" >"$work/VERSION.txt"
    git -C "$work" add -A && git -C "$work" commit -qm "release 1.2.0"
    c=$(git -C "$work" rev-parse HEAD)
    git -C "$work" tag -a v1.2.0 -m "release 1.2.0"
    push v1.2.0
    check "[$engine] the tag push says one run started" grep -q "refs/tags/v1.2.0: 1 pipeline run(s) started" "$GW_TMP/push.err"
    check "[$engine] build says why not" grep -q "build: not started (tag pushes not enabled)" "$GW_TMP/push.err"
    run=$(hook_runs release)
    check "[$engine] the hook prints the release run" test -n "$run"
    check "[$engine] the release finishes" wait_for 90 run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "[$engine] the release succeeded on the tag" "success push refs/tags/v1.2.0 $c" \
        "$(echo "$body" | jq -r '"\(.status) \(.trigger) \(.ref) \(.commit)"')"
    check "[$engine] the checkout took the tag's commit" \
        grep -q "HEAD is now at ${c:0:7}" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[0].id')")"
    check "[$engine] the release packaged the tag's version" \
        grep -q "$repo-1.2.0.tar" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[1].id')")"
    git -C "$work" tag nightly
    push nightly
    check "[$engine] a tag no filter takes starts nothing" grep -q "refs/tags/nightly: 0 pipeline run(s) started" "$GW_TMP/push.err"
    check "[$engine] and says why" grep -q "release: not started (tag not matched)" "$GW_TMP/push.err"
}

# A push to a branch that no template takes: nothing, and why for each.
section_branch_matches_nothing() {
    local engine=$1 before
    before=$(runs_of "$repo")
    git -C "$work" checkout -q -b feature/x
    git -C "$work" commit -q --allow-empty -m wip
    push feature/x
    git -C "$work" checkout -q main
    check "[$engine] the hook says no run started" grep -q "refs/heads/feature/x: 0 pipeline run(s) started" "$GW_TMP/push.err"
    check "[$engine] build: branch not matched" grep -q "build: not started (branch not matched)" "$GW_TMP/push.err"
    check "[$engine] release: branch pushes not enabled" grep -q "release: not started (branch pushes not enabled)" "$GW_TMP/push.err"
    expect_eq "[$engine] no run was stored" "$before" "$(runs_of "$repo")"
}

# The runs are in the list across repos and in `gitweave runs`.
section_run_list() {
    local engine=$1
    expect_eq "[$engine] the list across repos has the repo's runs" "$(runs_of "$repo")" \
        "$(curl -s "$API/pipelines/runs?repo=$repo&limit=100" | jq '.runs | length')"
    gwc runs >"$GW_TMP/runs.out" 2>&1
    check "[$engine] gitweave runs lists the build run with its repo" grep -Eq "^$build_run +success +$repo +build " "$GW_TMP/runs.out"
}

# The build's log from every byte offset, through the JSON pages (one page,
# and one chunk at a time) and logs.txt.
section_log_offsets() {
    local engine=$1 job
    job=$(api GET "/pipelines/runs/$build_run" | jq -r '.jobs[1].id')
    check "[$engine] offsets read exactly from every byte" python3 - "$API" "$TOKEN" "$job" <<'PY'
import json, sys, urllib.request
api, token, job = sys.argv[1:]
def get(path):
    req = urllib.request.Request(api + path, headers={"Authorization": "Bearer " + token})
    return urllib.request.urlopen(req).read()
whole = get(f"/jobs/{job}/logs.txt")
assert len(whole.decode()) < len(whole), "the log has multi-byte characters"
bad = []
for k in range(len(whole) + 1):
    start = k
    while 0 < start < len(whole) and whole[start] & 0xC0 == 0x80:
        start -= 1
    want = whole[start:]
    page = json.loads(get(f"/jobs/{job}/logs?offset={k}"))
    got = "".join(c["chunk"] for c in page["chunks"]).encode()
    first = page["chunks"][0]["offset"] if page["chunks"] else len(whole)
    if got != want or first != start or not page["complete"]:
        bad.append(f"offset {k}: page {page}")
    if get(f"/jobs/{job}/logs.txt?offset={k}") != want:
        bad.append(f"offset {k}: logs.txt")
    # A chunk at a time: complete only at the end.
    page = json.loads(get(f"/jobs/{job}/logs?offset={k}&limit=1"))
    if page["complete"] and page["next_offset"] != len(whole):
        bad.append(f"offset {k}: complete with bytes left: {page}")
print("\n".join(bad[:5]))
sys.exit(1 if bad else 0)
PY
}

# A build broken by hand, run with the client: each step is in the log
# before its output, and the error names the failing line; the manual run
# records the commit it checked out (a manual run has no commit of its own),
# and the jobs see it.
section_failing_line() {
    local engine=$1 run body head log
    api PUT /templates/checks -H 'Content-Type: application/yaml' --data-binary @- >/dev/null <<'YAML'
kind: test
on:
  manual: {}
jobs:
  - name: checks
    script:
      - echo "checking ${{ commit.sha }}"
      - echo one
      - test -f configure
      - echo three
YAML
    api PUT "/repos/$repo/templates/checks" >/dev/null
    head=$(git -C "$bare" rev-parse main)
    gwc run "$repo" -t checks -f >"$GW_TMP/run.out" 2>&1
    expect_eq "[$engine] gitweave run -f exits 1 on the failure" 1 "$?"
    run=$(gw_psql -c "SELECT r.id FROM pipeline_runs r JOIN templates t ON t.id = r.template_id
                        JOIN repos p ON p.id = r.repo_id WHERE p.name = '$repo' AND t.name = 'checks'")
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "[$engine] the error names the failing line" \
        'job checks failed: line 3 "test -f configure" exited with code 1' "$(jq -r .error <<<"$body")"
    expect_eq "[$engine] the manual run records the commit it built" "manual $head" \
        "$(jq -r '"\(.trigger) \(.commit)"' <<<"$body")"
    log=$(gw_job_log "$(jq -r '.jobs[1].id' <<<"$body")")
    expect_eq "[$engine] each step before its output, up to the failing one" "\$ echo \"checking \${GITWEAVE_EXPR_COMMIT_SHA}\"
checking $head
\$ echo one
one
\$ test -f configure" "$log"
    check "[$engine] the client shows the failing line too" grep -q 'line 3 "test -f configure"' "$GW_TMP/run.out"
}

SECTIONS=(push_prints_url tag_starts_release branch_matches_nothing run_list log_offsets failing_line)

for engine in local docker; do
    setup "$engine"
    for s in "${SECTIONS[@]}"; do
        gw_log "[$engine] $s"
        "section_$s" "$engine"
    done
    kill "$worker"
    wait "$worker" 2>/dev/null
done
expect_eq "no container left behind" 0 "$(docker ps -aq | wc -l)"
gw_finish
