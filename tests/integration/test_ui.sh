#!/usr/bin/env bash
# The web page (api/ui/) in a real headless Chromium (Debian's chromium,
# driven by playwright-core from tests/package.json) against the API with a
# token, a worker with the local engine and Postgres: tests/ui/ui_test.js.
# GW_UI_SHOTS=DIR saves a screenshot of each page there (docs/ui/).
source "$(dirname "$0")/../lib/postgres.sh"

NODE_MODULES=$GW_SOURCE_DIR/tests/node_modules
[ -d "$NODE_MODULES/playwright-core" ] || { echo "FAIL: tests/node_modules is missing: run scripts/deps.sh"; exit 1; }
[ -x "${GW_CHROMIUM:-/usr/bin/chromium}" ] || { echo "FAIL: chromium is missing: run scripts/deps.sh"; exit 1; }

gw_pg_start
gw_api_start_token
gw_worker_start w-ui
[ -n "${GW_UI_SHOTS:-}" ] && mkdir -p "$GW_UI_SHOTS"
API_ROOT=$API_ROOT TOKEN=$TOKEN node "$GW_SOURCE_DIR/tests/ui/ui_test.js" 2>&1 | tee "$GW_TMP/ui.out"
GW_PASSES=$((GW_PASSES + $(grep -c '^PASS:' "$GW_TMP/ui.out")))
GW_FAILS=$((GW_FAILS + $(grep -c '^FAIL:' "$GW_TMP/ui.out")))
gw_finish
