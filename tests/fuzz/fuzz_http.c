/*
 * fuzz_http - the HTTP/1.1 request parser of api/httpparse.c on whatever a
 * client can send: the input is a request head followed by a chunked body.
 * The head is measured and parsed in place; the rest is decoded as a chunked
 * body twice, at once and in pieces whose sizes come from the input, and
 * the Host and Origin policy checks run on what the head carries.
 *
 * Invariants checked beyond "no crash, leak or sanitizer report": a refused
 * head carries one of the documented statuses and says why; a parsed head
 * stays inside its buffer and respects its bounds; the decoder gives the
 * same bytes, the same end and the same refusal however the body is split,
 * and never returns more than the cap.
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "httpparse.h"

#define FUZZ_BODY_MAX 4096

static bool
status_documented(int status)
{
    return status == 400 || status == 417 || status == 431 || status == 501 || status == 505;
}

static bool
inside(const char *p, const char *buf, size_t len)
{
    return p >= buf && p < buf + len;
}

static void
fuzz_head(const uint8_t *data, size_t size, size_t head_len)
{
    char *buf = malloc(head_len + 1);
    httpparse_head_t h;
    httpparse_error_t err = {0};

    if (buf == NULL)
        abort();
    memcpy(buf, data, head_len);
    buf[head_len] = '\0';
    (void)size;
    if (httpparse_head(buf, head_len, &h, &err) < 0) {
        FUZZ_CHECK(status_documented(err.status), "a refused head has a documented status");
        FUZZ_CHECK(err.error != NULL && err.detail != NULL, "a refused head says why");
        FUZZ_CHECK(fuzz_utf8_valid(err.detail, strlen(err.detail)), "detail is valid UTF-8");
        free(buf);
        return;
    }
    FUZZ_CHECK(inside(h.method, buf, head_len) && inside(h.target, buf, head_len),
               "request line inside the buffer");
    FUZZ_CHECK(h.minor == 0 || h.minor == 1, "HTTP/1.0 or HTTP/1.1");
    FUZZ_CHECK(h.nheaders <= HTTPPARSE_MAX_HEADERS, "at most HTTPPARSE_MAX_HEADERS fields");
    FUZZ_CHECK(!(h.chunked && h.content_length >= 0), "not both chunked and Content-Length");
    for (size_t i = 0; i < h.nheaders; i++) {
        FUZZ_CHECK(inside(h.headers[i].name, buf, head_len) &&
                       inside(h.headers[i].value, buf, head_len + 1),
                   "fields inside the buffer");
        FUZZ_CHECK(httpparse_header(&h, h.headers[i].name) != NULL, "every field is found");
    }
    {
        const char *host = httpparse_header(&h, "Host");
        const char *origin = httpparse_header(&h, "Origin");

        if (host != NULL)
            (void)httpparse_host_is_loopback(host);
        if (origin != NULL) {
            FUZZ_CHECK(!httpparse_origin_allowed(origin, ""), "an empty list allows nothing");
            (void)httpparse_origin_allowed(origin, "http://localhost:3000, https://ci.example");
        }
    }
    free(buf);
}

/* Decode in[0..len) in pieces of the sizes in steps (cycled; 0 = the rest). */
static ssize_t
decode(const uint8_t *in, size_t len, const uint8_t *steps, size_t nsteps, buf_t *out, bool *done,
       int *status)
{
    httpparse_chunked_t c;
    httpparse_error_t err = {0};
    size_t pos = 0, k = 0;

    memset(&c, 0, sizeof(c));
    *done = false;
    *status = 0;
    while (pos < len && !*done) {
        size_t n = nsteps ? steps[k++ % nsteps] : 0;
        ssize_t used;

        if (n == 0 || n > len - pos)
            n = len - pos;
        used = httpparse_chunked(&c, (const char *)in + pos, n, out, FUZZ_BODY_MAX, done, &err);
        if (used < 0) {
            FUZZ_CHECK(err.status == 400 || err.status == 413, "chunked refusal is 400 or 413");
            *status = err.status;
            return -1;
        }
        FUZZ_CHECK((size_t)used <= n, "consumes at most what it is given");
        FUZZ_CHECK(*done || (size_t)used == n, "consumes everything until the end");
        pos += (size_t)used;
    }
    FUZZ_CHECK(out->len <= FUZZ_BODY_MAX, "never more than the cap");
    return (ssize_t)pos;
}

static void
fuzz_chunked(const uint8_t *body, size_t len, const uint8_t *steps, size_t nsteps)
{
    buf_t whole, pieces;
    bool done1, done2;
    int st1, st2;
    ssize_t r1, r2;

    buf_init(&whole);
    buf_init(&pieces);
    r1 = decode(body, len, NULL, 0, &whole, &done1, &st1);
    r2 = decode(body, len, steps, nsteps, &pieces, &done2, &st2);
    FUZZ_CHECK((r1 < 0) == (r2 < 0) && st1 == st2, "the same refusal however split");
    if (r1 >= 0) {
        FUZZ_CHECK(done1 == done2 && r1 == r2, "the same end however split");
        FUZZ_CHECK(fuzz_buf_equal(&whole, &pieces), "the same bytes however split");
    }
    buf_free(&whole);
    buf_free(&pieces);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t head_len = httpparse_head_len((const char *)data, size);
    const uint8_t *steps = data;
    size_t nsteps = size < 4 ? size : 4;

    FUZZ_CHECK(head_len <= size, "the head fits in what was read");
    if (head_len > 0)
        fuzz_head(data, size, head_len);
    /* The body: what follows the head, or the whole input when there is none. */
    fuzz_chunked(data + head_len, size - head_len, steps, nsteps);
    return 0;
}
