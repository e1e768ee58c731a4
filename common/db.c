/*
 * db - connecting to Postgres and running parameterised statements.
 */
#include "db.h"

#include <stdlib.h>

#include "log.h"
#include "pg.h"

PGconn *
db_connect(const char *conninfo, const char *application_name)
{
    /* Keepalives and a TCP user timeout: a silently dropped network fails
     * a blocked statement in about 20 s instead of the kernel's 15 minutes. */
    const char *keys[] = {"dbname",           "application_name", "connect_timeout",
                          "keepalives",       "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", NULL};
    const char *values[] = {conninfo, application_name, "10", "1", "10", "5", "2", "20000", NULL};

    /* expand_dbname lets conninfo be a URI or a key=value string. */
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL) {
        log_error("db", "could not connect: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char *msg = pg_message(PQerrorMessage(conn));
        log_error("db", "could not connect to the database: %s", msg);
        free(msg);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGresult *
db_exec(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    char *msg = pg_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    log_error("db", "%s failed: %s sqlstate=%s", what, msg, pg_result_sqlstate(res));
    free(msg);
    PQclear(res);
    return NULL;
}

int
db_command(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = db_exec(conn, what, sql, nparams, params);
    if (res == NULL)
        return -1;
    const char *n = PQcmdTuples(res);
    int rows = (n && *n) ? atoi(n) : 0;
    PQclear(res);
    return rows;
}

bool
db_alive(PGconn *conn)
{
    return conn != NULL && PQstatus(conn) == CONNECTION_OK;
}
