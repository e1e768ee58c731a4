/*
 * trigger - starting runs: by hand (POST .../pipelines/run), on a push
 * (POST .../hooks/push, GitHub and Gitea payloads), and at a schedule's
 * fire time (trigger_schedule, called by api/scheduler.c).
 *
 * Two statements: one reads the repo and its attached templates; a run is
 * then prepared in C (id, input values, the jobs expanded from the template
 * for this run); one more inserts the runs with their jobs and rings the
 * workers' bell (NOTIFY), all in one statement, so one transaction. The
 * reply is the runs as inserted (RETURNING), queued with queued jobs, not a
 * later read that a worker could have changed. The expanded jobs are frozen
 * on the run, so later edits of the template never change it.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "queries.h"
#include "secrets.h"
#include "spec.h"
#include "trigger.h"
#include "trigger_body.h"

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
    char *group;       /* the concurrency group, or NULL; free */
    bool cancel;       /* it supersedes the group's queued and running runs */
} trigger_run_t;

/* What all the runs of one trigger share. */
typedef struct {
    const char *repo_id;
    const char *repo_name;
    const char *trigger; /* "manual", "push" or "schedule" */
    const char *ref;
    const char *commit;       /* or NULL */
    const char *triggered_by; /* or NULL */
    cJSON *secrets;           /* names of the secrets the repo's jobs may use */
    const char *cron;         /* a schedule's expression, or NULL */
    int64_t fire_at;          /* its fire time (seconds since the epoch) */
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

/* Free what a prepared run holds and zero it. */
static void
trigger_runs_clear(trigger_run_t *run)
{
    cJSON_free(run->inputs_text);
    cJSON_free(run->spec_text);
    free(run->group);
    memset(run, 0, sizeof(*run));
}

static void
trigger_runs_free(trigger_run_t *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        trigger_runs_clear(&runs[i]);
    free(runs);
}

/*
 * The attached templates in the rows of SQL_TRIGGER_READ (columns 3-7; a
 * single row of NULLs when none is attached). Returns 0 with *out (free
 * with trigger_tmpls_free) and *n, or -1 after replying.
 */
/* The template in columns 3-7 of row of res into *t (free its members
 * with trigger_tmpls_free). Returns 0, or -1 when its JSON is unreadable. */
static int
trigger_tmpl_read(const PGresult *res, int row, trigger_tmpl_t *t)
{
    snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, row, 3));
    t->name = xstrdup(PQgetvalue(res, row, 4));
    snprintf(t->version, sizeof(t->version), "%s", PQgetvalue(res, row, 5));
    t->doc = http_json_from_db(PQgetvalue(res, row, 6));
    t->repo_inputs = http_json_from_db(PQgetvalue(res, row, 7));
    return t->doc == NULL || t->repo_inputs == NULL ? -1 : 0;
}

static int
trigger_tmpls_from(http_req_t *r, const PGresult *res, trigger_tmpl_t **out, size_t *n)
{
    size_t count = PQgetisnull(res, 0, 3) ? 0 : (size_t)PQntuples(res);
    trigger_tmpl_t *t = xcalloc(count > 0 ? count : 1, sizeof(*t));

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        if (trigger_tmpl_read(res, (int)i, &t[i]) < 0) {
            trigger_tmpls_free(t, count);
            http_reply_error(r, 500, "internal error", "a stored template could not be read");
            return -1;
        }
    }
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
    /* Deferred even when the trigger names a commit: the checkout gives it
     * in full, and the commit a tag names when a tag's id was given (a run
     * without a checkout gets the commit as given). */
    sctx.commit_sha = NULL;
    sctx.ref = ctx->ref;
    jobs = spec_expand(t->doc, inputs, &sctx, err);
    if (jobs == NULL) {
        *stage = "cannot expand template";
        goto fail;
    }
    if (spec_expand_group(t->doc, inputs, &sctx, &run->group, &run->cancel, err) < 0) {
        *stage = "cannot expand template";
        goto fail;
    }
    if (secrets_check_set(jobs, ctx->secrets, ctx->repo_name, err) < 0) {
        *stage = "secret not set";
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

/*
 * The runs as SQL_TRIGGER_INSERT's $6 (caller frees with cJSON_free), or
 * NULL if they could not be encoded; each with its schedule's fire time
 * when ctx has one.
 */
static char *
trigger_runs_text(const trigger_ctx_t *ctx, const trigger_run_t *runs, size_t n)
{
    cJSON *list = cJSON_CreateArray();
    char *text;

    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", runs[i].id);
        cJSON_AddStringToObject(o, "template_id", runs[i].tmpl->id);
        cJSON_AddStringToObject(o, "template_version", runs[i].tmpl->version);
        cJSON_AddRawToObject(o, "inputs", runs[i].inputs_text);
        cJSON_AddRawToObject(o, "spec", runs[i].spec_text);
        if (ctx->cron != NULL) {
            cJSON *sched = cJSON_AddObjectToObject(o, "schedule");
            cJSON_AddStringToObject(sched, "cron", ctx->cron);
            cJSON_AddNumberToObject(sched, "fire_at", (double)ctx->fire_at);
        }
        if (runs[i].group != NULL)
            cJSON_AddStringToObject(o, "group", runs[i].group);
        cJSON_AddBoolToObject(o, "cancel_in_progress", runs[i].cancel);
        cJSON_AddItemToArray(list, o);
        log_info("trigger", "queueing run run=%s repo=%s template=%s trigger=%s ref=%s group=%s",
                 runs[i].id, ctx->repo_name, runs[i].tmpl->name, ctx->trigger, ctx->ref,
                 runs[i].group ? runs[i].group : "-");
    }
    text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    return text;
}

/* SQL_TRIGGER_INSERT's parameters for ctx and the runs' text ($6). */
#define TRIGGER_INSERT_PARAMS(ctx, text)                                                           \
    {                                                                                              \
        (ctx)->repo_id, (ctx)->trigger, (ctx)->ref, (ctx)->commit, (ctx)->triggered_by, (text)     \
    }

/*
 * Insert the runs with their jobs and events (SQL_TRIGGER_INSERT); fn gets
 * one row per run, the JSON of the run as created in column 0.
 */
static void
trigger_insert(http_req_t *r, const trigger_ctx_t *ctx, const trigger_run_t *runs, size_t n,
               http_db_fn fn, void *fn_ctx)
{
    char *text = trigger_runs_text(ctx, runs, n);

    if (text == NULL) {
        http_reply_error(r, 500, "internal error", "the run could not be encoded");
        fn(r, NULL, fn_ctx);
        return;
    }
    const char *params[] = TRIGGER_INSERT_PARAMS(ctx, text);
    http_db_async(r, "insert runs", STMT_TRIGGER_INSERT, 6, params, fn, fn_ctx);
    cJSON_free(text);
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

/* What a manual trigger knows between its statements. */
typedef struct {
    cJSON *body;
    trigger_body_t in;
} trigger_manual_t;

static void
trigger_manual_free(trigger_manual_t *m)
{
    trigger_body_free(&m->in);
    cJSON_Delete(m->body);
    free(m);
}

/* Add the warning of row row of an insert's result (its third column) to
 * warnings, unless it is NULL or there already. */
static void
trigger_warnings(cJSON *warnings, const PGresult *res, int row)
{
    const cJSON *w;
    const char *text = PQgetvalue(res, row, 2);

    if (PQgetisnull(res, row, 2))
        return;
    cJSON_ArrayForEach(w, warnings)
    {
        if (strcmp(w->valuestring, text) == 0)
            return;
    }
    cJSON_AddItemToArray(warnings, cJSON_CreateString(text));
}

static void
trigger_manual_done(http_req_t *r, const PGresult *res, void *ctx)
{
    char *location;

    if (res == NULL)
        return;
    if (PQntuples(res) != 1) {
        http_reply_error(r, 500, "internal error", "the new run could not be stored");
        return;
    }
    cJSON *run = http_json_from_db(PQgetvalue(res, 0, 0));
    if (run == NULL) {
        http_reply_error(r, 500, "internal error", "the new run could not be read");
        return;
    }
    trigger_warnings(cJSON_AddArrayToObject(run, "warnings"), res, 0);
    location = xasprintf("/api/v1/pipelines/runs/%s", (const char *)ctx);
    http_set_header(r, "Location", location);
    free(location);
    http_reply_json(r, 201, run);
}

/* The run id travels to the reply; the rest is done. */
static void
trigger_manual_inserted(http_req_t *r, const PGresult *res, void *ctx)
{
    trigger_manual_done(r, res, ctx);
    free(ctx);
}

static void
trigger_manual_read(http_req_t *r, const PGresult *res, void *arg)
{
    trigger_manual_t *m = arg;
    trigger_tmpl_t *tmpls = NULL;
    trigger_run_t *run = NULL;
    size_t ntmpls = 0;
    char *ref = NULL;
    trigger_ctx_t ctx = {NULL};
    spec_error_t serr;
    const char *stage = "";

    if (res == NULL)
        goto fail;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        goto fail;
    }
    /* An unknown template is a 404; a known one not attached a 422. */
    if (m->in.template != NULL && PQgetisnull(res, 0, 2)) {
        http_reply_error(r, 404, "template not found", "there is no template named \"%s\"",
                         m->in.template);
        goto fail;
    }
    if (trigger_tmpls_from(r, res, &tmpls, &ntmpls) < 0)
        goto fail;
    if (m->in.template != NULL && ntmpls == 0) {
        http_reply_error(r, 422, "template not attached",
                         "template \"%s\" is not attached to repo \"%s\"", m->in.template,
                         r->params[0]);
        goto fail;
    }
    if (ntmpls != 1) {
        trigger_reply_ambiguous(r, tmpls, ntmpls);
        goto fail;
    }
    if (!spec_matches_event(tmpls[0].doc, "manual", NULL)) {
        http_reply_error(r, 422, "manual runs not allowed",
                         "template \"%s\" does not start on manual triggers (see its \"on\")",
                         tmpls[0].name);
        goto fail;
    }
    ref = m->in.ref ? xstrdup(m->in.ref) : xasprintf("refs/heads/%s", PQgetvalue(res, 0, 1));
    ctx.repo_id = PQgetvalue(res, 0, 0);
    ctx.repo_name = r->params[0];
    ctx.trigger = "manual";
    ctx.ref = ref;
    ctx.commit = m->in.commit;
    ctx.triggered_by = m->in.triggered_by;
    ctx.secrets = http_json_from_db(PQgetvalue(res, 0, 8));
    memset(&serr, 0, sizeof(serr));
    run = xcalloc(1, sizeof(*run));
    if (trigger_prepare(&ctx, &tmpls[0], m->in.inputs, run, &serr, &stage) < 0) {
        trigger_reply_refused(r, stage, &serr);
        goto fail;
    }
    trigger_insert(r, &ctx, run, 1, trigger_manual_inserted, xstrdup(run->id));
fail:
    trigger_runs_free(run, run ? 1 : 0);
    trigger_tmpls_free(tmpls, ntmpls);
    cJSON_Delete(ctx.secrets);
    free(ref);
    trigger_manual_free(m);
}

void
trigger_manual(http_req_t *r)
{
    char err[REQUEST_ERR_LEN];
    trigger_manual_t *m = xcalloc(1, sizeof(*m));

    if (http_read_json(r, &m->body) < 0 || trigger_refuse_nul(r) < 0)
        goto fail;
    if (trigger_body_parse(m->body, &m->in, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid request", "%s", err);
        goto fail;
    }
    const char *params[] = {r->params[0], m->in.template};
    http_db_async(r, "read attached templates", STMT_TRIGGER_READ, 2, params, trigger_manual_read,
                  m);
    return;
fail:
    trigger_manual_free(m);
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

/* What a push trigger knows between its statements. */
typedef struct {
    cJSON *body;
    trigger_body_push_t push;
    cJSON *reply; /* {"runs": [], "skipped": [...], "templates": [...], "warnings": [...]} */
} trigger_push_t;

static void
trigger_push_free(trigger_push_t *p)
{
    trigger_body_push_free(&p->push);
    cJSON_Delete(p->reply);
    cJSON_Delete(p->body);
    free(p);
}

static void
trigger_push_done(http_req_t *r, const PGresult *res, void *arg)
{
    trigger_push_t *p = arg;
    cJSON *runs = cJSON_GetObjectItemCaseSensitive(p->reply, "runs");
    cJSON *warnings = cJSON_GetObjectItemCaseSensitive(p->reply, "warnings");

    if (res == NULL)
        goto fail;
    for (int i = 0; i < PQntuples(res); i++) {
        trigger_warnings(warnings, res, i);
        cJSON *o = http_json_from_db(PQgetvalue(res, i, 0));
        if (o == NULL) {
            http_reply_error(r, 500, "internal error", "a new run could not be read");
            goto fail;
        }
        cJSON_AddItemToArray(runs, o);
    }
    http_reply_json(r, 201, p->reply);
    p->reply = NULL;
fail:
    trigger_push_free(p);
}

/*
 * What the push did to one attached template: started run (reason NULL),
 * or did not start it for reason (with detail, or NULL).
 */
static void
trigger_push_outcome(cJSON *templates, const char *name, const char *run, const char *reason,
                     const char *detail)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "template", name);
    cJSON_AddBoolToObject(o, "started", run != NULL);
    if (run != NULL)
        cJSON_AddStringToObject(o, "run", run);
    else
        cJSON_AddNullToObject(o, "run");
    if (reason != NULL)
        cJSON_AddStringToObject(o, "reason", reason);
    else
        cJSON_AddNullToObject(o, "reason");
    if (detail != NULL)
        cJSON_AddStringToObject(o, "detail", detail);
    cJSON_AddItemToArray(templates, o);
}

static void
trigger_push_read(http_req_t *r, const PGresult *res, void *arg)
{
    trigger_push_t *p = arg;
    cJSON *skipped = cJSON_GetObjectItemCaseSensitive(p->reply, "skipped");
    cJSON *templates = cJSON_GetObjectItemCaseSensitive(p->reply, "templates");
    trigger_tmpl_t *tmpls = NULL;
    trigger_run_t *runs = NULL;
    size_t ntmpls = 0, nruns = 0;
    trigger_ctx_t ctx = {NULL};

    if (res == NULL)
        goto fail;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "repo not found", "there is no repo named \"%s\"", r->params[0]);
        goto fail;
    }
    if (trigger_tmpls_from(r, res, &tmpls, &ntmpls) < 0)
        goto fail;
    ctx.repo_id = PQgetvalue(res, 0, 0);
    ctx.repo_name = r->params[0];
    ctx.trigger = "push";
    ctx.ref = p->push.ref;
    ctx.commit = p->push.after;
    ctx.triggered_by = NULL;
    ctx.secrets = http_json_from_db(PQgetvalue(res, 0, 8));
    runs = xcalloc(ntmpls > 0 ? ntmpls : 1, sizeof(*runs));
    for (size_t i = 0; i < ntmpls; i++) {
        spec_error_t serr;
        const char *stage = "";
        spec_push_match_t m;

        /* A deleted ref has nothing to build. */
        if (p->push.kind == TRIGGER_BODY_PUSH_DELETE) {
            trigger_push_outcome(templates, tmpls[i].name, NULL, "ref deleted", NULL);
            continue;
        }
        m = spec_match_push(tmpls[i].doc, p->push.ref);
        if (m != SPEC_PUSH_STARTS) {
            trigger_push_outcome(templates, tmpls[i].name, NULL, spec_push_reason(m), NULL);
            continue;
        }
        memset(&serr, 0, sizeof(serr));
        if (trigger_prepare(&ctx, &tmpls[i], NULL, &runs[nruns], &serr, &stage) < 0) {
            /* One template lacking an input must not stop the others. */
            cJSON *s = cJSON_CreateObject();
            char *detail = serr.field[0] ? xasprintf("%s: %s", serr.field, serr.message)
                                         : xstrdup(serr.message);
            cJSON_AddStringToObject(s, "template", tmpls[i].name);
            cJSON_AddStringToObject(s, "detail", detail);
            cJSON_AddItemToArray(skipped, s);
            trigger_push_outcome(templates, tmpls[i].name, NULL, stage, detail);
            free(detail);
            trigger_runs_clear(&runs[nruns]);
            continue;
        }
        trigger_push_outcome(templates, tmpls[i].name, runs[nruns].id, NULL, NULL);
        nruns++;
    }
    if (nruns == 0) {
        http_reply_json(r, 200, p->reply);
        p->reply = NULL;
        goto fail;
    }
    trigger_insert(r, &ctx, runs, nruns, trigger_push_done, p);
    p = NULL;
fail:
    trigger_runs_free(runs, nruns);
    trigger_tmpls_free(tmpls, ntmpls);
    cJSON_Delete(ctx.secrets);
    if (p != NULL)
        trigger_push_free(p);
}

void
trigger_push(http_req_t *r)
{
    char err[REQUEST_ERR_LEN];
    trigger_push_t *p = xcalloc(1, sizeof(*p));

    p->reply = cJSON_CreateObject();
    cJSON_AddArrayToObject(p->reply, "runs");
    cJSON_AddArrayToObject(p->reply, "skipped");
    cJSON_AddArrayToObject(p->reply, "templates");
    cJSON_AddArrayToObject(p->reply, "warnings");
    if (trigger_other_event(r)) {
        http_reply_json(r, 200, p->reply);
        p->reply = NULL;
        goto fail;
    }
    if (http_read_json(r, &p->body) < 0 || trigger_refuse_nul(r) < 0)
        goto fail;
    if (p->body == NULL) {
        http_reply_error(r, 400, "missing body", "the body is a push event (JSON)");
        goto fail;
    }
    if (trigger_body_push_parse(p->body, &p->push, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid push event", "%s", err);
        goto fail;
    }
    const char *params[] = {r->params[0], NULL};
    http_db_async(r, "read attached templates", STMT_TRIGGER_READ, 2, params, trigger_push_read, p);
    return;
fail:
    trigger_push_free(p);
}

int
trigger_schedule(dbconn_t *db, const PGresult *res, int row, int64_t fire_at, char run_id[37],
                 pg_result_fn fn, void *arg)
{
    trigger_tmpl_t *tmpl = xcalloc(1, sizeof(*tmpl));
    trigger_run_t run;
    trigger_ctx_t ctx = {NULL};
    spec_error_t serr;
    const char *stage = "";
    char *ref = xasprintf("refs/heads/%s", PQgetvalue(res, row, 1));
    char *text = NULL;
    int rc = -1;

    memset(&run, 0, sizeof(run));
    ctx.repo_id = PQgetvalue(res, row, 0);
    ctx.repo_name = PQgetvalue(res, row, 2);
    ctx.trigger = "schedule";
    ctx.ref = ref;
    ctx.cron = PQgetvalue(res, row, 9);
    ctx.fire_at = fire_at;
    ctx.secrets = http_json_from_db(PQgetvalue(res, row, 8));
    if (trigger_tmpl_read(res, row, tmpl) < 0 || ctx.secrets == NULL) {
        rc = 1;
        log_error("schedule", "a stored template could not be read repo=%s template=%s",
                  ctx.repo_name, PQgetvalue(res, row, 4));
        goto fail;
    }
    memset(&serr, 0, sizeof(serr));
    if (trigger_prepare(&ctx, tmpl, NULL, &run, &serr, &stage) < 0) {
        rc = 1;
        log_warn("schedule",
                 "run not started repo=%s template=%s cron=\"%s\" reason=\"%s\" detail=\"%s%s%s\"",
                 ctx.repo_name, tmpl->name, ctx.cron, stage, serr.field, serr.field[0] ? ": " : "",
                 serr.message);
        goto fail;
    }
    text = trigger_runs_text(&ctx, &run, 1);
    if (text == NULL) {
        rc = 1;
        log_error("schedule", "the run could not be encoded repo=%s template=%s", ctx.repo_name,
                  tmpl->name);
        goto fail;
    }
    const char *params[] = TRIGGER_INSERT_PARAMS(&ctx, text);
    if (dbconn_query(db, STMT_TRIGGER_INSERT, 6, params, fn, arg) < 0)
        goto fail;
    snprintf(run_id, 37, "%s", run.id);
    rc = 0;
fail:
    cJSON_free(text);
    cJSON_free(run.inputs_text);
    cJSON_free(run.spec_text);
    trigger_tmpls_free(tmpl, 1);
    cJSON_Delete(ctx.secrets);
    free(ref);
    return rc;
}
