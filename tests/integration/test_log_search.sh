#!/usr/bin/env bash
# Log search across runs (GET /logs/search) against a real worker's logs,
# stored in 64-byte chunks so that most lines cross a chunk boundary:
# every line found once with its number and byte offset, in multi-byte
# text, at the first and last byte of a log, past the first 256 chunks
# (the index path); filters, cursors both ways, and refused input.
source "$(dirname "$0")/../lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
gw_worker_start w1 RUNNER_LOG_CHUNK_BYTES=64 RUNNER_LOG_FLUSH_MS=1000

is_json_error() { jq -e '(.error | type) == "string" and (.detail | type) == "string"' \
    <"$GW_TMP/body" >/dev/null; }
expect_error() { expect_eq "$1: status" "$2" "$(status)"; check "$1: JSON error body" is_json_error; }
# search QUERY-STRING: the reply's matches as "line offset text", one a line.
search() { api GET "/logs/search?$1" | jq -r '.matches[] | "\(.line) \(.offset) \(.text)"'; }
# waits for every run to end
all_final() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status NOT IN ('success','failed','canceled')")" = 0 ]; }

# Lines of 100 bytes and more; the job's log starts with the runner's line
# that says what ran, then FIRSTTOKEN, and ends with LASTTOKEN, without a
# final newline.
big=$(cat <<'JSON'
{"kind": "build", "jobs": [{"name": "print", "script": [
  "printf 'FIRSTTOKEN starts the log\\n'",
  "i=1; while [ $i -le 400 ]; do printf 'line %04d Grüße ÄRGER %s needle-%04d end\\n' $i abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz $i; i=$((i+1)); done",
  "printf 'the END with LASTTOKEN'"]}]}
JSON
)
small='{"kind": "test", "jobs": [{"name": "t", "script": ["echo shared-needle in small", "exit 1"]}]}'
gw_template big "$big" || exit 1
gw_template small "$small" || exit 1
gw_repo app big || exit 1
gw_repo lib small || exit 1

run1=$(gw_trigger app '{"ref": "main"}')
check "the big run ends" wait_for 60 all_final
run2=$(gw_trigger lib)
check "the small run ends" wait_for 60 all_final
job1=$(gw_psql -c "SELECT id FROM jobs WHERE run_id = '$run1' AND name = 'print'")
expect_eq "the big run succeeded" success "$(run_status "$run1")"
chunks=$(gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$job1'")
check "the log is stored in more than 256 chunks ($chunks)" test "$chunks" -gt 256
crossing=$(gw_psql -c "SELECT count(*) FROM logs WHERE job_id = '$job1' AND carry <> ''")
check "lines cross chunk boundaries ($crossing chunks carry one)" test "$crossing" -gt 100

gw_log "every line found once, with its number and byte offset"
log=$(gw_logs "$job1")
# line_of N: the Nth line of the stored log (1-based); offset_of N: its byte
# offset; lines_with TEXT: the numbers of the lines that hold TEXT.
line_of() { printf '%s' "$log" | sed -n "$1p"; }
offset_of() { printf '%s' "$log" | head -n $(($1 - 1)) | wc -c; }
lines_with() { printf '%s\n' "$log" | grep -n -F -- "$1" | cut -d: -f1; }
check "the stored log starts with the runner's line" grep -qE "$GW_HEADER_RE" <<<"$(line_of 1)"
expect_eq "then the first step" "\$ printf 'FIRSTTOKEN starts the log\n'" "$(line_of 2)"
bad=0
for i in 1 2 3 57 128 200 256 257 333 399 400; do
    n=$(printf '%04d' "$i")
    at=$(lines_with "needle-$n end")
    got=$(search "q=needle-$n&limit=100")
    want="$at $(offset_of "$at") $(line_of "$at")"
    [ "$got" == "$want" ] || { bad=1; echo "needle-$n: want [$want] got [$got]"; }
done
expect_eq "each needle is found once, as its whole line, where the stored log has it" 0 "$bad"
expect_eq "needle-00: 99 lines of the loop" 99 "$(search "q=needle-00&limit=100" | wc -l)"
# Beyond the first chunks read in order: through the index, halving the
# history to find the first match, then windows of time.
expect_eq "needle-0: a full page of the 100 newest" "$(lines_with needle-0 | grep -v '^4$' | sort -rn | head -n 100 | xargs)" \
    "$(search "q=needle-0&limit=100" | cut -d' ' -f1 | xargs)"
expect_eq "needle-0, oldest first: the 100 oldest" "$(lines_with needle-0 | grep -v '^4$' | sort -n | head -n 100 | xargs)" \
    "$(search "q=needle-0&limit=100&order=oldest" | cut -d' ' -f1 | xargs)"
last=$(printf '%s\n' "$log" | wc -l)
expect_eq "the first byte of the log" "1 0 $(line_of 1)" "$(search 'q=%5Bgitweave%5D%20job%20print')"
expect_eq "the first step" "2 $(offset_of 2) \$ printf 'FIRSTTOKEN starts the log\n'" \
    "$(search 'q=%24%20printf%20%27FIRSTTOKEN')"
expect_eq "the last byte of the log" "$last $(offset_of "$last") the END with LASTTOKEN" \
    "$(search 'q=with%20LASTTOKEN' | head -n1)"
expect_eq "the log ends without a newline" "the END with LASTTOKEN" "$(printf '%s' "$log" | tail -c 22)"
body=$(api GET "/logs/search?q=line%200300%20Gr%C3%BC%C3%9Fe%20%C3%A4rger")
at=$(lines_with "line 0300 ")
expect_eq "multi-byte text, without regard to case" \
    "$at line 0300 Grüße ÄRGER" "$(jq -r '.matches[] | "\(.line) \(.text | .[0:21])"' <<<"$body")"
expect_eq "a match says where it is" \
    "$run1 $job1 print app big refs/heads/main success false" \
    "$(jq -r '.matches[0] | "\(.run) \(.job) \(.job_name) \(.repo) \(.template) \(.ref) \(.status) \(.truncated)"' <<<"$body")"
off=$(jq -r '.matches[0].offset' <<<"$body")
expect_eq "its offset reaches the line through the logs resource" "line 0300 Grüße" \
    "$(curl -s "$API/jobs/$job1/logs?offset=$off&limit=256" | jq -j '.chunks[].chunk' | head -c 17)"

gw_log "order, cursors, filters"
newest=$(search "q=needle-03&limit=100" | cut -d' ' -f1 | tr '\n' ' ')
expect_eq "newest first: later lines first" "$(lines_with needle-03 | sort -rn | tr '\n' ' ')" "$newest"
# pages FILTER LIMIT: every line of the search, page by page, following next.
pages() {
    local next="" out="" body
    while :; do
        body=$(api GET "/logs/search?$1&limit=$2${next:+&before=$next}")
        out+=$(jq -r '.matches[] | "\(.line) "' <<<"$body" | tr -d '\n')
        next=$(jq -r '.next // empty' <<<"$body")
        [ -n "$next" ] || break
    done
    printf '%s' "$out"
}
expect_eq "pages of 7, newest first, are the same lines" "$newest" "$(pages 'q=needle-03' 7)"
oldest=$(search "q=needle-03&limit=100&order=oldest" | cut -d' ' -f1 | tr '\n' ' ')
expect_eq "oldest first is the reverse" "$(tr ' ' '\n' <<<"$newest" | grep . | tac | tr '\n' ' ')" "$oldest"
expect_eq "pages of 3, oldest first" "$oldest" "$(pages 'q=needle-03&order=oldest' 3)"
expect_eq "pages of 1 through the index (a string of the first lines, newest first)" \
    "$(lines_with needle-000 | sort -rn | tr '\n' ' ')" "$(pages 'q=needle-000' 1)"

# The small run's log: its step ("$ echo shared-needle in small"), then its output.
expect_eq "a string of one run" 2 "$(search 'q=shared-needle' | wc -l)"
expect_eq "repo filter" "lib" "$(api GET '/logs/search?q=needle&repo=lib' | jq -r '[.matches[].repo] | unique | join(",")')"
expect_eq "template filter" "2" "$(api GET '/logs/search?q=needle&template=small' | jq '.matches | length')"
expect_eq "status filter" "failed" "$(api GET '/logs/search?q=needle&status=failed' | jq -r '[.matches[].status] | unique | join(",")')"
expect_eq "ref filter" "2" "$(api GET '/logs/search?q=shared-needle&ref=refs/heads/main' | jq '.matches | length')"
expect_eq "ref filter, another ref" "0" "$(api GET '/logs/search?q=shared-needle&ref=refs/heads/other' | jq '.matches | length')"
expect_eq "since in the future" "0" "$(api GET '/logs/search?q=needle&since=2999-01-01T00:00:00Z' | jq '.matches | length')"
expect_eq "until in the past" "0" "$(api GET '/logs/search?q=needle&until=2000-01-01' | jq '.matches | length')"
expect_eq "since in the past" "1" "$(api GET '/logs/search?q=needle-0042&since=2000-01-01' | jq '.matches | length')"
expect_eq "no match" '{"matches":[],"next":null}' "$(api GET '/logs/search?q=nothing-like-this' | jq -c .)"
expect_eq "% and _ are literal" "0" "$(api GET '/logs/search?q=needle%25end' | jq '.matches | length')"

gw_log "regular expressions"
expect_eq "a regular expression" "$(lines_with 'needle-0300 end') $(lines_with 'needle-0301 end')" \
    "$(search 're=true&q=needle-030%5B01%5D%2B%20end&order=oldest' | cut -d' ' -f1 | xargs)"
expect_eq "anchored to the line" "$last" "$(search 're=true&q=%5Ethe%20END' | cut -d' ' -f1)"
for re in '.%2A' 'ab%7Ccd' '(needle)' 'ne%3Fed%3Fle' '%5Bneedle%5D' '%5Cw%5Cw%5Cw' 'needle%7Cx'; do
    api GET "/logs/search?re=true&q=$re" >/dev/null
    expect_error "regex $re refused" 422
done
check "the refusal says why" jq -e '.detail | test("three letters or digits")' "$GW_TMP/body"
api GET '/logs/search?re=true&q=needle(' >/dev/null
expect_error "an invalid regular expression" 422
check "says what Postgres found" jq -e '.detail | test("parentheses")' "$GW_TMP/body"
api GET '/logs/search?re=true&q=(%3Fi)needle' >/dev/null
expect_error "embedded options" 422

gw_log "gitweave grep"
export GITWEAVE_URL=${API%/api/v1}
gw() { "$GW_BUILD_DIR/gitweave" "$@"; }
at=$(lines_with 'needle-0300 end')
expect_eq "grep prints repo, run, job:line and the line" \
    "app  ${run1:0:8}  print:$at  $(line_of "$at")" "$(gw grep NEEDLE-0300 | sed -E 's/  [0-9-]+ [0-9:]+  /  /')"
expect_eq "grep --oldest --limit 1 -E" "print:$(lines_with 'needle-0001 end')" \
    "$(gw grep --oldest --limit 1 -E 'needle-[0-9]+ end' 2>/dev/null | awk '{print $3}')"
expect_eq "grep --repo" "lib lib" "$(gw grep needle --repo lib | awk '{print $1}' | xargs)"
expect_eq "grep --since in the future: nothing" "" "$(gw grep needle --since 2999-01-01)"
expect_eq "grep --json is the API's reply" "2" "$(gw grep shared-needle --json | jq '.matches | length')"
gw grep '.*' -E >/dev/null 2>"$GW_TMP/err"
expect_eq "grep with a refused regular expression exits 3" 3 "$?"
check "and says why" grep -q "three letters or digits" "$GW_TMP/err"

gw_log "bad input"
api GET '/logs/search' >/dev/null;                       expect_error "no q" 400
api GET '/logs/search?q=' >/dev/null;                    expect_error "empty q" 400
api GET '/logs/search?q=a%0Ab' >/dev/null;               expect_error "a line break" 400
api GET '/logs/search?q=abc&re=yes' >/dev/null;          expect_error "re" 400
api GET '/logs/search?q=abc&order=up' >/dev/null;        expect_error "order" 400
api GET '/logs/search?q=abc&limit=0' >/dev/null;         expect_error "limit 0" 400
api GET '/logs/search?q=abc&limit=101' >/dev/null;       expect_error "limit 101" 400
api GET '/logs/search?q=abc&before=xyz' >/dev/null;      expect_error "cursor" 400
api GET '/logs/search?q=abc&since=soon' >/dev/null;      expect_error "since" 400
api GET '/logs/search?q=abc&until=later' >/dev/null;     expect_error "until" 400
api GET '/logs/search?q=abc&status=done' >/dev/null;     expect_error "status" 400
api GET '/logs/search?q=abc&repo=-x' >/dev/null;         expect_error "repo" 400
api GET "/logs/search?q=$(head -c 1001 /dev/zero | tr '\0' a)" >/dev/null; expect_error "q too long" 400

gw_finish
