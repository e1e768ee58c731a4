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
# tally FILE: add the PASS and FAIL lines of a Node test's output to ours.
tally() {
    GW_PASSES=$((GW_PASSES + $(grep -c '^PASS:' "$1")))
    GW_FAILS=$((GW_FAILS + $(grep -c '^FAIL:' "$1")))
}

# The log view's SGR parser alone (Node; no browser).
node "$GW_SOURCE_DIR/tests/ui/ansi_test.mjs" 2>&1 | tee "$GW_TMP/ansi.out"
tally "$GW_TMP/ansi.out"

# The page's own POSTs carry Origin: its own address, which names the Host.
code() { command curl -s -o /dev/null -w '%{http_code}' -H @"$GW_TMP/auth-header" "$@"; }
hostport=${API_ROOT#http://}
expect_eq "the page's own origin passes the Origin check" 404 \
    "$(code -X POST -H "Origin: $API_ROOT" "$API/runners/nobody/pause")"
expect_eq "another origin does not" 403 "$(code -X POST -H 'Origin: http://evil.example' "$API/runners/nobody/pause")"
expect_eq "nor a rebound name with its own origin (loopback Host check)" 421 \
    "$(code -X POST -H "Host: evil.example:${hostport#*:}" -H "Origin: http://evil.example:${hostport#*:}" "$API/runners/nobody/pause")"

# A second API without a token (loopback development): no prompt.
GITWEAVE_API_ADDR=127.0.0.1:0 GITWEAVE_API_PORT_FILE=$GW_TMP/open.port GITWEAVE_API_TOKEN= \
    "$GW_BUILD_DIR/gitweave-api" >>"$GW_TMP/api-open.log" 2>&1 &
GW_PIDS+=("$!")
wait_for 5 test -s "$GW_TMP/open.port" || fail "the API without a token started"

[ -n "${GW_UI_SHOTS:-}" ] && mkdir -p "$GW_UI_SHOTS"
GW_API_BIN=$GW_BUILD_DIR/gitweave-api GW_API_PID=$GW_API_PID GW_API_LOG=$GW_TMP/api-again.log \
    OPEN_ROOT=http://127.0.0.1:$(cat "$GW_TMP/open.port") API_ROOT=$API_ROOT TOKEN=$TOKEN node "$GW_SOURCE_DIR/tests/ui/ui_test.js" 2>&1 | tee "$GW_TMP/ui.out"
# The API the browser test started again in place of the first one.
[ -s "$GW_TMP/api-again.log.pid" ] && GW_PIDS+=("$(cat "$GW_TMP/api-again.log.pid")")
tally "$GW_TMP/ui.out"
gw_finish
