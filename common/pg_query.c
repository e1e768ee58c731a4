/*
 * pg_query - the statements of one connection (docs/pg.md): the queue they
 * wait in, sending them (PQsendQueryParams/PQsendQueryPrepared, PQflush on
 * write readiness), reading their results and the notifications that come
 * with them (PQconsumeInput/PQisBusy/PQgetResult on read readiness), and
 * what a result says. The connection's life (connect, set up, lose) is in
 * pg.c, the pool in pg_pool.c; pg_int.h is what they share.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static void pg_conn_kick(pg_conn_t *c);

/* ---- queues and statements ---------------------------------------------- */

void
pg_queue_push(pg_queue_t *q, pg_query_t *item)
{
    item->next = NULL;
    if (q->tail != NULL)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->len++;
}

static void
pg_queue_push_front(pg_queue_t *q, pg_query_t *item)
{
    item->next = q->head;
    q->head = item;
    if (q->tail == NULL)
        q->tail = item;
    q->len++;
}

pg_query_t *
pg_queue_pop(pg_queue_t *q)
{
    pg_query_t *item = q->head;

    if (item == NULL)
        return NULL;
    q->head = item->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    item->next = NULL;
    return item;
}

void
pg_queue_move(pg_queue_t *dst, pg_queue_t *src)
{
    pg_query_t *item;

    while ((item = pg_queue_pop(src)) != NULL)
        pg_queue_push(dst, item);
}

/* A copy of n text parameters (NULL stays NULL); NULL when n is 0. */
static char **
pg_params_dup(int n, const char *const *params)
{
    char **copy;

    if (n <= 0)
        return NULL;
    copy = xcalloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++)
        copy[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
    return copy;
}

static void
pg_params_free(int n, char **params)
{
    for (int i = 0; i < n && params != NULL; i++)
        free(params[i]);
    free(params);
}

pg_query_t *
pg_query_new(pg_qkind_t kind, const char *text, int nparams, const char *const *params,
             pg_result_fn fn, void *arg)
{
    pg_query_t *q = xcalloc(1, sizeof(*q));

    q->kind = kind;
    q->text = xstrdup(text);
    q->nparams = nparams;
    q->params = pg_params_dup(nparams, params);
    q->fn = fn;
    q->arg = arg;
    return q;
}

void
pg_query_free(pg_query_t *q)
{
    if (q == NULL)
        return;
    pg_params_free(q->nparams, q->params);
    free(q->text);
    free(q->sql);
    PQclear(q->res);
    free(q);
}

void
pg_query_finish(pg_query_t *q)
{
    if (q->fn != NULL)
        q->fn(q->res, q->arg);
    pg_query_free(q);
}

/* ---- results and notifications ------------------------------------------ */

/* Hand every notification libpq has read to the notify callback. */
static void
pg_conn_drain_notifies(pg_conn_t *c)
{
    PGnotify *n;

    while (c->state != PG_CLOSED && c->conn != NULL && (n = PQnotifies(c->conn)) != NULL) {
        if (c->on_notify != NULL)
            c->on_notify(n->relname, n->extra, n->be_pid, c->arg);
        PQfreemem(n);
    }
}

/*
 * Read every complete result. A statement's results end with NULL from
 * PQgetResult; in pipeline mode each is then followed by the result of its
 * sync point. Returns -1 if a callback closed the connection.
 */
static int
pg_conn_read_results(pg_conn_t *c)
{
    while (c->inflight.head != NULL) {
        pg_query_t *q = c->inflight.head;
        PGresult *res;

        if (PQisBusy(c->conn))
            return 0;
        res = PQgetResult(c->conn);
        if (res == NULL) {
            pg_query_finish(pg_queue_pop(&c->inflight));
            if (c->state == PG_CLOSED)
                return -1;
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res); /* the sync point after an earlier statement */
            continue;
        }
        /* One statement gives one result; keep the last (an error, if any,
         * comes last). */
        PQclear(q->res);
        q->res = res;
    }
    return 0;
}

/* ---- sending ------------------------------------------------------------ */

static int
pg_conn_send(pg_conn_t *c, pg_query_t *q)
{
    const char *const *params = (const char *const *)q->params;

    switch (q->kind) {
    case PG_Q_SQL:
        return PQsendQueryParams(c->conn, q->text, q->nparams, NULL, params, NULL, NULL, 0);
    case PG_Q_PREPARED:
        return PQsendQueryPrepared(c->conn, q->text, q->nparams, params, NULL, NULL, 0);
    case PG_Q_PREPARE:
        return PQsendPrepare(c->conn, q->text, q->sql, q->nprep, NULL);
    }
    return 0;
}

/*
 * Send what may be sent, then flush. A statement libpq refuses (not a lost
 * connection) gets a failed result of its own, delivered after the
 * statements before it.
 */
void
pg_conn_pump(pg_conn_t *c)
{
    int rc;

    if (!pg_connected(c))
        return;
    while (c->pending.head != NULL && (c->pipeline || c->inflight.head == NULL)) {
        pg_query_t *q = pg_queue_pop(&c->pending);

        if (!pg_conn_send(c, q) || (c->pipeline && !PQpipelineSync(c->conn))) {
            /* With statements in flight (pipeline mode) the order of
             * results cannot be kept: start afresh. */
            if (PQstatus(c->conn) != CONNECTION_OK || c->inflight.head != NULL) {
                pg_queue_push_front(&c->pending, q);
                pg_conn_lost(c, PQerrorMessage(c->conn));
                return;
            }
            char *msg = pg_message(PQerrorMessage(c->conn));
            log_error("db", "could not send a statement: %s", msg);
            free(msg);
            q->res = PQmakeEmptyPGresult(c->conn, PGRES_FATAL_ERROR);
            pg_query_finish(q);
            if (c->state == PG_CLOSED)
                return;
            continue;
        }
        pg_queue_push(&c->inflight, q);
    }
    rc = PQflush(c->conn);
    if (rc < 0) {
        pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    if (rc > 0)
        event_add(c->wev, NULL);
}

void
pg_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    pg_conn_pump(arg);
}

void
pg_conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    pg_conn_t *c = arg;

    if (!pg_connected(c))
        return;
    if (!PQconsumeInput(c->conn)) {
        pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    if (pg_conn_read_results(c) < 0)
        return;
    pg_conn_drain_notifies(c);
    if (c->state == PG_CLOSED)
        return;
    /* A terminated backend says why, then closes: its statement got the
     * error, and the connection is gone. */
    if (PQstatus(c->conn) != CONNECTION_OK) {
        pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    pg_conn_pump(c);
}

/* Ask for the queue to be sent on the next loop turn (callbacks never run
 * inside the call that queued a statement). */
static void
pg_conn_kick(pg_conn_t *c)
{
    if (pg_connected(c))
        event_active(c->wev, EV_WRITE, 0);
}

void
pg_conn_push(pg_conn_t *c, pg_query_t *q)
{
    pg_queue_push(&c->pending, q);
    pg_conn_kick(c);
}

void
pg_conn_fail_all(pg_conn_t *c)
{
    pg_queue_t failed = {0};
    pg_query_t *q;

    pg_queue_move(&failed, &c->inflight);
    pg_queue_move(&failed, &c->pending);
    /* The callbacks run on a private list: one of them may free c, which
     * then finds nothing left to fail, and the rest are still told. */
    while ((q = pg_queue_pop(&failed)) != NULL) {
        PQclear(q->res);
        q->res = NULL;
        pg_query_finish(q);
    }
}

/* ---- the statements' interface ----------------------------------------- */

static int
pg_conn_enqueue(pg_conn_t *c, pg_qkind_t kind, const char *text, int nparams,
                const char *const *params, pg_result_fn fn, void *arg)
{
    if (c->state != PG_CONNECTING && !pg_connected(c))
        return -1;
    pg_conn_push(c, pg_query_new(kind, text, nparams, params, fn, arg));
    return 0;
}

int
pg_conn_query(pg_conn_t *c, const char *sql, int nparams, const char *const *params,
              pg_result_fn fn, void *arg)
{
    return pg_conn_enqueue(c, PG_Q_SQL, sql, nparams, params, fn, arg);
}

int
pg_conn_query_prepared(pg_conn_t *c, const char *name, int nparams, const char *const *params,
                       pg_result_fn fn, void *arg)
{
    return pg_conn_enqueue(c, PG_Q_PREPARED, name, nparams, params, fn, arg);
}

/* ---- results ------------------------------------------------------------ */

bool
pg_result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

const char *
pg_result_sqlstate(const PGresult *res)
{
    const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    return s != NULL ? s : "";
}

char *
pg_result_error(const PGresult *res)
{
    if (res == NULL)
        return xstrdup("the database connection was lost");
    if (pg_result_ok(res))
        return xstrdup("");
    return pg_message(PQresultErrorMessage(res));
}

char *
pg_message(const char *text)
{
    char *msg = xstrdup(text != NULL ? text : "");
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    return msg;
}
