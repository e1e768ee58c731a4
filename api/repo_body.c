/*
 * repo_body - the repo and attachment bodies.
 */
#include "repo_body.h"

#include <string.h>

#include "gitref.h"
#include "request.h"

/* A branch name: a git ref, but not a full one (refs/...). */
static bool
repo_branch_valid(const char *s)
{
    return strncmp(s, "refs/", 5) != 0 && gitref_valid(s);
}

static const char *const repo_keys[] = {"clone_url", "default_branch", NULL};

int
repo_body_parse(const cJSON *body, repo_body_t *out, char *err, size_t errlen)
{
    const cJSON *v;

    memset(out, 0, sizeof(*out));
    if (body == NULL)
        return 0;
    if (!request_body_object(body, repo_keys, err, errlen))
        return -1;
    v = cJSON_GetObjectItemCaseSensitive(body, "clone_url");
    if (v != NULL) {
        out->has_clone_url = true;
        if (!cJSON_IsNull(v)) {
            size_t n;
            if (!cJSON_IsString(v)) {
                request_err(err, errlen, "clone_url must be a string or null");
                return -1;
            }
            n = strlen(v->valuestring);
            if (n == 0 || n > 2048) {
                request_err(err, errlen, "clone_url must be 1 to 2048 bytes long");
                return -1;
            }
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)v->valuestring[i];
                if (c < 0x20 || c == 0x7f) {
                    request_err(err, errlen, "clone_url must not contain control characters");
                    return -1;
                }
            }
            out->clone_url = v->valuestring;
        }
    }
    return request_member_string(body, "default_branch", repo_branch_valid,
                                 "default_branch must be a branch name (without refs/heads/)",
                                 &out->default_branch, err, errlen);
}

static const char *const attach_keys[] = {"inputs", NULL};

int
repo_body_attach_parse(const cJSON *body, const cJSON **inputs, char *err, size_t errlen)
{
    *inputs = NULL;
    if (body == NULL)
        return 0;
    if (!request_body_object(body, attach_keys, err, errlen))
        return -1;
    return request_member_object(body, "inputs", inputs, err, errlen);
}
