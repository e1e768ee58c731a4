/*
 * search_query - the cursor of log search pages and the regular
 * expressions it accepts.
 */
#include "search_query.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "request.h"
#include "utf8.h"

char *
search_cursor_encode(const search_cursor_t *c)
{
    return xasprintf("%lld_%s_%lld_%lld", c->micros, c->job, c->offset, c->line);
}

int
search_cursor_decode(const char *s, search_cursor_t *c)
{
    char buf[128], *parts[4], *p;
    long long micros;

    if (s == NULL || strlen(s) >= sizeof(buf))
        return -1;
    snprintf(buf, sizeof(buf), "%s", s);
    p = buf;
    for (int i = 0; i < 4; i++) {
        parts[i] = p;
        p = strchr(p, '_');
        if ((p == NULL) != (i == 3))
            return -1;
        if (p != NULL)
            *p++ = '\0';
    }
    /* 0 .. year 9999 in microseconds: what a timestamptz can hold here. */
    if (request_parse_int(parts[0], 0, 253402300799999999LL, &micros) < 0 ||
        !gw_uuid_valid(parts[1]) || request_parse_int(parts[2], 0, 2147483647LL, &c->offset) < 0 ||
        request_parse_int(parts[3], 1, 2147483647LL, &c->line) < 0)
        return -1;
    c->micros = micros;
    memcpy(c->job, parts[1], 37);
    return 0;
}

/* A letter or digit to pg_trgm: ASCII alphanumerics, and any byte of a
 * multi-byte character (its letters, in a UTF-8 database). */
static bool
search_word_byte(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch >= 0x80;
}

/* Whether the atom ending before p is made optional by what follows. */
static bool
search_optional_after(const char *p)
{
    return p[0] == '?' || p[0] == '*' || (p[0] == '{' && p[1] == '0');
}

/* Whether the branch [s, end) of a regex at depth 0 has 3 word characters
 * in a row that every match must contain. */
static bool
search_branch_ok(const char *s, const char *end)
{
    int run = 0; /* characters in the current run of literals */
    const char *p = s;

    while (p < end) {
        unsigned char ch = (unsigned char)*p;
        size_t n = 1;

        if (ch == '\\') {
            /* \. \- ... are literal, but not word characters; \d \w ...
             * are classes. Either ends a run. */
            run = 0;
            p += p + 1 < end ? 2 : 1;
            continue;
        }
        if (ch == '[') {
            const char *q = p + 1;
            if (q < end && *q == '^')
                q++;
            if (q < end && *q == ']')
                q++;
            while (q < end && *q != ']')
                q++;
            run = 0;
            p = q < end ? q + 1 : end;
            continue;
        }
        if (ch == '(') {
            int depth = 1;
            const char *q = p + 1;
            while (q < end && depth > 0) {
                if (*q == '\\' && q + 1 < end)
                    q++;
                else if (*q == '(')
                    depth++;
                else if (*q == ')')
                    depth--;
                q++;
            }
            run = 0;
            p = q;
            continue;
        }
        if (!search_word_byte(ch)) {
            run = 0;
            p++;
            continue;
        }
        /* A word character (all bytes of a multi-byte one). */
        while (ch >= 0x80 && p + n < end && ((unsigned char)p[n] & 0xC0) == 0x80)
            n++;
        if (search_optional_after(p + n)) {
            run = 0;
        } else {
            run++;
            if (run >= 3)
                return true;
            /* + and {n} keep the character, but end the run. */
            if (p[n] == '+' || p[n] == '{')
                run = 0;
        }
        p += n;
    }
    return false;
}

const char *
search_regex_unindexable(const char *re)
{
    const char *start = re, *p = re;
    int depth = 0;
    bool in_bracket = false;

    if (re[0] == '\0')
        return "the regular expression is empty";
    if (strncmp(re, "(?", 2) == 0 || strncmp(re, "***", 3) == 0)
        return "embedded options are not supported (matching is without regard to case "
               "already)";
    if (strlen(re) > SEARCH_QUERY_MAX)
        return "the regular expression is longer than 1000 bytes";
    if (!utf8_valid(re, strlen(re)))
        return "the regular expression is not valid UTF-8";
    for (;; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (in_bracket) {
            if (*p == ']')
                in_bracket = false;
            else if (*p == '\0')
                break;
            continue;
        }
        if (*p == '[') {
            in_bracket = true;
            /* A ']' first in the bracket is a member. */
            if (p[1] == '^')
                p++;
            if (p[1] == ']')
                p++;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if ((*p == '|' && depth == 0) || *p == '\0') {
            if (!search_branch_ok(start, p))
                return "the regular expression cannot use the search index: each alternative "
                       "needs three letters or digits in a row that every match contains "
                       "(outside brackets and groups, not optional)";
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return NULL;
}

const char *
search_literal_invalid(const char *q)
{
    if (q[0] == '\0')
        return "q is empty";
    if (!utf8_valid(q, strlen(q)))
        return "q is not valid UTF-8";
    if (strlen(q) > SEARCH_QUERY_MAX)
        return "q is longer than 1000 bytes";
    if (strpbrk(q, "\r\n") != NULL)
        return "q holds a line break (a match is within one line)";
    return NULL;
}
