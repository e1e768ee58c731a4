/* Unit tests of the API's request parsing: paths, query strings, integers,
 * cursors, UTF-8, media types, Accept (api/request.c), refs (api/gitref.c),
 * and the trigger, push, repo and attachment bodies (api/trigger_body.c,
 * api/repo_body.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitref.h"
#include "repo_body.h"
#include "request.h"
#include "trigger_body.h"
#include "utf8.h"

/* ---- percent-decoding and paths ---- */

START_TEST(test_percent_decode)
{
    char *s;

    s = request_percent_decode("a%2Fb%20c", 9, false);
    ck_assert_str_eq(s, "a/b c");
    free(s);
    s = request_percent_decode("a+b", 3, false);
    ck_assert_str_eq(s, "a+b");
    free(s);
    s = request_percent_decode("a+b%2b", 6, true);
    ck_assert_str_eq(s, "a b+");
    free(s);
    s = request_percent_decode("%e2%82%AC", 9, false);
    ck_assert_str_eq(s, "\xe2\x82\xac");
    free(s);
    s = request_percent_decode("", 0, false);
    ck_assert_str_eq(s, "");
    free(s);
    /* Only len bytes are read. */
    s = request_percent_decode("ab%", 2, false);
    ck_assert_str_eq(s, "ab");
    free(s);

    ck_assert_ptr_null(request_percent_decode("%", 1, false));
    ck_assert_ptr_null(request_percent_decode("%2", 2, false));
    ck_assert_ptr_null(request_percent_decode("a%2", 3, false));
    ck_assert_ptr_null(request_percent_decode("%zz", 3, false));
    ck_assert_ptr_null(request_percent_decode("%g0", 3, false));
    ck_assert_ptr_null(request_percent_decode("a%00b", 5, false));
}
END_TEST

START_TEST(test_path_split)
{
    request_path_t p;

    ck_assert_int_eq(request_path_split("/api/v1/repos/a%2Db", &p), 0);
    ck_assert_uint_eq(p.n, 4);
    ck_assert_str_eq(p.seg[0], "api");
    ck_assert_str_eq(p.seg[3], "a-b");
    request_path_free(&p);
    ck_assert_uint_eq(p.n, 0);

    ck_assert_int_eq(request_path_split("/", &p), 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_str_eq(p.seg[0], "");
    request_path_free(&p);

    /* Empty segments are kept, so a trailing slash is not the same path. */
    ck_assert_int_eq(request_path_split("/a//b/", &p), 0);
    ck_assert_uint_eq(p.n, 4);
    ck_assert_str_eq(p.seg[1], "");
    ck_assert_str_eq(p.seg[3], "");
    request_path_free(&p);

    /* An encoded slash stays inside its segment. */
    ck_assert_int_eq(request_path_split("/repos/a%2Fb", &p), 0);
    ck_assert_uint_eq(p.n, 2);
    ck_assert_str_eq(p.seg[1], "a/b");
    request_path_free(&p);
}
END_TEST

START_TEST(test_path_split_bad)
{
    request_path_t p;
    char longpath[200];

    ck_assert_int_eq(request_path_split(NULL, &p), -1);
    ck_assert_int_eq(request_path_split("", &p), -1);
    ck_assert_int_eq(request_path_split("api/v1", &p), -1);
    ck_assert_int_eq(request_path_split("/a/%zz", &p), -1);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_int_eq(request_path_split("/a/b%00", &p), -1);
    ck_assert_int_eq(request_path_split("/a/%", &p), -1);

    for (int i = 0; i < REQUEST_MAX_SEGMENTS + 1; i++)
        snprintf(longpath + 2 * i, sizeof(longpath) - 2 * (size_t)i, "/x");
    ck_assert_int_eq(request_path_split(longpath, &p), -1);
    ck_assert_uint_eq(p.n, 0);
}
END_TEST

/* ---- query strings ---- */

START_TEST(test_query_parse)
{
    request_query_t q;
    char err[REQUEST_ERR_LEN];

    ck_assert_int_eq(
        request_query_parse("limit=2&status=queued&before=a%5Fb&flag", &q, err, sizeof(err)), 0);
    ck_assert_uint_eq(q.n, 4);
    ck_assert_str_eq(request_query_get(&q, "limit"), "2");
    ck_assert_str_eq(request_query_get(&q, "status"), "queued");
    ck_assert_str_eq(request_query_get(&q, "before"), "a_b");
    ck_assert_str_eq(request_query_get(&q, "flag"), "");
    ck_assert_ptr_null(request_query_get(&q, "missing"));
    request_query_free(&q);

    ck_assert_int_eq(request_query_parse(NULL, &q, err, sizeof(err)), 0);
    ck_assert_uint_eq(q.n, 0);
    ck_assert_int_eq(request_query_parse("", &q, err, sizeof(err)), 0);
    ck_assert_uint_eq(q.n, 0);

    /* '+' is a space in a query; empty pieces are skipped. */
    ck_assert_int_eq(request_query_parse("a=x+y&&b=", &q, err, sizeof(err)), 0);
    ck_assert_uint_eq(q.n, 2);
    ck_assert_str_eq(request_query_get(&q, "a"), "x y");
    ck_assert_str_eq(request_query_get(&q, "b"), "");
    request_query_free(&q);
}
END_TEST

START_TEST(test_query_parse_bad)
{
    request_query_t q;
    char err[REQUEST_ERR_LEN];
    char many[400];

    err[0] = '\0';
    ck_assert_int_eq(request_query_parse("a=%zz", &q, err, sizeof(err)), -1);
    ck_assert(strstr(err, "percent") != NULL);
    ck_assert_uint_eq(q.n, 0);
    ck_assert_int_eq(request_query_parse("a=1&a=2", &q, err, sizeof(err)), -1);
    ck_assert(strstr(err, "\"a\"") != NULL);
    ck_assert_uint_eq(q.n, 0);
    ck_assert_int_eq(request_query_parse("a%00=1", &q, err, sizeof(err)), -1);

    size_t at = 0;
    for (int i = 0; i <= REQUEST_MAX_PARAMS; i++)
        at += (size_t)snprintf(many + at, sizeof(many) - at, "p%d=1&", i);
    ck_assert_int_eq(request_query_parse(many, &q, err, sizeof(err)), -1);
    ck_assert_uint_eq(q.n, 0);
}
END_TEST

/* ---- integers, cursors, addresses ---- */

START_TEST(test_parse_int)
{
    long long v = -1;

    ck_assert_int_eq(request_parse_int("0", 0, 10, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(request_parse_int("100", 1, 100, &v), 0);
    ck_assert_int_eq(v, 100);
    ck_assert_int_eq(request_parse_int("007", 1, 100, &v), 0);
    ck_assert_int_eq(v, 7);

    ck_assert_int_eq(request_parse_int("101", 1, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("0", 1, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("-1", -5, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("+1", 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int(" 1", 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("1 ", 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("1.5", 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("1e3", 0, 10000, &v), -1);
    ck_assert_int_eq(request_parse_int("", 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("abc", 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int(NULL, 0, 100, &v), -1);
    ck_assert_int_eq(request_parse_int("99999999999999999999999", 0, 9223372036854775807LL, &v),
                     -1);
    ck_assert_int_eq(request_parse_int("0x10", 0, 100, &v), -1);
}
END_TEST

START_TEST(test_cursor)
{
    const char *id = "123e4567-e89b-12d3-a456-426614174000";
    char *c = request_cursor_encode(1764147600123456LL, id);
    long long micros = 0;
    char out[37];

    ck_assert_int_eq(request_cursor_decode(c, &micros, out), 0);
    ck_assert_int_eq(micros, 1764147600123456LL);
    ck_assert_str_eq(out, id);
    free(c);

    ck_assert_int_eq(request_cursor_decode("0_123e4567-e89b-12d3-a456-426614174000", &micros, out),
                     0);
    ck_assert_int_eq(micros, 0);

    ck_assert_int_eq(request_cursor_decode(NULL, &micros, out), -1);
    ck_assert_int_eq(request_cursor_decode("", &micros, out), -1);
    ck_assert_int_eq(request_cursor_decode("garbage", &micros, out), -1);
    ck_assert_int_eq(request_cursor_decode("_123e4567-e89b-12d3-a456-426614174000", &micros, out),
                     -1);
    ck_assert_int_eq(request_cursor_decode("12_not-a-uuid", &micros, out), -1);
    ck_assert_int_eq(request_cursor_decode("-5_123e4567-e89b-12d3-a456-426614174000", &micros, out),
                     -1);
    ck_assert_int_eq(request_cursor_decode(
                         "99999999999999999999_123e4567-e89b-12d3-a456-426614174000", &micros, out),
                     -1);
    ck_assert_int_eq(
        request_cursor_decode("12_123e4567-e89b-12d3-a456-426614174000x", &micros, out), -1);
}
END_TEST

/* ---- headers ---- */

START_TEST(test_media_type)
{
    ck_assert_int_eq(request_media_type(NULL), REQUEST_MEDIA_NONE);
    ck_assert_int_eq(request_media_type("application/json"), REQUEST_MEDIA_JSON);
    ck_assert_int_eq(request_media_type("Application/JSON; charset=utf-8"), REQUEST_MEDIA_JSON);
    ck_assert_int_eq(request_media_type("application/vnd.gitweave+json"), REQUEST_MEDIA_JSON);
    ck_assert_int_eq(request_media_type("application/yaml"), REQUEST_MEDIA_YAML);
    ck_assert_int_eq(request_media_type("application/x-yaml"), REQUEST_MEDIA_YAML);
    ck_assert_int_eq(request_media_type(" text/yaml ;charset=utf-8"), REQUEST_MEDIA_YAML);
    ck_assert_int_eq(request_media_type("text/plain"), REQUEST_MEDIA_OTHER);
    ck_assert_int_eq(request_media_type("application/x-www-form-urlencoded"), REQUEST_MEDIA_OTHER);
    ck_assert_int_eq(request_media_type(""), REQUEST_MEDIA_OTHER);
    ck_assert_int_eq(request_media_type("+json"), REQUEST_MEDIA_OTHER);
}
END_TEST

START_TEST(test_accept)
{
    ck_assert(!request_accept_prefers_yaml(NULL));
    ck_assert(!request_accept_prefers_yaml(""));
    ck_assert(!request_accept_prefers_yaml("*/*"));
    ck_assert(!request_accept_prefers_yaml("application/json"));
    ck_assert(request_accept_prefers_yaml("application/yaml"));
    ck_assert(request_accept_prefers_yaml("text/yaml"));
    ck_assert(request_accept_prefers_yaml("application/x-yaml, */*;q=0.1"));
    ck_assert(request_accept_prefers_yaml("application/yaml, application/json"));
    ck_assert(!request_accept_prefers_yaml("application/json, application/yaml"));
    ck_assert(!request_accept_prefers_yaml("application/yaml;q=0.5, application/json"));
    ck_assert(request_accept_prefers_yaml("application/json;q=0.4, application/yaml;q=0.5"));
    ck_assert(!request_accept_prefers_yaml("application/yaml;q=0"));
    ck_assert(!request_accept_prefers_yaml("*/*, application/yaml;q=0.9"));
    ck_assert(request_accept_prefers_yaml("APPLICATION/YAML ; Q=1.0"));
    /* A malformed q counts as 0. */
    ck_assert(!request_accept_prefers_yaml("application/yaml;q=abc"));
    ck_assert(!request_accept_prefers_yaml(",,,;;;==="));
}
END_TEST

/* ---- refs and commits ---- */

START_TEST(test_refs)
{
    char *s;

    ck_assert(gitref_valid("main"));
    ck_assert(gitref_valid("refs/heads/release/1.0"));
    ck_assert(gitref_valid("feature/x-y_z"));
    ck_assert(!gitref_valid(""));
    ck_assert(!gitref_valid(NULL));
    ck_assert(!gitref_valid("a..b"));
    ck_assert(!gitref_valid("a b"));
    ck_assert(!gitref_valid("a~1"));
    ck_assert(!gitref_valid("a^"));
    ck_assert(!gitref_valid("a:b"));
    ck_assert(!gitref_valid("a?"));
    ck_assert(!gitref_valid("a*"));
    ck_assert(!gitref_valid("a[b"));
    ck_assert(!gitref_valid("a\\b"));
    ck_assert(!gitref_valid("a\tb"));
    ck_assert(!gitref_valid("/a"));
    ck_assert(!gitref_valid("a/"));
    ck_assert(!gitref_valid("a//b"));
    ck_assert(!gitref_valid(".a"));
    ck_assert(!gitref_valid("a/.b"));
    ck_assert(!gitref_valid("a."));
    ck_assert(!gitref_valid("a.lock"));
    ck_assert(!gitref_valid("a@{1}"));
    ck_assert(!gitref_valid("@"));

    s = gitref_normalise("main");
    ck_assert_str_eq(s, "refs/heads/main");
    free(s);
    s = gitref_normalise("refs/tags/v1.0");
    ck_assert_str_eq(s, "refs/tags/v1.0");
    free(s);
    ck_assert_ptr_null(gitref_normalise("bad ref"));

    ck_assert(gitref_commit_valid("abcd"));
    ck_assert(gitref_commit_valid("0123456789abcdef0123456789ABCDEF01234567"));
    ck_assert(!gitref_commit_valid("abc"));
    ck_assert(!gitref_commit_valid("xyz1"));
    ck_assert(!gitref_commit_valid(NULL));
}
END_TEST

/* ---- bodies ---- */

static cJSON *
json(const char *text)
{
    cJSON *v = cJSON_Parse(text);
    ck_assert_ptr_nonnull(v);
    return v;
}

START_TEST(test_trigger_parse)
{
    char err[REQUEST_ERR_LEN];
    trigger_body_t t;
    cJSON *b;

    /* An empty body is {}. */
    ck_assert_int_eq(trigger_body_parse(NULL, &t, err, sizeof(err)), 0);
    ck_assert_ptr_null(t.template);
    ck_assert_ptr_null(t.ref);
    trigger_body_free(&t);

    b = json("{\"template\":\"build\",\"inputs\":{\"V\":\"1\"},\"ref\":\"main\","
             "\"commit\":\"abc123\",\"triggered_by\":\"123e4567-e89b-12d3-a456-426614174000\"}");
    ck_assert_int_eq(trigger_body_parse(b, &t, err, sizeof(err)), 0);
    ck_assert_str_eq(t.template, "build");
    ck_assert(cJSON_IsObject(t.inputs));
    ck_assert_str_eq(t.ref, "refs/heads/main");
    ck_assert_str_eq(t.commit, "abc123");
    ck_assert_str_eq(t.triggered_by, "123e4567-e89b-12d3-a456-426614174000");
    trigger_body_free(&t);
    cJSON_Delete(b);

    /* null is the same as absent. */
    b = json("{\"template\":null,\"inputs\":null,\"ref\":\"refs/tags/v1\"}");
    ck_assert_int_eq(trigger_body_parse(b, &t, err, sizeof(err)), 0);
    ck_assert_ptr_null(t.template);
    ck_assert_ptr_null(t.inputs);
    ck_assert_str_eq(t.ref, "refs/tags/v1");
    trigger_body_free(&t);
    cJSON_Delete(b);
}
END_TEST

START_TEST(test_trigger_parse_bad)
{
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"[]", "object"},
        {"\"x\"", "object"},
        {"{\"inputs\":[1]}", "inputs"},
        {"{\"inputs\":\"a\"}", "inputs"},
        {"{\"ref\":5}", "ref"},
        {"{\"ref\":\"a..b\"}", "ref"},
        {"{\"commit\":\"zz\"}", "commit"},
        {"{\"commit\":12345}", "commit"},
        {"{\"triggered_by\":\"bob\"}", "triggered_by"},
        {"{\"template\":\"bad name\"}", "template"},
        {"{\"template\":7}", "template"},
        {"{\"extra\":1}", "unknown field \"extra\""},
    };
    char err[REQUEST_ERR_LEN];
    trigger_body_t t;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *b = json(cases[i].body);
        err[0] = '\0';
        ck_assert_msg(trigger_body_parse(b, &t, err, sizeof(err)) == -1, "accepted %s",
                      cases[i].body);
        ck_assert_msg(strstr(err, cases[i].needle) != NULL, "%s: error \"%s\" lacks \"%s\"",
                      cases[i].body, err, cases[i].needle);
        ck_assert_ptr_null(t.ref);
        cJSON_Delete(b);
    }
}
END_TEST

START_TEST(test_push_parse)
{
    const char *sha = "0123456789abcdef0123456789abcdef01234567";
    char err[REQUEST_ERR_LEN], text[512];
    trigger_body_push_t p;
    cJSON *b;

    snprintf(text, sizeof(text),
             "{\"ref\":\"refs/heads/release/1.0\",\"before\":\"%s\",\"after\":\"%s\","
             "\"commits\":[],\"head_commit\":null,\"repository\":{\"name\":\"x\"}}",
             sha, sha);
    b = json(text);
    ck_assert_int_eq(trigger_body_push_parse(b, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(p.kind, TRIGGER_BODY_PUSH_BRANCH);
    ck_assert_str_eq(p.branch, "release/1.0");
    ck_assert_str_eq(p.after, sha);
    trigger_body_push_free(&p);
    cJSON_Delete(b);

    snprintf(text, sizeof(text), "{\"ref\":\"refs/tags/v1\",\"after\":\"%s\"}", sha);
    b = json(text);
    ck_assert_int_eq(trigger_body_push_parse(b, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(p.kind, TRIGGER_BODY_PUSH_OTHER);
    ck_assert_ptr_null(p.branch);
    trigger_body_push_free(&p);
    cJSON_Delete(b);

    b = json(
        "{\"ref\":\"refs/heads/main\",\"after\":\"0000000000000000000000000000000000000000\"}");
    ck_assert_int_eq(trigger_body_push_parse(b, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(p.kind, TRIGGER_BODY_PUSH_DELETE);
    trigger_body_push_free(&p);
    cJSON_Delete(b);
}
END_TEST

START_TEST(test_push_parse_bad)
{
    static const char *const bodies[] = {
        "[]",
        "{}",
        "{\"ref\":\"refs/heads/main\"}",
        "{\"after\":\"0123456789abcdef0123456789abcdef01234567\"}",
        "{\"ref\":5,\"after\":\"0123456789abcdef0123456789abcdef01234567\"}",
        "{\"ref\":\"refs/heads/main\",\"after\":\"abc\"}",
        "{\"ref\":\"refs/heads/main\",\"after\":\"0123456789abcdef0123456789abcdef0123456z\"}",
        "{\"ref\":\"refs/heads/main\",\"after\":123}",
        "{\"ref\":\"refs/heads/a b\",\"after\":\"0123456789abcdef0123456789abcdef01234567\"}",
        "{\"ref\":\"refs/heads/main\",\"after\":\"0123456789abcdef0123456789abcdef01234567\","
        "\"before\":7}",
    };
    char err[REQUEST_ERR_LEN];
    trigger_body_push_t p;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        cJSON *b = json(bodies[i]);
        err[0] = '\0';
        ck_assert_msg(trigger_body_push_parse(b, &p, err, sizeof(err)) == -1, "accepted %s",
                      bodies[i]);
        ck_assert(err[0] != '\0');
        ck_assert_ptr_null(p.branch);
        cJSON_Delete(b);
    }
    ck_assert_int_eq(trigger_body_push_parse(NULL, &p, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_repo_and_attach_parse)
{
    char err[REQUEST_ERR_LEN];
    repo_body_t rp;
    const cJSON *inputs;
    cJSON *b;

    ck_assert_int_eq(repo_body_parse(NULL, &rp, err, sizeof(err)), 0);
    ck_assert(!rp.has_clone_url);
    ck_assert_ptr_null(rp.default_branch);

    b = json("{\"clone_url\":\"https://example.com/x.git\",\"default_branch\":\"dev\"}");
    ck_assert_int_eq(repo_body_parse(b, &rp, err, sizeof(err)), 0);
    ck_assert(rp.has_clone_url);
    ck_assert_str_eq(rp.clone_url, "https://example.com/x.git");
    ck_assert_str_eq(rp.default_branch, "dev");
    cJSON_Delete(b);

    b = json("{\"clone_url\":null}");
    ck_assert_int_eq(repo_body_parse(b, &rp, err, sizeof(err)), 0);
    ck_assert(rp.has_clone_url);
    ck_assert_ptr_null(rp.clone_url);
    cJSON_Delete(b);

    static const char *const bad_repos[] = {
        "[]",
        "{\"clone_url\":5}",
        "{\"clone_url\":\"\"}",
        "{\"clone_url\":\"a\\nb\"}",
        "{\"default_branch\":\"refs/heads/main\"}",
        "{\"default_branch\":\"a b\"}",
        "{\"default_branch\":true}",
        "{\"name\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof(bad_repos) / sizeof(bad_repos[0]); i++) {
        b = json(bad_repos[i]);
        ck_assert_msg(repo_body_parse(b, &rp, err, sizeof(err)) == -1, "accepted %s", bad_repos[i]);
        cJSON_Delete(b);
    }

    ck_assert_int_eq(repo_body_attach_parse(NULL, &inputs, err, sizeof(err)), 0);
    ck_assert_ptr_null(inputs);
    b = json("{\"inputs\":{\"A\":1}}");
    ck_assert_int_eq(repo_body_attach_parse(b, &inputs, err, sizeof(err)), 0);
    ck_assert(cJSON_IsObject(inputs));
    cJSON_Delete(b);
    static const char *const bad_attach[] = {"[]", "{\"inputs\":[]}", "{\"inputs\":1}",
                                             "{\"other\":{}}"};
    for (size_t i = 0; i < sizeof(bad_attach) / sizeof(bad_attach[0]); i++) {
        b = json(bad_attach[i]);
        ck_assert_msg(repo_body_attach_parse(b, &inputs, err, sizeof(err)) == -1, "accepted %s",
                      bad_attach[i]);
        cJSON_Delete(b);
    }
}
END_TEST

/* A \u0000 escape is found in any string, key or value, with its path;
 * everything that only looks like one is not. */
typedef struct {
    const char *json;
    bool found;
    const char *field;
} nul_case_t;

static const nul_case_t nul_cases[] = {
    {"{\"a\": \"plain\"}", false, NULL},
    {"{\"a\": \"x\\\\u0000\"}", false, NULL}, /* an escaped backslash, then text */
    {"{\"a\": \"x\\u00001\"}", true, "a"},
    {"{\"a\": \"\\u0041\\u0000\"}", true, "a"},
    {"\"\\u0000\"", true, ""},
    {"{\"inputs\": {\"MSG\": \"shown\\u0000hidden\"}}", true, "inputs.MSG"},
    {"{\"jobs\": [{\"name\": \"a\", \"script\": [\"x\", \"echo \\\"q\\\" \\u0000\"]}]}", true,
     "jobs[0].script[1]"},
    {"{\"a\": [1, {\"b\": null}, [true, \"\\u0000\"]]}", true, "a[2][1]"},
    {"{\"a\": {\"b\": 1}, \"c\": \"\\u0000\"}", true, "c"},
    {"{\"env\": {\"A\\u0000B\": \"x\"}}", true, "env.A\\u0000B"},
    {"[\"a\", \"b\", \"c\\u0000\"]", true, "[2]"},
    {"{\"k\\\"\": \"v\", \"x\": [\"\\\\\", \"\\u0000\"]}", true, "x[1]"},
};

START_TEST(test_json_find_nul)
{
    const nul_case_t *c = &nul_cases[_i];
    char field[64];
    cJSON *parsed = cJSON_Parse(c->json);
    bool found;

    ck_assert_msg(parsed != NULL, "case %d is not JSON", _i);
    cJSON_Delete(parsed);
    memset(field, 'Z', sizeof(field));
    found = request_json_find_nul(c->json, strlen(c->json), field, sizeof(field));
    ck_assert_msg(found == c->found, "case %d: %s", _i, c->json);
    if (c->found)
        ck_assert_str_eq(field, c->field);
}
END_TEST

/* A path that does not fit ends in "..."; a long body is scanned once. */
START_TEST(test_json_find_nul_long)
{
    buf_t b;
    char field[16];

    buf_init(&b);
    buf_puts(&b, "{\"inputs\": {\"A_LONG_NAME_FOR_AN_INPUT\": \"\\u0000\"}}");
    ck_assert(request_json_find_nul(b.data, b.len, field, sizeof(field)));
    ck_assert_str_eq(field, "inputs.A_LON...");
    buf_free(&b);

    buf_init(&b);
    buf_puts(&b, "[");
    for (int i = 0; i < 200000; i++)
        buf_puts(&b, "\"\\\\u0000\",");
    buf_puts(&b, "\"\\u0000\"]");
    ck_assert(request_json_find_nul(b.data, b.len, field, sizeof(field)));
    ck_assert_str_eq(field, "[200000]");
    buf_free(&b);
}
END_TEST

/* Found by tests/fuzz/fuzz_request: an error quoting a long name cut it
 * at 64 bytes, inside a multi-byte character, so the error sent to the
 * client in JSON was not valid UTF-8. */
START_TEST(test_error_quotes_whole_characters)
{
    /* 31 two-byte characters and one more: the 64th byte is a lead byte. */
    static const char name[] = "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                               "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                               "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                               "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9x\u00e9\u00e9";
    char body[512], query[512], err[REQUEST_ERR_LEN];
    trigger_body_t t;
    repo_body_t r;
    request_query_t q;
    const cJSON *inputs;
    cJSON *b;

    snprintf(body, sizeof(body), "{\"%s\": 1}", name);
    b = json(body);
    err[0] = '\0';
    ck_assert_int_eq(trigger_body_parse(b, &t, err, sizeof(err)), -1);
    ck_assert_msg(utf8_valid(err, strlen(err)), "trigger error is not UTF-8: %s", err);
    ck_assert(strstr(err, "unknown field") != NULL);
    err[0] = '\0';
    ck_assert_int_eq(repo_body_parse(b, &r, err, sizeof(err)), -1);
    ck_assert_msg(utf8_valid(err, strlen(err)), "repo error is not UTF-8: %s", err);
    err[0] = '\0';
    ck_assert_int_eq(repo_body_attach_parse(b, &inputs, err, sizeof(err)), -1);
    ck_assert_msg(utf8_valid(err, strlen(err)), "attach error is not UTF-8: %s", err);
    cJSON_Delete(b);

    /* The query's name is percent-encoded UTF-8, given twice. */
    size_t at = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
            at += (size_t)snprintf(query + at, sizeof(query) - at, "%%%02X", *c);
        at += (size_t)snprintf(query + at, sizeof(query) - at, "=1&");
    }
    err[0] = '\0';
    ck_assert_int_eq(request_query_parse(query, &q, err, sizeof(err)), -1);
    ck_assert(strstr(err, "more than once") != NULL);
    ck_assert_msg(utf8_valid(err, strlen(err)), "query error is not UTF-8: %s", err);
}
END_TEST

/* Found by tests/fuzz/fuzz_request: the path naming a NUL cut a key at 64
 * bytes, or the whole path to fit the field, inside a multi-byte character,
 * so the 422 error was not valid UTF-8. */
START_TEST(test_json_find_nul_whole_characters)
{
    /* "x" and 40 two-byte characters: byte 64 is a lead byte. */
    static const char *const starts[] = {"{\"x", "{\"a\": {\"xy"};
    char field[REQUEST_ERR_LEN], small[16];
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < GW_ARRAY_LEN(starts); i++) {
        buf_reset(&b);
        buf_puts(&b, starts[i]);
        for (int k = 0; k < 40; k++)
            buf_puts(&b, "\xC3\xA9");
        buf_puts(&b, i == 0 ? "\": \"\\u0000\"}" : "\": \"\\u0000\"}}");
        ck_assert(request_json_find_nul(b.data, b.len, field, sizeof(field)));
        ck_assert_msg(utf8_valid(field, strlen(field)), "key cut: %s", field);
        /* A field too small for the path: cut, "..." added. */
        ck_assert(request_json_find_nul(b.data, b.len, small, sizeof(small)));
        ck_assert_msg(utf8_valid(small, strlen(small)), "path cut: %s", small);
        ck_assert_str_eq(small + strlen(small) - 3, "...");
    }
    buf_free(&b);
}
END_TEST

static Suite *
request_suite(void)
{
    Suite *s = suite_create("api_request");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_percent_decode);
    tcase_add_test(tc, test_path_split);
    tcase_add_test(tc, test_path_split_bad);
    tcase_add_test(tc, test_query_parse);
    tcase_add_test(tc, test_query_parse_bad);
    tcase_add_test(tc, test_parse_int);
    tcase_add_test(tc, test_cursor);
    tcase_add_test(tc, test_media_type);
    tcase_add_test(tc, test_accept);
    tcase_add_test(tc, test_refs);
    tcase_add_test(tc, test_trigger_parse);
    tcase_add_test(tc, test_trigger_parse_bad);
    tcase_add_test(tc, test_push_parse);
    tcase_add_test(tc, test_push_parse_bad);
    tcase_add_test(tc, test_repo_and_attach_parse);
    tcase_add_loop_test(tc, test_json_find_nul, 0, (int)GW_ARRAY_LEN(nul_cases));
    tcase_add_test(tc, test_json_find_nul_long);
    tcase_add_test(tc, test_error_quotes_whole_characters);
    tcase_add_test(tc, test_json_find_nul_whole_characters);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(request_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
