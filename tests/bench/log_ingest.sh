#!/usr/bin/env bash
# Log ingest with and without search: a local-engine job prints about
# 16 MiB of build-log lines as fast as it can; the worker stores them in
# 64 KiB chunks (the default). Stored throughput is the job's stored
# bytes over the time from its first chunk to its last (created_at,
# set by Postgres as each insert began). Then the same chunks, exported,
# are loaded with COPY into another job of the same table (same trigger
# and indexes), timed by psql. Done twice: with the search trigger and
# indexes of db/migrations/0012_*.sql, and with them dropped (as before).
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
measure "search on" || exit 1
gw_psql -c "DROP TRIGGER logs_lines ON logs; DROP INDEX logs_search_idx; DROP INDEX logs_created_at_idx"
measure "search off" || exit 1
gw_finish >/dev/null || true
