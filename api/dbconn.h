/*
 * dbconn - the API's one Postgres connection, and getting it back.
 *
 * Queries run synchronously on it from the event loop (they are short).
 * When a query finds the connection dead, the connection is dropped and a
 * new one is made in the background with PQconnectStart/PQconnectPoll driven
 * by one-shot libevent events (the pgbouncer way), so that the loop never
 * waits for a database that is down; meanwhile requests are answered 503.
 * Failed attempts are retried with a backoff of 1 s doubling to 10 s.
 * Every connection gets statement_timeout = 10 s, so that no statement (a
 * lock wait, say) holds the loop for long.
 */
#ifndef GW_API_DBCONN_H
#define GW_API_DBCONN_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "util.h"

typedef struct dbconn dbconn_t;

/*
 * Connect to conninfo: one blocking attempt now (start-up may wait), and if
 * it fails, background attempts on base until one succeeds. Never returns
 * NULL; free with dbconn_free (NULL is a no-op). conninfo is copied.
 */
dbconn_t *dbconn_new(struct event_base *base, const char *conninfo);
void dbconn_free(dbconn_t *db);

/* Whether the connection is up (queries may still fail). */
bool dbconn_ready(const dbconn_t *db);

/*
 * Run a parameterised statement (see db_exec). Returns the result, which
 * the caller PQclears, or NULL if the connection is down or the statement
 * failed (logged under `what`); a connection found dead is dropped and a
 * reconnect begins.
 */
PGresult *dbconn_exec(dbconn_t *db, const char *what, const char *sql, int nparams,
                      const char *const *params) GW_MUST_CHECK;

/* Like dbconn_exec for statements whose rows are not needed; returns the
 * number of affected rows, or -1. */
int dbconn_command(dbconn_t *db, const char *what, const char *sql, int nparams,
                   const char *const *params) GW_MUST_CHECK;

/* Roll back a transaction left open (after a failure, or by a bug): a
 * no-op when the connection is down or idle. */
void dbconn_cleanup(dbconn_t *db);

#endif
