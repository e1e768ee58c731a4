/*
 * templates - pipeline templates: store (JSON or YAML), read, list, delete
 * (runs keep their history: db/migrations/0006_deletes.sql).
 *
 * A template is validated and normalised by spec_validate before it is
 * stored; the text as sent is kept too (source), so that a YAML template
 * can be read back as the user wrote it, comments included.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"
#include "spec.h"
#include "utf8.h"

#define TEMPLATES_YAML_TYPE "application/yaml"
#define TEMPLATES_JSON_TYPE "application/json"

void
templates_list(http_req_t *r)
{
    http_db_reply_rows(r, "list templates", STMT_TEMPLATES_LIST, 0, NULL, "templates");
}

static void
templates_get_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL)
        return;
    http_set_header(r, "Vary", "Accept");
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "template not found", "there is no template named \"%s\"",
                         r->params[0]);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 2), TEMPLATES_YAML_TYPE) == 0 &&
        request_accept_prefers_yaml(http_header(r, "Accept"))) {
        http_reply_raw(r, 200, TEMPLATES_YAML_TYPE, PQgetvalue(res, 0, 1),
                       (size_t)PQgetlength(res, 0, 1));
        return;
    }
    http_reply_db_json(r, 200, PQgetvalue(res, 0, 0));
}

void
templates_get(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "get template", STMT_TEMPLATE_GET, 1, params, templates_get_done, NULL);
}

/* Whether len bytes of s are UTF-8 text, NUL bytes apart. */
static bool
templates_utf8_valid(const char *s, size_t len)
{
    for (;;) {
        const char *nul = memchr(s, '\0', len);
        size_t n = nul ? (size_t)(nul - s) : len;

        if (!utf8_valid(s, n))
            return false;
        if (nul == NULL)
            return true;
        s = nul + 1;
        len -= n + 1;
    }
}

/* Reply 422 for a template that spec_validate refused. */
static void
templates_reply_invalid(http_req_t *r, const spec_error_t *err)
{
    char *detail =
        err->field[0] ? xasprintf("%s: %s", err->field, err->message) : xstrdup(err->message);
    cJSON *o = http_error_new("invalid template", detail);

    cJSON_AddStringToObject(o, "field", err->field);
    free(detail);
    http_reply_json(r, 422, o);
}

/* Reply 422 for YAML that spec_from_yaml refused; the detail names the
 * field too when it is known. */
static void
templates_reply_bad_yaml(http_req_t *r, const spec_error_t *err)
{
    char *what =
        err->field[0] ? xasprintf("%s: %s", err->field, err->message) : xstrdup(err->message);
    char *detail = err->line > 0 ? xasprintf("line %d, column %d: %s", err->line, err->column, what)
                                 : xstrdup(what);
    cJSON *o = http_error_new("invalid YAML", detail);

    free(what);
    if (err->field[0])
        cJSON_AddStringToObject(o, "field", err->field);
    cJSON_AddNumberToObject(o, "line", err->line);
    cJSON_AddNumberToObject(o, "column", err->column);
    free(detail);
    http_reply_json(r, 422, o);
}

void
templates_put(http_req_t *r)
{
    request_media_t media = request_media_type(http_header(r, "Content-Type"));
    cJSON *doc = NULL, *norm = NULL;
    const cJSON *kind;
    char *doc_text = NULL;
    spec_error_t err;
    char id[37];

    memset(&err, 0, sizeof(err));
    if (media == REQUEST_MEDIA_OTHER) {
        http_reply_error(
            r, 415, "unsupported media type",
            "send the template with Content-Type: application/json or application/yaml");
        goto fail;
    }
    if (r->body_len == 0) {
        http_reply_error(r, 400, "missing body", "the body is the template document");
        goto fail;
    }
    if (r->body_len > SPEC_MAX_DOCUMENT) {
        http_reply_error(r, 413, "template too large",
                         "a template document may have at most %d bytes (this one has %zu)",
                         SPEC_MAX_DOCUMENT, r->body_len);
        goto fail;
    }
    if (media == REQUEST_MEDIA_YAML) {
        /* NUL bytes are left to spec_from_yaml, which names their field. */
        if (!templates_utf8_valid(r->body, r->body_len)) {
            http_reply_error(r, 400, "invalid body", "the body is not valid UTF-8 text");
            goto fail;
        }
        doc = spec_from_yaml(r->body, r->body_len, &err);
        if (doc == NULL) {
            templates_reply_bad_yaml(r, &err);
            goto fail;
        }
    } else {
        if (http_read_json(r, &doc) < 0)
            goto fail;
        if (request_json_find_nul(r->body, r->body_len, err.field, sizeof(err.field))) {
            snprintf(err.message, sizeof(err.message), "%s", REQUEST_NUL_MESSAGE);
            templates_reply_invalid(r, &err);
            goto fail;
        }
    }
    norm = spec_validate(doc, &err);
    if (norm == NULL) {
        templates_reply_invalid(r, &err);
        goto fail;
    }
    kind = cJSON_GetObjectItemCaseSensitive(norm, "kind");
    doc_text = cJSON_PrintUnformatted(norm);
    if (!cJSON_IsString(kind) || doc_text == NULL) {
        http_reply_error(r, 500, "internal error", "the template could not be encoded");
        goto fail;
    }
    gw_uuid_new(id);
    const char *params[] = {
        id,
        r->params[0],
        kind->valuestring,
        doc_text,
        r->body,
        media == REQUEST_MEDIA_YAML ? TEMPLATES_YAML_TYPE : TEMPLATES_JSON_TYPE};
    http_db_async(r, "put template", STMT_TEMPLATE_PUT, 6, params, http_db_upserted, NULL);
fail:
    cJSON_free(doc_text);
    cJSON_Delete(norm);
    cJSON_Delete(doc);
}

void
templates_delete(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "delete template", STMT_TEMPLATE_DELETE, 1, params, http_db_deleted,
                  (void *)"template");
}
