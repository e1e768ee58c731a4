/*
 * httpd - the API's HTTP/1.1 server on libevent bufferevents.
 *
 * libevent 2.1's evhttp answers its own errors in HTML, reads a whole body
 * before any callback can look at the headers, and spins when accept()
 * runs out of descriptors; this server exists to do those three things
 * right. Per connection it reads a request head (httpparse), checks it
 * (Host on a loopback listener, Origin, then the application's admit hook,
 * typically the token), then the body (Content-Length or chunked, up to a
 * limit, only JSON or YAML media types), and hands the request to the
 * application's handler. Keep-alive, pipelining, HEAD, Expect:
 * 100-continue. Every error is a JSON reply through http.c.
 *
 * Bounds: a connection cap (past it a new connection gets a 503 and is
 * closed), one budget for the request bodies held at once (a body counts
 * from its head until its request is freed; past the budget a request
 * with a body gets a 503 before the body is read, or as soon as a chunked
 * body passes it), a deadline for the head and one for the body
 * (absolute, so a client trickling bytes is cut off with a 408), an idle
 * keep-alive timeout, and a pause of the listener with back-off when
 * accept() fails for lack of descriptors or memory (logged once per
 * episode).
 *
 * Streamed replies (Server-Sent Events, long logs): the head goes out
 * once, then the body as it is written, and the connection closes at the
 * end. Open streams are capped (max_streams); a stream has no idle
 * deadline, but a client that leaves is noticed at once, and one that
 * stops reading is dropped (the write timeout, or 1 MiB unsent).
 */
#ifndef GW_API_HTTPD_H
#define GW_API_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "http.h"
#include "util.h"

struct event_base;

typedef struct httpd httpd_t;

typedef struct {
    int max_connections;         /* at most this many open at once */
    int header_timeout;          /* seconds for a whole request head */
    int body_timeout;            /* seconds for a whole body */
    int idle_timeout;            /* seconds between requests on a connection; also how
                                    long a write may wait for the client */
    int max_streams;             /* streamed replies open at once */
    size_t max_body;             /* bytes */
    size_t body_budget;          /* bytes of request bodies held at once, in all */
    const char *allowed_origins; /* comma-separated; "" allows none */
} httpd_limits_t;

/*
 * Called once the head is read and checked, before the body: set r's
 * db and cfg, and either return true, or reply (say 401) and return false
 * (the body is then never read and the connection closed).
 */
typedef bool (*httpd_admit_fn)(http_req_t *r, void *arg);
/* Called with the whole body read: reply, or http_req_hold and reply later. */
typedef void (*httpd_handle_fn)(http_req_t *r, void *arg);

/*
 * Listen on sa (bound with SO_REUSEADDR) and serve on base. lim is copied
 * (allowed_origins is borrowed and must outlive the server). A listener on
 * a loopback address takes only requests whose Host is a loopback name.
 * Returns the server (free with httpd_free; NULL is a no-op), or NULL after
 * logging why.
 */
httpd_t *httpd_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                   const httpd_limits_t *lim, httpd_admit_fn admit, httpd_handle_fn handle,
                   void *arg) GW_MUST_CHECK;

/* The port listened on. */
int httpd_port(const httpd_t *h);

/* Close every connection and free the server, and any request still held. */
void httpd_free(httpd_t *h);

/* For http.c, as r is freed: give the bytes of its body back to the budget. */
void httpd_body_release(http_req_t *r);

/*
 * For http.c: queue the serialised reply of r (wire is copied) on its
 * connection. Returns false if the client has gone (the reply is dropped).
 * Either way r is freed by the server later, never inside this call.
 */
bool httpd_send(http_req_t *r, const buf_t *wire);

typedef enum { HTTPD_STREAM_OPEN, HTTPD_STREAM_GONE, HTTPD_STREAM_FULL } httpd_stream_result_t;

/*
 * For http.c: turn r's connection into a stream, writing head (copied)
 * first. GONE: the client has left; FULL: max_streams are open (nothing
 * was written either way).
 */
httpd_stream_result_t httpd_stream_open(http_req_t *r, const buf_t *head,
                                        const http_stream_cb_t *cb);
bool httpd_stream_write(http_req_t *r, const char *data, size_t len);
size_t httpd_stream_pending(const http_req_t *r);
void httpd_stream_close(http_req_t *r);

#endif
