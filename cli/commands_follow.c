/*
 * commands_follow - the commands that print logs: `logs`, and run or rerun
 * with -f, which follow a run job by job, in order (logtail.c reads each
 * log to its end), then print its summary; the run's final status gives
 * the exit status.
 *
 * While a job waits for a runner, a spinner on stderr says so (on a
 * terminal); it is cleared before the job's first byte. A job's log goes
 * through termsafe.c (only colours among its escape sequences reach the
 * terminal) unless --raw.
 */
#include "commands_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logtail.h"
#include "termsafe.h"

/* How long to wait between looks at a run whose jobs have all ended. */
#define COMMANDS_RUN_POLL_MS 250

static const char commands_spinner[] = "|/-\\";

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
    buf_t *collect;   /* --json: the bytes go here instead of stdout */
    termsafe_t *safe; /* the filter of what is printed, or NULL with --raw (owned) */
    buf_t shown;      /* what the filter let through, reused */
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

/* Print len bytes that may reach the terminal (after the header, over the spinner). */
static void
commands_print_log(commands_sink_t *s, const char *data, size_t len)
{
    if (len == 0)
        return;
    commands_print_header(s);
    commands_clear_spinner(s);
    fwrite(data, 1, len, stdout);
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
    if (s->safe != NULL) {
        buf_reset(&s->shown);
        termsafe_feed(s->safe, data, len, &s->shown);
        commands_print_log(s, s->shown.data, s->shown.len);
    } else {
        commands_print_log(s, data, len);
    }
    /* The filter never holds a newline back: the log's own last byte tells. */
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
 * only what is stored now; raw: its bytes unchanged, else through
 * termsafe. name: the header before its first byte, or NULL for none.
 * Returns 0 with *res, or -1 after printing why.
 */
static int
commands_job_log(apiclient_t *api, const commands_env_t *env, const char *job_id, const char *name,
                 bool wait, bool raw, buf_t *collect, logtail_result_t *res)
{
    commands_sink_t s = {.env = env, .job_name = name, .at_line_start = true, .collect = collect};
    logtail_opts_t o = {.sink = commands_sink, .tick = commands_tick, .ctx = &s, .wait = wait};
    int rc;

    if (!raw && collect == NULL)
        s.safe = termsafe_new();
    buf_init(&s.shown);
    rc = logtail_job(api, job_id, &o, res);
    if (s.safe != NULL) {
        /* What was held back, and a reset if a colour is still on (even after an error). */
        buf_reset(&s.shown);
        termsafe_finish(s.safe, &s.shown);
        commands_print_log(&s, s.shown.data, s.shown.len);
    }
    termsafe_free(s.safe);
    buf_free(&s.shown);
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

/* ---- following a run ---- */

/* The summary of a final run: its status, how long it waited and ran, its
 * error, a line per job. */
static void
commands_print_summary(const commands_env_t *env, const cJSON *run)
{
    char waited[32], ran[32];

    commands_seconds(run, "queued_seconds", waited, sizeof(waited));
    commands_seconds(run, "run_seconds", ran, sizeof(ran));
    printf("%s---- run %s ", env->color ? ANSI_BOLD : "", commands_str(run, "id"));
    commands_print_status(env, commands_str(run, "status"), 0);
    printf("%s: waited %s, ran %s%s\n", env->color ? ANSI_BOLD : "", waited, ran,
           env->color ? ANSI_RESET : "");
    if (commands_run_error(run) != NULL)
        commands_print_untrusted("  ", commands_run_error(run), "\n");
    commands_print_jobs(env, cJSON_GetObjectItemCaseSensitive(run, "jobs"));
}

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
 * Follow run esc_id (its jobs in `started`, borrowed): each job's header
 * and log, then the run's summary. Returns the exit status.
 */
static int
commands_follow_run(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                    const char *esc_id, const cJSON *started)
{
    apiclient_reply_t reply;
    const cJSON *j;
    cJSON *run = NULL;
    int rc = COMMANDS_EXIT_ERROR;

    apiclient_reply_init(&reply);
    if (!c->json) {
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(started, "jobs"))
        {
            logtail_result_t res;
            const char *id = commands_str(j, "id"), *name = commands_str(j, "name");
            if (id == NULL ||
                commands_job_log(api, env, id, name ? name : id, true, c->raw, NULL, &res) < 0) {
                rc = commands_exit_after_failure(api);
                goto done;
            }
        }
    }
    run = commands_wait_final(api, esc_id, &reply);
    if (run == NULL) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    rc = commands_exit_for(commands_str(run, "status"));
    if (c->json) {
        commands_print_raw(&reply);
        goto done;
    }
    commands_print_summary(env, run);
done:
    cJSON_Delete(run);
    apiclient_reply_free(&reply);
    return rc;
}

int
commands_started(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                 const apiclient_reply_t *reply, const cJSON *run)
{
    char *id;
    int rc;

    if (commands_str(run, "id") == NULL) {
        fprintf(stderr, "gitweave: the API's reply names no run\n");
        return COMMANDS_EXIT_ERROR;
    }
    if (!c->follow) {
        if (c->json)
            commands_print_raw(reply);
        else
            printf("%s\n", commands_str(run, "id"));
        return COMMANDS_EXIT_OK;
    }
    id = apiclient_escape(api, commands_str(run, "id"));
    if (!c->json) {
        char *page = apiclient_run_page(api, commands_str(run, "id"));
        printf("run %s: %s, template %s, ref %s\n  %s\n", commands_str(run, "id"),
               commands_or_dash(commands_str(run, "repo")),
               commands_or_dash(commands_str(run, "template")),
               commands_or_dash(commands_str(run, "ref")), page);
        free(page);
        fflush(stdout);
    }
    rc = commands_follow_run(c, api, env, id, run);
    free(id);
    return rc;
}

/* ---- logs ---- */

/*
 * Print the log of job (j: the job in its run, or NULL for a job asked for
 * by id, which prints no header), or with --json gather it into *out
 * ({"id", "name" for a job of a run, "status", "log"}; the caller deletes
 * it). Returns 0 with *res, or -1 after printing why.
 */
static int
commands_log_of(const cmdline_t *c, apiclient_t *api, const commands_env_t *env, const char *job,
                const cJSON *j, logtail_result_t *res, cJSON **out)
{
    const char *name = commands_str(j, "name");
    buf_t collect;
    int rc;

    *out = NULL;
    buf_init(&collect);
    rc = commands_job_log(api, env, job,
                          j == NULL ? NULL
                          : name    ? name
                                    : job,
                          c->follow, c->raw, c->json ? &collect : NULL, res);
    if (rc == 0 && c->json) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "id", job);
        if (j != NULL)
            cJSON_AddStringToObject(*out, "name", commands_or_dash(name));
        cJSON_AddStringToObject(*out, "status", res->status);
        cJSON_AddStringToObject(*out, "log", collect.data ? collect.data : "");
    }
    buf_free(&collect);
    return rc;
}

/* logs of one job (no run has this id). */
static int
commands_logs_job(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    logtail_result_t res;
    cJSON *o;

    if (commands_log_of(c, api, env, c->id, NULL, &res, &o) < 0)
        return commands_exit_after_failure(api);
    if (o != NULL)
        commands_print_json(o);
    cJSON_Delete(o);
    if (!c->follow)
        return COMMANDS_EXIT_OK;
    if (!c->json) {
        printf("%s---- job %s ", env->color ? ANSI_BOLD : "", c->id);
        commands_print_status(env, res.status, 0);
        if (res.has_exit_code)
            printf(" (exit %d)", res.exit_code);
        printf("%s\n", env->color ? ANSI_RESET : "");
    }
    return commands_exit_for(res.status);
}

int
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
        const char *job = commands_str(j, "id");
        logtail_result_t res;
        cJSON *o;

        if (job == NULL || commands_log_of(c, api, env, job, j, &res, &o) < 0) {
            rc = commands_exit_after_failure(api);
            goto done;
        }
        if (o != NULL)
            cJSON_AddItemToArray(list, o);
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
        if (!c->json)
            commands_print_summary(env, run);
    }
    if (c->json)
        commands_print_json(list);
done:
    cJSON_Delete(run);
    cJSON_Delete(list);
    free(id);
    free(path);
    apiclient_reply_free(&reply);
    return rc;
}
