/*
 * dbconn - one Postgres connection for the event loop, reconnected in the
 * background with PQconnectPoll when it is lost.
 */
#include "dbconn.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

#define DBCONN_APP_NAME "gitweave-api"
/* How long one background attempt may take, and the longest pause. */
#define DBCONN_ATTEMPT_SECONDS 10
#define DBCONN_BACKOFF_MAX 10
/* No statement may hold the event loop longer than this (a lock wait, say). */
#define DBCONN_STATEMENT_TIMEOUT "SET statement_timeout = '10s'"

typedef enum { DBCONN_DOWN, DBCONN_CONNECTING, DBCONN_UP } dbconn_state_t;

struct dbconn {
    struct event_base *base;
    char *conninfo;
    PGconn *conn; /* up, or connecting */
    dbconn_state_t state;
    struct event *sock_ev; /* one-shot: the socket while connecting */
    struct event *timer;   /* the pause before the next attempt */
    int backoff;           /* seconds */
    int64_t deadline_ms;   /* end of the current attempt */
    bool outage_logged;    /* one warning per outage, not per attempt */
};

static void dbconn_start(dbconn_t *db);
static void dbconn_poll(dbconn_t *db, PostgresPollingStatusType st);

/* One line from a libpq message (which may hold newlines). */
static char *
dbconn_message(PGconn *conn)
{
    char *msg = xstrdup(conn ? PQerrorMessage(conn) : "out of memory");
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return msg;
}

/* Server notices (a shutdown warning, say) go to the log, not to stderr raw. */
static void
dbconn_on_notice(void *arg, const char *message)
{
    char *msg = xstrdup(message);
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    log_warn("db", "server notice: %s", msg);
    free(msg);
}

static void
dbconn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    dbconn_start(arg);
}

/* Give up on the current attempt (or connection) and retry later. */
static void
dbconn_retry_later(dbconn_t *db, const char *why)
{
    struct timeval tv = {db->backoff, 0};

    if (!db->outage_logged) {
        log_warn("db", "database unavailable, retrying in the background: %s", why);
        db->outage_logged = true;
    } else {
        log_debug("db", "reconnect attempt failed: %s", why);
    }
    if (db->sock_ev != NULL) {
        event_free(db->sock_ev);
        db->sock_ev = NULL;
    }
    PQfinish(db->conn);
    db->conn = NULL;
    db->state = DBCONN_DOWN;
    evtimer_add(db->timer, &tv);
    db->backoff = db->backoff * 2 > DBCONN_BACKOFF_MAX ? DBCONN_BACKOFF_MAX : db->backoff * 2;
}

static void
dbconn_up(dbconn_t *db)
{
    PQsetNoticeProcessor(db->conn, dbconn_on_notice, NULL);
    if (db_command(db->conn, "set statement_timeout", DBCONN_STATEMENT_TIMEOUT, 0, NULL) < 0)
        log_warn("db", "statements run without a time limit");
    if (db->outage_logged)
        log_info("db", "database connection restored");
    db->outage_logged = false;
    db->state = DBCONN_UP;
    db->backoff = 1;
    if (db->sock_ev != NULL) {
        event_free(db->sock_ev);
        db->sock_ev = NULL;
    }
}

static void
dbconn_on_socket(evutil_socket_t fd, short what, void *arg)
{
    dbconn_t *db = arg;

    if (what & EV_TIMEOUT) {
        dbconn_retry_later(db, "the connection attempt timed out");
        return;
    }
    dbconn_poll(db, PQconnectPoll(db->conn));
}

/* Act on what PQconnectPoll said: wait for the socket, or finish. */
static void
dbconn_poll(dbconn_t *db, PostgresPollingStatusType st)
{
    struct timeval tv;
    int64_t left;
    char *msg;

    switch (st) {
    case PGRES_POLLING_OK:
        dbconn_up(db);
        return;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        break;
    default:
        msg = dbconn_message(db->conn);
        dbconn_retry_later(db, msg);
        free(msg);
        return;
    }
    /* The socket may change between calls (several hosts or addresses). */
    if (db->sock_ev != NULL)
        event_free(db->sock_ev);
    db->sock_ev = event_new(db->base, PQsocket(db->conn),
                            st == PGRES_POLLING_READING ? EV_READ : EV_WRITE, dbconn_on_socket, db);
    left = db->deadline_ms - gw_now_ms();
    if (left < 1)
        left = 1;
    tv.tv_sec = (time_t)(left / 1000);
    tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
    if (db->sock_ev == NULL || event_add(db->sock_ev, &tv) < 0)
        dbconn_retry_later(db, "could not watch the connection's socket");
}

static void
dbconn_start(dbconn_t *db)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {db->conninfo, DBCONN_APP_NAME, NULL};

    /* Name resolution inside PQconnectStartParams may block briefly; the
     * rest of the handshake is driven by the event loop. */
    db->conn = PQconnectStartParams(keys, values, 1);
    if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
        char *msg = dbconn_message(db->conn);
        dbconn_retry_later(db, msg);
        free(msg);
        return;
    }
    db->state = DBCONN_CONNECTING;
    db->deadline_ms = gw_now_ms() + DBCONN_ATTEMPT_SECONDS * 1000;
    /* As the libpq manual says: behave as if the last poll said WRITING. */
    dbconn_poll(db, PGRES_POLLING_WRITING);
}

dbconn_t *
dbconn_new(struct event_base *base, const char *conninfo)
{
    dbconn_t *db = xcalloc(1, sizeof(*db));

    db->base = base;
    db->conninfo = xstrdup(conninfo);
    db->backoff = 1;
    db->timer = evtimer_new(base, dbconn_on_timer, db);
    if (db->timer == NULL) {
        log_error("db", "could not create a timer: out of memory");
        abort();
    }
    db->conn = db_connect(conninfo, DBCONN_APP_NAME);
    if (db->conn != NULL) {
        dbconn_up(db);
    } else {
        db->outage_logged = true; /* db_connect said why */
        dbconn_retry_later(db, "");
    }
    return db;
}

void
dbconn_free(dbconn_t *db)
{
    if (db == NULL)
        return;
    if (db->sock_ev != NULL)
        event_free(db->sock_ev);
    event_free(db->timer);
    PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

bool
dbconn_ready(const dbconn_t *db)
{
    return db->state == DBCONN_UP;
}

/* After a failed statement: if the connection died, drop it and reconnect. */
static void
dbconn_check(dbconn_t *db)
{
    if (db->state != DBCONN_UP || PQstatus(db->conn) == CONNECTION_OK)
        return;
    log_warn("db", "lost the database connection, reconnecting");
    db->outage_logged = true;
    PQfinish(db->conn);
    db->conn = NULL;
    db->state = DBCONN_DOWN;
    dbconn_start(db);
}

PGresult *
dbconn_exec(dbconn_t *db, const char *what, const char *sql, int nparams, const char *const *params)
{
    PGresult *res;

    if (db->state != DBCONN_UP)
        return NULL;
    res = db_exec(db->conn, what, sql, nparams, params);
    if (res == NULL)
        dbconn_check(db);
    return res;
}

int
dbconn_command(dbconn_t *db, const char *what, const char *sql, int nparams,
               const char *const *params)
{
    int rows;

    if (db->state != DBCONN_UP)
        return -1;
    rows = db_command(db->conn, what, sql, nparams, params);
    if (rows < 0)
        dbconn_check(db);
    return rows;
}

void
dbconn_cleanup(dbconn_t *db)
{
    if (db->state != DBCONN_UP)
        return;
    if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
        return;
    if (dbconn_command(db, "roll back", "ROLLBACK", 0, NULL) < 0)
        log_warn("db", "could not roll back a transaction");
}
