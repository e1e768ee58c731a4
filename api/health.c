/*
 * health - liveness (the process answers) and readiness (and so does the
 * database). Both are open when a token is configured.
 */
#include <libpq-fe.h>

#include "handlers.h"
#include "queries.h"

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
    PGresult *res = http_db(r, "check readiness", SQL_READY, 0, NULL);
    cJSON *o;

    if (res == NULL) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "unavailable");
        cJSON_AddStringToObject(o, "detail", "the database cannot be reached");
        http_set_header(r, "Retry-After", "1");
        http_reply_json(r, 503, o);
        return;
    }
    PQclear(res);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    http_reply_json(r, 200, o);
}
