/*
 * runs - reading runs (one with its jobs, or a repo's runs a page at a time)
 * and canceling them.
 *
 * Cancel follows the status machine (status.h): a queued run is canceled
 * here, at once, with its jobs; a running one is only asked to stop
 * (cancel_requested_at and a "cancel" event): its worker stops the job and
 * writes the final statuses.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "queries.h"
#include "status.h"

#define RUNS_LIMIT_DEFAULT 20
#define RUNS_LIMIT_MAX 100

int
runs_load(http_req_t *r, const char *id, cJSON **out)
{
    const char *params[] = {id};
    PGresult *res = http_db(r, "get run", SQL_RUN_GET, 1, params);
    int rc;

    *out = NULL;
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        rc = 0;
    } else {
        *out = http_json_from_db(PQgetvalue(res, 0, 0));
        rc = *out ? 1 : -1;
    }
    PQclear(res);
    return rc;
}

/* Reply with the run (status 200 or 202), 404, or a database failure. */
static void
runs_reply_run(http_req_t *r, const char *id, int status)
{
    cJSON *o = NULL;
    int found = runs_load(r, id, &o);

    if (found < 0) {
        http_reply_db_failure(r);
        return;
    }
    if (found == 0) {
        http_reply_error(r, 404, "run not found", "there is no run with id %s", id);
        return;
    }
    http_reply_json(r, status, o);
}

void
runs_get(http_req_t *r)
{
    runs_reply_run(r, r->params[0], 200);
}

void
runs_list(http_req_t *r)
{
    const char *status = request_query_get(&r->query, "status");
    const char *limit_s = request_query_get(&r->query, "limit");
    const char *before = request_query_get(&r->query, "before");
    char repo_id[37], cursor_id[37], micros_s[24], limit_fetch[24];
    long long limit = RUNS_LIMIT_DEFAULT, micros = 0;
    cJSON *reply = NULL, *list;
    PGresult *res = NULL;
    int n;

    if (limit_s != NULL && request_parse_int(limit_s, 1, RUNS_LIMIT_MAX, &limit) < 0) {
        http_reply_error(r, 400, "invalid limit", "limit is an integer from 1 to %d",
                         RUNS_LIMIT_MAX);
        goto fail;
    }
    if (status != NULL && status_parse(ST_KIND_RUN, status) < 0) {
        http_reply_error(r, 400, "invalid status",
                         "status is one of queued, running, success, failed, canceled");
        goto fail;
    }
    if (before != NULL && request_cursor_decode(before, &micros, cursor_id) < 0) {
        http_reply_error(r, 400, "invalid cursor",
                         "before takes the \"next\" value of a previous page as is");
        goto fail;
    }
    if (repos_find(r, r->params[0], repo_id, NULL) < 0)
        goto fail;
    snprintf(micros_s, sizeof(micros_s), "%lld", micros);
    /* One more than asked for tells whether there is a next page. */
    snprintf(limit_fetch, sizeof(limit_fetch), "%lld", limit + 1);
    const char *params[] = {repo_id, status, before ? micros_s : NULL, before ? cursor_id : NULL,
                            limit_fetch};
    res = http_db(r, "list runs", SQL_RUNS_PAGE, 5, params);
    if (res == NULL) {
        http_reply_db_failure(r);
        goto fail;
    }
    reply = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(reply, "runs");
    n = PQntuples(res);
    for (int i = 0; i < n && i < limit; i++) {
        cJSON *o = http_json_from_db(PQgetvalue(res, i, 0));
        if (o == NULL) {
            http_reply_error(r, 500, "internal error", "a stored run could not be read");
            goto fail;
        }
        cJSON_AddItemToArray(list, o);
    }
    if (n > limit) {
        long long m = strtoll(PQgetvalue(res, (int)limit - 1, 1), NULL, 10);
        char *next = request_cursor_encode(m, PQgetvalue(res, (int)limit - 1, 2));
        cJSON_AddStringToObject(reply, "next", next);
        free(next);
    } else {
        cJSON_AddNullToObject(reply, "next");
    }
    http_reply_json(r, 200, reply);
    reply = NULL;
fail:
    PQclear(res);
    cJSON_Delete(reply);
}

/* Publish a run's new status (inside the caller's transaction). */
static int
runs_notify(http_req_t *r, const char *type, const char *id, const char *status)
{
    cJSON *ev = cJSON_CreateObject();
    char *payload;
    int rc;

    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddStringToObject(ev, "id", id);
    if (status != NULL)
        cJSON_AddStringToObject(ev, "status", status);
    payload = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    const char *params[] = {payload};
    rc = http_db_command(r, "notify", SQL_NOTIFY, 1, params);
    cJSON_free(payload);
    return rc;
}

/*
 * Cancel a queued run and its queued jobs, in one transaction with their
 * events. Returns 1 if done, 0 if the run was no longer queued (a worker
 * claimed it meanwhile), -1 on a database failure (rolled back).
 */
static int
runs_cancel_queued(http_req_t *r, const char *id)
{
    const char *params[] = {id};
    int rows;

    if (http_db_command(r, "begin cancel", "BEGIN", 0, NULL) < 0)
        return -1;
    rows = http_db_command(r, "cancel run", SQL_RUN_CANCEL_QUEUED, 1, params);
    if (rows < 0)
        goto fail;
    if (rows == 0) {
        if (http_db_command(r, "roll back cancel", "ROLLBACK", 0, NULL) < 0)
            return -1;
        return 0;
    }
    if (http_db_command(r, "cancel jobs", SQL_JOBS_CANCEL_QUEUED, 1, params) < 0 ||
        runs_notify(r, "run", id, status_name(ST_CANCELED)) < 0 ||
        http_db_command(r, "commit cancel", "COMMIT", 0, NULL) < 0)
        goto fail;
    log_info("runs", "canceled queued run run=%s", id);
    return 1;
fail:
    dbconn_cleanup(r->db);
    return -1;
}

/*
 * Ask the worker of a running run to stop it. Returns 1 if asked, 0 if
 * the run was no longer running, -1 on a database failure.
 */
static int
runs_cancel_running(http_req_t *r, const char *id)
{
    cJSON *ev = cJSON_CreateObject();
    char *payload;
    int rows;

    cJSON_AddStringToObject(ev, "type", "cancel");
    cJSON_AddStringToObject(ev, "id", id);
    payload = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    const char *params[] = {id, payload};
    rows = http_db_command(r, "request cancel", SQL_RUN_CANCEL_REQUEST, 2, params);
    cJSON_free(payload);
    if (rows > 0)
        log_info("runs", "asked to cancel running run run=%s", id);
    return rows < 0 ? -1 : rows > 0;
}

void
runs_cancel(http_req_t *r)
{
    const char *id = r->params[0];
    const char *params[] = {id};

    /* A run moves on while we look at it (queued -> running -> final):
     * each step is conditional on the status seen, so retry a few times. */
    for (int attempt = 0; attempt < 3; attempt++) {
        PGresult *res = http_db(r, "read run status", SQL_RUN_STATUS, 1, params);
        int st, done;

        if (res == NULL) {
            http_reply_db_failure(r);
            return;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            http_reply_error(r, 404, "run not found", "there is no run with id %s", id);
            return;
        }
        st = status_parse(ST_KIND_RUN, PQgetvalue(res, 0, 0));
        PQclear(res);
        if (st < 0 || !status_can_transition(ST_KIND_RUN, (gw_status_t)st, ST_CANCELED)) {
            http_reply_error(r, 409, "run already finished",
                             "run %s is %s and can no longer be canceled", id,
                             status_name((gw_status_t)st));
            return;
        }
        if (st == ST_QUEUED)
            done = runs_cancel_queued(r, id);
        else
            done = runs_cancel_running(r, id);
        if (done < 0) {
            http_reply_db_failure(r);
            return;
        }
        if (done > 0) {
            runs_reply_run(r, id, 202);
            return;
        }
    }
    http_reply_error(r, 409, "run is changing", "run %s changed status repeatedly; try again", id);
}
