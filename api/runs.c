/*
 * runs - reading runs (one with its jobs, or a repo's runs or every repo's
 * a page at a time) and canceling them.
 *
 * Cancel follows the status machine (status.h): a queued run is canceled
 * here, at once, with its jobs; a running one is only asked to stop
 * (cancel_requested_at and a "cancel" event): its worker stops the job and
 * writes the final statuses.
 */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "queries.h"
#include "status.h"

#define RUNS_LIMIT_DEFAULT 20
#define RUNS_LIMIT_MAX 100

/* Reply with the run of column 0 (status 200 or 202), or 404. */
static void
runs_reply_run(http_req_t *r, const PGresult *res, const char *id, int status)
{
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "run not found", "there is no run with id %s", id);
        return;
    }
    http_reply_db_json(r, status, PQgetvalue(res, 0, 0));
}

static void
runs_get_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res != NULL)
        runs_reply_run(r, res, r->params[0], 200);
}

void
runs_get(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "get run", STMT_RUN_GET, 1, params, runs_get_done, NULL);
}

/* What a list travels with to its reply. */
typedef struct {
    long long limit;
    bool one_repo; /* a repo's list: no row means no such repo */
} runs_list_t;

static void
runs_list_done(http_req_t *r, const PGresult *res, void *arg)
{
    runs_list_t ctx = *(runs_list_t *)arg;
    long long limit = ctx.limit;
    cJSON *reply;
    int n;

    free(arg);
    if (res == NULL)
        return;
    if (ctx.one_repo && PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        return;
    }
    /* A repo without runs (on this page) gives one row of NULLs. */
    n = PQntuples(res) == 0 || PQgetisnull(res, 0, 0) ? 0 : PQntuples(res);
    reply = http_rows_object(res, 0, n < limit ? n : (int)limit, "runs");
    if (reply == NULL) {
        http_reply_error(r, 500, "internal error", "a stored run could not be read");
        return;
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
}

/*
 * A page of runs of the repo named repo (NULL: every repo) with stmt (its $1
 * the repo), after checking ?status=, ?template=, ?limit= and ?before=.
 */
static void
runs_list_page(http_req_t *r, const char *repo, dbconn_stmt_t stmt, bool one_repo)
{
    const char *status = request_query_get(&r->query, "status");
    const char *limit_s = request_query_get(&r->query, "limit");
    const char *before = request_query_get(&r->query, "before");
    const char *template = request_query_get(&r->query, "template");
    char cursor_id[37], micros_s[24], limit_fetch[24];
    long long limit = RUNS_LIMIT_DEFAULT, micros = 0;
    runs_list_t *ctx;

    if (limit_s != NULL && request_parse_int(limit_s, 1, RUNS_LIMIT_MAX, &limit) < 0) {
        http_reply_error(r, 400, "invalid limit", "limit is an integer from 1 to %d",
                         RUNS_LIMIT_MAX);
        return;
    }
    if (status != NULL && status_parse(ST_KIND_RUN, status) < 0) {
        http_reply_error(r, 400, "invalid status",
                         "status is one of queued, running, success, failed, canceled");
        return;
    }
    if (template != NULL && !gw_name_valid(template)) {
        http_reply_error(r, 400, "invalid template name",
                         "a template name is 1 to 100 characters of [A-Za-z0-9._-], starting with "
                         "a letter or digit");
        return;
    }
    if (before != NULL && request_cursor_decode(before, &micros, cursor_id) < 0) {
        http_reply_error(r, 400, "invalid cursor",
                         "before takes the \"next\" value of a previous page as is");
        return;
    }
    snprintf(micros_s, sizeof(micros_s), "%lld", micros);
    /* One more than asked for tells whether there is a next page. */
    snprintf(limit_fetch, sizeof(limit_fetch), "%lld", limit + 1);
    const char *params[] = {
        repo, status, before ? micros_s : NULL, before ? cursor_id : NULL, limit_fetch, template};
    ctx = xmalloc(sizeof(*ctx));
    ctx->limit = limit;
    ctx->one_repo = one_repo;
    http_db_async(r, "list runs", stmt, 6, params, runs_list_done, ctx);
}

void
runs_list(http_req_t *r)
{
    runs_list_page(r, r->params[0], STMT_RUNS_PAGE, true);
}

void
runs_list_all(http_req_t *r)
{
    const char *repo = request_query_get(&r->query, "repo");

    if (repo != NULL && !gw_name_valid(repo)) {
        http_reply_error(r, 400, "invalid repo name",
                         "a repo name is 1 to 100 characters of [A-Za-z0-9._-], starting with a "
                         "letter or digit");
        return;
    }
    runs_list_page(r, repo, STMT_RUNS_ALL_PAGE, false);
}

/* How many times a cancel looks again at a run that moved on meanwhile. */
#define RUNS_CANCEL_ATTEMPTS 3

static void runs_cancel_try(http_req_t *r, int attempt);

static void
runs_cancel_read(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res != NULL)
        runs_reply_run(r, res, r->params[0], 202);
}

static void
runs_cancel_done(http_req_t *r, const PGresult *res, void *ctx)
{
    int attempt = (int)(intptr_t)ctx;
    const char *id = r->params[0];
    const char *params[] = {id};
    int st;

    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "run not found", "there is no run with id %s", id);
        return;
    }
    st = status_parse(ST_KIND_RUN, PQgetvalue(res, 0, 0));
    if (st < 0 || !status_can_transition(ST_KIND_RUN, (gw_status_t)st, ST_CANCELED)) {
        http_reply_error(r, 409, "run already finished",
                         "run %s is %s and can no longer be canceled", id,
                         status_name((gw_status_t)st));
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "0") != 0) {
        log_info("runs", "canceled queued run run=%s", id);
    } else if (strcmp(PQgetvalue(res, 0, 2), "0") != 0) {
        log_info("runs", "asked to cancel running run run=%s", id);
    } else {
        /* It moved on while we looked (queued -> running -> final). */
        if (attempt + 1 < RUNS_CANCEL_ATTEMPTS) {
            runs_cancel_try(r, attempt + 1);
            return;
        }
        http_reply_error(r, 409, "run is changing", "run %s changed status repeatedly; try again",
                         id);
        return;
    }
    http_db_async(r, "get run", STMT_RUN_GET, 1, params, runs_cancel_read, NULL);
}

static void
runs_cancel_try(http_req_t *r, int attempt)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "cancel run", STMT_RUN_CANCEL, 1, params, runs_cancel_done,
                  (void *)(intptr_t)attempt);
}

/*
 * A queued run is canceled at once with its jobs; a running one is asked
 * to stop. Each is conditional on the status seen, in one statement with
 * its events; then the reply reads the run.
 */
void
runs_cancel(http_req_t *r)
{
    runs_cancel_try(r, 0);
}

static void
runs_rerun_done(http_req_t *r, const PGresult *res, void *ctx)
{
    const char *id = r->params[0];
    char location[64];

    /* The new run's id travels in ctx, for Location. */
    snprintf(location, sizeof(location), "/api/v1/pipelines/runs/%s", (const char *)ctx);
    free(ctx);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "run not found", "there is no run with id %s", id);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
        http_reply_error(r, 409, "repo or template deleted",
                         "the repo or the template of run %s was deleted; its history stays "
                         "readable, but it cannot run again",
                         id);
        return;
    }
    if (PQgetisnull(res, 0, 1)) {
        http_reply_error(r, 409, "run not finished",
                         "run %s is %s; only a finished run can be rerun", id,
                         PQgetvalue(res, 0, 0));
        return;
    }
    http_set_header(r, "Location", location);
    log_info("runs", "rerun of run=%s queued", id);
    http_reply_db_json(r, 201, PQgetvalue(res, 0, 1));
}

/*
 * A new queued run with exactly the frozen spec and jobs of a finished one
 * (not the template as it is now), in one statement with its NOTIFY.
 */
void
runs_rerun(http_req_t *r)
{
    char *new_id = xmalloc(37);

    gw_uuid_new(new_id);
    const char *params[] = {r->params[0], new_id};
    http_db_async(r, "rerun run", STMT_RUN_RERUN, 2, params, runs_rerun_done, new_id);
}
