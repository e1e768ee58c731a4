/* Unit tests of the HTTP request parser (api/httpparse.c): request heads,
 * framing fields, chunked bodies, loopback Host names, allowed origins. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "httpparse.h"

/* Parse a head given as a string; returns the status of the refusal, or 0. */
static int
parse(const char *text, httpparse_head_t *h, char **keep)
{
    char *buf = strdup(text);
    httpparse_error_t err;
    size_t len = httpparse_head_len(buf, strlen(buf));
    int rc;

    ck_assert_uint_gt(len, 0);
    rc = httpparse_head(buf, len, h, &err);
    if (rc < 0) {
        ck_assert_ptr_nonnull(err.error);
        ck_assert_ptr_nonnull(err.detail);
    }
    *keep = buf;
    return rc < 0 ? err.status : 0;
}

static int
status_of(const char *text)
{
    httpparse_head_t h;
    char *buf;
    int st = parse(text, &h, &buf);

    free(buf);
    return st;
}

START_TEST(test_head_len)
{
    ck_assert_uint_eq(httpparse_head_len("GET / HTTP/1.1\r\nHost: a\r\n\r\nxyz", 30), 27);
    ck_assert_uint_eq(httpparse_head_len("GET / HTTP/1.1\nHost: a\n\nxyz", 27), 24);
    ck_assert_uint_eq(httpparse_head_len("GET / HTTP/1.1\r\nHost: a\r\n", 25), 0);
    ck_assert_uint_eq(httpparse_head_len("GET / HTTP/1.1\r\nHost: a\r\n\r", 26), 0);
    ck_assert_uint_eq(httpparse_head_len("", 0), 0);
}
END_TEST

START_TEST(test_head_ok)
{
    httpparse_head_t h;
    char *buf;

    ck_assert_int_eq(parse("POST /api/v1/x?a=b HTTP/1.1\r\nHost: localhost:8080\r\n"
                           "Content-Type:application/json \r\nContent-Length: 12\r\n"
                           "X-Empty:\r\n\r\n",
                           &h, &buf),
                     0);
    ck_assert_str_eq(h.method, "POST");
    ck_assert_str_eq(h.target, "/api/v1/x?a=b");
    ck_assert_int_eq(h.minor, 1);
    ck_assert_uint_eq(h.nheaders, 4);
    ck_assert_str_eq(httpparse_header(&h, "content-type"), "application/json");
    ck_assert_str_eq(httpparse_header(&h, "HOST"), "localhost:8080");
    ck_assert_str_eq(httpparse_header(&h, "X-Empty"), "");
    ck_assert_ptr_null(httpparse_header(&h, "Origin"));
    ck_assert_int_eq(h.content_length, 12);
    ck_assert(!h.chunked);
    ck_assert(h.keep_alive);
    ck_assert(!h.expect_continue);
    free(buf);

    ck_assert_int_eq(parse("GET / HTTP/1.0\n\n", &h, &buf), 0);
    ck_assert_int_eq(h.minor, 0);
    ck_assert(!h.keep_alive);
    ck_assert_int_eq(h.content_length, -1);
    free(buf);

    ck_assert_int_eq(parse("PUT /t HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n"
                           "Transfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n",
                           &h, &buf),
                     0);
    ck_assert(!h.keep_alive);
    ck_assert(h.chunked);
    ck_assert(h.expect_continue);
    free(buf);

    /* The same Content-Length twice is one. */
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                               "Content-Length: 2\r\n\r\n"),
                     0);
}
END_TEST

START_TEST(test_head_refused)
{
    /* Request line. */
    ck_assert_int_eq(status_of("GET\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    ck_assert_int_eq(status_of("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
    ck_assert_int_eq(status_of("GET / HTTPS/1.1\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("AVERYLONGMETHODNAMEOFMORETHANTHIRTYTWO / HTTP/1.1\r\n\r\n"), 501);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n"), 400);
    /* Fields. */
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    /* Framing. */
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n"), 400);
    ck_assert_int_eq(
        status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        400);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
    ck_assert_int_eq(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    ck_assert_int_eq(
        status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"),
                     501);
    ck_assert_int_eq(status_of("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), 417);
}
END_TEST

START_TEST(test_head_huge_values)
{
    httpparse_head_t h;
    char *buf;

    ck_assert_int_eq(
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
              &h, &buf),
        0);
    ck_assert_int_eq(h.content_length, INT64_MAX);
    free(buf);
}
END_TEST

START_TEST(test_head_too_many_fields)
{
    char text[8192] = "GET / HTTP/1.1\r\nHost: a\r\n";

    for (int i = 0; i < HTTPPARSE_MAX_HEADERS; i++)
        strcat(text, "X-A: b\r\n");
    strcat(text, "\r\n");
    ck_assert_int_eq(status_of(text), 431);
}
END_TEST

START_TEST(test_head_nul)
{
    char buf[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    httpparse_head_t h;
    httpparse_error_t err;

    ck_assert_int_eq(httpparse_head(buf, sizeof(buf) - 1, &h, &err), -1);
    ck_assert_int_eq(err.status, 400);
}
END_TEST

/* Decode all of in, fed n bytes at a time. Returns the status, or 0. */
static int
chunked(const char *in, size_t n, size_t max, buf_t *out, size_t *consumed)
{
    httpparse_chunked_t c;
    httpparse_error_t err;
    size_t len = strlen(in), at = 0;
    bool done = false;

    memset(&c, 0, sizeof(c));
    buf_init(out);
    while (at < len && !done) {
        size_t k = len - at < n ? len - at : n;
        ssize_t used = httpparse_chunked(&c, in + at, k, out, max, &done, &err);
        if (used < 0)
            return err.status;
        at += (size_t)used;
        if ((size_t)used < k && !done)
            ck_abort_msg("bytes left unconsumed before the end");
    }
    *consumed = at;
    return done ? 0 : -1;
}

START_TEST(test_chunked)
{
    const char *body = "5\r\nhello\r\n7;ext=\"a b\"\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    buf_t out;
    size_t used;

    /* Whole, then byte by byte: the same. */
    for (size_t n = strlen(body); n >= 1; n = n == 1 ? 0 : 1) {
        ck_assert_int_eq(chunked(body, n, 100, &out, &used), 0);
        ck_assert_str_eq(out.data, "hello, world");
        ck_assert_uint_eq(used, strlen(body) - 4);
        buf_free(&out);
    }
    ck_assert_int_eq(chunked("A\nabcdefghij\n0\n\n", 3, 100, &out, &used), 0);
    ck_assert_str_eq(out.data, "abcdefghij");
    buf_free(&out);
    ck_assert_int_eq(chunked("0\r\n\r\n", 1, 100, &out, &used), 0);
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
    /* Incomplete. */
    ck_assert_int_eq(chunked("5\r\nhel", 100, 100, &out, &used), -1);
    buf_free(&out);
}
END_TEST

START_TEST(test_chunked_refused)
{
    char line[HTTPPARSE_MAX_CHUNK_LINE + 16];
    buf_t out;
    size_t used;

    ck_assert_int_eq(chunked("zz\r\n", 100, 100, &out, &used), 400);
    buf_free(&out);
    ck_assert_int_eq(chunked("\r\n", 100, 100, &out, &used), 400);
    buf_free(&out);
    ck_assert_int_eq(chunked("2\r\nabc\r\n", 100, 100, &out, &used), 400);
    buf_free(&out);
    ck_assert_int_eq(chunked("2 x\x01\r\n", 100, 100, &out, &used), 400);
    buf_free(&out);
    /* Over the limit: said at the size, before any data. */
    ck_assert_int_eq(chunked("65\r\n", 100, 100, &out, &used), 413);
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
    ck_assert_int_eq(chunked("FFFFFFFFFFFFFFFFFFFFFFFF\r\n", 100, 100, &out, &used), 413);
    buf_free(&out);
    ck_assert_int_eq(chunked("32\r\n"
                             "01234567890123456789012345678901234567890123456789\r\n"
                             "33\r\n",
                             7, 100, &out, &used),
                     413);
    buf_free(&out);
    memset(line, 'a', sizeof(line));
    line[0] = '1';
    line[1] = ';';
    line[sizeof(line) - 1] = '\0';
    ck_assert_int_eq(chunked(line, 100, 100, &out, &used), 400);
    buf_free(&out);
}
END_TEST

START_TEST(test_host_loopback)
{
    const char *yes[] = {"localhost",    "LocalHost:8080", "localhost:", "127.0.0.1",
                         "127.1.2.3:80", "[::1]",          "[::1]:8080"};
    const char *no[] = {"evil.example",
                        "evil.example:8080",
                        "127.0.0.1.evil.example",
                        "localhost.evil.example",
                        "128.0.0.1",
                        "10.0.0.1:80",
                        "[::2]",
                        "[::1]x",
                        "[::1",
                        "localhost:80x",
                        "127.1",
                        "",
                        "0.0.0.0",
                        "[fe80::1]:80"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(httpparse_host_is_loopback(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!httpparse_host_is_loopback(no[i]), "%s", no[i]);
}
END_TEST

START_TEST(test_origin)
{
    const char *list = " http://ui.example ,https://ci.example:8443,";

    ck_assert(httpparse_origin_allowed("http://ui.example", list));
    ck_assert(httpparse_origin_allowed("HTTPS://ci.example:8443", list));
    ck_assert(!httpparse_origin_allowed("http://ui.example.evil", list));
    ck_assert(!httpparse_origin_allowed("http://ui.exampl", list));
    ck_assert(!httpparse_origin_allowed("null", list));
    ck_assert(!httpparse_origin_allowed("", list));
    ck_assert(!httpparse_origin_allowed("http://ui.example", ""));
    ck_assert(!httpparse_origin_allowed("http://ui.example", NULL));
}
END_TEST

START_TEST(test_origin_same_host)
{
    ck_assert(httpparse_origin_same_host("http://127.0.0.1:8080", "127.0.0.1:8080"));
    ck_assert(httpparse_origin_same_host("HTTPS://CI.example", "ci.example"));
    ck_assert(httpparse_origin_same_host("http://[::1]:80", "[::1]:80"));
    ck_assert(!httpparse_origin_same_host("http://127.0.0.1:8081", "127.0.0.1:8080"));
    ck_assert(!httpparse_origin_same_host("http://127.0.0.1", "127.0.0.1:8080"));
    ck_assert(!httpparse_origin_same_host("http://evil.example", "127.0.0.1"));
    ck_assert(!httpparse_origin_same_host("ftp://127.0.0.1", "127.0.0.1"));
    ck_assert(!httpparse_origin_same_host("127.0.0.1", "127.0.0.1"));
    ck_assert(!httpparse_origin_same_host("null", "null"));
    ck_assert(!httpparse_origin_same_host("http://", ""));
    ck_assert(!httpparse_origin_same_host("http://a", NULL));
}
END_TEST

static Suite *
httpparse_suite(void)
{
    Suite *s = suite_create("httpparse");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_head_len);
    tcase_add_test(tc, test_head_ok);
    tcase_add_test(tc, test_head_refused);
    tcase_add_test(tc, test_head_huge_values);
    tcase_add_test(tc, test_head_too_many_fields);
    tcase_add_test(tc, test_head_nul);
    tcase_add_test(tc, test_chunked);
    tcase_add_test(tc, test_chunked_refused);
    tcase_add_test(tc, test_host_loopback);
    tcase_add_test(tc, test_origin);
    tcase_add_test(tc, test_origin_same_host);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(httpparse_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
