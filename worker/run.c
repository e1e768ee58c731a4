/*
 * run - executes one claimed run: its jobs in order, their logs, timeouts,
 * cancel, and the final statuses.
 *
 * A small state machine, advanced by run_step whenever something happens
 * (a job ended, the database came back, a retry timer fired). Each step that
 * writes to the database can fail with the connection gone: the step then
 * stays where it is and runs again after the reconnect. Writes are fenced
 * and idempotent, so running a step twice is safe.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "log_sink.h"
#include "worker_internal.h"
#include "workspace.h"

typedef enum {
    RS_PREPARE,     /* make the workspace */
    RS_START_JOB,   /* mark the next job running, start it */
    RS_JOB_RUNNING, /* wait for the engine's done */
    RS_JOB_DONE,    /* store the rest of the log and the job's status */
    RS_FINISH,      /* end the run */
} run_state_t;

typedef enum { STOP_NONE, STOP_TIMEOUT, STOP_CANCEL, STOP_SHUTDOWN } stop_reason_t;

/* Consecutive failures of statements (with the connection up) before the
 * run is given up. */
#define RUN_MAX_DB_FAILURES 30
/* How long past its stop grace a stopped job may take to end before it is
 * dropped (its container force-removed) and ends without waiting for the
 * engine, however much output is still on its way. */
#define RUN_STOP_SLACK_S 3

struct run_exec {
    worker_t *w;
    q_run_t *q;
    run_state_t state;
    size_t cur;
    char *workspace;
    engine_job_t *job;
    log_sink_t *sink;
    bool sink_finished;
    struct event *timeout_ev;
    struct event *flush_ev;
    struct event *retry_ev;
    struct event *kill_ev; /* a stopped job that does not end is dropped */
    int db_failures;
    stop_reason_t stop;
    bool cancel_requested;
    bool shutdown;
    /* the current job's end */
    int exit_code;
    char *job_error;
    int job_timeout;
    bool checkout; /* the current job is the checkout */
    /* the run's end */
    gw_status_t run_status;
    gw_status_t rest_status;
    char *run_error;
};

static void run_step(run_exec_t *r);

const char *
run_exec_id(const run_exec_t *r)
{
    return r->q->fence.run_id;
}

const char *
run_exec_job_id(const run_exec_t *r)
{
    return r->state == RS_JOB_RUNNING ? r->q->jobs[r->cur].id : NULL;
}

static void
set_str(char **dst, char *src)
{
    free(*dst);
    *dst = src;
}

/* The database refused a write: the run is not ours any more (its lease ran
 * out and it was reaped, or it was reassigned). Stop working on it. */
static void
run_abandon(run_exec_t *r, const char *what)
{
    log_error("worker", "lost the run while %s; abandoning it run=%s attempt=%s", what,
              r->q->fence.run_id, r->q->fence.attempt);
    worker_run_finished(r->w);
}

/* A statement failed: retry the step after the reconnect, or after a second
 * when the connection is still up (a transient error). */
static void
run_retry_later(run_exec_t *r)
{
    worker_db_failed(r->w);
    if (r->w->conn == NULL)
        return;
    /* The connection is up, yet the statement keeps failing: give the run
     * up rather than renew its lease forever; the reaper then ends it. */
    if (++r->db_failures > RUN_MAX_DB_FAILURES) {
        log_error("worker", "a statement failed %d times; giving the run up run=%s",
                  r->db_failures, r->q->fence.run_id);
        engine_job_free(r->job);
        r->job = NULL;
        worker_run_finished(r->w);
        return;
    }
    struct timeval tv = {1, 0};
    evtimer_add(r->retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    run_exec_t *r = arg;
    worker_t *w = r->w;

    run_step(r);
    /* r may be gone here. A statement may have read a notification (a
     * cancel) into libpq's buffer, where the socket event will not see it. */
    worker_drain_notifies(w);
}

/* Store what the sink has ready; failures leave it queued. */
static void
run_flush_logs(run_exec_t *r)
{
    if (r->sink == NULL || !log_sink_pending(r->sink) || r->w->conn == NULL)
        return;
    if (log_sink_flush(r->sink, r->w->conn) != Q_OK)
        worker_db_failed(r->w);
}

static void
run_arm_flush(run_exec_t *r)
{
    int64_t at = r->sink ? log_sink_deadline(r->sink) : -1;
    if (at < 0 || evtimer_pending(r->flush_ev, NULL))
        return;
    int64_t ms = at - gw_now_ms();
    if (ms < 0)
        ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(r->flush_ev, &tv);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    run_exec_t *r = arg;
    if (r->sink == NULL)
        return;
    log_sink_tick(r->sink);
    run_flush_logs(r);
    run_arm_flush(r);
    worker_drain_notifies(r->w);
}

static void
job_output(void *arg, const char *data, size_t len)
{
    run_exec_t *r = arg;
    log_sink_write(r->sink, data, len);
    run_flush_logs(r);
    run_arm_flush(r);
    worker_drain_notifies(r->w);
}

static void
job_done(void *arg, int exit_code, const char *error)
{
    run_exec_t *r = arg;

    r->exit_code = exit_code;
    set_str(&r->job_error, error ? xstrdup(error) : NULL);
    evtimer_del(r->timeout_ev);
    evtimer_del(r->kill_ev);
    r->state = RS_JOB_DONE;
    /* Not from inside the engine's callback: it frees the job next. */
    struct timeval tv = {0, 0};
    evtimer_add(r->retry_ev, &tv);
}

static void
run_stop_job(run_exec_t *r, stop_reason_t why)
{
    if (r->stop == STOP_NONE || why == STOP_SHUTDOWN)
        r->stop = why;
    if (r->state == RS_JOB_RUNNING && r->job != NULL) {
        engine_job_stop(r->job, r->w->cfg->stop_grace);
        if (!evtimer_pending(r->kill_ev, NULL)) {
            struct timeval tv = {r->w->cfg->stop_grace + RUN_STOP_SLACK_S, 0};
            evtimer_add(r->kill_ev, &tv);
        }
    }
}

/* A stopped job did not end in time (the engine is slow, or still busy with
 * its output): drop it, which removes it at once, and end it here. */
static void
kill_cb(evutil_socket_t fd, short what, void *arg)
{
    run_exec_t *r = arg;

    if (r->state != RS_JOB_RUNNING || r->job == NULL)
        return;
    log_warn("worker", "a stopped job did not end in time; removing it run=%s job=%s",
             r->q->fence.run_id, r->q->jobs[r->cur].id);
    engine_job_free(r->job);
    r->job = NULL;
    job_done(r, -1, "the job did not end after it was stopped");
}

/* "checkout timed out" or "timed out", as the current job is. */
static const char *
run_timed_out_text(const run_exec_t *r)
{
    return r->checkout ? "checkout timed out" : "timed out";
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    run_exec_t *r = arg;
    if (r->state != RS_JOB_RUNNING || r->stop != STOP_NONE)
        return;
    log_info("worker", "job timed out run=%s job=%s timeout=%d", r->q->fence.run_id,
             r->q->jobs[r->cur].id, r->job_timeout);
    log_sink_notef(r->sink, "[gitweave] %s %s after %d s; stopping it",
                   r->checkout ? "the" : "job", run_timed_out_text(r), r->job_timeout);
    run_flush_logs(r);
    run_stop_job(r, STOP_TIMEOUT);
}

void
run_exec_cancel(run_exec_t *r)
{
    if (r->cancel_requested || r->shutdown)
        return;
    r->cancel_requested = true;
    log_info("worker", "cancel requested run=%s", r->q->fence.run_id);
    if (r->state == RS_JOB_RUNNING) {
        log_sink_notef(r->sink, "[gitweave] the run was canceled; stopping the job");
        run_flush_logs(r);
        run_stop_job(r, STOP_CANCEL);
    }
}

void
run_exec_shutdown(run_exec_t *r)
{
    if (r->shutdown)
        return;
    r->shutdown = true;
    if (r->state == RS_JOB_RUNNING) {
        log_sink_notef(r->sink, "[gitweave] the runner is shutting down; stopping the job");
        run_flush_logs(r);
        run_stop_job(r, STOP_SHUTDOWN);
    }
}

void
run_exec_renew(run_exec_t *r)
{
    bool cancel = false;

    if (r->w->conn == NULL)
        return;
    switch (q_renew(r->w->conn, &r->q->fence, r->w->cfg->lease_seconds, &cancel)) {
    case Q_OK:
        if (cancel)
            run_exec_cancel(r);
        break;
    case Q_FENCED:
        if (r->job)
            engine_job_free(r->job); /* stops it without a done */
        r->job = NULL;
        run_abandon(r, "renewing its lease");
        break;
    case Q_ERROR:
        worker_db_failed(r->w);
        break;
    }
}

void
run_exec_resume(run_exec_t *r)
{
    run_flush_logs(r);
    if (r->state != RS_JOB_RUNNING)
        run_step(r);
}

/* The environment of a job: its own env first (so it wins), then the
 * runner's variables that it does not set. NULL-terminated; caller frees
 * with free_env. */
static char **
job_env(run_exec_t *r, const q_job_t *j, bool local)
{
    const q_run_t *q = r->q;
    size_t n = 0, cap = 16;
    char **env = xcalloc(cap, sizeof(char *));
    char *extra[16];
    size_t nextra = 0;

    for (char **e = j->env; e && *e; e++) {
        if (n + 1 >= cap)
            env = xrealloc(env, (cap *= 2) * sizeof(char *));
        env[n++] = xstrdup(*e);
    }
    extra[nextra++] = xstrdup("CI=true");
    extra[nextra++] = xasprintf("GITWEAVE_RUN_ID=%s", q->fence.run_id);
    extra[nextra++] = xasprintf("GITWEAVE_JOB_ID=%s", j->id);
    extra[nextra++] = xasprintf("GITWEAVE_JOB_NAME=%s", j->name);
    extra[nextra++] = xasprintf("GITWEAVE_REPO=%s", q->repo);
    extra[nextra++] = xasprintf("GITWEAVE_REF=%s", q->ref ? q->ref : "");
    extra[nextra++] = xasprintf("GITWEAVE_COMMIT=%s", q->commit ? q->commit : "");
    if (local) {
        const char *home = getenv("HOME");
        const char *path = getenv("PATH");
        if (home)
            extra[nextra++] = xasprintf("HOME=%s", home);
        if (path)
            extra[nextra++] = xasprintf("PATH=%s", path);
    }
    if (strcmp(j->kind, "checkout") == 0) {
        extra[nextra++] = xasprintf("GW_CLONE_URL=%s", q->clone_url ? q->clone_url : "");
        extra[nextra++] = xasprintf("GW_REF=%s", q->ref ? q->ref : "");
        extra[nextra++] = xasprintf("GW_COMMIT=%s", q->commit ? q->commit : "");
        extra[nextra++] = xasprintf("GW_CLEAN=%s", q->clean ? "1" : "0");
        char *git_dir = workspace_git_dir(r->w->cfg->workdir, r->w->cfg->runner_name, q->repo);
        extra[nextra++] = xasprintf("GW_GIT_DIR=%s", git_dir);
        free(git_dir);
    }
    for (size_t i = 0; i < nextra; i++) {
        size_t klen = strcspn(extra[i], "=") + 1;
        bool set = false;
        for (size_t k = 0; k < n && !set; k++)
            set = strncmp(env[k], extra[i], klen) == 0;
        if (set) {
            free(extra[i]);
            continue;
        }
        if (n + 1 >= cap)
            env = xrealloc(env, (cap *= 2) * sizeof(char *));
        env[n++] = extra[i];
    }
    env[n] = NULL;
    return env;
}

static void
free_env(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

static char *
join_script(const q_job_t *j)
{
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < j->nscript; i++) {
        buf_puts(&b, j->script[i]);
        buf_puts(&b, "\n");
    }
    return buf_steal(&b);
}

/* The run ends because the runner is stopping or the run was canceled:
 * set its final status, that of the jobs not started, and its error. */
static void
run_end_stopped(run_exec_t *r, stop_reason_t why)
{
    if (why == STOP_SHUTDOWN) {
        r->run_status = ST_FAILED;
        r->rest_status = ST_SKIPPED;
        set_str(&r->run_error, xasprintf("runner %s was stopped while the run was in progress",
                                         r->w->cfg->runner_name));
    } else {
        r->run_status = ST_CANCELED;
        r->rest_status = ST_CANCELED;
        set_str(&r->run_error, xstrdup("canceled"));
    }
}

/* Decide how the run ends after the current job. Returns true when it ends
 * now; false to go on with the next job. */
static bool
run_judge_job(run_exec_t *r, gw_status_t *job_status, char **job_error)
{
    const q_job_t *j = &r->q->jobs[r->cur];

    *job_error = r->job_error ? xstrdup(r->job_error) : NULL;
    if (r->stop == STOP_SHUTDOWN) {
        *job_status = ST_FAILED;
        set_str(job_error, xstrdup("the runner was stopped"));
        run_end_stopped(r, STOP_SHUTDOWN);
        return true;
    }
    if (r->stop == STOP_CANCEL) {
        *job_status = ST_CANCELED;
        run_end_stopped(r, STOP_CANCEL);
        return true;
    }
    if (r->stop == STOP_TIMEOUT) {
        *job_status = ST_FAILED;
        set_str(job_error, xasprintf("%s after %d s", run_timed_out_text(r), r->job_timeout));
    } else if (r->exit_code == 0) {
        *job_status = ST_SUCCESS;
        return false;
    } else {
        *job_status = ST_FAILED;
        if (*job_error == NULL)
            *job_error = xasprintf("exited with code %d", r->exit_code);
    }
    if (j->allow_failure)
        return false;
    r->run_status = ST_FAILED;
    r->rest_status = ST_SKIPPED;
    set_str(&r->run_error, xasprintf("job %s failed: %s", j->name, *job_error));
    return true;
}

/* Start the current job. Returns false when the step must wait. */
static bool
run_start_job(run_exec_t *r)
{
    const q_job_t *j = &r->q->jobs[r->cur];
    const gw_config_t *cfg = r->w->cfg;
    bool checkout = strcmp(j->kind, "checkout") == 0;

    switch (q_job_start(r->w->conn, &r->q->fence, j->id)) {
    case Q_ERROR:
        run_retry_later(r);
        return false;
    case Q_FENCED:
        run_abandon(r, "starting a job");
        return false;
    case Q_OK:
        r->db_failures = 0;
        break;
    }
    log_info("worker", "job started run=%s job=%s name=%s", r->q->fence.run_id, j->id, j->name);
    r->sink = log_sink_new(&r->q->fence, j->id, (size_t)cfg->log_chunk_bytes, cfg->log_flush_ms,
                           (size_t)cfg->log_max_bytes);
    r->sink_finished = false;
    r->stop = STOP_NONE;
    r->exit_code = -1;
    set_str(&r->job_error, NULL);
    r->checkout = checkout;
    if (checkout)
        r->job_timeout = cfg->checkout_timeout;
    else
        r->job_timeout = j->timeout > 0 ? j->timeout : cfg->job_timeout;

    engine_t *e = checkout ? r->w->local : r->w->engine;
    char **env = job_env(r, j, e == r->w->local);
    char *script = checkout ? xstrdup(workspace_checkout_script()) : join_script(j);
    engine_job_spec_t spec = {
        .job_id = j->id,
        .run_id = r->q->fence.run_id,
        .runner_id = r->w->runner_id,
        .image = j->image,
        .script = script,
        .env = (const char *const *)env,
        .workspace = r->workspace,
    };
    static const engine_callbacks_t cb = {job_output, job_done};
    r->state = RS_JOB_RUNNING;
    r->job = engine_job_start(e, &spec, &cb, r);
    free(script);
    free_env(env);
    if (r->job == NULL) {
        job_done(r, -1, "the engine could not start the job");
        return false;
    }
    struct timeval tv = {r->job_timeout, 0};
    evtimer_add(r->timeout_ev, &tv);
    if (r->cancel_requested)
        run_stop_job(r, STOP_CANCEL);
    if (r->shutdown)
        run_stop_job(r, STOP_SHUTDOWN);
    return false;
}

/* Store the end of the current job. Returns true to go on stepping. */
static bool
run_end_job(run_exec_t *r)
{
    const q_job_t *j = &r->q->jobs[r->cur];
    gw_status_t st;
    char *err = NULL;

    if (r->job) {
        engine_job_free(r->job);
        r->job = NULL;
    }
    if (!r->sink_finished) {
        log_sink_finish(r->sink);
        r->sink_finished = true;
    }
    if (r->w->conn == NULL || log_sink_flush(r->sink, r->w->conn) != Q_OK) {
        run_retry_later(r);
        return false;
    }
    bool ends = run_judge_job(r, &st, &err);
    q_result_t res = q_job_end(r->w->conn, &r->q->fence, j->id, st, r->exit_code, err);
    if (res == Q_ERROR) {
        free(err);
        run_retry_later(r);
        return false;
    }
    if (res == Q_FENCED) {
        free(err);
        run_abandon(r, "ending a job");
        return false;
    }
    r->db_failures = 0;
    log_info("worker", "job ended run=%s job=%s status=%s exit=%d%s%s", r->q->fence.run_id,
             j->id, status_name(st), r->exit_code, err ? " error=" : "", err ? err : "");
    free(err);
    log_sink_free(r->sink);
    r->sink = NULL;
    evtimer_del(r->flush_ev);
    if (ends)
        r->state = RS_FINISH;
    else {
        r->cur++;
        r->state = RS_START_JOB;
    }
    return true;
}

static void
run_step(run_exec_t *r)
{
    worker_t *w = r->w;

    for (;;) {
        if (w->conn == NULL && r->state != RS_JOB_RUNNING)
            return; /* run_exec_resume continues after the reconnect */
        switch (r->state) {
        case RS_PREPARE: {
            char *err = NULL;
            if (r->q->spec_error != NULL) {
                log_error("worker", "%s run=%s", r->q->spec_error, r->q->fence.run_id);
                r->run_status = ST_FAILED;
                r->rest_status = ST_SKIPPED;
                set_str(&r->run_error, xstrdup(r->q->spec_error));
                r->state = RS_FINISH;
                break;
            }
            r->workspace =
                workspace_prepare(w->cfg->workdir, w->cfg->runner_name, r->q->repo, &err);
            if (r->workspace == NULL) {
                log_error("worker", "%s run=%s", err, r->q->fence.run_id);
                r->run_status = ST_FAILED;
                r->rest_status = ST_SKIPPED;
                set_str(&r->run_error, err);
                r->state = RS_FINISH;
                break;
            }
            r->state = RS_START_JOB;
            break;
        }
        case RS_START_JOB:
            if (r->cur >= r->q->njobs || r->cancel_requested || r->shutdown) {
                if (r->shutdown || r->cancel_requested)
                    run_end_stopped(r, r->shutdown ? STOP_SHUTDOWN : STOP_CANCEL);
                r->state = RS_FINISH;
                break;
            }
            if (!run_start_job(r))
                return;
            break;
        case RS_JOB_RUNNING:
            return;
        case RS_JOB_DONE:
            if (!run_end_job(r))
                return;
            break;
        case RS_FINISH:
            switch (q_run_end(w->conn, &r->q->fence, r->run_status, r->rest_status,
                              r->run_error)) {
            case Q_ERROR:
                run_retry_later(r);
                return;
            case Q_FENCED:
                run_abandon(r, "ending it");
                return;
            case Q_OK:
                log_info("worker", "run ended run=%s status=%s", r->q->fence.run_id,
                         status_name(r->run_status));
                worker_run_finished(w);
                return;
            }
            return;
        }
    }
}

run_exec_t *
run_exec_start(worker_t *w, q_run_t *q)
{
    run_exec_t *r = xcalloc(1, sizeof(*r));

    r->w = w;
    r->q = q;
    r->state = RS_PREPARE;
    r->run_status = ST_SUCCESS;
    r->rest_status = ST_SKIPPED;
    r->timeout_ev = evtimer_new(w->base, timeout_cb, r);
    r->flush_ev = evtimer_new(w->base, flush_cb, r);
    r->retry_ev = evtimer_new(w->base, retry_cb, r);
    r->kill_ev = evtimer_new(w->base, kill_cb, r);
    log_info("worker", "claimed run run=%s repo=%s attempt=%s jobs=%zu", q->fence.run_id, q->repo,
             q->fence.attempt, q->njobs);
    struct timeval tv = {0, 0};
    evtimer_add(r->retry_ev, &tv);
    return r;
}

void
run_exec_free(run_exec_t *r)
{
    if (r == NULL)
        return;
    engine_job_free(r->job);
    log_sink_free(r->sink);
    event_free(r->timeout_ev);
    event_free(r->flush_ev);
    event_free(r->retry_ev);
    event_free(r->kill_ev);
    q_run_free(r->q);
    free(r->workspace);
    free(r->job_error);
    free(r->run_error);
    free(r);
}
