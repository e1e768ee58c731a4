#!/usr/bin/env bash
# What other local users and earlier jobs can do to a worker (local engine):
# a work or runner directory that another user owns, that others can write,
# or that is a symlink stops the worker at start, naming the path; the work
# directory, the runner directory and the workspaces are private (0700); a git
# directory the worker did not create is refused and its hooks never run; a
# FIFO a job left at an untracked .gitattributes does not block the next
# checkout; a hanging fetch ends on RUNNER_CHECKOUT_TIMEOUT_SECONDS; a
# clone_url starting with "-" is refused by the API and is no option to git;
# a corrupt frozen spec fails its run instead of succeeding.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/other_user.sh"

gw_other_user gwtest-other || { fail "could not create a second local user"; exit 1; }
gw_pg_start
gw_api_start
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com

# worker_refuses DESCRIPTION WORKDIR PATTERN: the worker exits non-zero at
# once, with a message that names the path and matches PATTERN.
worker_refuses() {
    local desc=$1 dir=$2 pattern=$3 rc=0
    RUNNER_NAME=r1 RUNNER_CONTAINER_ENGINE=local RUNNER_WORKDIR=$dir \
        timeout 10 "$GW_BUILD_DIR/gitweave-worker" >"$GW_TMP/refuse.out" 2>&1 || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF "\"$dir" "$GW_TMP/refuse.out" &&
        grep -Eq "$pattern" "$GW_TMP/refuse.out"; then
        pass "$desc"
    else
        fail "$desc: exit $rc, said: $(head -c 600 "$GW_TMP/refuse.out")"
    fi
}

# A sticky, world-writable directory, as /tmp is.
shared=$GW_TMP/shared
mkdir -m 1777 "$shared"
as_other mkdir -m 0777 "$shared/by-other"
worker_refuses "work dir owned by another user: refused" "$shared/by-other" "owned by uid $(id -u gwtest-other)"
check "nothing was created in it" test -z "$(ls -A "$shared/by-other")"
mkdir -m 0777 "$shared/open"; chmod 0777 "$shared/open"
worker_refuses "work dir writable by others: refused" "$shared/open" "writable by"
mkdir -m 0700 "$shared/real"
as_other ln -s "$shared/real" "$shared/link"
worker_refuses "work dir that is a symlink: refused" "$shared/link" "symbolic link"
mkdir -m 0700 "$shared/ok"; mkdir -m 0755 "$shared/ok/r1"; chown gwtest-other "$shared/ok/r1"
worker_refuses "runner dir owned by another user: refused" "$shared/ok" "owned by uid"
mkdir -m 0700 "$shared/ok2"; mkdir -m 0777 "$shared/ok2/r1"; chmod 0777 "$shared/ok2/r1"
worker_refuses "runner dir writable by others: refused" "$shared/ok2" "writable by"

# A corrupt frozen spec (script not a list), queued before any worker runs.
gw_template one '{"kind": "test", "jobs": [{"name": "j", "script": ["echo should-not-run"]}]}' || exit 1
gw_repo corrupt one || exit 1
corrupt=$(gw_trigger corrupt)
gw_psql -c "UPDATE pipeline_runs SET spec = jsonb_set(spec, '{0,script}', '\"echo x\"') WHERE id = '$corrupt'"

# Repositories to check out, served from a bare repository on this host.
git init -q --bare -b main "$GW_TMP/src.git"
git init -q -b main "$GW_TMP/clone"
echo one >"$GW_TMP/clone/file.txt"
git -C "$GW_TMP/clone" add -A && git -C "$GW_TMP/clone" commit -qm one
git -C "$GW_TMP/clone" push -q "$GW_TMP/src.git" main
gw_template fifo '{"kind": "test", "jobs": [{"name": "plant", "script": ["cat file.txt", "rm -f .gitattributes", "mkfifo .gitattributes", "mkfifo sub.fifo"]}]}' || exit 1
for r in planted private fifo; do
    api PUT "/repos/$r" -H 'Content-Type: application/json' -d "{\"clone_url\": \"$GW_TMP/src.git\"}" >/dev/null
done
api PUT /repos/private/templates/one >/dev/null
api PUT /repos/planted/templates/one >/dev/null
api PUT /repos/fifo/templates/fifo >/dev/null

export RUNNER_JOB_TIMEOUT_SECONDS=60 RUNNER_CHECKOUT_TIMEOUT_SECONDS=3
gw_worker_start w1
W=$GW_TMP/work

check "corrupt-spec run finishes" wait_for 20 run_is_final "$corrupt"
expect_eq "a corrupt frozen spec fails the run" failed "$(run_status "$corrupt")"
err=$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$corrupt'")
check "and says what is wrong ($err)" grep -q "script" <<<"$err"
check "its script did not run" test -z "$(gw_logs "$(api GET "/pipelines/runs/$corrupt" | jq -r '.jobs[0].id')" | grep should-not-run)"

expect_eq "work dir is 0700" 700 "$(stat -c %a "$W")"
expect_eq "runner dir is 0700" 700 "$(stat -c %a "$W/w1")"
run=$(gw_trigger private)
check "private run finishes" wait_for 30 run_is_final "$run"
expect_eq "private run succeeded" success "$(run_status "$run")"
ws=$W/w1/$(gw_repo_id private)
check "the workspace is there" test -f "$ws/file.txt"
check "another user cannot list the workspace" bash -c "! runuser -u gwtest-other -- ls '$ws' >/dev/null 2>&1"
check "nor read its files" bash -c "! runuser -u gwtest-other -- cat '$ws/file.txt' >/dev/null 2>&1"

# A git directory planted (owned by another user) before the first checkout.
gd=$W/w1/.git-repos/$(gw_repo_id planted).git
mkdir -p "$W/w1/.git-repos"
git --git-dir="$gd" init -q
printf '#!/bin/sh\ntouch %s/HOOKED\n' "$GW_TMP" >"$gd/hooks/post-checkout"
chmod +x "$gd/hooks/post-checkout"
chown -R gwtest-other "$gd"
run=$(gw_trigger planted)
check "planted run finishes" wait_for 30 run_is_final "$run"
check "the planted hook never ran" test ! -e "$GW_TMP/HOOKED"
expect_eq "a git directory it did not create fails the run" failed "$(run_status "$run")"
err=$(gw_psql -c "SELECT error FROM pipeline_runs WHERE id = '$run'")
check "the error names the git directory ($err)" grep -qF "$gd" <<<"$err"

# A FIFO left by a job at an untracked .gitattributes.
run=$(gw_trigger fifo)
check "fifo-planting run finishes" wait_for 30 run_is_final "$run"
expect_eq "it succeeded" success "$(run_status "$run")"
check "the FIFO is there" test -p "$W/w1/$(gw_repo_id fifo)/.gitattributes"
t0=$(date +%s%3N)
run=$(gw_trigger fifo)
check "the next run checks out promptly" wait_for 15 run_is_final "$run"
gw_log "run after the FIFO ended in $(( $(date +%s%3N) - t0 )) ms"
expect_eq "and succeeds" "success success success" "$(api GET "/pipelines/runs/$run" | jq -r '[.status, .jobs[].status] | join(" ")')"

# A fetch that hangs (a server that never answers) ends on the checkout timeout.
port=$(gw_free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(120)' "$port" &
GW_PIDS+=($!)
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
check "the silent server listens" wait_for 10 listening
api PUT /repos/hang -H 'Content-Type: application/json' -d "{\"clone_url\": \"http://127.0.0.1:$port/x.git\"}" >/dev/null
api PUT /repos/hang/templates/one >/dev/null
t0=$(date +%s%3N)
run=$(gw_trigger hang)
check "a hanging checkout ends" wait_for 15 run_is_final "$run"
ms=$(( $(date +%s%3N) - t0 ))
gw_log "hanging checkout ended after $ms ms (checkout timeout 3 s, job timeout 60 s)"
body=$(api GET "/pipelines/runs/$run")
expect_eq "on the checkout timeout" "failed checkout timed out after 3 s" "$(echo "$body" | jq -r '"\(.jobs[0].status) \(.jobs[0].error)"')"
check "the run's error says so" grep -q "checkout timed out" <<<"$(echo "$body" | jq -r .error)"

# clone_url starting with "-": refused by the API; stored anyway (psql), no option to git.
api PUT /repos/dash -H 'Content-Type: application/json' -d '{"clone_url": "--upload-pack=touch /tmp/x"}' >/dev/null
expect_eq "clone_url starting with - : 422" 422 "$(status)"
check "the error names the field" grep -q clone_url <<<"$(jq -r .detail "$GW_TMP/body")"
api PUT /repos/dash -H 'Content-Type: application/json' -d '{}' >/dev/null
api PUT /repos/dash/templates/one >/dev/null
gw_psql -c "UPDATE repos SET clone_url = '--upload-pack=touch $GW_TMP/UPLOADED;' WHERE name = 'dash'"
run=$(gw_trigger dash)
check "dash run finishes" wait_for 30 run_is_final "$run"
expect_eq "it fails in the checkout" "failed failed" "$(api GET "/pipelines/runs/$run" | jq -r '[.status, .jobs[0].status] | join(" ")')"
log=$(gw_logs "$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')")
check "git did not read the URL as an option" bash -c "! grep -Eq 'usage: git|unknown option|error: unknown' <<<\"\$1\"" _ "$log"
check "git took it as the remote's URL" grep -qF -- "--upload-pack=touch $GW_TMP/UPLOADED;" <<<"$(git --git-dir="$W/w1/.git-repos/$(gw_repo_id dash).git" config remote.origin.url)"
check "nothing ran" test ! -e "$GW_TMP/UPLOADED"
gw_finish
