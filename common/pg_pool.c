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

typedef struct pg_job {
    struct pg_job *next;
    pg_pool_t *pool;
    bool prepared;
    char *text;
    int nparams;
    char **params;
    pg_result_fn fn;
    void *arg;
} pg_job_t;

struct pg_pool {
    pg_conn_t **conns;
    int size;
    pg_job_t *head;
    pg_job_t *tail;
    int waiting;
};

static void pg_pool_dispatch(pg_pool_t *p);

static void
pg_job_free(pg_job_t *j)
{
    pg_params_free(j->nparams, j->params);
    free(j->text);
    free(j);
}

static void
pg_pool_on_result(const PGresult *res, void *arg)
{
    pg_job_t *j = arg;
    pg_pool_t *p = j->pool;

    j->fn(res, j->arg);
    pg_job_free(j);
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

static void
pg_pool_fail_waiting(pg_pool_t *p)
{
    pg_job_t *j;

    while ((j = p->head) != NULL) {
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->waiting--;
        j->fn(NULL, j->arg);
        pg_job_free(j);
    }
}

/* Hand waiting statements to idle connections. */
static void
pg_pool_dispatch(pg_pool_t *p)
{
    for (int i = 0; i < p->size && p->head != NULL; i++) {
        pg_conn_t *c = p->conns[i];
        pg_job_t *j;
        int rc;

        if (pg_conn_state(c) != PG_READY || pg_conn_load(c) > 0)
            continue;
        j = p->head;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->waiting--;
        rc = (j->prepared ? pg_conn_query_prepared : pg_conn_query)(
            c, j->text, j->nparams, (const char *const *)j->params, pg_pool_on_result, j);
        if (rc < 0) { /* cannot happen for a READY connection */
            j->fn(NULL, j->arg);
            pg_job_free(j);
        }
    }
}

static void
pg_pool_on_state(pg_conn_t *c, pg_state_t state, void *arg)
{
    pg_pool_t *p = arg;

    if (state == PG_READY)
        pg_pool_dispatch(p);
    else if (state == PG_DOWN && !pg_pool_any_alive(p))
        pg_pool_fail_waiting(p); /* nothing to wait for: tell them now */
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
    p->conns = xcalloc((size_t)size, sizeof(*p->conns));
    for (int i = 0; i < size; i++)
        p->conns[i] = pg_conn_new(base, &conn_cfg);
    return p;
}

void
pg_pool_free(pg_pool_t *p)
{
    if (p == NULL)
        return;
    pg_pool_fail_waiting(p);
    for (int i = 0; i < p->size; i++)
        pg_conn_free(p->conns[i]);
    free(p->conns);
    free(p);
}

void
pg_pool_prepare(pg_pool_t *p, const char *name, const char *sql, int nparams)
{
    for (int i = 0; i < p->size; i++)
        pg_conn_prepare(p->conns[i], name, sql, nparams);
}

static int
pg_pool_submit(pg_pool_t *p, bool prepared, const char *text, int nparams,
               const char *const *params, pg_result_fn fn, void *arg)
{
    pg_job_t *j;

    if (p->waiting >= PG_POOL_MAX_WAITING || !pg_pool_any_alive(p))
        return -1;
    j = xcalloc(1, sizeof(*j));
    j->pool = p;
    j->prepared = prepared;
    j->text = xstrdup(text);
    j->nparams = nparams;
    j->params = pg_params_dup(nparams, params);
    j->fn = fn;
    j->arg = arg;
    if (p->tail != NULL)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->waiting++;
    pg_pool_dispatch(p);
    return 0;
}

int
pg_pool_query(pg_pool_t *p, const char *sql, int nparams, const char *const *params,
              pg_result_fn fn, void *arg)
{
    return pg_pool_submit(p, false, sql, nparams, params, fn, arg);
}

int
pg_pool_query_prepared(pg_pool_t *p, const char *name, int nparams, const char *const *params,
                       pg_result_fn fn, void *arg)
{
    return pg_pool_submit(p, true, name, nparams, params, fn, arg);
}

pg_pool_stats_t
pg_pool_stats(const pg_pool_t *p)
{
    pg_pool_stats_t st = {.size = p->size, .waiting = p->waiting};

    for (int i = 0; i < p->size; i++) {
        if (pg_conn_state(p->conns[i]) == PG_READY)
            st.ready++;
        if (pg_conn_load(p->conns[i]) > 0)
            st.busy++;
    }
    return st;
}
