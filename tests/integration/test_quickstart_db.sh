#!/usr/bin/env bash
# The quickstart's Postgres (`scripts/quickstart.sh db-start`) is private:
# no TCP listener, a unix socket in a directory only its owner can enter,
# peer authentication mapped to the quickstart's own user. The API and a
# worker reach it through DATABASE_URL (host=<socket dir>); another local
# user (made with useradd) cannot connect, neither through the socket nor
# over TCP, as no role, not even with the directory opened up. A state
# directory made by another user is refused. `stop` keeps the database: a
# second db-start finds what the first stored; `purge` removes the state.
source "$(dirname "$0")/../lib/postgres.sh"

STATE=$GW_TMP/qs
PGPORT=$(gw_free_port)
OTHER=gwqs$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
qs() {
    GITWEAVE_STATE=$STATE GITWEAVE_PGPORT=$PGPORT GITWEAVE_API_ADDR=127.0.0.1:$(gw_free_port) \
        bash "$GW_SOURCE_DIR/scripts/quickstart.sh" "$@"
}
qs_cleanup() {
    local rc=$?
    qs purge >/dev/null 2>&1
    id "$OTHER" >/dev/null 2>&1 && userdel "$OTHER"
    (exit "$rc")
    gw_cleanup
}
trap qs_cleanup EXIT

useradd -M -s /bin/sh "$OTHER" || { fail "useradd $OTHER"; exit 1; }
if qs db-start >"$GW_TMP/db-start.log" 2>&1; then pass "db-start"; else fail "db-start"; cat "$GW_TMP/db-start.log"; fi
url=$(sed -n 's/^DATABASE_URL=//p' "$GW_TMP/db-start.log" | tail -n 1)
check "db-start prints the DATABASE_URL ($url)" test -n "$url"
export DATABASE_URL=$url
expect_eq "the quickstart's user connects, as the superuser gitweave" "gitweave|t" \
    "$(gw_psql -c 'SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user')"

sock=$(find "$STATE" -type s -name ".s.PGSQL.$PGPORT" | head -n 1)
sockdir=$(dirname "$sock")
check "the server listens on a unix socket ($sock)" test -S "$sock"
expect_eq "its directory is private to postgres" "700 postgres" "$(stat -c '%a %U' "$sockdir")"
tcp_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null; }
check "nothing listens on 127.0.0.1:$PGPORT" tcp_closed
expect_eq "the server's listen_addresses is empty" "[]" "$(gw_psql -c "SELECT '[' || current_setting('listen_addresses') || ']'")"

# The programs connect through the socket.
if "$GW_BUILD_DIR/gitweave-api" migrate >"$GW_TMP/migrate.log" 2>&1; then
    pass "gitweave-api migrate over the socket"
else
    fail "gitweave-api migrate over the socket"
fi
gw_api_start
# Readiness says what the pool has now: its first connection may still be
# on its way.
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "${API%/api/v1}/readyz")" = 200 ]; }
check "the API is ready (it reaches Postgres)" wait_for 10 ready
gw_worker_start qsw
registered() { [ "$(gw_psql -c "SELECT count(*) FROM runners WHERE name = 'qsw'")" = 1 ]; }
check "a worker registers through the socket" wait_for 10 registered

# Another local user gets nowhere.
as_other() { (cd / && runuser -u "$OTHER" -- "$@"); }
for role in gitweave postgres "$OTHER"; do
    if as_other psql -X -w -h "$sockdir" -p "$PGPORT" -U "$role" -d gitweave -c 'SELECT 1' \
        >"$GW_TMP/other.out" 2>&1; then
        fail "$OTHER connected as $role through the socket"
    else
        pass "$OTHER cannot connect as $role through the socket ($(head -c 120 "$GW_TMP/other.out"))"
    fi
    if as_other psql -X -w -h 127.0.0.1 -p "$PGPORT" -U "$role" -d gitweave -c 'SELECT 1' \
        >"$GW_TMP/other.out" 2>&1; then
        fail "$OTHER connected as $role over TCP"
    else
        pass "$OTHER cannot connect as $role over TCP"
    fi
done
# With the directory opened up, authentication still refuses: no trust.
chmod 755 "$sockdir"
if as_other psql -X -w -h "$sockdir" -p "$PGPORT" -U gitweave -d gitweave -c 'SELECT 1' \
    >"$GW_TMP/other.out" 2>&1; then
    fail "$OTHER connected as gitweave once the directory was opened"
else
    check "peer authentication refuses $OTHER as gitweave" grep -q "authentication failed" "$GW_TMP/other.out"
fi
chmod 700 "$sockdir"

kill "$GW_API_PID" "$GW_WORKER_PID" 2>/dev/null
wait "$GW_API_PID" "$GW_WORKER_PID" 2>/dev/null
repos_now() { gw_psql -c "SELECT string_agg(name, ' ') FROM repos"; }
gw_psql -c "INSERT INTO repos (id, name) VALUES (gen_random_uuid(), 'kept')"
if qs stop >"$GW_TMP/stop.log" 2>&1; then pass "quickstart.sh stop"; else fail "quickstart.sh stop"; fi
check "stop stops Postgres" test ! -S "$sock"
check "stop keeps the state" test -d "$STATE/pg/data"
check "stop says where the state is kept" grep -q "purge" "$GW_TMP/stop.log"
if qs db-start >"$GW_TMP/db-start3.log" 2>&1; then pass "db-start again"; else fail "db-start again"; cat "$GW_TMP/db-start3.log"; fi
expect_eq "the same DATABASE_URL" "$url" "$(sed -n 's/^DATABASE_URL=//p' "$GW_TMP/db-start3.log" | tail -n 1)"
expect_eq "the database kept its rows between starts" kept "$(repos_now)"
if qs db-start >"$GW_TMP/db-start4.log" 2>&1; then pass "db-start while running"; else fail "db-start while running"; cat "$GW_TMP/db-start4.log"; fi
expect_eq "db-start while running keeps it too" kept "$(repos_now)"
if qs purge >"$GW_TMP/purge.log" 2>&1; then pass "quickstart.sh purge"; else fail "quickstart.sh purge"; fi
check "purge removes the state" test ! -e "$STATE"
check "purge stops Postgres" test ! -S "$sock"

# A state directory another user made first (in /tmp, anyone can) is not
# used, and the pid files in it are not trusted.
mkdir "$STATE" && chown "$OTHER" "$STATE"
sleep 60 &
victim=$!
GW_PIDS+=("$victim")
echo "$victim" >"$STATE/api.pid"
if qs db-start >"$GW_TMP/db-start2.log" 2>&1; then
    fail "db-start used a state directory of $OTHER"
else
    check "db-start refuses a state directory of another user" grep -q "not a directory of" "$GW_TMP/db-start2.log"
fi
qs stop >/dev/null 2>&1
qs purge >/dev/null 2>&1
check "stop and purge kill no pid named in another user's state directory" kill -0 "$victim"
check "and leaves that directory alone" test -f "$STATE/api.pid"
rm -rf "$STATE"
gw_finish
