/*
 * check_workspace - unit tests of what the worker reads from a finished
 * checkout: the commit of its git directory's HEAD, checked against the
 * run's commit.
 */
#include "workspace.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHA1 "0123456789abcdef0123456789abcdef01234567"

static char dir[] = "/tmp/check_workspace.XXXXXX";

static void
write_head(const char *text)
{
    char path[64];
    FILE *f;

    snprintf(path, sizeof(path), "%s/HEAD", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* workspace_head's result, or "error: ..." (caller frees). */
static char *
head(void)
{
    char *err = NULL;
    char *sha = workspace_head(dir, &err);

    if (sha != NULL) {
        ck_assert_ptr_null(err);
        return sha;
    }
    ck_assert_ptr_nonnull(err);
    char *out = xasprintf("error: %s", err);
    free(err);
    return out;
}

static void
expect(const char *result)
{
    char *got = head();
    ck_assert_str_eq(got, result);
    free(got);
}

START_TEST(test_detached_head)
{
    write_head(SHA1 "\n");
    expect(SHA1);
    /* SHA-256 repositories. */
    write_head(SHA1 "0123456789abcdef01234567\n");
    expect(SHA1 "0123456789abcdef01234567");
}
END_TEST

START_TEST(test_refused)
{
    write_head("ref: refs/heads/main\n");
    expect("error: the checkout did not leave a commit checked out (HEAD is "
           "\"ref: refs/heads/main\")");
    write_head("0123456789abcdef\n");
    expect("error: the checkout did not leave a commit checked out (HEAD is "
           "\"0123456789abcdef\")");
    write_head(SHA1 "x\n");
    expect("error: the checkout did not leave a commit checked out (HEAD is "
           "\"" SHA1 "x\")");
    write_head("");
    expect("error: the checkout did not leave a commit checked out (HEAD is \"\")");
}
END_TEST

START_TEST(test_missing)
{
    char *err = NULL;

    ck_assert_ptr_null(workspace_head("/nonexistent/git", &err));
    ck_assert_str_eq(err, "could not read the checkout's HEAD \"/nonexistent/git/HEAD\": No such "
                          "file or directory");
    free(err);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("workspace");
    TCase *tc = tcase_create("head");
    SRunner *sr;
    int failed;
    char path[64];

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    tcase_add_test(tc, test_detached_head);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_missing);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(path, sizeof(path), "%s/HEAD", dir);
    unlink(path);
    rmdir(dir);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
