/*
 * apiclient - the client's HTTP calls to the GitWeave API, with libcurl.
 *
 * One curl handle per client, so consecutive calls reuse the connection.
 * Paths are relative to the API's base (".../api/v1"). An interrupt flag
 * (set by a signal handler) aborts a call in progress within a second.
 * The base URL is only ever printed redacted (apiclient_redact_url): it may
 * carry credentials (http://user:password@host).
 */
#ifndef GW_CLI_APICLIENT_H
#define GW_CLI_APICLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct apiclient apiclient_t;

typedef struct {
    long status;   /* the HTTP status; 0 when no reply came */
    buf_t body;    /* the reply's body (for a stream: only a reply that was not one) */
    bool streamed; /* the reply was text/event-stream and went to the callback */
} apiclient_reply_t;

/*
 * A client of the API at base_url (e.g. "http://127.0.0.1:8080"), sending
 * token as a bearer token unless it is NULL or empty. stop, if not NULL,
 * is polled during calls: non-zero aborts them. Free with apiclient_free.
 */
apiclient_t *apiclient_new(const char *base_url, const char *token,
                           const volatile sig_atomic_t *stop);
void apiclient_free(apiclient_t *c);

void apiclient_reply_init(apiclient_reply_t *r);
void apiclient_reply_free(apiclient_reply_t *r);

/*
 * Send METHOD path with an optional body of the given content type.
 * Returns 0 when a reply came (whatever its status), -1 when none did
 * (apiclient_error says why).
 */
int apiclient_call(apiclient_t *c, const char *method, const char *path, const char *content_type,
                   const char *body, size_t len, apiclient_reply_t *out) GW_MUST_CHECK;

/*
 * GET path asking for an event stream (Accept: text/event-stream). When
 * the reply is a 200 text/event-stream, its bytes go to fn as they arrive
 * (a non-zero return ends the call, which then returns 0); any other reply
 * is collected in out->body. tick, if not NULL, is called at least once a
 * second while the call waits. Returns 0 when a reply came, -1 when none
 * did or the stream broke off.
 */
typedef int (*apiclient_data_fn)(void *ctx, const char *data, size_t len);
typedef void (*apiclient_tick_fn)(void *ctx);
int apiclient_stream(apiclient_t *c, const char *path, apiclient_data_fn fn, apiclient_tick_fn tick,
                     void *ctx, apiclient_reply_t *out) GW_MUST_CHECK;

/* Why the last call failed, borrowed ("interrupted" after the stop flag). */
const char *apiclient_error(const apiclient_t *c);
bool apiclient_interrupted(const apiclient_t *c);

/*
 * url with what may be secret replaced by three stars: the userinfo
 * ("user:password@" becomes "***@"), each query value ("?token=***") and
 * the fragment. The caller frees it.
 */
char *apiclient_redact_url(const char *url);

/* s escaped for a path segment or a query value; the caller frees it. */
char *apiclient_escape(apiclient_t *c, const char *s);

/*
 * The address of the API's web page for a run, "<base URL>/runs/<id>"
 * (id as given: a run id needs no escaping); the caller frees it.
 */
char *apiclient_run_page(const apiclient_t *c, const char *id);

/*
 * Print to stderr why a call did not succeed: for rc -1 the network error,
 * else the API's error and detail from the reply (never its raw JSON).
 */
void apiclient_print_failure(const apiclient_t *c, int rc, const apiclient_reply_t *r);

#endif
