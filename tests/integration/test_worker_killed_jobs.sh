#!/usr/bin/env bash
# A worker killed with SIGKILL (as by the OOM killer) in the middle of a
# local job takes the job's processes with it: the shell and its background
# processes are gone within 2 s, though their process group is not the
# worker's.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_api_start
# The job writes its group id (its shell's pid) where the test can read it:
# RUNNER_WORKDIR, two levels above the workspace.
gw_template sleepers '{"kind": "test", "jobs": [{"name": "s", "script": [
  "sleep 300 & sleep 300 & echo $$ > ../../job.pgid", "wait"]}]}' || exit 1
gw_repo sleepers sleepers || exit 1
gw_worker_start k1
worker=$GW_WORKER_PID

# group_alive PGID: a process of the group that is not a zombie.
group_alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
group_gone() { ! group_alive "$1"; }
# group_started PGID: the shell and both sleeps are there.
group_started() { [ "$(ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/' | wc -l)" -ge 3 ]; }

run=$(gw_trigger sleepers)
check "the job started and said its group" wait_for 30 test -s "$GW_TMP/work/job.pgid"
pgid=$(cat "$GW_TMP/work/job.pgid")
check "its shell and both sleeps run (group $pgid)" wait_for 5 group_started "$pgid"
kill -KILL "$worker"
t0=$(date +%s%3N)
wait "$worker" 2>/dev/null
check "the job's processes are gone within 2 s of the SIGKILL" wait_for 2 group_gone "$pgid"
gw_log "the job's group was gone $(($(date +%s%3N) - t0)) ms after the SIGKILL"
# Whatever happened, leave nothing running.
kill -KILL -- "-$pgid" 2>/dev/null
expect_eq "the run is still on record" 1 "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE id = '$run'")"
gw_finish
