/* Unit tests of docker_api: the container create body (the job's command
 * and mount, and its containment: an init, no new privileges, reduced
 * capabilities, no engine-side log, limits, user), the request paths, and
 * what is read out of the engine's responses. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "docker_api.h"
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
    char *text = docker_api_create_body(&spec, "busybox", "runner-1", limits);
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

START_TEST(test_paths)
{
    const char *id = "0123456789abcdef";
    char *p;

    ck_assert_str_eq((p = docker_api_attach_path(id)),
                     "/v1.41/containers/0123456789abcdef/attach?stream=1&stdout=1&stderr=1");
    free(p);
    ck_assert_str_eq((p = docker_api_start_path(id)), "/v1.41/containers/0123456789abcdef/start");
    free(p);
    ck_assert_str_eq((p = docker_api_wait_path(id)), "/v1.41/containers/0123456789abcdef/wait");
    free(p);
    ck_assert_str_eq((p = docker_api_stop_path(id, 7)),
                     "/v1.41/containers/0123456789abcdef/stop?t=7");
    free(p);
    ck_assert_str_eq((p = docker_api_remove_path(id)),
                     "/v1.41/containers/0123456789abcdef?force=1&v=1");
    free(p);
    /* {"label":["io.gitweave.runner=r 1&x"]}, encoded whole */
    ck_assert_str_eq((p = docker_api_list_path("r 1&x")),
                     "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.gitweave."
                     "runner%3Dr%201%26x%22%5D%7D");
    free(p);
}
END_TEST

START_TEST(test_id_valid)
{
    ck_assert(docker_api_id_valid("0123456789ab"));
    ck_assert(
        docker_api_id_valid("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    ck_assert(!docker_api_id_valid(NULL));
    ck_assert(!docker_api_id_valid(""));
    ck_assert(!docker_api_id_valid("0123456789a"));       /* too short */
    ck_assert(!docker_api_id_valid("0123456789ab/../x")); /* not a path */
    ck_assert(!docker_api_id_valid("0123456789abg"));
}
END_TEST

START_TEST(test_message)
{
    char *m;
    char big[1000];

    ck_assert_str_eq((m = docker_api_message(409, "{\"message\":\"in use\"}", 20)), "in use");
    free(m);
    /* An empty message: the body quoted. */
    ck_assert_str_eq((m = docker_api_message(500, "{\"message\":\"\"}", 14)),
                     "HTTP status 500: {\"message\":\"\"}");
    free(m);
    ck_assert_str_eq((m = docker_api_message(502, "bad gateway \n", 13)),
                     "HTTP status 502: bad gateway");
    free(m);
    ck_assert_str_eq((m = docker_api_message(503, " \r\n", 3)), "HTTP status 503");
    free(m);
    ck_assert_str_eq((m = docker_api_message(500, "", 0)), "HTTP status 500");
    free(m);
    memset(big, 'x', sizeof(big));
    m = docker_api_message(500, big, sizeof(big));
    ck_assert_uint_eq(strlen(m), strlen("HTTP status 500: ") + DOCKER_QUOTE_MAX);
    free(m);
}
END_TEST

START_TEST(test_created_id)
{
    const char *ok = "{\"Id\":\"0123456789abcdef\",\"Warnings\":[]}";
    char *id;

    ck_assert_str_eq((id = docker_api_created_id(201, ok, strlen(ok))), "0123456789abcdef");
    free(id);
    ck_assert_ptr_null(docker_api_created_id(200, ok, strlen(ok)));
    ck_assert_ptr_null(docker_api_created_id(201, "{\"Id\":\"../etc\"}", 15));
    ck_assert_ptr_null(docker_api_created_id(201, "{\"Id\":42}", 9));
    ck_assert_ptr_null(docker_api_created_id(201, "not json", 8));
    ck_assert_ptr_null(docker_api_created_id(201, "", 0));
}
END_TEST

START_TEST(test_wait_code)
{
    const char *err = "{\"StatusCode\":137,\"Error\":{\"Message\":\"oops\"}}";
    char *warning = (char *)"unset";

    ck_assert_int_eq(docker_api_wait_code(200, "{\"StatusCode\":0}", 16, &warning), 0);
    ck_assert_ptr_null(warning);
    ck_assert_int_eq(docker_api_wait_code(200, err, strlen(err), &warning), 137);
    ck_assert_str_eq(warning, "oops");
    free(warning);
    ck_assert_int_eq(docker_api_wait_code(200, "{\"StatusCode\":256}", 18, &warning), -1);
    ck_assert_int_eq(docker_api_wait_code(200, "{\"StatusCode\":-1}", 17, &warning), -1);
    ck_assert_int_eq(docker_api_wait_code(200, "{\"StatusCode\":\"0\"}", 18, &warning), -1);
    ck_assert_int_eq(docker_api_wait_code(404, "{\"StatusCode\":0}", 16, &warning), -1);
    ck_assert_int_eq(docker_api_wait_code(200, "", 0, &warning), -1);
    ck_assert_ptr_null(warning);
}
END_TEST

START_TEST(test_leftovers)
{
    const char *list = "[{\"Id\":\"aaaaaaaaaaaa\",\"Labels\":{\"io.gitweave.runner\":\"r1\",\"io."
                       "gitweave.job\":\"dead\"}},"
                       " {\"Id\":\"bbbbbbbbbbbb\",\"Labels\":{\"io.gitweave.runner\":\"r1\",\"io."
                       "gitweave.job\":\"live\"}},"
                       " {\"Id\":\"cccccccccccc\",\"Labels\":{\"io.gitweave.runner\":\"r2\",\"io."
                       "gitweave.job\":\"dead\"}},"
                       " {\"Id\":\"not/an/id\",\"Labels\":{\"io.gitweave.runner\":\"r1\"}},"
                       " {\"Id\":\"dddddddddddd\",\"Labels\":{\"io.gitweave.runner\":\"r1\"}},"
                       " {\"Id\":\"eeeeeeeeeeee\"}, 42]";
    const char *const live[] = {"live", "other", NULL};
    char **ids;

    ids = docker_api_leftovers(list, strlen(list), "r1", live);
    ck_assert_ptr_nonnull(ids);
    /* Only this runner's, not a live job's, with a valid id; one without
     * a job label is a leftover too. */
    ck_assert_str_eq(ids[0], "aaaaaaaaaaaa");
    ck_assert_str_eq(ids[1], "dddddddddddd");
    ck_assert_ptr_null(ids[2]);
    docker_api_ids_free(ids);
    ids = docker_api_leftovers(list, strlen(list), "r1", NULL);
    ck_assert_str_eq(ids[1], "bbbbbbbbbbbb");
    docker_api_ids_free(ids);
    ids = docker_api_leftovers("[]", 2, "r1", NULL);
    ck_assert_ptr_null(ids[0]);
    docker_api_ids_free(ids);
    ck_assert_ptr_null(docker_api_leftovers("{\"message\":\"x\"}", 15, "r1", NULL));
    ck_assert_ptr_null(docker_api_leftovers("", 0, "r1", NULL));
    docker_api_ids_free(NULL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("docker_api");
    TCase *tc = tcase_create("create_body");
    tcase_add_test(tc, test_contained);
    tcase_add_test(tc, test_limits_and_user);
    suite_add_tcase(s, tc);
    tc = tcase_create("requests");
    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_id_valid);
    suite_add_tcase(s, tc);
    tc = tcase_create("responses");
    tcase_add_test(tc, test_message);
    tcase_add_test(tc, test_created_id);
    tcase_add_test(tc, test_wait_code);
    tcase_add_test(tc, test_leftovers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
