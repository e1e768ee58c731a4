/* Unit tests of the docker engine's container create body: the job's
 * command and mount, and its containment (no new privileges, reduced
 * capabilities, no engine-side log, limits, user). */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "util.h"

static const char *const env[] = {"A=1", "CI=true", NULL};
static const engine_job_spec_t spec = {
    .job_id = "job-1",
    .run_id = "run-1",
    .runner_id = "runner-1",
    .image = NULL,
    .script = "echo hi",
    .env = env,
    .workspace = "/w/r1/app",
};

static cJSON *
body_of(const engine_docker_limits_t *limits)
{
    char *text = engine_docker_create_body(&spec, "busybox", "runner-1", limits);
    cJSON *json = cJSON_Parse(text);

    free(text);
    ck_assert_ptr_nonnull(json);
    return json;
}

/* The strings of array item, joined with ","; the caller frees. */
static char *
joined(const cJSON *item)
{
    const cJSON *e;
    buf_t b;

    ck_assert(cJSON_IsArray(item));
    buf_init(&b);
    cJSON_ArrayForEach(e, item)
    {
        if (e != item->child)
            buf_puts(&b, ",");
        buf_puts(&b, e->valuestring);
    }
    return buf_steal(&b);
}

static const cJSON *
get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

START_TEST(test_contained)
{
    engine_docker_limits_t limits = {.pids_limit = 1024};
    cJSON *b = body_of(&limits);
    const cJSON *host = get(b, "HostConfig");
    char *s;

    ck_assert_str_eq(get(b, "Image")->valuestring, "busybox");
    ck_assert_str_eq((s = joined(get(host, "Binds"))), "/w/r1/app:/workspace");
    free(s);
    ck_assert_str_eq((s = joined(get(b, "Env"))), "A=1,CI=true");
    free(s);
    ck_assert_str_eq((s = joined(get(host, "SecurityOpt"))), "no-new-privileges");
    free(s);
    ck_assert_str_eq((s = joined(get(host, "CapDrop"))), "ALL");
    free(s);
    s = joined(get(host, "CapAdd"));
    ck_assert_str_eq(s, "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID,NET_BIND_SERVICE");
    ck_assert_ptr_null(strstr(s, "MKNOD"));
    ck_assert_ptr_null(strstr(s, "NET_RAW"));
    ck_assert_ptr_null(strstr(s, "SYS_"));
    free(s);
    ck_assert_str_eq(get(get(host, "LogConfig"), "Type")->valuestring, "none");
    ck_assert_int_eq(get(host, "PidsLimit")->valueint, 1024);
    ck_assert(cJSON_IsFalse(get(host, "AutoRemove")));
    /* An init as PID 1, so that a stop's TERM reaches the shell. */
    ck_assert(cJSON_IsTrue(get(host, "Init")));
    /* Not asked for: absent. */
    ck_assert_ptr_null(get(host, "Memory"));
    ck_assert_ptr_null(get(host, "MemorySwap"));
    ck_assert_ptr_null(get(host, "NanoCpus"));
    ck_assert_ptr_null(get(b, "User"));
    ck_assert_str_eq(get(get(b, "Labels"), "io.gitweave.runner")->valuestring, "runner-1");
    cJSON_Delete(b);
}
END_TEST

START_TEST(test_limits_and_user)
{
    engine_docker_limits_t limits = {
        .pids_limit = 64,
        .memory = 512LL << 20,
        .nano_cpus = 1500000000LL,
        .user = "1000:1000",
    };
    cJSON *b = body_of(&limits);
    const cJSON *host = get(b, "HostConfig");

    ck_assert_int_eq(get(host, "PidsLimit")->valueint, 64);
    ck_assert(get(host, "Memory")->valuedouble == 536870912.0);
    ck_assert(get(host, "MemorySwap")->valuedouble == 536870912.0);
    ck_assert(get(host, "NanoCpus")->valuedouble == 1500000000.0);
    ck_assert_str_eq(get(b, "User")->valuestring, "1000:1000");
    cJSON_Delete(b);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("engine_docker");
    TCase *tc = tcase_create("create_body");
    tcase_add_test(tc, test_contained);
    tcase_add_test(tc, test_limits_and_user);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
