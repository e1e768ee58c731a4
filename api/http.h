/*
 * http - one API request: what it asked for, and its one reply.
 *
 * The server builds an http_req_t for each evhttp request, the router fills
 * in the path parameters, and a handler answers with exactly one of the
 * http_reply_* calls (a second one is refused and logged; a handler that
 * sends none gets a 500 from the server). Every reply writes one access log
 * line: method, path, status and milliseconds.
 *
 * Errors are JSON: {"error": "<what failed>", "detail": "<why>"}, plus
 * fields of their own where useful ("field", "line", "column").
 */
#ifndef GW_API_HTTP_H
#define GW_API_HTTP_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dbconn.h"
#include "request.h"
#include "util.h"

struct evhttp_request;

#define HTTP_MAX_PARAMS 4

typedef struct {
    struct evhttp_request *ev;           /* borrowed from libevent */
    dbconn_t *db;                        /* borrowed from the server */
    const gw_config_t *cfg;              /* borrowed from the server */
    const char *method;                  /* "GET", "POST", ... */
    int method_bit;                      /* EVHTTP_REQ_* (HEAD counts as GET) */
    char *log_path;                      /* the raw path, made printable, for logs */
    bool path_ok;                        /* whether path parsed */
    request_path_t path;                 /* decoded segments */
    const char *params[HTTP_MAX_PARAMS]; /* path parameters, borrowed from path */
    request_query_t query;               /* parsed by the router */
    char *body;                          /* NUL-terminated copy of the body */
    size_t body_len;
    int64_t start_ms;
    int status; /* 0 until replied */
} http_req_t;

/*
 * Build the request context of an evhttp request: copies the body, splits
 * the path. Free with http_req_free (which does not reply).
 */
http_req_t *http_req_new(struct evhttp_request *ev, dbconn_t *db, const gw_config_t *cfg);
void http_req_free(http_req_t *r);

/* A request header (borrowed), or NULL. */
const char *http_header(const http_req_t *r, const char *name);
/* Add a header to the reply (copied). Call before the reply. */
void http_set_header(http_req_t *r, const char *name, const char *value);

/* Reply with a JSON value; takes ownership of body. */
void http_reply_json(http_req_t *r, int status, cJSON *body);
/* Reply with bytes of a content type (copied). */
void http_reply_raw(http_req_t *r, int status, const char *content_type, const char *data,
                    size_t len);
/* Reply with no body (204). */
void http_reply_empty(http_req_t *r, int status);
/* Reply {"error": error, "detail": printf(fmt, ...)}. */
void http_reply_error(http_req_t *r, int status, const char *error, const char *fmt, ...)
    GW_PRINTF(4, 5);
/* A new error object {"error", "detail"} to add fields to before replying
 * with http_reply_json (the caller owns it until then). */
cJSON *http_error_new(const char *error, const char *detail);
/* Reply 200 {"<key>": [...]} with the JSON objects in column 0 of every
 * row of res (text from json_build_object); takes res. */
void http_reply_rows(http_req_t *r, PGresult *res, const char *key);
/* After a failed dbconn_exec: 503 if the database is unreachable, else 500.
 * Rolls back a transaction left open. Never echoes the libpq message. */
void http_reply_db_failure(http_req_t *r);

/*
 * The body as JSON: returns 0 with *out the parsed value (caller frees with
 * cJSON_Delete) or NULL for an empty body; or -1 after replying 400
 * (invalid UTF-8, malformed JSON, trailing bytes, nesting too deep).
 */
int http_read_json(http_req_t *r, cJSON **out) GW_MUST_CHECK;

/* Shorthands for dbconn_exec / dbconn_command on the request's connection. */
PGresult *http_db(http_req_t *r, const char *what, const char *sql, int nparams,
                  const char *const *params) GW_MUST_CHECK;
int http_db_command(http_req_t *r, const char *what, const char *sql, int nparams,
                    const char *const *params) GW_MUST_CHECK;

/* Parse a JSON text produced by Postgres (json_build_object, jsonb::text).
 * Returns the value (caller frees), or NULL after logging. */
cJSON *http_json_from_db(const char *text);

#endif
