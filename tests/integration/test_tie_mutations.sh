#!/usr/bin/env bash
# The tests that hold a fact's second copy to its definition (README, "Source
# code layout") fail when one side changes alone. Each mutation below changes
# one side in a copy of the source tree, and the tie test it names must then
# fail; the copy is restored before the next, its build too (a copy of the
# build of the unchanged tree, so that only the changed file's dependents are
# built again). The tie tests first pass on the copy unchanged. A mutation
# whose text is no longer in its file fails this test: update it with the
# code it stood for.
source "$(dirname "$0")/../lib/postgres.sh"

COPY=$GW_TMP/src
BUILD=$GW_TMP/build
mkdir -p "$COPY"
# The source files only: what git tracks or would track (new files not yet
# added included), or (not a checkout) the tree without builds and packages.
if git -C "$GW_SOURCE_DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$GW_SOURCE_DIR" ls-files -z --cached --others --exclude-standard |
        tar -C "$GW_SOURCE_DIR" --null -T - -cf - | tar -C "$COPY" -xf -
else
    tar -C "$GW_SOURCE_DIR" --exclude='./build*' --exclude='./tests/node_modules' \
        --exclude='./.git' -cf - . | tar -C "$COPY" -xf -
fi
# Warnings as errors, without optimisation and without debug information
# (the tie tests need neither); with ninja when there is one, whose look at
# what is up to date costs less than make's.
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake "${generator[@]}" -S "$COPY" -B "$BUILD" -DCMAKE_BUILD_TYPE=None -DGW_WERROR=ON \
    >"$GW_TMP/cmake.log" 2>&1 ||
    { cat "$GW_TMP/cmake.log"; fail "the copy configures"; exit 1; }

TIES=(check_status_sql check_events check_config)
# (and check_readme_layout.py, at the end: the tree against README.md)

# tie_test NAME [CASE]: run the tie test NAME of the copy, or only its test
# CASE (each test is a Check case of its own name, tests/unit/check_case.h);
# its output in $GW_TMP/NAME.out.
tie_test() {
    cmake --build "$BUILD" -j"$(nproc)" --target "$1" >"$GW_TMP/build.out" 2>&1 || return 2
    env CK_DEFAULT_TIMEOUT=30 ${2:+CK_RUN_CASE="$2"} "$BUILD/tests/$1" >"$GW_TMP/$1.out" 2>&1
}

for t in "${TIES[@]}"; do
    tie_test "$t"
    expect_eq "$t passes on the unchanged tree" 0 "$?"
done
[ "$GW_FAILS" = 0 ] || { cat "$GW_TMP"/*.out; exit 1; }
# The build of the unchanged tree, restored after each mutation.
cp -a "$BUILD" "$GW_TMP/pristine"

# mutate WHAT TEST CASE FILE OLD NEW: with the first OLD in FILE replaced by
# NEW, TEST builds and its test function CASE fails an assertion (not a
# crash, a timeout or a fixture that could not start).
mutate() {
    local what=$1 test=$2 case=$3 file=$4 old=$5 new=$6 rc found
    cp -p "$COPY/$file" "$GW_TMP/original"
    if ! python3 - "$COPY/$file" "$old" "$new" <<'EOF'; then
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(1)
open(path, "w").write(text.replace(old, new, 1))
EOF
        fail "$what: the text to change is no longer in $file"
        return
    fi
    tie_test "$test" "$case"
    rc=$?
    # The file as it was, with its time: the pristine build is up to date.
    cp -p "$GW_TMP/original" "$COPY/$file"
    rm -rf "$BUILD" && cp -a "$GW_TMP/pristine" "$BUILD"
    found=$(grep -m1 -oE "[^/]+:[0-9]+:F:[^:]*:$case:[0-9]+: .{0,160}" "$GW_TMP/$test.out")
    if [ "$rc" = 0 ]; then
        fail "$what: $test still passes"
    elif [ "$rc" = 2 ]; then
        fail "$what: the change does not build"
        tail -n 20 "$GW_TMP/build.out"
    elif [ "$rc" -ge 128 ] || [ -z "$found" ]; then
        fail "$what: $test did not fail in $case (exit $rc)"
        tail -n 20 "$GW_TMP/$test.out"
    else
        pass "$what: $test fails ($found)"
    fi
}

# ---- statuses: common/status.c, the SQL of both programs, migration 0007 ----
mutate "the table no longer lets a queued run be canceled" check_status_sql \
    test_sql_functions_match_table common/status.c \
    '[ST_QUEUED] = B(ST_RUNNING) | B(ST_CANCELED),' '[ST_QUEUED] = B(ST_RUNNING),'
mutate "gw_run_may (SQL) also allows success -> failed" check_status_sql \
    test_sql_functions_match_table \
    db/migrations/0007_status_transitions.sql \
    "('running', 'canceled'))" "('running', 'canceled'), ('success', 'failed'))"
mutate "the worker's job end also moves a queued job" check_status_sql \
    test_statements_make_only_table_transitions worker/queue.c \
    "AND status IN ('running', \$5::job_status) AND " \
    "AND status IN ('running', 'queued', \$5::job_status) AND "
mutate "the API's cancel of a queued run marks it a success" check_status_sql \
    test_statements_make_only_table_transitions api/queries.h \
    "status = CASE WHEN p.status = 'queued' THEN 'canceled' ELSE p.status END," \
    "status = CASE WHEN p.status = 'queued' THEN 'success' ELSE p.status END,"

# ---- events: common/events.h, hand-written SQL, the logs trigger, docs/events.md ----
mutate "the trigger's run event written by hand, without its status" check_events \
    test_every_notification_matches_the_table api/queries.h \
    "EV_RUN_SQL(\"r.id\", \"'queued'\")" \
    "\"pg_notify('gitweave_events', json_build_object('type', 'run', 'id', r.id)::text)\""
mutate "the table gives the run event one more key" check_events test_docs_list_the_table \
    common/events.h \
    'F(EV_KEY_ID, id) F(EV_KEY_STATUS, status)' \
    'F(EV_KEY_ID, id) F(EV_KEY_STATUS, status) F(EV_KEY_RUN_ID, id)'
mutate "docs/events.md drops the job event's run_id" check_events test_docs_list_the_table \
    docs/events.md \
    '`{"type": "job", "id": JOB, "run_id": RUN, "status": S}`' \
    '`{"type": "job", "id": JOB, "status": S}`'
mutate "the pause's runner event written by hand, without paused" check_events \
    test_every_notification_matches_the_table api/queries.h \
    'EV_RUNNER_SQL("rn.id", "rn.paused")' \
    "\"pg_notify('gitweave_events', json_build_object('type', 'runner', 'id', rn.id)::text)\""
mutate "the logs trigger renames next_offset" check_events \
    test_every_notification_matches_the_table db/migrations/0002_log_follow.sql \
    "'next_offset'" "'offset'"

# ---- settings: common/config.c, docs/configuration.md ----
mutate "the table changes a default" check_config test_docs_list_the_table common/config.c \
    'poll_seconds, "5"' 'poll_seconds, "7"'
mutate "the table gains a setting the page does not list" check_config \
    test_docs_list_the_table common/config.c \
    '    STR("RUNNER_JOB_USER"' '    STR("RUNNER_JOB_GROUP", WORKER, job_user, "", "x"),
    STR("RUNNER_JOB_USER"'
mutate "docs/configuration.md loses a setting's row" check_config test_docs_list_the_table \
    docs/configuration.md \
    '| `RUNNER_JOB_CPUS` |' '| RUNNER_JOB_CPUS |'

# ---- source files: the tree, README.md's "Source code layout" ----
# layout WHAT WANT: check_readme_layout.py on the copy fails naming WANT.
layout() {
    local out rc=0
    out=$(python3 "$COPY/tests/unit/check_readme_layout.py" "$COPY" 2>&1) || rc=$?
    if [ "$rc" = 0 ]; then
        fail "$1: check_readme_layout still passes"
    elif grep -qF -- "$2" <<<"$out"; then
        pass "$1: check_readme_layout fails ($2)"
    else
        fail "$1: check_readme_layout failed without \"$2\": $out"
    fi
}
check "check_readme_layout passes on the unchanged tree" \
    python3 "$COPY/tests/unit/check_readme_layout.py" "$COPY"
touch "$COPY/common/gw_mutant.c"
layout "a new source file without a row" "common/gw_mutant.c has no row: add one under common/"
rm "$COPY/common/gw_mutant.c"
cp "$COPY/README.md" "$GW_TMP/README.md"
sed -i 's/^  job_env\.c, job_env\.h  /  job_env.c  /' "$COPY/README.md"
layout "a header's name dropped from its row" "worker/job_env.h has no row"
cp "$GW_TMP/README.md" "$COPY/README.md"
sed -i 's/^  steps\.c, steps\.h  /  steps.c, steps.h, stepz.c  /' "$COPY/README.md"
layout "a row naming a file that is not there" "the row of worker/stepz.c names a file that does not exist"
cp "$GW_TMP/README.md" "$COPY/README.md"

gw_finish
