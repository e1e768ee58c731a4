#!/usr/bin/env bash
# Dispatch and pickup of the worker, side by side with a plain fork loop:
#   tests/bench/dispatch.sh [build-dir [before-build-dir]]
# 1. fork loop: N runs of `sh -e -c true`, two loops at once (one per core):
#    what the machine can start at best;
# 2. dispatch: N queued one-job runs (`true`) drained by two local-engine
#    workers (RUNNER_CONCURRENCY=$BENCH_CONCURRENCY, default 4): runs/s from
#    the first job's start to the last run's end;
# 3. pickup: 200 runs triggered one by one (50 ms apart) while the workers
#    are idle: created_at -> the job's started_at, p50 and p99.
# With a second build dir, its worker is measured too, on the same database.
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
BEFORE_DIR=${2:-}
N=${BENCH_RUNS:-3000}
CONC=${BENCH_CONCURRENCY:-4}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
gw_template one '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo one || exit 1
seed=$(gw_trigger demo)
gw_psql -c "DELETE FROM pipeline_runs WHERE id = '$seed'" >/dev/null 2>&1 || true
echo "## $(date -u '+%F %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

fork_loop() {
    local t0 t1 a b
    t0=$(date +%s%3N)
    (for i in $(seq $((N / 2))); do sh -e -c true; done) &
    a=$!
    (for i in $(seq $((N / 2))); do sh -e -c true; done) &
    b=$!
    wait "$a" "$b"
    t1=$(date +%s%3N)
    echo "fork loop: $N x sh -e -c true, 2 loops: $((t1 - t0)) ms, $((N * 1000 / (t1 - t0))) /s"
}

# queue N runs like the trigger does (one run, one job each), in one statement
queue_runs() {
    local run
    run=$(gw_trigger demo)
    gw_psql -c "WITH src AS (SELECT * FROM pipeline_runs WHERE id = '$run'),
      ins AS (INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, spec, created_at)
              SELECT gen_random_uuid(), repo_id, template_id, template_version, spec,
                     clock_timestamp() FROM src, generate_series(2, $N) RETURNING id)
      INSERT INTO jobs (id, run_id, position, name, kind)
      SELECT gen_random_uuid(), ins.id, j.position, j.name, j.kind
        FROM ins, jobs j WHERE j.run_id = '$run'" >/dev/null
}

# measure LABEL WORKER-BINARY-DIR
measure() {
    local label=$1 dir=$2 pids=() done_all
    gw_psql -c "TRUNCATE pipeline_runs CASCADE; DELETE FROM runners" >/dev/null
    queue_runs
    for w in b1 b2; do
        GW_BUILD_DIR=$dir gw_worker_start "$label-$w" RUNNER_CONCURRENCY=$CONC
        pids+=("$GW_WORKER_PID")
    done
    done_all() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status IN ('success', 'failed')")" = "$N" ]; }
    wait_for 600 done_all
    gw_psql -c "SELECT '$label dispatch: $N runs, ' || count(*) FILTER (WHERE status = 'success') || ' succeeded, ' ||
                       round(extract(epoch FROM max(ended_at) - min(started_at)) * 1000) || ' ms, ' ||
                       round($N / extract(epoch FROM max(ended_at) - min(started_at))) || ' runs/s'
                  FROM pipeline_runs"
    sleep 1
    gw_psql -c "TRUNCATE pipeline_runs CASCADE" >/dev/null
    for i in $(seq 200); do gw_trigger demo >/dev/null; sleep 0.05; done
    sleep 1
    gw_psql -c "SELECT '$label pickup (idle workers, 200 runs): p50 ' ||
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 2) || ' ms, p99 ' ||
                       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 2) || ' ms, max ' ||
                       round(max(ms)::numeric, 2) || ' ms'
                  FROM (SELECT extract(epoch FROM j.started_at - r.created_at) * 1000 AS ms
                          FROM pipeline_runs r JOIN jobs j ON j.run_id = r.id) s"
    # where pickup's time goes: the claim (created_at -> the run's started_at)
    # and the first job's start (-> the job's started_at)
    gw_psql -c "SELECT '$label pickup split, p50: claim ' ||
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY c))::numeric, 2) || ' ms, job start ' ||
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY s))::numeric, 2) || ' ms'
                  FROM (SELECT extract(epoch FROM r.started_at - r.created_at) * 1000 AS c,
                               extract(epoch FROM j.started_at - r.started_at) * 1000 AS s
                          FROM pipeline_runs r JOIN jobs j ON j.run_id = r.id) s"
    for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null; done
}

fork_loop
measure after "$GW_BUILD_DIR"
[ -n "$BEFORE_DIR" ] && measure before "$BEFORE_DIR"
fork_loop
