/*
 * httpparse - request heads, chunked bodies, Host and Origin checks.
 */
#include "httpparse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

enum {
    CH_SIZE,    /* hex digits of a chunk size */
    CH_EXT,     /* chunk extensions, up to the end of the line */
    CH_DATA,    /* chunk data */
    CH_DATA_CR, /* the CRLF after chunk data */
    CH_DATA_LF,
    CH_TRAILER, /* at the start of a trailer line (or the final empty line) */
    CH_TRAILER_LINE,
    CH_DONE,
};

static int
httpparse_fail(httpparse_error_t *err, int status, const char *error, const char *detail)
{
    err->status = status;
    err->error = error;
    err->detail = detail;
    return -1;
}

/* RFC 9110 tchar. */
static bool
httpparse_is_tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

size_t
httpparse_head_len(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Cut the line at *p (ending in LF or CRLF) within end; returns it
 * NUL-terminated and moves *p past it, or NULL on a bare CR. */
static char *
httpparse_line(char **p, char *end)
{
    char *s = *p;
    char *nl = memchr(s, '\n', (size_t)(end - s));
    char *e;

    if (nl == NULL)
        return NULL;
    e = nl;
    if (e > s && e[-1] == '\r')
        e--;
    if (memchr(s, '\r', (size_t)(e - s)) != NULL)
        return NULL;
    *e = '\0';
    *p = nl + 1;
    return s;
}

static int
httpparse_request_line(char *line, httpparse_head_t *h, httpparse_error_t *err)
{
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    const char *v;

    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
        return httpparse_fail(err, 400, "bad request",
                              "the request line is not \"METHOD /path HTTP/1.1\"");
    *sp1 = '\0';
    *sp2 = '\0';
    for (const char *c = line; *c; c++)
        if (!httpparse_is_tchar((unsigned char)*c))
            return httpparse_fail(err, 400, "bad request", "the method is not a token");
    if (sp1 - line > 32)
        return httpparse_fail(err, 501, "not implemented", "the method is not supported");
    for (const char *c = sp1 + 1; *c; c++)
        if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
            return httpparse_fail(err, 400, "bad request",
                                  "the request target has a space or a control character");
    if (sp1[1] != '/')
        return httpparse_fail(err, 400, "bad request",
                              "the request target must be a path starting with \"/\"");
    v = sp2 + 1;
    if (strncmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]) || v[8] != '\0')
        return httpparse_fail(err, 400, "bad request", "the protocol is not HTTP/1.x");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return httpparse_fail(err, 505, "HTTP version not supported",
                              "this server speaks HTTP/1.0 and HTTP/1.1");
    h->method = line;
    h->target = sp1 + 1;
    h->minor = v[7] - '0';
    return 0;
}

/* Whether the comma-separated list has the item (n bytes; spaces around
 * items ignored, compared without regard to case). */
static bool
httpparse_list_has(const char *list, const char *item, size_t n)
{
    const char *p = list;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t > p && (size_t)(t - p) == n && strncasecmp(p, item, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static int
httpparse_content_length(const char *v, int64_t *out, httpparse_error_t *err)
{
    int64_t n = 0;

    if (*v == '\0')
        return httpparse_fail(err, 400, "bad request", "Content-Length is empty");
    for (const char *c = v; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return httpparse_fail(err, 400, "bad request",
                                  "Content-Length is not a number of bytes");
        /* Past 10^17 the exact figure does not matter: it is too large. */
        if (n < 100000000000000000LL)
            n = n * 10 + (*c - '0');
        else
            n = INT64_MAX;
    }
    *out = n;
    return 0;
}

/* Check the fields that frame the message and set the head's flags. */
static int
httpparse_fields(httpparse_head_t *h, httpparse_error_t *err)
{
    int hosts = 0;
    bool te = false;

    h->content_length = -1;
    h->keep_alive = h->minor == 1;
    for (size_t i = 0; i < h->nheaders; i++) {
        const char *name = h->headers[i].name;
        const char *value = h->headers[i].value;

        if (strcasecmp(name, "Host") == 0) {
            hosts++;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            int64_t n;
            if (httpparse_content_length(value, &n, err) < 0)
                return -1;
            if (h->content_length >= 0 && h->content_length != n)
                return httpparse_fail(err, 400, "bad request",
                                      "the request has two different Content-Length fields");
            h->content_length = n;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            if (te || strcasecmp(value, "chunked") != 0)
                return httpparse_fail(err, 501, "not implemented",
                                      "the only transfer coding supported is \"chunked\"");
            te = true;
        } else if (strcasecmp(name, "Connection") == 0) {
            if (httpparse_list_has(value, "close", 5))
                h->keep_alive = false;
        } else if (strcasecmp(name, "Expect") == 0) {
            if (strcasecmp(value, "100-continue") != 0)
                return httpparse_fail(err, 417, "expectation failed",
                                      "the only expectation supported is \"100-continue\"");
            h->expect_continue = h->minor == 1;
        }
    }
    if (hosts > 1 || (hosts == 0 && h->minor == 1))
        return httpparse_fail(err, 400, "bad request",
                              "an HTTP/1.1 request has exactly one Host field");
    if (te && (h->content_length >= 0 || h->minor == 0))
        return httpparse_fail(
            err, 400, "bad request",
            "Transfer-Encoding is only for HTTP/1.1 requests without a Content-Length");
    h->chunked = te;
    return 0;
}

int
httpparse_head(char *buf, size_t len, httpparse_head_t *h, httpparse_error_t *err)
{
    char *p = buf;
    char *end = buf + len;
    char *line;

    memset(h, 0, sizeof(*h));
    if (memchr(buf, '\0', len) != NULL)
        return httpparse_fail(err, 400, "bad request", "the request head has a NUL byte");
    line = httpparse_line(&p, end);
    if (line == NULL)
        return httpparse_fail(err, 400, "bad request", "the request line is malformed");
    if (httpparse_request_line(line, h, err) < 0)
        return -1;
    for (;;) {
        char *colon, *v, *e;

        line = httpparse_line(&p, end);
        if (line == NULL)
            return httpparse_fail(err, 400, "bad request", "a header line is malformed");
        if (line[0] == '\0')
            break;
        if (line[0] == ' ' || line[0] == '\t')
            return httpparse_fail(err, 400, "bad request",
                                  "folded header lines (starting with a space) are not allowed");
        colon = strchr(line, ':');
        if (colon == NULL || colon == line)
            return httpparse_fail(err, 400, "bad request", "a header line is not \"Name: value\"");
        for (const char *c = line; c < colon; c++)
            if (!httpparse_is_tchar((unsigned char)*c))
                return httpparse_fail(err, 400, "bad request", "a header name is not a token");
        *colon = '\0';
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = '\0';
        for (const char *c = v; *c; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return httpparse_fail(err, 400, "bad request",
                                      "a header value has a control character");
        if (h->nheaders == HTTPPARSE_MAX_HEADERS)
            return httpparse_fail(err, 431, "request header fields too large",
                                  "the request has too many header fields");
        h->headers[h->nheaders].name = line;
        h->headers[h->nheaders].value = v;
        h->nheaders++;
    }
    if (p != end)
        return httpparse_fail(err, 400, "bad request", "the request head is malformed");
    return httpparse_fields(h, err);
}

const char *
httpparse_header(const httpparse_head_t *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}

static int
httpparse_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

ssize_t
httpparse_chunked(httpparse_chunked_t *c, const char *in, size_t len, buf_t *out, size_t max,
                  bool *done, httpparse_error_t *err)
{
    size_t i = 0;

    *done = c->state == CH_DONE;
    while (i < len && c->state != CH_DONE) {
        unsigned char ch = (unsigned char)in[i];

        switch (c->state) {
        case CH_SIZE: {
            int d = httpparse_hex(ch);
            if (d >= 0) {
                c->digits = true;
                c->remaining = c->remaining * 16 + (uint64_t)d;
                if (c->remaining > max - out->len)
                    return httpparse_fail(err, 413, "payload too large",
                                          "the chunked body is larger than the limit");
                i++;
                break;
            }
            if (!c->digits)
                return httpparse_fail(err, 400, "bad request", "a chunk size is not hexadecimal");
            c->state = CH_EXT;
            break;
        }
        case CH_EXT:
            if (++c->line > HTTPPARSE_MAX_CHUNK_LINE)
                return httpparse_fail(err, 400, "bad request", "a chunk size line is too long");
            i++;
            if (ch == '\n') {
                c->line = 0;
                c->digits = false;
                c->state = c->remaining > 0 ? CH_DATA : CH_TRAILER;
            } else if (ch != '\r' && ch != ';' && ch != ' ' && ch != '\t' && ch != '=' &&
                       ch != '"' && !httpparse_is_tchar(ch)) {
                return httpparse_fail(err, 400, "bad request", "a chunk size line is malformed");
            }
            break;
        case CH_DATA: {
            size_t n = len - i;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            buf_append(out, in + i, n);
            i += n;
            c->remaining -= n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (ch == '\r' && c->state == CH_DATA_CR) {
                c->state = CH_DATA_LF;
            } else if (ch == '\n') {
                c->state = CH_SIZE;
            } else {
                return httpparse_fail(err, 400, "bad request",
                                      "chunk data is not followed by a line end");
            }
            i++;
            break;
        case CH_TRAILER:
        case CH_TRAILER_LINE:
            if (++c->line > HTTPPARSE_MAX_TRAILERS)
                return httpparse_fail(err, 431, "request header fields too large",
                                      "the trailer fields of the chunked body are too long");
            i++;
            if (ch == '\n')
                c->state = c->state == CH_TRAILER ? CH_DONE : CH_TRAILER;
            else if (ch != '\r')
                c->state = CH_TRAILER_LINE;
            break;
        default:
            break;
        }
    }
    *done = c->state == CH_DONE;
    return (ssize_t)i;
}

bool
httpparse_host_is_loopback(const char *host)
{
    char name[64];
    const char *port;
    size_t n;

    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        struct in6_addr a6;
        n = close ? (size_t)(close - host - 1) : sizeof(name);
        if (n >= sizeof(name))
            return false;
        memcpy(name, host + 1, n);
        name[n] = '\0';
        port = close + 1;
        if (*port != '\0' && *port != ':')
            return false;
        if (inet_pton(AF_INET6, name, &a6) != 1 || !IN6_IS_ADDR_LOOPBACK(&a6))
            return false;
    } else {
        const char *colon = strchr(host, ':');
        struct in_addr a4;
        n = colon ? (size_t)(colon - host) : strlen(host);
        if (n >= sizeof(name))
            return false;
        memcpy(name, host, n);
        name[n] = '\0';
        port = host + n;
        if (strcasecmp(name, "localhost") != 0 &&
            (inet_pton(AF_INET, name, &a4) != 1 || (ntohl(a4.s_addr) >> 24) != 127))
            return false;
    }
    if (*port == ':')
        for (port++; *port; port++)
            if (!isdigit((unsigned char)*port))
                return false;
    return true;
}

bool
httpparse_origin_allowed(const char *origin, const char *list)
{
    return origin[0] != '\0' && list != NULL && httpparse_list_has(list, origin, strlen(origin));
}

bool
httpparse_origin_same_host(const char *origin, const char *host)
{
    if (host == NULL || host[0] == '\0')
        return false;
    if (strncasecmp(origin, "http://", 7) == 0)
        origin += 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        origin += 8;
    else
        return false;
    return strcasecmp(origin, host) == 0;
}
