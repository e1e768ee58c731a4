/*
 * http - request contexts, replies (exactly one each), JSON bodies.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "log.h"

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
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {413, "Payload Too Large"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Entity"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
};

static const char *
http_reason(int code)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(http_reasons); i++)
        if (http_reasons[i].code == code)
            return http_reasons[i].reason;
    return "Unknown";
}

static const char *
http_method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
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
http_req_new(struct evhttp_request *ev, dbconn_t *db, const gw_config_t *cfg)
{
    http_req_t *r = xcalloc(1, sizeof(*r));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    enum evhttp_cmd_type m = evhttp_request_get_command(ev);

    r->ev = ev;
    r->db = db;
    r->cfg = cfg;
    r->start_ms = gw_now_ms();
    r->method = http_method_name(m);
    r->method_bit = m == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : (int)m;
    r->log_path = http_printable(raw_path ? raw_path : evhttp_request_get_uri(ev));
    r->path_ok = raw_path != NULL && request_path_split(raw_path, &r->path) == 0;

    r->body_len = in ? evbuffer_get_length(in) : 0;
    r->body = xmalloc(r->body_len + 1);
    if (r->body_len > 0 && evbuffer_copyout(in, r->body, r->body_len) != (ev_ssize_t)r->body_len)
        r->body_len = 0;
    r->body[r->body_len] = '\0';
    return r;
}

void
http_req_free(http_req_t *r)
{
    if (r == NULL)
        return;
    request_path_free(&r->path);
    request_query_free(&r->query);
    free(r->log_path);
    free(r->body);
    free(r);
}

const char *
http_header(const http_req_t *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

void
http_set_header(http_req_t *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

/* Send the reply; data (len bytes) may be NULL. The one place that calls
 * evhttp_send_reply, so the one place that counts replies. */
static void
http_send(http_req_t *r, int status, const char *content_type, const char *data, size_t len)
{
    struct evbuffer *buf;

    if (r->status != 0) {
        log_error("http", "bug: second reply %d to %s %s (already %d)", status, r->method,
                  r->log_path, r->status);
        return;
    }
    r->status = status;
    if (content_type != NULL)
        http_set_header(r, "Content-Type", content_type);
    http_set_header(r, "Cache-Control", "no-store");
    buf = evbuffer_new();
    if (buf == NULL) {
        log_error("http", "out of memory");
        abort();
    }
    if (data != NULL && len > 0)
        evbuffer_add(buf, data, len);
    evhttp_send_reply(r->ev, status, http_reason(status), buf);
    evbuffer_free(buf);
    /* Health probes (a compose healthcheck every few seconds) log at debug. */
    bool probe = status == 200 && (strstr(r->log_path, "/healthz") != NULL ||
                                   strstr(r->log_path, "/readyz") != NULL);
    gw_log(probe ? GW_LOG_DEBUG : GW_LOG_INFO, "http", "%s %s status=%d ms=%lld", r->method,
           r->log_path, status, (long long)(gw_now_ms() - r->start_ms));
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
http_reply_db_failure(http_req_t *r)
{
    dbconn_cleanup(r->db);
    if (!dbconn_ready(r->db)) {
        http_set_header(r, "Retry-After", "1");
        http_reply_error(r, 503, "database unavailable",
                         "the database cannot be reached; try again shortly");
        return;
    }
    http_reply_error(r, 500, "internal error",
                     "the database refused the request; the server log has the details");
}

void
http_reply_rows(http_req_t *r, PGresult *res, const char *key)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, key);
    int n = PQntuples(res);

    for (int i = 0; i < n; i++) {
        cJSON *item = http_json_from_db(PQgetvalue(res, i, 0));
        if (item == NULL)
            goto fail;
        cJSON_AddItemToArray(list, item);
    }
    PQclear(res);
    http_reply_json(r, 200, o);
    return;
fail:
    PQclear(res);
    cJSON_Delete(o);
    http_reply_error(r, 500, "internal error", "a stored value could not be read");
}

int
http_read_json(http_req_t *r, cJSON **out)
{
    const char *end = NULL;
    cJSON *v;

    *out = NULL;
    if (r->body_len == 0)
        return 0;
    if (!request_utf8_valid(r->body, r->body_len)) {
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

PGresult *
http_db(http_req_t *r, const char *what, const char *sql, int nparams, const char *const *params)
{
    return dbconn_exec(r->db, what, sql, nparams, params);
}

int
http_db_command(http_req_t *r, const char *what, const char *sql, int nparams,
                const char *const *params)
{
    return dbconn_command(r->db, what, sql, nparams, params);
}

cJSON *
http_json_from_db(const char *text)
{
    cJSON *v = cJSON_Parse(text);

    if (v == NULL)
        log_error("http", "could not parse JSON from the database");
    return v;
}
