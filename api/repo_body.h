/*
 * repo_body - the bodies of the endpoints that configure a repo: PUT
 * /repos/{repo} (repos.c) and PUT /repos/{repo}/templates/{template}
 * (attach.c).
 *
 * Pure, like request.h, so that every rule is unit-tested
 * (tests/unit/check_api_request.c) and fuzzed (tests/fuzz/fuzz_request.c).
 */
#ifndef GW_API_REPO_BODY_H
#define GW_API_REPO_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "util.h"

/* The body of PUT /repos/{repo}: which fields were given, and their values. */
typedef struct {
    bool has_clone_url;
    const char *clone_url;      /* borrowed; NULL clears it */
    const char *default_branch; /* borrowed; NULL: keep / default */
} repo_body_t;

/* Check a repo body (NULL = {}). Returns 0, or -1 with err filled. */
int repo_body_parse(const cJSON *body, repo_body_t *out, char *err, size_t errlen) GW_MUST_CHECK;

/* Check an attachment body {"inputs": {...}|null} (NULL = {}); *inputs is
 * the borrowed inputs object or NULL. Returns 0, or -1 with err filled. */
int repo_body_attach_parse(const cJSON *body, const cJSON **inputs, char *err,
                           size_t errlen) GW_MUST_CHECK;

#endif
