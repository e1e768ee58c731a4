/*
 * health - liveness (the process answers) and readiness (the pool has a
 * database connection). Neither waits for the database: readiness reports
 * the pool's state as it is. Both are open when a token is configured.
 */
#include "handlers.h"

void
health_live(http_req_t *r)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "status", "ok");
    http_reply_json(r, 200, o);
}

void
health_ready(http_req_t *r)
{
    pg_pool_stats_t st = dbconn_stats(r->db);
    cJSON *o = cJSON_CreateObject();
    cJSON *pool;

    cJSON_AddStringToObject(o, "status", st.ready > 0 ? "ok" : "unavailable");
    if (st.ready == 0)
        cJSON_AddStringToObject(o, "detail", "the database cannot be reached");
    pool = cJSON_AddObjectToObject(o, "pool");
    cJSON_AddNumberToObject(pool, "size", st.size);
    cJSON_AddNumberToObject(pool, "ready", st.ready);
    cJSON_AddNumberToObject(pool, "busy", st.busy);
    cJSON_AddNumberToObject(pool, "waiting", st.waiting);
    if (st.ready == 0)
        http_set_header(r, "Retry-After", "1");
    http_reply_json(r, st.ready > 0 ? 200 : 503, o);
}
