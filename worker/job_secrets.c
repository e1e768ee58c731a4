/*
 * job_secrets - the secrets a job receives (see job_secrets.h).
 */
#include "job_secrets.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "secret_box.h"
#include "spec.h"

/*
 * $1 run, $2 runner, $3 attempt (the fence), $4 job, $5 the names (a text
 * array) -> name, key id, sealed value (base64, without line breaks), NULL
 * when not set; no row when the fence refused. The job's row records the
 * names of the values found, in the same statement.
 */
#define SQL_JOB_SECRETS                                                                            \
    "WITH f AS (SELECT repo_id FROM pipeline_runs WHERE id = $1 AND runner_id = $2"                \
    "   AND attempt = $3::int AND status = 'running' FOR SHARE),"                                  \
    " v AS (SELECT w.name, s.key_id, replace(encode(s.ciphertext, 'base64'), E'\\n', '') AS "      \
    "sealed"                                                                                       \
    "   FROM (SELECT DISTINCT unnest($5::text[]) AS name) w CROSS JOIN f"                          \
    "   LEFT JOIN LATERAL (SELECT key_id, ciphertext FROM secrets s"                               \
    "    WHERE s.name = w.name AND (s.repo_id = f.repo_id OR s.repo_id IS NULL)"                   \
    "    ORDER BY s.repo_id IS NULL LIMIT 1) s ON true),"                                          \
    " u AS (UPDATE jobs SET secrets = ARRAY(SELECT name FROM v WHERE sealed IS NOT NULL"           \
    "   ORDER BY name) WHERE id = $4 AND run_id = $1 AND EXISTS (SELECT 1 FROM f) RETURNING 1)"    \
    " SELECT v.name, v.key_id, v.sealed FROM v, u ORDER BY v.name"

typedef struct {
    char *name;
    char *value;
    size_t len;
} js_value_t;

struct job_secrets {
    js_value_t *v;
    size_t n;
};

bool
job_secrets_valid(const cJSON *secrets, const cJSON *env)
{
    const cJSON *e;

    if (!cJSON_IsObject(secrets))
        return false;
    cJSON_ArrayForEach(e, secrets)
    {
        if (!cJSON_IsString(e) || !spec_secret_name_valid(e->valuestring, strlen(e->valuestring)) ||
            cJSON_GetObjectItemCaseSensitive(env, e->string) == NULL)
            return false;
    }
    return true;
}

bool
job_secrets_wanted(const q_job_t *j)
{
    return cJSON_GetArraySize(j->secrets) > 0;
}

int
job_secrets_fetch(pg_conn_t *c, const q_fence_t *f, const q_job_t *j, pg_result_fn fn, void *arg)
{
    buf_t names;
    const cJSON *e;
    int rc;

    /* Postgres array text; names are [A-Z0-9_], nothing to quote. */
    buf_init(&names);
    buf_puts(&names, "{");
    cJSON_ArrayForEach(e, j->secrets)
    {
        buf_printf(&names, "%s%s", names.len > 1 ? "," : "", e->valuestring);
    }
    buf_puts(&names, "}");
    const char *p[] = {f->run_id, f->runner_id, f->attempt, j->id, names.data};
    rc = pg_conn_query(c, SQL_JOB_SECRETS, 5, p, fn, arg);
    buf_free(&names);
    return rc;
}

job_secrets_t *
job_secrets_open(const PGresult *res, const q_job_t *j, const char *key_file, char **error)
{
    job_secrets_t *s = xcalloc(1, sizeof(*s));
    secret_keys_t *keys = NULL;
    char err[256];
    int rows = PQntuples(res);

    *error = NULL;
    if (rows == 0) {
        *error = xstrdup("the run is no longer this runner's");
        goto fail;
    }
    s->v = xcalloc((size_t)rows, sizeof(*s->v));
    for (int i = 0; i < rows; i++) {
        const char *name = PQgetvalue(res, i, 0);
        if (PQgetisnull(res, i, 2)) {
            *error = xasprintf("secret %s is not set (it was deleted after the run was "
                               "triggered)",
                               name);
            goto fail;
        }
        if (keys == NULL) {
            if (key_file == NULL || key_file[0] == '\0') {
                *error = xstrdup("this runner has no key to open secrets with "
                                 "(RUNNER_SECRETS_KEY_FILE)");
                goto fail;
            }
            keys = secret_box_load_keys(key_file, err, sizeof(err));
            if (keys == NULL) {
                *error = xasprintf("this runner cannot read its secrets key: %s", err);
                goto fail;
            }
        }
        js_value_t *v = &s->v[s->n];
        v->value = secret_box_open(keys, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), &v->len, err,
                                   sizeof(err));
        if (v->value == NULL) {
            *error = xasprintf("secret %s cannot be opened: %s", name, err);
            goto fail;
        }
        v->name = xstrdup(name);
        s->n++;
    }
    (void)j;
    secret_box_keys_free(keys);
    return s;
fail:
    secret_box_keys_free(keys);
    job_secrets_free(s);
    return NULL;
}

void
job_secrets_free(job_secrets_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        secret_box_wipe_free(s->v[i].value, s->v[i].len);
    }
    free(s->v);
    free(s);
}

static const js_value_t *
js_find(const job_secrets_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

void
job_secrets_apply(const job_secrets_t *s, const q_job_t *j, char **env)
{
    for (char **e = env; s != NULL && e && *e; e++) {
        size_t klen = strcspn(*e, "=");
        const cJSON *it;
        cJSON_ArrayForEach(it, j->secrets)
        {
            const js_value_t *v = js_find(s, it->valuestring);
            if (v == NULL || strlen(it->string) != klen || strncmp(*e, it->string, klen) != 0)
                continue;
            buf_t b;
            buf_init(&b);
            buf_append(&b, *e, klen);
            buf_append(&b, "=", 1);
            buf_append(&b, v->value, v->len);
            secret_box_wipe_free(*e, strlen(*e));
            *e = buf_steal(&b);
            break;
        }
    }
}

void
job_secrets_wipe_env(char **env)
{
    for (char **e = env; e && *e; e++) {
        volatile char *p = *e;
        while (*p)
            *p++ = '\0';
    }
}

size_t
job_secrets_count(const job_secrets_t *s)
{
    return s ? s->n : 0;
}

const char *
job_secrets_value(const job_secrets_t *s, size_t i, size_t *len)
{
    *len = s->v[i].len;
    return s->v[i].value;
}
