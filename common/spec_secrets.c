/*
 * spec_secrets - how a template names a secret: an env value that is the
 * expression `${{ secrets.NAME }}` alone (see spec.h). Anywhere else the
 * expression is refused (spec_expand.c), since script lines are echoed into
 * the log and an image name is stored in the clear.
 */
#include "spec_int.h"

#include <stdio.h>
#include <string.h>

bool
spec_secret_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > SPEC_SECRET_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

bool
spec_secret_ref(const char *text, char *name, size_t cap)
{
    size_t len = strlen(text), n;
    const char *s, *close;

    if (len < 5 || memcmp(text, "${{", 3) != 0)
        return false;
    close = strstr(text + 3, "}}");
    if (close == NULL || close + 2 != text + len)
        return false;
    s = text + 3;
    while (s < close && (*s == ' ' || *s == '\t'))
        s++;
    n = (size_t)(close - s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n <= 8 || memcmp(s, "secrets.", 8) != 0 || !spec_secret_name_valid(s + 8, n - 8))
        return false;
    if (name != NULL)
        snprintf(name, cap, "%.*s", (int)(n - 8), s + 8);
    return true;
}
