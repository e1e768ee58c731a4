/*
 * repo_retention - PUT /repos/{repo}/log-retention: a repo's own log
 * retention, over GITWEAVE_LOG_RETENTION_DAYS (docs/retention.md). The
 * body is {"days": N} (0: keep its logs forever) or {"days": null} (the
 * setting's value again); the reply is the repo.
 */
#include <stdio.h>
#include <stdlib.h>

#include "handlers.h"
#include "queries.h"

/* The most days a retention may be (about 100 years). */
#define RETENTION_DAYS_MAX 36500

void
repo_retention_put(http_req_t *r)
{
    static const char *const known[] = {"days", NULL};
    char err[REQUEST_ERR_LEN], days_s[24];
    const cJSON *days;
    cJSON *body = NULL;

    if (http_read_json(r, &body) < 0)
        return;
    days = cJSON_GetObjectItemCaseSensitive(body, "days");
    if (body == NULL || !request_body_object(body, known, err, sizeof(err)) || days == NULL) {
        http_reply_error(
            r, 400, "invalid body", "%s",
            body == NULL || days == NULL ? "the body is {\"days\": N} or {\"days\": null}" : err);
        cJSON_Delete(body);
        return;
    }
    if (!cJSON_IsNull(days) &&
        (!cJSON_IsNumber(days) || days->valuedouble != (double)(long long)days->valuedouble ||
         days->valuedouble < 0 || days->valuedouble > RETENTION_DAYS_MAX)) {
        http_reply_error(r, 400, "invalid days",
                         "days is an integer from 0 (keep forever) to %d, or null (the "
                         "setting GITWEAVE_LOG_RETENTION_DAYS)",
                         RETENTION_DAYS_MAX);
        cJSON_Delete(body);
        return;
    }
    snprintf(days_s, sizeof(days_s), "%lld", (long long)days->valuedouble);
    const char *params[] = {r->params[0], cJSON_IsNull(days) ? NULL : days_s};
    cJSON_Delete(body);
    http_db_async(r, "set log retention", STMT_REPO_RETENTION_PUT, 2, params, repos_get_done, NULL);
}
