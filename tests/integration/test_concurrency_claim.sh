#!/usr/bin/env bash
# The worker's claim statement (gw_sql q_claim) and concurrency groups, run
# by hand against runners that are rows (no worker): a group gives at most
# one candidate, its oldest queued run, and none while a run of it runs; a
# head the runner may not take holds its group back, even from a later run
# of the group the runner could take; a cancelled head hands the group to
# the next run; candidates are taken oldest first across groups and runs
# without one; a paused runner takes nothing.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
gw_template free '{"kind": "test", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_template grp '{"kind": "test", "concurrency": {"group": "g"}, "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_template grpgpu '{"kind": "test", "runs-on": ["gpu"], "concurrency": {"group": "g"}, "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_template other '{"kind": "test", "concurrency": {"group": "h"}, "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo claims free grp grpgpu other || exit 1

LOCAL=00000000-0000-4000-8000-0000000c1a01
GPU=00000000-0000-4000-8000-0000000c1a02
gw_psql -c "INSERT INTO runners (id, name, hostname, engine, lease_seconds, labels)
            VALUES ('$LOCAL', 'local', 'h', 'local', 30, '{local}'),
                   ('$GPU', 'gpu', 'h', 'local', 30, '{gpu,local}')" >/dev/null

# claim RUNNER N: the runs the runner claims with N free slots, in the
# order the statement gives them, space-separated.
claim() {
    "$GW_BUILD_DIR/tests/gw_sql" q_claim | sed "s/\\\$1/'$1'/g; s/\\\$2/30/g; s/\\\$3/$2/g" |
        gw_psql -f - | cut -d'|' -f1 | tr '\n' ' ' | sed 's/ $//'
}
trigger() { gw_trigger claims "{\"template\": \"$1\"}"; }
finish() { gw_psql -c "UPDATE pipeline_runs SET status = 'success', ended_at = now() WHERE id = '$1'" >/dev/null; }
reason() { gw_psql -c "SELECT reason FROM run_waiting WHERE id = '$1'"; }

# ---- a head the runner may not take ----
a1=$(trigger grpgpu)
a2=$(trigger grp)
f1=$(trigger free)
expect_eq "the head of g needs gpu: the local runner takes the run without a group only" \
    "$f1" "$(claim $LOCAL 3)"
expect_eq "the later run of g it could take waits for its group" concurrency_group "$(reason "$a2")"
expect_eq "the gpu runner takes the head, not the run behind it" "$a1" "$(claim $GPU 3)"
expect_eq "while the head runs, its group gives nothing" "" "$(claim $LOCAL 3)"
finish "$a1"
finish "$f1"
expect_eq "once it ended, the next run of the group goes" "$a2" "$(claim $LOCAL 3)"
finish "$a2"

# ---- a cancelled head ----
b1=$(trigger other)
b2=$(trigger other)
api POST "/pipelines/runs/$b1/cancel" >/dev/null
expect_eq "cancel of the queued head: 202" 202 "$(status)"
expect_eq "the next run of the group is the head" "$b2" "$(claim $LOCAL 3)"
finish "$b2"

# ---- a running run behind a queued one ----
# A run queued before the running one (its transaction committed late)
# still waits: nothing of a group with a run running is a candidate.
c1=$(trigger other)
c2=$(trigger other)
gw_psql -c "UPDATE pipeline_runs SET status = 'running', runner_id = '$GPU', started_at = now()
             WHERE id = '$c2'" >/dev/null
expect_eq "an older queued run of a group with a run running waits" "" "$(claim $LOCAL 3)"
finish "$c2"
expect_eq "... and goes once that one ended" "$c1" "$(claim $LOCAL 3)"
finish "$c1"

# ---- order across groups and runs without one ----
x1=$(trigger grp)
y1=$(trigger free)
z1=$(trigger other)
x2=$(trigger grp)
y2=$(trigger free)
expect_eq "oldest first, one run a group: five slots take four" "$x1 $y1 $z1 $y2" "$(claim $LOCAL 5)"
expect_eq "the second run of g is still queued" queued "$(run_status "$x2")"
for r in "$x1" "$y1" "$z1" "$y2"; do finish "$r"; done

# ---- paused ----
p1=$(trigger free)
gw_psql -c "UPDATE runners SET paused = true WHERE id = '$LOCAL'" >/dev/null
expect_eq "a paused runner takes nothing" "" "$(claim $LOCAL 3)"
gw_psql -c "UPDATE runners SET paused = false WHERE id = '$LOCAL'" >/dev/null
expect_eq "resumed, it takes the run and the next of g" "$x2 $p1" "$(claim $LOCAL 3)"

gw_finish
