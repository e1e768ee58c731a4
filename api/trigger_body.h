/*
 * trigger_body - the bodies of the endpoints that start runs (trigger.c):
 * POST /repos/{repo}/pipelines/run and the push hook.
 *
 * Pure, like request.h, so that every rule is unit-tested
 * (tests/unit/check_api_request.c) and fuzzed (tests/fuzz/fuzz_request.c).
 */
#ifndef GW_API_TRIGGER_BODY_H
#define GW_API_TRIGGER_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "util.h"

/*
 * The body of POST /repos/{repo}/pipelines/run. Strings are borrowed from
 * the cJSON body, except ref, which is normalised (owned).
 */
typedef struct {
    const char *template;     /* NULL: pick the one attached */
    const cJSON *inputs;      /* an object, or NULL */
    char *ref;                /* normalised, or NULL: the default branch */
    const char *commit;       /* or NULL */
    const char *triggered_by; /* a uuid, or NULL */
} request_trigger_t;

/*
 * Check and take apart a trigger body (NULL = empty body = {}). Refuses a
 * body that is not an object, unknown fields, and fields of the wrong type
 * or form. Returns 0, or -1 with err filled. Free with request_trigger_free.
 */
int request_trigger_parse(const cJSON *body, request_trigger_t *out, char *err,
                          size_t errlen) GW_MUST_CHECK;
void request_trigger_free(request_trigger_t *t);

typedef enum {
    REQUEST_PUSH_BRANCH, /* a push to refs/heads/<branch> */
    REQUEST_PUSH_DELETE, /* a branch or tag deleted (after = zeros) */
    REQUEST_PUSH_OTHER,  /* a tag or another ref: the templates' filters decide */
} request_push_kind_t;

/* The parts of a push hook payload (GitHub, Gitea) that matter. */
typedef struct {
    request_push_kind_t kind;
    const char *ref;   /* borrowed from the body */
    const char *after; /* borrowed: the pushed commit */
    char *branch;      /* owned: ref without refs/heads/ (BRANCH only) */
} request_push_t;

/*
 * Check and take apart a push payload: "ref" and "after" are required
 * strings (a valid ref; 40 or 64 hex digits), other fields are ignored.
 * Returns 0, or -1 with err filled. Free with request_push_free.
 */
int request_push_parse(const cJSON *body, request_push_t *out, char *err,
                       size_t errlen) GW_MUST_CHECK;
void request_push_free(request_push_t *p);

#endif
