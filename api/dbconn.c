/*
 * dbconn - the API's pool, and which statements are prepared on it.
 */
#include "dbconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queries.h"

#define DBCONN_APP_NAME "gitweave-api"
/* No statement may hold a connection longer than this (a lock wait, say). */
#define DBCONN_OPTIONS "-c statement_timeout=10s"

/* Every statement of the API, prepared on each connection as "gw<i>". */
static const char *const dbconn_statements[] = {
    SQL_REPOS_LIST,   SQL_REPO_GET,       SQL_REPO_PUT,   SQL_TEMPLATES_LIST, SQL_TEMPLATE_GET,
    SQL_TEMPLATE_PUT, SQL_ATTACH_LIST,    SQL_ATTACH_PUT, SQL_ATTACH_DELETE,  SQL_ATTACH_LOOKUP,
    SQL_TRIGGER_READ, SQL_TRIGGER_INSERT, SQL_RUN_GET,    SQL_RUNS_PAGE,      SQL_RUN_CANCEL,
    SQL_LOGS_PAGE,    SQL_RUNNERS_LIST,
    SQL_RUNNER_PAUSE, SQL_RUNNER_DELETE, SQL_RUN_RERUN, SQL_METRICS,
    SQL_SCHEDULES_DUE, SQL_SCHEDULES_LIST,
};

struct dbconn {
    pg_pool_t *pool;
    char names[GW_ARRAY_LEN(dbconn_statements)][8];
};

int
dbconn_default_size(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long n = cores > 0 ? 2 * cores : 2;

    return (int)(n < 2 ? 2 : n > 8 ? 8 : n);
}

dbconn_t *
dbconn_new(struct event_base *base, const char *conninfo, int connections)
{
    dbconn_t *db = xcalloc(1, sizeof(*db));
    pg_conn_config_t cfg = {
        .conninfo = conninfo, .application_name = DBCONN_APP_NAME, .options = DBCONN_OPTIONS};

    db->pool = pg_pool_new(base, &cfg, connections);
    for (size_t i = 0; i < GW_ARRAY_LEN(dbconn_statements); i++) {
        snprintf(db->names[i], sizeof(db->names[i]), "gw%zu", i);
        /* Parameter types are inferred, as for an unprepared statement. */
        pg_pool_prepare(db->pool, db->names[i], dbconn_statements[i], 0);
    }
    log_info("db", "database pool connections=%d statements=%zu", connections,
             GW_ARRAY_LEN(dbconn_statements));
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
dbconn_query(dbconn_t *db, const char *sql, int nparams, const char *const *params, pg_result_fn fn,
             void *arg)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(dbconn_statements); i++)
        if (sql == dbconn_statements[i] || strcmp(sql, dbconn_statements[i]) == 0)
            return pg_pool_query_prepared(db->pool, db->names[i], nparams, params, fn, arg);
    return pg_pool_query(db->pool, sql, nparams, params, fn, arg);
}

pg_pool_stats_t
dbconn_stats(const dbconn_t *db)
{
    return pg_pool_stats(db->pool);
}
