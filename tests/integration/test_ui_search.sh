#!/usr/bin/env bash
# Log search in the web page (api/ui/page_search.js) and a log removed by
# retention, in a real headless Chromium (as test_ui.sh) against the API
# with a token, a worker with the local engine and retention on (30 days,
# swept every second) and Postgres: tests/ui/search_test.js.
# GW_UI_SHOTS=DIR saves its screenshots there (docs/ui/).
source "$(dirname "$0")/../lib/postgres.sh"

NODE_MODULES=$GW_SOURCE_DIR/tests/node_modules
[ -d "$NODE_MODULES/playwright-core" ] || { echo "FAIL: tests/node_modules is missing: run scripts/deps.sh"; exit 1; }
[ -x "${GW_CHROMIUM:-/usr/bin/chromium}" ] || { echo "FAIL: chromium is missing: run scripts/deps.sh"; exit 1; }

# What the page marks in a line and how it keeps a search in its address
# (Node; no browser).
node "$GW_SOURCE_DIR/tests/ui/search_marks_test.mjs" 2>&1 | tee "$GW_TMP/marks.out"

gw_pg_start || exit 1
gw_api_start_token || exit 1
gw_worker_start w-search GITWEAVE_LOG_RETENTION_DAYS=30 GITWEAVE_LOG_RETENTION_SWEEP_SECONDS=1

[ -n "${GW_UI_SHOTS:-}" ] && mkdir -p "$GW_UI_SHOTS"
API_ROOT=$API_ROOT TOKEN=$TOKEN node "$GW_SOURCE_DIR/tests/ui/search_test.js" 2>&1 | tee "$GW_TMP/search.out"
for out in "$GW_TMP/marks.out" "$GW_TMP/search.out"; do
    GW_PASSES=$((GW_PASSES + $(grep -c '^PASS:' "$out")))
    GW_FAILS=$((GW_FAILS + $(grep -c '^FAIL:' "$out")))
done
gw_finish
