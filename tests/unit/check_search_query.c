/* Unit tests of what a log search accepts (api/search_query.c): its
 * cursor, literal strings, and the regular expressions that can use the
 * trigram index. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "search_query.h"

START_TEST(test_cursor_round_trip)
{
    search_cursor_t c = {1796631848771345LL, "3ac2162d-5f09-4e58-a2e9-6a95f75c2b24", 20, 4}, d;
    char *s = search_cursor_encode(&c);

    ck_assert_str_eq(s, "1796631848771345_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_20_4");
    ck_assert_int_eq(search_cursor_decode(s, &d), 0);
    ck_assert(d.micros == c.micros && d.offset == 20 && d.line == 4);
    ck_assert_str_eq(d.job, c.job);
    free(s);
}
END_TEST

START_TEST(test_cursor_malformed)
{
    static const char *bad[] = {
        "",
        "1_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_20",
        "1_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_20_4_5",
        "1_3ac2162d-5f09-4e58-a2e9-6a95f75c2b2_20_4",
        "x_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_20_4",
        "1_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_-1_4",
        "1_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_20_0",
        "1__20_4",
        "99999999999999999999_3ac2162d-5f09-4e58-a2e9-6a95f75c2b24_20_4",
    };
    search_cursor_t c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(search_cursor_decode(bad[i], &c) < 0, "accepted %s", bad[i]);
    ck_assert_int_lt(search_cursor_decode(NULL, &c), 0);
}
END_TEST

START_TEST(test_regex_indexable)
{
    static const char *good[] = {
        "needle",           "^error: .*",           "abc|def", "x(y|z)*abc", "ab+cde",
        "fail(ed)? at abc", "[0-9]+ tests?, 3 fai", "überall", "a\\.bcd",    "error\\d+ inside",
        "ab{2}cde",         "(a|b)xyz|zzz",
    };
    static const char *bad[] = {
        "",         ".*",   "ab|cd",    "(needle)",   "ne?ed?le",   "[needle]", "\\w\\w\\w",
        "needle|x", "abc*", "ab{0,3}c", "(?i)needle", "***=needle", "a.b.c",    "ab+c",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(search_regex_unindexable(good[i]) == NULL, "refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(search_regex_unindexable(bad[i]) != NULL, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_literal)
{
    char long_q[SEARCH_QUERY_MAX + 2];

    ck_assert_ptr_null(search_literal_invalid("a"));
    ck_assert_ptr_null(search_literal_invalid("100% of_them"));
    ck_assert_ptr_nonnull(search_literal_invalid(""));
    ck_assert_ptr_nonnull(search_literal_invalid("a\nb"));
    ck_assert_ptr_nonnull(search_literal_invalid("a\rb"));
    ck_assert_ptr_nonnull(search_literal_invalid("\xc3("));
    memset(long_q, 'a', sizeof(long_q) - 1);
    long_q[sizeof(long_q) - 1] = '\0';
    ck_assert_ptr_nonnull(search_literal_invalid(long_q));
    long_q[SEARCH_QUERY_MAX] = '\0';
    ck_assert_ptr_null(search_literal_invalid(long_q));
}
END_TEST

static Suite *
search_query_suite(void)
{
    Suite *s = suite_create("search_query");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_cursor_round_trip);
    tcase_add_test(tc, test_cursor_malformed);
    tcase_add_test(tc, test_regex_indexable);
    tcase_add_test(tc, test_literal);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(search_query_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
