/*
 * request - pure parsing of what a client sends to the API, at the HTTP level.
 *
 * Paths, query strings, integers, list cursors, header values and NUL
 * characters in JSON texts are parsed here, with no I/O and no libevent, so
 * that every rule about client input can be unit-tested
 * (tests/unit/check_api_request.c). The body of each endpoint is checked
 * beside its handler (trigger_body.h, repo_body.h) with the helpers at the
 * end of this file. Error messages written to `err` are meant for the
 * client: lowercase, no final period, no internals.
 */
#ifndef GW_API_REQUEST_H
#define GW_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "util.h"

/* The most path segments a request may have (more is never a route). */
#define REQUEST_MAX_SEGMENTS 16
/* The most parameters a query string may have. */
#define REQUEST_MAX_PARAMS 32
/* Room for an error message written by the parsers. */
#define REQUEST_ERR_LEN 256

/* A path split into percent-decoded segments. */
typedef struct {
    char *seg[REQUEST_MAX_SEGMENTS];
    size_t n;
} request_path_t;

/*
 * Percent-decode len bytes of s; with plus_space, '+' decodes to a space
 * (query strings). Returns a new NUL-terminated string (caller frees), or
 * NULL if s holds a malformed escape or an escape of NUL.
 */
char *request_percent_decode(const char *s, size_t len, bool plus_space) GW_MUST_CHECK;

/*
 * Split a raw (still encoded) path such as "/api/v1/repos/a%2Db" into its
 * decoded segments. Empty segments ("//", a trailing "/") are kept as "" so
 * that they never match a route by accident. Returns 0, or -1 if the path
 * does not start with '/', has too many segments or a malformed escape
 * (out is then empty). Free with request_path_free.
 */
int request_path_split(const char *raw, request_path_t *out) GW_MUST_CHECK;
void request_path_free(request_path_t *p);

/* A parsed query string: decoded names and values, in order. */
typedef struct {
    char *name[REQUEST_MAX_PARAMS];
    char *value[REQUEST_MAX_PARAMS];
    size_t n;
} request_query_t;

/*
 * Parse a raw query string (without '?'; NULL or "" is empty). "a" alone
 * has the value "". Returns 0, or -1 with err filled for a malformed
 * escape, too many parameters, or a name given twice. Free with
 * request_query_free (also after a failure).
 */
int request_query_parse(const char *raw, request_query_t *out, char *err,
                        size_t errlen) GW_MUST_CHECK;
void request_query_free(request_query_t *q);
/* The value of a parameter, or NULL if absent (borrowed from q). */
const char *request_query_get(const request_query_t *q, const char *name);

/*
 * Parse a decimal integer made only of digits (no sign, no spaces, no
 * leading '+') within [min, max]. Returns 0, or -1 for anything else,
 * including an overflow.
 */
int request_parse_int(const char *s, long long min, long long max, long long *out) GW_MUST_CHECK;

/*
 * The cursor of a run list: the position just after the last run of a page,
 * made of the run's created_at (microseconds since the Unix epoch) and id,
 * written "<micros>_<uuid>". Clients treat it as opaque.
 * request_cursor_encode returns a new string (caller frees);
 * request_cursor_decode returns 0, or -1 for a malformed cursor.
 */
char *request_cursor_encode(long long micros, const char *id);
int request_cursor_decode(const char *s, long long *micros, char id[37]) GW_MUST_CHECK;

/* The message for a string that holds a NUL character, after its field. */
#define REQUEST_NUL_MESSAGE "contains a NUL character (\\u0000), which is not allowed"

/*
 * Find a NUL character written as the escape \u0000 in a string of a JSON
 * text that has parsed (cJSON cuts the decoded string there, so the value
 * would silently differ from what was sent). Returns true with field set
 * to the path of the first such string ("inputs.MSG", "jobs[0].script[1]";
 * for a key, the path ends with the key as written; "" for the whole
 * text), or false.
 */
bool request_json_find_nul(const char *text, size_t len, char *field, size_t fieldlen);

typedef enum {
    REQUEST_MEDIA_NONE,  /* no Content-Type */
    REQUEST_MEDIA_JSON,  /* application/json, anything +json */
    REQUEST_MEDIA_YAML,  /* application/yaml, application/x-yaml, text/yaml */
    REQUEST_MEDIA_OTHER, /* anything else */
} request_media_t;

/* Classify a Content-Type header value (NULL when absent); parameters such
 * as "; charset=utf-8" are ignored, case does not matter. */
request_media_t request_media_type(const char *content_type);

/*
 * Whether an Accept header prefers YAML over JSON: the best q of the YAML
 * types is above 0 and above that of application/json (or, when JSON is
 * not named, of the wildcards); on a tie the type listed first wins.
 */
bool request_accept_prefers_yaml(const char *accept);

/* Write a message for the client to err (nothing if err is NULL). */
void request_err(char *err, size_t errlen, const char *fmt, ...) GW_PRINTF(3, 4);

/* Whether body is a JSON object whose keys are all among known
 * (NULL-terminated); if not, err says why (naming the first unknown key). */
bool request_body_object(const cJSON *body, const char *const *known, char *err, size_t errlen);

/*
 * The optional member key of body, a string: *out is its value (borrowed
 * from body) when it is there and not null, else NULL. -1 with msg in err
 * when it is not a string, or valid (unless NULL) rejects it.
 */
int request_member_string(const cJSON *body, const char *key, bool (*valid)(const char *),
                          const char *msg, const char **out, char *err,
                          size_t errlen) GW_MUST_CHECK;

/*
 * The optional member key of body, an object: *out is it when it is there
 * and not null, else NULL. -1 with "KEY must be an object" in err when it
 * is something else.
 */
int request_member_object(const cJSON *body, const char *key, const cJSON **out, char *err,
                          size_t errlen) GW_MUST_CHECK;

#endif
