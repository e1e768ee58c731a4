/* Unit tests of what the client prints of the API's address: never its
 * credentials (userinfo), query values or fragment. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "apiclient.h"

static void
expect_redacted(const char *url, const char *want)
{
    char *got = apiclient_redact_url(url);

    ck_assert_msg(strcmp(got, want) == 0, "[%s]: want [%s] got [%s]", url, want, got);
    free(got);
}

START_TEST(test_nothing_secret)
{
    expect_redacted("", "");
    expect_redacted("http://127.0.0.1:8080/api/v1", "http://127.0.0.1:8080/api/v1");
    expect_redacted("https://ci.example.com/gw/api/v1", "https://ci.example.com/gw/api/v1");
    /* An '@' after the authority is not a userinfo's. */
    expect_redacted("http://host/a@b/api/v1", "http://host/a@b/api/v1");
    expect_redacted("http://[::1]:8080/api/v1", "http://[::1]:8080/api/v1");
}
END_TEST

START_TEST(test_userinfo)
{
    expect_redacted("http://user:pw@127.0.0.1:8080/api/v1", "http://***@127.0.0.1:8080/api/v1");
    expect_redacted("https://token@host", "https://***@host");
    expect_redacted("http://user:@host/", "http://***@host/");
    /* A password with an unescaped '@': the authority's last '@' ends it. */
    expect_redacted("http://u:p@ss@host:1/x", "http://***@host:1/x");
    /* No scheme (libcurl takes it as http). */
    expect_redacted("user:pw@host:1/api/v1", "***@host:1/api/v1");
    expect_redacted("http://u:p@[::1]:8080", "http://***@[::1]:8080");
}
END_TEST

START_TEST(test_query_and_fragment)
{
    expect_redacted("http://h/?token=abc&x=1&flag", "http://h/?token=***&x=***&***");
    expect_redacted("http://h/p#access_token=x", "http://h/p#***");
    expect_redacted("http://u:p@h/?a=1#f", "http://***@h/?a=***#***");
    expect_redacted("http://h?t=s3cret/api/v1", "http://h?t=***");
    expect_redacted("http://h/?", "http://h/?");
}
END_TEST

static Suite *
apiclient_suite(void)
{
    Suite *s = suite_create("cli_apiclient");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_nothing_secret);
    tcase_add_test(tc, test_userinfo);
    tcase_add_test(tc, test_query_and_fragment);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(apiclient_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
