/*
 * docker_http - HTTP requests to a container engine's unix socket, driven by
 * a libevent base, with libcurl's multi interface doing all of the HTTP.
 *
 * Every request gets a connection of its own (so that a long-lived one, like
 * a followed log, never holds up another), sends "Connection: close", and ends
 * with exactly one call of its `done` callback, always from the event loop,
 * never from inside docker_http_request.
 *
 * libcurl connects to the unix socket itself (CURLOPT_UNIX_SOCKET_PATH): no
 * port is opened anywhere. Each client is one curl multi handle whose sockets
 * and timeout are events on the caller's base (curl's socket_action pattern).
 * Handing a request to curl, taking it back and calling `done` each happen in
 * an event of their own, so docker_http_request, docker_http_cancel and
 * docker_http_free may all be called from inside a `chunk` callback.
 */
#ifndef GW_DOCKER_HTTP_H
#define GW_DOCKER_HTTP_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;

typedef struct docker_http docker_http_t;
typedef struct docker_req docker_req_t;

typedef enum { DOCKER_HTTP_GET, DOCKER_HTTP_POST, DOCKER_HTTP_DELETE } docker_http_method_t;

typedef struct {
    int status;       /* the HTTP status; 0 when there is no response */
    const char *body; /* the body, NUL-terminated ("" when it went to `chunk`) */
    size_t body_len;
    const char *error; /* why there is no response; NULL when status > 0 */
    bool unreachable;  /* no response because the socket could not be connected */
} docker_http_result_t;

/* Body bytes of a 2xx response as they arrive; borrowed for the call. */
typedef void (*docker_http_chunk_fn)(void *arg, const char *data, size_t len);
/* The end of a request; res and everything in it are borrowed for the call,
 * and the request handle is invalid from here on. */
typedef void (*docker_http_done_fn)(void *arg, const docker_http_result_t *res);

/* A client for the socket at socket_path (copied), driven by base (borrowed;
 * it must outlive the client). Free with docker_http_free. */
docker_http_t *docker_http_new(struct event_base *base, const char *socket_path);
/* Drop every request still in flight, without calling back, and free the
 * client. docker_http_free(NULL) is a no-op. */
void docker_http_free(docker_http_t *h);

/*
 * Send a request: path is the absolute path with query ("/v1.41/..."), body a
 * JSON text or NULL, timeout_s how long the connection may stay idle. With
 * `chunk`, the body of a 2xx response goes there instead of to `done`, after
 * one call with len 0 as soon as the response's headers are in (so a stream
 * that stays quiet, like an attached container's, is known to have begun).
 * Returns a handle for docker_http_cancel, valid until `done` is called.
 * With `done` NULL the request is fire-and-forget: the client owns it until it
 * ends, and logs it when it fails (other than with 404 or 409: gone, or
 * going already).
 */
docker_req_t *docker_http_request(docker_http_t *h, docker_http_method_t method, const char *path,
                                  const char *body, int timeout_s, docker_http_chunk_fn chunk,
                                  docker_http_done_fn done, void *arg);
/* Drop a request: no callback follows, its connection is closed from the
 * event loop. Safe from inside its own `chunk` callback.
 * docker_http_cancel(NULL) is a no-op. */
void docker_http_cancel(docker_req_t *r);

#endif
