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
} trigger_body_t;

/*
 * Check and take apart a trigger body (NULL = empty body = {}). Refuses a
 * body that is not an object, unknown fields, and fields of the wrong type
 * or form. Returns 0, or -1 with err filled. Free with trigger_body_free.
 */
int trigger_body_parse(const cJSON *body, trigger_body_t *out, char *err,
                       size_t errlen) GW_MUST_CHECK;
void trigger_body_free(trigger_body_t *t);

typedef enum {
    TRIGGER_BODY_PUSH_BRANCH, /* a push to refs/heads/<branch> */
    TRIGGER_BODY_PUSH_DELETE, /* a branch or tag deleted (after = zeros) */
    TRIGGER_BODY_PUSH_OTHER,  /* a tag or another ref: the templates' filters decide */
} trigger_body_push_kind_t;

/* The parts of a push hook payload (GitHub, Gitea) that matter. */
typedef struct {
    trigger_body_push_kind_t kind;
    const char *ref;   /* borrowed from the body */
    const char *after; /* borrowed: the pushed commit */
    char *branch;      /* owned: ref without refs/heads/ (BRANCH only) */
} trigger_body_push_t;

/*
 * Check and take apart a push payload: "ref" and "after" are required
 * strings (a valid ref; 40 or 64 hex digits), other fields are ignored.
 * Returns 0, or -1 with err filled. Free with trigger_body_push_free.
 */
int trigger_body_push_parse(const cJSON *body, trigger_body_push_t *out, char *err,
                            size_t errlen) GW_MUST_CHECK;
void trigger_body_push_free(trigger_body_push_t *p);

#endif
