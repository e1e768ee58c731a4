#!/usr/bin/env bash
# Chaos: 400 runs across four repos, four workers of two slots each, one
# worker SIGKILLed every second (restarted under its name or a new one),
# Postgres restarted once, the API killed and restarted once. Then:
#   - no run is left queued or running;
#   - every run whose template says `retry` ended success, or failed as
#     "runner lost" after its three retries (the others succeeded or failed
#     as "runner lost", nothing else), and some succeeded on a retry;
#   - no job's work completed twice: each job appends "run job-id name" to a
#     ledger after its work, and no job row appears there twice (a retry is
#     a new try with job rows of its own);
#   - every job of a successful run has its work in the ledger once, and
#     its log whole (every line) and contiguous (each chunk starts where
#     the one before ended);
#   - no job process is left once the workers are gone.
# The counts (runs, kills, retries, duration) are printed for
# tests/bench/README.md.
source "$(dirname "$0")/../lib/postgres.sh"

# Jobs that sleep 0.3 s: the kills land in running jobs as often as with
# more and shorter runs, for less CPU (CHAOS_RUNS=1000 for a longer chaos).
CHAOS_RUNS=${CHAOS_RUNS:-400}
REPOS=4
TEMPLATES=4 # attached to every repo: one trigger starts one run of each
ledger=$GW_TMP/ledger
: >"$ledger"

gw_pg_start
gw_api_start
# Tiny jobs: some output, a short sleep (so that kills land mid-job), the
# ledger line last. The fourth template has no retry.
job() {
    printf '{"name": "%s", "script": ["seq 1 20", "sleep 0.3", "echo work-done", "echo \\"$GITWEAVE_RUN_ID $GITWEAVE_JOB_ID $GITWEAVE_JOB_NAME\\" >> %s"]}' \
        "$1" "$ledger"
}
for t in $(seq $TEMPLATES); do
    retry='"retry": {"max": 3},'
    [ "$t" = "$TEMPLATES" ] && retry=
    gw_template "chaos$t" "{\"kind\": \"test\", $retry \"jobs\": [$(job build), $(job test)]}" || exit 1
done
for r in $(seq $REPOS); do
    gw_repo "repo$r" $(for t in $(seq $TEMPLATES); do echo "chaos$t"; done) || exit 1
done
# Four clients at once, each run named by its repo and template: one curl
# (a config of one transfer each, four at a time), not a shell and a curl
# per trigger.
for i in $(seq $((CHAOS_RUNS / TEMPLATES))); do
    for t in $(seq $TEMPLATES); do
        [ "$i$t" = 11 ] || echo next
        printf '%s\n' "url = \"$API/repos/repo$(( (i % REPOS) + 1 ))/pipelines/run\"" \
            "data = \"{\\\"template\\\": \\\"chaos$t\\\"}\"" \
            'header = "Content-Type: application/json"' 'output = "/dev/null"' \
            'write-out = "%{http_code}\n"'
    done
done >"$GW_TMP/triggers.curl"
curl -s --parallel --parallel-max 4 -K "$GW_TMP/triggers.curl" >"$GW_TMP/trigger-codes"
expect_eq "every trigger answered 201" "$CHAOS_RUNS 201" "$(sort | uniq -c <"$GW_TMP/trigger-codes" | awk '{print $1, $2}')"
expect_eq "$CHAOS_RUNS runs queued" "$CHAOS_RUNS" "$(gw_psql -c "SELECT count(*) FROM pipeline_runs")"

export RUNNER_LEASE_SECONDS=3
declare -A pid_of
start_worker() { # slot name
    gw_worker_start "$2" RUNNER_CONCURRENCY=2
    pid_of[$1]=$GW_WORKER_PID
    name_of[$1]=$2
}
declare -A name_of
for i in 1 2 3 4; do start_worker "$i" "w$i"; done

open_runs() { gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status IN ('queued', 'running')"; }
t0=$(date +%s)
kills=0 renamed=0 pg_restarted=0 api_killed=0 generation=0
while [ "$(open_runs)" != 0 ] && [ $(( $(date +%s) - t0 )) -lt 400 ]; do
    sleep 1
    i=$(( RANDOM % 4 + 1 ))
    kill -9 "${pid_of[$i]}" 2>/dev/null
    wait "${pid_of[$i]}" 2>/dev/null
    kills=$((kills + 1))
    if [ $((RANDOM % 2)) = 0 ]; then
        generation=$((generation + 1))
        renamed=$((renamed + 1))
        start_worker "$i" "w$i-g$generation"
    else
        start_worker "$i" "${name_of[$i]}"
    fi
    elapsed=$(( $(date +%s) - t0 ))
    if [ "$pg_restarted" = 0 ] && [ "$elapsed" -ge 10 ]; then
        gw_log "restarting Postgres"
        "${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$GW_PG_DIR/data" -m fast -w restart >/dev/null
        pg_restarted=1
    fi
    if [ "$api_killed" = 0 ] && [ "$elapsed" -ge 20 ]; then
        gw_log "killing the API"
        kill -9 "$GW_API_PID"
        wait "$GW_API_PID" 2>/dev/null
        gw_api_start || fail "the API starts again"
        api_killed=1
    fi
done
duration=$(( $(date +%s) - t0 ))
expect_eq "Postgres was restarted and the API killed" "1 1" "$pg_restarted $api_killed"
check "the chaos lasted more than 20 s" test "$duration" -gt 20

expect_eq "no run left queued or running" 0 "$(open_runs)"
# A run with retry is never given up while it has a retry left: it
# succeeded, or its runner was lost four times (its three retries
# included). Four losses of one run are rare but not impossible here: a
# worker is killed every second.
lost_with_retries_left="SELECT r.id, r.status, r.error, r.retries FROM pipeline_runs r
    JOIN templates t ON t.id = r.template_id
   WHERE t.name <> 'chaos$TEMPLATES' AND r.status <> 'success'
     AND NOT (r.status = 'failed' AND r.error LIKE 'runner lost: %' AND cardinality(r.retries) = 3)"
expect_eq "every run with retry succeeded, or was lost after its three retries" 0 \
  "$(gw_psql -c "SELECT count(*) FROM ($lost_with_retries_left) x")"
check "runs with retry were lost and then succeeded on a retry" test 0 -lt \
  "$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN templates t ON t.id = r.template_id
                  WHERE t.name <> 'chaos$TEMPLATES' AND r.status = 'success' AND cardinality(r.retries) > 0")"
# What became of such a run, and what the workers said of it.
gw_psql -c "$lost_with_retries_left" |
    while IFS='|' read -r id rest; do
        echo "# not a success: $id $rest"
        grep -h "$id" "$GW_TMP"/worker-*.log | sort | head -40
    done
expect_eq "the runs without retry succeeded or were lost with their runner" 0 \
  "$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN templates t ON t.id = r.template_id
                  WHERE t.name = 'chaos$TEMPLATES' AND r.status <> 'success'
                    AND NOT (r.status = 'failed' AND r.error LIKE 'runner lost: %')")"
twice=$(awk '{print $2}' "$ledger" | sort | uniq -d)
expect_eq "no job's work completed twice" "" "$twice"
for id in $twice; do # what the workers said of it
  gw_psql -c "SELECT j.run_id, j.retry, j.name, j.status, j.error, r.attempt, r.retries FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id WHERE j.id = '$id'"
  grep -h "$(gw_psql -c "SELECT run_id FROM jobs WHERE id = '$id'")" "$GW_TMP"/worker-*.log | sort | head -40
done
# Every job of a successful run's last try did its work, once.
gw_psql -c "SELECT j.id FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id
             WHERE r.status = 'success' AND j.retry = cardinality(r.retries)" | sort >"$GW_TMP/done-jobs"
awk '{print $2}' "$ledger" | sort -u >"$GW_TMP/ledger-jobs"
expect_eq "every job of a successful run is in the ledger" 0 \
  "$(comm -23 "$GW_TMP/done-jobs" "$GW_TMP/ledger-jobs" | wc -l)"
expect_eq "every successful run's log is contiguous" 0 \
  "$(gw_psql -c "SELECT count(*) FROM (
       SELECT l.\"offset\", lag(l.\"offset\" + octet_length(l.chunk)) OVER w AS prev,
              row_number() OVER w AS n
         FROM logs l JOIN jobs j ON j.id = l.job_id JOIN pipeline_runs r ON r.id = j.run_id
        WHERE r.status = 'success' AND j.retry = cardinality(r.retries)
       WINDOW w AS (PARTITION BY l.job_id ORDER BY l.\"offset\")) x
      WHERE (n = 1 AND \"offset\" <> 0) OR (n > 1 AND \"offset\" <> prev)")"
expect_eq "every successful run's log is whole" 0 \
  "$(gw_psql -c "SELECT count(*) FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id
      WHERE r.status = 'success' AND j.retry = cardinality(r.retries)
        AND coalesce((SELECT string_agg(chunk, '' ORDER BY \"offset\") FROM logs WHERE job_id = j.id), '')
            NOT LIKE '%' || E'\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n' || '%work-done%'")"

retries=$(gw_psql -c "SELECT coalesce(sum(cardinality(retries)), 0) FROM pipeline_runs")
lost4=$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE cardinality(retries) = 3 AND status = 'failed'")
lost=$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'failed'")
redone=$(awk '{print $1 " " $3}' "$ledger" | sort | uniq -d | wc -l)
gw_log "chaos: runs=$CHAOS_RUNS kills=$kills (renamed $renamed) retries=$retries" \
  "failed-without-retry=$((lost - lost4)) lost-after-three-retries=$lost4 jobs-redone-by-a-retry=$redone duration=${duration}s"

# The workers go; no job process of theirs stays behind.
for i in 1 2 3 4; do kill -TERM "${pid_of[$i]}" 2>/dev/null; done
for i in 1 2 3 4; do wait "${pid_of[$i]}" 2>/dev/null; done
no_orphans() { ! pgrep -f "$ledger" >/dev/null; }
check "no orphan job process is left" wait_for 5 no_orphans
gw_finish
