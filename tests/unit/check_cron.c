/*
 * Unit tests of common/cron.c: parsing (each field, lists, ranges, steps,
 * what is refused), next and previous fire times (examples, the day rule,
 * February 29), and every fire time of several expressions over a year
 * and more against a matcher written from gmtime_r.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* 2026-12-07T11:07:30Z, a Monday. */
#define MONDAY 1796641650

static cron_t
parse_ok(const char *text)
{
    cron_t c;
    char err[CRON_ERR_LEN] = "";

    ck_assert_msg(cron_parse(text, &c, err, sizeof(err)) == 0, "\"%s\": %s", text, err);
    return c;
}

/* The next fire time of text after t (dir 1), or the last at or before it
 * (dir -1), as cron_format writes it. */
static const char *
fire_text(const char *text, int64_t t, int dir)
{
    static char out[CRON_TIME_LEN];
    cron_t c = parse_ok(text);
    int64_t fire = dir > 0 ? cron_next(&c, t) : cron_prev(&c, t);

    ck_assert_msg(fire >= 0, "\"%s\" has no fire time that way", text);
    cron_format(fire, out);
    return out;
}

#define next_text(text, t) fire_text(text, t, 1)
#define prev_text(text, t) fire_text(text, t, -1)

START_TEST(test_parse_fields)
{
    cron_t c = parse_ok("*/15 * * * *");

    ck_assert_uint_eq(c.minutes, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    ck_assert_uint_eq(c.hours, 0xffffffu);
    ck_assert(c.mday_star && c.wday_star);

    c = parse_ok("  5/20 9-17/4 1,15 */6 1-5  ");
    ck_assert_uint_eq(c.minutes, (1ULL << 5) | (1ULL << 25) | (1ULL << 45));
    ck_assert_uint_eq(c.hours, (1u << 9) | (1u << 13) | (1u << 17));
    ck_assert_uint_eq(c.mdays, (1u << 1) | (1u << 15));
    ck_assert_uint_eq(c.months, (1u << 1) | (1u << 7));
    ck_assert_uint_eq(c.wdays, 0x3eu);
    ck_assert(!c.mday_star && !c.wday_star);

    /* 7 is Sunday, as 0 is; a range of one value with a step is one value. */
    c = parse_ok("0\t0 * * 7");
    ck_assert_uint_eq(c.wdays, 1u);
    c = parse_ok("5-5/2 0 * * 5-7");
    ck_assert_uint_eq(c.minutes, 1ULL << 5);
    ck_assert_uint_eq(c.wdays, (1u << 0) | (1u << 5) | (1u << 6));
    /* A restricted day-of-month that fits February only in a leap year. */
    parse_ok("0 0 29 2 *");
    /* Both days restricted: either may match, so no month check. */
    parse_ok("0 0 30 2 1");
}
END_TEST

START_TEST(test_parse_refused)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"", "has fewer than five fields (minute hour day-of-month month day-of-week)"},
        {"* * * *", "has fewer than five fields (minute hour day-of-month month day-of-week)"},
        {"0 * * * * *", "has more than five fields (minute hour day-of-month month day-of-week)"},
        {"60 * * * *", "minute: 60 is out of range 0-59"},
        {"* 24 * * *", "hour: 24 is out of range 0-23"},
        {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
        {"* * * 1-13 *", "month: 13 is out of range 1-12"},
        {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
        {"5-1 * * * *", "minute: the range 5-1 runs backwards"},
        {"*/0 * * * *", "minute: a step is a number from 1 to 60"},
        {"*/61 * * * *", "minute: a step is a number from 1 to 60"},
        {"1- * * * *", "minute: a range needs a number after \"-\""},
        {"a * * * *", "minute: \"a\" is not a number, a range or *"},
        {"1,,2 * * * *", "minute: \"1,,2\" is not a number, a range or *"},
        {"1, * * * *", "minute: \"1,\" is not a number, a range or *"},
        {"1x * * * *", "minute: unexpected \"x\" in \"1x\""},
        /* A character, not a byte of it. */
        {"5\xc3\xb5 * * * *", "minute: unexpected \"\xc3\xb5\" in \"5\xc3\xb5\""},
        {"0 0 * JAN *", "month: \"JAN\" is not a number, a range or *"},
        {"@daily", "minute: \"@daily\" is not a number, a range or *"},
        {"0001 * * * *", "minute: \"0001\" is not a number, a range or *"},
        {"0 0 30,31 2 *", "day-of-month: no day given falls in the months given"},
    };
    char long_text[CRON_MAX_TEXT + 8];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cron_t c;
        char err[CRON_ERR_LEN] = "";

        ck_assert_msg(cron_parse(cases[i].text, &c, err, sizeof(err)) == -1, "\"%s\" was taken",
                      cases[i].text);
        ck_assert_str_eq(err, cases[i].message);
    }
    memset(long_text, ' ', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    memcpy(long_text, "* * * * *", 9);
    {
        cron_t c;
        char err[CRON_ERR_LEN];
        ck_assert_int_eq(cron_parse(long_text, &c, err, sizeof(err)), -1);
        ck_assert_str_eq(err, "is longer than 256 bytes");
    }
}
END_TEST

START_TEST(test_next_and_prev)
{
    ck_assert_str_eq(next_text("*/15 * * * *", MONDAY), "2026-12-07T11:15:00.000000Z");
    ck_assert_str_eq(prev_text("*/15 * * * *", MONDAY), "2026-12-07T11:00:00.000000Z");
    ck_assert_str_eq(next_text("* * * * *", MONDAY), "2026-12-07T11:08:00.000000Z");
    ck_assert_str_eq(prev_text("* * * * *", MONDAY), "2026-12-07T11:07:00.000000Z");
    /* Strictly after, but at or before. */
    ck_assert_str_eq(next_text("*/15 * * * *", MONDAY + 450), "2026-12-07T11:30:00.000000Z");
    ck_assert_str_eq(prev_text("*/15 * * * *", MONDAY + 450), "2026-12-07T11:15:00.000000Z");
    ck_assert_str_eq(next_text("30 2 * * *", MONDAY), "2026-12-08T02:30:00.000000Z");
    ck_assert_str_eq(next_text("0 0 1 1 *", MONDAY), "2027-01-01T00:00:00.000000Z");
    ck_assert_str_eq(prev_text("0 0 1 1 *", MONDAY), "2026-01-01T00:00:00.000000Z");
    /* Day of month or day of week when both are restricted (the 13th, or
     * a Friday), both when one starts with `*`. */
    ck_assert_str_eq(next_text("0 0 13 * 5", MONDAY), "2026-12-11T00:00:00.000000Z");
    ck_assert_str_eq(next_text("0 0 13 * *", MONDAY), "2026-12-13T00:00:00.000000Z");
    ck_assert_str_eq(next_text("0 0 1-31/2 * 5", MONDAY + 86400 * 5),
                     "2026-12-13T00:00:00.000000Z");
    ck_assert_str_eq(next_text("0 0 */2 * 5", MONDAY + 86400 * 5), "2026-12-25T00:00:00.000000Z");
    ck_assert_str_eq(next_text("0 12 * * 0", MONDAY), "2026-12-13T12:00:00.000000Z");
    /* February 29: leap years only, and 2100 is not one. */
    ck_assert_str_eq(next_text("0 0 29 2 *", MONDAY), "2028-02-29T00:00:00.000000Z");
    ck_assert_str_eq(prev_text("0 0 29 2 *", MONDAY), "2024-02-29T00:00:00.000000Z");
    ck_assert_str_eq(next_text("0 0 29 2 *", 4102444800LL), "2104-02-29T00:00:00.000000Z");
    /* Both day fields, one starting with `*`: a March 1, 8, ... that is a
     * Sunday, eleven years apart. */
    ck_assert_str_eq(next_text("7 * */7 3 7", 1038872367), "2009-03-01T00:07:00.000000Z");
    ck_assert_str_eq(prev_text("7 * */7 3 7", 1038872367), "1998-03-29T23:07:00.000000Z");
    /* Nothing before the epoch. */
    {
        cron_t c = parse_ok("0 0 1 1 *");
        ck_assert(cron_prev(&c, 3600) == 0);
        ck_assert(cron_prev(&c, -1) == -1);
    }
}
END_TEST

/* Whether t matches text read literally with gmtime_r. */
static bool
reference_match(const cron_t *c, time_t t)
{
    struct tm tm;
    bool mday, wday;

    gmtime_r(&t, &tm);
    if (!(c->minutes >> tm.tm_min & 1) || !(c->hours >> tm.tm_hour & 1) ||
        !(c->months >> (tm.tm_mon + 1) & 1))
        return false;
    mday = c->mdays >> tm.tm_mday & 1;
    wday = c->wdays >> tm.tm_wday & 1;
    return c->mday_star || c->wday_star ? mday && wday : mday || wday;
}

/* Every minute from 2027-12-25 for 430 days (a leap day included): each
 * fire time is the next after the one before, and the last at or before
 * any minute. */
START_TEST(test_against_reference)
{
    static const char *const exprs[] = {
        "*/7 * * * *", "0 */5 * * *", "15 3 * * 1-5", "0 0 1,15 * *", "0 0 13 * 5",
        "0 0 */2 * 5", "30 6 29 2 *", "0 12 31 * *",  "0 0 * 2 0",    "1-3,58 23 * * 6",
    };
    const int64_t start = 1829692800; /* 2027-12-25T00:00:00Z */

    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        cron_t c = parse_ok(exprs[i]);
        int64_t last = cron_prev(&c, start - 1);
        int fires = 0;

        for (int64_t t = start; t < start + 430LL * 86400; t += 60) {
            if (!reference_match(&c, (time_t)t))
                continue;
            ck_assert_msg(cron_next(&c, last) == t, "\"%s\": next after %lld is not %lld", exprs[i],
                          (long long)last, (long long)t);
            ck_assert(cron_prev(&c, t - 1) == last);
            ck_assert(cron_prev(&c, t + 59) == t);
            last = t;
            fires++;
        }
        ck_assert_msg(fires > 0, "\"%s\" never fired", exprs[i]);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("cron");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_parse_fields);
    tcase_add_test(tc, test_parse_refused);
    tcase_add_test(tc, test_next_and_prev);
    tcase_add_test(tc, test_against_reference);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
