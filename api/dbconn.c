/*
 * dbconn - the API's pool, with every statement of API_STATEMENTS prepared
 * on each connection under its name.
 */
#include "dbconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queries.h"

#define DBCONN_APP_NAME "gitweave-api"

static const struct {
    const char *name;
    const char *sql;
} dbconn_statements[STMT_COUNT] = {
#define DBCONN_STMT(id, name) [STMT_##id] = {name, SQL_##id},
    API_STATEMENTS(DBCONN_STMT)
#undef DBCONN_STMT
};

struct dbconn {
    pg_pool_t *pool;
};

int
dbconn_default_size(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long n = cores > 0 ? 2 * cores : 2;

    return (int)(n < 2 ? 2 : n > 8 ? 8 : n);
}

dbconn_t *
dbconn_new(struct event_base *base, const char *conninfo, int connections, int statement_timeout)
{
    dbconn_t *db = xcalloc(1, sizeof(*db));
    char options[64];
    pg_conn_config_t cfg = {
        .conninfo = conninfo, .application_name = DBCONN_APP_NAME, .options = options};

    snprintf(options, sizeof(options), "-c statement_timeout=%ds", statement_timeout);

    db->pool = pg_pool_new(base, &cfg, connections);
    /* Parameter types are inferred, as for an unprepared statement. */
    for (size_t i = 0; i < STMT_COUNT; i++)
        pg_pool_prepare(db->pool, dbconn_statements[i].name, dbconn_statements[i].sql, 0);
    log_info("db", "database pool connections=%d statements=%d", connections, (int)STMT_COUNT);
    return db;
}

void
dbconn_free(dbconn_t *db)
{
    if (db == NULL)
        return;
    pg_pool_free(db->pool);
    free(db);
}

int
dbconn_query(dbconn_t *db, dbconn_stmt_t stmt, int nparams, const char *const *params,
             pg_result_fn fn, void *arg)
{
    return pg_pool_query_prepared(db->pool, dbconn_stmt_name(stmt), nparams, params, fn, arg);
}

const char *
dbconn_stmt_name(dbconn_stmt_t stmt)
{
    return dbconn_statements[stmt].name;
}

const char *
dbconn_stmt_sql(dbconn_stmt_t stmt)
{
    return dbconn_statements[stmt].sql;
}

dbconn_stmt_t
dbconn_stmt_find(const char *name)
{
    for (int i = 0; i < STMT_COUNT; i++)
        if (strcmp(dbconn_statements[i].name, name) == 0)
            return (dbconn_stmt_t)i;
    return STMT_COUNT;
}

pg_pool_stats_t
dbconn_stats(const dbconn_t *db)
{
    return pg_pool_stats(db->pool);
}
