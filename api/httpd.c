/*
 * httpd - connections, their deadlines, the listener, held requests.
 *
 * A connection is a small state machine: HEAD (reading a request head),
 * BODY, HANDLE (the handler has the request; it may hold it), WRITE (the
 * reply is going out), LINGER (after an early refusal: our side is shut,
 * what the client still sends is read and dropped for a moment so that it
 * sees the reply rather than a reset). One timer per connection carries
 * whichever deadline applies.
 *
 * Why one file of this length: it is that one state machine over two
 * structs, and its parts reach into each other. The listener pauses and
 * backs off on the count of connections that opening and closing one
 * keeps; a held request outlives its connection as an orphan that
 * httpd_send answers and gives to later_free (common/later.h); the stream calls move a
 * connection between states. Apart, each part would need both structs in
 * a shared header and would still call into the others. What does stand
 * apart is apart: the parser (httpparse.c) and the replies (http.c).
 */
#include "httpd.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"

/* The largest request head (request line and fields). */
#define HTTPD_MAX_HEAD (16 * 1024)
/* Reading pauses when this much is buffered and not yet consumed. */
#define HTTPD_READ_HIGH (64 * 1024)
/* How long a refused client may keep sending before the close. */
#define HTTPD_LINGER_MS 1000
/* Connections past the cap that are answered 503; past these, accepting
 * pauses until one closes. */
#define HTTPD_REJECT_EXTRA 64
/* Warnings about refused or paused accepting: at most one per this long. */
#define HTTPD_WARN_EVERY_MS 60000
/* The pause after a failed accept() doubles from the first to the last. */
#define HTTPD_BACKOFF_FIRST_MS 100
#define HTTPD_BACKOFF_MAX_MS 1000
/* Unsent bytes of a stream past which its client is dropped: a follower
 * that stops reading must not grow the server without bound. */
#define HTTPD_STREAM_MAX_PENDING (1024 * 1024)

typedef enum { ST_HEAD, ST_BODY, ST_HANDLE, ST_WRITE, ST_LINGER, ST_STREAM } httpd_state_t;

typedef struct httpd_conn {
    httpd_t *srv;
    struct bufferevent *bev;
    struct event *timer;
    httpd_state_t state;
    http_req_t *r;    /* the current request; owned until it is replied and written */
    bool got_bytes;   /* part of the current head has arrived */
    bool body_unread; /* closing now would leave request bytes unread */
    buf_t body;
    size_t body_charge; /* ST_BODY: bytes of body counted in the server's budget */
    httpparse_chunked_t chunked;
    http_stream_cb_t stream_cb;  /* ST_STREAM: the owner's callbacks */
    bool stream_done;            /* ST_STREAM: ended by its owner or dropped */
    LIST_ENTRY(httpd_conn) link; /* in the server's conns */
} httpd_conn_t;

struct httpd {
    struct event_base *base;
    struct evconnlistener *lev;
    httpd_limits_t lim;
    bool loopback;
    int port;
    httpd_admit_fn admit;
    httpd_handle_fn handle;
    void *arg;
    LIST_HEAD(, httpd_conn) conns;
    int nconns;
    int nstreams;        /* connections in ST_STREAM */
    size_t body_bytes;   /* the budget's bytes in use: bodies being read, and those of requests
                            not yet freed (at most lim.body_budget) */
    http_req_t *orphans; /* held requests whose client has gone */
    struct event *backoff;
    int backoff_ms;
    bool accept_failing; /* accept() failed, not yet accepted since */
    bool paused_cap;     /* not accepting: too many connections */
    int64_t warned_ms;   /* when a limit was last logged */
    long unlogged;       /* limit events since then, not logged */
};

static void httpd_conn_read_head(httpd_conn_t *c);
static void httpd_conn_read_body(httpd_conn_t *c);

static void
httpd_arm(httpd_conn_t *c, int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

/* Count n more bytes of a body in the budget (and in *charge, the body's
 * count). Returns false, counting nothing, when they do not fit. */
static bool
httpd_body_charge(httpd_t *h, size_t *charge, size_t n)
{
    if (n > h->lim.body_budget - h->body_bytes)
        return false;
    h->body_bytes += n;
    *charge += n;
    return true;
}

/* Give a body's bytes (*charge) back to the budget. */
static void
httpd_body_uncharge(httpd_t *h, size_t *charge)
{
    h->body_bytes -= *charge;
    *charge = 0;
}

void
httpd_body_release(http_req_t *r)
{
    if (r->body_charge > 0)
        httpd_body_uncharge(r->server, &r->body_charge);
}

/* Whether to log a limit event now: the first, then one a minute (with the
 * count of those in between, returned in *skipped). */
static bool
httpd_warn_now(httpd_t *h, long *skipped)
{
    int64_t now = gw_now_ms();

    if (h->warned_ms != 0 && now - h->warned_ms < HTTPD_WARN_EVERY_MS) {
        h->unlogged++;
        return false;
    }
    *skipped = h->unlogged;
    h->unlogged = 0;
    h->warned_ms = now;
    return true;
}

static void
httpd_update_listener(httpd_t *h)
{
    bool full = h->nconns >= h->lim.max_connections + HTTPD_REJECT_EXTRA;
    long skipped;

    if (full && !h->paused_cap) {
        h->paused_cap = true;
        evconnlistener_disable(h->lev);
        if (httpd_warn_now(h, &skipped))
            log_warn("http", "not accepting connections: %d open (%ld such events unlogged)",
                     h->nconns, skipped);
    } else if (!full && h->paused_cap) {
        h->paused_cap = false;
        if (!h->accept_failing)
            evconnlistener_enable(h->lev);
    }
}

/* Unlink and free a connection. A held request not yet answered outlives
 * it as an orphan; any other request goes with it. */
static void
httpd_conn_close(httpd_conn_t *c)
{
    httpd_t *h = c->srv;

    if (c->r != NULL) {
        if (c->r->held && c->r->status == 0) {
            c->r->conn = NULL;
            c->r->next = h->orphans;
            h->orphans = c->r;
        } else {
            http_req_free(c->r);
        }
    }
    if (c->state == ST_STREAM)
        h->nstreams--;
    LIST_REMOVE(c, link);
    h->nconns--;
    bufferevent_free(c->bev);
    event_free(c->timer);
    buf_free(&c->body);
    httpd_body_uncharge(h, &c->body_charge);
    free(c);
    httpd_update_listener(h);
}

/* The request to answer an error on: the current one if it has no reply
 * yet, else a stand-in. The connection closes after the reply. */
static http_req_t *
httpd_error_req(httpd_conn_t *c)
{
    if (c->r == NULL || c->r->status != 0) {
        http_req_free(c->r);
        c->r = http_req_new(NULL, NULL);
        c->r->server = c->srv;
        c->r->conn = c;
    }
    c->r->keep_alive = false;
    return c->r;
}

static void httpd_fail(httpd_conn_t *c, int status, const char *error, const char *fmt, ...)
    GW_PRINTF(4, 5);

/* Answer an error that stops the request here; the body, if any, is not read. */
static void
httpd_fail(httpd_conn_t *c, int status, const char *error, const char *fmt, ...)
{
    http_req_t *r = httpd_error_req(c);
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    evtimer_del(c->timer);
    http_reply_json(r, status, http_error_new(error, detail));
}

/* The body budget is spent: 503 before (or instead of reading the rest
 * of) the body. */
static void
httpd_busy(httpd_conn_t *c)
{
    httpd_t *h = c->srv;
    long skipped;

    if (httpd_warn_now(h, &skipped))
        log_warn("http",
                 "refusing a request body: %zu bytes of bodies held, the budget is %zu (%ld such "
                 "events unlogged)",
                 h->body_bytes, h->lim.body_budget, skipped);
    http_set_header(httpd_error_req(c), "Retry-After", "1");
    httpd_fail(c, 503, "server busy",
               "the server holds as many request bodies as it allows "
               "(GITWEAVE_API_BODY_BUDGET_BYTES); try again shortly");
}

/* An orphan replied to, from the loop (later.h). */
static void
httpd_req_free(void *arg)
{
    http_req_free(arg);
}

bool
httpd_send(http_req_t *r, const buf_t *wire)
{
    httpd_conn_t *c = r->conn;
    httpd_t *h = r->server;

    if (c == NULL) {
        /* A held request whose client has gone: the reply's caller still
         * has it, so it is freed on the next turn. Its body leaves the
         * budget now, so that the free needs nothing of the server. */
        for (http_req_t **p = &h->orphans; *p != NULL; p = &(*p)->next) {
            if (*p == r) {
                *p = r->next;
                break;
            }
        }
        httpd_body_release(r);
        later_free(h->base, &r->later, r, httpd_req_free);
        return false;
    }
    if (bufferevent_write(c->bev, wire->data, wire->len) < 0) {
        log_error("http", "out of memory");
        abort();
    }
    c->state = ST_WRITE;
    return true;
}

httpd_stream_result_t
httpd_stream_open(http_req_t *r, const buf_t *head, const http_stream_cb_t *cb)
{
    httpd_conn_t *c = r->conn;
    httpd_t *h = r->server;

    if (c == NULL)
        return HTTPD_STREAM_GONE;
    if (h->nstreams >= h->lim.max_streams)
        return HTTPD_STREAM_FULL;
    if (bufferevent_write(c->bev, head->data, head->len) < 0) {
        log_error("http", "out of memory");
        abort();
    }
    h->nstreams++;
    c->state = ST_STREAM;
    c->stream_cb = *cb;
    c->stream_done = false;
    evtimer_del(c->timer);
    return HTTPD_STREAM_OPEN;
}

/* Stop calling the owner; close once the queued bytes are out (at once if
 * none are), never inside the owner's call. */
static void
httpd_stream_finish(httpd_conn_t *c)
{
    c->stream_done = true;
    memset(&c->stream_cb, 0, sizeof(c->stream_cb));
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        httpd_arm(c, 0);
}

bool
httpd_stream_write(http_req_t *r, const char *data, size_t len)
{
    httpd_conn_t *c = r->conn;
    size_t pending;

    if (c == NULL || c->state != ST_STREAM || c->stream_done)
        return false;
    pending = evbuffer_get_length(bufferevent_get_output(c->bev));
    if (pending + len > HTTPD_STREAM_MAX_PENDING) {
        log_warn("http", "dropping a stream whose client does not keep up: %s %s unsent=%zu",
                 r->method, r->log_path, pending);
        evbuffer_drain(bufferevent_get_output(c->bev), pending);
        httpd_stream_finish(c);
        return false;
    }
    if (bufferevent_write(c->bev, data, len) < 0) {
        log_error("http", "out of memory");
        abort();
    }
    return true;
}

size_t
httpd_stream_pending(const http_req_t *r)
{
    return r->conn != NULL ? evbuffer_get_length(bufferevent_get_output(r->conn->bev)) : 0;
}

void
httpd_stream_close(http_req_t *r)
{
    httpd_conn_t *c = r->conn;

    if (c != NULL && c->state == ST_STREAM && !c->stream_done)
        httpd_stream_finish(c);
}

/* The request is complete: hand it to the handler. */
static void
httpd_dispatch(httpd_conn_t *c)
{
    http_req_t *r = c->r;

    c->state = ST_HANDLE;
    evtimer_del(c->timer);
    c->srv->handle(r, c->srv->arg);
    if (r->status == 0 && !r->held) {
        log_error("http", "bug: no reply to %s %s", r->method, r->log_path);
        http_reply_error(r, 500, "internal error", "the request was not answered");
    }
}

/* An allowed Origin gets the CORS headers; a preflight is answered here.
 * Returns false if the request was answered. */
static bool
httpd_cors(httpd_conn_t *c, const char *origin, bool has_body)
{
    http_req_t *r = c->r;

    http_set_header(r, "Access-Control-Allow-Origin", origin);
    http_set_header(r, "Vary", "Origin");
    if (strcmp(r->method, "OPTIONS") != 0 ||
        http_header(r, "Access-Control-Request-Method") == NULL)
        return true;
    http_set_header(r, "Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE");
    http_set_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    http_set_header(r, "Access-Control-Max-Age", "600");
    r->keep_alive = r->keep_alive && !has_body;
    c->body_unread = has_body;
    http_reply_empty(r, 204);
    return false;
}

/* The head is in: check it, then read the body or dispatch. */
static void
httpd_conn_admit(httpd_conn_t *c)
{
    httpd_t *h = c->srv;
    http_req_t *r = c->r;
    bool has_body = r->head.chunked || r->head.content_length > 0;
    const char *host = http_header(r, "Host");
    const char *origin = NULL;
    request_media_t media;

    c->body_unread = has_body;
    if (r->method_bit == 0) {
        httpd_fail(c, 501, "not implemented", "the method %.32s is not supported", r->method);
        return;
    }
    if (h->loopback && host != NULL && !httpparse_host_is_loopback(host)) {
        httpd_fail(c, 421, "misdirected request",
                   "this server listens on a loopback address and answers only requests for "
                   "localhost, 127.0.0.1 or [::1]");
        return;
    }
    for (size_t i = 0; i < r->head.nheaders; i++) {
        if (strcasecmp(r->head.headers[i].name, "Origin") != 0)
            continue;
        origin = r->head.headers[i].value;
        if (!httpparse_origin_same_host(origin, host) &&
            !httpparse_origin_allowed(origin, h->lim.allowed_origins)) {
            httpd_fail(c, 403, "forbidden origin",
                       "requests from the web origin \"%.200s\" are refused (see "
                       "GITWEAVE_ALLOWED_ORIGINS)",
                       origin);
            return;
        }
    }
    if (origin != NULL && !httpd_cors(c, origin, has_body))
        return;
    /* A refusal before a body closes the connection: the body is not read. */
    r->keep_alive = r->head.keep_alive && !has_body;
    if (!h->admit(r, h->arg)) {
        if (r->status == 0)
            http_reply_error(r, 500, "internal error", "the request was not answered");
        return;
    }
    r->keep_alive = r->head.keep_alive;
    if (!has_body) {
        c->body_unread = false;
        httpd_dispatch(c);
        return;
    }
    media = request_media_type(http_header(r, "Content-Type"));
    if (media != REQUEST_MEDIA_JSON && media != REQUEST_MEDIA_YAML) {
        httpd_fail(c, 415, "unsupported media type",
                   "a request body must be sent with Content-Type: application/json (or "
                   "application/yaml where a resource takes YAML)");
        return;
    }
    if (r->head.content_length > (int64_t)h->lim.max_body) {
        httpd_fail(c, 413, "payload too large", "the body is larger than %zu bytes",
                   h->lim.max_body);
        return;
    }
    /* A chunked body is counted as it comes; one of a known length at
     * once, in a buffer of that size. */
    if (r->head.chunked ? h->body_bytes >= h->lim.body_budget
                        : !httpd_body_charge(h, &c->body_charge, (size_t)r->head.content_length)) {
        httpd_busy(c);
        return;
    }
    buf_free(&c->body);
    if (!r->head.chunked) {
        c->body.cap = (size_t)r->head.content_length + 1;
        c->body.data = xmalloc(c->body.cap);
        c->body.data[0] = '\0';
    }
    if (r->head.expect_continue)
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    c->state = ST_BODY;
    memset(&c->chunked, 0, sizeof(c->chunked));
    httpd_arm(c, (int64_t)h->lim.body_timeout * 1000);
    httpd_conn_read_body(c);
}

static void
httpd_conn_read_head(httpd_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    httpparse_head_t head;
    httpparse_error_t err;
    size_t len, hl;
    char *p, *buf;

    /* Empty lines before a request line are allowed (RFC 9112 2.2). */
    while ((len = evbuffer_get_length(in)) > 0) {
        unsigned char ch = *evbuffer_pullup(in, 1);
        if (ch != '\r' && ch != '\n')
            break;
        evbuffer_drain(in, 1);
    }
    if (len == 0)
        return;
    if (!c->got_bytes) {
        c->got_bytes = true;
        httpd_arm(c, (int64_t)c->srv->lim.header_timeout * 1000);
    }
    if (len > HTTPD_MAX_HEAD + 3)
        len = HTTPD_MAX_HEAD + 3;
    p = (char *)evbuffer_pullup(in, (ev_ssize_t)len);
    hl = httpparse_head_len(p, len);
    if (hl == 0 && len < HTTPD_MAX_HEAD + 3)
        return;
    if (hl == 0 || hl > HTTPD_MAX_HEAD) {
        httpd_fail(c, 431, "request header fields too large",
                   "the request head is larger than %d bytes", HTTPD_MAX_HEAD);
        return;
    }
    buf = xmalloc(hl + 1);
    evbuffer_remove(in, buf, hl);
    buf[hl] = '\0';
    if (httpparse_head(buf, hl, &head, &err) < 0) {
        free(buf);
        c->body_unread = true;
        httpd_fail(c, err.status, err.error, "%s", err.detail);
        return;
    }
    c->r = http_req_new(buf, &head);
    c->r->server = c->srv;
    c->r->conn = c;
    evtimer_del(c->timer);
    httpd_conn_admit(c);
}

static void
httpd_conn_read_body(httpd_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    http_req_t *r = c->r;
    size_t len = evbuffer_get_length(in);
    bool done = false;

    if (!r->head.chunked) {
        size_t want = (size_t)r->head.content_length - c->body.len;
        if (len > want)
            len = want;
        buf_append(&c->body, evbuffer_pullup(in, (ev_ssize_t)len), len);
        evbuffer_drain(in, len);
        done = c->body.len == (size_t)r->head.content_length;
    } else if (len > 0) {
        httpd_t *h = c->srv;
        httpparse_error_t err;
        /* Up to the largest body, or to what the budget has left. */
        size_t room = c->body.len + (h->lim.body_budget - h->body_bytes);
        size_t max = room < h->lim.max_body ? room : h->lim.max_body;
        ssize_t n = httpparse_chunked(&c->chunked, (const char *)evbuffer_pullup(in, -1), len,
                                      &c->body, max, &done, &err);
        if (n < 0 && err.status == 413 && max < h->lim.max_body) {
            httpd_busy(c);
            return;
        }
        if (n < 0) {
            httpd_fail(c, err.status, err.error, "%s", err.detail);
            return;
        }
        evbuffer_drain(in, (size_t)n);
        if (!httpd_body_charge(h, &c->body_charge, c->body.len - c->body_charge)) {
            log_error("http", "bug: a chunked body passed the budget");
            abort();
        }
    }
    if (!done)
        return;
    c->body_unread = false;
    free(r->body);
    r->body_len = c->body.len;
    r->body = buf_steal(&c->body);
    /* The body's bytes stay counted until r is freed. */
    r->body_charge = c->body_charge;
    c->body_charge = 0;
    httpd_dispatch(c);
}

static void
httpd_on_read(struct bufferevent *bev, void *arg)
{
    httpd_conn_t *c = arg;

    switch (c->state) {
    case ST_HEAD:
        httpd_conn_read_head(c);
        break;
    case ST_BODY:
        httpd_conn_read_body(c);
        break;
    case ST_LINGER:
    case ST_STREAM: {
        /* Nothing is expected; reading on is how a close is noticed. */
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        break;
    }
    case ST_HANDLE:
    case ST_WRITE:
        /* The next request waits in the buffer (up to HTTPD_READ_HIGH). */
        break;
    }
}

/* The output is written: serve the next request, or close. */
static void
httpd_on_write(struct bufferevent *bev, void *arg)
{
    httpd_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (c->state == ST_STREAM) {
        if (c->stream_done)
            httpd_conn_close(c);
        else if (c->stream_cb.on_drain != NULL)
            c->stream_cb.on_drain(c->r, c->stream_cb.arg);
        return;
    }
    if (c->state != ST_WRITE)
        return; /* a 100 Continue went out */
    if (c->r->keep_alive) {
        http_req_free(c->r);
        c->r = NULL;
        c->state = ST_HEAD;
        c->got_bytes = false;
        httpd_arm(c, (int64_t)c->srv->lim.idle_timeout * 1000);
        httpd_conn_read_head(c);
        return;
    }
    if (!c->body_unread && evbuffer_get_length(in) == 0) {
        httpd_conn_close(c);
        return;
    }
    /* Shut our side, then read and drop what the client still sends. */
    c->state = ST_LINGER;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_enable(bev, EV_READ);
    httpd_arm(c, HTTPD_LINGER_MS);
}

static void
httpd_on_event(struct bufferevent *bev, short what, void *arg)
{
    httpd_conn_t *c = arg;

    /* A client that only shut its sending side still gets its reply. */
    if (c->state == ST_WRITE && (what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        c->r->keep_alive = false;
        c->body_unread = false;
        return;
    }
    /* A stream's client left (or stopped reading past the write timeout):
     * its owner lets go of the request before it is freed. */
    if (c->state == ST_STREAM && (what & BEV_EVENT_TIMEOUT))
        log_warn("http", "dropping a stream whose client stopped reading for %d seconds: %s %s",
                 c->srv->lim.idle_timeout, c->r->method, c->r->log_path);
    if (c->state == ST_STREAM && !c->stream_done && c->stream_cb.on_gone != NULL)
        c->stream_cb.on_gone(c->r, c->stream_cb.arg);
    httpd_conn_close(c);
}

static void
httpd_on_timer(evutil_socket_t fd, short what, void *arg)
{
    httpd_conn_t *c = arg;

    if (c->state == ST_HEAD && c->got_bytes) {
        httpd_fail(c, 408, "request timeout", "the request head did not arrive within %d seconds",
                   c->srv->lim.header_timeout);
        c->body_unread = true;
    } else if (c->state == ST_BODY) {
        httpd_fail(c, 408, "request timeout", "the body did not arrive within %d seconds",
                   c->srv->lim.body_timeout);
    } else {
        httpd_conn_close(c);
    }
}

static void
httpd_on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                void *arg)
{
    httpd_t *h = arg;
    httpd_conn_t *c;
    struct timeval wtv = {.tv_sec = h->lim.idle_timeout, .tv_usec = 0};
    int one = 1;

    if (h->accept_failing) {
        h->accept_failing = false;
        log_debug("http", "accepting connections again");
    }
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = xcalloc(1, sizeof(*c));
    c->srv = h;
    c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(h->base, httpd_on_timer, c);
    if (c->bev == NULL || c->timer == NULL) {
        log_error("http", "could not set up a connection");
        if (c->bev != NULL)
            bufferevent_free(c->bev);
        else
            close(fd);
        if (c->timer != NULL)
            event_free(c->timer);
        free(c);
        return;
    }
    buf_init(&c->body);
    LIST_INSERT_HEAD(&h->conns, c, link);
    h->nconns++;
    bufferevent_setcb(c->bev, httpd_on_read, httpd_on_write, httpd_on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, HTTPD_READ_HIGH);
    bufferevent_set_timeouts(c->bev, NULL, &wtv);
    bufferevent_enable(c->bev, EV_READ);
    c->state = ST_HEAD;
    if (h->nconns > h->lim.max_connections) {
        http_req_t *r = httpd_error_req(c);
        c->body_unread = true;
        http_set_header(r, "Retry-After", "1");
        http_reply_error(r, 503, "too many connections",
                         "the server has %d connections open, its limit; try again shortly",
                         h->lim.max_connections);
    } else {
        httpd_arm(c, (int64_t)h->lim.header_timeout * 1000);
    }
    httpd_update_listener(h);
}

/* accept() failed for want of descriptors or memory: stop listening for a
 * moment instead of retrying at once (libevent would spin). */
static void
httpd_on_accept_error(struct evconnlistener *lev, void *arg)
{
    httpd_t *h = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv;
    long skipped;

    if (!h->accept_failing) {
        h->accept_failing = true;
        h->backoff_ms = HTTPD_BACKOFF_FIRST_MS;
        if (httpd_warn_now(h, &skipped))
            log_warn("http",
                     "could not accept a connection: %s; pausing with back-off (%d open, %ld "
                     "such events unlogged)",
                     strerror(err), h->nconns, skipped);
    } else if (h->backoff_ms < HTTPD_BACKOFF_MAX_MS) {
        h->backoff_ms *= 2;
        if (h->backoff_ms > HTTPD_BACKOFF_MAX_MS)
            h->backoff_ms = HTTPD_BACKOFF_MAX_MS;
    }
    evconnlistener_disable(lev);
    tv.tv_sec = h->backoff_ms / 1000;
    tv.tv_usec = (h->backoff_ms % 1000) * 1000;
    evtimer_add(h->backoff, &tv);
}

static void
httpd_on_backoff(evutil_socket_t fd, short what, void *arg)
{
    httpd_t *h = arg;

    if (!h->paused_cap)
        evconnlistener_enable(h->lev);
}

static bool
httpd_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

httpd_t *
httpd_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
          const httpd_limits_t *lim, httpd_admit_fn admit, httpd_handle_fn handle, void *arg)
{
    httpd_t *h = xcalloc(1, sizeof(*h));
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    h->base = base;
    h->lim = *lim;
    if (h->lim.allowed_origins == NULL)
        h->lim.allowed_origins = "";
    h->admit = admit;
    h->handle = handle;
    h->arg = arg;
    LIST_INIT(&h->conns);
    h->loopback = httpd_is_loopback(sa);
    h->backoff = evtimer_new(base, httpd_on_backoff, h);
    if (h->backoff == NULL) {
        log_error("http", "could not create the server's timers");
        goto fail;
    }
    h->lev = evconnlistener_new_bind(
        base, httpd_on_accept, h, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
        511, sa, (int)salen);
    if (h->lev == NULL) {
        log_error("http", "could not listen: %s", strerror(errno));
        goto fail;
    }
    evconnlistener_set_error_cb(h->lev, httpd_on_accept_error);
    if (getsockname(evconnlistener_get_fd(h->lev), (struct sockaddr *)&ss, &sslen) != 0) {
        log_error("http", "could not read the bound port: %s", strerror(errno));
        goto fail;
    }
    h->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return h;
fail:
    httpd_free(h);
    return NULL;
}

int
httpd_port(const httpd_t *h)
{
    return h->port;
}

void
httpd_free(httpd_t *h)
{
    if (h == NULL)
        return;
    while (!LIST_EMPTY(&h->conns))
        httpd_conn_close(LIST_FIRST(&h->conns));
    while (h->orphans != NULL) {
        http_req_t *r = h->orphans;
        h->orphans = r->next;
        http_req_free(r);
    }
    if (h->lev != NULL)
        evconnlistener_free(h->lev);
    if (h->backoff != NULL)
        event_free(h->backoff);
    free(h);
}
