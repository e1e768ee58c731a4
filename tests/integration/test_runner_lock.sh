#!/usr/bin/env bash
# The advisory lock that says a runner is alive is its own: two names whose
# 32-bit text hashes collide (r8093, r51835) both start, and a second worker
# under a name that is taken refuses to start naming the runner, host and
# database session that hold it.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
expect_eq "the two names collide under hashtext" t \
    "$(gw_psql -c "SELECT hashtext('r8093') = hashtext('r51835')")"
gw_api_start
registered() { [ "$(gw_psql -c "SELECT count(*) FROM runners WHERE name = '$1' AND status <> 'stopped'")" = 1 ]; }

gw_worker_start r8093
first=$GW_WORKER_PID
check "r8093 registers" wait_for 20 registered r8093
gw_worker_start r51835
second=$GW_WORKER_PID
check "r51835 registers too" wait_for 20 registered r51835
sleep 6 # past the one lease a worker waits for a lock that seems held
check "r51835 is still running" kill -0 "$second"
check "and never thought its name taken" bash -c "! grep -Eq 'another runner|held by' '$GW_TMP/worker-r51835.log'"
check "r8093 is still running" kill -0 "$first"

gw_worker_start r8093
dup=$GW_WORKER_PID
gone() { ! kill -0 "$dup" 2>/dev/null; }
check "a second r8093 gives up" wait_for 20 gone
holder=$(gw_psql -c "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                     WHERE l.locktype = 'advisory' AND a.application_name = 'gitweave-worker'
                     ORDER BY a.backend_start LIMIT 1")
msg=$(grep 'another runner' "$GW_TMP/worker-r8093.log" | tail -1)
gw_log "it said: $msg"
check "it names the runner that holds the name" grep -q "held by runner r8093 on host $(hostname)" <<<"$msg"
check "and its database session (pid $holder)" grep -q "pid $holder" <<<"$msg"
check "r8093 is still running" kill -0 "$first"
gw_finish
