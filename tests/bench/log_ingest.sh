#!/usr/bin/env bash
# Log ingest with and without search: a local-engine job prints about
# 16 MiB of build-log lines as fast as it can; the worker stores them in
# 64 KiB chunks (the default). Stored throughput is the job's stored
# bytes over the time from its first chunk to its last (created_at,
# set by Postgres as each insert began). Then the same chunks, exported,
# are loaded with COPY into another job of the same table (same trigger
# and indexes), timed by psql. Done three times: with the search trigger
# and indexes of db/migrations/0012_*.sql; the same while a worker's
# retention removes a backlog of 20,000 expired chunks; and with the search
# trigger and indexes dropped (as before). Each prints the run's pickup.
#   tests/bench/log_ingest.sh [build-dir]
GW_BUILD_DIR=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
gw_worker_start w1 RUNNER_LOG_FLUSH_MS=500
tmpl=$(cat <<'JSON'
{"kind": "build", "jobs": [{"name": "print", "script": [
  "awk 'BEGIN { for (i = 0; i < 200000; i++) printf \"%06d [INFO] step %d/200000: cc -O2 -c src/mod_%d.c -o build/mod_%d.o (%d ms)\\n\", i, i, i % 997, i % 997, i % 3000 }'"]}]}
JSON
)
gw_template print "$tmpl" >/dev/null || exit 1
gw_repo app print || exit 1
all_final() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status NOT IN ('success','failed','canceled')")" = 0 ]; }

measure() {
    local label=$1 run job copyjob
    run=$(gw_trigger app)
    wait_for 300 all_final || { echo "the run did not end"; return 1; }
    job=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$run'")
    gw_psql -c "SELECT '$label, job ' || status || ' exit ' || coalesce(exit_code::text, '-') || coalesce(': ' || error, '') FROM jobs WHERE id = '$job'"
    gw_psql -c "SELECT '$label, worker: ' || count(*) || ' chunks, ' || round(sum(octet_length(chunk)) / 1048576.0, 1)
                || ' MiB in ' || round(extract(epoch FROM max(created_at) - min(created_at))::numeric, 2) || ' s: '
                || round((sum(octet_length(chunk)) / 1048576.0 / nullif(extract(epoch FROM max(created_at) - min(created_at)), 0))::numeric, 1)
                || ' MiB/s stored' FROM logs WHERE job_id = '$job'"
    # The same chunks, by COPY, into a copy of the job.
    copyjob=$(gw_psql -c "INSERT INTO jobs (id, run_id, position, name, status)
                          SELECT gen_random_uuid(), run_id, position + 100, name || '-copy', status
                            FROM jobs WHERE id = '$job' RETURNING id")
    gw_psql -c "\\copy (SELECT '$copyjob', \"offset\", chunk FROM logs WHERE job_id = '$job' ORDER BY \"offset\") TO '$GW_TMP/chunks.copy'"
    local t0 t1
    t0=$(date +%s%N)
    gw_psql -c "\\copy logs (job_id, \"offset\", chunk) FROM '$GW_TMP/chunks.copy'"
    t1=$(date +%s%N)
    gw_psql -c "SELECT '$label, COPY: ' || round(sum(octet_length(chunk)) / 1048576.0, 1) || ' MiB in '
                || round(($t1 - $t0) / 1e9, 2) || ' s: '
                || round(sum(octet_length(chunk)) / 1048576.0 / (($t1 - $t0) / 1e9), 1) || ' MiB/s'
                FROM logs WHERE job_id = '$copyjob'"
}
pickup() {
    gw_psql -c "SELECT '$1, pickup of the run: ' || round(extract(epoch FROM started_at - created_at)::numeric * 1000) || ' ms'
                FROM pipeline_runs WHERE id = (SELECT id FROM pipeline_runs WHERE template_id =
                (SELECT id FROM templates WHERE name = 'print') ORDER BY created_at DESC LIMIT 1)"
}
measure "search on" || exit 1
pickup "search on"
# The same while retention removes a backlog: 20,000 chunks of 8 KiB of a
# run that ended 40 days ago, a worker with GITWEAVE_LOG_RETENTION_DAYS=30.
kill "$GW_WORKER_PID"; wait "$GW_WORKER_PID" 2>/dev/null
old=$(gw_trigger app)
wait_for 5 false
gw_psql -c "UPDATE pipeline_runs SET status = 'success', ended_at = now() - interval '40 days' WHERE id = '$old'"
oldjob=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$old'")
gw_psql -c "INSERT INTO logs (job_id, \"offset\", chunk)
            SELECT '$oldjob', i * 8192, repeat(md5(i::text), 256) FROM generate_series(0, 19999) i"
gw_worker_start w2 RUNNER_LOG_FLUSH_MS=500 GITWEAVE_LOG_RETENTION_DAYS=30 GITWEAVE_LOG_RETENTION_SWEEP_SECONDS=1
wait_for 10 grep -q "logs expired" "$GW_TMP/worker-w2.log"
gw_log "backlog before: $(gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$oldjob'") chunks"
measure "search on, removing a backlog" || exit 1
pickup "search on, removing a backlog"
gw_log "backlog after: $(gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$oldjob'") chunks left"
wait_for 120 bash -c "[ \"\$(psql -X -A -t -d '$DATABASE_URL' -c \"SELECT count(*) FROM logs WHERE job_id = '$oldjob'\")\" = 0 ]"
gw_log "backlog removed: $(grep 'removed expired logs' "$GW_TMP/worker-w2.log" | tail -1)"
# The /metrics view names the search index: it goes first (this database is thrown away).
gw_psql -c "DROP VIEW log_storage_samples; DROP TRIGGER logs_lines ON logs;
            DROP INDEX logs_search_idx; DROP INDEX logs_created_at_idx" || exit 1
measure "search off" || exit 1
pickup "search off"
gw_finish >/dev/null || true
