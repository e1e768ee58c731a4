/*
 * repos - the repositories that runs belong to: create or update, read,
 * list, delete (its runs keep their history: db/migrations/0006_deletes.sql).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"
#include "repo_body.h"

void
repos_list(http_req_t *r)
{
    http_db_reply_rows(r, "list repos", STMT_REPOS_LIST, 0, NULL, "repos");
}

void
repos_get_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        return;
    }
    http_reply_db_json(r, 200, PQgetvalue(res, 0, 0));
}

void
repos_get(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "get repo", STMT_REPO_GET, 1, params, repos_get_done, NULL);
}

void
repos_put(http_req_t *r)
{
    char err[REQUEST_ERR_LEN], id[37];
    repo_body_t in;
    cJSON *body = NULL;

    if (http_read_json(r, &body) < 0)
        return;
    if (request_json_find_nul(r->body, r->body_len, err, sizeof(err))) {
        http_reply_error(r, 422, "invalid repo", "%s: " REQUEST_NUL_MESSAGE, err);
        goto fail;
    }
    if (repo_body_parse(body, &in, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid repo", "%s", err);
        goto fail;
    }
    /* git would read such a URL as an option. */
    if (in.has_clone_url && in.clone_url != NULL && in.clone_url[0] == '-') {
        http_reply_error(r, 422, "invalid repo", "clone_url must not start with \"-\"");
        goto fail;
    }
    gw_uuid_new(id);
    const char *params[] = {id, r->params[0], in.has_clone_url ? "t" : "f", in.clone_url,
                            in.default_branch};
    http_db_async(r, "put repo", STMT_REPO_PUT, 5, params, http_db_upserted, NULL);
fail:
    cJSON_Delete(body);
}

void
repos_delete(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "delete repo", STMT_REPO_DELETE, 1, params, http_db_deleted, (void *)"repo");
}
