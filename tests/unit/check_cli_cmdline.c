/* Unit tests of the client's command line: every command, options before
 * and after positionals, values attached or separate, and the refusals. */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

#define MAX_ARGS 32

/* Parse the NULL-terminated words after the program name. */
static int
parse(cmdline_t *c, char *err, ...)
{
    static char *argv[MAX_ARGS];
    va_list ap;
    int argc = 0;

    argv[argc++] = "gitweave";
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    return cmdline_parse(argc, argv, c, err, CMDLINE_ERR_LEN);
}

START_TEST(test_run_with_every_option)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, "run", "-t", "build", "hello", "-i", "A=1", "--input=B=x=y",
                           "-iC=", "--ref", "refs/heads/dev", "--commit=abc123", "-f", NULL),
                     0);
    ck_assert_int_eq(c.cmd, CMD_RUN);
    ck_assert_str_eq(c.repo, "hello");
    ck_assert_str_eq(c.template_name, "build");
    ck_assert_uint_eq(c.ninputs, 3);
    ck_assert_str_eq(c.inputs[0], "A=1");
    ck_assert_str_eq(c.inputs[1], "B=x=y");
    ck_assert_str_eq(c.inputs[2], "C=");
    ck_assert_str_eq(c.ref, "refs/heads/dev");
    ck_assert_str_eq(c.commit, "abc123");
    ck_assert(c.follow);
    ck_assert(!c.json);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "--json", "run", "hello", "--follow", "--template=t", NULL), 0);
    ck_assert(c.json && c.follow);
    ck_assert_str_eq(c.template_name, "t");
    ck_assert_ptr_null(c.ref);
    ck_assert_uint_eq(c.ninputs, 0);
    cmdline_free(&c);
}
END_TEST

START_TEST(test_every_command)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, "logs", "-f", "0b5e0000-0000-0000-0000-000000000000", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_LOGS);
    ck_assert_str_eq(c.id, "0b5e0000-0000-0000-0000-000000000000");
    ck_assert(c.follow);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "runs", "hello", "--status", "failed", "--limit", "5", NULL),
                     0);
    ck_assert_int_eq(c.cmd, CMD_RUNS);
    ck_assert_str_eq(c.repo, "hello");
    ck_assert_str_eq(c.status, "failed");
    ck_assert_int_eq(c.limit, 5);
    cmdline_free(&c);

    /* Without a repo: every repo's runs. */
    ck_assert_int_eq(parse(&c, err, "runs", "--status", "running", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_RUNS);
    ck_assert_ptr_null(c.repo);
    ck_assert_str_eq(c.status, "running");
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "show", "R", "--json", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_SHOW);
    ck_assert_str_eq(c.id, "R");
    ck_assert(c.json);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "cancel", "R", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_CANCEL);
    ck_assert_str_eq(c.id, "R");
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "rerun", "R", "-f", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_RERUN);
    ck_assert_str_eq(c.id, "R");
    ck_assert(c.follow);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "runners", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_RUNNERS);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "schedules", "app", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_SCHEDULES);
    ck_assert_str_eq(c.name, "app");
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "template", "put", "build.yaml", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_TEMPLATE_PUT);
    ck_assert_str_eq(c.file, "build.yaml");
    ck_assert_ptr_null(c.name);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "template", "put", "-", "other", NULL), 0);
    ck_assert_str_eq(c.file, "-");
    ck_assert_str_eq(c.name, "other");
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "repo", "put", "hello", "--clone-url", "/srv/git/h.git",
                           "--branch=trunk", NULL),
                     0);
    ck_assert_int_eq(c.cmd, CMD_REPO_PUT);
    ck_assert_str_eq(c.name, "hello");
    ck_assert_str_eq(c.clone_url, "/srv/git/h.git");
    ck_assert_str_eq(c.branch, "trunk");
    cmdline_free(&c);

    /* An empty value is a value: it removes the clone URL. */
    ck_assert_int_eq(parse(&c, err, "repo", "put", "hello", "--clone-url=", NULL), 0);
    ck_assert_str_eq(c.clone_url, "");
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "attach", "hello", "build", "-i", "TARGET=debug", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_ATTACH);
    ck_assert_str_eq(c.repo, "hello");
    ck_assert_str_eq(c.name, "build");
    ck_assert_uint_eq(c.ninputs, 1);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "template", "list", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_TEMPLATE_LIST);
    cmdline_free(&c);
    ck_assert_int_eq(parse(&c, err, "template", "show", "build", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_TEMPLATE_SHOW);
    ck_assert_str_eq(c.name, "build");
    cmdline_free(&c);
    ck_assert_int_eq(parse(&c, err, "repo", "delete", "hello", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_REPO_DELETE);
    ck_assert_str_eq(c.name, "hello");
    cmdline_free(&c);
    ck_assert_int_eq(parse(&c, err, "detach", "hello", "build", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_DETACH);
    ck_assert_str_eq(c.repo, "hello");
    ck_assert_str_eq(c.name, "build");
    cmdline_free(&c);
    ck_assert_int_eq(parse(&c, err, "runner", "pause", "w1", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_RUNNER_PAUSE);
    ck_assert_str_eq(c.name, "w1");
    cmdline_free(&c);
}
END_TEST

START_TEST(test_double_dash_ends_options)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, "template", "put", "--", "-odd.yaml", NULL), 0);
    ck_assert_str_eq(c.file, "-odd.yaml");
    cmdline_free(&c);
}
END_TEST

START_TEST(test_help)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, "--help", NULL), 0);
    ck_assert(c.help);
    ck_assert_int_eq(c.cmd, CMD_NONE);
    cmdline_free(&c);

    /* --help wins over a missing or bad argument of the command. */
    ck_assert_int_eq(parse(&c, err, "run", "--help", NULL), 0);
    ck_assert(c.help);
    ck_assert_int_eq(c.cmd, CMD_RUN);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "help", "template", "put", NULL), 0);
    ck_assert(c.help);
    ck_assert_int_eq(c.cmd, CMD_TEMPLATE_PUT);
    cmdline_free(&c);

    ck_assert_int_eq(parse(&c, err, "repo", "put", "-h", NULL), 0);
    ck_assert_int_eq(c.cmd, CMD_REPO_PUT);
    ck_assert(c.help);
    cmdline_free(&c);

    for (int cmd = CMD_NONE; cmd < CMD__COUNT; cmd++)
        ck_assert_ptr_nonnull(strstr(cmdline_usage((cmdline_cmd_t)cmd), "usage: gitweave"));
    ck_assert_ptr_nonnull(strstr(cmdline_usage(CMD_RUN), "--commit SHA"));
}
END_TEST

/* Each refusal, with the start of its message. */
START_TEST(test_refusals)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, NULL), -1);
    ck_assert_str_eq(err, "a command is needed");

    ck_assert_int_eq(parse(&c, err, "frobnicate", NULL), -1);
    ck_assert_str_eq(err, "unknown command \"frobnicate\"");

    ck_assert_int_eq(parse(&c, err, "template", "get", "x", NULL), -1);
    ck_assert_str_eq(err, "unknown command \"template get\": template takes one of: list, show, "
                          "put, delete");
    ck_assert_int_eq(parse(&c, err, "runner", NULL), -1);
    ck_assert_str_eq(err, "a verb is needed: runner takes one of: pause, resume, delete");

    ck_assert_int_eq(parse(&c, err, "run", NULL), -1);
    ck_assert_str_eq(err, "missing argument");
    ck_assert_int_eq(c.cmd, CMD_RUN);

    ck_assert_int_eq(parse(&c, err, "attach", "hello", NULL), -1);
    ck_assert_str_eq(err, "missing argument");

    ck_assert_int_eq(parse(&c, err, "show", "a", "b", NULL), -1);
    ck_assert_str_eq(err, "unexpected argument \"b\"");

    ck_assert_int_eq(parse(&c, err, "runners", "x", NULL), -1);
    ck_assert_str_eq(err, "unexpected argument \"x\"");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "--bogus", NULL), -1);
    ck_assert_str_eq(err, "unknown option \"--bogus\"");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "-x", NULL), -1);
    ck_assert_str_eq(err, "unknown option \"-x\"");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "-fx", NULL), -1);
    ck_assert_str_eq(err, "unknown option \"-fx\"");

    ck_assert_int_eq(parse(&c, err, "show", "R", "--status", "failed", NULL), -1);
    ck_assert_str_eq(err, "--status does not apply here");

    ck_assert_int_eq(parse(&c, err, "runs", "hello", "-f", NULL), -1);
    ck_assert_str_eq(err, "-f does not apply here");

    ck_assert_int_eq(parse(&c, err, "show", "R", "--raw", NULL), -1);
    ck_assert_str_eq(err, "--raw does not apply here");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "-t", NULL), -1);
    ck_assert_str_eq(err, "--template needs a value");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "--follow=yes", NULL), -1);
    ck_assert_str_eq(err, "--follow takes no value");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "-i", "NOVALUE", NULL), -1);
    ck_assert_str_eq(err, "--input takes NAME=VALUE (got \"NOVALUE\")");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "-i", "=x", NULL), -1);
    ck_assert_str_eq(err, "--input takes NAME=VALUE (got \"=x\")");

    ck_assert_int_eq(parse(&c, err, "run", "hello", "--ref", "a", "--ref", "b", NULL), -1);
    ck_assert_str_eq(err, "--ref given twice");

    ck_assert_int_eq(parse(&c, err, "runs", "hello", "--limit", "0", NULL), -1);
    ck_assert_str_eq(err, "--limit takes a positive integer (got \"0\")");
    ck_assert_int_eq(parse(&c, err, "runs", "hello", "--limit", "-3", NULL), -1);
    ck_assert_int_eq(parse(&c, err, "runs", "hello", "--limit", "5x", NULL), -1);
    ck_assert_int_eq(parse(&c, err, "runs", "hello", "--limit", "99999999999999999999", NULL), -1);
}
END_TEST

START_TEST(test_raw)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, "logs", "J", NULL), 0);
    ck_assert(!c.raw);
    ck_assert_int_eq(parse(&c, err, "logs", "J", "--raw", "-f", NULL), 0);
    ck_assert(c.raw && c.follow);
    ck_assert_int_eq(parse(&c, err, "run", "hello", "-f", "--raw", NULL), 0);
    ck_assert(c.raw && c.follow);
    cmdline_free(&c);
    ck_assert_int_eq(parse(&c, err, "rerun", "R", "--raw", "-f", NULL), 0);
    ck_assert(c.raw && c.follow);
    ck_assert_int_eq(parse(&c, err, "logs", "J", "--raw=yes", NULL), -1);
    ck_assert_str_eq(err, "--raw takes no value");
}
END_TEST

START_TEST(test_free_twice)
{
    char err[CMDLINE_ERR_LEN];
    cmdline_t c;

    ck_assert_int_eq(parse(&c, err, "run", "r", "-i", "A=1", NULL), 0);
    cmdline_free(&c);
    cmdline_free(&c);
    cmdline_free(NULL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cmdline");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_run_with_every_option);
    tcase_add_test(tc, test_every_command);
    tcase_add_test(tc, test_double_dash_ends_options);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_raw);
    tcase_add_test(tc, test_free_twice);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
