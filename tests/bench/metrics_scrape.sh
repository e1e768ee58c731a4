#!/usr/bin/env bash
# The database time of a /metrics scrape with 100,000 runs in the table:
# 100,000 finished runs (one every 3 s: 1,200 in the histograms' hour), 200
# queued, 20 running, 300,000 jobs, 20 runners; then the statement of the
# scrape (SELECT ... FROM metrics_samples) 50 times, with its execution time
# from EXPLAIN ANALYZE of the prepared statement. Prints median, best, worst.
#   tests/bench/metrics_scrape.sh [build-dir]
GW_BUILD_DIR=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
gw_psql <<'SQL'
INSERT INTO repos (id, name) VALUES (gen_random_uuid(), 'bench');
INSERT INTO templates (id, name, kind, document, source)
VALUES (gen_random_uuid(), 'bench', 'test', '{}', '{}');
INSERT INTO runners (id, name, hostname, engine, lease_seconds)
SELECT gen_random_uuid(), 'r' || i, 'h', 'local', 30 FROM generate_series(1, 20) i;
INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status, spec,
                           created_at, started_at, ended_at, runner_id, attempt)
SELECT gen_random_uuid(), (SELECT id FROM repos), (SELECT id FROM templates), 1,
       (ARRAY['success', 'failed', 'canceled'])[1 + i % 3]::run_status, '[]',
       now() - (i * interval '3 s') - interval '20 s', now() - (i * interval '3 s') - interval '15 s',
       now() - (i * interval '3 s'), (SELECT id FROM runners ORDER BY name LIMIT 1), 1
  FROM generate_series(1, 100000) i;
INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status, spec, created_at)
SELECT gen_random_uuid(), (SELECT id FROM repos), (SELECT id FROM templates), 1, 'queued', '[]',
       now() - i * interval '1 s' FROM generate_series(1, 200) i;
INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status, spec,
                           created_at, started_at, runner_id, lease_expires_at, attempt)
SELECT gen_random_uuid(), (SELECT id FROM repos), (SELECT id FROM templates), 1, 'running', '[]',
       now() - interval '1 min', now() - interval '30 s', r.id, now() + interval '30 s', 1
  FROM runners r;
INSERT INTO jobs (id, run_id, position, name, status)
SELECT gen_random_uuid(), r.id, p, 'j' || p, 'success' FROM pipeline_runs r, generate_series(0, 2) p;
VACUUM ANALYZE;
SQL
gw_log "$(gw_psql -c "SELECT count(*) FROM pipeline_runs") runs, $(gw_psql -c "SELECT count(*) FROM jobs") jobs"
# As the API runs it: a statement prepared once on its connection.
{
    echo "PREPARE scrape AS SELECT family, sample, labels, value FROM metrics_samples;"
    for i in $(seq 50); do echo "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE scrape;"; done
} | gw_psql | jq '.[0]["Execution Time"]' | sort -n >"$GW_TMP/times"
echo "scrape statement, prepared, execution time of 50 runs: median $(sed -n 25p "$GW_TMP/times") ms, best $(head -1 "$GW_TMP/times") ms, worst $(tail -1 "$GW_TMP/times") ms"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
