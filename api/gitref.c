/*
 * gitref - git ref and commit id rules.
 */
#include "gitref.h"

#include <ctype.h>
#include <string.h>

#include "util.h"

bool
gitref_valid(const char *s)
{
    size_t n;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/' || s[n - 1] == '.')
        return false;
    if (n >= 5 && strcmp(s + n - 5, ".lock") == 0)
        return false;
    if (strstr(s, "..") != NULL || strstr(s, "@{") != NULL || strstr(s, "//") != NULL ||
        strstr(s, "/.") != NULL || strstr(s, ".lock/") != NULL || s[0] == '.' ||
        strcmp(s, "@") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == ' ' || strchr("~^:?*[\\", c) != NULL)
            return false;
    }
    return true;
}

char *
gitref_normalise(const char *ref)
{
    if (!gitref_valid(ref))
        return NULL;
    if (strncmp(ref, "refs/", 5) == 0)
        return xstrdup(ref);
    /* "refs/heads/" + 255 bytes is still a sane ref. */
    return xasprintf("refs/heads/%s", ref);
}

static bool
gitref_hex_run(const char *s, size_t min, size_t max)
{
    size_t n;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool
gitref_commit_valid(const char *s)
{
    return gitref_hex_run(s, 4, 64);
}

bool
gitref_object_id_valid(const char *s)
{
    return gitref_hex_run(s, 40, 64) && (strlen(s) == 40 || strlen(s) == 64);
}
