#!/usr/bin/env bash
# The API against the same SQL run directly, side by side on one Postgres:
#   tests/bench/side_by_side.sh [build-dir [before-build-dir]]
# 1. POST /repos/{repo}/pipelines/run (a one-job template) under
#    `wrk -t2 -c16`, and its two statements (read the attached templates,
#    insert run + jobs + NOTIFY) under `pgbench -M prepared -c16 -j2`;
# 2. GET /pipelines/runs/{id} (a run with its jobs) the same way;
# 3. GET /healthz p99 (wrk -c1) during a further trigger load (apart from
#    the rate: pgbench has no such extra load);
# 4. the API's peak RSS.
# Prints, per round (BENCH_ROUNDS, default 3; the two sides alternate), the
# rates, the ratios API / pgbench, and the CPU each request cost on each
# path (Postgres, the API, the load generator), which holds still when
# other work shares the machine and the rates do not. With a second build dir
# (an older build), its API is measured too, on the same database (its
# statements differ; the pgbench side is today's SQL).
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
BEFORE_DIR=${2:-}
SECONDS_EACH=${BENCH_SECONDS:-10}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1
PGBENCH=$PG_BIN/pgbench

gw_pg_start || exit 1
gw_api_start || exit 1
gw_template one '{"kind": "build", "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo one || exit 1
run=$(gw_trigger demo)
repo_id=$(gw_psql -c "SELECT id FROM repos WHERE name = 'demo'")
tmpl_id=$(gw_psql -c "SELECT id FROM templates WHERE name = 'one'")
spec=$(gw_psql -c "SELECT spec::text FROM pipeline_runs WHERE id = '$run'")
gw_psql -c "VACUUM ANALYZE" >/dev/null

cat >"$GW_TMP/trigger.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
LUA
# The API's statements with their parameters as pgbench variables. The
# runs parameter ($6) is built in SQL, since pgbench cannot make a uuid.
# pgbench would take the ":MI" of a time format for a variable: the same
# format with quoted colons gives the same text.
sql() { "$GW_BUILD_DIR/tests/gw_sql" "$1" | sed 's/HH24:MI:SS/HH24":"MI":"SS/g' | tr '\n' ' '; echo; }
{
    echo "\\set x 1"
    sql trigger_read | sed "s/\\\$1::text/:repo_name::text/g; s/\\\$2::text/NULL::text/g" | sed 's/$/;/'
    sql trigger_insert | sed "s/\\\$1::uuid/:repo_id::uuid/g; s/\\\$2::text/'manual'::text/g;
        s/\\\$3::text/'refs\\/heads\\/main'::text/g; s/\\\$4::text/NULL::text/g; s/\\\$5::uuid/NULL::uuid/g;
        s/\\\$6::jsonb/jsonb_build_array(jsonb_build_object('id', gen_random_uuid(), 'template_id', :tmpl_id::uuid, 'template_version', 1, 'inputs', '{}'::jsonb, 'spec', :spec::jsonb))/g" | sed 's/$/;/'
} >"$GW_TMP/trigger.sql"
sql run_get | sed "s/\\\$1/:run_id::uuid/g" | sed 's/$/;/' >"$GW_TMP/details.sql"
PGB_VARS=(-D "repo_name=demo" -D "repo_id=$repo_id" -D "tmpl_id=$tmpl_id" -D "spec=$spec" -D "run_id=$run")

# The rate of a wrk report; nothing (so the run fails below) if some
# replies were not 2xx (a refused request is not a rate).
wrk_rate() { awk '/Non-2xx/ {bad = 1} /Requests\/sec/ {rate = $2} END {if (!bad) print rate}'; }
pgbench_rate() { awk '/^tps/ {print $3; exit}'; }
# p99 of a wrk --latency report, in ms.
wrk_p99_ms() {
    awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 }
                       else if (v ~ /ms$/) sub(/ms/, "", v); else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }
                       print v }'
}
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

# CPU time, in clock ticks: of a process and its waited-for children, and
# of the whole Postgres cluster (the postmaster, the backends that ended,
# the backends alive). Rates on a shared machine move with whatever else
# runs; the CPU each request costs does not, so both are printed.
TICK=$(getconf CLK_TCK)
ticks_of() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm t c
    pm=$(head -1 "$GW_PG_DIR/data/postmaster.pid")
    t=$(ticks_of "$pm")
    for c in $(pgrep -P "$pm"); do t=$((t + $(ticks_of "$c"))); done
    echo "$t"
}
# measured OUT CMD...: run a load generator; its output goes to OUT, and
# OUT.cpu gets "postgres-ticks api-ticks client-ticks" spent meanwhile.
measured() {
    local out=$1 pg0 api0; shift
    pg0=$(pg_ticks); api0=$(ticks_of "$GW_API_PID")
    ( "$@" >"$out" 2>&1; me=$BASHPID; awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$me/stat" >"$out.client" )
    echo "$(( $(pg_ticks) - pg0 )) $(( $(ticks_of "$GW_API_PID") - api0 )) $(cat "$out.client")" >"$out.cpu"
}
# cpu_per_req OUT RATE: "total (postgres + api + client) ms" of CPU per request.
cpu_per_req() {
    read -r p a c <"$1.cpu"
    awk -v p="$p" -v a="$a" -v c="$c" -v rate="$2" -v s="$SECONDS_EACH" -v tk="$TICK" 'BEGIN {
        n = rate * s; f = 1000 / tk / n
        printf "%.3f (pg %.3f + api %.3f + client %.3f)", (p + a + c) * f, p * f, a * f, c * f }'
}

# Every trigger load starts from the same table sizes (the runs of the
# previous load deleted), or whichever side runs second pays for a
# bigger table.
reset_runs() {
    gw_psql -c "DELETE FROM pipeline_runs WHERE id <> '$run'" -c "VACUUM ANALYZE" >/dev/null
}

# api_load: trigger and details under wrk alone; then healthz p99 under
# wrk -c1 during a second trigger load (not counted in the trigger rate:
# pgbench has no such extra load).
api_load() {
    reset_runs
    measured "$GW_TMP/api_trigger.out" wrk -t2 -c16 -d"$SECONDS_EACH"s -s "$GW_TMP/trigger.lua" "$API/repos/demo/pipelines/run"
    api_trigger=$(wrk_rate <"$GW_TMP/api_trigger.out")
    measured "$GW_TMP/api_details.out" wrk -t2 -c16 -d"$SECONDS_EACH"s "$API/pipelines/runs/$run"
    api_details=$(wrk_rate <"$GW_TMP/api_details.out")
    [ -n "$api_trigger" ] && [ -n "$api_details" ] || { echo "the API refused requests under load:"; tail -5 "$GW_TMP/api.log"; exit 1; }
    wrk -t1 -c1 -d"$SECONDS_EACH"s --latency "$API/healthz" >"$GW_TMP/healthz.out" 2>&1 &
    local hz=$!
    wrk -t2 -c16 -d"$SECONDS_EACH"s -s "$GW_TMP/trigger.lua" "$API/repos/demo/pipelines/run" >/dev/null
    wait $hz
    api_healthz_p99=$(wrk_p99_ms <"$GW_TMP/healthz.out")
    api_rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$GW_API_PID/status")
}
pg_load() {
    reset_runs
    measured "$GW_TMP/pg_trigger.out" "$PGBENCH" -n -M prepared -c16 -j2 -T "$SECONDS_EACH" "${PGB_VARS[@]}" -f "$GW_TMP/trigger.sql" "$DATABASE_URL"
    pg_trigger=$(pgbench_rate <"$GW_TMP/pg_trigger.out")
    measured "$GW_TMP/pg_details.out" "$PGBENCH" -n -M prepared -c16 -j2 -T "$SECONDS_EACH" "${PGB_VARS[@]}" -f "$GW_TMP/details.sql" "$DATABASE_URL"
    pg_details=$(pgbench_rate <"$GW_TMP/pg_details.out")
    [ -n "$pg_trigger" ] && [ -n "$pg_details" ] || { echo "pgbench failed:"; cat "$GW_TMP/pg_trigger.out" "$GW_TMP/pg_details.out"; exit 1; }
}

echo "## $(date -u +%F) on $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | what | API | pgbench, same SQL | ratio | CPU ms per request: API path | pgbench path |"
echo "|---|---|---|---|---|---|---|"
# Rounds alternate the two sides so that a change in the machine's other
# load falls on both.
for round in $(seq "${BENCH_ROUNDS:-3}"); do
    api_load
    pg_load
    echo "| $round | POST /repos/{repo}/pipelines/run | $api_trigger/s | $pg_trigger/s | $(ratio "$api_trigger" "$pg_trigger") |" \
         "$(cpu_per_req "$GW_TMP/api_trigger.out" "$api_trigger") | $(cpu_per_req "$GW_TMP/pg_trigger.out" "$pg_trigger") |"
    echo "| $round | GET /pipelines/runs/{id} | $api_details/s | $pg_details/s | $(ratio "$api_details" "$pg_details") |" \
         "$(cpu_per_req "$GW_TMP/api_details.out" "$api_details") | $(cpu_per_req "$GW_TMP/pg_details.out" "$pg_details") |"
    echo "| $round | GET /healthz p99 during the trigger load: $api_healthz_p99 ms; API peak RSS: $((api_rss_kb / 1024)) MB | | | | | |"
done

if [ -n "$BEFORE_DIR" ]; then
    kill "$GW_API_PID"; wait "$GW_API_PID" 2>/dev/null
    GW_BUILD_DIR=$BEFORE_DIR gw_api_start || exit 1
    api_load
    echo "before ($BEFORE_DIR): trigger $api_trigger/s ($(ratio "$api_trigger" "$pg_trigger")x)," \
         "details $api_details/s ($(ratio "$api_details" "$pg_details")x)," \
         "healthz p99 $api_healthz_p99 ms, peak RSS $((api_rss_kb / 1024)) MB"
fi
