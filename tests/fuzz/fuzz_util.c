/*
 * fuzz_util - helpers shared by the fuzz targets.
 */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

size_t
fuzz_utf8_next(const unsigned char *p, size_t len, bool *ok)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t n, k;

    *ok = false;
    if (c >= 0x01 && c <= 0x7F) {
        *ok = true;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return 1; /* NUL, a continuation byte, C0, C1, F5..FF */

    /* The second byte has the lead's range, the others 80..BF. */
    for (k = 1; k < n && k < len; k++) {
        if (p[k] < lo || p[k] > hi)
            break;
        lo = 0x80;
        hi = 0xBF;
    }
    *ok = k == n;
    return k;
}

bool
fuzz_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;
    bool ok;

    while (i < len) {
        i += fuzz_utf8_next(p + i, len - i, &ok);
        if (!ok)
            return false;
    }
    return true;
}

void
fuzz_check_message(const char *s, size_t cap, const char *what)
{
    size_t n = strnlen(s, cap);

    FUZZ_CHECK(n < cap, what);
    FUZZ_CHECK(fuzz_utf8_valid(s, n), what);
}

bool
fuzz_buf_equal(const buf_t *a, const buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);

    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}
