/* Unit tests of configuration loading and of workspace paths. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "workspace.h"

static void
clear_env(void)
{
    const char *vars[] = {"RUNNER_LEASE_SECONDS", "RUNNER_CONTAINER_ENGINE", "DOCKER_HOST",
                          "RUNNER_WORKDIR", "RUNNER_NAME", "GITWEAVE_API_MAX_BODY_BYTES"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

START_TEST(test_defaults)
{
    gw_config_t cfg;
    clear_env();
    setenv("RUNNER_NAME", "r1", 1);
    ck_assert_int_eq(config_load(&cfg), 0);
    ck_assert_str_eq(cfg.engine, "docker");
    ck_assert_str_eq(cfg.workdir, "/tmp/gitweave-runs");
    ck_assert_str_eq(cfg.docker_host, "unix:///var/run/docker.sock");
    ck_assert_int_eq(cfg.lease_seconds, 30);
    ck_assert_int_eq(cfg.log_flush_ms, 500);
    ck_assert_str_eq(cfg.runner_name, "r1");
    config_free(&cfg);
}
END_TEST

START_TEST(test_every_problem_reported)
{
    gw_config_t cfg;
    clear_env();
    setenv("RUNNER_LEASE_SECONDS", "soon", 1);
    setenv("RUNNER_CONTAINER_ENGINE", "kubernetes", 1);
    setenv("DOCKER_HOST", "tcp://1.2.3.4:2375", 1);
    setenv("RUNNER_WORKDIR", "relative/dir", 1);
    setenv("RUNNER_NAME", "../escape", 1);
    setenv("GITWEAVE_API_MAX_BODY_BYTES", "999999999999", 1);
    /* Capture stderr to count the lines. */
    char path[] = "/tmp/check_config.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = config_load(&cfg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    config_free(&cfg);
    ck_assert_int_eq(rc, -1);
    FILE *f = fopen(path, "r");
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "configuration error") != NULL)
            lines++;
    fclose(f);
    unlink(path);
    close(fd);
    ck_assert_int_eq(lines, 6);
    clear_env();
}
END_TEST

START_TEST(test_workspace_names)
{
    char dir[] = "/tmp/check_ws.XXXXXX";
    char *err = NULL;
    ck_assert_ptr_nonnull(mkdtemp(dir));

    char *ws = workspace_prepare(dir, "runner-1", "app.git", &err);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_null(err);
    struct stat st;
    ck_assert_int_eq(stat(ws, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    free(ws);

    const char *bad[] = {"..", "../x", "a/b", "", ".hidden", "-rf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ws = workspace_prepare(dir, "runner-1", bad[i], &err);
        ck_assert_msg(ws == NULL, "repo name \"%s\" accepted", bad[i]);
        ck_assert_ptr_nonnull(err);
        free(err);
        ws = workspace_prepare(dir, bad[i], "app", &err);
        ck_assert_msg(ws == NULL, "runner name \"%s\" accepted", bad[i]);
        free(err);
    }
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_every_problem_reported);
    tcase_add_test(tc, test_workspace_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
