/*
 * httpparse - HTTP/1.1 request parsing with no I/O of its own.
 *
 * The connection layer (httpd) hands it bytes: the request head (request
 * line and header fields, RFC 9112) and, for a chunked body, the body as it
 * arrives. Every refusal comes with the status to answer and a short error
 * and detail for the JSON body. Also the policy checks that need only the
 * head: a loopback Host, an allowed Origin. Pure functions, so that unit
 * tests and a fuzzer can drive them directly.
 */
#ifndef GW_API_HTTPPARSE_H
#define GW_API_HTTPPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* More header fields than this is a 431. */
#define HTTPPARSE_MAX_HEADERS 100
/* The longest chunk-size line (with extensions) and trailer section. */
#define HTTPPARSE_MAX_CHUNK_LINE 1024
#define HTTPPARSE_MAX_TRAILERS 8192

typedef struct {
    int status;         /* the HTTP status to answer */
    const char *error;  /* short, e.g. "bad request" */
    const char *detail; /* a sentence for the client */
} httpparse_error_t;

typedef struct {
    const char *name; /* NUL-terminated, borrowed from the head buffer */
    const char *value;
} httpparse_header_t;

typedef struct {
    const char *method; /* borrowed from the head buffer */
    const char *target; /* the request target as sent, e.g. "/a/b?c=d" */
    int minor;          /* HTTP/1.<minor>: 0 or 1 */
    httpparse_header_t headers[HTTPPARSE_MAX_HEADERS];
    size_t nheaders;
    int64_t content_length; /* -1: none; INT64_MAX: too large to say */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* HTTP/1.1 without "Connection: close" */
    bool expect_continue;   /* Expect: 100-continue */
} httpparse_head_t;

/*
 * The length of the request head at the start of buf (through the empty
 * line that ends it, CRLF or bare LF), or 0 if buf does not hold all of it
 * yet.
 */
size_t httpparse_head_len(const char *buf, size_t len);

/*
 * Parse a request head of len bytes (as measured by httpparse_head_len) in
 * place: the strings of *h point into buf, which must stay alive. Returns 0,
 * or -1 with *err: 400 (malformed line, field, Host or Content-Length; a
 * Content-Length with Transfer-Encoding), 431 (too many fields), 417 (an
 * Expect other than 100-continue), 501 (a transfer coding other than
 * chunked), 505 (not HTTP/1.x).
 */
int httpparse_head(char *buf, size_t len, httpparse_head_t *h,
                   httpparse_error_t *err) GW_MUST_CHECK;

/* The first value of a header field (case-insensitive name), or NULL. */
const char *httpparse_header(const httpparse_head_t *h, const char *name);

/* A chunked body decoder; zero it to start. */
typedef struct {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    size_t line;        /* bytes of the current size line or of the trailers */
    bool digits;        /* the size line has a hex digit */
} httpparse_chunked_t;

/*
 * Decode len bytes of a chunked body, appending the data to out. Returns
 * the bytes consumed (*done set once the last chunk and trailers are read;
 * bytes past that are not consumed), or -1 with *err: 400 if malformed,
 * 413 once the data would exceed max bytes in all (said as soon as a chunk
 * size says so, before its data arrives).
 */
ssize_t httpparse_chunked(httpparse_chunked_t *c, const char *in, size_t len, buf_t *out,
                          size_t max, bool *done, httpparse_error_t *err) GW_MUST_CHECK;

/*
 * Whether a Host value names the loopback interface: "localhost",
 * 127.0.0.0/8 or [::1], with or without a port.
 */
bool httpparse_host_is_loopback(const char *host);

/*
 * Whether origin is one of the comma-separated origins of list (spaces
 * around items ignored, compared without regard to case). An empty list
 * allows nothing.
 */
bool httpparse_origin_allowed(const char *origin, const char *list);

/*
 * Whether origin ("http://host[:port]" or "https://...") names exactly the
 * host and port of the request's Host header (NULL: false): the API's own
 * web page calling it, as browsers send Origin with a same-origin POST, PUT
 * or DELETE. Case does not matter. A rebound DNS name passes this test but
 * not the loopback Host check, which comes first.
 */
bool httpparse_origin_same_host(const char *origin, const char *host);

#endif
