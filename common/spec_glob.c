/*
 * spec_glob - which events start a validated template: a manual trigger, a
 * push of a branch or a tag through the globs of `on.push`, and why a push
 * does not (spec_push_reason); and the glob match itself, in linear memory
 * and O(pattern * name) time whatever the pattern.
 */
#include "spec_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Whether one of the globs matches name. */
static bool
spec_globs_match(const cJSON *globs, const char *name)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, globs)
    {
        if (cJSON_IsString(it) && spec_glob_match(it->valuestring, name))
            return true;
    }
    return false;
}

/* Whether a push of branch (tag false) or tag name starts the template. */
static spec_push_match_t
spec_match_ref(const cJSON *tmpl, bool tag, const char *name)
{
    const cJSON *on = spec_get(tmpl, "on");
    const cJSON *push, *branches, *tags;

    if (on == NULL)
        return tag ? SPEC_PUSH_TAGS_NOT_ENABLED : SPEC_PUSH_STARTS;
    push = spec_get(on, "push");
    if (push == NULL)
        return SPEC_PUSH_NOT_ON_PUSH;
    branches = spec_get(push, "branches");
    tags = spec_get(push, "tags");
    if (tag) {
        if (tags == NULL)
            return SPEC_PUSH_TAGS_NOT_ENABLED;
        return spec_globs_match(tags, name) ? SPEC_PUSH_STARTS : SPEC_PUSH_TAG_NOT_MATCHED;
    }
    /* Without filters every branch starts it; a template that lists only
     * tags is a tag pipeline. */
    if (branches == NULL)
        return tags == NULL ? SPEC_PUSH_STARTS : SPEC_PUSH_BRANCHES_NOT_ENABLED;
    if (name == NULL)
        return SPEC_PUSH_BRANCH_NOT_MATCHED;
    return spec_globs_match(branches, name) ? SPEC_PUSH_STARTS : SPEC_PUSH_BRANCH_NOT_MATCHED;
}

bool
spec_matches_event(const cJSON *tmpl, const char *event, const char *branch)
{
    const cJSON *on = spec_get(tmpl, "on");

    if (event == NULL)
        return false;
    if (strcmp(event, "manual") == 0)
        return on == NULL || spec_get(on, "manual") != NULL;
    if (strcmp(event, "push") != 0)
        return false;
    return spec_match_ref(tmpl, false, branch) == SPEC_PUSH_STARTS;
}

spec_push_match_t
spec_match_push(const cJSON *tmpl, const char *ref)
{
    if (ref != NULL && strncmp(ref, "refs/heads/", 11) == 0 && ref[11] != '\0')
        return spec_match_ref(tmpl, false, ref + 11);
    if (ref != NULL && strncmp(ref, "refs/tags/", 10) == 0 && ref[10] != '\0')
        return spec_match_ref(tmpl, true, ref + 10);
    return SPEC_PUSH_NOT_BRANCH_OR_TAG;
}

const char *
spec_push_reason(spec_push_match_t m)
{
    switch (m) {
    case SPEC_PUSH_STARTS:
        return "started";
    case SPEC_PUSH_NOT_ON_PUSH:
        return "not on push";
    case SPEC_PUSH_BRANCH_NOT_MATCHED:
        return "branch not matched";
    case SPEC_PUSH_BRANCHES_NOT_ENABLED:
        return "branch pushes not enabled";
    case SPEC_PUSH_TAG_NOT_MATCHED:
        return "tag not matched";
    case SPEC_PUSH_TAGS_NOT_ENABLED:
        return "tag pushes not enabled";
    case SPEC_PUSH_NOT_BRANCH_OR_TAG:
        break;
    }
    return "not a branch or tag";
}

typedef enum { SPEC_GLOB_CHAR, SPEC_GLOB_ONE, SPEC_GLOB_STAR, SPEC_GLOB_STARSTAR } spec_glob_kind_t;

/* Branch glob match; `*` stops at '/', `**` does not, `?` is one non-'/'. */
bool
spec_glob_match(const char *pattern, const char *s)
{
    size_t np, ns, nt = 0;
    spec_glob_kind_t *kind;
    char *ch;
    bool *next, *cur, result;

    if (pattern == NULL || s == NULL)
        return false;
    np = strlen(pattern);
    ns = strlen(s);
    kind = xmalloc((np + 1) * sizeof(*kind));
    ch = xmalloc(np + 1);
    for (size_t i = 0; i < np; i++) {
        if (pattern[i] == '*' && pattern[i + 1] == '*') {
            kind[nt] = SPEC_GLOB_STARSTAR;
            i++;
        } else if (pattern[i] == '*') {
            kind[nt] = SPEC_GLOB_STAR;
        } else if (pattern[i] == '?') {
            kind[nt] = SPEC_GLOB_ONE;
        } else {
            kind[nt] = SPEC_GLOB_CHAR;
        }
        ch[nt++] = pattern[i];
    }

    /* Dynamic programming over (token, position) from the end, one row at a
     * time: linear memory and O(tokens * length) time even for patterns
     * full of stars, where backtracking would be exponential. */
    next = xcalloc(ns + 1, sizeof(bool));
    cur = xcalloc(ns + 1, sizeof(bool));
    next[ns] = true;
    for (size_t t = nt; t-- > 0;) {
        for (size_t j = ns + 1; j-- > 0;) {
            bool m = false;

            switch (kind[t]) {
            case SPEC_GLOB_CHAR:
                m = j < ns && s[j] == ch[t] && next[j + 1];
                break;
            case SPEC_GLOB_ONE:
                m = j < ns && s[j] != '/' && next[j + 1];
                break;
            case SPEC_GLOB_STAR:
                m = next[j] || (j < ns && s[j] != '/' && cur[j + 1]);
                break;
            case SPEC_GLOB_STARSTAR:
                m = next[j] || (j < ns && cur[j + 1]);
                break;
            }
            cur[j] = m;
        }
        bool *swap = next;
        next = cur;
        cur = swap;
    }
    result = next[0];
    free(kind);
    free(ch);
    free(next);
    free(cur);
    return result;
}
