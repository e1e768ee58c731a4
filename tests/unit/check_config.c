/* Unit tests of configuration loading and of workspace paths; the settings
 * table tied to docs/configuration.md and to both programs' --help. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_case.h"
#include "config.h"
#include "workspace.h"

static void
clear_env(void)
{
    const char *vars[] = {"RUNNER_LEASE_SECONDS",
                          "RUNNER_CONTAINER_ENGINE",
                          "DOCKER_HOST",
                          "RUNNER_WORKDIR",
                          "RUNNER_NAME",
                          "GITWEAVE_API_MAX_BODY_BYTES",
                          "RUNNER_CHECKOUT_TIMEOUT_SECONDS",
                          "RUNNER_JOB_PIDS_LIMIT",
                          "RUNNER_JOB_MEMORY",
                          "RUNNER_JOB_CPUS",
                          "RUNNER_JOB_USER",
                          "GITWEAVE_LOG_LEVEL"};
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
    ck_assert_int_eq(cfg.checkout_timeout, 600);
    ck_assert_int_eq(cfg.job_pids_limit, 1024);
    ck_assert(cfg.job_memory == 0);
    ck_assert(cfg.job_nano_cpus == 0);
    ck_assert_str_eq(cfg.job_user, "");
    config_free(&cfg);
}
END_TEST

START_TEST(test_job_limits)
{
    gw_config_t cfg;
    clear_env();
    setenv("RUNNER_NAME", "r1", 1);
    setenv("RUNNER_JOB_MEMORY", "512m", 1);
    setenv("RUNNER_JOB_CPUS", "1.5", 1);
    setenv("RUNNER_JOB_USER", "1000:1000", 1);
    setenv("RUNNER_JOB_PIDS_LIMIT", "256", 1);
    ck_assert_int_eq(config_load(&cfg), 0);
    ck_assert(cfg.job_memory == 512LL << 20);
    ck_assert(cfg.job_nano_cpus == 1500000000LL);
    ck_assert_str_eq(cfg.job_user, "1000:1000");
    ck_assert_int_eq(cfg.job_pids_limit, 256);
    config_free(&cfg);
    clear_env();
}
END_TEST

START_TEST(test_sizes_and_cpus)
{
    ck_assert(config_parse_bytes("0") == 0);
    ck_assert(config_parse_bytes("6291456") == 6291456);
    ck_assert(config_parse_bytes("64k") == 64LL << 10);
    ck_assert(config_parse_bytes("64M") == 64LL << 20);
    ck_assert(config_parse_bytes("2g") == 2LL << 30);
    const char *bad_bytes[] = {"", "m", "-1", "1.5g", "1mb", "1 m", "99999999999999999999", "1t"};
    for (size_t i = 0; i < sizeof(bad_bytes) / sizeof(bad_bytes[0]); i++)
        ck_assert_msg(config_parse_bytes(bad_bytes[i]) == -1, "\"%s\" accepted", bad_bytes[i]);
    ck_assert(config_parse_cpus("2") == 2000000000LL);
    ck_assert(config_parse_cpus("0.5") == 500000000LL);
    ck_assert(config_parse_cpus("0.000000001") == 1);
    const char *bad_cpus[] = {"",     "0",   "0.0", "-1", ".5", "1.", "1.0000000001",
                              "4097", "1e3", "2x"};
    for (size_t i = 0; i < sizeof(bad_cpus) / sizeof(bad_cpus[0]); i++)
        ck_assert_msg(config_parse_cpus(bad_cpus[i]) == -1, "\"%s\" accepted", bad_cpus[i]);
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
    setenv("RUNNER_JOB_MEMORY", "1m", 1); /* below the engines' least */
    setenv("RUNNER_JOB_CPUS", "0", 1);
    setenv("RUNNER_JOB_USER", "a b", 1);
    setenv("RUNNER_CHECKOUT_TIMEOUT_SECONDS", "0", 1);
    setenv("GITWEAVE_LOG_LEVEL", "verbose", 1);
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
    ck_assert_int_eq(lines, 11);
    clear_env();
}
END_TEST

START_TEST(test_parse_addr)
{
    char *host;
    int port;

    ck_assert_int_eq(config_parse_addr("127.0.0.1:8080", &host, &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 8080);
    free(host);
    ck_assert_int_eq(config_parse_addr("0.0.0.0:0", &host, &port), 0);
    ck_assert_int_eq(port, 0);
    free(host);
    ck_assert_int_eq(config_parse_addr("[::1]:65535", &host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 65535);
    free(host);
    ck_assert_int_eq(config_parse_addr("localhost:80", &host, &port), 0);
    ck_assert_str_eq(host, "localhost");
    free(host);

    ck_assert_int_eq(config_parse_addr("127.0.0.1", &host, &port), -1);
    ck_assert_ptr_null(host);
    ck_assert_int_eq(config_parse_addr(":8080", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr("host:", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr("host:65536", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr("host:-1", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr("::1:80", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr("[::1]80", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr("", &host, &port), -1);
    ck_assert_int_eq(config_parse_addr(NULL, &host, &port), -1);
}
END_TEST

static mode_t
mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

START_TEST(test_workspace_names)
{
    char dir[] = "/tmp/check_ws.XXXXXX";
    char *err = NULL;
    ck_assert_ptr_nonnull(mkdtemp(dir));

    char *ws = workspace_prepare(dir, "runner-1", "local", "app.git", 0, &err);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_null(err);
    struct stat st;
    ck_assert_int_eq(stat(ws, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    free(ws);

    /* Concurrent runs of one repo: a workspace and a git directory each. */
    ws = workspace_prepare(dir, "runner-1", "local", "app", 2, &err);
    ck_assert_ptr_nonnull(ws);
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s/runner-1/app@2", dir), 0);
    ck_assert_str_eq(ws, want);
    free(want);
    free(ws);
    char *git = workspace_git_dir(dir, "runner-1", "local", "app", 2);
    ck_assert_int_ge(asprintf(&want, "%s/runner-1/.git-repos/app@2.git", dir), 0);
    ck_assert_str_eq(git, want);
    free(want);
    free(git);
    ck_assert_ptr_null(workspace_prepare(dir, "runner-1", "local", "app", -1, &err));
    free(err);

    /* The docker engine's own, next to the local engine's (a build directory
     * names the path it was configured in: /workspace/... or the host's). */
    ws = workspace_prepare(dir, "runner-1", "docker", "app", 2, &err);
    ck_assert_ptr_nonnull(ws);
    ck_assert_int_ge(asprintf(&want, "%s/runner-1/docker/app@2", dir), 0);
    ck_assert_str_eq(ws, want);
    free(want);
    ck_assert_uint_eq(mode_of(ws), 0700);
    free(ws);
    git = workspace_git_dir(dir, "runner-1", "docker", "app", 2);
    ck_assert_int_ge(asprintf(&want, "%s/runner-1/.git-repos/docker/app@2.git", dir), 0);
    ck_assert_str_eq(git, want);
    free(want);
    free(git);
    ck_assert_int_ge(asprintf(&want, "%s/runner-1/.git-repos/docker", dir), 0);
    ck_assert_uint_eq(mode_of(want), 0700);
    free(want);

    const char *bad[] = {"..", "../x", "a/b", "", ".hidden", "-rf"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ws = workspace_prepare(dir, "runner-1", "local", bad[i], 0, &err);
        ck_assert_msg(ws == NULL, "repo name \"%s\" accepted", bad[i]);
        ck_assert_ptr_nonnull(err);
        free(err);
        ws = workspace_prepare(dir, bad[i], "local", "app", 0, &err);
        ck_assert_msg(ws == NULL, "runner name \"%s\" accepted", bad[i]);
        free(err);
    }
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

/* Work, runner and workspace directories are private; ones others could
 * have planted things in are refused, naming the path. */
START_TEST(test_workspace_private)
{
    char dir[] = "/tmp/check_ws.XXXXXX";
    char *err = NULL, *p, *ws;
    ck_assert_ptr_nonnull(mkdtemp(dir));

    p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/work", dir), 0);
    ws = workspace_prepare(p, "r1", "local", "app", 0, &err);
    ck_assert_ptr_nonnull(ws);
    ck_assert_uint_eq(mode_of(p), 0700);
    ck_assert_uint_eq(mode_of(ws), 0700);
    free(ws);
    /* Readable by others: made private again. */
    ck_assert_int_eq(chmod(p, 0755), 0);
    ck_assert_int_eq(workspace_init(p, "r1", "local", &err), 0);
    ck_assert_uint_eq(mode_of(p), 0700);
    /* Writable by others: refused. */
    ck_assert_int_eq(chmod(p, 0777), 0);
    ck_assert_int_eq(workspace_init(p, "r1", "local", &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "writable by group or others"));
    ck_assert_ptr_nonnull(strstr(err, p));
    free(err);
    ck_assert_int_eq(chmod(p, 0700), 0);
    /* A symbolic link: refused. */
    char *link = NULL;
    ck_assert_int_ge(asprintf(&link, "%s/link", dir), 0);
    ck_assert_int_eq(symlink(p, link), 0);
    ck_assert_int_eq(workspace_init(link, "r1", "local", &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
    free(err);
    /* A git directory writable by others: the workspace is refused. */
    char *git = workspace_git_dir(p, "r1", "local", "app", 0);
    ck_assert_int_eq(mkdir(git, 0700), 0);
    ck_assert_int_eq(chmod(git, 0777), 0);
    ws = workspace_prepare(p, "r1", "local", "app", 0, &err);
    ck_assert_ptr_null(ws);
    ck_assert_ptr_nonnull(strstr(err, git));
    free(err);
    free(git);
    free(link);
    free(p);

    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

/* The docs' row of a setting: "| `NAME` | used by | default | meaning |",
 * or NULL. */
static char *
docs_row(const char *docs, const char *name)
{
    char key[128];

    snprintf(key, sizeof(key), "\n| `%s` |", name);
    const char *at = strstr(docs, key);
    if (at == NULL)
        return NULL;
    at++;
    return strndup(at, strcspn(at, "\n"));
}

static char *
read_docs(void)
{
    FILE *f = fopen(GW_TEST_SOURCE_DIR "/docs/configuration.md", "r");
    static char buf[1 << 16];

    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Every setting of the table has its row in docs/configuration.md, for the
 * same program, with the same default; every row is a setting of the table. */
START_TEST(test_docs_list_the_table)
{
    static const char *const users[] = {
        [CONFIG_API] = "api", [CONFIG_WORKER] = "worker", [CONFIG_BOTH] = "both"};
    const char *docs = read_docs();
    const config_setting_t *set;
    size_t count = 0;

    for (size_t i = 0; (set = config_setting(i)) != NULL; i++, count++) {
        char *row = docs_row(docs, set->name);
        char used[64], def[96];

        ck_assert_msg(row != NULL, "docs/configuration.md has no row for %s", set->name);
        snprintf(used, sizeof(used), "| `%s` | %s", set->name, users[set->used_by]);
        ck_assert_msg(strncmp(row, used, strlen(used)) == 0,
                      "docs/configuration.md: %s is not used by %s: %s", set->name,
                      users[set->used_by], row);
        if (set->def != NULL && set->def[0] != '\0') {
            /* The third column starts with it. */
            const char *col = row;
            for (int bars = 0; bars < 3 && col != NULL; bars++)
                col = strchr(col + (bars > 0), '|');
            snprintf(def, sizeof(def), "`%s`", set->def);
            ck_assert_msg(col != NULL && strncmp(col + 2, def, strlen(def)) == 0,
                          "docs/configuration.md: the default of %s is not %s: %s", set->name, def,
                          row);
        }
        free(row);
    }
    /* The other way: each row's variable is in the table. */
    size_t rows = 0;
    for (const char *at = strstr(docs, "\n| `"); at != NULL; at = strstr(at + 1, "\n| `")) {
        char name[128];
        size_t n = strcspn(at + 4, "`");
        bool known = false;

        snprintf(name, sizeof(name), "%.*s", (int)n, at + 4);
        for (size_t i = 0; (set = config_setting(i)) != NULL; i++)
            known = known || strcmp(set->name, name) == 0;
        ck_assert_msg(known, "docs/configuration.md lists %s, which common/config.c does not have",
                      name);
        rows++;
    }
    ck_assert_uint_eq(rows, count);
}
END_TEST

/* Each program's --help names its settings (and no others) with their
 * defaults, from the same table. */
START_TEST(test_help_lists_the_settings)
{
    for (config_user_t program = CONFIG_API; program <= CONFIG_WORKER; program++) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        const config_setting_t *set;

        config_usage(out, program);
        fclose(out);
        for (size_t i = 0; (set = config_setting(i)) != NULL; i++) {
            char line[160];
            const char *at;

            snprintf(line, sizeof(line), "\n  %s ", set->name);
            at = strstr(text, line);
            if (!(set->used_by & program)) {
                ck_assert_msg(at == NULL, "%s is not a setting of this program", set->name);
                continue;
            }
            ck_assert_msg(at != NULL, "--help does not name %s: %s", set->name, text);
            if (set->def != NULL && set->def[0] != '\0') {
                char def[128];
                const char *eol = strstr(at + 1, "\n");

                snprintf(def, sizeof(def), "(default %s)", set->def);
                at = strstr(at, def);
                ck_assert_msg(at != NULL && (eol == NULL || at < eol),
                              "--help does not give the default of %s", set->name);
            }
        }
        free(text);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("config");
    suite_add_test_case(s, test_defaults, 0);
    suite_add_test_case(s, test_every_problem_reported, 0);
    suite_add_test_case(s, test_workspace_names, 0);
    suite_add_test_case(s, test_workspace_private, 0);
    suite_add_test_case(s, test_job_limits, 0);
    suite_add_test_case(s, test_sizes_and_cpus, 0);
    suite_add_test_case(s, test_parse_addr, 0);
    suite_add_test_case(s, test_docs_list_the_table, 0);
    suite_add_test_case(s, test_help_lists_the_settings, 0);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
