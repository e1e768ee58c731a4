/* Unit tests of the status state machine: every pair, allowed or refused. */
#include <check.h>
#include <stdlib.h>

#include "status.h"

static const struct {
    gw_status_kind_t kind;
    gw_status_t from, to;
} allowed_pairs[] = {
    {ST_KIND_RUN, ST_QUEUED, ST_RUNNING},  {ST_KIND_RUN, ST_QUEUED, ST_CANCELED},
    {ST_KIND_RUN, ST_RUNNING, ST_QUEUED},  {ST_KIND_RUN, ST_RUNNING, ST_SUCCESS},
    {ST_KIND_RUN, ST_RUNNING, ST_FAILED},  {ST_KIND_RUN, ST_RUNNING, ST_CANCELED},
    {ST_KIND_JOB, ST_QUEUED, ST_RUNNING},  {ST_KIND_JOB, ST_QUEUED, ST_SKIPPED},
    {ST_KIND_JOB, ST_QUEUED, ST_CANCELED}, {ST_KIND_JOB, ST_RUNNING, ST_SUCCESS},
    {ST_KIND_JOB, ST_RUNNING, ST_FAILED},  {ST_KIND_JOB, ST_RUNNING, ST_CANCELED},
    {ST_KIND_JOB, ST_RUNNING, ST_QUEUED},
};

static int
is_listed(gw_status_kind_t kind, int from, int to)
{
    for (size_t i = 0; i < sizeof(allowed_pairs) / sizeof(allowed_pairs[0]); i++)
        if (allowed_pairs[i].kind == kind && (int)allowed_pairs[i].from == from &&
            (int)allowed_pairs[i].to == to)
            return 1;
    return 0;
}

START_TEST(test_every_transition)
{
    for (int kind = ST_KIND_RUN; kind <= ST_KIND_JOB; kind++)
        for (int from = 0; from < ST__COUNT; from++)
            for (int to = 0; to < ST__COUNT; to++) {
                int want = is_listed((gw_status_kind_t)kind, from, to);
                int got = status_can_transition((gw_status_kind_t)kind, (gw_status_t)from,
                                                (gw_status_t)to);
                ck_assert_msg(want == got, "kind %d %s -> %s: want %d got %d", kind,
                              status_name((gw_status_t)from), status_name((gw_status_t)to), want,
                              got);
            }
}
END_TEST

START_TEST(test_final_states_have_no_successor)
{
    for (int s = 0; s < ST__COUNT; s++) {
        if (!status_is_final((gw_status_t)s))
            continue;
        for (int to = 0; to < ST__COUNT; to++) {
            ck_assert(!status_can_transition(ST_KIND_RUN, (gw_status_t)s, (gw_status_t)to));
            ck_assert(!status_can_transition(ST_KIND_JOB, (gw_status_t)s, (gw_status_t)to));
        }
    }
    ck_assert(!status_is_final(ST_QUEUED));
    ck_assert(!status_is_final(ST_RUNNING));
}
END_TEST

START_TEST(test_names)
{
    ck_assert_int_eq(status_parse(ST_KIND_RUN, "queued"), ST_QUEUED);
    ck_assert_int_eq(status_parse(ST_KIND_JOB, "skipped"), ST_SKIPPED);
    ck_assert_int_eq(status_parse(ST_KIND_RUN, "skipped"), -1);
    ck_assert_int_eq(status_parse(ST_KIND_RUN, "Queued"), -1);
    ck_assert_int_eq(status_parse(ST_KIND_RUN, NULL), -1);
    for (int s = 0; s < ST__COUNT; s++)
        ck_assert_int_eq(status_parse(ST_KIND_JOB, status_name((gw_status_t)s)), s);
    ck_assert_str_eq(status_name((gw_status_t)99), "unknown");
    ck_assert(!status_can_transition(ST_KIND_RUN, (gw_status_t)99, ST_RUNNING));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_transition);
    tcase_add_test(tc, test_final_states_have_no_successor);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
