/*
 * attach - which templates a repo runs, with the repo's input values.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"
#include "repo_body.h"
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

/* What attach_put knows between its two statements. */
typedef struct {
    cJSON *body;
    const cJSON *inputs; /* borrowed from body, or NULL */
    cJSON *stored;       /* the inputs as stored, for the reply */
} attach_put_t;

static void
attach_put_free(attach_put_t *a)
{
    cJSON_Delete(a->stored);
    cJSON_Delete(a->body);
    free(a);
}

static void
attach_put_done(http_req_t *r, const PGresult *res, void *ctx)
{
    attach_put_t *a = ctx;
    cJSON *o;

    if (res != NULL) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "repo", r->params[0]);
        cJSON_AddStringToObject(o, "template", r->params[1]);
        cJSON_AddItemToObject(o, "inputs", a->stored);
        a->stored = NULL;
        http_reply_json(r, strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 201 : 200, o);
    }
    attach_put_free(a);
}

/* The repo and the template are known: check the inputs, then store. */
static void
attach_put_found(http_req_t *r, const PGresult *res, void *ctx)
{
    attach_put_t *a = ctx;
    cJSON *doc = NULL, *o;
    char *inputs_text = NULL;
    spec_error_t serr;

    if (res == NULL)
        goto fail;
    if (PQgetisnull(res, 0, 0)) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        goto fail;
    }
    if (PQgetisnull(res, 0, 1)) {
        http_reply_error(r, 404, "template not found", "there is no template named \"%s\"",
                         r->params[1]);
        goto fail;
    }
    doc = http_json_from_db(PQgetvalue(res, 0, 2));
    if (doc == NULL) {
        http_reply_error(r, 500, "internal error", "a stored template could not be read");
        goto fail;
    }
    memset(&serr, 0, sizeof(serr));
    if (a->inputs != NULL && attach_check_inputs(doc, a->inputs, &serr) < 0) {
        char *detail = xasprintf("%s: %s", serr.field, serr.message);
        o = http_error_new("invalid inputs", detail);
        cJSON_AddStringToObject(o, "field", serr.field);
        free(detail);
        http_reply_json(r, 422, o);
        goto fail;
    }
    a->stored = a->inputs ? cJSON_Duplicate(a->inputs, true) : cJSON_CreateObject();
    inputs_text = cJSON_PrintUnformatted(a->stored);
    const char *params[] = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), inputs_text};
    http_db_async(r, "attach template", STMT_ATTACH_PUT, 3, params, attach_put_done, a);
    a = NULL;
fail:
    cJSON_free(inputs_text);
    cJSON_Delete(doc);
    if (a != NULL)
        attach_put_free(a);
}

void
attach_put(http_req_t *r)
{
    char err[REQUEST_ERR_LEN];
    attach_put_t *a = xcalloc(1, sizeof(*a));

    if (http_read_json(r, &a->body) < 0)
        goto fail;
    if (request_json_find_nul(r->body, r->body_len, err, sizeof(err))) {
        http_reply_error(r, 422, "invalid attachment", "%s: " REQUEST_NUL_MESSAGE, err);
        goto fail;
    }
    if (repo_body_attach_parse(a->body, &a->inputs, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid attachment", "%s", err);
        goto fail;
    }
    const char *params[] = {r->params[0], r->params[1]};
    http_db_async(r, "find repo and template", STMT_ATTACH_LOOKUP, 2, params, attach_put_found, a);
    return;
fail:
    attach_put_free(a);
}

static void
attach_list_done(http_req_t *r, const PGresult *res, void *ctx)
{
    cJSON *list, *o;

    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        return;
    }
    list = http_json_from_db(PQgetvalue(res, 0, 0));
    if (list == NULL) {
        http_reply_error(r, 500, "internal error", "a stored value could not be read");
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "templates", list);
    http_reply_json(r, 200, o);
}

void
attach_list(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "list attachments", STMT_ATTACH_LIST, 1, params, attach_list_done, NULL);
}

static void
attach_delete_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL)
        return;
    if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        http_reply_error(r, 404, "not attached", "template \"%s\" is not attached to repo \"%s\"",
                         r->params[1], r->params[0]);
        return;
    }
    http_reply_empty(r, 204);
}

void
attach_delete(http_req_t *r)
{
    const char *params[] = {r->params[0], r->params[1]};

    http_db_async(r, "detach template", STMT_ATTACH_DELETE, 2, params, attach_delete_done, NULL);
}
