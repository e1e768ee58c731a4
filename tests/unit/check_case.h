/*
 * check_case.h: one Check case per test, named as the test function, so
 * that `CK_RUN_CASE=test_name ./check_x` runs that test alone (Check selects
 * cases, not tests). tests/integration/test_tie_mutations.sh uses it to run
 * only the test a one-sided change must fail.
 */
#ifndef GW_TEST_CHECK_CASE_H
#define GW_TEST_CHECK_CASE_H

#include <check.h>

static inline void
suite_add_test_case(Suite *s, const TTest *t, double timeout)
{
    TCase *tc = tcase_create(t->name);

    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

#endif
