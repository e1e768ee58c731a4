/*
 * search_query - what a log search asks for, checked with no I/O: the
 * cursor of its pages and whether a regular expression can use the
 * trigram index (tests/unit/check_search_query.c).
 */
#ifndef GW_API_SEARCH_QUERY_H
#define GW_API_SEARCH_QUERY_H

#include "util.h"

/* The longest search string, in bytes. A line crossing a chunk boundary
 * is matched on its last 1,024 characters before the boundary. */
#define SEARCH_QUERY_MAX 1000

/*
 * The key of a line of a search's pages: its chunk's stored time
 * (microseconds since the Unix epoch), job and byte offset, and the line's
 * number. Written "<micros>_<job>_<offset>_<line>"; clients treat it as
 * opaque.
 */
typedef struct {
    long long micros;
    char job[37];
    long long offset;
    long long line;
} search_cursor_t;

/* A new string (caller frees). */
char *search_cursor_encode(const search_cursor_t *c);
/* Returns 0, or -1 for a malformed cursor. */
int search_cursor_decode(const char *s, search_cursor_t *c) GW_MUST_CHECK;

/*
 * Why a POSIX regular expression (Postgres's ARE syntax) cannot use the
 * trigram index, or NULL when it can: each of its top-level alternatives
 * must hold three letters or digits in a row that every match contains
 * (outside brackets and groups, and not made optional by ?, * or {0,}).
 * Embedded options are refused too (matching is without regard to case
 * already). The reason is a static string for the client.
 */
const char *search_regex_unindexable(const char *re);

/* Why a literal search string is refused (empty, too long, holds a line
 * break), or NULL. A static string for the client. */
const char *search_literal_invalid(const char *q);

#endif
