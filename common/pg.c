/*
 * pg - libpq connections driven by a libevent loop, and a pool of them.
 *
 * Life of a connection (docs/pg.md):
 *
 *   DOWN --timer--> CONNECTING --PQconnectPoll OK--> SETUP --prepared, LISTENed--> READY
 *     ^                 |                              |                             |
 *     +---- failed -----+-------------- lost ----------+------------ lost -----------+
 *
 * Statements wait in `pending` until sent, then in `inflight` until their
 * result arrives. Without pipeline mode one statement is in flight at a
 * time; in pipeline mode every pending statement is sent at once, each
 * followed by a sync point, and results come back in order.
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PG_CONNECT_SECONDS 10
#define PG_BACKOFF_FIRST_MS 100
#define PG_BACKOFF_MAX_MS 10000
/* Statements a pool holds for a connection before refusing more. */
#define PG_POOL_MAX_WAITING 10000

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
    struct event *free_ev; /* releases the memory on the next loop turn */
    int64_t deadline_ms;   /* end of the current connection attempt */
    int backoff_ms;
    bool outage_logged; /* one warning per outage, not per attempt */
    int setup_left;     /* setup statements still in flight */

    pg_queue_t pending;
    pg_queue_t inflight;
    pg_name_t *prepared;
    pg_name_t *channels;
};

static void pg_conn_connect(pg_conn_t *c);
static void pg_conn_lost(pg_conn_t *c, const char *why);
static void pg_conn_pump(pg_conn_t *c);

/* ---- small helpers ------------------------------------------------------ */

static void
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

static pg_query_t *
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

/* Move everything of src to the end of dst. */
static void
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

static pg_query_t *
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

static void
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

/* Hand a statement its result (or NULL) and free it. */
static void
pg_query_finish(pg_query_t *q)
{
    if (q->fn != NULL)
        q->fn(q->res, q->arg);
    pg_query_free(q);
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

static void
pg_names_free(pg_name_t *n)
{
    while (n != NULL) {
        pg_name_t *next = n->next;
        free(n->name);
        free(n->sql);
        free(n);
        n = next;
    }
}

static void
pg_set_state(pg_conn_t *c, pg_state_t state)
{
    if (c->state == state)
        return;
    c->state = state;
    if (c->on_state != NULL)
        c->on_state(c, state, c->arg);
}

static bool
pg_connected(const pg_conn_t *c)
{
    return c->state == PG_SETUP || c->state == PG_READY;
}

/* ---- results and notifications ------------------------------------------ */

static void
pg_conn_on_notice(void *arg, const char *message)
{
    char *msg = pg_message(message);

    log_warn("db", "server notice: %s", msg);
    free(msg);
}

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
static void
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

static void
pg_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    pg_conn_pump(arg);
}

static void
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

/* ---- connecting, setup, losing ------------------------------------------ */

/* Drop the current connection and its events (not the queues). */
static void
pg_conn_teardown(pg_conn_t *c)
{
    if (c->conn_ev != NULL)
        event_del(c->conn_ev);
    if (c->rev != NULL)
        event_del(c->rev);
    if (c->wev != NULL)
        event_del(c->wev);
    PQfinish(c->conn);
    c->conn = NULL;
}

/* Fail every statement queued or in flight: in order, each with NULL. */
static void
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

static void
pg_conn_schedule(pg_conn_t *c, int delay_ms)
{
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

/* The connection or an attempt failed: fail its statements, retry later. */
static void
pg_conn_lost(pg_conn_t *c, const char *why)
{
    char *msg = pg_message(why);
    bool was_connected = pg_connected(c);

    if (!c->outage_logged)
        log_warn("db", "%s, reconnecting in the background: %s",
                 was_connected ? "lost the database connection"
                               : "could not connect to the database",
                 msg);
    else
        log_debug("db", "connection attempt failed: %s", msg);
    c->outage_logged = true;
    free(msg);
    pg_conn_teardown(c);
    c->setup_left = 0;
    c->state = PG_DOWN;
    pg_conn_fail_all(c);
    if (c->state == PG_CLOSED)
        return;
    /* Right after a loss, try at once; after a failed attempt, back off. */
    if (was_connected) {
        c->backoff_ms = PG_BACKOFF_FIRST_MS;
        pg_conn_schedule(c, 0);
    } else {
        pg_conn_schedule(c, c->backoff_ms);
        c->backoff_ms =
            c->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : c->backoff_ms * 2;
    }
    if (c->on_state != NULL)
        c->on_state(c, PG_DOWN, c->arg);
}

static void
pg_conn_on_setup(const PGresult *res, void *arg)
{
    pg_conn_t *c = arg;

    if (res == NULL)
        return; /* lost: the loss resets the setup */
    if (!pg_result_ok(res)) {
        char *msg = pg_result_error(res);
        log_error("db", "could not set up the connection: %s", msg);
        free(msg);
    }
    if (--c->setup_left == 0 && c->state == PG_SETUP) {
        c->backoff_ms = PG_BACKOFF_FIRST_MS;
        pg_set_state(c, PG_READY);
    }
}

/* Queue a setup statement ahead of the statements already waiting. */
static void
pg_conn_setup_push(pg_conn_t *c, pg_queue_t *setup, pg_query_t *q)
{
    q->fn = pg_conn_on_setup;
    q->arg = c;
    pg_queue_push(setup, q);
    c->setup_left++;
}

static pg_query_t *
pg_conn_listen_query(pg_conn_t *c, const char *channel)
{
    char *ident = PQescapeIdentifier(c->conn, channel, strlen(channel));
    char *sql = xasprintf("LISTEN %s", ident != NULL ? ident : "\"\"");
    pg_query_t *q = pg_query_new(PG_Q_SQL, sql, 0, NULL, NULL, NULL);

    PQfreemem(ident);
    free(sql);
    return q;
}

static pg_query_t *
pg_conn_prepare_query(const pg_name_t *n)
{
    pg_query_t *q = pg_query_new(PG_Q_PREPARE, n->name, 0, NULL, NULL, NULL);

    q->sql = xstrdup(n->sql);
    q->nprep = n->nparams;
    return q;
}

/* Connected: set up, re-prepare and re-LISTEN before anything else. */
static void
pg_conn_on_connected(pg_conn_t *c)
{
    pg_queue_t setup = {0};

    if (c->conn_ev != NULL)
        event_del(c->conn_ev);
    PQsetNoticeProcessor(c->conn, pg_conn_on_notice, NULL);
    if (PQsetnonblocking(c->conn, 1) != 0 || (c->pipeline && !PQenterPipelineMode(c->conn))) {
        pg_conn_lost(c, "could not switch the connection to non-blocking mode");
        return;
    }
    if (c->rev != NULL)
        event_free(c->rev);
    if (c->wev != NULL)
        event_free(c->wev);
    c->rev = event_new(c->base, PQsocket(c->conn), EV_READ | EV_PERSIST, pg_conn_on_read, c);
    c->wev = event_new(c->base, PQsocket(c->conn), EV_WRITE, pg_conn_on_write, c);
    if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) < 0) {
        log_error("db", "could not watch the database connection: out of memory");
        abort();
    }
    if (c->outage_logged)
        log_info("db", "database connection restored");
    c->outage_logged = false;
    c->state = PG_SETUP;
    for (const pg_name_t *n = c->prepared; n != NULL; n = n->next)
        pg_conn_setup_push(c, &setup, pg_conn_prepare_query(n));
    for (const pg_name_t *n = c->channels; n != NULL; n = n->next)
        pg_conn_setup_push(c, &setup, pg_conn_listen_query(c, n->name));
    /* Setup first, then whatever was queued while connecting. */
    pg_queue_move(&setup, &c->pending);
    c->pending = setup;
    if (c->setup_left == 0) {
        c->backoff_ms = PG_BACKOFF_FIRST_MS;
        pg_set_state(c, PG_READY);
        if (c->state != PG_READY)
            return;
    } else if (c->on_state != NULL) {
        c->on_state(c, PG_SETUP, c->arg);
        if (c->state != PG_SETUP)
            return;
    }
    pg_conn_pump(c);
}

static void pg_conn_on_connect_io(evutil_socket_t fd, short what, void *arg);

/* Act on what PQconnectPoll said: wait for the socket, or finish. */
static void
pg_conn_poll(pg_conn_t *c, PostgresPollingStatusType st)
{
    struct timeval tv;
    int64_t left;

    switch (st) {
    case PGRES_POLLING_OK:
        pg_conn_on_connected(c);
        return;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        break;
    default:
        pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    /* The socket may change between calls (several hosts or addresses),
     * so the one-shot event is made anew each time. */
    if (c->conn_ev != NULL)
        event_free(c->conn_ev);
    c->conn_ev =
        event_new(c->base, PQsocket(c->conn), st == PGRES_POLLING_READING ? EV_READ : EV_WRITE,
                  pg_conn_on_connect_io, c);
    left = c->deadline_ms - gw_now_ms();
    if (left < 1)
        left = 1;
    tv.tv_sec = (time_t)(left / 1000);
    tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
    if (c->conn_ev == NULL || event_add(c->conn_ev, &tv) < 0)
        pg_conn_lost(c, "could not watch the connection's socket");
}

static void
pg_conn_on_connect_io(evutil_socket_t fd, short what, void *arg)
{
    pg_conn_t *c = arg;

    if (what & EV_TIMEOUT) {
        pg_conn_lost(c, "the connection attempt timed out");
        return;
    }
    pg_conn_poll(c, PQconnectPoll(c->conn));
}

static void
pg_conn_connect(pg_conn_t *c)
{
    /* Keepalives and a TCP user timeout: a silently dropped network fails
     * the connection in about 20 s instead of the kernel's 15 minutes. */
    const char *keys[] = {"dbname",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          c->options != NULL ? "options" : NULL,
                          NULL};
    const char *values[] = {c->conninfo, c->app_name, "1",        "10", "5",
                            "2",         "20000",     c->options, NULL};

    /* expand_dbname lets conninfo be a URI or a key=value string. Name
     * resolution may block briefly here; the rest is driven by the loop. */
    c->conn = PQconnectStartParams(keys, values, 1);
    if (c->conn == NULL) {
        log_error("db", "could not start a connection: out of memory");
        abort();
    }
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        pg_conn_lost(c, PQerrorMessage(c->conn));
        return;
    }
    pg_set_state(c, PG_CONNECTING);
    if (c->state != PG_CONNECTING)
        return;
    c->deadline_ms = gw_now_ms() + PG_CONNECT_SECONDS * 1000;
    /* As the libpq manual says: behave as if the last poll said WRITING. */
    pg_conn_poll(c, PGRES_POLLING_WRITING);
}

static void
pg_conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    pg_conn_connect(arg);
}

static void
pg_conn_on_free(evutil_socket_t fd, short what, void *arg)
{
    pg_conn_t *c = arg;

    if (c->conn_ev != NULL)
        event_free(c->conn_ev);
    if (c->rev != NULL)
        event_free(c->rev);
    if (c->wev != NULL)
        event_free(c->wev);
    event_free(c->timer);
    event_free(c->free_ev);
    pg_names_free(c->prepared);
    pg_names_free(c->channels);
    free(c->conninfo);
    free(c->app_name);
    free(c->options);
    free(c);
}

/* ---- the connection's interface ----------------------------------------- */

pg_conn_t *
pg_conn_new(struct event_base *base, const pg_conn_config_t *cfg)
{
    pg_conn_t *c = xcalloc(1, sizeof(*c));

    c->base = base;
    c->conninfo = xstrdup(cfg->conninfo);
    c->app_name = xstrdup(cfg->application_name != NULL ? cfg->application_name : "gitweave");
    c->options = cfg->options != NULL ? xstrdup(cfg->options) : NULL;
    c->pipeline = cfg->pipeline;
    c->on_notify = cfg->on_notify;
    c->on_state = cfg->on_state;
    c->arg = cfg->arg;
    c->backoff_ms = PG_BACKOFF_FIRST_MS;
    c->state = PG_CONNECTING; /* the first attempt starts on the next turn */
    c->timer = evtimer_new(base, pg_conn_on_timer, c);
    c->free_ev = evtimer_new(base, pg_conn_on_free, c);
    if (c->timer == NULL || c->free_ev == NULL) {
        log_error("db", "could not create a timer: out of memory");
        abort();
    }
    pg_conn_schedule(c, 0);
    return c;
}

void
pg_conn_free(pg_conn_t *c)
{
    if (c == NULL || c->state == PG_CLOSED)
        return;
    c->state = PG_CLOSED;
    event_del(c->timer);
    pg_conn_teardown(c);
    pg_conn_fail_all(c);
    event_active(c->free_ev, EV_TIMEOUT, 0);
}

pg_state_t
pg_conn_state(const pg_conn_t *c)
{
    return c->state;
}

int
pg_conn_load(const pg_conn_t *c)
{
    return c->pending.len + c->inflight.len;
}

int
pg_conn_backend_pid(const pg_conn_t *c)
{
    return pg_connected(c) ? PQbackendPID(c->conn) : 0;
}

static pg_name_t *
pg_name_add(pg_name_t **list, const char *name, const char *sql, int nparams)
{
    pg_name_t *n = xcalloc(1, sizeof(*n));
    pg_name_t **tail = list;

    n->name = xstrdup(name);
    n->sql = sql != NULL ? xstrdup(sql) : NULL;
    n->nparams = nparams;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = n;
    return n;
}

void
pg_conn_prepare(pg_conn_t *c, const char *name, const char *sql, int nparams)
{
    pg_name_t *n;

    if (c->state == PG_CLOSED)
        return;
    n = pg_name_add(&c->prepared, name, sql, nparams);
    if (pg_connected(c)) {
        /* Prepared now, ahead of statements queued later that use it. */
        pg_query_t *q = pg_conn_prepare_query(n);
        q->fn = pg_conn_on_setup;
        q->arg = c;
        c->setup_left++;
        pg_queue_push(&c->pending, q);
        pg_conn_kick(c);
    }
}

void
pg_conn_listen(pg_conn_t *c, const char *channel)
{
    if (c->state == PG_CLOSED)
        return;
    pg_name_add(&c->channels, channel, NULL, 0);
    if (pg_connected(c)) {
        pg_query_t *q = pg_conn_listen_query(c, channel);
        q->fn = pg_conn_on_setup;
        q->arg = c;
        c->setup_left++;
        pg_queue_push(&c->pending, q);
        pg_conn_kick(c);
    }
}

static int
pg_conn_enqueue(pg_conn_t *c, pg_qkind_t kind, const char *text, int nparams,
                const char *const *params, pg_result_fn fn, void *arg)
{
    if (c->state != PG_CONNECTING && !pg_connected(c))
        return -1;
    pg_queue_push(&c->pending, pg_query_new(kind, text, nparams, params, fn, arg));
    pg_conn_kick(c);
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

/* ---- the pool ----------------------------------------------------------- */

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
        rc = pg_conn_enqueue(c, j->prepared ? PG_Q_PREPARED : PG_Q_SQL, j->text, j->nparams,
                             (const char *const *)j->params, pg_pool_on_result, j);
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
