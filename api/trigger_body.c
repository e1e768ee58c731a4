/*
 * trigger_body - the trigger and push bodies.
 */
#include "trigger_body.h"

#include <stdlib.h>
#include <string.h>

#include "gitref.h"
#include "request.h"

static const char *const trigger_keys[] = {"template", "inputs",       "ref",
                                           "commit",   "triggered_by", NULL};

void
trigger_body_free(trigger_body_t *t)
{
    free(t->ref);
    memset(t, 0, sizeof(*t));
}

int
trigger_body_parse(const cJSON *body, trigger_body_t *out, char *err, size_t errlen)
{
    const char *ref;

    memset(out, 0, sizeof(*out));
    if (body == NULL)
        return 0;
    if (!request_body_object(body, trigger_keys, err, errlen))
        goto fail;
    if (request_member_string(body, "template", gw_name_valid, "template must be a template name",
                              &out->template, err, errlen) < 0 ||
        request_member_object(body, "inputs", &out->inputs, err, errlen) < 0 ||
        request_member_string(body, "ref", NULL, "ref must be a string", &ref, err, errlen) < 0)
        goto fail;
    if (ref != NULL) {
        out->ref = gitref_normalise(ref);
        if (out->ref == NULL) {
            request_err(err, errlen, "ref is not a valid git ref or branch name");
            goto fail;
        }
    }
    if (request_member_string(body, "commit", gitref_commit_valid,
                              "commit must be a commit id (4 to 64 hex digits)", &out->commit, err,
                              errlen) < 0 ||
        request_member_string(body, "triggered_by", gw_uuid_valid, "triggered_by must be a uuid",
                              &out->triggered_by, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    trigger_body_free(out);
    return -1;
}

void
trigger_body_push_free(trigger_body_push_t *p)
{
    free(p->branch);
    memset(p, 0, sizeof(*p));
}

int
trigger_body_push_parse(const cJSON *body, trigger_body_push_t *out, char *err, size_t errlen)
{
    const cJSON *ref, *after, *before;
    bool zeros = true;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(body)) {
        request_err(err, errlen, "the body must be a JSON object (a push event)");
        return -1;
    }
    ref = cJSON_GetObjectItemCaseSensitive(body, "ref");
    after = cJSON_GetObjectItemCaseSensitive(body, "after");
    before = cJSON_GetObjectItemCaseSensitive(body, "before");
    if (!cJSON_IsString(ref) || !gitref_valid(ref->valuestring)) {
        request_err(err, errlen, "ref is required and must be a git ref");
        return -1;
    }
    if (!cJSON_IsString(after) || !gitref_object_id_valid(after->valuestring)) {
        request_err(err, errlen, "after is required and must be a commit id (40 or 64 hex digits)");
        return -1;
    }
    if (before != NULL && !cJSON_IsNull(before) && !cJSON_IsString(before)) {
        request_err(err, errlen, "before must be a string");
        return -1;
    }
    out->ref = ref->valuestring;
    out->after = after->valuestring;
    for (const char *p = after->valuestring; *p; p++)
        if (*p != '0')
            zeros = false;
    if (zeros)
        out->kind = TRIGGER_BODY_PUSH_DELETE;
    else if (strncmp(ref->valuestring, "refs/heads/", 11) == 0 && ref->valuestring[11] != '\0') {
        out->kind = TRIGGER_BODY_PUSH_BRANCH;
        out->branch = xstrdup(ref->valuestring + 11);
    } else
        out->kind = TRIGGER_BODY_PUSH_OTHER;
    return 0;
}
