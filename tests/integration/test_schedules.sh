#!/usr/bin/env bash
# Schedules: a template's on.schedule (five-field cron, UTC) starts runs of
# the repo's default branch with trigger "schedule". With two API processes
# running, a fire time starts exactly one run; GET /repos/{repo}/schedules
# gives each schedule's next fire time; after the APIs were down, only the
# last missed fire time of a schedule is fired. The test waits for the next
# minute boundary (an every-minute schedule): up to a minute.
source "$(dirname "$0")/../lib/postgres.sh"

export GITWEAVE_LOG_LEVEL=debug
gw_pg_start
gw_api_start
API1=$API PID1=$GW_API_PID
gw_api_start
API2=$API PID2=$GW_API_PID
J=(-H 'Content-Type: application/json')
jobs='"jobs": [{"name": "one", "script": ["echo hi"]}]'

# The minute boundary after $1 (seconds since the epoch), as the API writes times.
minute_after() { date -u -d "@$(( ($1 / 60 + 1) * 60 ))" +%Y-%m-%dT%H:%M:%S.000000Z; }

# ---- templates ----
api PUT /templates/bad "${J[@]}" -d "{\"kind\": \"test\", \"on\": {\"schedule\": [\"61 * * * *\"]}, $jobs}" >/dev/null
expect_eq "a bad expression: 422 naming it" \
    "422 on.schedule[0] on.schedule[0]: is not a valid schedule: minute: 61 is out of range 0-59" \
    "$(status) $(jq -r '.field + " " + .detail' "$GW_TMP/body")"
api PUT /templates/bad "${J[@]}" -d "{\"kind\": \"test\", \"on\": [\"schedule\"], $jobs}" >/dev/null
expect_eq "schedule in the list form of on: 422" "422 on[0]" "$(status) $(jq -r .field "$GW_TMP/body")"
gw_template minutely "{\"kind\": \"test\", \"on\": {\"schedule\": [\"* * * * *\"]}, $jobs}" || exit 1
gw_template quarterly "{\"kind\": \"test\", \"on\": {\"manual\": {}, \"schedule\": [\"*/15 * * * *\", \"0 3 * * 1-5\"]}, $jobs}" || exit 1
gw_template plain "{\"kind\": \"test\", $jobs}" || exit 1
gw_template catchup "{\"kind\": \"test\", \"on\": {\"schedule\": [\"* * * * *\"]}, $jobs}" || exit 1
expect_eq "the document keeps on.schedule" '["* * * * *"]' \
    "$(api GET /templates/minutely | jq -c .document.on.schedule)"

# ---- the repo's schedules ----
api PUT /repos/cal "${J[@]}" -d '{"default_branch": "trunk"}' >/dev/null
gw_repo cal quarterly plain || exit 1
t0=$(date +%s)
api GET /repos/cal/schedules >/dev/null
t1=$(date +%s)
expect_eq "GET schedules: 200, each expression of each template, in order" \
    '200 [["quarterly","*/15 * * * *","refs/heads/trunk",null,null],["quarterly","0 3 * * 1-5","refs/heads/trunk",null,null]]' \
    "$(status) $(jq -c '[.schedules[] | [.template, .cron, .ref, .last_fire_at, .last_run]]' "$GW_TMP/body")"
next=$(jq -r '.schedules[0].next_fire_at' "$GW_TMP/body")
want0=$(date -u -d "@$(( (t0 / 900 + 1) * 900 ))" +%Y-%m-%dT%H:%M:%S.000000Z)
want1=$(date -u -d "@$(( (t1 / 900 + 1) * 900 ))" +%Y-%m-%dT%H:%M:%S.000000Z)
check "*/15: the next quarter of an hour ($next)" [ "$next" = "$want0" -o "$next" = "$want1" ]
api GET /repos/nope/schedules >/dev/null
expect_eq "GET schedules of an unknown repo: 404" "404 repo not found" "$(status) $(jq -r .error "$GW_TMP/body")"

# ---- one fire time, two APIs: one run ----
gw_repo cal minutely || exit 1
scheduled() { gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN templates t ON t.id = r.template_id
                          WHERE t.name = 'minutely' AND r.trigger = 'schedule'"; }
gw_log "waiting for the next minute boundary"
started() { [ "$(scheduled)" -ge 1 ]; }
check "the every-minute schedule starts a run" wait_for 75 started
fire=$(gw_psql -c "SELECT extract(epoch FROM min(fire_at))::bigint FROM schedule_fires f
                   JOIN templates t ON t.id = f.template_id WHERE t.name = 'minutely'")
fire_text=$(date -u -d "@$fire" +%Y-%m-%dT%H:%M:%S.000000Z)
# Both APIs look at the boundary: one takes the fire time, the other finds it taken.
taken() { [ "$(grep -c "fire time already taken repo=cal template=minutely cron=\"\\* \\* \\* \\* \\*\" fire_at=$fire_text" "$GW_TMP/api.log")" = 1 ]; }
check "the other API found the fire time taken" wait_for 10 taken
expect_eq "one run started for the fire time, by one API" 1 \
    "$(grep -c "started run run=.* repo=cal template=minutely cron=\"\\* \\* \\* \\* \\*\" fire_at=$fire_text" "$GW_TMP/api.log")"
expect_eq "exactly one run of the schedule for $fire_text" "1|1" \
    "$(gw_psql -c "SELECT count(*), count(DISTINCT r.id) FROM schedule_fires f JOIN pipeline_runs r ON r.id = f.run_id
                   JOIN templates t ON t.id = f.template_id
                   WHERE t.name = 'minutely' AND f.fire_at = to_timestamp($fire)")"
run=$(gw_psql -c "SELECT run_id FROM schedule_fires f JOIN templates t ON t.id = f.template_id
                  WHERE t.name = 'minutely' AND f.fire_at = to_timestamp($fire)")
expect_eq "the run: trigger schedule, the default branch, queued with its job" \
    '["schedule","refs/heads/trunk","queued",["one"]]' \
    "$(api GET "/pipelines/runs/$run" | jq -c '[.trigger, .ref, .status, [.jobs[].name]]')"
gw_log "fired $(gw_psql -c "SELECT round(extract(epoch FROM r.created_at - f.fire_at)::numeric, 3)
        FROM schedule_fires f JOIN pipeline_runs r ON r.id = f.run_id WHERE r.id = '$run'") s after its fire time"
expect_eq "no run of the template without a schedule" 0 \
    "$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN templates t ON t.id = r.template_id WHERE t.name = 'plain'")"

# GET on either API: the next fire time is the following minute.
for a in "$API1" "$API2"; do
    body=$(curl -s "$a/repos/cal/schedules")
    now=$(date +%s)
    if [ "$now" -lt $((fire + 60)) ]; then
        expect_eq "GET schedules ($a): last fire, its run, next fire = the following minute" \
            "[\"$fire_text\",\"$run\",\"$(minute_after "$fire")\"]" \
            "$(jq -c '.schedules[] | select(.template == "minutely") | [.last_fire_at, .last_run, .next_fire_at]' <<<"$body")"
    else
        expect_eq "GET schedules ($a): next fire = the minute after now" "$(minute_after "$now")" \
            "$(jq -r '.schedules[] | select(.template == "minutely") | .next_fire_at' <<<"$body")"
    fi
done

GITWEAVE_URL=${API1%/api/v1} "$GW_BUILD_DIR/gitweave" schedules cal >"$GW_TMP/schedules"
check "gitweave schedules: a line per schedule, next and last fire times" \
    grep -Eq "^minutely +\* \* \* \* \* +[0-9-]{10} [0-9:]{8} +[0-9-]{10} [0-9:]{8} +[0-9a-f-]{36}\$" "$GW_TMP/schedules"
check "... under a header" grep -Eq '^TEMPLATE +CRON \(UTC\) +NEXT +LAST +LAST RUN$' "$GW_TMP/schedules"

# ---- down: only the last missed fire time is fired ----
# A schedule attached ten minutes ago while no API ran (the times of its
# attachment and template set back in the database).
for pid in "$PID1" "$PID2"; do kill "$pid"; wait "$pid" 2>/dev/null; done
gw_psql -c "INSERT INTO repo_templates (repo_id, template_id, created_at)
            SELECT p.id, t.id, now() - interval '10 minutes' FROM repos p, templates t
            WHERE p.name = 'cal' AND t.name = 'catchup';
            UPDATE templates SET updated_at = now() - interval '10 minutes' WHERE name = 'catchup'"
start=$(date +%s)
gw_api_start
fires() { gw_psql -c "SELECT string_agg(to_char(fire_at AT TIME ZONE 'UTC', 'HH24:MI'), ' ' ORDER BY fire_at)
                      FROM schedule_fires f JOIN templates t ON t.id = f.template_id
                      WHERE t.name = 'catchup' AND f.fire_at <= to_timestamp($start)"; }
fired() { [ -n "$(fires)" ]; }
check "after the APIs were down, the schedule fires at start" wait_for 10 fired
expect_eq "only the last missed fire time (of ten) was fired" "$(date -u -d "@$(( start / 60 * 60 ))" +%H:%M)" "$(fires)"

gw_finish
