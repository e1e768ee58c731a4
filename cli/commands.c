/*
 * commands - the gitweave commands: the API call each makes and what it
 * prints.
 *
 * Most commands have one shape: build a request from the command line,
 * call the API, then print the reply (with --json as it came, else as
 * text) and exit with a status. A table gives each command its request
 * and its text; one runner does the rest. `logs` and following a run
 * (run/rerun -f) make many calls: commands_follow.c.
 *
 * Text goes to stdout, errors to stderr as "gitweave: error: detail".
 */
#include "commands_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Fill req from the command line. Returns COMMANDS_EXIT_OK, or another
 * exit status after printing why (no call is made).
 */
typedef int (*commands_build_fn)(const cmdline_t *c, apiclient_t *api, commands_request_t *req);

typedef struct {
    /* The request: method and path (with c->id, or c->name with by_name,
     * escaped between path and after, unless after is NULL), or build for
     * one with more in it. */
    const char *method, *path, *after;
    bool by_name;
    commands_build_fn build;
    commands_print_fn print;
    bool prints_json; /* print handles --json itself (else the reply is printed raw) */
    commands_fn own;  /* a command of its own shape: does it all instead */
    /* After an error reply: what to do about it (a line to stderr), or NULL. */
    void (*hint)(const cmdline_t *c, const apiclient_reply_t *reply);
} commands_spec_t;

/* {"NAME": "VALUE", ...} from -i NAME=VALUE options. */
static cJSON *
commands_inputs(const cmdline_t *c)
{
    cJSON *o = cJSON_CreateObject();

    for (size_t i = 0; i < c->ninputs; i++) {
        const char *eq = strchr(c->inputs[i], '=');
        char *name = xstrndup(c->inputs[i], (size_t)(eq - c->inputs[i]));
        cJSON_DeleteItemFromObjectCaseSensitive(o, name);
        cJSON_AddStringToObject(o, name, eq + 1);
        free(name);
    }
    return o;
}

char *
commands_path(apiclient_t *api, const char *before, const char *arg, const char *after)
{
    char *esc = apiclient_escape(api, arg);
    char *path = xasprintf("%s%s%s", before, esc, after);

    free(esc);
    return path;
}

/* ---- run (rerun and both's -f: commands_follow.c) ---- */

static int
commands_run_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    req->json = cJSON_CreateObject();
    if (c->template_name != NULL)
        cJSON_AddStringToObject(req->json, "template", c->template_name);
    if (c->ninputs > 0)
        cJSON_AddItemToObject(req->json, "inputs", commands_inputs(c));
    if (c->ref != NULL)
        cJSON_AddStringToObject(req->json, "ref", c->ref);
    if (c->commit != NULL)
        cJSON_AddStringToObject(req->json, "commit", c->commit);
    req->method = "POST";
    req->path = commands_path(api, "/repos/", c->repo, "/pipelines/run");
    return COMMANDS_EXIT_OK;
}

/* A run refused for want of a template: how to name or attach one. */
static void
commands_run_hint(const cmdline_t *c, const apiclient_reply_t *reply)
{
    cJSON *o = cJSON_ParseWithLength(reply->body.data ? reply->body.data : "", reply->body.len);
    const char *error = commands_str(o, "error");

    if (error != NULL && strcmp(error, "template required") == 0)
        fprintf(stderr, "gitweave: name one with -t TEMPLATE: gitweave run %s -t TEMPLATE\n",
                c->repo);
    else if (error != NULL && strcmp(error, "no template attached") == 0)
        fprintf(stderr, "gitweave: attach one first: gitweave attach %s TEMPLATE\n", c->repo);
    cJSON_Delete(o);
}

/* ---- runs, show, cancel, runners: what they print ---- */

static int
commands_runs_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    buf_t path;

    /* Without a repo, the runs of every repo, each named. */
    buf_init(&path);
    if (c->repo != NULL) {
        char *repo = apiclient_escape(api, c->repo);
        buf_printf(&path, "/repos/%s/pipelines/runs?", repo);
        free(repo);
    } else {
        buf_puts(&path, "/pipelines/runs?");
    }
    if (c->status != NULL) {
        char *status = apiclient_escape(api, c->status);
        buf_printf(&path, "status=%s&", status);
        free(status);
    }
    if (c->limit > 0)
        buf_printf(&path, "limit=%ld", c->limit);
    req->method = "GET";
    req->path = buf_steal(&path);
    return COMMANDS_EXIT_OK;
}

static int
commands_runs_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                    const apiclient_reply_t *reply, const cJSON *page)
{
    const cJSON *r;

    printf("%-36s  %-8s  ", "RUN", "STATUS");
    if (c->repo == NULL)
        printf("%-16s  ", "REPO");
    printf("%-16s  %-7s  %-7s  %-19s  %8s  %8s  %s\n", "TEMPLATE", "TRIGGER", "COMMIT", "CREATED",
           "WAITED", "RAN", "REF");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(page, "runs"))
    {
        char created[20], waited[32], ran[32];
        commands_seconds(r, "queued_seconds", waited, sizeof(waited));
        commands_seconds(r, "run_seconds", ran, sizeof(ran));
        printf("%-36s  ", commands_or_dash(commands_str(r, "id")));
        commands_print_status(env, commands_str(r, "status"), 8);
        if (c->repo == NULL)
            printf("  %-16s", commands_or_dash(commands_str(r, "repo")));
        printf("  %-16s  %-7s  %-7.7s  %-19s  %8s  %8s  %s\n",
               commands_or_dash(commands_str(r, "template")),
               commands_or_dash(commands_str(r, "trigger")),
               commands_or_dash(commands_str(r, "commit")),
               commands_short_time(commands_str(r, "created_at"), created), waited, ran,
               commands_or_dash(commands_str(r, "ref")));
    }
    return COMMANDS_EXIT_OK;
}

/* The earlier tries of a retried run, most recent first: why each was
 * retried, and its jobs as they ended. */
static void
commands_show_tries(const commands_env_t *env, const cJSON *run)
{
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(run, "retries");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(run, "retried_jobs");

    for (int i = cJSON_GetArraySize(why) - 1; i >= 0; i--) {
        const cJSON *w = cJSON_GetArrayItem(why, i), *j;
        cJSON *try_jobs = cJSON_CreateArray();

        printf("try %d    retried: %s\n", i + 1, cJSON_IsString(w) ? w->valuestring : "-");
        cJSON_ArrayForEach(j, jobs)
        {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "retry");
            if (cJSON_IsNumber(n) && n->valueint == i)
                cJSON_AddItemToArray(try_jobs, cJSON_Duplicate(j, true));
        }
        commands_print_jobs(env, try_jobs);
        cJSON_Delete(try_jobs);
    }
}

/* Why a queued run waits (its "waiting" object), if it says. */
static void
commands_print_waiting(const cJSON *w)
{
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(w, "position");

    if (!cJSON_IsObject(w))
        return;
    printf("waiting   %s, position %d\n", commands_or_dash(commands_str(w, "reason")),
           cJSON_IsNumber(pos) ? pos->valueint : 0);
    if (commands_str(w, "detail") != NULL)
        commands_print_untrusted("          ", commands_str(w, "detail"), "\n");
}

static int
commands_show_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                    const apiclient_reply_t *reply, const cJSON *run)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(run, "template_version");
    char created[20], waited[32], ran[32];

    char *page = apiclient_run_page(api, commands_or_dash(commands_str(run, "id")));

    commands_seconds(run, "queued_seconds", waited, sizeof(waited));
    commands_seconds(run, "run_seconds", ran, sizeof(ran));
    printf("run       %s\n", commands_str(run, "id"));
    printf("page      %s\n", page);
    free(page);
    printf("status    ");
    commands_print_status(env, commands_str(run, "status"), 0);
    putchar('\n');
    printf("repo      %s\n", commands_or_dash(commands_str(run, "repo")));
    printf("template  %s (version %d)\n", commands_or_dash(commands_str(run, "template")),
           cJSON_IsNumber(v) ? v->valueint : 0);
    printf("trigger   %s\n", commands_or_dash(commands_str(run, "trigger")));
    printf("ref       %s\n", commands_or_dash(commands_str(run, "ref")));
    printf("commit    %s\n", commands_or_dash(commands_str(run, "commit")));
    printf("runner    %s\n", commands_or_dash(commands_str(run, "runner")));
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(run, "attempt")))
        printf("attempt   %d\n", cJSON_GetObjectItemCaseSensitive(run, "attempt")->valueint);
    if (commands_str(run, "rerun_of") != NULL)
        printf("rerun of  %s\n", commands_str(run, "rerun_of"));
    printf("created   %s\n", commands_short_time(commands_str(run, "created_at"), created));
    printf("waited    %s\n", waited);
    printf("ran       %s\n", ran);
    if (commands_run_error(run) != NULL)
        commands_print_untrusted("error     ", commands_run_error(run), "\n");
    commands_print_waiting(cJSON_GetObjectItemCaseSensitive(run, "waiting"));
    printf("jobs\n");
    commands_print_jobs(env, cJSON_GetObjectItemCaseSensitive(run, "jobs"));
    commands_show_tries(env, run);
    return COMMANDS_EXIT_OK;
}

static int
commands_cancel_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                      const apiclient_reply_t *reply, const cJSON *run)
{
    const char *status = commands_str(run, "status");

    if (status != NULL && strcmp(status, "canceled") == 0)
        printf("run %s canceled\n", c->id);
    else
        printf("run %s: cancel requested; its runner stops it\n", c->id);
    return COMMANDS_EXIT_OK;
}

static int
commands_runners_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                       const apiclient_reply_t *reply, const cJSON *list)
{
    const cJSON *r;

    printf("%-20s  %-8s  %-6s  %-20s  %-19s  %-36s  %-24s  %s\n", "NAME", "STATUS", "ENGINE",
           "HOST", "LAST SEEN", "RUN", "LABELS", "DETAIL");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "runners"))
    {
        char seen[20];
        const char *status = commands_str(r, "status");
        const cJSON *l;
        buf_t labels;

        /* A paused runner that is up says so; offline, stopped and the
         * rest say more than that it is paused. */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "paused")) && status != NULL &&
            (strcmp(status, "idle") == 0 || strcmp(status, "busy") == 0))
            status = "paused";
        buf_init(&labels);
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(r, "labels")) if (cJSON_IsString(l))
            buf_printf(&labels, "%s%s", labels.len ? "," : "", l->valuestring);
        printf("%-20s  ", commands_or_dash(commands_str(r, "name")));
        commands_print_status(env, status, 8);
        printf("  %-6s  %-20s  %-19s  %-36s  %-24s  %s\n",
               commands_or_dash(commands_str(r, "engine")),
               commands_or_dash(commands_str(r, "hostname")),
               commands_short_time(commands_str(r, "last_seen_at"), seen),
               commands_or_dash(commands_str(r, "current_run")), labels.len ? labels.data : "-",
               commands_or_dash(commands_str(r, "status_detail")));
        buf_free(&labels);
    }
    return COMMANDS_EXIT_OK;
}

/* ---- template put, repo put, attach ---- */

/* Read all of f into b; -1 on a read error. */
static int
commands_slurp(FILE *f, buf_t *b)
{
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(b, chunk, n);
    return ferror(f) ? -1 : 0;
}

/* The template's name: NAME, or FILE's base name without .yaml, .yml or .json. */
static char *
commands_template_name(const cmdline_t *c)
{
    static const char *const exts[] = {".yaml", ".yml", ".json"};
    const char *base = strrchr(c->file, '/');
    size_t n;

    if (c->name != NULL)
        return xstrdup(c->name);
    base = base ? base + 1 : c->file;
    n = strlen(base);
    for (size_t i = 0; i < GW_ARRAY_LEN(exts); i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(base + n - e, exts[i]) == 0) {
            n -= e;
            break;
        }
    }
    return xstrndup(base, n);
}

/* "NAME created" or "NAME updated" after a PUT that answered 201 or 200. */
static void
commands_print_upserted(const char *what, const char *name, const apiclient_reply_t *reply,
                        const cJSON *o)
{
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(o, "version");

    printf("%s %s %s", what, name, reply->status == 201 ? "created" : "updated");
    if (cJSON_IsNumber(version))
        printf(" (version %d)", version->valueint);
    putchar('\n');
}

static int
commands_template_put_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    bool from_stdin = strcmp(c->file, "-") == 0;
    size_t len = strlen(c->file);
    bool json = len > 5 && strcmp(c->file + len - 5, ".json") == 0;
    char *name;
    FILE *f;
    int rc = COMMANDS_EXIT_OK;

    if (from_stdin && c->name == NULL) {
        fprintf(stderr, "gitweave: a template read from standard input needs a NAME\n");
        return COMMANDS_EXIT_ERROR;
    }
    f = from_stdin ? stdin : fopen(c->file, "rb");
    if (f == NULL || commands_slurp(f, &req->raw) < 0) {
        fprintf(stderr, "gitweave: could not read \"%s\": %s\n", c->file, strerror(errno));
        rc = COMMANDS_EXIT_ERROR;
    }
    if (f != NULL && !from_stdin)
        fclose(f);
    if (rc != COMMANDS_EXIT_OK)
        return rc;
    name = commands_template_name(c);
    req->method = "PUT";
    req->path = commands_path(api, "/templates/", name, "");
    req->ctype = json ? "application/json" : "application/yaml";
    free(name);
    return COMMANDS_EXIT_OK;
}

static int
commands_template_put_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                            const apiclient_reply_t *reply, const cJSON *o)
{
    char *name = commands_template_name(c);

    commands_print_upserted("template", name, reply, o);
    free(name);
    return COMMANDS_EXIT_OK;
}

static int
commands_repo_put_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    req->json = cJSON_CreateObject();
    /* An empty --clone-url removes the URL (null); left out, it is kept. */
    if (c->clone_url != NULL && c->clone_url[0] == '\0')
        cJSON_AddNullToObject(req->json, "clone_url");
    else if (c->clone_url != NULL)
        cJSON_AddStringToObject(req->json, "clone_url", c->clone_url);
    if (c->branch != NULL)
        cJSON_AddStringToObject(req->json, "default_branch", c->branch);
    req->method = "PUT";
    req->path = commands_path(api, "/repos/", c->name, "");
    return COMMANDS_EXIT_OK;
}

static int
commands_repo_put_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                        const apiclient_reply_t *reply, const cJSON *o)
{
    commands_print_upserted("repo", c->name, reply, NULL);
    return COMMANDS_EXIT_OK;
}

char *
commands_attachment_path(apiclient_t *api, const cmdline_t *c)
{
    char *repo = apiclient_escape(api, c->repo), *tmpl = apiclient_escape(api, c->name);
    char *path = xasprintf("/repos/%s/templates/%s", repo, tmpl);

    free(repo);
    free(tmpl);
    return path;
}

static int
commands_attach_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    req->json = cJSON_CreateObject();
    if (c->ninputs > 0)
        cJSON_AddItemToObject(req->json, "inputs", commands_inputs(c));
    req->method = "PUT";
    req->path = commands_attachment_path(api, c);
    return COMMANDS_EXIT_OK;
}

static int
commands_attach_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                      const apiclient_reply_t *reply, const cJSON *o)
{
    printf("template %s attached to repo %s\n", c->name, c->repo);
    return COMMANDS_EXIT_OK;
}

/* ---- the table and its runner ---- */

static const commands_spec_t commands_specs[CMD__COUNT] = {
    [CMD_RUN] = {.build = commands_run_build,
                 .print = commands_started,
                 .prints_json = true,
                 .hint = commands_run_hint},
    [CMD_LOGS] = {.own = commands_logs},
    [CMD_RUNS] = {.build = commands_runs_build, .print = commands_runs_print},
    [CMD_SHOW] = {"GET", "/pipelines/runs/", "", .print = commands_show_print},
    [CMD_CANCEL] = {"POST", "/pipelines/runs/", "/cancel", .print = commands_cancel_print},
    /* rerun: a new run of exactly the jobs of a finished one. */
    [CMD_RERUN] = {"POST", "/pipelines/runs/", "/rerun", .print = commands_started,
                   .prints_json = true},
    [CMD_RUNNERS] = {"GET", "/runners", NULL, .print = commands_runners_print},
    [CMD_TEMPLATE_PUT] = {.build = commands_template_put_build,
                          .print = commands_template_put_print},
    [CMD_REPO_PUT] = {.build = commands_repo_put_build, .print = commands_repo_put_print},
    [CMD_ATTACH] = {.build = commands_attach_build, .print = commands_attach_print},
    [CMD_SECRET_PUT] = {.own = commands_secret_put},
    [CMD_SECRET_LIST] = {.own = commands_secret_list},
    [CMD_SECRET_DELETE] = {.own = commands_secret_delete},
    /* commands_manage.c */
    [CMD_TEMPLATE_LIST] = {"GET", "/templates", NULL, .print = commands_template_list_print},
    [CMD_TEMPLATE_SHOW] = {"GET", "/templates/", "", true, .print = commands_template_show_print},
    [CMD_TEMPLATE_DELETE] = {"DELETE", "/templates/", "", true, .print = commands_deleted_print},
    [CMD_REPO_LIST] = {"GET", "/repos", NULL, .print = commands_repo_list_print},
    [CMD_REPO_SHOW] = {.own = commands_repo_show},
    [CMD_SCHEDULES] = {"GET", "/repos/", "/schedules", true, .print = commands_schedules_print},
    [CMD_REPO_DELETE] = {"DELETE", "/repos/", "", true, .print = commands_deleted_print},
    [CMD_DETACH] = {.build = commands_detach_build, .print = commands_detach_print},
    [CMD_RUNNER_PAUSE] = {"POST", "/runners/", "/pause", true, .print = commands_runner_print},
    [CMD_RUNNER_RESUME] = {"POST", "/runners/", "/resume", true, .print = commands_runner_print},
    [CMD_RUNNER_DELETE] = {"DELETE", "/runners/", "", true, .print = commands_deleted_print},
    [CMD_GREP] = {.own = commands_grep},
};

/* Build the request of spec, call the API and print its reply. Returns the exit status. */
static int
commands_call_and_print(const commands_spec_t *spec, const cmdline_t *c, apiclient_t *api,
                        const commands_env_t *env)
{
    commands_request_t req = {0};
    apiclient_reply_t reply;
    char *text = NULL;
    const char *ctype = NULL, *body = NULL;
    size_t len = 0;
    cJSON *o = NULL;
    int rc = COMMANDS_EXIT_OK;

    buf_init(&req.raw);
    apiclient_reply_init(&reply);
    if (spec->build != NULL) {
        rc = spec->build(c, api, &req);
        if (rc != COMMANDS_EXIT_OK)
            goto done;
    } else {
        req.method = spec->method;
        req.path = spec->after != NULL ? commands_path(api, spec->path,
                                                       spec->by_name ? c->name : c->id, spec->after)
                                       : xstrdup(spec->path);
    }
    if (req.json != NULL) {
        text = cJSON_PrintUnformatted(req.json);
        ctype = "application/json";
        body = text;
        len = strlen(text);
    } else if (req.ctype != NULL) {
        ctype = req.ctype;
        body = req.raw.data ? req.raw.data : "";
        len = req.raw.len;
    }
    if (commands_call(api, req.method, req.path, ctype, body, len, &reply, &o) < 0) {
        if (spec->hint != NULL && reply.status != 0)
            spec->hint(c, &reply);
        rc = commands_exit_after_failure(api);
    } else if (c->json && !spec->prints_json)
        commands_print_raw(&reply);
    else
        rc = spec->print(c, api, env, &reply, o);
done:
    cJSON_Delete(o);
    cJSON_Delete(req.json);
    cJSON_free(text);
    buf_free(&req.raw);
    free(req.path);
    apiclient_reply_free(&reply);
    return rc;
}

int
commands_exec(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    const commands_spec_t *spec;
    cmdline_t full = *c;
    char id[37];
    int rc;

    if (c->cmd <= CMD_NONE || c->cmd >= CMD__COUNT)
        return COMMANDS_EXIT_ERROR;
    spec = &commands_specs[c->cmd];
    if (spec->own == NULL && spec->print == NULL)
        return COMMANDS_EXIT_ERROR;
    /* A run or job id may be a unique prefix: the command gets the whole id. */
    if (c->id != NULL) {
        rc = commands_resolve_id(api, c->id, c->cmd == CMD_LOGS, id);
        if (rc != COMMANDS_EXIT_OK)
            return rc;
        full.id = id;
    }
    if (spec->own != NULL)
        return spec->own(&full, api, env);
    return commands_call_and_print(spec, &full, api, env);
}
