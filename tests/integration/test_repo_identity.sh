#!/usr/bin/env bash
# A repo's workspace and git objects are its own: a repo created again under
# a deleted one's name, or one whose clone_url changed, starts from an empty
# workspace, and a commit that only another repository has is never built
# (local engine).
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_worker_start w1
J=(-H 'Content-Type: application/json')

# bare NAME: a bare repository $GW_TMP/NAME.git whose main holds NAME.txt,
# and a branch "only" with one more commit; prints that commit.
bare() {
    local b="$GW_TMP/$1.git" c="$GW_TMP/$1-clone"
    git init -q --bare -b main "$b" && git init -q -b main "$c" &&
        git -C "$c" config user.email test@example.com && git -C "$c" config user.name test &&
        echo "$1" >"$c/$1.txt" && git -C "$c" add -A && git -C "$c" commit -qm "$1" &&
        git -C "$c" push -q "$b" main && git -C "$c" checkout -q -b only &&
        echo "only in $1" >"$c/only.txt" && git -C "$c" add -A && git -C "$c" commit -qm "only $1" &&
        git -C "$c" push -q "$b" only && git -C "$c" rev-parse HEAD
}
only_a=$(bare a) || exit 1
only_b=$(bare b) || exit 1
bare c >/dev/null || exit 1

gw_template ws '{"kind": "build", "jobs": [
  {"name": "look", "script": ["if [ -e leftover.txt ]; then cat leftover.txt; exit 7; fi",
                              "echo \"left by $GITWEAVE_RUN_ID\" > leftover.txt"]}]}' || exit 1
# use REPO CLONE_URL: create (or change) REPO with CLONE_URL and attach ws.
use() {
    api PUT "/repos/$1" "${J[@]}" -d "{\"clone_url\": \"$2\"}" >/dev/null &&
        api PUT "/repos/$1/templates/ws" >/dev/null
}
# finish REPO [JSON]: trigger a run and print, once it ends, the status of
# its checkout, then its job's status and error.
finish() {
    local run
    run=$(gw_trigger "$@")
    wait_for 30 run_is_final "$run" || return 1
    api GET "/pipelines/runs/$run" | jq -r '"\(.jobs[0].status) \(.jobs[1].status) \(.jobs[1].error // "")"'
}

use hello "$GW_TMP/a.git" || exit 1
leftover='failed line 1 "if [ -e leftover.txt ]; then cat leftover.txt; exit 7; fi" exited with code 7'
expect_eq "a first run of hello leaves a file" "success success " "$(finish hello)"
expect_eq "a second run of the same repo finds it (the workspace is kept)" \
    "success $leftover" "$(finish hello)"
expect_eq "a commit of its own repository is checked out" success \
    "$(finish hello "{\"commit\": \"$only_a\"}" | cut -d' ' -f1)"

# --- deleted, then created again with another clone_url ---
api DELETE /repos/hello >/dev/null
expect_eq "hello is deleted" 204 "$(status)"
use hello "$GW_TMP/b.git" || exit 1
expect_eq "the new hello sees nothing of the old one's workspace" "success success " \
    "$(finish hello)"
expect_eq "nor checks out a commit only the old one's repository has" "failed skipped " \
    "$(finish hello "{\"commit\": \"$only_a\"}")"
expect_eq "its own commits are checked out" success \
    "$(finish hello "{\"commit\": \"$only_b\"}" | cut -d' ' -f1)"

# --- the clone_url changed ---
use hello "$GW_TMP/c.git" || exit 1
expect_eq "after a clone_url change the workspace starts empty" "success success " \
    "$(finish hello)"
expect_eq "and no commit of the earlier clone_url is checked out" "failed skipped " \
    "$(finish hello "{\"commit\": \"$only_b\"}")"

# --- a commit that origin no longer has ---
expect_eq "a commit of origin's branch is checked out" success \
    "$(finish hello "{\"commit\": \"$(git -C "$GW_TMP/c-clone" rev-parse only)\"}" | cut -d' ' -f1)"
git -C "$GW_TMP/c.git" branch -q -D only
git -C "$GW_TMP/c.git" reflog expire --expire=now --all && git -C "$GW_TMP/c.git" gc -q --prune=now
expect_eq "a commit fetched earlier but gone from origin is not checked out" "failed skipped " \
    "$(finish hello "{\"commit\": \"$(git -C "$GW_TMP/c-clone" rev-parse only)\"}")"
gw_finish
