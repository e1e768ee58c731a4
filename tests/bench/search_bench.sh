#!/usr/bin/env bash
# Log search at scale: RUNS runs (default 10,000) of one job each, 1,000
# lines of about 100 bytes per job (about 1 GB and 10 million lines at
# 10,000 runs), stored in 64 KiB chunks through the logs table's trigger
# and indexes, spread over 30 days of history. Then, through the API, the
# first page of: a string that occurs once; a string in every run (newest
# first); the oldest match of a string that first appears in the middle
# of history. Each is asked 5 times; prints every time (curl's total). And
# the sizes: stored log bytes, the table, the search index.
#   tests/bench/search_bench.sh [build-dir] [runs]
GW_BUILD_DIR=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
RUNS=${2:-10000}
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
gw_log "loading $RUNS runs"
start=$(date +%s)
gw_psql -v runs="$RUNS" <<'SQL'
INSERT INTO repos (id, name) VALUES (gen_random_uuid(), 'app'), (gen_random_uuid(), 'lib');
INSERT INTO templates (id, name, kind, document, source)
VALUES (gen_random_uuid(), 'ci', 'test', '{}', '{}');
INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status, spec, ref,
                           created_at, started_at, ended_at)
SELECT gen_random_uuid(), (SELECT id FROM repos WHERE name = (ARRAY['app', 'lib'])[1 + i % 2]),
       (SELECT id FROM templates), 1, (ARRAY['success', 'failed'])[1 + (i % 7 = 0)::int]::run_status,
       '[]', 'refs/heads/main',
       now() - interval '30 days' + i * (interval '30 days' / :runs),
       now() - interval '30 days' + i * (interval '30 days' / :runs) + interval '1 s',
       now() - interval '30 days' + i * (interval '30 days' / :runs) + interval '60 s'
  FROM generate_series(1, :runs) i;
INSERT INTO jobs (id, run_id, position, name, status)
SELECT gen_random_uuid(), r.id, 0, 'test', r.status::text::job_status FROM pipeline_runs r;
-- 1,000 lines a job in two chunks (the second cut in the middle of a line);
-- one run prints "unique-marker-5f3a9c" once; every run prints "Build
-- finished"; the runs of the second half of history print "regression
-- E4312" once.
CREATE TEMP TABLE src AS
SELECT j.id AS job_id, r.created_at, row_number() OVER (ORDER BY r.created_at) AS n
  FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id;
CREATE TEMP TABLE body AS
SELECT s.job_id, s.created_at,
       (SELECT string_agg(format('%s [%s] step %s/1000: cc -O2 -c src/mod_%s.c -o build/mod_%s.o (%s ms)%s',
                                 to_char(s.created_at + l * interval '10 ms', 'HH24:MI:SS.MS'),
                                 (ARRAY['INFO', 'INFO', 'INFO', 'WARN', 'DEBUG'])[1 + (l * 7 + s.n) % 5],
                                 l, (l * 31 + s.n) % 997, (l * 31 + s.n) % 997, (l * 13 + s.n) % 3000,
                                 CASE WHEN l = 1000 THEN ' Build finished'
                                      WHEN l = 500 AND s.n = (:runs / 3) THEN ' unique-marker-5f3a9c'
                                      WHEN l = 700 AND s.n > :runs / 2 THEN ' regression E4312'
                                      ELSE '' END) || E'\n', '' ORDER BY l)
          FROM generate_series(1, 1000) l) AS text
  FROM src s;
INSERT INTO logs (job_id, "offset", chunk, created_at)
SELECT b.job_id, p.off, p.piece, b.created_at + p.k * interval '1 s'
  FROM body b, LATERAL (
      SELECT 0 AS k, 0 AS off, substring(b.text FROM 1 FOR 65536) AS piece
      UNION ALL
      SELECT 1, octet_length(substring(b.text FROM 1 FOR 65536)), substring(b.text FROM 65537)
  ) p
 WHERE p.piece <> ''
 ORDER BY b.created_at, p.k;
VACUUM ANALYZE;
SQL
gw_log "loaded in $(( $(date +%s) - start )) s"
gw_psql <<'SQL'
SELECT 'runs ' || count(*) FROM pipeline_runs;
SELECT 'chunks ' || count(*) || ', lines ' || sum(length(chunk) - length(replace(chunk, E'\n', '')))
       || ', stored log bytes ' || sum(octet_length(chunk)) || ' (' || pg_size_pretty(sum(octet_length(chunk))) || ')' FROM logs;
SELECT 'logs table with toast ' || pg_size_pretty(pg_table_size('logs')) || ', search index '
       || pg_size_pretty(pg_relation_size('logs_search_idx')) || ' (' || pg_relation_size('logs_search_idx') || ' bytes), created_at index '
       || pg_size_pretty(pg_relation_size('logs_created_at_idx'));
SQL
# ask NAME QUERY: the query 5 times; prints the times in ms and the first line matched.
ask() {
    local name=$1 q=$2 times=() body
    for i in 1 2 3 4 5; do
        times+=("$(curl -s -o "$GW_TMP/body" -w '%{time_total}' "$API/logs/search?$q" |
            awk '{printf "%.0f", $1 * 1000}')")
    done
    echo "$name: ${times[*]} ms; $(jq -c '[(.matches | length), .matches[0].line, .matches[0].repo, .matches[0].at, (.next != null)]' "$GW_TMP/body")"
}
ask "once, newest first" "q=unique-marker-5f3a9c"
ask "in every run, newest first" "q=Build+finished"
ask "in every run, newest first, limit 100" "q=Build+finished&limit=100"
ask "middle of history, oldest first" "q=regression+E4312&order=oldest"
ask "middle of history, oldest first, limit 1" "q=regression+E4312&order=oldest&limit=1"
ask "regex once" "q=unique-marker-%5B0-9a-f%5D%2B&re=true"
ask "in every run, repo lib" "q=Build+finished&repo=lib"
ask "nowhere" "q=no-such-string-anywhere"
gw_finish >/dev/null || true
