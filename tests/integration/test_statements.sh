#!/usr/bin/env bash
# Every statement of both programs is named where it is defined, and each
# prepares against the migrated schema: the API's pool takes statement ids,
# not text (api/queries.h, API_STATEMENTS), so none runs unprepared, and
# gw_sql prints each by its name.
source "$(dirname "$0")/../lib/postgres.sh"

gw_sql=$GW_BUILD_DIR/tests/gw_sql
names=$("$gw_sql" --list)
expect_eq "the names are unique" "" "$(sort <<<"$names" | uniq -d)"
for want in repos_list repo_delete template_delete runs_all_page trigger_insert log_search \
    event_run event_job q_claim q_log_insert; do
    check "gw_sql lists $want" grep -qx "$want" <<<"$names"
done
check "an unknown name is refused" bash -c "! '$gw_sql' no_such_statement 2>/dev/null"

# No source of the API hands SQL text to the pool or a connection, but the
# pool's own preparing of API_STATEMENTS and follow.c's event reads.
raw=$(grep -n -E 'pg_(pool|conn)_(query|prepare)\(' "$GW_SOURCE_DIR"/api/*.c |
    grep -v -E '^[^:]*/api/dbconn\.c:|FOLLOW_EVENT_(RUN|JOB)' || true)
expect_eq "no statement of the API runs by its text" "" "$raw"

gw_pg_start
n=0
while IFS= read -r name; do
    sql=$("$gw_sql" "$name")
    if out=$(gw_psql -c "PREPARE s AS $sql" 2>&1); then
        n=$((n + 1))
    else
        fail "$name prepares: $out"
    fi
done <<<"$names"
expect_eq "every statement prepares" "$(wc -l <<<"$names")" "$n"

gw_finish
