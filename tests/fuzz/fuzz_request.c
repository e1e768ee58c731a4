/*
 * fuzz_request - the pure parsers of api/request.c, gitref.c, trigger_body.c,
 * repo_body.c and the listen address of common/config.c on whatever a client can
 * send: the input is used at once as a path, a query string, a number, a
 * list cursor, a listen address, a Content-Type and an Accept header, a ref
 * and a commit id (up to its first NUL, as the HTTP layer hands on C
 * strings), and as the JSON body of each endpoint that takes one (first
 * looked through for a \u0000 escape, as the endpoints do).
 *
 * Invariants checked beyond "no crash, leak or sanitizer report": the
 * module's UTF-8 validator agrees with an independent one; every parsed
 * result respects its documented bounds and forms; a cursor read back
 * encodes to itself; every error message is valid UTF-8 (it goes to the
 * client in JSON).
 */
#include "fuzz_util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gitref.h"
#include "repo_body.h"
#include "request.h"
#include "trigger_body.h"
#include "utf8.h"

static void
fuzz_path(const char *s)
{
    request_path_t p;
    size_t slashes = 0;

    if (request_path_split(s, &p) < 0) {
        FUZZ_CHECK(p.n == 0, "a refused path has no segments");
        return;
    }
    for (const char *c = s; *c; c++)
        slashes += *c == '/';
    FUZZ_CHECK(s[0] == '/', "a path starts with '/'");
    FUZZ_CHECK(p.n == slashes && p.n <= REQUEST_MAX_SEGMENTS, "one segment per '/'");
    request_path_free(&p);
}

static void
fuzz_query(const char *s)
{
    request_query_t q;
    char err[REQUEST_ERR_LEN] = "";

    if (request_query_parse(s, &q, err, sizeof(err)) < 0) {
        fuzz_check_message(err, sizeof(err), "query error is valid UTF-8");
        FUZZ_CHECK(err[0] != '\0', "a refused query says why");
        FUZZ_CHECK(q.n == 0, "a refused query has no parameters");
        return;
    }
    FUZZ_CHECK(q.n <= REQUEST_MAX_PARAMS, "at most REQUEST_MAX_PARAMS parameters");
    for (size_t i = 0; i < q.n; i++)
        FUZZ_CHECK(request_query_get(&q, q.name[i]) == q.value[i], "names are unique");
    request_query_free(&q);
}

static void
fuzz_numbers(const char *s)
{
    long long v, micros, again_micros;
    char id[37], again_id[37], *host, *enc;
    int port;

    if (request_parse_int(s, 0, LLONG_MAX, &v) == 0) {
        FUZZ_CHECK(s[0] != '\0' && strspn(s, "0123456789") == strlen(s), "only digits");
        FUZZ_CHECK(v == strtoll(s, NULL, 10), "the value of the digits");
    }
    if (request_parse_int(s, 1, 100, &v) == 0)
        FUZZ_CHECK(v >= 1 && v <= 100, "within the bounds");

    if (request_cursor_decode(s, &micros, id) == 0) {
        FUZZ_CHECK(micros >= 0, "a cursor time is not negative");
        enc = request_cursor_encode(micros, id);
        FUZZ_CHECK(request_cursor_decode(enc, &again_micros, again_id) == 0,
                   "an encoded cursor decodes");
        FUZZ_CHECK(again_micros == micros && strcmp(again_id, id) == 0,
                   "a cursor reads back as written");
        free(enc);
    }

    if (config_parse_addr(s, &host, &port) == 0) {
        FUZZ_CHECK(host != NULL && host[0] != '\0', "an address has a host");
        FUZZ_CHECK(port >= 0 && port <= 65535, "a port is 0..65535");
        free(host);
    } else {
        FUZZ_CHECK(host == NULL, "a refused address leaves no host");
    }
}

static void
fuzz_headers_and_refs(const char *s)
{
    size_t n = strlen(s);
    char *ref;

    (void)request_media_type(s);
    (void)request_accept_prefers_yaml(s);

    ref = gitref_normalise(s);
    FUZZ_CHECK((ref != NULL) == gitref_valid(s), "a valid ref normalises");
    if (ref != NULL) {
        FUZZ_CHECK(strncmp(ref, "refs/", 5) == 0, "a normalised ref starts with refs/");
        FUZZ_CHECK(strcmp(ref, s) == 0 || strcmp(ref + 11, s) == 0,
                   "normalising only adds refs/heads/");
        free(ref);
    }
    FUZZ_CHECK(gitref_commit_valid(s) ==
                   (n >= 4 && n <= 64 && strspn(s, "0123456789abcdefABCDEF") == n),
               "a commit id is 4 to 64 hex digits");
}

static void
fuzz_body_error(int rc, const char *err)
{
    if (rc < 0) {
        fuzz_check_message(err, REQUEST_ERR_LEN, "body error is valid UTF-8");
        FUZZ_CHECK(err[0] != '\0', "a refused body says why");
    }
}

/* The endpoints' bodies, parsed as http_read_json does. */
static void
fuzz_bodies(const uint8_t *data, size_t size)
{
    trigger_body_t trig;
    trigger_body_push_t push;
    repo_body_t repo;
    const cJSON *inputs;
    char err[REQUEST_ERR_LEN];
    const char *end = NULL;
    char *text;
    cJSON *body;
    int rc;

    if (!utf8_valid((const char *)data, size))
        return;
    text = fuzz_strndup(data, size);
    body = cJSON_ParseWithLengthOpts(text, size + 1, &end, true);
    /* The endpoints refuse a parsed body with a \u0000 escape, naming the
     * field in the error. */
    if (body != NULL && request_json_find_nul(text, size, err, sizeof(err))) {
        fuzz_check_message(err, sizeof(err), "the field holding a NUL is valid UTF-8");
        FUZZ_CHECK(memmem(text, size, "\\u0000", 6) != NULL, "a NUL is found only if written");
    }
    free(text);
    if (body == NULL)
        return;

    err[0] = '\0';
    rc = trigger_body_parse(body, &trig, err, sizeof(err));
    fuzz_body_error(rc, err);
    if (rc == 0) {
        FUZZ_CHECK(trig.ref == NULL || strncmp(trig.ref, "refs/", 5) == 0,
                   "a trigger's ref is normalised");
        FUZZ_CHECK(trig.inputs == NULL || cJSON_IsObject(trig.inputs), "inputs is an object");
    }
    trigger_body_free(&trig);

    err[0] = '\0';
    rc = trigger_body_push_parse(body, &push, err, sizeof(err));
    fuzz_body_error(rc, err);
    if (rc == 0) {
        FUZZ_CHECK(gitref_valid(push.ref), "a pushed ref is valid");
        FUZZ_CHECK((push.kind == TRIGGER_BODY_PUSH_BRANCH) == (push.branch != NULL),
                   "a branch push names its branch");
        FUZZ_CHECK(push.branch == NULL || push.branch[0] != '\0', "a branch name is not empty");
    }
    trigger_body_push_free(&push);

    err[0] = '\0';
    rc = repo_body_parse(body, &repo, err, sizeof(err));
    fuzz_body_error(rc, err);
    if (rc == 0 && repo.clone_url != NULL)
        FUZZ_CHECK(strlen(repo.clone_url) <= 2048, "a clone URL is at most 2048 bytes");

    err[0] = '\0';
    rc = repo_body_attach_parse(body, &inputs, err, sizeof(err));
    fuzz_body_error(rc, err);
    if (rc == 0)
        FUZZ_CHECK(inputs == NULL || cJSON_IsObject(inputs), "attached inputs are an object");

    cJSON_Delete(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    FUZZ_CHECK(utf8_valid((const char *)data, size) == fuzz_utf8_valid(data, size),
               "the UTF-8 validators agree");

    /* Header values and URLs reach the parsers as C strings. */
    s = fuzz_strndup(data, size);
    fuzz_path(s);
    fuzz_query(s);
    fuzz_numbers(s);
    fuzz_headers_and_refs(s);
    free(s);

    fuzz_bodies(data, size);
    return 0;
}
