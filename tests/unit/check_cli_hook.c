/* Unit tests of gitweave-hook's reading of git's config syntax: the
 * [gitweave] keys whatever their case, quoting, escapes, comments and
 * continued lines as git reads them; subsections are not ours; the last
 * key wins; a file with an include is left to git; a file git would not
 * parse is said to be one. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"

/* text parsed into s (freed by the caller); returns hook_config_parse's result. */
static int
parse(const char *text, hook_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    return hook_config_parse(text, strlen(text), "/repo/config", s);
}

START_TEST(test_plain)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[core]\n\tbare = true\n[gitweave]\n\turl = http://h:8080\n"
                           "\trepo = app\n\tretryseconds = 5\n\ttokenfile = /t\n",
                           &s),
                     0);
    ck_assert_str_eq(s.url, "http://h:8080");
    ck_assert_str_eq(s.repo, "app");
    ck_assert_str_eq(s.retry, "5");
    ck_assert_str_eq(s.tokenfile, "/t");
    ck_assert_ptr_null(s.token);
    hook_settings_free(&s);
}
END_TEST

START_TEST(test_case_and_crlf)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[GitWeave]\r\n  URL=a\r\nToken = t\r\n", &s), 0);
    ck_assert_str_eq(s.url, "a");
    ck_assert_str_eq(s.token, "t");
    ck_assert_str_eq(s.token_origin, "/repo/config");
    hook_settings_free(&s);
}
END_TEST

START_TEST(test_quotes_escapes_comments)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[gitweave]\n"
                           "url = \"a  b\" ; a comment\n"
                           "repo = x\\\"y\\\\z   # another\n"
                           "tokenfile = /a\\\n   b\n"
                           "retryseconds = \"#7\"\n",
                           &s),
                     0);
    ck_assert_str_eq(s.url, "a  b");
    ck_assert_str_eq(s.repo, "x\"y\\z");
    ck_assert_str_eq(s.tokenfile, "/a   b");
    ck_assert_str_eq(s.retry, "#7");
    hook_settings_free(&s);
}
END_TEST

START_TEST(test_subsections_and_other_sections)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[gitweave \"x\"]\nurl = no\n[gitweave.y]\nurl = no\n"
                           "[remote \"origin\"]\nurl = no\n[gitweave] url = yes\n",
                           &s),
                     0);
    ck_assert_str_eq(s.url, "yes");
    hook_settings_free(&s);
}
END_TEST

START_TEST(test_last_wins_and_bare_key)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[gitweave]\nrepo = a\nrepo = b\nurl\n", &s), 0);
    ck_assert_str_eq(s.repo, "b");
    ck_assert_str_eq(s.url, "");
    hook_settings_free(&s);
}
END_TEST

START_TEST(test_include_left_to_git)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[gitweave]\nurl = a\n[include]\npath = other\n", &s), 1);
    hook_settings_free(&s);
    ck_assert_int_eq(parse("[includeIf \"gitdir:/srv/\"]\npath = other\n", &s), 1);
    hook_settings_free(&s);
}
END_TEST

START_TEST(test_broken)
{
    hook_settings_t s;

    ck_assert_int_eq(parse("[gitweave\nurl = a\n", &s), -1);
    hook_settings_free(&s);
    ck_assert_int_eq(parse("[gitweave]\nurl = \"a\n", &s), -1);
    hook_settings_free(&s);
    ck_assert_int_eq(parse("url = a\n", &s), -1);
    hook_settings_free(&s);
    ck_assert_int_eq(parse("[gitweave]\nurl = a\\q\n", &s), -1);
    hook_settings_free(&s);
}
END_TEST

static Suite *
hook_suite(void)
{
    Suite *s = suite_create("cli_hook");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_case_and_crlf);
    tcase_add_test(tc, test_quotes_escapes_comments);
    tcase_add_test(tc, test_subsections_and_other_sections);
    tcase_add_test(tc, test_last_wins_and_bare_key);
    tcase_add_test(tc, test_include_left_to_git);
    tcase_add_test(tc, test_broken);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(hook_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
