/*
 * pg - one libpq connection driven by a libevent loop: its life.
 *
 * Life of a connection (docs/pg.md):
 *
 *   DOWN --timer--> CONNECTING --PQconnectPoll OK--> SETUP --prepared, LISTENed--> READY
 *     ^                 |                              |                             |
 *     +---- failed -----+-------------- lost ----------+------------ lost -----------+
 *
 * This file connects (PQconnectStartParams, then PQconnectPoll on one-shot
 * events), sets a new connection up (every registered statement prepared
 * and every channel LISTENed again, ahead of anything queued), and when the
 * connection is lost fails what was queued and reconnects with back-off.
 * Its statements (queue, send, results) are in pg_query.c, the pool in
 * pg_pool.c; pg_int.h is what they share.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PG_CONNECT_SECONDS 10
#define PG_BACKOFF_FIRST_MS 100
#define PG_BACKOFF_MAX_MS 10000

static void pg_conn_connect(pg_conn_t *c);

/* ---- small helpers ------------------------------------------------------ */

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

static void
pg_set_state(pg_conn_t *c, pg_state_t state)
{
    if (c->state == state)
        return;
    c->state = state;
    if (c->on_state != NULL)
        c->on_state(c, state, c->arg);
}

static void
pg_conn_on_notice(void *arg, const char *message)
{
    char *msg = pg_message(message);

    log_warn("db", "server notice: %s", msg);
    free(msg);
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

static void
pg_conn_schedule(pg_conn_t *c, int delay_ms)
{
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

/* The connection or an attempt failed: fail its statements, retry later. */
void
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

/* Make q a setup statement: READY waits for its result. */
static pg_query_t *
pg_conn_setup_query(pg_conn_t *c, pg_query_t *q)
{
    q->fn = pg_conn_on_setup;
    q->arg = c;
    c->setup_left++;
    return q;
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
        pg_queue_push(&setup, pg_conn_setup_query(c, pg_conn_prepare_query(n)));
    for (const pg_name_t *n = c->channels; n != NULL; n = n->next)
        pg_queue_push(&setup, pg_conn_setup_query(c, pg_conn_listen_query(c, n->name)));
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

/* The memory of a closed connection, from the loop (later.h). */
static void
pg_conn_release(void *arg)
{
    pg_conn_t *c = arg;

    if (c->conn_ev != NULL)
        event_free(c->conn_ev);
    if (c->rev != NULL)
        event_free(c->rev);
    if (c->wev != NULL)
        event_free(c->wev);
    event_free(c->timer);
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
    if (c->timer == NULL) {
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
    later_free(c->base, &c->later, c, pg_conn_release);
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

void
pg_conn_prepare(pg_conn_t *c, const char *name, const char *sql, int nparams)
{
    pg_name_t *n;

    if (c->state == PG_CLOSED)
        return;
    n = pg_name_add(&c->prepared, name, sql, nparams);
    /* Prepared now, ahead of statements queued later that use it. */
    if (pg_connected(c))
        pg_conn_push(c, pg_conn_setup_query(c, pg_conn_prepare_query(n)));
}

void
pg_conn_listen(pg_conn_t *c, const char *channel)
{
    if (c->state == PG_CLOSED)
        return;
    pg_name_add(&c->channels, channel, NULL, 0);
    if (pg_connected(c))
        pg_conn_push(c, pg_conn_setup_query(c, pg_conn_listen_query(c, channel)));
}
