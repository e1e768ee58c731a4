/*
 * schedules - GET /repos/{repo}/schedules: a repo's schedules (each cron
 * expression of the on.schedule of each attached template) with their
 * next fire time, computed here from the expression and the clock, and
 * their last fire time and run, as the database has them.
 */
#include <stdlib.h>
#include <time.h>

#include "cron.h"
#include "handlers.h"
#include "queries.h"

static void
schedules_list_read(http_req_t *r, const PGresult *res, void *ctx)
{
    cJSON *reply, *list;
    int64_t now = (int64_t)time(NULL);

    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        return;
    }
    reply = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(reply, "schedules");
    for (int i = 0; i < PQntuples(res) && !PQgetisnull(res, i, 0); i++) {
        cJSON *o = http_json_from_db(PQgetvalue(res, i, 0));
        char err[CRON_ERR_LEN], when[CRON_TIME_LEN];
        cron_t c;
        int64_t next;

        if (o == NULL) {
            cJSON_Delete(reply);
            http_reply_error(r, 500, "internal error", "a schedule could not be read");
            return;
        }
        /* Stored templates were validated: a refusal here is a bug. */
        next =
            cron_parse(PQgetvalue(res, i, 1), &c, err, sizeof(err)) == 0 ? cron_next(&c, now) : -1;
        if (next >= 0) {
            cron_format(next, when);
            cJSON_AddStringToObject(o, "next_fire_at", when);
        } else {
            cJSON_AddNullToObject(o, "next_fire_at");
        }
        cJSON_AddItemToArray(list, o);
    }
    http_reply_json(r, 200, reply);
}

void
schedules_list(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "list schedules", STMT_SCHEDULES_LIST, 1, params, schedules_list_read, NULL);
}
