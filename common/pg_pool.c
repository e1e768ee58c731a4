/*
 * pg_pool - a pool of pg connections (docs/pg.md): size connections and a
 * queue of statements waiting for an idle one. A statement runs on a
 * connection with nothing else in flight, so one slow statement delays
 * nothing but itself until every connection is busy. The connections are
 * pg.c's; pg_int.h is what they share.
 */
#include "pg_int.h"

#include <stdlib.h>

/* Statements a pool holds for a connection before refusing more. */
#define PG_POOL_MAX_WAITING 10000

/* What a statement of the pool carries as its callback's argument: the
 * caller's callback, and the pool, which hands the connection its next
 * statement once the caller has the result. */
typedef struct {
    pg_pool_t *pool;
    pg_result_fn fn;
    void *arg;
} pg_job_t;

struct pg_pool {
    pg_conn_t **conns;
    int size;
    pg_queue_t waiting; /* statements (pg_query_t) waiting for a connection */
    bool closing;       /* pg_pool_free was called: no new statement, nothing dispatched */
    struct event_base *base;
    later_t later; /* closing: the memory goes on the next loop turn */
};

static void pg_pool_dispatch(pg_pool_t *p);

static void
pg_pool_on_result(const PGresult *res, void *arg)
{
    pg_job_t *j = arg;
    pg_pool_t *p = j->pool;

    j->fn(res, j->arg);
    free(j);
    pg_pool_dispatch(p);
}

static bool
pg_pool_any_alive(const pg_pool_t *p)
{
    for (int i = 0; i < p->size; i++)
        if (pg_conn_state(p->conns[i]) != PG_DOWN)
            return true;
    return false;
}

/* Tell every waiting statement's caller it failed (res NULL). */
static void
pg_pool_fail_waiting(pg_pool_t *p)
{
    pg_query_t *q;

    while ((q = pg_queue_pop(&p->waiting)) != NULL) {
        pg_job_t *j = q->arg;

        j->fn(NULL, j->arg);
        free(j);
        pg_query_free(q);
    }
}

/* Hand waiting statements to idle connections. */
static void
pg_pool_dispatch(pg_pool_t *p)
{
    if (p->closing)
        return;
    for (int i = 0; i < p->size && p->waiting.head != NULL; i++) {
        pg_conn_t *c = p->conns[i];

        if (pg_conn_state(c) == PG_READY && pg_conn_load(c) == 0)
            pg_conn_push(c, pg_queue_pop(&p->waiting));
    }
}

static void
pg_pool_on_state(pg_conn_t *c, pg_state_t state, void *arg)
{
    pg_pool_t *p = arg;

    if (p->closing)
        return;
    if (state == PG_READY)
        pg_pool_dispatch(p);
    else if (state == PG_DOWN && !pg_pool_any_alive(p))
        pg_pool_fail_waiting(p); /* nothing to wait for: tell them now */
}

/* The memory, once no callback of the pool can be running (pg_pool_free
 * may be called from one: pg_pool_on_result goes on with the pool after
 * its caller's callback returns). */
static void
pg_pool_release(void *arg)
{
    pg_pool_t *p = arg;

    free(p->conns);
    free(p);
}

pg_pool_t *
pg_pool_new(struct event_base *base, const pg_conn_config_t *cfg, int size)
{
    pg_pool_t *p = xcalloc(1, sizeof(*p));
    pg_conn_config_t conn_cfg = *cfg;

    if (size < 1)
        size = 1;
    conn_cfg.on_notify = NULL;
    conn_cfg.on_state = pg_pool_on_state;
    conn_cfg.arg = p;
    p->size = size;
    p->base = base;
    p->conns = xcalloc((size_t)size, sizeof(*p->conns));
    for (int i = 0; i < size; i++)
        p->conns[i] = pg_conn_new(base, &conn_cfg);
    return p;
}

void
pg_pool_free(pg_pool_t *p)
{
    if (p == NULL || p->closing)
        return;
    /* The running statements are answered first (they were sent first),
     * then the waiting ones; an answer cannot add one (no connection would
     * ever take it). */
    p->closing = true;
    for (int i = 0; i < p->size; i++)
        pg_conn_free(p->conns[i]);
    pg_pool_fail_waiting(p);
    later_free(p->base, &p->later, p, pg_pool_release);
}

void
pg_pool_prepare(pg_pool_t *p, const char *name, const char *sql, int nparams)
{
    for (int i = 0; i < p->size; i++)
        pg_conn_prepare(p->conns[i], name, sql, nparams);
}

static int
pg_pool_submit(pg_pool_t *p, pg_qkind_t kind, const char *text, int nparams,
               const char *const *params, pg_result_fn fn, void *arg)
{
    pg_job_t *j;

    if (p->closing || p->waiting.len >= PG_POOL_MAX_WAITING || !pg_pool_any_alive(p))
        return -1;
    j = xmalloc(sizeof(*j));
    *j = (pg_job_t){.pool = p, .fn = fn, .arg = arg};
    pg_queue_push(&p->waiting, pg_query_new(kind, text, nparams, params, pg_pool_on_result, j));
    pg_pool_dispatch(p);
    return 0;
}

int
pg_pool_query(pg_pool_t *p, const char *sql, int nparams, const char *const *params,
              pg_result_fn fn, void *arg)
{
    return pg_pool_submit(p, PG_Q_SQL, sql, nparams, params, fn, arg);
}

int
pg_pool_query_prepared(pg_pool_t *p, const char *name, int nparams, const char *const *params,
                       pg_result_fn fn, void *arg)
{
    return pg_pool_submit(p, PG_Q_PREPARED, name, nparams, params, fn, arg);
}

pg_pool_stats_t
pg_pool_stats(const pg_pool_t *p)
{
    pg_pool_stats_t st = {.size = p->size, .waiting = p->waiting.len};

    for (int i = 0; i < p->size; i++) {
        if (pg_conn_state(p->conns[i]) == PG_READY)
            st.ready++;
        if (pg_conn_load(p->conns[i]) > 0)
            st.busy++;
    }
    return st;
}
