#!/usr/bin/env bash
# The plans of what runs for every run (db/migrations/0016): no statement
# of the trigger's insert, the worker's statements or their functions and
# triggers is planned again on every call, and the logs trigger's look-up
# of a job's chunk before the new one walks the (job_id, "offset") key
# even when the statistics say logs is empty (a new database, TRUNCATE).
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start
# pg_stat_statements with the statements of functions and triggers, and
# their planning counted (as tests/bench/dispatch.sh loads it)
gw_psql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
"${GW_AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$GW_PG_DIR/data" -l "$GW_PG_DIR/log" -w restart >/dev/null || exit 1
gw_psql -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" \
        -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" \
        -c "CREATE EXTENSION pg_stat_statements" >/dev/null || exit 1
gw_api_start
gw_template one '{"kind": "build", "jobs": [{"name": "a", "script": ["echo a"]}]}' || exit 1
gw_template gpu '{"kind": "build", "runs-on": ["gpu"], "jobs": [{"name": "a", "script": ["true"]}]}' || exit 1
gw_repo demo one gpu || exit 1
gw_worker_start w1
worker=$GW_WORKER_PID

# ---- planned once per session, not per call ----
gw_psql -c "SELECT pg_stat_statements_reset()" >/dev/null
ids=()
for i in $(seq 12); do ids+=("$(gw_trigger demo '{"template": "one"}')"); done
gw_trigger demo '{"template": "gpu"}' >/dev/null
all_ended() {
    [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'success'")" = 12 ]
}
check "the 12 runs ended" wait_for 60 all_ended
# Statements called at least once a run, each with the number of times it
# was planned; more than half: planned again on (nearly) every call.
replanned=$(gw_psql -F ' ' -c "SELECT plans || ' plans of ' || calls || ' calls: ' ||
                                      left(regexp_replace(query, '\s+', ' ', 'g'), 100)
                                 FROM pg_stat_statements
                                WHERE calls >= 12 AND plans > calls / 2")
expect_eq "no statement of a run is planned on every call" "" "$replanned"
# The warnings read the same: a run that no live runner may take.
api POST /repos/demo/pipelines/run -H 'Content-Type: application/json' -d '{"template": "gpu"}' >/dev/null
expect_eq "a run needing gpu warns" "no live runner has the labels gpu" \
    "$(jq -r '.warnings[0] // empty' "$GW_TMP/body")"
kill "$worker"
wait "$worker" 2>/dev/null

# ---- the logs trigger's look-up with the statistics of an empty table ----
job=$(gw_psql -c "SELECT j.id FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id
                   WHERE r.id = '${ids[0]}'")
gw_psql -c "DELETE FROM logs" -c "VACUUM ANALYZE logs" >/dev/null
# One session (the trigger's plan is the session's): eight chunks, then
# the plan of the look-up for the ninth, past the five plans made for the
# values of the first calls.
plans=$( {
    echo "LOAD 'auto_explain';"
    echo "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;"
    for i in $(seq 0 8); do
        [ "$i" = 8 ] && echo "SET client_min_messages = log;"
        echo "INSERT INTO logs (job_id, \"offset\", chunk) VALUES ('$job', $((i * 6)), E'line$i\n');"
    done
} | psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" 2>&1)
lookup=$(awk '/Query Text: SELECT l.line/ { on = 1 } on && /LOG:/ && !/Query Text: SELECT l.line/ { on = 0 } on' <<<"$plans")
check "the look-up walks the key" grep -q 'Index Scan Backward using logs_job_id_offset_key' <<<"$lookup"
expect_eq "the look-up reads no table whole" "" "$(grep -E 'Seq Scan|Sort' <<<"$lookup")"
expect_eq "line and carry still chain" "9 |" \
    "$(gw_psql -F ' ' -c "SELECT line, '|' || carry FROM logs WHERE job_id = '$job' ORDER BY \"offset\" DESC LIMIT 1")"

gw_finish
