/*
 * check_run_state - worker/run_state.c, the table of a run's life: every
 * state is reachable from PREPARE and reaches REPORTED, REPORTED (the one
 * terminal state) has no exit, every other state has one, no state has
 * two moves on one event, every event moves something, every state before
 * OVER can be given up, and every state and event has a name.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

/* Which states can be reached from start, following the moves forward
 * (or backward, to find those that reach start). */
static void
reach(run_state_t start, bool backward, bool seen[RS_COUNT])
{
    size_t n;
    const run_move_t *m = run_state_moves(&n);
    bool grew = true;

    memset(seen, 0, sizeof(bool) * RS_COUNT);
    seen[start] = true;
    while (grew) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            run_state_t a = backward ? m[i].to : m[i].from;
            run_state_t b = backward ? m[i].from : m[i].to;
            if (seen[a] && !seen[b]) {
                seen[b] = true;
                grew = true;
            }
        }
    }
}

START_TEST(test_reachable)
{
    bool seen[RS_COUNT];

    reach(RS_PREPARE, false, seen);
    for (int s = 0; s < RS_COUNT; s++)
        ck_assert_msg(seen[s], "state %s cannot be reached", run_state_name((run_state_t)s));
}
END_TEST

START_TEST(test_every_state_ends)
{
    bool seen[RS_COUNT];

    reach(RS_REPORTED, true, seen);
    for (int s = 0; s < RS_COUNT; s++)
        ck_assert_msg(seen[s], "state %s never reaches REPORTED", run_state_name((run_state_t)s));
}
END_TEST

START_TEST(test_exits)
{
    size_t n;
    const run_move_t *m = run_state_moves(&n);

    for (int s = 0; s < RS_COUNT; s++) {
        int exits = 0;
        for (size_t i = 0; i < n; i++)
            exits += m[i].from == (run_state_t)s;
        if (s == RS_REPORTED)
            ck_assert_msg(exits == 0, "the terminal state has %d exits", exits);
        else
            ck_assert_msg(exits > 0, "state %s has no exit", run_state_name((run_state_t)s));
    }
}
END_TEST

START_TEST(test_one_move_per_event)
{
    size_t n;
    const run_move_t *m = run_state_moves(&n);

    for (size_t i = 0; i < n; i++) {
        ck_assert_int_lt(m[i].from, RS_COUNT);
        ck_assert_int_lt(m[i].to, RS_COUNT);
        ck_assert_int_lt(m[i].event, RE_COUNT);
        ck_assert_int_eq(run_state_next(m[i].from, m[i].event), m[i].to);
        for (size_t k = i + 1; k < n; k++)
            ck_assert_msg(m[i].from != m[k].from || m[i].event != m[k].event,
                          "two moves %s from %s", run_event_name(m[i].event),
                          run_state_name(m[i].from));
    }
    ck_assert_int_eq(run_state_next(RS_REPORTED, RE_GIVEN_UP), -1);
    ck_assert_int_eq(run_state_next(RS_OVER, RE_GIVEN_UP), -1);
}
END_TEST

START_TEST(test_events_used_and_named)
{
    size_t n;
    const run_move_t *m = run_state_moves(&n);

    for (int e = 0; e < RE_COUNT; e++) {
        bool used = false;
        for (size_t i = 0; i < n; i++)
            used = used || m[i].event == (run_event_t)e;
        ck_assert_msg(used, "event %s moves nothing", run_event_name((run_event_t)e));
        ck_assert_str_ne(run_event_name((run_event_t)e), "?");
    }
    for (int s = 0; s < RS_COUNT; s++)
        ck_assert_str_ne(run_state_name((run_state_t)s), "?");
}
END_TEST

START_TEST(test_given_up_anywhere)
{
    for (int s = 0; s < RS_OVER; s++)
        ck_assert_msg(run_state_next((run_state_t)s, RE_GIVEN_UP) == RS_OVER,
                      "state %s cannot be given up", run_state_name((run_state_t)s));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("run_state");
    TCase *tc = tcase_create("table");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_reachable);
    tcase_add_test(tc, test_every_state_ends);
    tcase_add_test(tc, test_exits);
    tcase_add_test(tc, test_one_move_per_event);
    tcase_add_test(tc, test_events_used_and_named);
    tcase_add_test(tc, test_given_up_anywhere);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
