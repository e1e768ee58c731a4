#!/usr/bin/env bash
# Resuming a paused runner wakes it at once: with the fallback poll at 30 s,
# a run queued while the runner was paused is claimed within a few seconds
# of the resume (the resume notifies; the worker does not wait for its poll).
# Pausing notifies too, and a paused runner woken so claims nothing.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template quick '{"kind": "test", "jobs": [{"name": "one", "script": ["echo hi"]}]}' || exit 1
gw_repo wake quick || exit 1

runner_seen() { [ "$(api GET /runners | jq -r '.runners[] | select(.name == "rw") | .name')" = rw ]; }
is_queued() { [ "$(run_status "$1")" = queued ]; }
not_queued() { ! is_queued "$1"; }

gw_worker_start rw RUNNER_POLL_SECONDS=30
check "rw registers" wait_for 10 runner_seen
api POST /runners/rw/pause >/dev/null
expect_eq "pause: 200" 200 "$(status)"

r=$(gw_trigger wake '{"template": "quick"}')
sleep 1.5
expect_eq "a paused runner leaves the run queued" queued "$(run_status "$r")"

# The times around the request are the shell's ($EPOCHREALTIME, no fork):
# sent just before curl starts, reply once it has exited with the answer;
# the claim's is Postgres's started_at, on the same clock. reply -> claim
# is negative when the run was claimed before curl had handed the reply on.
t_sent=$EPOCHREALTIME
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/runners/rw/resume")
t_reply=$EPOCHREALTIME
expect_eq "resume: 200" 200 "$code"
check "the run is claimed within 5 s of the resume (the poll is 30 s)" wait_for 5 not_queued "$r"
claimed=$(gw_psql -c "SELECT extract(epoch FROM started_at) FROM pipeline_runs WHERE id = '$r'")
[ -n "$claimed" ] && awk -v c="$claimed" -v s="$t_sent" -v r="$t_reply" 'BEGIN {
    printf "resume sent -> claim: %.1f ms, reply -> claim: %.1f ms (request %.1f ms)\n",
           (c - s) * 1000, (c - r) * 1000, (r - s) * 1000 }'
check "the run ends" wait_for 20 run_is_final "$r"
expect_eq "it succeeded" success "$(run_status "$r")"

# Paused again: the notification of the pause does not make it claim.
api POST /runners/rw/pause >/dev/null
r2=$(gw_trigger wake '{"template": "quick"}')
sleep 1.5
expect_eq "paused again, a new run stays queued" queued "$(run_status "$r2")"
api POST /runners/rw/resume >/dev/null
check "resumed again, it is claimed within 5 s" wait_for 5 not_queued "$r2"

gw_finish
