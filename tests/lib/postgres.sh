# Test helpers: a throwaway Postgres cluster and the project's processes.
# Source this file; call gw_pg_start, then gw_api_start / gw_worker_start.
# Everything started here is stopped by gw_cleanup (installed as an EXIT trap).
#
# Needs: GW_BUILD_DIR (cmake build dir), GW_SOURCE_DIR (the source tree).

set -u
GW_BUILD_DIR=${GW_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
GW_SOURCE_DIR=${GW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# psql, pgbench and the rest from the server's own folder: on Debian the
# psql on PATH is pg_wrapper, a Perl script that picks a cluster before it
# starts the real one, 55 ms of CPU at every call (the tests call psql
# thousands of times, many of them in wait_for's polls).
[ -x "$PG_BIN/psql" ] && PATH=$PG_BIN:$PATH
# python3 from Debian (tests/CMakeLists.txt links it into tests/bin), not a
# version manager's shim (0.4 s of CPU a call).
[ -d "$GW_BUILD_DIR/tests/bin" ] && PATH=$GW_BUILD_DIR/tests/bin:$PATH
source "$(dirname "${BASH_SOURCE[0]}")/pg_initdb.sh"
GW_TMP=$(mktemp -d /tmp/gwtest.XXXXXX)
chmod 755 "$GW_TMP"
GW_PIDS=()
GW_FAILS=0
GW_PASSES=0

# gw_log MESSAGE: the message after the time of day (ms), without a process.
gw_log() {
    local now=$EPOCHREALTIME t
    printf -v t '%(%H:%M:%S)T' "${now%[.,]*}"
    now=${now#*[.,]}
    echo "# $t.${now:0:3} $*"
}
pass() { GW_PASSES=$((GW_PASSES + 1)); echo "PASS: $*"; }
fail() { GW_FAILS=$((GW_FAILS + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: pass if the command succeeds.
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
# expect_eq DESCRIPTION WANT GOT
expect_eq() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: want [$2] got [$3]"; fi; }

gw_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# gw_pg_run DIR: start the cluster DIR/data on a free port (PGPORT), its
# socket in DIR, fsync off.
gw_pg_run() {
    local dir=$1 try
    PGPORT=$(gw_free_port)
    # The free port may be taken by a test running beside this one before
    # Postgres binds it: then another port, a few times.
    for try in 1 2 3 4 5; do
        "${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
            -o "-p $PGPORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off \
                -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null && return 0
        if [ "$try" = 5 ] || ! grep -q 'Address already in use' "$dir/log"; then
            cat "$dir/log"
            return 1
        fi
        PGPORT=$(gw_free_port)
    done
}

# gw_pg_migrate DIR: database gitweave in the running cluster of DIR (port
# PGPORT), migrated by this build's gitweave-api; DATABASE_URL names it.
gw_pg_migrate() {
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U gitweave gitweave || return 1
    export DATABASE_URL="postgresql://gitweave@127.0.0.1:$PGPORT/gitweave"
    "$GW_BUILD_DIR/gitweave-api" migrate >"$1/migrate.log" 2>&1 || { cat "$1/migrate.log"; return 1; }
}

# gw_pg_migrated DATA: DATA as gw_pg_migrate leaves it (shut down cleanly),
# copied from a cluster made once per migrations and gitweave-api binary (the
# key of its folder): createdb and the migrations cost half a second of CPU
# per test. Folders of other keys unused for a day are removed.
gw_pg_migrated() {
    local data=$1 key cache
    key=$( {
        "$PG_BIN/postgres" --version
        cat "$GW_SOURCE_DIR"/db/migrations/*.sql "$GW_BUILD_DIR/gitweave-api"
    } | sha256sum | cut -c1-16)
    cache=${TMPDIR:-/tmp}/gitweave-migrated-$(id -u)-$key
    gw_once "$cache" gw_pg_migrated_make "$cache" || return 1
    # Each use touches the lock file: its age is the time unused.
    touch "$cache.lock"
    find "${TMPDIR:-/tmp}" -maxdepth 1 -name "gitweave-migrated-$(id -u)-*.lock" \
        ! -name "gitweave-migrated-$(id -u)-$key.lock" -mmin +1440 |
        while read -r old; do rm -rf "${old%.lock}" "$old"; done
    cp -a "$cache/data" "$data"
}

gw_pg_migrated_make() {
    local cache=$1 rc
    (gw_initdb "$cache/data" "$cache/initdb.log" "${GW_AS_PG[@]}" &&
        gw_pg_run "$cache" && gw_pg_migrate "$cache")
    rc=$?
    "${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$cache/data" -m fast -w stop >/dev/null 2>&1
    rm -f "$cache/data/postmaster.opts"
    return $rc
}

# A cluster in $GW_TMP/pg owned by postgres (initdb refuses root), fsync off,
# with database gitweave migrated (DATABASE_URL).
gw_pg_start() {
    local dir=$GW_TMP/pg
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        GW_AS_PG=(runuser -u postgres --)
    else
        GW_AS_PG=()
    fi
    gw_pg_migrated "$dir/data" || return 1
    gw_pg_run "$dir" || return 1
    GW_PG_DIR=$dir
    export PGHOST=127.0.0.1 PGPORT PGUSER=gitweave PGDATABASE=gitweave
    export DATABASE_URL="postgresql://gitweave@127.0.0.1:$PGPORT/gitweave"
    gw_sql_session
}

gw_pg_stop() {
    [ -n "${GW_PG_DIR:-}" ] || return 0
    "${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$GW_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    GW_PG_DIR=
}

# gw_psql ARGS...: psql on DATABASE_URL, unaligned, tuples only, stopping
# at the first error. `gw_psql -c SQL`, most calls and most polls, goes to
# the test's session (gw_sql_session) when it runs on DATABASE_URL; other
# forms, and meta-commands, start a psql.
gw_psql() {
    if [ $# = 2 ] && [ "$1" = -c ] && [[ ${2#"${2%%[![:space:]]*}"} != \\* ]] && gw_sql_ready; then
        gw_sql "$2"
        return
    fi
    psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"
}

# gw_sql_session: a gw_sqlsh (tests/tools) on DATABASE_URL, kept for the
# test: a psql and the backend it forks cost tens of milliseconds of CPU to
# start here, a statement on an open connection less than one. Started from
# the test's own shell (the subshells of $(...) inherit its pipes), which
# every call then shares: one call at a time.
gw_sql_session() {
    gw_sql_stop
    rm -f "$GW_TMP/gw_sqlsh.in" "$GW_TMP/gw_sqlsh.out"
    mkfifo "$GW_TMP/gw_sqlsh.in" "$GW_TMP/gw_sqlsh.out" || return 1
    "$GW_BUILD_DIR/tests/gw_sqlsh" <"$GW_TMP/gw_sqlsh.in" >"$GW_TMP/gw_sqlsh.out" 2>>"$GW_TMP/gw_sqlsh.log" &
    GW_SQL_PID=$!
    exec {GW_SQL_W}>"$GW_TMP/gw_sqlsh.in" {GW_SQL_R}<"$GW_TMP/gw_sqlsh.out"
    GW_SQL_URL=$DATABASE_URL
    GW_PIDS+=("$GW_SQL_PID")
}
gw_sql_stop() {
    [ -n "${GW_SQL_PID:-}" ] || return 0
    exec {GW_SQL_W}>&- {GW_SQL_R}<&-
    kill "$GW_SQL_PID" 2>/dev/null
    wait "$GW_SQL_PID" 2>/dev/null
    GW_SQL_PID=
}
# gw_sql_ready: the session runs on DATABASE_URL; the test's own shell
# starts it again when not.
gw_sql_ready() {
    [ -n "${GW_SQL_PID:-}" ] && [ "$GW_SQL_URL" = "$DATABASE_URL" ] &&
        kill -0 "$GW_SQL_PID" 2>/dev/null && return 0
    [ -n "${GW_SQL_URL:-}" ] && [ "$BASHPID" = "$$" ] && gw_sql_session
}
# gw_sql SQL: what psql -c SQL prints and returns, through the session.
gw_sql() {
    local out err rc
    printf '%s\0' "$1" >&"$GW_SQL_W"
    if ! { IFS= read -r -d '' out && IFS= read -r -d '' err && read -r rc; } <&"$GW_SQL_R"; then
        echo "gw_psql: the session ended (gw_sqlsh.log)" >&2
        return 2
    fi
    printf '%s' "$out"
    [ -z "$err" ] || printf '%s' "$err" >&2
    return "$rc"
}

# Start the API on a free port; sets API (base URL with /api/v1).
gw_api_start() {
    local portfile=$GW_TMP/api.port
    rm -f "$portfile"
    GITWEAVE_API_ADDR=127.0.0.1:0 GITWEAVE_API_PORT_FILE=$portfile \
        "$GW_BUILD_DIR/gitweave-api" >>"$GW_TMP/api.log" 2>&1 &
    GW_API_PID=$!
    GW_PIDS+=("$GW_API_PID")
    # Up to a minute (a loaded machine), unless the API exits first.
    for _ in $(seq 1200); do
        [ -s "$portfile" ] && break
        kill -0 "$GW_API_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -s "$portfile" ] || { cat "$GW_TMP/api.log"; return 1; }
    API="http://127.0.0.1:$(cat "$portfile")/api/v1"
}

# gw_api_start_token: the API with a random token, as a user installs it:
# sets TOKEN and API_ROOT (the URL without /api/v1), writes the token to
# $GW_TMP/api-token and a header file $GW_TMP/auth-header (both 0600), and
# makes the test's curl send that header on every call.
gw_api_start_token() {
    TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    GITWEAVE_API_TOKEN=$TOKEN gw_api_start || return 1
    API_ROOT=${API%/api/v1}
    (umask 077 && printf '%s\n' "$TOKEN" >"$GW_TMP/api-token" &&
        printf 'Authorization: Bearer %s\n' "$TOKEN" >"$GW_TMP/auth-header")
    curl() { command curl -H @"$GW_TMP/auth-header" "$@"; }
}

# gw_worker_start NAME [ENV=VALUE...]: a worker with the local engine unless told.
# Sets GW_WORKER_PID.
gw_worker_start() {
    local name=$1; shift
    env RUNNER_NAME="$name" RUNNER_CONTAINER_ENGINE="${RUNNER_CONTAINER_ENGINE:-local}" \
        RUNNER_WORKDIR="$GW_TMP/work" RUNNER_LEASE_SECONDS="${RUNNER_LEASE_SECONDS:-4}" \
        RUNNER_POLL_SECONDS=1 RUNNER_LOG_FLUSH_MS=200 "$@" \
        "$GW_BUILD_DIR/gitweave-worker" >>"$GW_TMP/worker-$name.log" 2>&1 &
    GW_WORKER_PID=$!
    GW_PIDS+=("$GW_WORKER_PID")
}

# api METHOD PATH [curl args...]: prints the body; the status goes to $GW_STATUS_FILE.
GW_STATUS_FILE=$GW_TMP/status
api() {
    local method=$1 path=$2; shift 2
    curl -s -o "$GW_TMP/body" -w '%{http_code}' -X "$method" "$API$path" "$@" >"$GW_STATUS_FILE"
    gw_cat "$GW_TMP/body"
}
status() { printf '%s' "$(<"$GW_STATUS_FILE")"; }
# gw_cat FILE: the file's bytes on stdout; read by the shell itself unless
# they hold a NUL (a `cat` costs milliseconds of CPU here, and api() is
# called thousands of times).
gw_cat() {
    local b=
    if { IFS= read -r -d '' b; } 2>/dev/null <"$1" || [ ! -r "$1" ]; then
        cat "$1"
    else
        printf '%s' "$b"
    fi
}

# wait_for SECONDS COMMAND...: polls until the command succeeds (SECONDS may
# be fractional). Its clock and its naps start no process (a process start
# costs milliseconds of CPU here, and the tests poll thousands of times).
wait_for() {
    local whole=${1%%.*} frac=000 end
    [[ $1 == *.* ]] && frac=${1#*.}000
    end=$((${EPOCHREALTIME//[.,]/} + (10#${whole:-0} * 1000 + 10#${frac:0:3}) * 1000))
    shift
    while ((${EPOCHREALTIME//[.,]/} < end)); do
        "$@" && return 0
        gw_nap
    done
    return 1
}
# gw_nap: 0.1 s, waited for by bash itself: a read that times out on a pipe
# nothing writes to (opened read-write, so that the open does not wait).
mkfifo "$GW_TMP/.nap"
exec {GW_NAP_FD}<>"$GW_TMP/.nap"
gw_nap() { read -r -t 0.1 -u "$GW_NAP_FD" _ || true; }
# events_of ID: the statuses NOTIFYed for a run or job id, space-separated.
events_of() { jq -r --arg id "$1" 'select(.id == $id and .type != "cancel") | .status' "$GW_TMP/events" | tr '\n' ' '; }
# gw_hold_lock SQL: a session runs BEGIN and SQL, and holds the locks it took
# until gw_release_lock. Its statements come through a pipe, so a lock is
# held until the test lets it go, however slow a loaded machine is, rather
# than for a fixed time.
gw_hold_lock() {
    rm -f "$GW_TMP/locker.sql"
    mkfifo "$GW_TMP/locker.sql"
    psql -X -q -d "$DATABASE_URL" -f "$GW_TMP/locker.sql" >/dev/null 2>&1 &
    GW_PIDS+=("$!")
    exec 7>"$GW_TMP/locker.sql"
    echo "BEGIN; $1; SELECT 'gw-locker-holds';" >&7
    wait_for 10 gw_lock_held
}
gw_lock_held() {
    [ "$(gw_psql -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%gw-locker-holds%'
        AND state = 'idle in transaction' AND pid <> pg_backend_pid()")" = 1 ]
}
# gw_release_lock: the session commits; returns once its locks are gone.
# (Processes started meanwhile hold the pipe open: the session exits when
# they have.)
gw_release_lock() {
    echo "COMMIT;" >&7
    exec 7>&-
    wait_for 30 eval '! gw_lock_held'
}
# expect_events DESCRIPTION ID WANT: the statuses NOTIFYed for ID are WANT,
# once the listener has had up to 10 s to record them.
expect_events() { wait_for 10 events_are "$2" "$3"; expect_eq "$1" "$3" "$(events_of "$2")"; }
events_are() { [ "$(events_of "$1")" = "$2" ]; }

run_status() { gw_psql -c "SELECT status FROM pipeline_runs WHERE id = '$1'"; }
run_is_final() {
    case $(run_status "$1") in success | failed | canceled) return 0 ;; *) return 1 ;; esac
}

gw_cleanup() {
    local rc=$?
    for pid in "${GW_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${GW_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    # A sanitizer build reports into the programs' logs: any report fails the test.
    if grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$GW_TMP"/*.log 2>/dev/null; then
        echo "FAIL: a sanitizer reported a problem (log above)"
        GW_FAILS=$((GW_FAILS + 1))
        rc=1
    fi
    if [ "$rc" != 0 ] || [ "$GW_FAILS" != 0 ]; then
        for f in "$GW_TMP"/*.log; do
            [ -f "$f" ] && { echo "---- $f (last 40 lines)"; tail -n 40 "$f"; }
        done
    fi
    gw_pg_stop
    if declare -F gw_dockerd_stop >/dev/null; then gw_dockerd_stop; fi
    rm -rf "$GW_TMP"
    exit "$rc"
}
trap gw_cleanup EXIT

# Call at the end of a test: prints the tally, and the exit status says it.
gw_finish() {
    echo "$GW_PASSES passed, $GW_FAILS failed"
    [ "$GW_FAILS" = 0 ] && [ "$GW_PASSES" -gt 0 ]
}

# gw_template NAME JSON: store a template (fails the test on a non-2xx).
gw_template() {
    api PUT "/templates/$1" -H 'Content-Type: application/json' --data-binary "$2" >/dev/null
    case $(status) in 200 | 201) ;; *) echo "template $1: HTTP $(status): $(cat "$GW_TMP/body")"; return 1 ;; esac
}
# gw_repo REPO [TEMPLATE...]: create a repo and attach templates.
gw_repo() {
    local repo=$1; shift
    api PUT "/repos/$repo" -H 'Content-Type: application/json' -d '{}' >/dev/null
    for t in "$@"; do
        api PUT "/repos/$repo/templates/$t" >/dev/null
        case $(status) in 200 | 201) ;; *) echo "attach $t: HTTP $(status)"; return 1 ;; esac
    done
}
# gw_repo_id REPO: the id of the repo named REPO (not deleted), the name of
# its workspace directories under RUNNER_WORKDIR/<runner> (local engine) and
# RUNNER_WORKDIR/<runner>/docker (docker engine).
gw_repo_id() { gw_psql -c "SELECT id FROM repos WHERE name = '$1' AND deleted_at IS NULL"; }
# gw_trigger REPO [JSON]: trigger a run, print its id.
gw_trigger() {
    local body
    body=$(api POST "/repos/$1/pipelines/run" -H 'Content-Type: application/json' -d "${2:-{\}}")
    # The run's id is the reply's first key: read without a jq when it is.
    if [[ $body =~ ^\{\"id\":[[:space:]]*\"([0-9a-f-]{36})\" ]]; then
        echo "${BASH_REMATCH[1]}"
    else
        jq -r .id <<<"$body"
    fi
}
# gw_copy_runs REPO TEMPLATE COUNT AGE: COUNT queued one-job runs of REPO's
# TEMPLATE as the trigger makes them (one is triggered, copied in bulk, then
# deleted), the oldest created AGE ago, a millisecond apart (benchmarks).
gw_copy_runs() {
    local seed
    seed=$(gw_trigger "$1" "{\"template\": \"$2\"}")
    gw_psql -c "WITH s AS (SELECT * FROM pipeline_runs WHERE id = '$seed'),
      r AS (INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status, trigger,
                                       ref, inputs, spec, runs_on, concurrency_group, created_at)
            SELECT gen_random_uuid(), s.repo_id, s.template_id, s.template_version, 'queued',
                   s.trigger, s.ref, s.inputs, s.spec, s.runs_on, s.concurrency_group,
                   now() - interval '$4' + g * interval '1 millisecond'
              FROM s, generate_series(1, $3) g RETURNING id)
      INSERT INTO jobs (id, run_id, position, name, kind)
      SELECT gen_random_uuid(), r.id, 0, 'a', 'script' FROM r" >/dev/null
    gw_psql -c "DELETE FROM pipeline_runs WHERE id = '$seed'" >/dev/null
}
# Every job's log starts with one line of the runner's saying what ran
# (docs/templates.md, "What ran"); GW_HEADER_RE matches it (grep -E, sed -E).
GW_HEADER_RE='^\[gitweave\] job .+, run [0-9a-f]{8} attempt [0-9]+, runner .+ \((local|docker) engine\), image .+, ref .+, commit .+, inputs \{.*\}$'
# gw_unheaded: one job's log on stdin, printed without its first line, which
# must be that header: a first line that is not one stays, marked
# "(no header) ", so that the comparison it feeds fails. Every other byte is
# kept (a last line without its newline too).
gw_unheaded() { sed -E "1{/$GW_HEADER_RE/d;s/^/(no header) /}"; }
# gw_unheaded_jobs: the same for several jobs' logs as the client prints
# them, each after a "==> JOB" line.
gw_unheaded_jobs() { sed -E "/^==> /{n;/$GW_HEADER_RE/d;s/^/(no header) /}"; }
# gw_job_log JOB_ID [LIMIT]: the job's log as gw_logs reads it, without its header.
gw_job_log() { gw_logs "$@" | gw_unheaded; }
# gw_logs JOB_ID [LIMIT]: the job's whole log, read page by page through the API.
gw_logs() {
    local job=$1 limit=${2:-1048576} offset=0 body meta
    while :; do
        body=$(curl -s "$API/jobs/$job/logs?offset=$offset&limit=$limit")
        # How many chunks, and where the next page starts; then the chunks.
        meta=$(jq -r '"\(.chunks | length) \(.next_offset)"' <<<"$body")
        [[ $meta =~ ^[0-9]+\ [0-9]+$ ]] || { echo "gw_logs: not a page of $job: $body" >&2; return 1; }
        [ "${meta%% *}" = 0 ] && break
        jq -j '.chunks[].chunk' <<<"$body"
        offset=${meta#* }
    done
}
