/*
 * check_docker_http - unit tests of the HTTP client for the container
 * engine's unix socket, against a fake engine on a unix socket of its own
 * served by the same event loop: methods, headers and bodies as sent, bodies
 * buffered and streamed, an error body with a chunk callback, an absent or
 * refusing socket, a silent engine (idle timeout, before and after the
 * headers; a slow stream is not idle), a dropped connection, an answer that
 * is not HTTP, cancel (before the loop runs, while waiting, from inside a
 * chunk callback), requests from inside a chunk callback, fire-and-forget,
 * free with requests in flight (and from inside `done` and `chunk`), no inet
 * socket ever, and no fd left behind. http_proxy points nowhere throughout.
 */
#include "docker_http.h"
#include "util.h"

#include <check.h>
#include <dirent.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Longest any wait for the loop may take before the test gives up. */
#define WAIT_MS 5000

/* --- the fake engine --- */

struct conn {
    struct conn *next;
    struct bufferevent *bev;
    struct event *timer; /* paces a streamed response */
    buf_t in;
    bool handled;
    bool close_after_write;
    int chunks_left;
    long interval_us; /* between the chunks of a streamed response */
};

struct server {
    char dir[64];
    char path[128];
    struct evconnlistener *listener;
    struct conn *conns;
    int accepted;
    int closed; /* connections ended, by either side */
    int requests;
    char method[16];
    char target[256];
    buf_t head; /* the header lines of the last request */
    buf_t body; /* its body */
};

static struct event_base *base;
static struct event *tick; /* wakes EVLOOP_ONCE up now and then */
static struct server srv;
static docker_http_t *http;

static void
conn_free(struct conn *c)
{
    for (struct conn **p = &srv.conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    bufferevent_free(c->bev);
    if (c->timer != NULL)
        event_free(c->timer);
    buf_free(&c->in);
    free(c);
    srv.closed++;
}

static void
conn_send(struct conn *c, const char *text)
{
    bufferevent_write(c->bev, text, strlen(text));
}

/* A whole response, then the connection closes. */
static void
conn_respond(struct conn *c, int status, const char *body)
{
    char *head = xasprintf("HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                           status, strlen(body));
    conn_send(c, head);
    conn_send(c, body);
    free(head);
    c->close_after_write = true;
}

static void
conn_chunk(struct conn *c, const char *data)
{
    char *chunk = xasprintf("%zx\r\n%s\r\n", strlen(data), data);

    conn_send(c, chunk);
    free(chunk);
}

static void
conn_stream_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct timeval tv = {0, c->interval_us};
    char line[32];

    if (c->chunks_left == 0) {
        conn_send(c, "0\r\n\r\n");
        c->close_after_write = true;
        return;
    }
    snprintf(line, sizeof(line), "chunk %d\n", 5 - c->chunks_left);
    conn_chunk(c, line);
    c->chunks_left--;
    evtimer_add(c->timer, &tv);
}

static void
conn_handle(struct conn *c)
{
    char t[256];

    /* Dispatched on the path alone. */
    snprintf(t, sizeof(t), "%.*s", (int)strcspn(srv.target, "?"), srv.target);

    srv.requests++;
    if (strcmp(t, "/ok") == 0) {
        conn_respond(c, 200, "{\"ok\":true}");
    } else if (strcmp(t, "/echo") == 0) {
        conn_respond(c, 201, srv.body.data != NULL ? srv.body.data : "");
    } else if (strcmp(t, "/missing") == 0) {
        conn_respond(c, 404, "{\"message\":\"no such container\"}");
    } else if (strcmp(t, "/big") == 0) {
        char *big = xmalloc(1000001);
        memset(big, 'x', 1000000);
        big[1000000] = '\0';
        conn_respond(c, 200, big);
        free(big);
    } else if (strcmp(t, "/stream") == 0 || strcmp(t, "/slowstream") == 0 ||
               strcmp(t, "/follow") == 0) {
        /* /follow sends one chunk and never ends. */
        conn_send(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
        conn_chunk(c, "first\n");
        if (strcmp(t, "/follow") != 0) {
            c->interval_us = strcmp(t, "/stream") == 0 ? 20000 : 400000;
            c->chunks_left = 5;
            c->timer = evtimer_new(base, conn_stream_cb, c);
            conn_stream_cb(-1, 0, c);
        }
    } else if (strcmp(t, "/headonly") == 0) {
        conn_send(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    } else if (strcmp(t, "/drop") == 0) {
        conn_free(c);
    } else if (strcmp(t, "/garbage") == 0) {
        conn_send(c, "this is not HTTP\r\n\r\n");
        c->close_after_write = true;
    }
    /* /hang: no answer, ever. */
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    const char *end, *cl;
    size_t head_len, body_len = 0;

    buf_append(&c->in, evbuffer_pullup(in, (ev_ssize_t)n), n);
    evbuffer_drain(in, n);
    if (c->handled || c->in.data == NULL)
        return;
    end = strstr(c->in.data, "\r\n\r\n");
    if (end == NULL)
        return;
    head_len = (size_t)(end - c->in.data) + 4;
    cl = strcasestr(c->in.data, "\r\nContent-Length:");
    if (cl != NULL && cl < end)
        body_len = strtoul(cl + strlen("\r\nContent-Length:"), NULL, 10);
    if (c->in.len < head_len + body_len)
        return;
    c->handled = true;
    ck_assert_int_eq(sscanf(c->in.data, "%15s %255s", srv.method, srv.target), 2);
    buf_reset(&srv.head);
    buf_append(&srv.head, c->in.data, head_len);
    buf_reset(&srv.body);
    buf_append(&srv.body, c->in.data + head_len, body_len);
    conn_handle(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (c->close_after_write)
        conn_free(c);
}

static void
conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_free(arg);
}

static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                 void *arg)
{
    struct conn *c = xcalloc(1, sizeof(*c));

    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    ck_assert_ptr_nonnull(c->bev);
    buf_init(&c->in);
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = srv.conns;
    srv.conns = c;
    srv.accepted++;
}

static void
server_start(void)
{
    struct sockaddr_un sun;

    memset(&srv, 0, sizeof(srv));
    snprintf(srv.dir, sizeof(srv.dir), "/tmp/check_docker_http.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(srv.dir));
    snprintf(srv.path, sizeof(srv.path), "%s/engine.sock", srv.dir);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, srv.path, strlen(srv.path) + 1);
    srv.listener = evconnlistener_new_bind(base, server_accept_cb, NULL,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                           (struct sockaddr *)&sun, sizeof(sun));
    ck_assert_ptr_nonnull(srv.listener);
    buf_init(&srv.head);
    buf_init(&srv.body);
}

static void
server_stop(void)
{
    while (srv.conns != NULL)
        conn_free(srv.conns);
    evconnlistener_free(srv.listener);
    unlink(srv.path);
    rmdir(srv.dir);
    buf_free(&srv.head);
    buf_free(&srv.body);
}

/* Whether the last request had this header line (exactly, CRLF-bounded). */
static bool
server_saw_header(const char *line)
{
    char *needle = xasprintf("\r\n%s\r\n", line);
    bool found = srv.head.data != NULL && strcasestr(srv.head.data, needle) != NULL;

    free(needle);
    return found;
}

/* --- the client side --- */

struct result {
    int done_calls;
    int chunk_calls;
    int begun_calls; /* chunk with len 0: the headers are in */
    int status;
    buf_t body;
    buf_t chunks;
    char *error;
    bool unreachable;
    bool in_request; /* inside docker_http_request */
    bool done_in_request;
    /* From inside chunk: cancel this request, issue another, free the
     * client. */
    docker_req_t *req;
    bool cancel_in_chunk;
    bool request_in_chunk;
    bool free_in_chunk;
    bool free_in_done;
    struct result *next; /* of the request issued from inside chunk */
};

static void
result_init(struct result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body);
    buf_init(&r->chunks);
}

static void
result_clear(struct result *r)
{
    buf_free(&r->body);
    buf_free(&r->chunks);
    free(r->error);
}

static void
on_done(void *arg, const docker_http_result_t *res)
{
    struct result *r = arg;

    if (r->in_request)
        r->done_in_request = true;
    r->done_calls++;
    r->status = res->status;
    ck_assert_ptr_nonnull(res->body);
    ck_assert_uint_eq(strlen(res->body), res->body_len);
    buf_append(&r->body, res->body, res->body_len);
    r->error = res->error != NULL ? xstrdup(res->error) : NULL;
    r->unreachable = res->unreachable;
    ck_assert(res->status > 0 || res->error != NULL);
    ck_assert(res->status == 0 || res->error == NULL);
    if (r->free_in_done) {
        docker_http_free(http);
        http = NULL;
    }
}

static docker_req_t *request(struct result *r, docker_http_method_t method, const char *path,
                             const char *body, int timeout_s, bool stream);

static void
on_chunk(void *arg, const char *data, size_t len)
{
    struct result *r = arg;

    if (len == 0) {
        /* Once, before any body. */
        ck_assert_int_eq(r->begun_calls, 0);
        ck_assert_int_eq(r->chunk_calls, 0);
        r->begun_calls++;
        return;
    }
    r->chunk_calls++;
    buf_append(&r->chunks, data, len);
    if (r->request_in_chunk && r->next != NULL && r->chunk_calls == 1)
        request(r->next, DOCKER_HTTP_GET, "/ok", NULL, 5, false);
    if (r->cancel_in_chunk)
        docker_http_cancel(r->req);
    if (r->free_in_chunk) {
        docker_http_free(http);
        http = NULL;
    }
}

static docker_req_t *
request(struct result *r, docker_http_method_t method, const char *path, const char *body,
        int timeout_s, bool stream)
{
    r->in_request = true;
    r->req = docker_http_request(http, method, path, body, timeout_s, stream ? on_chunk : NULL,
                                 on_done, r);
    r->in_request = false;
    ck_assert_ptr_nonnull(r->req);
    return r->req;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until cond holds; fail when it does not within WAIT_MS. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        int64_t deadline_ = gw_now_ms() + WAIT_MS;                                                 \
        while (!(cond) && gw_now_ms() < deadline_)                                                 \
            event_base_loop(base, EVLOOP_ONCE);                                                    \
        ck_assert_msg((cond), "timed out waiting for %s", #cond);                                  \
    } while (0)

/* Run the loop for ms milliseconds. */
static void
run_for(int ms)
{
    int64_t deadline = gw_now_ms() + ms;

    while (gw_now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
}

static void
setup(void)
{
    struct timeval tv = {0, 10000};

    /* Nothing may go through a proxy. */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(tick, &tv);
    server_start();
    http = docker_http_new(base, srv.path);
}

static void
teardown(void)
{
    docker_http_free(http);
    http = NULL;
    server_stop();
    event_free(tick);
    event_base_free(base);
}

/* --- tests --- */

START_TEST(test_get)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/ok", NULL, 5, false);
    ck_assert_int_eq(r.done_calls, 0);
    WAIT_FOR(r.done_calls > 0);
    ck_assert(!r.done_in_request);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "{\"ok\":true}");
    ck_assert_ptr_null(r.error);
    ck_assert(!r.unreachable);
    ck_assert_str_eq(srv.method, "GET");
    ck_assert_str_eq(srv.target, "/ok");
    ck_assert(server_saw_header("Host: localhost"));
    ck_assert(server_saw_header("Connection: close"));
    run_for(50);
    ck_assert_int_eq(r.done_calls, 1);
    result_clear(&r);
}
END_TEST

START_TEST(test_post_json)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_POST, "/echo", "{\"Image\":\"x\"}", 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.body.data, "{\"Image\":\"x\"}");
    ck_assert_str_eq(srv.method, "POST");
    ck_assert(server_saw_header("Content-Type: application/json"));
    ck_assert(server_saw_header("Content-Length: 13"));
    ck_assert(strcasestr(srv.head.data, "Expect:") == NULL);
    result_clear(&r);
}
END_TEST

START_TEST(test_post_empty)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_POST, "/echo", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_uint_eq(r.body.len, 0);
    ck_assert_str_eq(srv.method, "POST");
    ck_assert(server_saw_header("Content-Length: 0"));
    ck_assert(strcasestr(srv.head.data, "Content-Type") == NULL);
    result_clear(&r);
}
END_TEST

START_TEST(test_delete_with_query)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_DELETE, "/missing?force=1&v=1", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(srv.method, "DELETE");
    ck_assert_str_eq(srv.target, "/missing?force=1&v=1");
    result_clear(&r);
}
END_TEST

START_TEST(test_error_status)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/missing", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.body.data, "{\"message\":\"no such container\"}");
    ck_assert_ptr_null(r.error);
    result_clear(&r);
}
END_TEST

START_TEST(test_large_body)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/big", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 1000000);
    ck_assert_uint_eq(strspn(r.body.data, "x"), 1000000);
    result_clear(&r);
}
END_TEST

START_TEST(test_stream)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/stream", NULL, 5, true);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.chunks.data, "first\nchunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    /* Paced 20 ms apart: they arrive one by one, not at the end. */
    ck_assert_int_ge(r.chunk_calls, 3);
    ck_assert_uint_eq(r.body.len, 0);
    ck_assert_ptr_null(r.error);
    result_clear(&r);
}
END_TEST

START_TEST(test_stream_error_body_to_done)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/missing", NULL, 5, true);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(r.chunk_calls, 0);
    ck_assert_str_eq(r.body.data, "{\"message\":\"no such container\"}");
    result_clear(&r);
}
END_TEST

START_TEST(test_unreachable)
{
    struct result r;
    char *path = xasprintf("%s/no.sock", srv.dir);

    docker_http_free(http);
    http = docker_http_new(base, path);
    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/ok", NULL, 5, false);
    ck_assert_int_eq(r.done_calls, 0);
    WAIT_FOR(r.done_calls > 0);
    ck_assert(!r.done_in_request);
    ck_assert_int_eq(r.status, 0);
    ck_assert(r.unreachable);
    ck_assert_str_eq(r.error, "No such file or directory");
    result_clear(&r);
    free(path);
}
END_TEST

START_TEST(test_refused)
{
    struct result r;
    char *path = xasprintf("%s/dead.sock", srv.dir);
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    /* A socket file nobody listens on. */
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    docker_http_free(http);
    http = docker_http_new(base, path);
    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/ok", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert(r.unreachable);
    ck_assert_str_eq(r.error, "Connection refused");
    result_clear(&r);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_path_too_long)
{
    struct result r;
    char path[300];

    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    docker_http_free(http);
    http = docker_http_new(base, path);
    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/ok", NULL, 5, false);
    ck_assert_int_eq(r.done_calls, 0);
    WAIT_FOR(r.done_calls > 0);
    ck_assert(r.unreachable);
    ck_assert_str_eq(r.error, "socket path too long");
    result_clear(&r);
}
END_TEST

START_TEST(test_idle_timeout)
{
    struct result r;
    int64_t t0 = gw_now_ms(), elapsed;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/hang", NULL, 1, false);
    WAIT_FOR(r.done_calls > 0);
    elapsed = gw_now_ms() - t0;
    ck_assert_int_eq(r.status, 0);
    ck_assert(!r.unreachable);
    ck_assert_str_eq(r.error, "timed out");
    ck_assert_int_ge(elapsed, 900);
    ck_assert_int_lt(elapsed, 4000);
    WAIT_FOR(srv.closed == 1);
    result_clear(&r);
}
END_TEST

START_TEST(test_idle_after_headers)
{
    struct result r;
    int64_t t0 = gw_now_ms(), elapsed;

    /* The headers came, then nothing: idle all the same. */
    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/headonly", NULL, 1, true);
    /* ... and the start of the response was announced before the end. */
    WAIT_FOR(r.begun_calls == 1);
    ck_assert_int_eq(r.done_calls, 0);
    WAIT_FOR(r.done_calls > 0);
    elapsed = gw_now_ms() - t0;
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.error, "timed out");
    ck_assert_int_ge(elapsed, 900);
    ck_assert_int_lt(elapsed, 4000);
    result_clear(&r);
}
END_TEST

START_TEST(test_long_stream_outlives_timeout)
{
    struct result r;

    /* A stream that keeps moving is not idle, however long it takes: here
     * 2 s with an idle limit of 1 s. */
    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/slowstream", NULL, 1, true);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(r.error);
    ck_assert_str_eq(r.chunks.data, "first\nchunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    result_clear(&r);
}
END_TEST

START_TEST(test_dropped)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/drop", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert(!r.unreachable);
    ck_assert_str_eq(r.error, "the connection was closed before the response was complete");
    result_clear(&r);
}
END_TEST

START_TEST(test_not_http)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/garbage", NULL, 5, false);
    WAIT_FOR(r.done_calls > 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert(!r.unreachable);
    ck_assert_str_eq(r.error, "the response is not valid HTTP");
    result_clear(&r);
}
END_TEST

START_TEST(test_cancel_at_once)
{
    struct result r;

    result_init(&r);
    docker_http_cancel(request(&r, DOCKER_HTTP_GET, "/ok", NULL, 5, false));
    docker_http_cancel(NULL);
    run_for(200);
    ck_assert_int_eq(r.done_calls, 0);
    result_clear(&r);
}
END_TEST

START_TEST(test_cancel_while_waiting)
{
    struct result r;

    result_init(&r);
    request(&r, DOCKER_HTTP_GET, "/hang", NULL, 5, false);
    WAIT_FOR(srv.requests == 1);
    docker_http_cancel(r.req);
    /* The connection is closed from the loop. */
    WAIT_FOR(srv.closed == 1);
    run_for(50);
    ck_assert_int_eq(r.done_calls, 0);
    result_clear(&r);
}
END_TEST

START_TEST(test_cancel_in_chunk)
{
    struct result r;

    result_init(&r);
    r.cancel_in_chunk = true;
    request(&r, DOCKER_HTTP_GET, "/follow", NULL, 5, true);
    WAIT_FOR(srv.closed == 1);
    run_for(50);
    ck_assert_int_eq(r.chunk_calls, 1);
    ck_assert_int_eq(r.done_calls, 0);
    result_clear(&r);
}
END_TEST

START_TEST(test_request_in_chunk)
{
    struct result follow, ok;

    /* As the engine does: a new request from inside a chunk callback (which
     * also shows that a followed stream does not hold up another). */
    result_init(&follow);
    result_init(&ok);
    follow.request_in_chunk = true;
    follow.next = &ok;
    request(&follow, DOCKER_HTTP_GET, "/follow", NULL, 5, true);
    WAIT_FOR(ok.done_calls > 0);
    ck_assert_int_eq(ok.status, 200);
    ck_assert_int_eq(follow.done_calls, 0);
    docker_http_cancel(follow.req);
    WAIT_FOR(srv.closed == 2);
    ck_assert_int_eq(follow.done_calls, 0);
    result_clear(&follow);
    result_clear(&ok);
}
END_TEST

START_TEST(test_fire_and_forget)
{
    ck_assert_ptr_nonnull(
        docker_http_request(http, DOCKER_HTTP_DELETE, "/missing", NULL, 5, NULL, NULL, NULL));
    ck_assert_ptr_nonnull(
        docker_http_request(http, DOCKER_HTTP_POST, "/ok", "{}", 5, NULL, NULL, NULL));
    WAIT_FOR(srv.requests == 2 && srv.closed == 2);
    run_for(50);
}
END_TEST

START_TEST(test_free_in_flight)
{
    struct result a, b, c;

    result_init(&a);
    result_init(&b);
    result_init(&c);
    request(&a, DOCKER_HTTP_GET, "/hang", NULL, 5, false);
    request(&b, DOCKER_HTTP_GET, "/follow", NULL, 5, true);
    WAIT_FOR(srv.requests == 2 && b.chunk_calls == 1);
    request(&c, DOCKER_HTTP_GET, "/ok", NULL, 5, false); /* not yet handed to curl */
    docker_http_free(http);
    http = NULL;
    WAIT_FOR(srv.closed == 2);
    run_for(50);
    ck_assert_int_eq(a.done_calls + b.done_calls + c.done_calls, 0);
    result_clear(&a);
    result_clear(&b);
    result_clear(&c);
}
END_TEST

START_TEST(test_free_in_done)
{
    struct result a, b;

    result_init(&a);
    result_init(&b);
    a.free_in_done = true;
    request(&b, DOCKER_HTTP_GET, "/hang", NULL, 5, false);
    WAIT_FOR(srv.requests == 1);
    request(&a, DOCKER_HTTP_GET, "/ok", NULL, 5, false);
    WAIT_FOR(a.done_calls > 0);
    ck_assert_ptr_null(http);
    WAIT_FOR(srv.closed == 2);
    ck_assert_int_eq(b.done_calls, 0);
    result_clear(&a);
    result_clear(&b);
}
END_TEST

START_TEST(test_free_in_chunk)
{
    struct result a, b;

    result_init(&a);
    result_init(&b);
    request(&b, DOCKER_HTTP_GET, "/hang", NULL, 5, false);
    WAIT_FOR(srv.requests == 1);
    a.free_in_chunk = true;
    request(&a, DOCKER_HTTP_GET, "/follow", NULL, 5, true);
    WAIT_FOR(srv.closed == 2);
    ck_assert_ptr_null(http);
    run_for(50);
    ck_assert_int_eq(a.chunk_calls, 1);
    ck_assert_int_eq(a.done_calls + b.done_calls, 0);
    result_clear(&a);
    result_clear(&b);
}
END_TEST

/* How many fds are open, and whether any of them is an inet socket. */
static int
scan_fds(bool *inet)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    *inet = false;
    while ((de = readdir(d)) != NULL) {
        int fd, domain;
        socklen_t len = sizeof(domain);
        if (de->d_name[0] == '.')
            continue;
        fd = atoi(de->d_name);
        if (fd == dirfd(d))
            continue;
        n++;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
            (domain == AF_INET || domain == AF_INET6))
            *inet = true;
    }
    closedir(d);
    return n;
}

START_TEST(test_no_inet_socket_no_fd_leak)
{
    struct result a, b;
    bool inet;
    int before;

    docker_http_free(http);
    before = scan_fds(&inet);
    http = docker_http_new(base, srv.path);
    result_init(&a);
    result_init(&b);
    request(&a, DOCKER_HTTP_GET, "/follow", NULL, 5, true);
    request(&b, DOCKER_HTTP_POST, "/ok", "{}", 5, false);
    WAIT_FOR(a.chunk_calls == 1 && b.done_calls == 1);
    scan_fds(&inet);
    ck_assert(!inet);
    docker_http_free(http);
    http = NULL;
    WAIT_FOR(srv.closed == 2);
    ck_assert_int_eq(scan_fds(&inet), before);
    result_clear(&a);
    result_clear(&b);
}
END_TEST

static Suite *
docker_http_suite(void)
{
    Suite *s = suite_create("docker_http");
    TCase *tc = tcase_create("requests");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_post_json);
    tcase_add_test(tc, test_post_empty);
    tcase_add_test(tc, test_delete_with_query);
    tcase_add_test(tc, test_error_status);
    tcase_add_test(tc, test_large_body);
    tcase_add_test(tc, test_stream);
    tcase_add_test(tc, test_stream_error_body_to_done);
    tcase_add_test(tc, test_unreachable);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_path_too_long);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_idle_after_headers);
    tcase_add_test(tc, test_long_stream_outlives_timeout);
    tcase_add_test(tc, test_dropped);
    tcase_add_test(tc, test_not_http);
    tcase_add_test(tc, test_cancel_at_once);
    tcase_add_test(tc, test_cancel_while_waiting);
    tcase_add_test(tc, test_cancel_in_chunk);
    tcase_add_test(tc, test_request_in_chunk);
    tcase_add_test(tc, test_fire_and_forget);
    tcase_add_test(tc, test_free_in_flight);
    tcase_add_test(tc, test_free_in_done);
    tcase_add_test(tc, test_free_in_chunk);
    tcase_add_test(tc, test_no_inet_socket_no_fd_leak);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(docker_http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
