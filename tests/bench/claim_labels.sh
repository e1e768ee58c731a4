#!/usr/bin/env bash
# The claim past runs the runner cannot take:
#   tests/bench/claim_labels.sh [build-dir]
# One runner (labels: local) and 100 queued runs it may take; the worker's
# claim statement (gw_sql q_claim, one slot) is run through pgbench in a
# transaction that is rolled back, so every claim sees the same queue:
#   1. with no other queued runs;
#   2. with 10,000 more queued runs that need the label gpu, older than the
#      runs the runner may take (the worst case for a scan by age);
#   3. with BENCH_GROUP_RUNS (default 1,000) more queued runs of one
#      concurrency group whose oldest run is running, older than the runs
#      the runner may take and in the same label set: each waits for its
#      group, and the claim passes over every one of them.
# Per claim: p50 and p99 of pgbench's latency (BEGIN, claim, ROLLBACK over a
# local TCP connection), BENCH_CLAIMS claims each (default 2000).
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
N=${BENCH_CLAIMS:-2000}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
gw_template one '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_template gpu '{"kind": "build", "runs-on": ["gpu"], "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_template grp '{"kind": "build", "concurrency": {"group": "g"}, "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo one gpu grp || exit 1
RUNNER=00000000-0000-4000-8000-00000000b001
gw_psql -c "INSERT INTO runners (id, name, hostname, engine, lease_seconds, labels)
            VALUES ('$RUNNER', 'bench', 'bench', 'local', 30, '{local}')" >/dev/null
gw_copy_runs demo one 100 '1 hour'
gw_psql -c "VACUUM ANALYZE" >/dev/null

claim_sql() { # [EXPLAIN...]: the claim of one run by the runner, rolled back
    echo "BEGIN;"
    echo "$*"
    "$GW_BUILD_DIR/tests/gw_sql" q_claim | sed "s/\\\$1/'$RUNNER'/g; s/\\\$2/30/g; s/\\\$3/1/g"
    echo ";"
    echo "ROLLBACK;"
}
claim_sql >"$GW_TMP/claim.sql"

claims() { # LABEL: N claims, then p50 and p99 in ms
    local dir=$GW_TMP/log-$1 n
    mkdir -p "$dir"
    n=$(cd "$dir" && "$PG_BIN/pgbench" -n -f "$GW_TMP/claim.sql" -t "$N" -l "$DATABASE_URL" 2>&1 |
        awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }')
    cat "$dir"/pgbench_log.* | awk '{ print $3 }' | sort -n |
        awk -v label="$1" -v n="$n" '{ v[NR] = $1 }
            END { printf "| %s | %d | %.2f | %.2f |\n", label, n, v[int(NR * 0.5)] / 1000,
                  v[int(NR * 0.99)] / 1000 }'
}
claimed=$(gw_psql -f "$GW_TMP/claim.sql" | grep -c '^[0-9a-f]\{8\}-' || true)
echo "## $(date -u '+%F %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(a claim returns $claimed run)"
echo "| queue | claims | p50 ms | p99 ms |"
echo "|---|---|---|---|"
claims "100 runs it may take"
gw_copy_runs demo gpu 10000 '2 hours'
gw_psql -c "VACUUM ANALYZE" >/dev/null
claims "the same + 10,000 older runs needing gpu"
G=${BENCH_GROUP_RUNS:-1000}
gw_copy_runs demo grp "$G" '3 hours'
gw_psql -c "UPDATE pipeline_runs SET status = 'running', started_at = now()
             WHERE id = (SELECT id FROM pipeline_runs WHERE concurrency_group = 'g'
                          ORDER BY created_at LIMIT 1)" >/dev/null
gw_psql -c "VACUUM ANALYZE" >/dev/null
claims "the same + $((G - 1)) older runs waiting for their concurrency group"
# BENCH_EXPLAIN=1: the claim's plan with the runs it cannot take and those waiting.
[ -n "${BENCH_EXPLAIN:-}" ] && claim_sql "EXPLAIN (ANALYZE, COSTS OFF)" | gw_psql -f -
exit 0
