/*
 * commands - the gitweave commands: API calls and what they print.
 *
 * Text goes to stdout, errors to stderr as "gitweave: error: detail". With
 * --json a command prints the API's reply as it came. A run is followed job
 * by job, in order (logtail.c reads each log to its end); the run's final
 * status then gives the exit status.
 */
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "logtail.h"

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"

/* How long to wait between looks at a run whose jobs have all ended. */
#define COMMANDS_RUN_POLL_MS 250

static const char commands_spinner[] = "|/-\\";

/* ---- small helpers ---- */

static const char *
commands_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The string, or "-" for a missing one, for tables. */
static const char *
commands_or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

static const char *
commands_color_of(const char *status)
{
    if (status == NULL)
        return "";
    if (strcmp(status, "success") == 0 || strcmp(status, "idle") == 0)
        return "\033[32m";
    if (strcmp(status, "failed") == 0 || strcmp(status, "offline") == 0)
        return "\033[31m";
    if (strcmp(status, "canceled") == 0 || strcmp(status, "skipped") == 0 ||
        strcmp(status, "degraded") == 0)
        return "\033[33m";
    if (strcmp(status, "running") == 0 || strcmp(status, "busy") == 0)
        return "\033[36m";
    return "";
}

/* Print status padded to width, coloured when the environment allows. */
static void
commands_print_status(const commands_env_t *env, const char *status, int width)
{
    const char *s = commands_or_dash(status);
    const char *color = env->color ? commands_color_of(status) : "";

    printf("%s%-*s%s", color, width, s, color[0] ? ANSI_RESET : "");
}

/* An RFC 3339 UTC time of the API ("2026-12-01T23:15:01.123456Z") in seconds. */
static bool
commands_parse_time(const char *s, double *out)
{
    struct tm tm;
    int usec = 0, n = 0;

    if (s == NULL)
        return false;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6)
        return false;
    if (s[n] == '.')
        usec = atoi(s + n + 1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)timegm(&tm) + usec / 1e6;
    return true;
}

/* The time from field `from` to `to` of o ("-" when either is missing). */
static void
commands_duration(const cJSON *o, const char *from, const char *to, char *out, size_t n)
{
    double a, b, d;

    if (!commands_parse_time(commands_str(o, from), &a) ||
        !commands_parse_time(commands_str(o, to), &b)) {
        snprintf(out, n, "-");
        return;
    }
    d = b - a < 0 ? 0 : b - a;
    if (d < 60)
        snprintf(out, n, "%.1fs", d);
    else if (d < 3600)
        snprintf(out, n, "%dm%02ds", (int)d / 60, (int)d % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)d / 3600, (int)d % 3600 / 60);
}

/* "2026-12-01T23:15:01.123456Z" -> "2026-12-01 23:15:01" in out. */
static const char *
commands_short_time(const char *s, char out[20])
{
    if (s == NULL || strlen(s) < 19)
        return "-";
    snprintf(out, 20, "%.10s %.8s", s, s + 11);
    return out;
}

/*
 * Call the API; on a 2xx reply parse the body into *out (NULL for an empty
 * one) and return 0, else print why and return -1. reply holds the body.
 */
static int
commands_call(apiclient_t *api, const char *method, const char *path, const char *ctype,
              const char *body, size_t len, apiclient_reply_t *reply, cJSON **out)
{
    int rc = apiclient_call(api, method, path, ctype, body, len, reply);

    *out = NULL;
    if (rc < 0 || reply->status < 200 || reply->status > 299) {
        apiclient_print_failure(api, rc, reply);
        return -1;
    }
    if (reply->body.len == 0)
        return 0;
    *out = cJSON_ParseWithLength(reply->body.data, reply->body.len);
    if (*out == NULL) {
        fprintf(stderr, "gitweave: the API's reply could not be read as JSON\n");
        return -1;
    }
    return 0;
}

/* The exit status for a final status of a run or job. */
static int
commands_exit_for(const char *status)
{
    if (status != NULL && strcmp(status, "success") == 0)
        return COMMANDS_EXIT_OK;
    if (status != NULL && strcmp(status, "failed") == 0)
        return COMMANDS_EXIT_FAILED;
    return COMMANDS_EXIT_CANCELED; /* canceled, or a job skipped */
}

static bool
commands_is_final(const char *status)
{
    static const char *const final[] = {"success", "failed", "canceled", "skipped"};

    for (size_t i = 0; status != NULL && i < GW_ARRAY_LEN(final); i++)
        if (strcmp(status, final[i]) == 0)
            return true;
    return false;
}

/* The exit status after a failed call: interrupted or an error. */
static int
commands_exit_after_failure(const apiclient_t *api)
{
    return apiclient_interrupted(api) ? COMMANDS_EXIT_INTERRUPTED : COMMANDS_EXIT_ERROR;
}

/* Print the reply body as the API sent it (--json). */
static void
commands_print_raw(const apiclient_reply_t *reply)
{
    fwrite(reply->body.data ? reply->body.data : "", 1, reply->body.len, stdout);
    if (reply->body.len == 0 || reply->body.data[reply->body.len - 1] != '\n')
        putchar('\n');
}

/* Read run `id`; returns the parsed run (cJSON_Delete) or NULL after printing why. */
static cJSON *
commands_get_run(apiclient_t *api, const char *esc_id, apiclient_reply_t *reply)
{
    char *path = xasprintf("/pipelines/runs/%s", esc_id);
    cJSON *run = NULL;

    apiclient_reply_free(reply);
    apiclient_reply_init(reply);
    if (commands_call(api, "GET", path, NULL, NULL, 0, reply, &run) < 0) {
        cJSON_Delete(run);
        run = NULL;
    }
    free(path);
    return run;
}

/* ---- printing a log ---- */

/* What the sink of a followed log knows. */
typedef struct {
    const commands_env_t *env;
    const char *job_name; /* the header to print before the first byte, or NULL */
    bool header_done;
    bool at_line_start;
    bool spinning;
    int frame;
    long long last_tick;
    buf_t *collect; /* --json: the bytes go here instead of stdout */
} commands_sink_t;

static void
commands_clear_spinner(commands_sink_t *s)
{
    if (s->spinning) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        s->spinning = false;
    }
}

static void
commands_print_header(commands_sink_t *s)
{
    if (s->header_done || s->job_name == NULL)
        return;
    s->header_done = true;
    commands_clear_spinner(s);
    if (s->env->color)
        printf(ANSI_BOLD "==> %s" ANSI_RESET "\n", s->job_name);
    else
        printf("==> %s\n", s->job_name);
    fflush(stdout);
}

static void
commands_sink(void *ctx, const char *data, size_t len)
{
    commands_sink_t *s = ctx;

    if (s->collect != NULL) {
        buf_append(s->collect, data, len);
        return;
    }
    commands_print_header(s);
    commands_clear_spinner(s);
    fwrite(data, 1, len, stdout);
    fflush(stdout);
    s->at_line_start = data[len - 1] == '\n';
}

static void
commands_tick(void *ctx)
{
    commands_sink_t *s = ctx;
    long long now = gw_now_ms();

    /* Only while nothing of the job was printed: it waits for a runner. */
    if (!s->env->spinner || s->collect != NULL || s->header_done || now - s->last_tick < 100)
        return;
    s->last_tick = now;
    fprintf(stderr, "\r%c waiting for %s", commands_spinner[s->frame++ % 4],
            s->job_name ? s->job_name : "the job");
    fflush(stderr);
    s->spinning = true;
}

/*
 * Print (or with collect, gather) a job's log to its end, with wait=false
 * only what is stored now. name: the header before its first byte, or
 * NULL for none. Returns 0 with *res, or -1 after printing why.
 */
static int
commands_job_log(apiclient_t *api, const commands_env_t *env, const char *job_id, const char *name,
                 bool wait, buf_t *collect, logtail_result_t *res)
{
    commands_sink_t s = {.env = env, .job_name = name, .at_line_start = true, .collect = collect};
    logtail_opts_t o = {.sink = commands_sink, .tick = commands_tick, .ctx = &s, .wait = wait};
    int rc = logtail_job(api, job_id, &o, res);

    commands_clear_spinner(&s);
    /* A job that ran shows its header even with an empty log. */
    if (rc == 0 && collect == NULL && strcmp(res->status, "skipped") != 0 &&
        strcmp(res->status, "canceled") != 0 && strcmp(res->status, "queued") != 0)
        commands_print_header(&s);
    if (!s.at_line_start)
        putchar('\n');
    fflush(stdout);
    return rc;
}

/* One line per job: name, status, duration, exit code and error. */
static void
commands_print_jobs(const commands_env_t *env, const cJSON *jobs)
{
    const cJSON *j;
    int width = 4;

    cJSON_ArrayForEach(j, jobs)
    {
        const char *name = commands_str(j, "name");
        if (name != NULL && (int)strlen(name) > width)
            width = (int)strlen(name);
    }
    cJSON_ArrayForEach(j, jobs)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "exit_code");
        const char *err = commands_str(j, "error");
        char dur[32];

        commands_duration(j, "started_at", "ended_at", dur, sizeof(dur));
        printf("  %-*s  ", width, commands_or_dash(commands_str(j, "name")));
        commands_print_status(env, commands_str(j, "status"), 9);
        printf("  %8s", dur);
        if (cJSON_IsNumber(code))
            printf("  exit %d", code->valueint);
        if (err != NULL)
            printf("  %s", err);
        putchar('\n');
    }
}

/* ---- following a run ---- */

/*
 * Read run esc_id until its status is final (the run's own final status is
 * written just after its last job's). Returns it (cJSON_Delete; its text in
 * reply), or NULL after printing why.
 */
static cJSON *
commands_wait_final(apiclient_t *api, const char *esc_id, apiclient_reply_t *reply)
{
    for (;;) {
        cJSON *run = commands_get_run(api, esc_id, reply);
        if (run == NULL || commands_is_final(commands_str(run, "status")))
            return run;
        cJSON_Delete(run);
        logtail_sleep_ms(COMMANDS_RUN_POLL_MS);
    }
}

/*
 * Follow run esc_id (its jobs in `run`, which this takes): each job's
 * header and log, then the run's summary. Returns the exit status.
 */
static int
commands_follow_run(apiclient_t *api, const commands_env_t *env, const char *esc_id, cJSON *run,
                    bool json)
{
    apiclient_reply_t reply;
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(run, "jobs");
    const cJSON *j;
    const char *status;
    int rc = COMMANDS_EXIT_ERROR;
    char dur[32];

    apiclient_reply_init(&reply);
    if (!json) {
        cJSON_ArrayForEach(j, jobs)
        {
            logtail_result_t res;
            const char *id = commands_str(j, "id"), *name = commands_str(j, "name");
            if (id == NULL ||
                commands_job_log(api, env, id, name ? name : id, true, NULL, &res) < 0) {
                rc = commands_exit_after_failure(api);
                goto done;
            }
        }
    }
    cJSON_Delete(run);
    run = commands_wait_final(api, esc_id, &reply);
    if (run == NULL) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    status = commands_str(run, "status");
    rc = commands_exit_for(status);
    if (json) {
        commands_print_raw(&reply);
        goto done;
    }
    commands_duration(run, "created_at", "ended_at", dur, sizeof(dur));
    printf("%s---- run %s ", env->color ? ANSI_BOLD : "", commands_str(run, "id"));
    commands_print_status(env, status, 0);
    printf("%s in %s%s\n", env->color ? ANSI_BOLD : "", dur, env->color ? ANSI_RESET : "");
    if (commands_str(run, "error") != NULL)
        printf("  %s\n", commands_str(run, "error"));
    commands_print_jobs(env, cJSON_GetObjectItemCaseSensitive(run, "jobs"));
done:
    cJSON_Delete(run);
    apiclient_reply_free(&reply);
    return rc;
}

/* ---- the commands ---- */

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

/*
 * A run was started (run: the API's reply, owned from here on): print its
 * id, or with -f follow it to its end. Returns the exit status.
 */
static int
commands_started(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                 const apiclient_reply_t *reply, cJSON *run)
{
    char *id;
    int rc;

    if (commands_str(run, "id") == NULL) {
        fprintf(stderr, "gitweave: the API's reply names no run\n");
        cJSON_Delete(run);
        return COMMANDS_EXIT_ERROR;
    }
    if (!c->follow) {
        if (c->json)
            commands_print_raw(reply);
        else
            printf("%s\n", commands_str(run, "id"));
        cJSON_Delete(run);
        return COMMANDS_EXIT_OK;
    }
    id = apiclient_escape(api, commands_str(run, "id"));
    if (!c->json) {
        printf("run %s: %s, template %s, ref %s\n", commands_str(run, "id"),
               commands_or_dash(commands_str(run, "repo")),
               commands_or_dash(commands_str(run, "template")),
               commands_or_dash(commands_str(run, "ref")));
        fflush(stdout);
    }
    rc = commands_follow_run(api, env, id, run, c->json);
    free(id);
    return rc;
}

static int
commands_run(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    cJSON *body = cJSON_CreateObject(), *run = NULL;
    char *repo = apiclient_escape(api, c->repo), *path, *text;
    int rc = COMMANDS_EXIT_ERROR;

    if (c->template_name != NULL)
        cJSON_AddStringToObject(body, "template", c->template_name);
    if (c->ninputs > 0)
        cJSON_AddItemToObject(body, "inputs", commands_inputs(c));
    if (c->ref != NULL)
        cJSON_AddStringToObject(body, "ref", c->ref);
    if (c->commit != NULL)
        cJSON_AddStringToObject(body, "commit", c->commit);
    text = cJSON_PrintUnformatted(body);
    path = xasprintf("/repos/%s/pipelines/run", repo);
    apiclient_reply_init(&reply);
    if (commands_call(api, "POST", path, "application/json", text, strlen(text), &reply, &run) <
        0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    rc = commands_started(c, api, env, &reply, run);
    run = NULL;
done:
    cJSON_Delete(body);
    cJSON_Delete(run);
    cJSON_free(text);
    free(repo);
    free(path);
    apiclient_reply_free(&reply);
    return rc;
}

/* rerun: a new run of exactly the jobs of a finished one. */
static int
commands_rerun(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    char *id = apiclient_escape(api, c->id);
    char *path = xasprintf("/pipelines/runs/%s/rerun", id);
    cJSON *run = NULL;
    int rc;

    apiclient_reply_init(&reply);
    if (commands_call(api, "POST", path, NULL, NULL, 0, &reply, &run) < 0)
        rc = commands_exit_after_failure(api);
    else
        rc = commands_started(c, api, env, &reply, run);
    apiclient_reply_free(&reply);
    free(path);
    free(id);
    return rc;
}

/* logs of one job (no run has this id). */
static int
commands_logs_job(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    logtail_result_t res;
    buf_t collect;
    int rc;

    buf_init(&collect);
    if (commands_job_log(api, env, c->id, NULL, c->follow, c->json ? &collect : NULL, &res) < 0) {
        buf_free(&collect);
        return commands_exit_after_failure(api);
    }
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        char *text;
        cJSON_AddStringToObject(o, "id", c->id);
        cJSON_AddStringToObject(o, "status", res.status);
        cJSON_AddStringToObject(o, "log", collect.data ? collect.data : "");
        text = cJSON_PrintUnformatted(o);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    }
    buf_free(&collect);
    rc = c->follow ? commands_exit_for(res.status) : COMMANDS_EXIT_OK;
    return rc;
}

static int
commands_logs(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    char *id = apiclient_escape(api, c->id), *path = xasprintf("/pipelines/runs/%s", id);
    cJSON *run = NULL, *list = NULL;
    const cJSON *j;
    int got, rc = COMMANDS_EXIT_ERROR;

    apiclient_reply_init(&reply);
    got = apiclient_call(api, "GET", path, NULL, NULL, 0, &reply);
    if (got == 0 && reply.status == 404) {
        /* Not a run: a job, or nothing (which the job's 404 will say). */
        rc = commands_logs_job(c, api, env);
        goto done;
    }
    if (got < 0 || reply.status != 200 ||
        (run = cJSON_ParseWithLength(reply.body.data, reply.body.len)) == NULL) {
        apiclient_print_failure(api, got, &reply);
        rc = commands_exit_after_failure(api);
        goto done;
    }
    list = cJSON_CreateArray();
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(run, "jobs"))
    {
        const char *job = commands_str(j, "id"), *name = commands_str(j, "name");
        logtail_result_t res;
        buf_t collect;

        buf_init(&collect);
        if (job == NULL || commands_job_log(api, env, job, name ? name : job, c->follow,
                                            c->json ? &collect : NULL, &res) < 0) {
            buf_free(&collect);
            rc = commands_exit_after_failure(api);
            goto done;
        }
        if (c->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", job);
            cJSON_AddStringToObject(o, "name", commands_or_dash(name));
            cJSON_AddStringToObject(o, "status", res.status);
            cJSON_AddStringToObject(o, "log", collect.data ? collect.data : "");
            cJSON_AddItemToArray(list, o);
        }
        buf_free(&collect);
    }
    rc = COMMANDS_EXIT_OK;
    if (c->follow) {
        /* Every job ended: the run's status is final, or about to be. */
        cJSON_Delete(run);
        run = commands_wait_final(api, id, &reply);
        if (run == NULL) {
            rc = commands_exit_after_failure(api);
            goto done;
        }
        rc = commands_exit_for(commands_str(run, "status"));
    }
    if (c->json) {
        char *text = cJSON_PrintUnformatted(list);
        printf("%s\n", text);
        cJSON_free(text);
    }
done:
    cJSON_Delete(run);
    cJSON_Delete(list);
    free(id);
    free(path);
    apiclient_reply_free(&reply);
    return rc;
}

static int
commands_runs(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    /* Without a repo, the runs of every repo, each named. */
    char *repo = c->repo ? apiclient_escape(api, c->repo) : NULL;
    char *status = c->status ? apiclient_escape(api, c->status) : NULL;
    cJSON *page = NULL;
    const cJSON *r;
    buf_t path;
    int rc = COMMANDS_EXIT_ERROR;

    buf_init(&path);
    if (repo != NULL)
        buf_printf(&path, "/repos/%s/pipelines/runs?", repo);
    else
        buf_puts(&path, "/pipelines/runs?");
    if (status != NULL)
        buf_printf(&path, "status=%s&", status);
    if (c->limit > 0)
        buf_printf(&path, "limit=%ld", c->limit);
    apiclient_reply_init(&reply);
    if (commands_call(api, "GET", path.data, NULL, NULL, 0, &reply, &page) < 0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    rc = COMMANDS_EXIT_OK;
    if (c->json) {
        commands_print_raw(&reply);
        goto done;
    }
    printf("%-36s  %-8s  ", "RUN", "STATUS");
    if (repo == NULL)
        printf("%-16s  ", "REPO");
    printf("%-16s  %-7s  %-19s  %8s  %s\n", "TEMPLATE", "TRIGGER", "CREATED", "DURATION", "REF");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(page, "runs"))
    {
        char created[20], dur[32];
        commands_duration(r, "started_at", "ended_at", dur, sizeof(dur));
        printf("%-36s  ", commands_or_dash(commands_str(r, "id")));
        commands_print_status(env, commands_str(r, "status"), 8);
        if (repo == NULL)
            printf("  %-16s", commands_or_dash(commands_str(r, "repo")));
        printf("  %-16s  %-7s  %-19s  %8s  %s\n", commands_or_dash(commands_str(r, "template")),
               commands_or_dash(commands_str(r, "trigger")),
               commands_short_time(commands_str(r, "created_at"), created), dur,
               commands_or_dash(commands_str(r, "ref")));
    }
done:
    cJSON_Delete(page);
    apiclient_reply_free(&reply);
    buf_free(&path);
    free(repo);
    free(status);
    return rc;
}

static int
commands_show(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    char *id = apiclient_escape(api, c->id);
    cJSON *run;
    const cJSON *v;
    char created[20], dur[32];
    int rc = COMMANDS_EXIT_OK;

    apiclient_reply_init(&reply);
    run = commands_get_run(api, id, &reply);
    if (run == NULL) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    if (c->json) {
        commands_print_raw(&reply);
        goto done;
    }
    commands_duration(run, "started_at", "ended_at", dur, sizeof(dur));
    printf("run       %s\n", commands_str(run, "id"));
    printf("status    ");
    commands_print_status(env, commands_str(run, "status"), 0);
    putchar('\n');
    printf("repo      %s\n", commands_or_dash(commands_str(run, "repo")));
    v = cJSON_GetObjectItemCaseSensitive(run, "template_version");
    printf("template  %s (version %d)\n", commands_or_dash(commands_str(run, "template")),
           cJSON_IsNumber(v) ? v->valueint : 0);
    printf("trigger   %s\n", commands_or_dash(commands_str(run, "trigger")));
    printf("ref       %s\n", commands_or_dash(commands_str(run, "ref")));
    printf("commit    %s\n", commands_or_dash(commands_str(run, "commit")));
    printf("runner    %s\n", commands_or_dash(commands_str(run, "runner")));
    printf("created   %s\n", commands_short_time(commands_str(run, "created_at"), created));
    printf("duration  %s\n", dur);
    if (commands_str(run, "error") != NULL)
        printf("error     %s\n", commands_str(run, "error"));
    printf("jobs\n");
    commands_print_jobs(env, cJSON_GetObjectItemCaseSensitive(run, "jobs"));
done:
    cJSON_Delete(run);
    apiclient_reply_free(&reply);
    free(id);
    return rc;
}

static int
commands_cancel(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    char *id = apiclient_escape(api, c->id);
    char *path = xasprintf("/pipelines/runs/%s/cancel", id);
    cJSON *run = NULL;
    int rc = COMMANDS_EXIT_OK;

    apiclient_reply_init(&reply);
    if (commands_call(api, "POST", path, NULL, NULL, 0, &reply, &run) < 0) {
        rc = commands_exit_after_failure(api);
    } else if (c->json) {
        commands_print_raw(&reply);
    } else {
        const char *status = commands_str(run, "status");
        if (status != NULL && strcmp(status, "canceled") == 0)
            printf("run %s canceled\n", c->id);
        else
            printf("run %s: cancel requested; its runner stops it\n", c->id);
    }
    cJSON_Delete(run);
    apiclient_reply_free(&reply);
    free(path);
    free(id);
    return rc;
}

static int
commands_runners(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    cJSON *list = NULL;
    const cJSON *r;
    int rc = COMMANDS_EXIT_OK;

    apiclient_reply_init(&reply);
    if (commands_call(api, "GET", "/runners", NULL, NULL, 0, &reply, &list) < 0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    if (c->json) {
        commands_print_raw(&reply);
        goto done;
    }
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
done:
    cJSON_Delete(list);
    apiclient_reply_free(&reply);
    return rc;
}

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

/* The default template name: FILE's base name without .yaml, .yml or .json. */
static char *
commands_template_name(const char *file)
{
    static const char *const exts[] = {".yaml", ".yml", ".json"};
    const char *base = strrchr(file, '/');
    size_t n;

    base = base ? base + 1 : file;
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
commands_template_put(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    bool from_stdin = strcmp(c->file, "-") == 0;
    size_t len = strlen(c->file);
    bool json = len > 5 && strcmp(c->file + len - 5, ".json") == 0;
    char *name = NULL, *esc = NULL, *path = NULL;
    cJSON *o = NULL;
    FILE *f = NULL;
    buf_t text;
    int rc = COMMANDS_EXIT_ERROR;

    buf_init(&text);
    apiclient_reply_init(&reply);
    if (from_stdin && c->name == NULL) {
        fprintf(stderr, "gitweave: a template read from standard input needs a NAME\n");
        goto done;
    }
    f = from_stdin ? stdin : fopen(c->file, "rb");
    if (f == NULL || commands_slurp(f, &text) < 0) {
        fprintf(stderr, "gitweave: could not read \"%s\": %s\n", c->file, strerror(errno));
        goto done;
    }
    name = c->name ? xstrdup(c->name) : commands_template_name(c->file);
    esc = apiclient_escape(api, name);
    path = xasprintf("/templates/%s", esc);
    if (commands_call(api, "PUT", path, json ? "application/json" : "application/yaml",
                      text.data ? text.data : "", text.len, &reply, &o) < 0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    rc = COMMANDS_EXIT_OK;
    if (c->json)
        commands_print_raw(&reply);
    else
        commands_print_upserted("template", name, &reply, o);
done:
    if (f != NULL && !from_stdin)
        fclose(f);
    cJSON_Delete(o);
    apiclient_reply_free(&reply);
    buf_free(&text);
    free(name);
    free(esc);
    free(path);
    return rc;
}

static int
commands_repo_put(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    cJSON *body = cJSON_CreateObject(), *o = NULL;
    char *esc = apiclient_escape(api, c->name), *path = xasprintf("/repos/%s", esc), *text;
    int rc = COMMANDS_EXIT_OK;

    /* An empty --clone-url removes the URL (null); left out, it is kept. */
    if (c->clone_url != NULL && c->clone_url[0] == '\0')
        cJSON_AddNullToObject(body, "clone_url");
    else if (c->clone_url != NULL)
        cJSON_AddStringToObject(body, "clone_url", c->clone_url);
    if (c->branch != NULL)
        cJSON_AddStringToObject(body, "default_branch", c->branch);
    text = cJSON_PrintUnformatted(body);
    apiclient_reply_init(&reply);
    if (commands_call(api, "PUT", path, "application/json", text, strlen(text), &reply, &o) < 0)
        rc = commands_exit_after_failure(api);
    else if (c->json)
        commands_print_raw(&reply);
    else
        commands_print_upserted("repo", c->name, &reply, NULL);
    cJSON_Delete(body);
    cJSON_Delete(o);
    cJSON_free(text);
    apiclient_reply_free(&reply);
    free(esc);
    free(path);
    return rc;
}

static int
commands_attach(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    cJSON *body = cJSON_CreateObject(), *o = NULL;
    char *repo = apiclient_escape(api, c->repo), *tmpl = apiclient_escape(api, c->name);
    char *path = xasprintf("/repos/%s/templates/%s", repo, tmpl), *text;
    int rc = COMMANDS_EXIT_OK;

    if (c->ninputs > 0)
        cJSON_AddItemToObject(body, "inputs", commands_inputs(c));
    text = cJSON_PrintUnformatted(body);
    apiclient_reply_init(&reply);
    if (commands_call(api, "PUT", path, "application/json", text, strlen(text), &reply, &o) < 0)
        rc = commands_exit_after_failure(api);
    else if (c->json)
        commands_print_raw(&reply);
    else
        printf("template %s attached to repo %s\n", c->name, c->repo);
    cJSON_Delete(body);
    cJSON_Delete(o);
    cJSON_free(text);
    apiclient_reply_free(&reply);
    free(repo);
    free(tmpl);
    free(path);
    return rc;
}

int
commands_exec(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    typedef int (*commands_fn)(const cmdline_t *, apiclient_t *, const commands_env_t *);
    static const commands_fn table[CMD__COUNT] = {
        [CMD_RUN] = commands_run,
        [CMD_LOGS] = commands_logs,
        [CMD_RUNS] = commands_runs,
        [CMD_SHOW] = commands_show,
        [CMD_CANCEL] = commands_cancel,
        [CMD_RERUN] = commands_rerun,
        [CMD_RUNNERS] = commands_runners,
        [CMD_TEMPLATE_PUT] = commands_template_put,
        [CMD_REPO_PUT] = commands_repo_put,
        [CMD_ATTACH] = commands_attach,
    };

    if (c->cmd <= CMD_NONE || c->cmd >= CMD__COUNT || table[c->cmd] == NULL)
        return COMMANDS_EXIT_ERROR;
    return table[c->cmd](c, api, env);
}
