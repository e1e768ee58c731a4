/*
 * pg - Postgres without blocking: one libpq connection driven by a libevent
 * loop (pg_conn), and a small pool of them (pg_pool).
 *
 * A connection is a state machine (docs/pg.md): it connects with
 * PQconnectStart/PQconnectPoll on one-shot events, sends queued statements
 * with PQsendQueryParams/PQsendQueryPrepared, flushes on write readiness and
 * reads results on read readiness, handing each result to its callback and
 * each notification to the notify callback as soon as it arrives. Prepared
 * statements and LISTEN channels are registered once and re-issued after
 * every reconnect; a lost connection fails every statement in flight or
 * queued (the callback gets res == NULL) and reconnects with back-off.
 *
 * Callbacks only ever run from the event loop, never from inside a call
 * that queued a statement. Every accepted statement gets exactly one
 * callback. A connection or pool is freed by its owner with pg_conn_free /
 * pg_pool_free, which may be called from one of its own callbacks: the
 * memory is released on the next loop turn (later.h; later_drain before
 * event_base_free at shutdown).
 */
#ifndef GW_PG_H
#define GW_PG_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "util.h"

typedef struct pg_conn pg_conn_t;
typedef struct pg_pool pg_pool_t;

typedef enum {
    PG_DOWN,       /* not connected; a reconnect is scheduled */
    PG_CONNECTING, /* PQconnectPoll in progress */
    PG_SETUP,      /* connected; re-preparing statements and re-issuing LISTENs */
    PG_READY,      /* connected and set up */
    PG_CLOSED      /* freed by its owner; memory goes on the next loop turn */
} pg_state_t;

/*
 * The result of one statement. res is borrowed (cleared after the callback
 * returns); NULL when the connection was lost (or closed) before the
 * statement's result arrived. Otherwise check PQresultStatus, or
 * pg_result_ok.
 */
typedef void (*pg_result_fn)(const PGresult *res, void *arg);
/* A notification: channel and payload are borrowed for the call. */
typedef void (*pg_notify_fn)(const char *channel, const char *payload, int be_pid, void *arg);
/* The connection's state changed (to READY, to DOWN after a loss or a
 * failed attempt, ...). */
typedef void (*pg_state_fn)(pg_conn_t *c, pg_state_t state, void *arg);

typedef struct {
    const char *conninfo;         /* libpq conninfo or URI */
    const char *application_name; /* shown in pg_stat_activity */
    const char *options;          /* libpq "options" (e.g. "-c statement_timeout=10s"), or NULL */
    bool pipeline;                /* libpq pipeline mode: send without waiting for results */
    pg_notify_fn on_notify;       /* or NULL */
    pg_state_fn on_state;         /* or NULL */
    void *arg;                    /* for on_notify and on_state */
} pg_conn_config_t;

/*
 * A new connection on base; the first attempt starts on the next loop turn.
 * cfg's strings are copied. Never returns NULL; free with pg_conn_free
 * (NULL is a no-op).
 */
pg_conn_t *pg_conn_new(struct event_base *base, const pg_conn_config_t *cfg);

/*
 * Close the connection: every statement still queued or in flight gets its
 * callback with res == NULL now, no callback runs afterwards, and the
 * memory is released on the next loop turn.
 */
void pg_conn_free(pg_conn_t *c);

pg_state_t pg_conn_state(const pg_conn_t *c);
/* Statements queued or in flight. */
int pg_conn_load(const pg_conn_t *c);
/* The server process id of the current connection, or 0. */
int pg_conn_backend_pid(const pg_conn_t *c);

/*
 * Register a prepared statement (name, sql with nparams text parameters):
 * prepared now if connected, and again after every reconnect. A failure to
 * prepare is logged; statements using it then fail. Copies its arguments.
 */
void pg_conn_prepare(pg_conn_t *c, const char *name, const char *sql, int nparams);

/* LISTEN on channel now if connected, and again after every reconnect. */
void pg_conn_listen(pg_conn_t *c, const char *channel);

/*
 * Queue a statement with nparams text parameters (NULL is SQL NULL; all
 * copied). Returns 0 when accepted (fn will be called exactly once, from
 * the loop), or -1 when the connection is down or closed (fn is not
 * called).
 */
int pg_conn_query(pg_conn_t *c, const char *sql, int nparams, const char *const *params,
                  pg_result_fn fn, void *arg) GW_MUST_CHECK;
/* Like pg_conn_query for a statement registered with pg_conn_prepare. */
int pg_conn_query_prepared(pg_conn_t *c, const char *name, int nparams, const char *const *params,
                           pg_result_fn fn, void *arg) GW_MUST_CHECK;

/* Whether a statement's result is a success (COMMAND_OK or TUPLES_OK). */
bool pg_result_ok(const PGresult *res);
/* The SQLSTATE of a failed result, or "" (borrowed). */
const char *pg_result_sqlstate(const PGresult *res);
/* A one-line description of why a statement failed (caller frees). */
char *pg_result_error(const PGresult *res);
/* A libpq message (PQerrorMessage, PQresultErrorMessage, a notice) on one
 * line: newlines and tabs become spaces, the trailing newline goes (caller
 * frees). The one place libpq's multi-line text is flattened for the log. */
char *pg_message(const char *text);

/*
 * The pool: size connections (cfg->on_notify and on_state are ignored) and
 * a queue of statements waiting for an idle one. A statement runs on a
 * connection with nothing else in flight, so one slow statement delays
 * nothing but itself until every connection is busy.
 */
typedef struct {
    int size;    /* connections */
    int ready;   /* of which connected and set up */
    int busy;    /* of which running a statement */
    int waiting; /* statements queued for a connection */
} pg_pool_stats_t;

/* A pool of size connections (at least 1); free with pg_pool_free, once
 * (NULL is a no-op; it may be called from one of the pool's callbacks, see
 * above). */
pg_pool_t *pg_pool_new(struct event_base *base, const pg_conn_config_t *cfg, int size);
void pg_pool_free(pg_pool_t *p);

/* Register a prepared statement on every connection of the pool. */
void pg_pool_prepare(pg_pool_t *p, const char *name, const char *sql, int nparams);

/*
 * Run a statement on the next idle connection. Returns 0 when accepted
 * (fn is called exactly once, from the loop; res NULL if its connection
 * was lost, or if every connection went down while it waited), or -1 when
 * no connection is up or connecting, or the queue is full (fn is not
 * called).
 */
int pg_pool_query(pg_pool_t *p, const char *sql, int nparams, const char *const *params,
                  pg_result_fn fn, void *arg) GW_MUST_CHECK;
int pg_pool_query_prepared(pg_pool_t *p, const char *name, int nparams, const char *const *params,
                           pg_result_fn fn, void *arg) GW_MUST_CHECK;

/* The pool's state now (for /readyz). */
pg_pool_stats_t pg_pool_stats(const pg_pool_t *p);

#endif
