/*
 * utf8 - UTF-8 validation and cutting. See utf8.h.
 */
#include "utf8.h"

#include <string.h>

bool
utf8_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

bool
utf8_lead(unsigned char c, size_t *need, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        *need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        *need = 2;
        if (c == 0xE0)
            *lo = 0xA0;
        else if (c == 0xED)
            *hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        *need = 3;
        if (c == 0xF0)
            *lo = 0x90;
        else if (c == 0xF4)
            *hi = 0x8F;
    } else {
        return false;
    }
    return true;
}

bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t need;
        unsigned char lo, hi;

        if (p[i] == 0)
            return false;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (!utf8_lead(p[i], &need, &lo, &hi) || len - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (!utf8_is_cont(p[i + k]))
                return false;
        i += need + 1;
    }
    return true;
}

size_t
utf8_cut(const char *s, size_t n)
{
    size_t i = n, cont = 0, need;
    unsigned char c;

    /* Step back over at most three continuation bytes to the lead byte. */
    while (i > 0 && cont < 3 && utf8_is_cont((unsigned char)s[i - 1])) {
        i--;
        cont++;
    }
    if (i == 0)
        return n; /* no lead byte: not UTF-8 text, left alone */
    c = (unsigned char)s[i - 1];
    need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > cont + 1 ? i - 1 : n;
}

void
utf8_trim(char *s)
{
    s[utf8_cut(s, strlen(s))] = '\0';
}
