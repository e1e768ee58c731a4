/*
 * attach - which templates a repo runs, with the repo's input values.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"
#include "spec.h"

/*
 * Check a repo's input values against a template: every name declared,
 * every value of the input's type. Required inputs may still be missing (a
 * trigger can give them), so they are checked against a copy of the
 * template in which nothing is required. Returns 0, or -1 with err filled.
 */
static int
attach_check_inputs(const cJSON *doc, const cJSON *inputs, spec_error_t *err)
{
    cJSON *relaxed = cJSON_Duplicate(doc, true);
    cJSON *declared = cJSON_GetObjectItemCaseSensitive(relaxed, "inputs");
    cJSON *it, *resolved;

    cJSON_ArrayForEach(it, declared)
    {
        if (cJSON_IsObject(it))
            cJSON_ReplaceItemInObjectCaseSensitive(it, "required", cJSON_CreateFalse());
    }
    /* Given as trigger values: those are the ones checked for names. */
    resolved = spec_resolve_inputs(relaxed, inputs, NULL, err);
    cJSON_Delete(relaxed);
    if (resolved == NULL)
        return -1;
    cJSON_Delete(resolved);
    return 0;
}

void
attach_put(http_req_t *r)
{
    char err[REQUEST_ERR_LEN], repo_id[37], tmpl_id[37];
    cJSON *body = NULL, *doc = NULL, *stored = NULL, *o;
    const cJSON *inputs;
    char *inputs_text = NULL;
    PGresult *res = NULL;
    spec_error_t serr;
    int version;

    if (http_read_json(r, &body) < 0)
        return;
    if (request_json_find_nul(r->body, r->body_len, err, sizeof(err))) {
        http_reply_error(r, 422, "invalid attachment", "%s: " REQUEST_NUL_MESSAGE, err);
        goto fail;
    }
    if (request_attach_parse(body, &inputs, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid attachment", "%s", err);
        goto fail;
    }
    if (repos_find(r, r->params[0], repo_id, NULL) < 0 ||
        templates_find(r, r->params[1], tmpl_id, &version, &doc) < 0)
        goto fail;
    memset(&serr, 0, sizeof(serr));
    if (inputs != NULL && attach_check_inputs(doc, inputs, &serr) < 0) {
        char *detail = xasprintf("%s: %s", serr.field, serr.message);
        o = http_error_new("invalid inputs", detail);
        cJSON_AddStringToObject(o, "field", serr.field);
        free(detail);
        http_reply_json(r, 422, o);
        goto fail;
    }
    stored = inputs ? cJSON_Duplicate(inputs, true) : cJSON_CreateObject();
    inputs_text = cJSON_PrintUnformatted(stored);
    const char *params[] = {repo_id, tmpl_id, inputs_text};
    res = http_db(r, "attach template", SQL_ATTACH_PUT, 3, params);
    if (res == NULL) {
        http_reply_db_failure(r);
        goto fail;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "repo", r->params[0]);
    cJSON_AddStringToObject(o, "template", r->params[1]);
    cJSON_AddItemToObject(o, "inputs", stored);
    stored = NULL;
    http_reply_json(r, strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 201 : 200, o);
fail:
    PQclear(res);
    cJSON_free(inputs_text);
    cJSON_Delete(stored);
    cJSON_Delete(doc);
    cJSON_Delete(body);
}

void
attach_list(http_req_t *r)
{
    char repo_id[37];
    PGresult *res;

    if (repos_find(r, r->params[0], repo_id, NULL) < 0)
        return;
    const char *params[] = {repo_id};
    res = http_db(r, "list attachments", SQL_ATTACH_LIST, 1, params);
    if (res == NULL) {
        http_reply_db_failure(r);
        return;
    }
    http_reply_rows(r, res, "templates");
}

void
attach_delete(http_req_t *r)
{
    char repo_id[37];
    int rows;

    if (repos_find(r, r->params[0], repo_id, NULL) < 0)
        return;
    const char *params[] = {repo_id, r->params[1]};
    rows = http_db_command(r, "detach template", SQL_ATTACH_DELETE, 2, params);
    if (rows < 0) {
        http_reply_db_failure(r);
        return;
    }
    if (rows == 0) {
        http_reply_error(r, 404, "not attached", "template \"%s\" is not attached to repo \"%s\"",
                         r->params[1], r->params[0]);
        return;
    }
    http_reply_empty(r, 204);
}
