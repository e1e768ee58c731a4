/*
 * secrets - values jobs get in their environment, set per repo or for
 * every repo: PUT (sealed here to the runners' public key, so that this
 * process can never read one back), GET (names and times, never values),
 * DELETE. See docs/secrets.md.
 *
 * The public key file is read for each PUT, so a new key takes effect
 * without a restart; main.c reads it once at start to refuse a bad one.
 */
#include "secrets.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "queries.h"
#include "secret_box.h"
#include "secret_mask.h"

/* The largest value, in bytes. */
#define SECRETS_MAX_VALUE 65536

/* Reply 422 unless name is a secret name. */
static bool
secrets_name_ok(http_req_t *r, const char *name)
{
    if (spec_secret_name_valid(name, strlen(name)))
        return true;
    http_reply_error(r, 422, "invalid secret name",
                     "a secret name is 1 to %d characters of A-Z, 0-9 and '_', not starting with "
                     "a digit",
                     SPEC_SECRET_NAME_MAX);
    return false;
}

/* The value of a PUT body {"value": "..."} (borrowed from body), or NULL
 * after replying. */
static const char *
secrets_value(http_req_t *r, const cJSON *body)
{
    char field[160];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "value");
    const cJSON *it;
    size_t len;

    if (!cJSON_IsObject(body) || !cJSON_IsString(v)) {
        http_reply_error(r, 400, "invalid secret", "the body is {\"value\": \"...\"}");
        return NULL;
    }
    cJSON_ArrayForEach(it, body)
    {
        if (strcmp(it->string, "value") != 0) {
            http_reply_error(r, 400, "invalid secret", "%s: is not a known key", it->string);
            return NULL;
        }
    }
    if (request_json_find_nul(r->body, r->body_len, field, sizeof(field))) {
        http_reply_error(r, 422, "invalid secret", "value: " REQUEST_NUL_MESSAGE);
        return NULL;
    }
    len = strlen(v->valuestring);
    if (len < SECRET_MASK_MIN_LEN) {
        http_reply_error(r, 422, "secret value too short",
                         "a value has at least %d bytes: a shorter one could not be masked in "
                         "logs reliably",
                         SECRET_MASK_MIN_LEN);
        return NULL;
    }
    if (len > SECRETS_MAX_VALUE) {
        http_reply_error(r, 422, "secret value too long", "a value has at most %d bytes",
                         SECRETS_MAX_VALUE);
        return NULL;
    }
    return v->valuestring;
}

/* Reply 404 when the repo of r is missing; returns whether it is. */
static bool
secrets_no_repo(http_req_t *r, bool missing)
{
    if (missing)
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
    return missing;
}

static void
secrets_put_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL || secrets_no_repo(r, PQntuples(res) == 0))
        return;
    log_info("http", "secret set repo=%s name=%s", ctx ? r->params[0] : "-",
             r->params[ctx ? 1 : 0]);
    http_reply_empty(r, 204);
}

/* PUT of the secret named r->params[repo ? 1 : 0]. */
static void
secrets_put(http_req_t *r, bool repo)
{
    const char *name = r->params[repo ? 1 : 0];
    const char *path = r->cfg->secrets_public_key_file;
    char err[256], key_id[SECRET_BOX_KEY_ID_LEN + 1];
    unsigned char pk[32];
    cJSON *body = NULL;
    const char *value;
    char *sealed;

    if (!secrets_name_ok(r, name) || http_read_json(r, &body) < 0)
        goto done;
    value = secrets_value(r, body);
    if (value == NULL)
        goto done;
    if (path == NULL || path[0] == '\0') {
        http_reply_error(r, 503, "secrets not configured",
                         "the API has no key to seal secrets with "
                         "(GITWEAVE_SECRETS_PUBLIC_KEY_FILE, see docs/secrets.md)");
        goto done;
    }
    if (secret_box_load_public(path, pk, key_id, err, sizeof(err)) < 0) {
        log_error("http", "could not read the secrets public key: %s", err);
        http_reply_error(r, 500, "internal error", "the key to seal secrets with is unreadable");
        goto done;
    }
    sealed = secret_box_seal(pk, value, strlen(value));
    /* The value is not needed any more. */
    memset(cJSON_GetObjectItemCaseSensitive(body, "value")->valuestring, 0, strlen(value));
    memset(r->body, 0, r->body_len);
    if (sealed == NULL) {
        http_reply_error(r, 500, "internal error", "the value could not be sealed");
        goto done;
    }
    if (repo) {
        const char *params[] = {r->params[0], name, sealed, key_id};
        http_db_async(r, "put secret", STMT_SECRET_PUT_REPO, 4, params, secrets_put_done,
                      (void *)"repo");
    } else {
        const char *params[] = {name, sealed, key_id};
        http_db_async(r, "put secret", STMT_SECRET_PUT_GLOBAL, 3, params, secrets_put_done, NULL);
    }
    free(sealed);
done:
    cJSON_Delete(body);
}

void
secrets_put_repo(http_req_t *r)
{
    secrets_put(r, true);
}

void
secrets_put_global(http_req_t *r)
{
    secrets_put(r, false);
}

static void
secrets_list_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (res == NULL || secrets_no_repo(r, PQntuples(res) == 0))
        return;
    if (PQgetisnull(res, 0, 0)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddArrayToObject(o, "secrets");
        http_reply_json(r, 200, o);
        return;
    }
    http_reply_rows(r, res, "secrets");
}

void
secrets_list_repo(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "list secrets", STMT_SECRETS_LIST_REPO, 1, params, secrets_list_done, NULL);
}

void
secrets_list_global(http_req_t *r)
{
    http_db_reply_rows(r, "list secrets", STMT_SECRETS_LIST_GLOBAL, 0, NULL, "secrets");
}

static void
secrets_delete_done(http_req_t *r, const PGresult *res, void *ctx)
{
    const char *name = r->params[ctx ? 1 : 0];

    if (res == NULL || secrets_no_repo(r, strcmp(PQgetvalue(res, 0, 0), "0") == 0))
        return;
    if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        http_reply_error(r, 404, "secret not found", "there is no secret named \"%s\"%s%s%s", name,
                         ctx ? " in repo \"" : "", ctx ? r->params[0] : "", ctx ? "\"" : "");
        return;
    }
    log_info("http", "secret deleted repo=%s name=%s", ctx ? r->params[0] : "-", name);
    http_reply_empty(r, 204);
}

void
secrets_delete_repo(http_req_t *r)
{
    const char *params[] = {r->params[0], r->params[1]};

    if (!secrets_name_ok(r, r->params[1]))
        return;
    http_db_async(r, "delete secret", STMT_SECRET_DELETE_REPO, 2, params, secrets_delete_done,
                  (void *)"repo");
}

void
secrets_delete_global(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    if (!secrets_name_ok(r, r->params[0]))
        return;
    http_db_async(r, "delete secret", STMT_SECRET_DELETE_GLOBAL, 1, params, secrets_delete_done,
                  NULL);
}

int
secrets_check_set(const cJSON *jobs, const cJSON *available, const char *repo, spec_error_t *err)
{
    const cJSON *job;
    int i = 0;

    cJSON_ArrayForEach(job, jobs)
    {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(job, "secrets"))
        {
            const cJSON *n;
            bool set = false;
            cJSON_ArrayForEach(n, available)
            {
                set = set || (cJSON_IsString(n) && strcmp(n->valuestring, e->valuestring) == 0);
            }
            if (!set) {
                snprintf(err->field, sizeof(err->field), "jobs[%d].env.%s", i, e->string);
                snprintf(err->message, sizeof(err->message),
                         "names secret \"%s\", which is not set for repo \"%s\" nor for every "
                         "repo",
                         e->valuestring, repo);
                return -1;
            }
        }
        i++;
    }
    return 0;
}
