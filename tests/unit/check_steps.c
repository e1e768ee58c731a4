/*
 * check_steps - unit tests of the visible steps: the script is run by a
 * real /bin/sh -e -c, as both engines run it, and its output is fed to the
 * tracker in pieces of every size.
 */
#include "steps.h"
#include "util.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Read fd to its end (caller frees). */
static char *
read_all(int fd)
{
    buf_t b;
    char buf[4096];
    ssize_t n;

    buf_init(&b);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        buf_append(&b, buf, (size_t)n);
    close(fd);
    return buf_steal(&b);
}

/* Run script as the engines do (sh -e -c, stderr with stdout, descriptor 3
 * a pipe of its own); returns the exit code, the output in *out and what
 * descriptor 3 got in *marks (caller frees both; the tests' reports fit a
 * pipe, so the output is read first). */
static int
run_sh(const char *script, char **out, char **marks)
{
    int fds[2], mfds[2];
    int status;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pipe(mfds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Above 3 first, so that no dup2 clobbers a pipe still needed. */
        int o = fcntl(fds[1], F_DUPFD, 10), m = fcntl(mfds[1], F_DUPFD, 10);
        dup2(o, 1);
        dup2(o, 2);
        dup2(m, 3);
        for (int fd = 4; fd < 64; fd++)
            close(fd);
        execl("/bin/sh", "sh", "-e", "-c", script, (char *)NULL);
        _exit(126);
    }
    close(fds[1]);
    close(mfds[1]);
    *out = read_all(fds[0]);
    *marks = read_all(mfds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run lines, feed the reports to a tracker in pieces of `piece` bytes; the
 * tracker is returned for the caller to check (caller frees both). */
static steps_t *
run_steps(char *const *lines, size_t n, size_t piece, char **out, int *code)
{
    char *script = steps_script(lines, n);
    steps_t *s = steps_new(lines, n);
    char *marks;

    *code = run_sh(script, out, &marks);
    free(script);
    for (size_t i = 0, len = strlen(marks); i < len; i += piece)
        steps_feed(s, marks + i, len - i < piece ? len - i : piece);
    free(marks);
    return s;
}

START_TEST(test_script_text)
{
    char *lines[] = {"echo one", "echo 'it''s' \"$HOME\"", "cat <<EOF\nx\nEOF\n"};
    char *script = steps_script(lines, 3);

    ck_assert_str_eq(script, "printf '%s\\n' '$ echo one'\n"
                             "echo 1 >&3\n"
                             "{ :\necho one\n} 3>&-\n"
                             "printf '%s\\n' '$ echo '\\''it'\\'''\\''s'\\'' \"$HOME\"'\n"
                             "echo 2 >&3\n"
                             "{ :\necho 'it''s' \"$HOME\"\n} 3>&-\n"
                             "printf '%s\\n' '$ cat <<EOF\n> x\n> EOF'\n"
                             "echo 3 >&3\n"
                             "{ :\ncat <<EOF\nx\nEOF\n\n} 3>&-\n");
    free(script);
}
END_TEST

START_TEST(test_failing_line_named)
{
    char *lines[] = {"echo one", "test -f /nonexistent/configure", "echo three"};
    static const size_t pieces[] = {1, 2, 3, 7, 4096};

    for (size_t p = 0; p < GW_ARRAY_LEN(pieces); p++) {
        char *out, *err;
        int code;
        steps_t *s = run_steps(lines, 3, pieces[p], &out, &code);

        ck_assert_int_eq(code, 1);
        ck_assert_str_eq(out, "$ echo one\none\n$ test -f /nonexistent/configure\n");
        ck_assert_int_eq(steps_current(s), 1);
        err = steps_error(s, code);
        ck_assert_str_eq(err, "line 2 \"test -f /nonexistent/configure\" exited with code 1");
        free(err);
        free(out);
        steps_free(s);
    }
}
END_TEST

/* The user's text reaches the shell byte for byte: quotes, `$`,
 * backslashes, a here-document inside a multi-line entry, and the echo
 * shows it unexpanded. */
START_TEST(test_bytes_exact)
{
    char *lines[] = {
        "x='a b'; echo \"[$x]\" '$x' \\$x",
        "printf '%s\\n' 'back\\slash' \"tab\\there\"",
        "cat <<'EOF'\n$HOME `date` \\n 'q' \"d\"\nEOF",
        "cat <<EOF\nx=$x\nEOF\necho after",
        "echo \"it's\"",
    };
    char *out;
    int code;
    steps_t *s = run_steps(lines, GW_ARRAY_LEN(lines), 5, &out, &code);

    ck_assert_int_eq(code, 0);
    ck_assert_str_eq(out, "$ x='a b'; echo \"[$x]\" '$x' \\$x\n"
                          "[a b] $x $x\n"
                          "$ printf '%s\\n' 'back\\slash' \"tab\\there\"\n"
                          "back\\slash\n"
                          "tab\\there\n"
                          "$ cat <<'EOF'\n"
                          "> $HOME `date` \\n 'q' \"d\"\n"
                          "> EOF\n"
                          "$HOME `date` \\n 'q' \"d\"\n"
                          "$ cat <<EOF\n"
                          "> x=$x\n"
                          "> EOF\n"
                          "> echo after\n"
                          "x=a b\n"
                          "after\n"
                          "$ echo \"it's\"\n"
                          "it's\n");
    ck_assert_int_eq(steps_current(s), 4);
    free(out);
    steps_free(s);
}
END_TEST

/* A multi-line entry is one step; a command failing in its middle fails
 * the job with that command's code (sh -e), and the error names the
 * entry by its first line. */
START_TEST(test_multi_line_step)
{
    char *lines[] = {"echo a", "echo b\nsh -c 'exit 3'\necho never", "echo c"};
    char *out, *err;
    int code;
    steps_t *s = run_steps(lines, 3, 1, &out, &code);

    ck_assert_int_eq(code, 3);
    ck_assert_ptr_null(strstr(out, "\nnever\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n> echo never\nb\n"));
    ck_assert_ptr_null(strstr(out, "$ echo c"));
    err = steps_error(s, code);
    ck_assert_str_eq(err, "line 2 \"echo b ...\" exited with code 3");
    free(err);
    free(out);
    steps_free(s);
}
END_TEST

/* Only the next step's number, on a line of its own, moves the tracker:
 * not a later step's, an earlier one's, a number with more around it or a
 * line too long to be a number; a line split across pieces does. */
START_TEST(test_tracker_reports)
{
    char *lines[] = {"make", "make test"};
    steps_t *s = steps_new(lines, 2);
    char *err;

    steps_feed(s, "2\n", 2); /* step 2's before step 1's */
    ck_assert_int_eq(steps_current(s), -1);
    steps_feed(s, "01\n 1\n1 \nx\n\n-1\n", 15);
    ck_assert_int_eq(steps_current(s), -1);
    steps_feed(s, "00000000000000000000000000001\n", 30);
    ck_assert_int_eq(steps_current(s), -1);
    steps_feed(s, "1", 1);
    steps_feed(s, "\n", 1);
    ck_assert_int_eq(steps_current(s), 0);
    steps_feed(s, "1\n3\n", 4);
    ck_assert_int_eq(steps_current(s), 0);
    steps_feed(s, "2\n3\n", 4);
    ck_assert_int_eq(steps_current(s), 1);
    err = steps_error(s, 2);
    ck_assert_str_eq(err, "line 2 \"make test\" exited with code 2");
    free(err);
    steps_free(s);
}
END_TEST

/* Output that looks like the steps' echoes does not move the tracker, and
 * nothing a step runs can write a report: the error names the step that
 * ran. */
START_TEST(test_output_cannot_forge)
{
    char *lines[] = {"sh -c 'echo 1 >&3; echo 2 >&3' 2>/dev/null || echo no channel",
                     "printf '$ exit 3\\n$ echo three\\n'", "exit 3", "echo three"};
    char *out, *err;
    int code;
    steps_t *s = run_steps(lines, 4, 1, &out, &code);

    ck_assert_int_eq(code, 3);
    ck_assert_ptr_nonnull(strstr(out, "\nno channel\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n$ exit 3\n$ echo three\n$ exit 3\n"));
    ck_assert_int_eq(steps_current(s), 2);
    err = steps_error(s, code);
    ck_assert_str_eq(err, "line 3 \"exit 3\" exited with code 3");
    free(err);
    free(out);
    steps_free(s);
}
END_TEST

/* An empty entry is a step too. */
START_TEST(test_empty_step)
{
    char *lines[] = {"", "false"};
    char *out, *err;
    int code;
    steps_t *s = run_steps(lines, 2, 2, &out, &code);

    ck_assert_int_eq(code, 1);
    ck_assert_str_eq(out, "$ \n$ false\n");
    err = steps_error(s, code);
    ck_assert_str_eq(err, "line 2 \"false\" exited with code 1");
    free(err);
    free(out);
    steps_free(s);
}
END_TEST

/* A step that ends its output without a newline: the next echo follows
 * on the same line, and the failing step is still the one named. */
START_TEST(test_no_final_newline)
{
    char *lines[] = {"printf partial", "false"};
    char *out, *err;
    int code;
    steps_t *s = run_steps(lines, 2, 3, &out, &code);

    ck_assert_int_eq(code, 1);
    ck_assert_str_eq(out, "$ printf partial\npartial$ false\n");
    err = steps_error(s, code);
    ck_assert_str_eq(err, "line 2 \"false\" exited with code 1");
    free(err);
    free(out);
    steps_free(s);
}
END_TEST

START_TEST(test_error_without_step)
{
    char *lines[] = {"true"};
    steps_t *s = steps_new(lines, 1);
    char *err = steps_error(s, 4);

    ck_assert_str_eq(err, "exited with code 4");
    free(err);
    err = steps_error(NULL, 5);
    ck_assert_str_eq(err, "exited with code 5");
    free(err);
    steps_free(s);
    steps_free(NULL);
}
END_TEST

/* A long line is quoted up to 200 bytes, not inside a UTF-8 character. */
START_TEST(test_error_long_line)
{
    char line[400];
    char *lines[] = {line};
    steps_t *s = steps_new(lines, 1);
    char *err, *expected;

    memset(line, 'a', 199);
    strcpy(line + 199, "\xc3\xa9 and more");
    steps_feed(s, "1\n", 2);
    ck_assert_int_eq(steps_current(s), 0);
    err = steps_error(s, 1);
    expected = xasprintf("line 1 \"%.199s ...\" exited with code 1", line);
    ck_assert_str_eq(err, expected);
    free(expected);
    free(err);
    steps_free(s);
}
END_TEST

/* The exit code is the user's command's, including a signal's. */
/* A long step is echoed in part, so that the script (each step twice) stays
 * within the 128 KiB Linux allows one argument: a 100 KiB step still runs,
 * its echo shows its first KiB, and its failure is named. */
START_TEST(test_long_step)
{
    size_t n = 100 * 1024;
    char *big = xmalloc(n + 64);
    char *lines[] = {"echo one", big};

    /* "true 'xxxx...x'; exit 3": one line of about 100 KiB. */
    memcpy(big, "true '", 6);
    memset(big + 6, 'x', n);
    memcpy(big + 6 + n, "'; exit 3", 10);
    char *script = steps_script(lines, 2);
    ck_assert_uint_lt(strlen(script), strlen(big) + 4096);
    free(script);

    char *out, *err;
    int code;
    steps_t *s = run_steps(lines, 2, 4096, &out, &code);
    ck_assert_int_eq(code, 3);
    ck_assert_int_eq(steps_current(s), 1);
    ck_assert_uint_eq(strlen(out), strlen("$ echo one\none\n$ ") + 1024 + strlen("\n> ...\n"));
    ck_assert_str_eq(out + strlen(out) - 9, "xx\n> ...\n");
    err = steps_error(s, code);
    ck_assert(strncmp(err, "line 2 \"true 'xxx", 17) == 0);
    free(err);
    free(out);
    steps_free(s);
    free(big);
}
END_TEST

START_TEST(test_exit_code_kept)
{
    char *lines[] = {"echo x", "kill -TERM $$"};
    char *out;
    int code;
    steps_t *s = run_steps(lines, 2, 64, &out, &code);

    ck_assert_int_eq(code, 128 + 15);
    ck_assert_int_eq(steps_current(s), 1);
    free(out);
    steps_free(s);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("steps");
    TCase *tc = tcase_create("steps");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_script_text);
    tcase_add_test(tc, test_failing_line_named);
    tcase_add_test(tc, test_bytes_exact);
    tcase_add_test(tc, test_multi_line_step);
    tcase_add_test(tc, test_tracker_reports);
    tcase_add_test(tc, test_output_cannot_forge);
    tcase_add_test(tc, test_empty_step);
    tcase_add_test(tc, test_no_final_newline);
    tcase_add_test(tc, test_error_without_step);
    tcase_add_test(tc, test_error_long_line);
    tcase_add_test(tc, test_exit_code_kept);
    tcase_add_test(tc, test_long_step);
    suite_add_tcase(suite, tc);
    sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
