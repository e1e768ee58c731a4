/*
 * http - one API request: what it asked for, and its one reply.
 *
 * The server (httpd) builds an http_req_t for each request once its head
 * and body are read, the router fills in the path parameters, and a handler
 * answers with exactly one of the http_reply_* calls (a second one is
 * refused and logged; a handler that sends none and did not hold the
 * request gets a 500 from the server). Every reply writes one access log
 * line: method, path, status and milliseconds.
 *
 * Replying later (the contract for handlers that wait on the database): a
 * handler may call http_req_hold(r) and return without replying. The
 * server then keeps r alive, and the handler replies from a callback with
 * one http_reply_* call, after which it must not touch r again (the server
 * frees it on a later turn of the loop, never inside the reply call). If
 * the client closes its connection in the meantime, http_req_client_gone(r)
 * turns true and the reply, when it comes, is dropped (and logged) and r
 * freed; the handler may use that to skip work but must still reply. A
 * held request must be answered: the server frees the database layer
 * before itself so that pending callbacks answer first; a request still
 * held when the server is freed is freed with it.
 *
 * Statements: a handler that waits on the database starts its statement
 * with http_db_async, which holds r and counts the statement in flight;
 * the handler replies from the statement's callback (or starts the next
 * statement from it). While a statement of r is in flight, r is not freed
 * (http_req_free waits for its callback), so a reply sent early or a
 * client that leaves never frees r under a pending callback. When the last
 * statement of r has finished and nothing replied, r gets a 500 (logged
 * as a bug).
 *
 * Streams (Server-Sent Events, long text): instead of a reply, a handler
 * (or its callback) may open a stream with http_stream_open, write to it
 * as data comes, and end it with http_stream_close. The head is sent once
 * (200, no Content-Length, Connection: close); the access log line is
 * written when the stream opens. If the client leaves, on_gone runs and
 * the owner must let go of r; after http_stream_close, or a write that
 * returned false, no callback runs and r must not be touched again.
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
#include "httpparse.h"
#include "later.h"
#include "request.h"
#include "util.h"

struct httpd;
struct httpd_conn;
struct follow;

#define HTTP_MAX_PARAMS 4

typedef struct http_req {
    dbconn_t *db;                        /* borrowed from the server */
    const gw_config_t *cfg;              /* borrowed from the server */
    struct follow *follow;               /* borrowed from the server: live streams */
    const char *method;                  /* "GET", "POST", ... */
    int method_bit;                      /* EVHTTP_REQ_* (HEAD counts as GET) */
    char *log_path;                      /* the raw path, made printable, for logs */
    bool path_ok;                        /* whether path parsed */
    request_path_t path;                 /* decoded segments */
    const char *params[HTTP_MAX_PARAMS]; /* path parameters, borrowed from path */
    const char *raw_query;               /* the query string as sent, or NULL */
    request_query_t query;               /* parsed by the router */
    char *body;                          /* NUL-terminated copy of the body */
    size_t body_len;
    int64_t start_ms;
    int status;        /* 0 until replied */
    const char *route; /* the route's pattern (for metrics), NULL if none matched */

    /* Owned by the server (httpd); handlers use the functions below. */
    struct httpd *server;    /* the server that made the request */
    struct httpd_conn *conn; /* its connection; NULL once the client has gone */
    char *head_buf;          /* the request head, split in place by httpparse */
    httpparse_head_t head;   /* request line and header fields */
    buf_t out_headers;       /* header lines of the reply */
    bool head_only;          /* HEAD: the reply has no body */
    bool keep_alive;         /* the connection serves another request after this */
    bool held;               /* http_req_hold was called */
    struct http_req *next;   /* in the server's list of held requests */
    size_t body_charge;      /* bytes of its body counted in the server's budget */
    later_t later;           /* an orphan replied to: freed on the next loop turn */

    /* Owned by http.c: statements of http_db_async. */
    int in_flight; /* statements whose callback has not run yet */
    bool free_due; /* http_req_free was called while one was in flight */
} http_req_t;

/*
 * A request context for the head in head_buf (taken; parsed into *h, which
 * is copied), or for a request whose head could not be parsed (head_buf and
 * h NULL: method and path "-"). Splits the path and query. The body is
 * empty until the server sets it. Free with http_req_free (which does not
 * reply); while a statement of r is in flight the free waits for its
 * callback (r's connection is forgotten at once).
 */
http_req_t *http_req_new(char *head_buf, const httpparse_head_t *h);
void http_req_free(http_req_t *r);

/* The EVHTTP_REQ_* bit of a method name, HEAD as GET; 0 if unknown. */
int http_method_bit(const char *method);

/*
 * Keep r after the handler returns without a reply: the handler (or its
 * callback) replies later. See the file comment for the contract.
 */
void http_req_hold(http_req_t *r);
/* Whether the client of r has closed its connection. */
bool http_req_client_gone(const http_req_t *r);

/* A request header (borrowed), or NULL. */
const char *http_header(const http_req_t *r, const char *name);
/* Add a header to the reply (copied; CR and LF become spaces). Call before
 * the reply. */
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
 * row of res (text from json_build_object); res is borrowed. */
void http_reply_rows(http_req_t *r, const PGresult *res, const char *key);
/* An object whose array `key` holds the JSON texts of column col of the
 * first n rows; NULL when one of them is not JSON. Caller owns it. */
cJSON *http_rows_object(const PGresult *res, int col, int n, const char *key);
/* After a failed statement (res NULL: the database was unreachable or the
 * connection lost): 503, else 500. Never echoes the libpq message. */
void http_reply_db_failure(http_req_t *r, const PGresult *res);

/*
 * The body as JSON: returns 0 with *out the parsed value (caller frees with
 * cJSON_Delete) or NULL for an empty body; or -1 after replying 415 (the
 * body is not Content-Type application/json) or 400 (invalid UTF-8,
 * malformed JSON, trailing bytes, nesting too deep).
 */
int http_read_json(http_req_t *r, cJSON **out) GW_MUST_CHECK;

/*
 * The continuation of a handler: res is the successful result (borrowed),
 * or NULL when the statement failed, in which case the request has been
 * answered already (503 or 500, logged) and fn only frees ctx.
 */
typedef void (*http_db_fn)(http_req_t *r, const PGresult *res, void *ctx);

/*
 * Run a statement for r on the pool (prepared when it is one of
 * queries.h's): holds r (http_req_hold) and keeps it from being freed
 * until fn has run. fn runs from the loop, or at once (with NULL, after a
 * 503) when the database is unavailable: call this last in a handler.
 * fn replies, or starts the next statement; if neither, r gets a 500.
 * When the client has gone, fn still runs and its reply is dropped.
 * Failures are logged under `what`.
 */
void http_db_async(http_req_t *r, const char *what, dbconn_stmt_t stmt, int nparams,
                   const char *const *params, http_db_fn fn, void *ctx);

/* A handler of one statement: reply 200 {"<key>": [...]} from its rows
 * (see http_reply_rows). */
void http_db_reply_rows(http_req_t *r, const char *what, dbconn_stmt_t stmt, int nparams,
                        const char *const *params, const char *key);

/* An http_db_fn for an upsert whose row is (created, json): replies 201
 * if created, else 200, with the JSON. */
void http_db_upserted(http_req_t *r, const PGresult *res, void *ctx);

/* An http_db_fn for SQL_DELETE_UNUSED of the repo or template named
 * r->params[0]; ctx is the static string "repo" or "template". Replies 204,
 * 404, or 409 while queued or running runs use it. */
void http_db_deleted(http_req_t *r, const PGresult *res, void *ctx);

/* Reply with the JSON text produced by Postgres (json_build_object), as
 * is (copied); 500 if there is none. */
void http_reply_db_json(http_req_t *r, int status, const char *text);

/* A stream's callbacks (either may be NULL); arg is the owner's. */
typedef struct {
    void (*on_drain)(http_req_t *r, void *arg); /* everything written has gone out */
    void (*on_gone)(http_req_t *r, void *arg);  /* the client left: forget r */
    void *arg;
} http_stream_cb_t;

/*
 * Answer r with a stream of content_type (cb is copied). Returns 0 when
 * open: write with http_stream_write, end with http_stream_close. Returns
 * -1 when there is nothing to write: the client has gone, a HEAD request
 * got its head, or too many streams are open (503 JSON). r then belongs
 * to the server as after any reply.
 */
int http_stream_open(http_req_t *r, const char *content_type,
                     const http_stream_cb_t *cb) GW_MUST_CHECK;
/* Queue len bytes. Returns false when the stream is over (the client is
 * gone, or fell too far behind and was dropped): forget r. */
bool http_stream_write(http_req_t *r, const char *data, size_t len) GW_MUST_CHECK;
/* Bytes queued and not yet sent. */
size_t http_stream_pending(const http_req_t *r);
/* Send what is queued, then close. Forget r afterwards. */
void http_stream_close(http_req_t *r);

/* Parse a JSON text produced by Postgres (json_build_object, jsonb::text).
 * Returns the value (caller frees), or NULL after logging. */
cJSON *http_json_from_db(const char *text);

#endif
