/*
 * http - request contexts, replies (exactly one each), JSON bodies.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "handlers.h"
#include "httpd.h"
#include "log.h"
#include "utf8.h"

/* The longest path kept for the access log. */
#define HTTP_LOG_PATH_MAX 200

static const struct {
    int code;
    const char *reason;
} http_reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {413, "Payload Too Large"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Entity"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

static const char *
http_reason(int code)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(http_reasons); i++)
        if (http_reasons[i].code == code)
            return http_reasons[i].reason;
    return "Unknown";
}

static const struct {
    const char *name;
    int bit;
} http_methods[] = {
    {"GET", EVHTTP_REQ_GET},     {"HEAD", EVHTTP_REQ_GET},      {"POST", EVHTTP_REQ_POST},
    {"PUT", EVHTTP_REQ_PUT},     {"DELETE", EVHTTP_REQ_DELETE}, {"OPTIONS", EVHTTP_REQ_OPTIONS},
    {"PATCH", EVHTTP_REQ_PATCH}, {"TRACE", EVHTTP_REQ_TRACE},   {"CONNECT", EVHTTP_REQ_CONNECT},
};

int
http_method_bit(const char *method)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(http_methods); i++)
        if (strcmp(http_methods[i].name, method) == 0)
            return http_methods[i].bit;
    return 0;
}

/* A printable copy of a client-controlled string for the log. */
static char *
http_printable(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *out;

    if (n > HTTP_LOG_PATH_MAX)
        n = HTTP_LOG_PATH_MAX;
    out = xstrndup(s ? s : "", n);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            *p = '?';
    return out;
}

http_req_t *
http_req_new(char *head_buf, const httpparse_head_t *h)
{
    http_req_t *r = xcalloc(1, sizeof(*r));
    char *raw_path = NULL;

    r->start_ms = gw_now_ms();
    r->head_buf = head_buf;
    buf_init(&r->out_headers);
    r->body = xstrdup("");
    r->keep_alive = false;
    if (h == NULL) {
        r->method = "-";
        r->log_path = xstrdup("-");
        return r;
    }
    r->head = *h;
    r->method = r->head.method;
    r->method_bit = http_method_bit(r->method);
    r->head_only = strcmp(r->method, "HEAD") == 0;
    r->keep_alive = r->head.keep_alive;
    /* The target is "/path?query"; a fragment is never sent. */
    const char *q = strchr(r->head.target, '?');
    raw_path = xstrndup(r->head.target, q ? (size_t)(q - r->head.target) : strlen(r->head.target));
    r->raw_query = q ? q + 1 : NULL;
    r->log_path = http_printable(raw_path);
    r->path_ok = request_path_split(raw_path, &r->path) == 0;
    free(raw_path);
    return r;
}

/* Free r and what it owns. */
static void
http_req_destroy(http_req_t *r)
{
    httpd_body_release(r);
    request_path_free(&r->path);
    request_query_free(&r->query);
    buf_free(&r->out_headers);
    free(r->log_path);
    free(r->body);
    free(r->head_buf);
    free(r);
}

void
http_req_free(http_req_t *r)
{
    if (r == NULL)
        return;
    if (r->in_flight > 0) {
        /* A statement's callback still has r: the last one frees it. The
         * server has let go of r, and of its connection (the server
         * itself outlives every statement: its database pool is freed
         * first). */
        r->conn = NULL;
        r->free_due = true;
        return;
    }
    http_req_destroy(r);
}

void
http_req_hold(http_req_t *r)
{
    r->held = true;
}

bool
http_req_client_gone(const http_req_t *r)
{
    return r->conn == NULL;
}

const char *
http_header(const http_req_t *r, const char *name)
{
    return httpparse_header(&r->head, name);
}

void
http_set_header(http_req_t *r, const char *name, const char *value)
{
    size_t at = r->out_headers.len;

    buf_printf(&r->out_headers, "%s: %s\r\n", name, value);
    /* A value must not end the header line early (header injection). */
    for (size_t i = at; i + 2 < r->out_headers.len; i++)
        if (r->out_headers.data[i] == '\r' || r->out_headers.data[i] == '\n')
            r->out_headers.data[i] = ' ';
}

/* Whether a header named name was set for the reply of r. */
static bool
http_has_out_header(const http_req_t *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->out_headers.data;

    while (p != NULL && *p != '\0') {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':')
            return true;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

/* Send the reply; data (len bytes) may be NULL. The one place that
 * serialises a reply, so the one place that counts replies. */
static void
http_send(http_req_t *r, int status, const char *content_type, const char *data, size_t len)
{
    buf_t wire;
    bool sent;

    if (r->status != 0) {
        log_error("http", "bug: second reply %d to %s %s (already %d)", status, r->method,
                  r->log_path, r->status);
        return;
    }
    r->status = status;
    buf_init(&wire);
    buf_printf(&wire, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
    if (content_type != NULL)
        buf_printf(&wire, "Content-Type: %s\r\n", content_type);
    /* Nothing is cached unless the handler says so (the web page's files). */
    if (!http_has_out_header(r, "Cache-Control"))
        buf_puts(&wire, "Cache-Control: no-store\r\n");
    if (r->out_headers.len > 0)
        buf_append(&wire, r->out_headers.data, r->out_headers.len);
    if (status != 204 && status != 304)
        buf_printf(&wire, "Content-Length: %zu\r\n", data != NULL ? len : 0);
    if (!r->keep_alive)
        buf_puts(&wire, "Connection: close\r\n");
    buf_puts(&wire, "\r\n");
    if (data != NULL && len > 0 && !r->head_only)
        buf_append(&wire, data, len);
    /* A request the server has let go of (freed while a statement was in
     * flight) has no connection nor server left to send on. */
    sent = !r->free_due && httpd_send(r, &wire);
    buf_free(&wire);
    /* Health probes (a compose healthcheck every few seconds) log at debug. */
    bool probe = status == 200 && (strstr(r->log_path, "/healthz") != NULL ||
                                   strstr(r->log_path, "/readyz") != NULL);
    int64_t ms = gw_now_ms() - r->start_ms;
    gw_log(probe ? GW_LOG_DEBUG : GW_LOG_INFO, "http", "%s %s status=%d ms=%lld%s", r->method,
           r->log_path, status, (long long)ms, sent ? "" : " dropped=client-gone");
    metrics_observe(r, status, ms);
}

int
http_stream_open(http_req_t *r, const char *content_type, const http_stream_cb_t *cb)
{
    httpd_stream_result_t res;
    buf_t head;

    if (r->status != 0) {
        log_error("http", "bug: a stream opened after a reply to %s %s", r->method, r->log_path);
        return -1;
    }
    if (r->head_only || r->free_due || r->conn == NULL) {
        /* No body to send: an ordinary reply (dropped if the client left). */
        http_send(r, 200, content_type, NULL, 0);
        return -1;
    }
    buf_init(&head);
    buf_printf(&head, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store\r\n",
               content_type);
    if (r->out_headers.len > 0)
        buf_append(&head, r->out_headers.data, r->out_headers.len);
    /* Proxies such as nginx would otherwise hold events back. */
    buf_puts(&head, "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n");
    r->keep_alive = false;
    res = httpd_stream_open(r, &head, cb);
    buf_free(&head);
    if (res == HTTPD_STREAM_FULL) {
        http_set_header(r, "Retry-After", "5");
        http_reply_error(r, 503, "too many streams",
                         "the server has as many live streams open as it allows "
                         "(GITWEAVE_API_MAX_STREAMS); try again later");
        return -1;
    }
    if (res == HTTPD_STREAM_GONE) {
        http_send(r, 200, content_type, NULL, 0);
        return -1;
    }
    r->status = 200;
    gw_log(GW_LOG_INFO, "http", "%s %s status=200 ms=%lld stream=open", r->method, r->log_path,
           (long long)(gw_now_ms() - r->start_ms));
    return 0;
}

bool
http_stream_write(http_req_t *r, const char *data, size_t len)
{
    return httpd_stream_write(r, data, len);
}

size_t
http_stream_pending(const http_req_t *r)
{
    return httpd_stream_pending(r);
}

void
http_stream_close(http_req_t *r)
{
    httpd_stream_close(r);
}

void
http_reply_raw(http_req_t *r, int status, const char *content_type, const char *data, size_t len)
{
    http_send(r, status, content_type, data, len);
}

void
http_reply_empty(http_req_t *r, int status)
{
    http_send(r, status, NULL, NULL, 0);
}

void
http_reply_json(http_req_t *r, int status, cJSON *body)
{
    static const char fallback[] =
        "{\"error\":\"internal error\",\"detail\":\"the reply could not be encoded\"}";
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;

    cJSON_Delete(body);
    if (text == NULL) {
        log_error("http", "could not encode a reply to %s %s", r->method, r->log_path);
        http_send(r, 500, "application/json", fallback, sizeof(fallback) - 1);
        return;
    }
    http_send(r, status, "application/json", text, strlen(text));
    cJSON_free(text);
}

cJSON *
http_error_new(const char *error, const char *detail)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "error", error);
    cJSON_AddStringToObject(o, "detail", detail);
    return o;
}

void
http_reply_error(http_req_t *r, int status, const char *error, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    http_reply_json(r, status, http_error_new(error, detail));
}

void
http_reply_db_failure(http_req_t *r, const PGresult *res)
{
    if (res == NULL) {
        http_set_header(r, "Retry-After", "1");
        http_reply_error(r, 503, "database unavailable",
                         "the database cannot be reached; try again shortly");
        return;
    }
    http_reply_error(r, 500, "internal error",
                     "the database refused the request; the server log has the details");
}

cJSON *
http_rows_object(const PGresult *res, int col, int n, const char *key)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, key);

    for (int i = 0; i < n; i++) {
        cJSON *item = http_json_from_db(PQgetvalue(res, i, col));
        if (item == NULL) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(list, item);
    }
    return o;
}

void
http_reply_rows(http_req_t *r, const PGresult *res, const char *key)
{
    cJSON *o = http_rows_object(res, 0, PQntuples(res), key);

    if (o == NULL)
        http_reply_error(r, 500, "internal error", "a stored value could not be read");
    else
        http_reply_json(r, 200, o);
}

int
http_read_json(http_req_t *r, cJSON **out)
{
    const char *end = NULL;
    cJSON *v;

    *out = NULL;
    if (r->body_len == 0)
        return 0;
    if (request_media_type(http_header(r, "Content-Type")) != REQUEST_MEDIA_JSON) {
        http_reply_error(r, 415, "unsupported media type",
                         "send the body with Content-Type: application/json");
        return -1;
    }
    if (!utf8_valid(r->body, r->body_len)) {
        http_reply_error(r, 400, "invalid body", "the body is not valid UTF-8 text");
        return -1;
    }
    /* The length includes the NUL terminator so that cJSON's check for
     * trailing bytes ("{} x") has something to stop at. */
    v = cJSON_ParseWithLengthOpts(r->body, r->body_len + 1, &end, true);
    if (v == NULL) {
        size_t at = end != NULL && end >= r->body ? (size_t)(end - r->body) : 0;
        http_reply_error(r, 400, "malformed JSON",
                         "the body is not a JSON value (error near byte %zu, or nested too "
                         "deeply)",
                         at);
        return -1;
    }
    *out = v;
    return 0;
}

/* A statement in flight for a request. */
typedef struct {
    http_req_t *r;
    const char *what; /* a string literal */
    http_db_fn fn;
    void *ctx;
} http_db_call_t;

/* A statement of r has run its callback. After the last one: free r if
 * the server let go of it meanwhile; else, if nothing replied and no
 * statement follows, answer 500 (a bug). */
static void
http_db_finished(http_req_t *r)
{
    if (--r->in_flight > 0)
        return;
    if (r->status == 0)
        log_error("http", "bug: no reply to %s %s after its last statement", r->method,
                  r->log_path);
    if (r->free_due) {
        http_req_destroy(r);
        return;
    }
    if (r->status == 0)
        http_reply_error(r, 500, "internal error", "the request was not answered");
}

static void
http_db_done(const PGresult *res, void *arg)
{
    http_db_call_t *call = arg;
    http_req_t *r = call->r;

    if (!pg_result_ok(res)) {
        char *msg = pg_result_error(res);
        log_error("db", "%s failed: %s sqlstate=%s", call->what, msg, pg_result_sqlstate(res));
        free(msg);
        http_reply_db_failure(r, res);
        res = NULL;
    }
    call->fn(r, res, call->ctx);
    free(call);
    http_db_finished(r);
}

void
http_db_async(http_req_t *r, const char *what, dbconn_stmt_t stmt, int nparams,
              const char *const *params, http_db_fn fn, void *ctx)
{
    http_db_call_t *call = xcalloc(1, sizeof(*call));

    call->r = r;
    call->what = what;
    call->fn = fn;
    call->ctx = ctx;
    http_req_hold(r);
    r->in_flight++;
    if (dbconn_query(r->db, stmt, nparams, params, http_db_done, call) < 0) {
        log_debug("db", "%s refused: the database is unavailable", what);
        http_db_done(NULL, call);
    }
}

/* Each element of the reply is the JSON of a row; the key is the ctx. */
static void
http_db_rows_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res != NULL)
        http_reply_rows(r, res, ctx);
}

void
http_db_reply_rows(http_req_t *r, const char *what, dbconn_stmt_t stmt, int nparams,
                   const char *const *params, const char *key)
{
    http_db_async(r, what, stmt, nparams, params, http_db_rows_done, (void *)key);
}

cJSON *
http_json_from_db(const char *text)
{
    cJSON *v = cJSON_Parse(text);

    if (v == NULL)
        log_error("http", "could not parse JSON from the database");
    return v;
}

void
http_reply_db_json(http_req_t *r, int status, const char *text)
{
    /* Postgres built it (json_build_object): sent as is, without a parse
     * and a print that would give the same bytes. */
    if (text == NULL || text[0] == '\0') {
        http_reply_error(r, 500, "internal error", "a stored value could not be read");
        return;
    }
    http_send(r, status, "application/json", text, strlen(text));
}

void
http_db_upserted(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL)
        return;
    http_reply_db_json(r, strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 201 : 200,
                       PQgetvalue(res, 0, 1));
}

void
http_db_deleted(http_req_t *r, const PGresult *res, void *ctx)
{
    const char *what = ctx;

    if (res == NULL)
        return;
    if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
        http_reply_error(r, 404, what[0] == 'r' ? "repo not found" : "template not found",
                         "there is no %s named \"%s\"", what, r->params[0]);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 2), "0") == 0) {
        http_reply_error(r, 409, what[0] == 'r' ? "repo in use" : "template in use",
                         "%s \"%s\" has %s queued or running run(s); cancel them or let them end, "
                         "then delete it",
                         what, r->params[0], PQgetvalue(res, 0, 1));
        return;
    }
    log_info("http", "deleted %s name=%s attachments=%s", what, r->params[0],
             PQgetvalue(res, 0, 3));
    http_reply_empty(r, 204);
}
