#!/usr/bin/env bash
# Objects that a database callback can outlive, with clients that reset
# their connections while the callback is pending: run event streams read
# again after the listening connection comes back, log followers' topics
# read again after it, held requests and pool statements whose clients
# leave. A lock taken in a psql session of the test's own holds the reads
# in flight while the clients leave, so every case happens each time. Run
# it on an ASan build (scripts/test.sh does): a use-after-free aborts the
# API there, and any sanitizer report fails the test.
source "$(dirname "$0")/../lib/postgres.sh"
# A pipe whose reader died fails the write, not the test script.
trap "" PIPE

N=${GW_LIFETIME_CLIENTS:-200}
gw_pg_start || exit 1
gw_api_start || exit 1
PORT=${API#http://127.0.0.1:}
PORT=${PORT%%/*}

gw_template quiet '{"kind": "build", "jobs": [{"name": "one", "script": ["echo one"]}]}' || exit 1
gw_repo app quiet || exit 1
body=$(api POST /repos/app/pipelines/run -H 'Content-Type: application/json' -d '{}')
run=$(jq -r .id <<<"$body")
job=$(jq -r '.jobs[0].id' <<<"$body")
[ -n "$run" ] && [ "$run" != null ] || { echo "could not trigger a run: $body"; exit 1; }

# A psql session of the test's own, fed through a pipe (fds 7 and 8), so
# that a transaction stays open between steps. sql TEXT sends; sql_said
# WORD waits for a line WORD.
mkfifo "$GW_TMP/sql.in" "$GW_TMP/sql.out"
psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" <"$GW_TMP/sql.in" >"$GW_TMP/sql.out" \
    2>>"$GW_TMP/psql.log" &
GW_PIDS+=("$!")
exec 7>"$GW_TMP/sql.in" 8<"$GW_TMP/sql.out"
sql() { printf '%s\n' "$1" >&7; }
sql_said() { local line; read -r -t 60 line <&8 && [ "$line" = "$1" ]; }

# clients MARKER COUNT PATH...: raw clients (raw_clients.py) on fds 5 and
# 6; returns once every one has MARKER. clients_reset resets them all.
clients() {
    rm -f "$GW_TMP/cl.in" "$GW_TMP/cl.out"
    mkfifo "$GW_TMP/cl.in" "$GW_TMP/cl.out"
    python3 "$GW_SOURCE_DIR/tests/integration/raw_clients.py" "$PORT" "$@" \
        <"$GW_TMP/cl.in" >"$GW_TMP/cl.out" 2>>"$GW_TMP/clients.log" &
    GW_PIDS+=("$!")
    exec 5>"$GW_TMP/cl.in" 6<"$GW_TMP/cl.out"
    local line
    read -r -t 60 line <&6 && [ "$line" = open ]
}
clients_reset() {
    local line
    echo close >&5
    read -r -t 60 line <&6 && [ "$line" = closed ] || return 1
    exec 5>&- 6<&-
    # The API takes the resets before anything else: one request round
    # trip after them, and a moment for the loop.
    sleep 0.5
    curl -s -o /dev/null "$API/healthz"
}
alive() { kill -0 "$GW_API_PID" 2>/dev/null && [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/healthz")" = 200 ]; }
listen_pid() { gw_psql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'gitweave-api-listen'"; }
listen_waits() {
    [ "$(gw_psql -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE NOT l.granted AND a.application_name = 'gitweave-api-listen'")" = 1 ]
}
lock_waiters() { [ "$(gw_psql -c "SELECT count(*) FROM pg_locks WHERE NOT granted")" -ge "$1" ]; }
# A new follower of the run still gets the run.
follows_run() {
    timeout 10 curl -sN "$API/pipelines/runs/$run/events" 2>/dev/null | grep -q -m1 '^event: run'
}

gw_log "run event streams read again after a reconnect, their clients reset meanwhile"
check "$N followers of the run have the run" clients "event: run" "$N" "/api/v1/pipelines/runs/$run/events"
old=$(listen_pid)
# The new listening connection's first statement (a prepare) waits on a
# lock of a table that the read of a run uses; once it waits, the lock is
# released and taken again in one request (psql's \;), so that the prepare (and
# the rest of the set-up) passes but the reads of the runs that follow it
# wait: a waiting lock request is queued ahead of later ones.
sql "BEGIN; LOCK TABLE templates IN ACCESS EXCLUSIVE MODE; SELECT pg_terminate_backend($old);"
check "the listening connection was ended" sql_said t
check "the new listening connection waits on the lock" wait_for 30 listen_waits
sql "COMMIT \\; BEGIN \\; LOCK TABLE templates IN ACCESS EXCLUSIVE MODE \\; SELECT 'locked';"
check "the lock is taken again after the set-up's prepare" sql_said locked
check "the reads of the runs wait on the lock" wait_for 30 listen_waits
check "the clients reset their connections" clients_reset
sql "COMMIT; SELECT 'released';"
check "the lock is released" sql_said released
check "the API survives the reads of the runs whose clients left" alive
check "a new follower of the run gets the run" follows_run

gw_log "held requests and pool statements whose clients reset"
sql "BEGIN; LOCK TABLE repos, templates, logs IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
check "the tables are locked" sql_said locked
check "held requests are open" clients - 30 /api/v1/repos "/api/v1/pipelines/runs/$run/events" \
    "/api/v1/jobs/$job/logs?follow=true" "/api/v1/jobs/$job/logs.txt" "/api/v1/repos/app"
check "their statements wait on the lock" wait_for 20 lock_waiters 2
check "the clients reset their connections" clients_reset
sql "COMMIT; SELECT 'released';"
check "the lock is released" sql_said released
check "the API survives the statements whose clients left" alive

gw_log "log followers read again after a reconnect, their clients reset meanwhile"
check "$N log followers are live" clients "HTTP/1.1 200" "$N" "/api/v1/jobs/$job/logs?follow=true"
old=$(listen_pid)
sql "BEGIN; LOCK TABLE logs IN ACCESS EXCLUSIVE MODE; SELECT pg_terminate_backend($old); SELECT 'locked';"
check "the log table is locked" sql_said t
check "the listening connection was ended" sql_said locked
check "the followers' topic reads again and waits on the lock" wait_for 20 lock_waiters 1
check "the clients reset their connections" clients_reset
sql "COMMIT; SELECT 'released';"
check "the lock is released" sql_said released
check "the API survives the log reads whose clients left" alive
check "the API listens again" bash -c "[ \"\$(psql -X -A -t -d '$DATABASE_URL' -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gitweave-api-listen' AND pid <> $old\")\" = 1 ]"

sql "\\q"
gw_finish
