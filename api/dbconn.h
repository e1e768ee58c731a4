/*
 * dbconn - the API's Postgres: a pool of non-blocking connections
 * (common/pg.h) with every statement of queries.h prepared on each.
 *
 * Nothing here blocks the event loop: a statement is queued, runs on the
 * next idle connection, and its result goes to a callback. While the
 * database is down the pool reconnects in the background and statements
 * are refused at once (the handlers answer 503). Every connection has
 * statement_timeout = 10 s.
 */
#ifndef GW_API_DBCONN_H
#define GW_API_DBCONN_H

#include <event2/event.h>
#include <libpq-fe.h>

#include "pg.h"
#include "queries.h"
#include "util.h"

typedef struct dbconn dbconn_t;

/* The id of each statement of queries.h's API_STATEMENTS. */
typedef enum {
#define DBCONN_STMT_ID(id, name) STMT_##id,
    API_STATEMENTS(DBCONN_STMT_ID)
#undef DBCONN_STMT_ID
        STMT_COUNT
} dbconn_stmt_t;

/* Open `connections` connections to conninfo on base (copied); they connect
 * in the background, and none of their statements may run longer than
 * statement_timeout seconds (a lock wait, say). Never returns NULL; free with
 * dbconn_free (NULL is a no-op), which fails every statement still waiting. */
dbconn_t *dbconn_new(struct event_base *base, const char *conninfo, int connections,
                     int statement_timeout);
void dbconn_free(dbconn_t *db);

/*
 * Run a statement, prepared under its name. Returns 0 when accepted (fn is
 * called once from the loop, with res NULL if the connection was lost), or
 * -1 when the database is unavailable (fn is not called).
 */
int dbconn_query(dbconn_t *db, dbconn_stmt_t stmt, int nparams, const char *const *params,
                 pg_result_fn fn, void *arg) GW_MUST_CHECK;

/* A statement's name and text (static), and the statement of a name
 * (STMT_COUNT for none). */
const char *dbconn_stmt_name(dbconn_stmt_t stmt);
const char *dbconn_stmt_sql(dbconn_stmt_t stmt);
dbconn_stmt_t dbconn_stmt_find(const char *name);

/* The pool's state now (for /readyz). */
pg_pool_stats_t dbconn_stats(const dbconn_t *db);

/* The default number of connections: twice the cores, from 2 to 8. */
int dbconn_default_size(void);

#endif
