/*
 * db - the Postgres connection both processes use.
 *
 * Queries are short and parameterised (PQexecParams); callers check the
 * result with db_ok. The event channels and their payloads are in
 * events.h.
 */
#ifndef GW_DB_H
#define GW_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "util.h"

/* Connect (blocking). Returns the connection, or NULL after logging why.
 * application_name names the process in pg_stat_activity. */
PGconn *db_connect(const char *conninfo, const char *application_name) GW_MUST_CHECK;

/*
 * Run a parameterised statement. Returns the result (caller PQclears it),
 * or NULL after logging the failure under `what` (the result is then
 * cleared here). nparams text parameters; a NULL parameter is SQL NULL.
 */
PGresult *db_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                  const char *const *params) GW_MUST_CHECK;

/* Like db_exec for statements whose result is not needed; returns the
 * number of affected rows, or -1. */
int db_command(PGconn *conn, const char *what, const char *sql, int nparams,
               const char *const *params);

/* Whether the connection is usable (it may have been lost). */
bool db_alive(PGconn *conn);

/* A column of a timestamp rendered as RFC 3339 UTC, for SELECT lists:
 * DB_TS("r.created_at") -> to_char(...). */
#define DB_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#endif
