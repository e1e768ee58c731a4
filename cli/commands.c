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

/* What a command asks of the API. */
typedef struct {
    const char *method;
    char *path;        /* owned */
    cJSON *json;       /* a JSON body (owned), or NULL */
    const char *ctype; /* the content type of raw; NULL: no body but json */
    buf_t raw;         /* another body (template put) */
} commands_request_t;

/*
 * Fill req from the command line. Returns COMMANDS_EXIT_OK, or another
 * exit status after printing why (no call is made).
 */
typedef int (*commands_build_fn)(const cmdline_t *c, apiclient_t *api, commands_request_t *req);

/*
 * Print the API's 2xx reply (o: its body parsed, borrowed; NULL when
 * empty). Returns the exit status.
 */
typedef int (*commands_print_fn)(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                                 const apiclient_reply_t *reply, const cJSON *o);

/* A command of its own shape, which does all of it. Returns the exit status. */
typedef int (*commands_fn)(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);

typedef struct {
    /* The request: method and path (with c->id escaped between path and
     * after, unless after is NULL), or build for one with more in it. */
    const char *method, *path, *after;
    commands_build_fn build;
    commands_print_fn print;
    bool prints_json; /* print handles --json itself (else the reply is printed raw) */
    commands_fn own;  /* a command of its own shape: does it all instead */
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

/* before, then arg escaped for a path segment, then after; the caller frees it. */
static char *
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
    printf("%-16s  %-7s  %-19s  %8s  %s\n", "TEMPLATE", "TRIGGER", "CREATED", "DURATION", "REF");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(page, "runs"))
    {
        char created[20], dur[32];
        commands_duration(r, "started_at", "ended_at", dur, sizeof(dur));
        printf("%-36s  ", commands_or_dash(commands_str(r, "id")));
        commands_print_status(env, commands_str(r, "status"), 8);
        if (c->repo == NULL)
            printf("  %-16s", commands_or_dash(commands_str(r, "repo")));
        printf("  %-16s  %-7s  %-19s  %8s  %s\n", commands_or_dash(commands_str(r, "template")),
               commands_or_dash(commands_str(r, "trigger")),
               commands_short_time(commands_str(r, "created_at"), created), dur,
               commands_or_dash(commands_str(r, "ref")));
    }
    return COMMANDS_EXIT_OK;
}

static int
commands_show_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                    const apiclient_reply_t *reply, const cJSON *run)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(run, "template_version");
    char created[20], dur[32];

    commands_duration(run, "started_at", "ended_at", dur, sizeof(dur));
    printf("run       %s\n", commands_str(run, "id"));
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
    printf("created   %s\n", commands_short_time(commands_str(run, "created_at"), created));
    printf("duration  %s\n", dur);
    if (commands_str(run, "error") != NULL)
        commands_print_untrusted("error     ", commands_str(run, "error"), "\n");
    printf("jobs\n");
    commands_print_jobs(env, cJSON_GetObjectItemCaseSensitive(run, "jobs"));
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

    printf("%-20s  %-8s  %-6s  %-20s  %-19s  %-36s  %s\n", "NAME", "STATUS", "ENGINE", "HOST",
           "LAST SEEN", "RUN", "DETAIL");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "runners"))
    {
        char seen[20];
        printf("%-20s  ", commands_or_dash(commands_str(r, "name")));
        commands_print_status(env, commands_str(r, "status"), 8);
        printf("  %-6s  %-20s  %-19s  %-36s  %s\n", commands_or_dash(commands_str(r, "engine")),
               commands_or_dash(commands_str(r, "hostname")),
               commands_short_time(commands_str(r, "last_seen_at"), seen),
               commands_or_dash(commands_str(r, "current_run")),
               commands_or_dash(commands_str(r, "status_detail")));
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

static int
commands_attach_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    char *repo = apiclient_escape(api, c->repo), *tmpl = apiclient_escape(api, c->name);

    req->json = cJSON_CreateObject();
    if (c->ninputs > 0)
        cJSON_AddItemToObject(req->json, "inputs", commands_inputs(c));
    req->method = "PUT";
    req->path = xasprintf("/repos/%s/templates/%s", repo, tmpl);
    free(repo);
    free(tmpl);
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
    [CMD_RUN] = {.build = commands_run_build, .print = commands_started, .prints_json = true},
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
        req.path = spec->after != NULL ? commands_path(api, spec->path, c->id, spec->after)
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
    if (commands_call(api, req.method, req.path, ctype, body, len, &reply, &o) < 0)
        rc = commands_exit_after_failure(api);
    else if (c->json && !spec->prints_json)
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

    if (c->cmd <= CMD_NONE || c->cmd >= CMD__COUNT)
        return COMMANDS_EXIT_ERROR;
    spec = &commands_specs[c->cmd];
    if (spec->own != NULL)
        return spec->own(c, api, env);
    if (spec->print == NULL)
        return COMMANDS_EXIT_ERROR;
    return commands_call_and_print(spec, c, api, env);
}
