/*
 * repos - the repositories that runs belong to: create or update, read, list.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"

int
repos_find(http_req_t *r, const char *name, char id[37], char **default_branch)
{
    const char *params[] = {name};
    PGresult *res = http_db(r, "find repo", SQL_REPO_ID, 1, params);
    int rc = -1;

    if (res == NULL) {
        http_reply_db_failure(r);
        goto fail;
    }
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", name);
        goto fail;
    }
    snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
    if (default_branch != NULL)
        *default_branch = xstrdup(PQgetvalue(res, 0, 1));
    rc = 0;
fail:
    PQclear(res);
    return rc;
}

void
repos_list(http_req_t *r)
{
    PGresult *res = http_db(r, "list repos", SQL_REPOS_LIST, 0, NULL);

    if (res == NULL) {
        http_reply_db_failure(r);
        return;
    }
    http_reply_rows(r, res, "repos");
}

void
repos_get(http_req_t *r)
{
    const char *params[] = {r->params[0]};
    PGresult *res = http_db(r, "get repo", SQL_REPO_GET, 1, params);
    cJSON *o;

    if (res == NULL) {
        http_reply_db_failure(r);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        return;
    }
    o = http_json_from_db(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (o == NULL) {
        http_reply_error(r, 500, "internal error", "a stored value could not be read");
        return;
    }
    http_reply_json(r, 200, o);
}

void
repos_put(http_req_t *r)
{
    char err[REQUEST_ERR_LEN], id[37];
    request_repo_t in;
    cJSON *body = NULL, *o;
    PGresult *res = NULL;
    bool created;

    if (http_read_json(r, &body) < 0)
        return;
    if (request_json_find_nul(r->body, r->body_len, err, sizeof(err))) {
        http_reply_error(r, 422, "invalid repo", "%s: " REQUEST_NUL_MESSAGE, err);
        goto fail;
    }
    if (request_repo_parse(body, &in, err, sizeof(err)) < 0) {
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
    res = http_db(r, "put repo", SQL_REPO_PUT, 5, params);
    if (res == NULL) {
        http_reply_db_failure(r);
        goto fail;
    }
    created = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    o = http_json_from_db(PQgetvalue(res, 0, 1));
    if (o == NULL) {
        http_reply_error(r, 500, "internal error", "a stored value could not be read");
        goto fail;
    }
    http_reply_json(r, created ? 201 : 200, o);
fail:
    PQclear(res);
    cJSON_Delete(body);
}
