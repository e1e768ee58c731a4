/*
 * hook_http - one plain HTTP/1.0 POST over a socket, for gitweave-hook:
 * no library to load, one connection, closed by the server after its reply
 * (HTTP/1.0: never chunked), or read up to its Content-Length when a proxy
 * keeps it open.
 */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* base64 of s, for Basic credentials from the URL; the caller frees it. */
static char *
hook_http_base64(const char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    buf_t out;

    buf_init(&out);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        char q[4];
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        buf_append(&out, q, 4);
    }
    return buf_steal(&out);
}

/* A reply larger than this is not the API's: refused. */
#define HOOK_HTTP_MAX_REPLY (1024 * 1024)

/* Whether in holds a whole reply: its head, and as many bytes of body as
 * its Content-Length says (without one, the reply ends at the close). */
static bool
hook_http_complete(const buf_t *in)
{
    const char *end = in->len > 0 ? memmem(in->data, in->len, "\r\n\r\n", 4) : NULL;
    const char *line;
    size_t body;

    if (end == NULL)
        return false;
    body = in->len - (size_t)(end + 4 - in->data);
    /* Each line ends in \r\n, and the head in \r\n\r\n: a comparison
     * stops at the \r at the latest. */
    for (line = in->data; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            return body >= strtoull(line + 15, NULL, 10);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return false;
}

/* Wait until fd is ready for events, or the deadline; 0 or -1 (err set). */
static int
hook_http_wait(int fd, short events, int64_t deadline, char *err, size_t errlen)
{
    struct pollfd p = {.fd = fd, .events = events};
    int64_t left = deadline - gw_now_ms();
    int rc;

    if (left <= 0) {
        snprintf(err, errlen, "timed out");
        return -1;
    }
    do
        rc = poll(&p, 1, (int)left);
    while (rc < 0 && errno == EINTR);
    if (rc <= 0) {
        snprintf(err, errlen, rc == 0 ? "timed out" : "poll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* A connected non-blocking socket to host:port, or -1 (err set). */
static int
hook_http_connect(const char *host, const char *port, int64_t deadline, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int fd = -1, rc = getaddrinfo(host, port, &hints, &res);

    if (rc != 0) {
        snprintf(err, errlen, "could not resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && hook_http_wait(fd, POLLOUT, deadline, err, errlen) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            break;
        if (soerr != 0)
            errno = soerr;
        if (errno != 0 && strcmp(err, "timed out") != 0)
            snprintf(err, errlen, "could not connect to %s port %s: %s", host, port,
                     strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int
hook_http_post(const char *url, const char *auth, const char *body, int timeout_ms, long *status,
               buf_t *reply, char *err, size_t errlen)
{
    int64_t deadline = gw_now_ms() + timeout_ms;
    const char *p = url + strlen("http://"), *path, *at, *hostp;
    char *userinfo = NULL, *host = NULL, *port = NULL, *basic = NULL;
    buf_t req, in;
    size_t hostlen, sent = 0;
    int fd = -1, rc = -1;

    buf_init(&req);
    buf_init(&in);
    err[0] = '\0';
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "not an http:// URL");
        goto done;
    }
    path = p + strcspn(p, "/?#");
    at = memrchr(p, '@', (size_t)(path - p));
    if (at != NULL) {
        userinfo = xstrndup(p, (size_t)(at - p));
        p = at + 1;
    }
    hostp = p;
    if (*p == '[') {
        const char *close_br = memchr(p, ']', (size_t)(path - p));
        if (close_br == NULL) {
            snprintf(err, errlen, "bad host in URL");
            goto done;
        }
        host = xstrndup(p + 1, (size_t)(close_br - p - 1));
        p = close_br + 1;
    } else {
        hostlen = strcspn(p, ":/?#");
        host = xstrndup(p, hostlen);
        p += hostlen;
    }
    port = *p == ':' && p + 1 < path ? xstrndup(p + 1, (size_t)(path - p - 1)) : xstrdup("80");
    fd = hook_http_connect(host, port, deadline, err, errlen);
    if (fd < 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "could not connect to %s port %s", host, port);
        goto done;
    }
    buf_printf(&req, "POST %s HTTP/1.0\r\nHost: %.*s\r\n", path[0] != '\0' ? path : "/",
               (int)(path - hostp), hostp);
    if (auth != NULL) {
        buf_printf(&req, "%s\r\n", auth);
    } else if (userinfo != NULL) {
        basic = hook_http_base64(userinfo);
        buf_printf(&req, "Authorization: Basic %s\r\n", basic);
    }
    buf_printf(&req,
               "User-Agent: gitweave-hook\r\nAccept: application/json\r\n"
               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
               strlen(body), body);
    while (sent < req.len) {
        ssize_t n = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            if (hook_http_wait(fd, POLLOUT, deadline, err, errlen) < 0)
                goto done;
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "could not send: %s", strerror(errno));
            goto done;
        }
        sent += (size_t)n;
    }
    for (;;) {
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n == 0)
            break;
        if (n < 0 && errno == EAGAIN) {
            if (hook_http_wait(fd, POLLIN, deadline, err, errlen) < 0)
                goto done;
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "could not read the reply: %s", strerror(errno));
            goto done;
        }
        buf_append(&in, chunk, (size_t)n);
        if (in.len > HOOK_HTTP_MAX_REPLY) {
            snprintf(err, errlen, "a reply of more than %d bytes from %s port %s",
                     HOOK_HTTP_MAX_REPLY, host, port);
            goto done;
        }
        if (hook_http_complete(&in))
            break;
    }
    {
        const char *head_end = in.len > 0 ? memmem(in.data, in.len, "\r\n\r\n", 4) : NULL;
        int code = 0;
        if (head_end == NULL || sscanf(in.data, "HTTP/1.%*d %3d", &code) != 1 || code < 100) {
            snprintf(err, errlen, "not an HTTP reply from %s port %s", host, port);
            goto done;
        }
        *status = code;
        buf_append(reply, head_end + 4, in.len - (size_t)(head_end + 4 - in.data));
    }
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (userinfo != NULL)
        memset(userinfo, 0, strlen(userinfo));
    if (basic != NULL)
        memset(basic, 0, strlen(basic));
    /* The request carries the token. */
    if (req.data != NULL)
        memset(req.data, 0, req.len);
    free(userinfo);
    free(basic);
    free(host);
    free(port);
    buf_free(&req);
    buf_free(&in);
    return rc;
}
