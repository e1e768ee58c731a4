#!/usr/bin/env bash
# A real git push starts a pipeline: a bare repository with the shipped
# post-receive hook, the example `build` template attached, and for each
# engine (local, docker): a push runs the build on the pushed commit (the
# checkout is the run's first entry, with its own log); a second push reuses
# the workspace (the first run's untracked output is still there) and checks
# the new commit out; a push to a branch outside the filter starts nothing; a
# commit whose build fails gives a failed run. The API has a token, which
# the hook reads from a 0600 file as the README installs it.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
source "$GW_SOURCE_DIR/tests/lib/git_src.sh"

IMAGE=gwtest-busybox
gw_dockerd_busybox "$IMAGE"
gw_pg_start
# Every call of this test carries the token in a header file.
gw_api_start_token || exit 1

api PUT /templates/build -H 'Content-Type: application/yaml' \
    --data-binary @"$GW_SOURCE_DIR/docs/examples/templates/build.yaml" >/dev/null
check "example build template stored ($(status))" test "$(status)" = 201
for t in test release; do
    api PUT "/templates/$t" -H 'Content-Type: application/yaml' \
        --data-binary @"$GW_SOURCE_DIR/docs/examples/templates/$t.yaml" >/dev/null
    check "example $t template stored ($(status))" test "$(status)" = 201
done
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com

runs_of() { gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = '$1'"; }
latest_run() { gw_psql -c "SELECT r.id FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = '$1' ORDER BY r.created_at DESC LIMIT 1"; }
runs_are() { [ "$(runs_of "$1")" = "$2" ]; }

for engine in local docker; do
    repo=app-$engine
    bare=$GW_TMP/git/$repo.git
    work=$GW_TMP/clone-$repo
    gw_hooked_repo "$repo" "$bare" build
    check "[$engine] repo registered and template attached" test "$(status)" = 201

    gw_worker_start "w-$engine" RUNNER_CONTAINER_ENGINE=$engine RUNNER_DEFAULT_IMAGE=$IMAGE
    worker=$GW_WORKER_PID

    git init -q -b main "$work"
    cat >"$work/build.sh" <<'SH'
#!/bin/sh
set -e
if [ -f out/artifact.txt ]; then echo "REUSED $(cat out/artifact.txt)"; fi
mkdir -p out
echo "$GITWEAVE_COMMIT" > out/artifact.txt
echo "MARKER $(cat version.txt)"
# A hostile job plants a git hook: the next checkout runs git on the runner's
# host, and must not run it.
mkdir -p .git/hooks
printf '#!/bin/sh\ntouch "$PWD/PWNED"\n' > .git/hooks/post-checkout
chmod +x .git/hooks/post-checkout
SH
    chmod +x "$work/build.sh"
    echo out/ >"$work/.gitignore"
    echo one >"$work/version.txt"
    git -C "$work" add -A && git -C "$work" commit -qm one
    git -C "$work" remote add origin "$bare"
    git -C "$work" push -q origin main 2>"$GW_TMP/push.err"
    check "[$engine] the hook reports a started run" grep -q "1 pipeline run(s) started" "$GW_TMP/push.err"
    check "[$engine] a push starts a run by itself" wait_for 10 runs_are "$repo" 1
    run=$(latest_run "$repo")
    check "[$engine] the hook prints the run's id" grep -q "run $run (build)" "$GW_TMP/push.err"
    check "[$engine] first run finishes" wait_for 90 run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    c1=$(git -C "$work" rev-parse HEAD)
    expect_eq "[$engine] first run succeeded" success "$(echo "$body" | jq -r .status)"
    expect_eq "[$engine] trigger, ref and commit" "push refs/heads/main $c1" "$(echo "$body" | jq -r '"\(.trigger) \(.ref) \(.commit)"')"
    expect_eq "[$engine] entries: checkout first" "checkout build report" "$(echo "$body" | jq -r '[.jobs[].name] | join(" ")')"
    checkout_log=$(gw_logs "$(echo "$body" | jq -r '.jobs[0].id')")
    check "[$engine] checkout log shows the git commands" grep -q '^\$ git fetch' <<<"$checkout_log"
    check "[$engine] checkout log shows the commit" grep -q "HEAD is now at $c1" <<<"$checkout_log"
    build_log=$(gw_logs "$(echo "$body" | jq -r '.jobs[1].id')")
    check "[$engine] build log has the marker" grep -q "MARKER one" <<<"$build_log"
    check "[$engine] build log has the expanded context" grep -q "building $repo at $c1 (refs/heads/main) for release" <<<"$build_log"

    echo two >"$work/version.txt"
    git -C "$work" commit -qam two
    c2=$(git -C "$work" rev-parse HEAD)
    git -C "$work" push -q origin main 2>/dev/null
    check "[$engine] second push starts a second run" wait_for 10 runs_are "$repo" 2
    run=$(latest_run "$repo")
    check "[$engine] second run finishes" wait_for 90 run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "[$engine] second run succeeded" success "$(echo "$body" | jq -r .status)"
    build_log=$(gw_logs "$(echo "$body" | jq -r '.jobs[1].id')")
    check "[$engine] workspace reused: the first run's output is there" grep -q "REUSED $c1" <<<"$build_log"
    check "[$engine] the new commit is checked out" grep -q "MARKER two" <<<"$build_log"
    check "[$engine] checkout says the new commit" grep -q "HEAD is now at $c2" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[0].id')")"
    # Each engine's workspaces and git directories: the docker engine's in docker/.
    sub=; [ "$engine" = docker ] && sub=docker/
    ws=$GW_TMP/work/w-$engine/$sub$(gw_repo_id "$repo")
    check "[$engine] the workspace is there" test -d "$ws"
    check "[$engine] a hook planted by a job did not run at the next checkout" test ! -e "$ws/PWNED"
    check "[$engine] the git directory is outside the workspace" test -d "$GW_TMP/work/w-$engine/.git-repos/$sub$(gw_repo_id "$repo").git"

    git -C "$work" checkout -q -b feature/x
    echo three >"$work/version.txt"
    git -C "$work" commit -qam three
    git -C "$work" push -q origin feature/x 2>/dev/null
    sleep 2
    expect_eq "[$engine] a push outside the branch filter starts nothing" 2 "$(runs_of "$repo")"

    git -C "$work" checkout -q main
    printf '#!/bin/sh\necho "about to break"\nexit 3\n' >"$work/build.sh"
    git -C "$work" commit -qam broken
    git -C "$work" push -q origin main 2>/dev/null
    check "[$engine] broken push starts a run" wait_for 10 runs_are "$repo" 3
    run=$(latest_run "$repo")
    check "[$engine] broken run finishes" wait_for 90 run_is_final "$run"
    expect_eq "[$engine] a failing build fails the run" "failed success failed skipped" \
        "$(api GET "/pipelines/runs/$run" | jq -r '[.status, .jobs[].status] | join(" ")')"
    # The client follows a run of the broken commit: its log, then exit 1.
    GITWEAVE_URL=${API%/api/v1} GITWEAVE_TOKEN=$TOKEN "$GW_BUILD_DIR/gitweave" run "$repo" -t build -f \
        >"$GW_TMP/client.out" 2>&1
    expect_eq "[$engine] gitweave run -f of a failing build exits 1" 1 "$?"
    check "[$engine] gitweave run -f prints the failing job's log" grep -q "^about to break$" "$GW_TMP/client.out"

    # A commit that does not exist fails the checkout, visibly.
    run=$(gw_trigger "$repo" '{"commit": "0123456789012345678901234567890123456789"}')
    check "[$engine] unknown-commit run finishes" wait_for 60 run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "[$engine] unknown commit fails the checkout, the rest skipped" "failed failed skipped skipped" \
        "$(echo "$body" | jq -r '[.status, .jobs[].status] | join(" ")')"
    # The example release template, by hand: on a branch it needs VERSION.
    api PUT "/repos/$repo/templates/release" >/dev/null
    run=$(gw_trigger "$repo" '{"template": "release", "ref": "main"}')
    check "[$engine] release without VERSION finishes" wait_for 60 run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "[$engine] release without VERSION on a branch fails" failed "$(echo "$body" | jq -r .status)"
    check "[$engine] and says why" grep -q "no version: push a tag" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[1].id')")"
    run=$(gw_trigger "$repo" '{"template": "release", "inputs": {"VERSION": "1.2.3"}, "ref": "main"}')
    check "[$engine] release run finishes" wait_for 60 run_is_final "$run"
    body=$(api GET "/pipelines/runs/$run")
    expect_eq "[$engine] release run succeeded" success "$(echo "$body" | jq -r .status)"
    check "[$engine] release packaged the version" grep -q "$repo-1.2.3.tar" <<<"$(gw_logs "$(echo "$body" | jq -r '.jobs[2].id')")"
    GITWEAVE_URL=${API%/api/v1} GITWEAVE_TOKEN=$TOKEN "$GW_BUILD_DIR/gitweave" run "$repo" -t release \
        -i VERSION=2.0.0 --ref main -f >"$GW_TMP/client.out" 2>&1
    expect_eq "[$engine] gitweave run -f of the release exits 0" 0 "$?"
    check "[$engine] gitweave run -f prints the release's log" grep -q "$repo-2.0.0.tar" "$GW_TMP/client.out"
    kill "$worker"; wait "$worker" 2>/dev/null
done
expect_eq "no container left behind" 0 "$(docker ps -aq | wc -l)"
gw_finish
