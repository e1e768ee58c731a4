/*
 * pg_int - what the files of the pg module share and nobody else sees: the
 * connection's struct, a statement and a queue of them (docs/pg.md).
 *
 *   pg.c        one connection's life: connect, set up, lose, reconnect
 *   pg_query.c  its statements: queue, send, read results, notifications
 *   pg_pool.c   a pool of connections, on the statements of pg_query.c
 *
 * Statements wait in `pending` until sent, then in `inflight` until their
 * result arrives. Without pipeline mode one statement is in flight at a
 * time; in pipeline mode every pending statement is sent at once, each
 * followed by a sync point, and results come back in order.
 */
#ifndef GW_PG_INT_H
#define GW_PG_INT_H

#include "later.h"
#include "pg.h"

typedef enum { PG_Q_SQL, PG_Q_PREPARED, PG_Q_PREPARE } pg_qkind_t;

typedef struct pg_query {
    struct pg_query *next;
    pg_qkind_t kind;
    char *text; /* sql, or the statement name */
    char *sql;  /* PG_Q_PREPARE: the statement's text */
    int nprep;  /* PG_Q_PREPARE: its number of parameters */
    int nparams;
    char **params;
    pg_result_fn fn;
    void *arg;
    PGresult *res; /* collected until the statement's results end */
} pg_query_t;

typedef struct {
    pg_query_t *head;
    pg_query_t *tail;
    int len;
} pg_queue_t;

typedef struct pg_name {
    struct pg_name *next;
    char *name;
    char *sql; /* prepared statements only */
    int nparams;
} pg_name_t;

struct pg_conn {
    struct event_base *base;
    char *conninfo;
    char *app_name;
    char *options;
    bool pipeline;
    pg_notify_fn on_notify;
    pg_state_fn on_state;
    void *arg;

    pg_state_t state;
    PGconn *conn;
    struct event *conn_ev; /* one-shot: the socket while connecting */
    struct event *rev;     /* persistent read readiness while connected */
    struct event *wev;     /* one-shot: write readiness, or a kick to send */
    struct event *timer;   /* the next connection attempt */
    int64_t deadline_ms;   /* end of the current connection attempt */
    int backoff_ms;
    bool outage_logged; /* one warning per outage, not per attempt */
    int setup_left;     /* setup statements still in flight */

    pg_queue_t pending;
    pg_queue_t inflight;
    pg_name_t *prepared;
    pg_name_t *channels;
    later_t later; /* closed: the memory goes on the next loop turn */
};

static inline bool
pg_connected(const pg_conn_t *c)
{
    return c->state == PG_SETUP || c->state == PG_READY;
}

/* ---- pg_query.c ---- */

void pg_queue_push(pg_queue_t *q, pg_query_t *item);
/* The first item, taken off the queue, or NULL. */
pg_query_t *pg_queue_pop(pg_queue_t *q);
/* Move everything of src to the end of dst. */
void pg_queue_move(pg_queue_t *dst, pg_queue_t *src);

/* A statement with copies of text and of its nparams text parameters
 * (NULL stays NULL); free with pg_query_free, or pg_query_finish. */
pg_query_t *pg_query_new(pg_qkind_t kind, const char *text, int nparams, const char *const *params,
                         pg_result_fn fn, void *arg);
void pg_query_free(pg_query_t *q);
/* Hand a statement its result (or NULL) and free it. */
void pg_query_finish(pg_query_t *q);

/* Queue q (taken over) on c; the caller checks c's state (READY, or CONNECTING/SETUP
 * through pg_conn_enqueue). */
void pg_conn_push(pg_conn_t *c, pg_query_t *q);
/* Send what may be sent, then flush. */
void pg_conn_pump(pg_conn_t *c);
/* Fail every statement queued or in flight: in order, each with NULL. */
void pg_conn_fail_all(pg_conn_t *c);
/* The events of a connected socket: read readiness, write readiness. */
void pg_conn_on_read(evutil_socket_t fd, short what, void *arg);
void pg_conn_on_write(evutil_socket_t fd, short what, void *arg);

/* ---- pg.c ---- */

/* The connection or an attempt failed: fail its statements, retry later. */
void pg_conn_lost(pg_conn_t *c, const char *why);

#endif
