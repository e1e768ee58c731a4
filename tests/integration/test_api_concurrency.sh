#!/usr/bin/env bash
# The API serves requests concurrently: a request blocked on a locked row
# (a psql session holding it) does not delay other requests, and with every
# database connection blocked /healthz and /readyz still answer at once; a
# statement waits no longer than GITWEAVE_API_STATEMENT_TIMEOUT_SECONDS.
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
# Statements wait for the lock below as long as the test holds it, however
# slow a loaded machine makes the steps in between.
GITWEAVE_API_DB_CONNECTIONS=2 GITWEAVE_API_STATEMENT_TIMEOUT_SECONDS=600 gw_api_start || exit 1

gw_template one '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo one || exit 1
run=$(gw_trigger demo)
check "a queued run to lock" test "${#run}" = 36

# timed_get URL: prints "status seconds" of a GET.
timed_get() { curl -s -m 10 -o /dev/null -w '%{http_code} %{time_total}' "$1"; }
# answered_within LIMIT "STATUS SECONDS" WANT_STATUS
answered_within() { local s t; read -r s t <<<"$2"; [ "$s" = "$3" ] && awk "BEGIN{exit !($t < $1)}"; }
# waiters_are N: N sessions wait for a lock.
waiters_are() { [ "$(gw_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")" = "$1" ]; }
# not_in_log TEXT: the API's log has no line with TEXT.
not_in_log() { ! grep -q -- "$1" "$GW_TMP/api.log"; }
# start_cancel N: cancel the run in the background; status in $GW_TMP/cancelN.status.
start_cancel() {
    curl -s -o /dev/null -w '%{http_code}' -X POST "$API/pipelines/runs/$run/cancel" \
        >"$GW_TMP/cancel$1.status" &
}

# The API's scheduler reads the schedules just after each minute boundary:
# a statement that would wait for the saturated pool too, and be counted
# below. The lock is taken well after a boundary; what follows takes a few
# seconds, however loaded the machine.
away_from_minute() { local s=$((10#$(date +%S))); [ "$s" -ge 2 ] && [ "$s" -le 40 ]; }
wait_for 40 away_from_minute
gw_log "a session holds the run's row until the test lets it go"
# A request that waited for the lock or for the pool would get no answer
# until then.
gw_hold_lock "SELECT 1 FROM pipeline_runs WHERE id = '$run' FOR UPDATE" ||
    fail "the locking session did not start"

gw_log "one request blocked on the row"
start_cancel 1
c1=$!
check "the cancel waits for the lock" wait_for 10 waiters_are 1
got=$(timed_get "$API/repos/demo")
check "another request answers at once meanwhile ($got)" answered_within 3 "$got" 200
got=$(timed_get "$API/pipelines/runs/$run")
check "the locked run can still be read ($got)" answered_within 3 "$got" 200

gw_log "a second one: every connection of the pool is blocked"
start_cancel 2
c2=$!
check "both cancels wait for the lock" wait_for 10 waiters_are 2
got=$(timed_get "$API/healthz")
check "healthz answers at once with the pool saturated ($got)" answered_within 3 "$got" 200
got=$(timed_get "$API/readyz")
check "readyz answers at once with the pool saturated ($got)" answered_within 3 "$got" 200
api GET /readyz >/dev/null
expect_eq "readyz reports the pool" "2 2 2" "$(jq -r '"\(.pool.size) \(.pool.ready) \(.pool.busy)"' "$GW_TMP/body")"
# A database request now waits for a connection, and gets one later.
curl -s -o /dev/null -w '%{http_code}' "$API/repos/demo" >"$GW_TMP/queued.status" &
q=$!
waiting_is() { api GET /readyz >/dev/null && [ "$(jq -r .pool.waiting "$GW_TMP/body")" = "$1" ]; }
wait_for 10 waiting_is 1
expect_eq "readyz counts the waiting statement" 1 "$(jq -r .pool.waiting "$GW_TMP/body")"

# A client that gives up while its statement waits: the late reply is
# dropped, nothing else happens.
curl -s -m 0.3 -o /dev/null "$API/pipelines/runs/$run" && fail "the impatient request got an answer"

gw_release_lock
wait "$c1" "$c2" "$q"
expect_eq "the blocked cancels end once the lock is gone" "202 409" \
    "$(sort <(cat "$GW_TMP/cancel1.status"; echo) <(cat "$GW_TMP/cancel2.status"; echo) | tr -s '\n' ' ' | sed 's/ $//')"
expect_eq "the waiting request is answered" 200 "$(cat "$GW_TMP/queued.status")"
expect_eq "the run is canceled" canceled "$(run_status "$run")"
check "the late reply is logged as dropped" wait_for 10 \
    grep -q "GET /api/v1/pipelines/runs/$run status=200 .*dropped=client-gone" "$GW_TMP/api.log"
check "the API is still up after a reply to a client that left" kill -0 "$GW_API_PID"
check "no request went unanswered" not_in_log "bug:"
api GET "/pipelines/runs/$run" >/dev/null
expect_eq "and answers" 200 "$(status)"

gw_log "a statement waits no longer than GITWEAVE_API_STATEMENT_TIMEOUT_SECONDS"
kill "$GW_API_PID" && wait "$GW_API_PID" 2>/dev/null
GITWEAVE_API_DB_CONNECTIONS=1 GITWEAVE_API_STATEMENT_TIMEOUT_SECONDS=1 gw_api_start || exit 1
run2=$(gw_trigger demo)
gw_hold_lock "SELECT 1 FROM pipeline_runs WHERE id = '$run2' FOR UPDATE" ||
    fail "the locking session did not start"
t0=$(date +%s%3N)
api POST "/pipelines/runs/$run2/cancel" -m 30 >/dev/null
took=$(($(date +%s%3N) - t0))
expect_eq "a cancel blocked on the locked run gets 500 after the timeout" 500 "$(status)"
# The default of 10 s would take at least 10 s.
check "after 1 s, not the default 10 ($took ms)" test "$took" -lt 9000
check "with a JSON error" jq -e '.error | length > 0' "$GW_TMP/body"
got=$(timed_get "$API/repos/demo")
check "the pool's one connection is free again ($got)" answered_within 3 "$got" 200
gw_release_lock
expect_eq "the run is still queued" queued "$(run_status "$run2")"
api POST "/pipelines/runs/$run2/cancel" >/dev/null
expect_eq "and can be canceled once the lock is gone" 202 "$(status)"

gw_finish
