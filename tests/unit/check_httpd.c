/* Unit tests of the HTTP server module (api/httpd.c) on a real loopback
 * socket and event loop: held requests replied from a timer (and dropped
 * when the client has gone), the 500 for a forgotten reply, refusal before
 * the body, the budget of all bodies, deadlines, the connection cap,
 * keep-alive; streamed replies
 * (the cap on streams, a client that leaves, one that stops reading, the
 * owner's close). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "httpd.h"

static struct event_base *base;
static httpd_t *srv;
static struct event *later; /* the deferred reply */
static http_req_t *held;    /* the request it answers */
static int admitted, handled, late_replies, gone_at_reply;
static http_req_t *streaming; /* the open stream of /stream, or NULL */
static int streams_gone;      /* on_gone calls */

static void
stream_gone(http_req_t *r, void *arg)
{
    ck_assert_ptr_eq(r, streaming);
    streaming = NULL;
    streams_gone++;
}

/* The timer of a held request: reply now. */
static void
reply_later(evutil_socket_t fd, short what, void *arg)
{
    cJSON *o = cJSON_CreateObject();

    gone_at_reply = http_req_client_gone(held);
    cJSON_AddStringToObject(o, "late", "yes");
    http_reply_json(held, 200, o);
    held = NULL;
    late_replies++;
}

static bool
admit(http_req_t *r, void *arg)
{
    admitted++;
    if (http_header(r, "X-Deny") != NULL) {
        http_reply_error(r, 401, "unauthorized", "denied");
        return false;
    }
    return true;
}

static void
handle(http_req_t *r, void *arg)
{
    handled++;
    if (strcmp(r->log_path, "/hold") == 0) {
        struct timeval tv = {0, 200 * 1000};
        http_req_hold(r);
        held = r;
        evtimer_add(later, &tv);
        return;
    }
    if (strcmp(r->log_path, "/forget") == 0)
        return;
    if (strcmp(r->log_path, "/stream") == 0) {
        http_stream_cb_t cb = {NULL, stream_gone, NULL};
        if (http_stream_open(r, "text/event-stream", &cb) < 0)
            return;
        ck_assert(http_stream_write(r, "data: hello\n\n", 13));
        streaming = r;
        return;
    }
    http_reply_raw(r, 200, "text/plain", r->body, r->body_len);
}

static void
start(int max_connections, int header_timeout)
{
    struct sockaddr_in sin;
    httpd_limits_t lim = {
        .max_connections = max_connections,
        .header_timeout = header_timeout,
        .body_timeout = 5,
        .idle_timeout = 5,
        .max_streams = 1,
        .max_body = 1000,
        .body_budget = 1500,
        .allowed_origins = "",
    };

    signal(SIGPIPE, SIG_IGN);
    admitted = handled = late_replies = 0;
    gone_at_reply = -1;
    held = NULL;
    streaming = NULL;
    streams_gone = 0;
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    later = evtimer_new(base, reply_later, NULL);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv = httpd_new(base, (struct sockaddr *)&sin, sizeof(sin), &lim, admit, handle, NULL);
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_gt(httpd_port(srv), 0);
}

static void
stop(void)
{
    httpd_free(srv);
    event_free(later);
    later_drain(base);
    event_base_free(base);
}

/* Run the loop for ms milliseconds. */
static void
run(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static int
client(void)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)httpd_port(srv));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void
say(int fd, const char *text)
{
    ck_assert_int_eq(send(fd, text, strlen(text), 0), (ssize_t)strlen(text));
}

/* What has arrived on fd so far (the loop is not running), NUL-terminated
 * in a static buffer; *eof set if the server closed. */
static const char *
heard(int fd, bool *eof)
{
    static char buf[65536];
    size_t len = 0;

    *eof = false;
    for (;;) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            *eof = true;
        break;
    }
    buf[len] = '\0';
    return buf;
}

/*
 * The waits below run the loop in steps of 10 ms until what the test waits
 * for has happened, for at most 10 s: a loaded machine (the tests run side
 * by side, and again at idle priority under ASan) may hold the process
 * longer than any fixed time, and a reply that needs a second turn of the
 * loop (a write event) must not be cut off by the test's own timer.
 */
#define WAIT_STEPS 1000

/* Run the loop until cond holds (or 10 s have passed). */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int step_ = 0; step_ < WAIT_STEPS && !(cond); step_++)                                \
            run(10);                                                                               \
    } while (0)

/* Let the server take in what was sent: five turns of the loop at least
 * (accept, read, reply, write), about 50 ms. */
static void
settle(void)
{
    for (int i = 0; i < 5; i++)
        run(10);
}

/* hear's needle that waits for the server's close. */
static const char to_close[] = "";

/* Whether the reply at the start of out is complete: its head ended and
 * the body its Content-Length announces arrived (a head without one: a
 * stream's, or 100 Continue). */
static bool
reply_complete(const char *out)
{
    const char *end = strstr(out, "\r\n\r\n");
    const char *cl;

    if (end == NULL)
        return false;
    cl = strstr(out, "Content-Length: ");
    if (cl == NULL || cl > end)
        return true;
    return strlen(end + 4) >= strtoul(cl + 16, NULL, 10);
}

/* What arrives on fd until it holds needle (NULL: a whole reply;
 * to_close: nothing, the close), the server closes, or 10 s have passed, running the loop
 * meanwhile; in a static buffer, *eof set if the server closed. */
static const char *
hear(int fd, const char *needle, bool *eof)
{
    static char buf[65536];
    size_t len = 0;

    buf[0] = '\0';
    *eof = false;
    for (int step = 0; step < WAIT_STEPS; step++) {
        const char *got = heard(fd, eof);
        size_t n = strlen(got);

        if (n > sizeof(buf) - 1 - len)
            n = sizeof(buf) - 1 - len;
        memcpy(buf + len, got, n);
        len += n;
        buf[len] = '\0';
        if (*eof || (needle == NULL ? reply_complete(buf)
                                    : needle != to_close && strstr(buf, needle) != NULL))
            break;
        run(10);
    }
    return buf;
}

/* Wait until what arrives on fd holds needle (hear), and fail if it does
 * not. */
static void
hears(int fd, const char *needle)
{
    bool eof;

    ck_assert_ptr_nonnull(strstr(hear(fd, needle, &eof), needle));
}

/* Send a request on a new connection, wait for the whole reply (hear) and
 * return it. */
static const char *
exchange(const char *request)
{
    bool eof;
    const char *out;
    int fd = client();

    say(fd, request);
    out = hear(fd, NULL, &eof);
    close(fd);
    return out;
}

START_TEST(test_held_reply)
{
    bool eof;
    int fd;

    start(10, 5);
    fd = client();
    say(fd, "GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n");
    WAIT_FOR(handled == 1);
    ck_assert_int_eq(handled, 1);
    ck_assert_str_eq(heard(fd, &eof), "");
    WAIT_FOR(late_replies == 1);
    ck_assert_int_eq(late_replies, 1);
    ck_assert_int_eq(gone_at_reply, 0);
    hears(fd, "HTTP/1.1 200 OK\r\n");
    ck_assert(!eof);
    /* The connection serves the next request. */
    say(fd, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\n\r\n{}");
    hears(fd, "\r\n\r\n{}");
    close(fd);
    stop();
}
END_TEST

START_TEST(test_held_client_gone)
{
    int fd;

    start(10, 5);
    fd = client();
    say(fd, "GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n");
    WAIT_FOR(handled == 1);
    ck_assert_int_eq(handled, 1);
    close(fd);
    WAIT_FOR(late_replies == 1);
    /* Replied to a client that had gone: dropped, freed, no crash. */
    ck_assert_int_eq(late_replies, 1);
    ck_assert_int_eq(gone_at_reply, 1);
    fd = client();
    say(fd, "GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    hears(fd, "HTTP/1.1 200 OK\r\n");
    close(fd);
    stop();
}
END_TEST

START_TEST(test_held_at_shutdown)
{
    int fd;

    start(10, 5);
    fd = client();
    say(fd, "GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n");
    WAIT_FOR(handled == 1);
    ck_assert_int_eq(handled, 1);
    /* Freed with the server (the leak checker of the sanitizer build
     * would see it otherwise). */
    evtimer_del(later);
    stop();
    close(fd);
}
END_TEST

START_TEST(test_stream)
{
    static char big[256 * 1024];
    const char *out;
    bool eof;
    int fd, fd2;

    start(10, 5);
    fd = client();
    say(fd, "GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n");
    WAIT_FOR(streaming != NULL);
    ck_assert_ptr_nonnull(streaming);
    out = hear(fd, "\r\n\r\ndata: hello\n\n", &eof);
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"));
    ck_assert_ptr_null(strstr(out, "Content-Length"));
    ck_assert_ptr_nonnull(strstr(out, "\r\n\r\ndata: hello\n\n"));
    ck_assert(!eof);
    /* Past the idle timeout the stream stays open. */
    run(5500);
    ck_assert_int_eq(streams_gone, 0);
    ck_assert(http_stream_write(streaming, "data: more\n\n", 12));
    ck_assert_str_eq(hear(fd, "data: more\n\n", &eof), "data: more\n\n");
    ck_assert(!eof);
    /* One stream at most: the next is refused, then served once the
     * first client has left. */
    out = exchange("GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 503 Service Unavailable\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"error\":\"too many streams\""));
    close(fd);
    WAIT_FOR(streams_gone == 1);
    ck_assert_int_eq(streams_gone, 1);
    ck_assert_ptr_null(streaming);
    /* The owner's close: what was written goes out, then the close. */
    fd = client();
    say(fd, "GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n");
    WAIT_FOR(streaming != NULL);
    ck_assert_ptr_nonnull(streaming);
    ck_assert(http_stream_write(streaming, "data: bye\n\n", 11));
    http_stream_close(streaming);
    streaming = NULL;
    out = hear(fd, to_close, &eof);
    ck_assert_ptr_nonnull(strstr(out, "data: bye\n\n"));
    ck_assert(eof);
    close(fd);
    ck_assert_int_eq(streams_gone, 1);
    /* A client that does not read is dropped past 1 MiB unsent. */
    fd2 = client();
    say(fd2, "GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n");
    WAIT_FOR(streaming != NULL);
    ck_assert_ptr_nonnull(streaming);
    memset(big, 'x', sizeof(big));
    bool ok = true;
    for (int i = 0; i < 400 && ok; i++)
        ok = http_stream_write(streaming, big, sizeof(big));
    ck_assert(!ok);
    streaming = NULL;
    settle();
    ck_assert_int_eq(streams_gone, 1);
    /* Its slot is free again. */
    fd = client();
    say(fd, "GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n");
    hears(fd, "HTTP/1.1 200 OK\r\n");
    close(fd);
    close(fd2);
    WAIT_FOR(streams_gone == 2);
    ck_assert_int_eq(streams_gone, 2);
    stop();
}
END_TEST

START_TEST(test_forgotten_reply)
{
    const char *out;

    start(10, 5);
    out = exchange("GET /forget HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 500 Internal Server Error\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"error\":\"internal error\""));
    stop();
}
END_TEST

START_TEST(test_refused_before_body)
{
    bool eof;
    const char *out;
    int fd;

    start(10, 5);
    fd = client();
    /* The head announces a body that never comes: the refusal is not
     * waiting for it. */
    say(fd, "POST /echo HTTP/1.1\r\nHost: localhost\r\nX-Deny: 1\r\n"
            "Content-Type: application/json\r\nContent-Length: 900\r\n\r\n");
    out = hear(fd, NULL, &eof);
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 401 Unauthorized\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
    ck_assert_int_eq(handled, 0);
    hear(fd, to_close, &eof);
    ck_assert(eof);
    close(fd);

    /* Too large and the wrong type: also before the body. */
    ck_assert_ptr_nonnull(strstr(
        exchange("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1001\r\n\r\n"),
        "HTTP/1.1 413 Payload Too Large\r\n"));
    ck_assert_ptr_nonnull(
        strstr(exchange("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 10\r\n\r\n"),
               "HTTP/1.1 415 Unsupported Media Type\r\n"));
    ck_assert_int_eq(handled, 0);
    stop();
}
END_TEST

/* A POST to path with a JSON body of len bytes ('1' after '1'); only the
 * first `sent` bytes of the body are written. In a static buffer. */
static const char *
post(const char *path, size_t len, size_t sent)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf),
                     "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, len);

    ck_assert(n > 0 && (size_t)n + sent < sizeof(buf));
    memset(buf + n, '1', sent);
    buf[(size_t)n + sent] = '\0';
    return buf;
}

static void
assert_busy(const char *out)
{
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 503 Service Unavailable\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Retry-After: 1\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"error\":\"server busy\""));
}

START_TEST(test_body_budget)
{
    bool eof;
    const char *out;
    int held_fd, part_fd, fd;

    start(10, 5);
    /* A held request keeps its body counted (1000 of 1500) until it is
     * replied to and freed. */
    held_fd = client();
    say(held_fd, post("/hold", 1000, 1000));
    WAIT_FOR(handled == 1);
    ck_assert_int_eq(handled, 1);
    assert_busy(exchange(post("/echo", 600, 600)));
    /* Chunked: refused as soon as the body passes what is left. */
    out = exchange("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n258\r\n");
    assert_busy(out);
    /* What fits is read, and a request without a body is served. */
    ck_assert_ptr_nonnull(strstr(exchange(post("/echo", 500, 500)), "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(
        strstr(exchange("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"), "HTTP/1.1 200 OK\r\n"));
    ck_assert_int_eq(handled, 3);
    WAIT_FOR(late_replies == 1);
    ck_assert_int_eq(late_replies, 1);
    hears(held_fd, "HTTP/1.1 200 OK\r\n");
    close(held_fd);
    /* A body counts from its head: one that is still arriving holds its
     * whole length, until its client leaves. */
    part_fd = client();
    say(part_fd, post("/echo", 1000, 10));
    settle();
    assert_busy(exchange(post("/echo", 600, 600)));
    close(part_fd);
    settle();
    fd = client();
    say(fd, post("/echo", 1000, 1000));
    out = hear(fd, NULL, &eof);
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
    ck_assert_int_eq(handled, 4);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_expect_continue_and_chunked)
{
    bool eof;
    const char *out;
    int fd;

    start(10, 5);
    fd = client();
    say(fd, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    ck_assert_str_eq(hear(fd, "HTTP/1.1 100 Continue\r\n\r\n", &eof),
                     "HTTP/1.1 100 Continue\r\n\r\n");
    say(fd, "3\r\n[1,\r\n");
    settle();
    say(fd, "2\r\n2]\r\n0\r\n\r\n");
    out = hear(fd, NULL, &eof);
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n[1,2]"));
    close(fd);
    stop();
}
END_TEST

START_TEST(test_header_deadline)
{
    bool eof;
    const char *out;
    int fd;

    start(10, 1);
    fd = client();
    say(fd, "GET /x HTTP/1.1\r\n");
    for (int i = 0; i < 6; i++) {
        run(200);
        say(fd, "X-Slow: 1\r\n");
    }
    out = hear(fd, NULL, &eof);
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 408 Request Timeout\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"error\":\"request timeout\""));
    ck_assert_int_eq(handled, 0);
    close(fd);
    stop();
}
END_TEST

START_TEST(test_connection_cap)
{
    int a, b, c;

    start(2, 5);
    a = client();
    b = client();
    settle();
    c = client();
    hears(c, "HTTP/1.1 503 Service Unavailable\r\n");
    close(c);
    close(a);
    settle();
    c = client();
    say(c, "GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    hears(c, "HTTP/1.1 200 OK\r\n");
    close(b);
    close(c);
    stop();
}
END_TEST

START_TEST(test_head_and_errors)
{
    const char *out;

    start(10, 5);
    out = exchange("HEAD /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Content-Length: 0\r\n"));
    out = exchange("BREW /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 501 Not Implemented\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Content-Type: application/json\r\n"));
    out = exchange("GET /x HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 421 Misdirected Request\r\n"));
    out = exchange("GET /x HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 403 Forbidden\r\n"));
    ck_assert_int_eq(handled, 1); /* the HEAD only */
    stop();
}
END_TEST

static Suite *
httpd_suite(void)
{
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_held_reply);
    tcase_add_test(tc, test_held_client_gone);
    tcase_add_test(tc, test_held_at_shutdown);
    tcase_add_test(tc, test_forgotten_reply);
    tcase_add_test(tc, test_refused_before_body);
    tcase_add_test(tc, test_expect_continue_and_chunked);
    tcase_add_test(tc, test_body_budget);
    tcase_add_test(tc, test_header_deadline);
    tcase_add_test(tc, test_connection_cap);
    tcase_add_test(tc, test_head_and_errors);
    tcase_add_test(tc, test_stream);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(httpd_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
