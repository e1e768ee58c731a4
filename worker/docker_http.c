/*
 * docker_http - requests to a container engine over its unix socket, with
 * libevent's HTTP client and a one-shot loopback relay (see docker_http.h).
 */
#include "docker_http.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct docker_http {
    struct event_base *base;
    char *socket_path;
    docker_req_t *reqs; /* every request not yet freed */
};

struct docker_req {
    docker_http_t *http; /* NULL once unlinked from http->reqs */
    docker_req_t *prev;
    docker_req_t *next;
    docker_http_chunk_fn chunk;
    docker_http_done_fn done;
    void *arg;
    char *what; /* "METHOD path", for log lines */

    int unix_fd; /* connected to the engine; the relay takes it over */
    struct evconnlistener *listener;
    struct evhttp_connection *evcon;
    struct bufferevent *relay_tcp;  /* evhttp's end */
    struct bufferevent *relay_unix; /* the engine's end */
    bool unix_closed;
    bool tcp_shut;

    struct event *finish_ev; /* calls `done` and frees the request */
    bool finishing;
    bool cancelled;
    bool in_done;
    bool http_error_set;
    enum evhttp_request_error http_error;
    int status;
    buf_t body;
    char *error;
    bool unreachable;
};

static const char *
docker_http_method_name(docker_http_method_t m)
{
    switch (m) {
    case DOCKER_HTTP_GET:
        return "GET";
    case DOCKER_HTTP_POST:
        return "POST";
    case DOCKER_HTTP_DELETE:
        return "DELETE";
    }
    return "?";
}

static enum evhttp_cmd_type
docker_http_method_cmd(docker_http_method_t m)
{
    switch (m) {
    case DOCKER_HTTP_GET:
        return EVHTTP_REQ_GET;
    case DOCKER_HTTP_POST:
        return EVHTTP_REQ_POST;
    case DOCKER_HTTP_DELETE:
        return EVHTTP_REQ_DELETE;
    }
    return EVHTTP_REQ_GET;
}

docker_http_t *
docker_http_new(struct event_base *base, const char *socket_path)
{
    docker_http_t *h = xcalloc(1, sizeof(*h));

    h->base = base;
    h->socket_path = xstrdup(socket_path);
    return h;
}

static void
docker_req_unlink(docker_req_t *r)
{
    if (r->http == NULL)
        return;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        r->http->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->http = NULL;
}

/* Free a request and close its sockets; no callback. Never from inside a
 * callback of its own evhttp connection. */
static void
docker_req_destroy(docker_req_t *r)
{
    docker_req_unlink(r);
    /* Frees the evhttp_request too if it is still pending, without calling
     * its callbacks. */
    if (r->evcon != NULL)
        evhttp_connection_free(r->evcon);
    if (r->listener != NULL)
        evconnlistener_free(r->listener);
    if (r->relay_tcp != NULL)
        bufferevent_free(r->relay_tcp);
    if (r->relay_unix != NULL)
        bufferevent_free(r->relay_unix);
    if (r->unix_fd >= 0)
        close(r->unix_fd);
    event_free(r->finish_ev);
    buf_free(&r->body);
    free(r->error);
    free(r->what);
    free(r);
}

void
docker_http_free(docker_http_t *h)
{
    if (h == NULL)
        return;
    while (h->reqs != NULL)
        docker_req_destroy(h->reqs);
    free(h->socket_path);
    free(h);
}

static void
docker_req_finish_later(docker_req_t *r)
{
    if (r->finishing)
        return;
    r->finishing = true;
    event_active(r->finish_ev, EV_TIMEOUT, 0);
}

/* End the request without a response; error is taken over. */
static void
docker_req_fail(docker_req_t *r, char *error, bool unreachable)
{
    free(r->error);
    r->error = error;
    r->unreachable = unreachable;
    docker_req_finish_later(r);
}

/* For fire-and-forget requests, which nobody else sees end. 404 and 409
 * mean the thing is gone or going already (a DELETE raced another). */
static void
docker_req_log_failure(const docker_req_t *r)
{
    if (r->error != NULL)
        log_warn("docker", "%s failed: %s", r->what, r->error);
    else if (r->status >= 400 && r->status != 404 && r->status != 409)
        log_warn("docker", "%s failed: HTTP %d %.200s", r->what, r->status, r->body.data);
}

static void
docker_req_finish_cb(evutil_socket_t fd, short what, void *arg)
{
    docker_req_t *r = arg;

    /* Unlinked first: whatever `done` does to the client, r is ours. */
    docker_req_unlink(r);
    if (!r->cancelled && r->done != NULL) {
        docker_http_result_t res = {
            .status = r->error != NULL ? 0 : r->status,
            .body = r->body.data != NULL ? r->body.data : "",
            .body_len = r->body.len,
            .error = r->error,
            .unreachable = r->unreachable,
        };
        r->in_done = true;
        r->done(r->arg, &res);
    } else if (!r->cancelled) {
        docker_req_log_failure(r);
    }
    docker_req_destroy(r);
}

void
docker_http_cancel(docker_req_t *r)
{
    if (r == NULL || r->in_done)
        return;
    r->cancelled = true;
    r->chunk = NULL;
    r->done = NULL;
    docker_req_finish_later(r);
}

/* --- the relay between evhttp's loopback connection and the unix socket --- */

static void
docker_relay_shut_tcp(docker_req_t *r)
{
    /* Once the engine has closed its end and all it sent reached evhttp, a
     * FIN (not a close, which could reset unread data) tells evhttp. */
    if (!r->unix_closed || r->tcp_shut ||
        evbuffer_get_length(bufferevent_get_output(r->relay_tcp)) > 0)
        return;
    r->tcp_shut = true;
    shutdown(bufferevent_getfd(r->relay_tcp), SHUT_WR);
}

static void
docker_relay_read_cb(struct bufferevent *bev, void *arg)
{
    docker_req_t *r = arg;
    struct bufferevent *to = bev == r->relay_tcp ? r->relay_unix : r->relay_tcp;

    evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(bev));
}

static void
docker_relay_write_cb(struct bufferevent *bev, void *arg)
{
    docker_req_t *r = arg;

    if (bev == r->relay_tcp)
        docker_relay_shut_tcp(r);
}

static void
docker_relay_event_cb(struct bufferevent *bev, short events, void *arg)
{
    docker_req_t *r = arg;

    if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (bev == r->relay_unix) {
        bufferevent_disable(r->relay_unix, EV_READ | EV_WRITE);
        r->unix_closed = true;
        docker_relay_shut_tcp(r);
    } else {
        /* evhttp closed its end; it reports on the request itself. */
        bufferevent_disable(r->relay_tcp, EV_READ | EV_WRITE);
        bufferevent_disable(r->relay_unix, EV_READ | EV_WRITE);
    }
}

/* Whether the connection accepted from peer is the one evhttp made for r:
 * same address and port as the local end of evhttp's socket. */
static bool
docker_relay_is_ours(docker_req_t *r, const struct sockaddr *peer, int peer_len)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    struct sockaddr_in local, remote;
    socklen_t len = sizeof(local);

    if (fd < 0 || getsockname(fd, (struct sockaddr *)&local, &len) != 0 ||
        local.sin_family != AF_INET)
        return false;
    if (peer->sa_family != AF_INET || peer_len < (int)sizeof(remote))
        return false;
    memcpy(&remote, peer, sizeof(remote));
    return remote.sin_port == local.sin_port && remote.sin_addr.s_addr == local.sin_addr.s_addr;
}

static struct bufferevent *
docker_relay_bev(struct event_base *base, evutil_socket_t fd, docker_req_t *r)
{
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);

    if (bev == NULL) {
        /* Fails only when out of memory, which aborts like xmalloc does. */
        log_error("docker", "could not allocate a bufferevent");
        abort();
    }
    bufferevent_setcb(bev, docker_relay_read_cb, docker_relay_write_cb, docker_relay_event_cb, r);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return bev;
}

static void
docker_relay_accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *peer,
                       int peer_len, void *arg)
{
    docker_req_t *r = arg;
    struct event_base *base = evconnlistener_get_base(listener);

    if (!docker_relay_is_ours(r, peer, peer_len)) {
        log_warn("docker", "closed a stranger's connection to the relay of %s", r->what);
        close(fd);
        return;
    }
    evconnlistener_free(r->listener);
    r->listener = NULL;
    r->relay_tcp = docker_relay_bev(base, fd, r);
    r->relay_unix = docker_relay_bev(base, r->unix_fd, r);
    r->unix_fd = -1;
}

static void
docker_relay_accept_error_cb(struct evconnlistener *listener, void *arg)
{
    docker_req_t *r = arg;

    evconnlistener_disable(listener);
    docker_req_fail(r, xasprintf("loopback relay: %s", strerror(errno)), false);
}

/* A listener on 127.0.0.1 with a port of the kernel's choosing, for evhttp to
 * connect to. Returns the port, or 0 with r failed. */
static unsigned short
docker_relay_listen(docker_req_t *r, struct event_base *base)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        goto fail;
    r->listener = evconnlistener_new(base, docker_relay_accept_cb, r,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (r->listener == NULL)
        goto fail;
    evconnlistener_set_error_cb(r->listener, docker_relay_accept_error_cb);
    return ntohs(sin.sin_port);

fail:
    docker_req_fail(r, xasprintf("could not set up the loopback relay: %s", strerror(errno)),
                    false);
    if (fd >= 0)
        close(fd);
    return 0;
}

/* --- the evhttp request --- */

static const char *
docker_req_error_text(const docker_req_t *r)
{
    if (!r->http_error_set)
        return "no response";
    switch (r->http_error) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "the connection was closed before the response was complete";
    case EVREQ_HTTP_INVALID_HEADER:
        return "the response is not valid HTTP";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "could not read or write the connection";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "the response is too long";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "cancelled";
    }
    return "no response";
}

static void
docker_req_error_cb(enum evhttp_request_error error, void *arg)
{
    docker_req_t *r = arg;

    r->http_error = error;
    r->http_error_set = true;
}

static void
docker_req_chunk_cb(struct evhttp_request *ereq, void *arg)
{
    docker_req_t *r = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(ereq);
    int status = evhttp_request_get_response_code(ereq);

    /* An error's body is kept for `done`, whatever the caller wanted. */
    if (r->cancelled || r->chunk == NULL || status / 100 != 2) {
        if (!r->cancelled) {
            size_t n = evbuffer_get_length(in);
            buf_append(&r->body, evbuffer_pullup(in, (ev_ssize_t)n), n);
        }
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    /* Chain by chain, without copying; the callback may cancel r. */
    while (!r->cancelled && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        r->chunk(r->arg, v.iov_base, v.iov_len);
        evbuffer_drain(in, v.iov_len);
    }
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void
docker_req_done_cb(struct evhttp_request *ereq, void *arg)
{
    docker_req_t *r = arg;

    if (r->cancelled)
        return;
    if (ereq == NULL || evhttp_request_get_response_code(ereq) == 0) {
        docker_req_fail(r, xstrdup(docker_req_error_text(r)), false);
        return;
    }
    r->status = evhttp_request_get_response_code(ereq);
    struct evbuffer *in = evhttp_request_get_input_buffer(ereq);
    size_t n = evbuffer_get_length(in);
    if (n > 0)
        buf_append(&r->body, evbuffer_pullup(in, (ev_ssize_t)n), n);
    docker_req_finish_later(r);
}

/* Connect r->unix_fd to the engine's socket; on failure r is failed as
 * unreachable. A unix socket connects at once or not at all. */
static int
docker_req_connect(docker_req_t *r, const char *path)
{
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        docker_req_fail(r, xstrdup("socket path too long"), true);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    r->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->unix_fd < 0 || connect(r->unix_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        docker_req_fail(r, xstrdup(strerror(errno)), true);
        if (r->unix_fd >= 0)
            close(r->unix_fd);
        r->unix_fd = -1;
        return -1;
    }
    return 0;
}

docker_req_t *
docker_http_request(docker_http_t *h, docker_http_method_t method, const char *path,
                    const char *body, int timeout_s, docker_http_chunk_fn chunk,
                    docker_http_done_fn done, void *arg)
{
    docker_req_t *r = xcalloc(1, sizeof(*r));
    struct evhttp_request *ereq;
    struct timeval tv = {timeout_s > 0 ? timeout_s : 1, 0};
    unsigned short port;

    r->http = h;
    r->next = h->reqs;
    if (h->reqs != NULL)
        h->reqs->prev = r;
    h->reqs = r;
    r->chunk = chunk;
    r->done = done;
    r->arg = arg;
    r->unix_fd = -1;
    buf_init(&r->body);
    r->what = xasprintf("%s %s", docker_http_method_name(method), path);
    r->finish_ev = event_new(h->base, -1, 0, docker_req_finish_cb, r);
    if (r->finish_ev == NULL) {
        log_error("docker", "could not allocate an event");
        abort();
    }

    if (docker_req_connect(r, h->socket_path) != 0)
        return r;
    port = docker_relay_listen(r, h->base);
    if (port == 0)
        return r;
    r->evcon = evhttp_connection_base_new(h->base, NULL, "127.0.0.1", port);
    if (r->evcon == NULL) {
        docker_req_fail(r, xstrdup("could not create an HTTP connection"), false);
        return r;
    }
    evhttp_connection_set_timeout_tv(r->evcon, &tv);
    ereq = evhttp_request_new(docker_req_done_cb, r);
    if (ereq == NULL) {
        docker_req_fail(r, xstrdup("could not create an HTTP request"), false);
        return r;
    }
    evhttp_request_set_error_cb(ereq, docker_req_error_cb);
    evhttp_request_set_chunked_cb(ereq, docker_req_chunk_cb);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(ereq);
    evhttp_add_header(headers, "Host", "localhost");
    evhttp_add_header(headers, "Connection", "close");
    if (body != NULL) {
        evhttp_add_header(headers, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(ereq), body, strlen(body));
    }
    /* On failure evhttp has freed ereq. */
    if (evhttp_make_request(r->evcon, ereq, docker_http_method_cmd(method), path) != 0)
        docker_req_fail(r, xstrdup("could not send the request"), false);
    return r;
}
