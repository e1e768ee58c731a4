#!/usr/bin/env bash
# Dispatch and pickup of the worker, side by side with its two limits:
#   tests/bench/dispatch.sh [build-dir [before-build-dir]]
# 1. fork limit: N x posix_spawn("sh -e -c true") + waitpid, two loops at
#    once (one per core): what the machine can start at best;
# 2. database limit: the worker's statements for N one-job runs (claim one,
#    end job and run with its log) under pgbench, two clients (one per
#    core), each its own runner: what Postgres can dispatch at best;
# 3. dispatch: N queued one-job runs (`true`) drained by two local-engine
#    workers (RUNNER_CONCURRENCY=$BENCH_CONCURRENCY, default 4): runs/s from
#    the first job's start to the last run's end, as a ratio to the fork
#    limit and to the limit of both together (1 / (1/fork + 1/database):
#    a run needs a shell and its statements, on the same cores); and where
#    a run's CPU goes (Postgres per statement and trigger, from
#    pg_stat_statements with track = all; the workers; their shells; the
#    API, which listens) and how busy the slots were (a slot is idle from a
#    run's end to the start of its next run);
# 4. pickup: BENCH_PICKUPS runs (default 1,000) triggered one by one, 50 ms
#    apart, by one curl over one connection (no process starts on the
#    machine as each run is picked up, as with a trigger from elsewhere),
#    while the workers are idle: created_at -> the job's started_at, p50
#    and p99, and the mean execution of the trigger's insert within it;
#    then again with BENCH_UNCLAIMABLE (default 10,000; 0: not measured)
#    older runs queued that need the label gpu, which the workers lack.
#    BENCH_ROUNDS=0 measures pickup only.
# With a second build dir, its worker is measured too, on the same database
# (the pgbench side is today's SQL). BENCH_ROUNDS (default 1) repeats 1-3,
# the sides alternating, so that a change in the machine's other load falls
# on both; every figure says the load average when it was taken.
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
BEFORE_DIR=${2:-}
N=${BENCH_RUNS:-3000}
CONC=${BENCH_CONCURRENCY:-4}
ROUNDS=${BENCH_ROUNDS:-1}
UNCLAIMABLE=${BENCH_UNCLAIMABLE:-10000}
PICKUPS=${BENCH_PICKUPS:-1000}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
# pg_stat_statements, with the statements of triggers and functions too
gw_psql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
"${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$GW_PG_DIR/data" -l "$GW_PG_DIR/log" -w restart >/dev/null || exit 1
gw_psql -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" \
        -c "CREATE EXTENSION pg_stat_statements" >/dev/null || exit 1
gw_api_start || exit 1
gw_template one '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_template gpu '{"kind": "build", "runs-on": ["gpu"], "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo one || exit 1
gw_repo gpus gpu || exit 1
seed=$(gw_trigger demo)
gw_psql -c "DELETE FROM pipeline_runs WHERE id = '$seed'" >/dev/null 2>&1 || true
echo "## $(date -u '+%F %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

load() { cut -d' ' -f1 /proc/loadavg; }

# CPU time in clock ticks: of a process (self), of its waited-for
# children, and of the whole Postgres cluster (the postmaster, the backends
# that ended, the backends alive).
TICK=$(getconf CLK_TCK)
ticks_of() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
child_ticks_of() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm t c
    pm=$(head -1 "$GW_PG_DIR/data/postmaster.pid")
    t=$(( $(ticks_of "$pm") + $(child_ticks_of "$pm") ))
    for c in $(pgrep -P "$pm"); do t=$((t + $(ticks_of "$c"))); done
    echo "$t"
}
ms_per_run() { awk -v t="$1" -v tk="$TICK" -v n="$N" 'BEGIN { printf "%.3f", t * 1000 / tk / n }'; }

# fork_loop: sets FORK_RATE (spawns/s) and prints the CPU a spawn cost.
fork_loop() {
    local out
    out=$(python3 - "$N" <<'PY'
import os, sys, time, resource
n = int(sys.argv[1]) // 2
def loop():
    for _ in range(n):
        os.waitpid(os.posix_spawn("/bin/sh", ["sh", "-e", "-c", "true"], os.environ), 0)
t0 = time.time()
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        loop()
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
dt = time.time() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%d %.3f" % (2 * n / dt, (r.ru_utime + r.ru_stime) * 1000 / (2 * n)))
PY
)
    read -r FORK_RATE cpu <<<"$out"
    echo "fork limit: $N x posix_spawn(sh -e -c true) + waitpid, 2 loops: $FORK_RATE /s," \
         "CPU $cpu ms per spawn (load $(load))"
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

# db_limit: sets DB_RATE, the runs/s of the worker's statements for a
# one-job run under pgbench (two clients, each its own runner): the claim
# of one run, then the end of its job and run with the job's log.
db_limit() {
    local out
    gw_psql -c "TRUNCATE pipeline_runs CASCADE; DELETE FROM runners" >/dev/null
    queue_runs
    gw_psql -c "INSERT INTO runners (id, name, hostname, engine, lease_seconds)
                SELECT ('00000000-0000-4000-8000-00000000000' || i)::uuid, 'pgbench' || i, 'h', 'local', 60
                  FROM generate_series(0, 1) i" -c "VACUUM ANALYZE" >/dev/null
    python3 - "$GW_BUILD_DIR/tests/gw_sql" >"$GW_TMP/dispatch.sql" <<'PY' || return 1
import re, subprocess, sys
def sql(name, values):
    text = subprocess.run([sys.argv[1], name], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\$(\d+)", lambda m: values[int(m.group(1)) - 1], " ".join(text.split())) + "\n"
runner = "('00000000-0000-4000-8000-00000000000' || :client_id)::uuid"
claim = sql("q_claim", [runner, "60", "1"])
claim = claim.replace("SELECT c.id, c.attempt,", "SELECT c.id AS run, c.attempt AS att,", 1)
claim = claim.replace(" fj.id,", " fj.id AS job,", 1)
print(claim.rstrip("\n") + " \\gset")
print(sql("q_job_run_end", [":run", runner, ":att", ":job", "'success'", "'0'", "NULL", "'success'",
                            "'skipped'", "NULL", "NULL", "NULL", "'0'", "E'+ true\\n'"]).rstrip("\n") + ";")
PY
    out=$("$PG_BIN/pgbench" -n -M prepared -c2 -j2 -t $((N / 2)) -f "$GW_TMP/dispatch.sql" "$DATABASE_URL" 2>&1)
    DB_RATE=$(awk '/^tps/ {printf "%d", $3; exit}' <<<"$out")
    [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'success'")" = "$N" ] ||
        { echo "pgbench did not end every run:"; head -20 <<<"$out"; return 1; }
    echo "database limit: the worker's statements for $N one-job runs, pgbench -c2: $DB_RATE runs/s (load $(load))"
}

# dispatch LABEL WORKER-BINARY-DIR: the rate, its ratios to the limits
# measured last, and where a run's CPU went.
dispatch() {
    local label=$1 dir=$2 pids=() pg0 pg1 api0 w=0 c=0 rate both
    gw_psql -c "TRUNCATE pipeline_runs CASCADE; DELETE FROM runners" >/dev/null
    queue_runs
    gw_psql -c "VACUUM ANALYZE" -c "SELECT pg_stat_statements_reset()" >/dev/null
    pg0=$(pg_ticks); api0=$(ticks_of "$GW_API_PID")
    for w in b1 b2; do
        GW_BUILD_DIR=$dir gw_worker_start "$label-$w" RUNNER_CONCURRENCY=$CONC
        pids+=("$GW_WORKER_PID")
    done
    done_all() { [ "$(gw_psql -c "SELECT NOT EXISTS (SELECT 1 FROM pipeline_runs WHERE status IN ('queued', 'running'))")" = t ]; }
    wait_for 600 done_all
    pg1=$(pg_ticks)
    w=0
    for pid in "${pids[@]}"; do w=$((w + $(ticks_of "$pid"))); c=$((c + $(child_ticks_of "$pid"))); done
    rate=$(gw_psql -c "SELECT round($N / extract(epoch FROM max(ended_at) - min(started_at))) FROM pipeline_runs")
    both=$(awk -v f="$FORK_RATE" -v d="$DB_RATE" 'BEGIN { printf "%d", 1 / (1 / f + 1 / d) }')
    echo "$label dispatch: $N runs ($(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'success'") succeeded)," \
         "2 workers x $CONC slots: $rate runs/s = $(awk -v a="$rate" -v b="$FORK_RATE" 'BEGIN { printf "%.2f", a / b }') x the fork limit," \
         "$(awk -v a="$rate" -v b="$both" 'BEGIN { printf "%.2f", a / b }') x the limit of both ($both runs/s) (load $(load))"
    echo "$label CPU ms per run: postgres $(ms_per_run $((pg1 - pg0))), workers $(ms_per_run "$w")," \
         "shells $(ms_per_run "$c"), api $(ms_per_run $(( $(ticks_of "$GW_API_PID") - api0 )))"
    # How busy the slots were: the share of slot time spent on a run (its
    # claim's start to its end's commit); the rest is idle gaps.
    gw_psql -c "SELECT '$label slots busy ' ||
                       round(100 * sum(extract(epoch FROM ended_at - started_at)) /
                             (extract(epoch FROM max(ended_at) - min(started_at)) * 2 * $CONC)) ||
                       '% of the time; a run holds its slot ' ||
                       round((avg(extract(epoch FROM ended_at - started_at)) * 1000)::numeric, 2) || ' ms'
                  FROM pipeline_runs"
    # Postgres time per run, per statement (toplevel: the worker's; nested:
    # triggers, functions, foreign-key checks).
    echo "$label Postgres execution time per run, by statement (ms, calls per run):"
    gw_psql -F ' | ' -c "SELECT round((total_exec_time / $N)::numeric, 4), round(calls::numeric / $N, 2),
                       CASE WHEN toplevel THEN '' ELSE '(nested) ' END ||
                       left(regexp_replace(query, '\s+', ' ', 'g'), 90)
                  FROM pg_stat_statements WHERE calls >= $N / 10
                 ORDER BY total_exec_time DESC LIMIT 14" | sed 's/^/    /'
    for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null; done
}

# pickup LABEL WORKER-BINARY-DIR [UNCLAIMABLE]: with UNCLAIMABLE older runs
# queued that need the label gpu, which the workers lack.
pickup() {
    local name=$1 label=$1 dir=$2 unclaimable=${3:-0} pids=()
    gw_psql -c "TRUNCATE pipeline_runs CASCADE; DELETE FROM runners" >/dev/null
    if [ "$unclaimable" -gt 0 ]; then
        gw_copy_runs gpus gpu "$unclaimable" '1 hour'
        gw_psql -c "VACUUM ANALYZE pipeline_runs, jobs" >/dev/null
        label="$label, $unclaimable queued runs needing gpu,"
    fi
    for w in b1 b2; do
        GW_BUILD_DIR=$dir gw_worker_start "$name-$w" RUNNER_CONCURRENCY=$CONC
        pids+=("$GW_WORKER_PID")
    done
    sleep 1
    gw_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
    local urls=()
    for i in $(seq "$PICKUPS"); do urls+=("$API/repos/demo/pipelines/run"); done
    curl -s --rate 20/s -w '%{stderr}%{http_code}\n' -X POST -H 'Content-Type: application/json' \
        -d '{}' "${urls[@]}" 2>&1 >/dev/null | sort | uniq -c |
        sed "s/^ */    $label triggers answered: /"
    sleep 1
    gw_psql -c "SELECT '$label pickup (idle workers, $PICKUPS runs): p50 ' ||
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 2) || ' ms, p99 ' ||
                       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 2) || ' ms, max ' ||
                       round(max(ms)::numeric, 2) || ' ms (load $(load))'
                  FROM (SELECT extract(epoch FROM j.started_at - r.created_at) * 1000 AS ms
                          FROM pipeline_runs r JOIN jobs j ON j.run_id = r.id
                         WHERE j.started_at IS NOT NULL) s"
    # where pickup's time goes: the claim (created_at -> the run's started_at)
    # and the first job's start (-> the job's started_at)
    gw_psql -c "SELECT '$label pickup split, p50: claim ' ||
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY c))::numeric, 2) || ' ms, job start ' ||
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY s))::numeric, 2) || ' ms'
                  FROM (SELECT extract(epoch FROM r.started_at - r.created_at) * 1000 AS c,
                               extract(epoch FROM j.started_at - r.started_at) * 1000 AS s
                          FROM pipeline_runs r JOIN jobs j ON j.run_id = r.id
                         WHERE j.started_at IS NOT NULL) s"
    # the part of it that is the trigger's insert (from its start, which is
    # created_at, to its end; its commit and the wake-up follow), and what
    # the claims cost (not part of pickup: started_at is the claim's start)
    gw_psql -c "SELECT '$label pickup, mean execution: the trigger''s insert ' ||
                       round(sum(total_exec_time) FILTER (WHERE query LIKE 'WITH given AS%')::numeric /
                             greatest(sum(calls) FILTER (WHERE query LIKE 'WITH given AS%'), 1), 3) ||
                       ' ms, a claim ' ||
                       round(sum(total_exec_time) FILTER (WHERE query LIKE 'WITH c AS%')::numeric /
                             greatest(sum(calls) FILTER (WHERE query LIKE 'WITH c AS%'), 1), 3) ||
                       ' ms (' || sum(calls) FILTER (WHERE query LIKE 'WITH c AS%') || ' claims)'
                  FROM pg_stat_statements WHERE toplevel"
    for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null; done
}

for round in $(seq "$ROUNDS"); do
    echo "# round $round"
    fork_loop
    db_limit || exit 1
    # The sides take turns at going first. Each phase starts from tables
    # emptied by TRUNCATE and analyzed with its queue in them: the logs
    # trigger's look-up of a job's previous chunk no longer depends on the
    # statistics of logs (db/migrations/0016; a database migrated before it
    # kept a scan of all of logs for the session after an empty logs was
    # analyzed, 0.3-0.6 ms a chunk).
    if [ -n "$BEFORE_DIR" ] && [ $((round % 2)) = 0 ]; then
        dispatch before "$BEFORE_DIR"
        dispatch after "$GW_BUILD_DIR"
    else
        dispatch after "$GW_BUILD_DIR"
        [ -n "$BEFORE_DIR" ] && dispatch before "$BEFORE_DIR"
    fi
done
pickup after "$GW_BUILD_DIR"
[ -n "$BEFORE_DIR" ] && pickup before "$BEFORE_DIR"
if [ "$UNCLAIMABLE" -gt 0 ]; then
    pickup after "$GW_BUILD_DIR" "$UNCLAIMABLE"
    [ -n "$BEFORE_DIR" ] && pickup before "$BEFORE_DIR" "$UNCLAIMABLE"
fi
exit 0
