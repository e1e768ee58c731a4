/*
 * trigger - starting runs: by hand (POST .../pipelines/run) and on a push
 * (POST .../hooks/push, GitHub and Gitea payloads).
 *
 * A run is prepared in C (id, input values, the jobs expanded from the
 * template for this run), then inserted with its jobs in one transaction
 * that also rings the workers' bell (NOTIFY); the expanded jobs are frozen
 * on the run, so later edits of the template never change it.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "queries.h"
#include "spec.h"

/* One template attached to the repo, as read for a trigger. */
typedef struct {
    char id[37];
    char *name;
    char version[16];
    cJSON *doc;         /* the normalised document */
    cJSON *repo_inputs; /* the repo's input values */
} trigger_tmpl_t;

/* A run ready to be inserted. */
typedef struct {
    char id[37];
    const trigger_tmpl_t *tmpl;
    char *inputs_text; /* cJSON_free */
    char *spec_text;   /* cJSON_free */
} trigger_run_t;

/* What all the runs of one trigger share. */
typedef struct {
    const char *repo_id;
    const char *repo_name;
    const char *trigger; /* "manual" or "push" */
    const char *ref;
    const char *commit;       /* or NULL */
    const char *triggered_by; /* or NULL */
} trigger_ctx_t;

static void
trigger_tmpls_free(trigger_tmpl_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        cJSON_Delete(t[i].doc);
        cJSON_Delete(t[i].repo_inputs);
    }
    free(t);
}

static void
trigger_runs_free(trigger_run_t *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON_free(runs[i].inputs_text);
        cJSON_free(runs[i].spec_text);
    }
    free(runs);
}

/*
 * Read the templates attached to a repo (only `name`, if not NULL).
 * Returns 0 with *out (free with trigger_tmpls_free) and *n, or -1 after
 * replying.
 */
static int
trigger_load_attached(http_req_t *r, const char *repo_id, const char *name, trigger_tmpl_t **out,
                      size_t *n)
{
    const char *params[] = {repo_id, name};
    PGresult *res = http_db(r, "read attached templates", SQL_ATTACHED, 2, params);
    trigger_tmpl_t *t = NULL;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    if (res == NULL) {
        http_reply_db_failure(r);
        return -1;
    }
    count = (size_t)PQntuples(res);
    t = xcalloc(count, sizeof(*t));
    for (size_t i = 0; i < count; i++) {
        snprintf(t[i].id, sizeof(t[i].id), "%s", PQgetvalue(res, (int)i, 0));
        t[i].name = xstrdup(PQgetvalue(res, (int)i, 1));
        snprintf(t[i].version, sizeof(t[i].version), "%s", PQgetvalue(res, (int)i, 2));
        t[i].doc = http_json_from_db(PQgetvalue(res, (int)i, 3));
        t[i].repo_inputs = http_json_from_db(PQgetvalue(res, (int)i, 4));
        if (t[i].doc == NULL || t[i].repo_inputs == NULL) {
            PQclear(res);
            trigger_tmpls_free(t, count);
            http_reply_error(r, 500, "internal error", "a stored template could not be read");
            return -1;
        }
    }
    PQclear(res);
    *out = t;
    *n = count;
    return 0;
}

/*
 * Prepare a run of template t: its id, input values and expanded jobs.
 * Returns 0, or -1 with err filled and *stage saying which step refused.
 */
static int
trigger_prepare(const trigger_ctx_t *ctx, const trigger_tmpl_t *t, const cJSON *trigger_inputs,
                trigger_run_t *run, spec_error_t *err, const char **stage)
{
    spec_context_t sctx;
    cJSON *inputs = NULL, *jobs = NULL;
    int rc = -1;

    memset(run, 0, sizeof(*run));
    run->tmpl = t;
    /* The id exists before expansion so that ${{ run.id }} can use it. */
    gw_uuid_new(run->id);
    inputs = spec_resolve_inputs(t->doc, trigger_inputs, t->repo_inputs, err);
    if (inputs == NULL) {
        *stage = "invalid inputs";
        goto fail;
    }
    sctx.repo_name = ctx->repo_name;
    sctx.run_id = run->id;
    sctx.commit_sha = ctx->commit;
    sctx.ref = ctx->ref;
    jobs = spec_expand(t->doc, inputs, &sctx, err);
    if (jobs == NULL) {
        *stage = "cannot expand template";
        goto fail;
    }
    run->inputs_text = cJSON_PrintUnformatted(inputs);
    run->spec_text = cJSON_PrintUnformatted(jobs);
    if (run->inputs_text == NULL || run->spec_text == NULL) {
        snprintf(err->field, sizeof(err->field), "%s", "");
        snprintf(err->message, sizeof(err->message), "%s", "the run could not be encoded");
        *stage = "internal error";
        goto fail;
    }
    rc = 0;
fail:
    cJSON_Delete(inputs);
    cJSON_Delete(jobs);
    return rc;
}

/* Notify one event; returns the result of the statement (-1 on failure). */
static int
trigger_notify_run(http_req_t *r, const char *id, const char *status)
{
    cJSON *ev = cJSON_CreateObject();
    char *payload;
    int rc;

    cJSON_AddStringToObject(ev, "type", "run");
    cJSON_AddStringToObject(ev, "id", id);
    cJSON_AddStringToObject(ev, "status", status);
    payload = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    const char *params[] = {payload};
    rc = http_db_command(r, "notify run", SQL_NOTIFY, 1, params);
    cJSON_free(payload);
    return rc;
}

/*
 * Insert runs and their jobs in one transaction, each with its NOTIFY.
 * Returns 0, or -1 after replying (the transaction rolled back).
 */
static int
trigger_insert(http_req_t *r, const trigger_ctx_t *ctx, const trigger_run_t *runs, size_t n)
{
    if (http_db_command(r, "begin trigger", "BEGIN", 0, NULL) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const trigger_run_t *run = &runs[i];
        const char *run_params[] = {
            run->id,  ctx->repo_id, run->tmpl->id,    run->tmpl->version, ctx->trigger,
            ctx->ref, ctx->commit,  run->inputs_text, run->spec_text,     ctx->triggered_by};
        const char *job_params[] = {run->id, run->spec_text};

        if (http_db_command(r, "insert run", SQL_RUN_INSERT, 10, run_params) < 0 ||
            http_db_command(r, "insert jobs", SQL_JOBS_INSERT, 2, job_params) < 0 ||
            trigger_notify_run(r, run->id, "queued") < 0)
            goto fail;
    }
    if (http_db_command(r, "commit trigger", "COMMIT", 0, NULL) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        log_info("trigger", "queued run run=%s repo=%s template=%s trigger=%s ref=%s", runs[i].id,
                 ctx->repo_name, runs[i].tmpl->name, ctx->trigger, ctx->ref);
    return 0;
fail:
    http_reply_db_failure(r);
    return -1;
}

/* Refuse (422) a JSON body with a string that holds a NUL character,
 * which the parsed body would have cut. Returns 0, or -1 after replying. */
static int
trigger_refuse_nul(http_req_t *r)
{
    char field[160];

    if (!request_json_find_nul(r->body, r->body_len, field, sizeof(field)))
        return 0;
    http_reply_error(r, 422, "invalid request", "%s: " REQUEST_NUL_MESSAGE, field);
    return -1;
}

/* Reply 422 for a run that could not be prepared. */
static void
trigger_reply_refused(http_req_t *r, const char *stage, const spec_error_t *err)
{
    char *detail =
        err->field[0] ? xasprintf("%s: %s", err->field, err->message) : xstrdup(err->message);
    cJSON *o = http_error_new(stage, detail);

    cJSON_AddStringToObject(o, "field", err->field);
    free(detail);
    http_reply_json(r, strcmp(stage, "internal error") == 0 ? 500 : 422, o);
}

/* Reply 422 when no template was named and the choice is not obvious. */
static void
trigger_reply_ambiguous(http_req_t *r, const trigger_tmpl_t *t, size_t n)
{
    buf_t names;

    if (n == 0) {
        http_reply_error(r, 422, "no template attached",
                         "repo \"%s\" has no template attached; attach one with PUT "
                         "/api/v1/repos/%s/templates/{name}",
                         r->params[0], r->params[0]);
        return;
    }
    buf_init(&names);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_puts(&names, ", ");
        buf_puts(&names, t[i].name);
    }
    http_reply_error(r, 422, "template required",
                     "repo \"%s\" has %zu templates attached (%s); name one with \"template\"",
                     r->params[0], n, names.data);
    buf_free(&names);
}

void
trigger_manual(http_req_t *r)
{
    char err[REQUEST_ERR_LEN], repo_id[37], tmpl_id[37];
    char *default_branch = NULL, *ref = NULL, *location = NULL;
    cJSON *body = NULL, *doc = NULL, *run_obj = NULL;
    trigger_tmpl_t *tmpls = NULL;
    trigger_run_t *run = NULL;
    size_t ntmpls = 0;
    request_trigger_t in;
    trigger_ctx_t ctx;
    spec_error_t serr;
    const char *stage = "";
    int version, found;

    memset(&in, 0, sizeof(in));
    if (http_read_json(r, &body) < 0 || trigger_refuse_nul(r) < 0)
        goto fail;
    if (request_trigger_parse(body, &in, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid request", "%s", err);
        goto fail;
    }
    if (repos_find(r, r->params[0], repo_id, &default_branch) < 0)
        goto fail;
    if (in.template != NULL) {
        /* An unknown template is a 404; a known one not attached a 422. */
        if (templates_find(r, in.template, tmpl_id, &version, &doc) < 0)
            goto fail;
        if (trigger_load_attached(r, repo_id, in.template, &tmpls, &ntmpls) < 0)
            goto fail;
        if (ntmpls == 0) {
            http_reply_error(r, 422, "template not attached",
                             "template \"%s\" is not attached to repo \"%s\"", in.template,
                             r->params[0]);
            goto fail;
        }
    } else {
        if (trigger_load_attached(r, repo_id, NULL, &tmpls, &ntmpls) < 0)
            goto fail;
        if (ntmpls != 1) {
            trigger_reply_ambiguous(r, tmpls, ntmpls);
            goto fail;
        }
    }
    if (!spec_matches_event(tmpls[0].doc, "manual", NULL)) {
        http_reply_error(r, 422, "manual runs not allowed",
                         "template \"%s\" does not start on manual triggers (see its \"on\")",
                         tmpls[0].name);
        goto fail;
    }
    ref = in.ref ? xstrdup(in.ref) : xasprintf("refs/heads/%s", default_branch);
    ctx.repo_id = repo_id;
    ctx.repo_name = r->params[0];
    ctx.trigger = "manual";
    ctx.ref = ref;
    ctx.commit = in.commit;
    ctx.triggered_by = in.triggered_by;
    memset(&serr, 0, sizeof(serr));
    run = xcalloc(1, sizeof(*run));
    if (trigger_prepare(&ctx, &tmpls[0], in.inputs, run, &serr, &stage) < 0) {
        trigger_reply_refused(r, stage, &serr);
        goto fail;
    }
    if (trigger_insert(r, &ctx, run, 1) < 0)
        goto fail;
    found = runs_load(r, run->id, &run_obj);
    if (found <= 0) {
        if (found < 0)
            http_reply_db_failure(r);
        else
            http_reply_error(r, 500, "internal error", "the new run could not be read back");
        goto fail;
    }
    location = xasprintf("/api/v1/pipelines/runs/%s", run->id);
    http_set_header(r, "Location", location);
    http_reply_json(r, 201, run_obj);
fail:
    free(location);
    trigger_runs_free(run, run ? 1 : 0);
    trigger_tmpls_free(tmpls, ntmpls);
    request_trigger_free(&in);
    free(ref);
    free(default_branch);
    cJSON_Delete(doc);
    cJSON_Delete(body);
}

/* Whether the request names a webhook event other than a push (a GitHub
 * "ping" when the hook is created, for one): those start nothing. */
static bool
trigger_other_event(const http_req_t *r)
{
    static const char *const headers[] = {"X-GitHub-Event", "X-Gitea-Event", "X-Gogs-Event"};

    for (size_t i = 0; i < GW_ARRAY_LEN(headers); i++) {
        const char *v = http_header(r, headers[i]);
        if (v != NULL && strcmp(v, "push") != 0)
            return true;
    }
    return false;
}

void
trigger_push(http_req_t *r)
{
    char err[REQUEST_ERR_LEN], repo_id[37];
    cJSON *body = NULL, *reply = NULL, *runs_json, *skipped;
    trigger_tmpl_t *tmpls = NULL;
    trigger_run_t *runs = NULL;
    size_t ntmpls = 0, nruns = 0;
    request_push_t push;
    trigger_ctx_t ctx;

    memset(&push, 0, sizeof(push));
    reply = cJSON_CreateObject();
    runs_json = cJSON_AddArrayToObject(reply, "runs");
    skipped = cJSON_AddArrayToObject(reply, "skipped");
    if (trigger_other_event(r)) {
        http_reply_json(r, 200, reply);
        reply = NULL;
        goto fail;
    }
    if (http_read_json(r, &body) < 0 || trigger_refuse_nul(r) < 0)
        goto fail;
    if (body == NULL) {
        http_reply_error(r, 400, "missing body", "the body is a push event (JSON)");
        goto fail;
    }
    if (request_push_parse(body, &push, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid push event", "%s", err);
        goto fail;
    }
    if (repos_find(r, r->params[0], repo_id, NULL) < 0)
        goto fail;
    if (push.kind != REQUEST_PUSH_BRANCH) {
        /* A deleted branch, a tag: nothing to build. */
        http_reply_json(r, 200, reply);
        reply = NULL;
        goto fail;
    }
    if (trigger_load_attached(r, repo_id, NULL, &tmpls, &ntmpls) < 0)
        goto fail;
    ctx.repo_id = repo_id;
    ctx.repo_name = r->params[0];
    ctx.trigger = "push";
    ctx.ref = push.ref;
    ctx.commit = push.after;
    ctx.triggered_by = NULL;
    runs = xcalloc(ntmpls, sizeof(*runs));
    for (size_t i = 0; i < ntmpls; i++) {
        spec_error_t serr;
        const char *stage = "";

        if (!spec_matches_event(tmpls[i].doc, "push", push.branch))
            continue;
        memset(&serr, 0, sizeof(serr));
        if (trigger_prepare(&ctx, &tmpls[i], NULL, &runs[nruns], &serr, &stage) < 0) {
            /* One template lacking an input must not stop the others. */
            cJSON *s = cJSON_CreateObject();
            char *detail = serr.field[0] ? xasprintf("%s: %s", serr.field, serr.message)
                                         : xstrdup(serr.message);
            cJSON_AddStringToObject(s, "template", tmpls[i].name);
            cJSON_AddStringToObject(s, "detail", detail);
            cJSON_AddItemToArray(skipped, s);
            free(detail);
            cJSON_free(runs[nruns].inputs_text);
            cJSON_free(runs[nruns].spec_text);
            memset(&runs[nruns], 0, sizeof(runs[nruns]));
            continue;
        }
        nruns++;
    }
    if (nruns == 0) {
        http_reply_json(r, 200, reply);
        reply = NULL;
        goto fail;
    }
    if (trigger_insert(r, &ctx, runs, nruns) < 0)
        goto fail;
    for (size_t i = 0; i < nruns; i++) {
        cJSON *o = NULL;
        int found = runs_load(r, runs[i].id, &o);
        if (found <= 0) {
            if (found < 0)
                http_reply_db_failure(r);
            else
                http_reply_error(r, 500, "internal error", "a new run could not be read back");
            goto fail;
        }
        cJSON_AddItemToArray(runs_json, o);
    }
    http_reply_json(r, 201, reply);
    reply = NULL;
fail:
    trigger_runs_free(runs, nruns);
    trigger_tmpls_free(tmpls, ntmpls);
    request_push_free(&push);
    cJSON_Delete(reply);
    cJSON_Delete(body);
}
