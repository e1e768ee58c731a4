#!/usr/bin/env bash
# The web page's figures, in Debian's headless chromium (tests/bench/ui_bench.js):
# the run list with 10,000 runs (first page visible after navigation), a
# 100,000-line log of about 10 MB (last line visible after opening the job,
# most DOM elements while loading and scrolling), live lines (stored chunk's
# created_at -> on screen, p50/p99), and the page's own bytes.
#   tests/bench/ui_bench.sh [build-dir]
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start_token || exit 1
gw_template bench '{"kind": "test", "jobs": [{"name": "one", "script": ["true"]}]}' || exit 1
gw_repo bench bench || exit 1
seed=$(api POST /repos/bench/pipelines/run -H 'Content-Type: application/json' -d '{}' | jq -r .id)
# 9,999 more runs like the first, one second apart (no worker: they stay queued).
cols=$(gw_psql -c "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
                   FROM information_schema.columns WHERE table_name = 'pipeline_runs'
                   AND column_name NOT IN ('id', 'created_at')")
gw_psql -c "INSERT INTO pipeline_runs (id, created_at, $cols)
            SELECT gen_random_uuid(), now() - n * interval '1 second', $cols
            FROM pipeline_runs, generate_series(1, 9999) n WHERE id = '$seed'" || exit 1
echo "## $(date -u +%F) on $(nproc) cores: $(gw_psql -c 'SELECT count(*) FROM pipeline_runs') runs"
API_ROOT=$API_ROOT TOKEN=$TOKEN node "$GW_SOURCE_DIR/tests/bench/ui_bench.js"
