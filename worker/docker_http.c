/*
 * docker_http - requests to a container engine over its unix socket, with
 * libcurl's multi interface on the caller's libevent base (see docker_http.h).
 *
 * curl tells us which sockets to watch (docker_http_socket_fn) and when to
 * wake it up (docker_http_timer_fn); both become events on the base, which
 * call curl_multi_socket_action and then collect the transfers that ended.
 * Each request has one more event of its own, `step`: its first run hands the
 * easy handle to curl, its last (once the transfer ended, or was cancelled)
 * takes it back, calls `done` and frees the request. Nothing but those events
 * touches the multi handle, so nothing a callback of ours does reaches curl
 * while curl is calling us. In between, `step` is the idle timer: every byte
 * of the response pushes it back, and when it fires the request has timed
 * out. (curl's own low-speed limit would do, but wakes every transfer up
 * once a second for as long as it lasts, and a followed log lasts as long as
 * its job.)
 *
 * One file though over 600 lines: the curl glue (its sockets and timer as
 * events), a request's steps and the client's life all work on the one
 * multi handle and keep each other's invariants (what may be called from
 * inside curl); split, they would need a header of internals for that alone.
 */
#include "docker_http.h"

#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* The longest a connect may take. A unix socket connects at once, unless the
 * engine's accept backlog is full. */
#define DOCKER_HTTP_CONNECT_TIMEOUT_S 30L

/* What the write callback returns to make curl abort the transfer. */
#ifdef CURL_WRITEFUNC_ERROR
#define DOCKER_HTTP_WRITE_ABORT CURL_WRITEFUNC_ERROR
#else
#define DOCKER_HTTP_WRITE_ABORT 0
#endif

/* A socket curl wants watched, with the event that watches it. */
struct docker_sock {
    docker_http_t *http;
    struct docker_sock *prev;
    struct docker_sock *next;
    struct event *ev;
};

struct docker_http {
    struct event_base *base;
    char *socket_path;
    CURLM *multi;        /* NULL when libcurl could not be set up */
    struct event *timer; /* curl's timeout */
    docker_req_t *reqs;  /* every request not yet freed */
    struct docker_sock *socks;
    bool in_curl;        /* inside curl_multi_socket_action */
    bool free_requested; /* docker_http_free was called from in there */
};

struct docker_req {
    docker_http_t *http; /* NULL once unlinked from http->reqs */
    docker_req_t *prev;
    docker_req_t *next;
    docker_http_chunk_fn chunk;
    docker_http_done_fn done;
    void *arg;
    char *what; /* "METHOD path", for log lines */

    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    struct event *step_ev; /* hands r to curl, times it out, finishes it */
    struct timeval idle;
    bool in_multi;
    bool finishing;
    bool cancelled;
    bool in_done;

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

static struct event *
docker_http_event_new(struct event_base *base, evutil_socket_t fd, short events,
                      event_callback_fn fn, void *arg)
{
    struct event *ev = event_new(base, fd, events, fn, arg);

    if (ev == NULL) {
        /* Fails only when out of memory, which aborts like xmalloc does. */
        log_error("docker", "could not allocate an event");
        abort();
    }
    return ev;
}

/* curl_global_init, once per process (the worker is single-threaded).
 * Returns whether libcurl is usable. */
static bool
docker_http_curl_ready(void)
{
    static int state; /* 0: not tried yet, 1: ready, -1: failed */

    if (state == 0) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK)
            log_error("docker", "could not initialize libcurl: %s", curl_easy_strerror(rc));
        state = rc == CURLE_OK ? 1 : -1;
    }
    return state == 1;
}

/* --- requests --- */

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

/* Free a request and close its connection; no callback. Never from inside a
 * callback of curl's. */
static void
docker_req_destroy(docker_req_t *r)
{
    /* Only a linked request is ever in the multi handle. */
    if (r->in_multi)
        curl_multi_remove_handle(r->http->multi, r->easy);
    docker_req_unlink(r);
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    event_free(r->step_ev);
    buf_free(&r->body);
    free(r->error);
    free(r->what);
    free(r);
}

/* Run r's step from the loop: the first hands it to curl, the one after
 * finishing is set finishes it. */
static void
docker_req_step_later(docker_req_t *r)
{
    event_active(r->step_ev, EV_TIMEOUT, 0);
}

static void
docker_req_finish_later(docker_req_t *r)
{
    if (r->finishing)
        return;
    r->finishing = true;
    docker_req_step_later(r);
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
        log_warn("docker", "%s failed: HTTP %d %.200s", r->what, r->status,
                 r->body.data != NULL ? r->body.data : "");
}

/* Something came from the engine: (re)start the idle timer. */
static void
docker_req_touch(docker_req_t *r)
{
    if (!r->finishing)
        event_add(r->step_ev, &r->idle);
}

static void
docker_req_step_cb(evutil_socket_t fd, short what, void *arg)
{
    docker_req_t *r = arg;
    docker_http_t *h = r->http;

    if (!r->finishing && r->in_multi) {
        docker_req_fail(r, xstrdup("timed out"), false);
        return;
    }
    if (!r->finishing) {
        /* May call docker_http_timer_fn, which only arms the timer. */
        CURLMcode mc = curl_multi_add_handle(h->multi, r->easy);
        if (mc != CURLM_OK) {
            docker_req_fail(r, xasprintf("could not send the request: %s", curl_multi_strerror(mc)),
                            false);
            return;
        }
        r->in_multi = true;
        docker_req_touch(r);
        return;
    }

    /* Cancelled or timed out while curl had it. */
    if (r->in_multi) {
        curl_multi_remove_handle(h->multi, r->easy);
        r->in_multi = false;
    }
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
    /* When curl is in the middle of r, its write callback stops it; the
     * handle is taken back from the loop. */
    docker_req_finish_later(r);
}

/* curl's write callback: the response body, piece by piece. */
static size_t
docker_req_write_fn(char *data, size_t size, size_t nmemb, void *arg)
{
    docker_req_t *r = arg;
    size_t len = size * nmemb;

    /* Cancelled, or timed out already: stop. */
    if (r->cancelled || r->finishing)
        return DOCKER_HTTP_WRITE_ABORT;
    docker_req_touch(r);
    if (r->status == 0) {
        /* The headers are in once the body begins. */
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        r->status = (int)code;
    }
    /* An error's body is kept for `done`, whatever the caller wanted. */
    if (r->chunk == NULL || r->status / 100 != 2) {
        buf_append(&r->body, data, len);
        return len;
    }
    r->chunk(r->arg, data, len);
    /* The callback may have cancelled r (or freed the client). */
    return r->cancelled || r->finishing ? DOCKER_HTTP_WRITE_ABORT : len;
}

/* curl's header callback: a sign of life, and at the blank line that ends
 * the headers of a 2xx response, the announcement to `chunk` (len 0). */
static size_t
docker_req_header_fn(char *data, size_t size, size_t nmemb, void *arg)
{
    docker_req_t *r = arg;
    size_t len = size * nmemb;
    long code = 0;

    if (r->cancelled || r->finishing)
        return DOCKER_HTTP_WRITE_ABORT;
    docker_req_touch(r);
    bool blank = (len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n');
    if (!blank || r->chunk == NULL)
        return len;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code / 100 != 2)
        return len;
    r->status = (int)code;
    r->chunk(r->arg, "", 0);
    /* The callback may have cancelled r (or freed the client). */
    return r->cancelled || r->finishing ? DOCKER_HTTP_WRITE_ABORT : len;
}

/* Why a transfer that ended with result has no response; the caller frees
 * it. Sets *unreachable when the socket could not be connected. */
static char *
docker_req_error_text(const docker_req_t *r, CURLcode result, bool *unreachable)
{
    long os_errno = 0;
    curl_off_t connect_us = 0;

    *unreachable = false;
    switch (result) {
    case CURLE_COULDNT_CONNECT:
        *unreachable = true;
        /* The reason connect(2) gave, as in "No such file or directory". */
        if (curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0)
            return xstrdup(strerror((int)os_errno));
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connect_us) == CURLE_OK &&
            connect_us == 0) {
            *unreachable = true;
            return xstrdup("timed out connecting to the socket");
        }
        return xstrdup("timed out");
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return xstrdup("the connection was closed before the response was complete");
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return xstrdup("the response is not valid HTTP");
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return xasprintf("could not read or write the connection: %s",
                         r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(result));
    default:
        break;
    }
    return xstrdup(r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(result));
}

/* curl is done with r's transfer (which it no longer holds). */
static void
docker_req_ended(docker_req_t *r, CURLcode result)
{
    long code = 0;
    bool unreachable;

    /* Cancelled or timed out: that stands. */
    if (r->finishing)
        return;
    if (result != CURLE_OK) {
        char *error = docker_req_error_text(r, result, &unreachable);
        docker_req_fail(r, error, unreachable);
        return;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code <= 0) {
        docker_req_fail(r, xstrdup("no response"), false);
        return;
    }
    r->status = (int)code;
    docker_req_finish_later(r);
}

/* Set up r->easy for the request; -1 when curl refuses an option. */
static int
docker_req_setup(docker_req_t *r, const docker_http_t *h, docker_http_method_t method,
                 const char *path, const char *body, long idle_s)
{
    CURL *e = r->easy;
    long connect_s =
        idle_s < DOCKER_HTTP_CONNECT_TIMEOUT_S ? idle_s : DOCKER_HTTP_CONNECT_TIMEOUT_S;
    char *url = xasprintf("http://localhost%s", path);
    bool ok;

    /* Content-Type: without a value drops the one curl would add to a POST
     * without a body; Expect: keeps curl from waiting for a 100 Continue. */
    r->headers = curl_slist_append(NULL, "Connection: close");
    r->headers = curl_slist_append(r->headers, "Expect:");
    r->headers = curl_slist_append(r->headers, body != NULL ? "Content-Type: application/json"
                                                            : "Content-Type:");
    ok = r->headers != NULL;

    ok = ok && curl_easy_setopt(e, CURLOPT_PRIVATE, r) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, h->socket_path) == CURLE_OK;
    /* Whatever http_proxy says: the request goes to the socket. */
    ok = ok && curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, docker_req_write_fn) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, docker_req_header_fn) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK;
    /* No CURLOPT_TIMEOUT: a followed log may rightly last as long as its
     * job; the idle timer is ours. */
    ok = ok && curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, connect_s) == CURLE_OK;
    switch (method) {
    case DOCKER_HTTP_GET:
        break;
    case DOCKER_HTTP_POST:
        /* Copied by curl; a POST without a body sends Content-Length: 0. */
        ok = ok && curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                    (curl_off_t)(body != NULL ? strlen(body) : 0)) == CURLE_OK;
        ok =
            ok && curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "") == CURLE_OK;
        break;
    case DOCKER_HTTP_DELETE:
        ok = ok && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE") == CURLE_OK;
        break;
    }
    free(url);
    return ok ? 0 : -1;
}

docker_req_t *
docker_http_request(docker_http_t *h, docker_http_method_t method, const char *path,
                    const char *body, int timeout_s, docker_http_chunk_fn chunk,
                    docker_http_done_fn done, void *arg)
{
    docker_req_t *r = xcalloc(1, sizeof(*r));

    r->http = h;
    r->next = h->reqs;
    if (h->reqs != NULL)
        h->reqs->prev = r;
    h->reqs = r;
    r->chunk = chunk;
    r->done = done;
    r->arg = arg;
    buf_init(&r->body);
    r->what = xasprintf("%s %s", docker_http_method_name(method), path);
    r->step_ev = docker_http_event_new(h->base, -1, 0, docker_req_step_cb, r);
    r->idle.tv_sec = timeout_s > 0 ? timeout_s : 1;

    /* Every outcome, failures here included, reaches `done` from the loop. */
    if (h->multi == NULL) {
        docker_req_fail(r, xstrdup("libcurl could not be set up"), false);
        return r;
    }
    if (strlen(h->socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        docker_req_fail(r, xstrdup("socket path too long"), true);
        return r;
    }
    r->easy = curl_easy_init();
    if (r->easy == NULL || docker_req_setup(r, h, method, path, body, r->idle.tv_sec) != 0) {
        docker_req_fail(r, xstrdup("could not set up the request"), false);
        return r;
    }
    docker_req_step_later(r);
    return r;
}

/* --- the client: curl's sockets and timer as events --- */

static void
docker_sock_free(struct docker_sock *s)
{
    docker_http_t *h = s->http;

    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    event_free(s->ev);
    free(s);
}

static void
docker_http_destroy(docker_http_t *h)
{
    while (h->reqs != NULL)
        docker_req_destroy(h->reqs);
    /* May still tell docker_http_socket_fn to drop sockets. */
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    while (h->socks != NULL)
        docker_sock_free(h->socks);
    event_free(h->timer);
    free(h->socket_path);
    free(h);
}

/* Collect the transfers curl has finished. */
static void
docker_http_collect(docker_http_t *h)
{
    for (;;) {
        int left = 0;
        CURLMsg *msg = curl_multi_info_read(h->multi, &left);
        if (msg == NULL)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        /* msg is gone once the handle is removed. */
        CURLcode result = msg->data.result;
        void *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        docker_req_t *r = priv;
        curl_multi_remove_handle(h->multi, easy);
        r->in_multi = false;
        docker_req_ended(r, result);
    }
}

/* Let curl act on fd (or on its timeout), then collect what ended. */
static void
docker_http_drive(docker_http_t *h, curl_socket_t fd, int action)
{
    int running = 0;
    CURLMcode mc;

    h->in_curl = true;
    mc = curl_multi_socket_action(h->multi, fd, action, &running);
    h->in_curl = false;
    if (h->free_requested) {
        docker_http_destroy(h);
        return;
    }
    if (mc != CURLM_OK)
        log_warn("docker", "curl_multi_socket_action failed: %s", curl_multi_strerror(mc));
    docker_http_collect(h);
}

static void
docker_http_sock_cb(evutil_socket_t fd, short what, void *arg)
{
    int action = 0;

    if (what & EV_READ)
        action |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    docker_http_drive(arg, fd, action);
}

static void
docker_http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    docker_http_drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop. */
static int
docker_http_socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    docker_http_t *h = userp;
    struct docker_sock *s = socketp;
    short events = EV_PERSIST;

    if (what == CURL_POLL_REMOVE) {
        /* Before curl closes fd; it forgets s itself. */
        if (s != NULL)
            docker_sock_free(s);
        return 0;
    }
    if (what & CURL_POLL_IN)
        events |= EV_READ;
    if (what & CURL_POLL_OUT)
        events |= EV_WRITE;
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->http = h;
        s->next = h->socks;
        if (h->socks != NULL)
            h->socks->prev = s;
        h->socks = s;
        s->ev = docker_http_event_new(h->base, fd, events, docker_http_sock_cb, h);
        curl_multi_assign(h->multi, fd, s);
    } else {
        event_del(s->ev);
        event_assign(s->ev, h->base, fd, events, docker_http_sock_cb, h);
    }
    return event_add(s->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: wake curl in timeout_ms, or never (-1). Even 0
 * goes through the loop: this may be called from inside
 * curl_multi_add_handle. */
static int
docker_http_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    docker_http_t *h = userp;
    struct timeval tv;

    if (timeout_ms < 0) {
        evtimer_del(h->timer);
        return 0;
    }
    tv.tv_sec = (time_t)(timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
    return evtimer_add(h->timer, &tv) == 0 ? 0 : -1;
}

docker_http_t *
docker_http_new(struct event_base *base, const char *socket_path)
{
    docker_http_t *h = xcalloc(1, sizeof(*h));
    bool ok;

    h->base = base;
    h->socket_path = xstrdup(socket_path);
    h->timer = docker_http_event_new(base, -1, 0, docker_http_timer_cb, h);
    /* Without libcurl every request fails, from the loop like any other. */
    if (!docker_http_curl_ready())
        return h;
    h->multi = curl_multi_init();
    ok = h->multi != NULL;
    ok = ok &&
         curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, docker_http_socket_fn) == CURLM_OK;
    ok = ok && curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) == CURLM_OK;
    ok =
        ok && curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, docker_http_timer_fn) == CURLM_OK;
    ok = ok && curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) == CURLM_OK;
    if (!ok) {
        log_error("docker", "could not set up a libcurl multi handle");
        if (h->multi != NULL)
            curl_multi_cleanup(h->multi);
        h->multi = NULL;
    }
    return h;
}

void
docker_http_free(docker_http_t *h)
{
    if (h == NULL)
        return;
    if (h->in_curl) {
        /* From inside a chunk callback, with curl still on the stack: the
         * requests are dropped now (no callback follows; the write callback
         * stops the one in progress), the rest once curl has returned. */
        for (docker_req_t *r = h->reqs; r != NULL; r = r->next) {
            r->cancelled = true;
            r->chunk = NULL;
            r->done = NULL;
        }
        h->free_requested = true;
        return;
    }
    docker_http_destroy(h);
}
