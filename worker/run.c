/*
 * run - executes one claimed run (see run.h).
 *
 * A state machine whose table is in run_state.h (the states, the event
 * that moves each, what each allows); run_move is the only place the state
 * changes, and only as the table says. run_step advances it whenever
 * something happens (a job ended, a statement was answered, the database
 * came back, a retry timer fired). A step that writes sends one statement
 * and waits for its answer in a state of its own; a statement lost with
 * the connection is sent again after run_resume, one that failed otherwise
 * after a second. Writes are fenced and idempotent, so sending one twice
 * is safe. Statements of one run go on one connection and are answered in
 * order, which is what lets a job start before its "running" is answered,
 * and its log chunks go out ahead of its end without waiting for them.
 *
 * Longer than most files: it is one state machine whose steps share the
 * run's fields; its statements are in queue.c, its log in log_sink.c, its
 * job's environment in job_env.c and its job's steps in steps.c.
 */
#include "run.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "job_env.h"
#include "job_secrets.h"
#include "log_sink.h"
#include "run_state.h"
#include "steps.h"
#include "workspace.h"

/* The current job's "running" statement: its own small machine, in
 * parallel with the job's states (the job starts before it is answered). */
typedef enum {
    JS_NONE,   /* not sent yet */
    JS_SENT,   /* in flight */
    JS_OK,     /* stored */
    JS_RESEND, /* failed: send it again before anything else of the job */
} job_start_state_t;

typedef enum { STOP_NONE, STOP_TIMEOUT, STOP_CANCEL, STOP_SHUTDOWN } stop_reason_t;

/* What FINISH sends: the run's end, the run back to the queue, or the run
 * stopped with the runner (q_run_lost: retried or failed). Decided on the
 * way to FINISH, so a parameter of that state, not a state. */
typedef enum { END_RUN, END_REQUEUE, END_LOST } end_kind_t;

/* Consecutive failures of statements (with the connection up) before the
 * run is given up. */
#define RUN_MAX_DB_FAILURES 30
/* How long past its stop grace a stopped job may take to end before it is
 * dropped (its container force-removed) and ends without waiting for the
 * engine, however much output is still on its way. */
#define RUN_STOP_SLACK_S 3

struct run {
    const run_env_t *env;
    q_run_t *q;
    run_state_t state;
    size_t cur;
    int ws_index;
    char *workspace;
    engine_job_t *job;
    log_sink_t *sink;
    steps_t *steps; /* the current job's steps; NULL for the checkout */
    struct event *timeout_ev;
    struct event *flush_ev;
    struct event *retry_ev;
    struct event *kill_ev;  /* a stopped job that does not end is dropped */
    struct event *start_ev; /* starts the job on the engine */
    job_secrets_t *secrets; /* the current job's secrets, once opened (and masked) */
    int db_failures;
    int inflight; /* statements of the run not answered yet */
    job_start_state_t js;
    end_kind_t end;
    /* run_lost ended it here: why it is over, for the owner, not a state */
    bool given_up;
    stop_reason_t stop;
    /* Requests from outside, which may come in any state: the states that
     * act on them look at them (a cancel outlives the job it stopped). */
    bool cancel_requested;
    bool shutdown;
    /* the current job's end */
    int exit_code;
    char *job_error;
    int job_timeout;
    /* facts about the current job, not states of the run */
    bool checkout;    /* the current job is the checkout */
    bool output_seen; /* the current job has printed something */
    gw_status_t job_status;
    char *job_status_error;
    bool ends_with_job; /* the job's end sent is the run's end too */
    /* the run's end */
    gw_status_t run_status;
    gw_status_t rest_status;
    char *run_error;
    int64_t lease_until; /* gw_now_ms() by which the lease must be renewed */
};

static void run_step(run_t *r);
static void run_finish(run_t *r);

/* Move the run by ev: the one place its state changes, and only as the
 * table (run_state.c) says. A move the table lacks is a bug: it is logged
 * (and stops a debug build) and the run stays where it is. */
static void
run_move(run_t *r, run_event_t ev)
{
    int to = run_state_next(r->state, ev);

    if (to < 0) {
        log_error("worker", "bug: no move %s from state %s run=%s", run_event_name(ev),
                  run_state_name(r->state), r->q->fence.run_id);
        assert(to >= 0);
        return;
    }
    r->state = (run_state_t)to;
}

/* The current job has started (its "running" is sent) and has not ended. */
static bool
run_in_job(const run_t *r)
{
    return r->state == RS_SECRETS || r->state == RS_SECRETS_ASKED || r->state == RS_STARTING ||
           r->state == RS_RUNNING;
}

const char *
run_id(const run_t *r)
{
    return r->q->fence.run_id;
}

const char *
run_attempt(const run_t *r)
{
    return r->q->fence.attempt;
}

const char *
run_repo_id(const run_t *r)
{
    return r->q->repo_id;
}

int
run_workspace_index(const run_t *r)
{
    return r->ws_index;
}

const char *
run_job_id(const run_t *r)
{
    return run_in_job(r) ? r->q->jobs[r->cur].id : NULL;
}

bool
run_over(const run_t *r)
{
    return r->state == RS_OVER || r->state == RS_REPORTED;
}

static void
set_str(char **dst, char *src)
{
    free(*dst);
    *dst = src;
}

/* Tell the owner once the run is over and nothing of it is in flight. */
static void
run_check_done(run_t *r)
{
    if (r->state != RS_OVER || r->inflight > 0)
        return;
    run_move(r, RE_REPORTED);
    r->env->ended(r, r->env->arg);
}

/* The run is over (ev: ended as it should, or given up): nothing more is
 * sent; the owner is told once every answer is in. */
static void
run_set_over(run_t *r, run_event_t ev)
{
    if (r->job) {
        engine_job_free(r->job); /* stops it without a done */
        r->job = NULL;
    }
    evtimer_del(r->timeout_ev);
    evtimer_del(r->kill_ev);
    evtimer_del(r->flush_ev);
    evtimer_del(r->retry_ev);
    event_del(r->start_ev);
    run_move(r, ev);
    run_check_done(r);
}

/* The database refused a write: the run is not ours any more (its lease ran
 * out and it was reaped, or it was reassigned). Stop working on it. */
static void
run_abandon(run_t *r, const char *what)
{
    if (run_over(r))
        return;
    log_error("worker", "lost the run while %s; abandoning it run=%s attempt=%s", what,
              r->q->fence.run_id, r->q->fence.attempt);
    run_set_over(r, RE_GIVEN_UP);
}

void
run_lost(run_t *r)
{
    r->given_up = !run_over(r);
    run_abandon(r, "renewing its lease");
}

bool
run_given_up(const run_t *r)
{
    return r->given_up;
}

void
run_lease_renewed(run_t *r, int64_t until_ms)
{
    if (until_ms > r->lease_until)
        r->lease_until = until_ms;
}

int64_t
run_lease_until(const run_t *r)
{
    return r->lease_until;
}

/* Book a statement sent (pg_conn_query returned 0). */
static void
run_sent(run_t *r)
{
    r->inflight++;
}

/* An answer arrived; returns true when the run is over and the answer is
 * to be ignored. */
static bool
run_answered(run_t *r)
{
    r->inflight--;
    if (run_over(r)) {
        run_check_done(r);
        return true;
    }
    return false;
}

/* A statement failed. Lost with the connection (res NULL): run_resume sends
 * it again. Otherwise retry after a second, and give the run up when it
 * keeps failing with the connection up rather than renew its lease
 * forever; the reaper then ends it. */
static void
run_failed(run_t *r, const PGresult *res)
{
    if (res == NULL)
        return;
    if (++r->db_failures > RUN_MAX_DB_FAILURES) {
        log_error("worker", "a statement failed %d times; giving the run up run=%s", r->db_failures,
                  r->q->fence.run_id);
        run_set_over(r, RE_GIVEN_UP);
        return;
    }
    struct timeval tv = {1, 0};
    evtimer_add(r->retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    run_step(arg);
}

static void
job_started_cb(const PGresult *res, void *arg)
{
    run_t *r = arg;

    if (run_answered(r))
        return;
    switch (q_fenced(res, "start a job")) {
    case Q_OK:
        r->js = JS_OK;
        r->db_failures = 0;
        break;
    case Q_FENCED:
        run_abandon(r, "starting a job");
        break;
    case Q_ERROR:
        r->js = JS_RESEND;
        run_failed(r, res);
        break;
    }
}

/* Send what the connection lost, in order: the job's "running", then its
 * log chunks. Returns false while the connection is down. */
static bool
run_sync(run_t *r)
{
    if (r->js == JS_RESEND) {
        if (q_job_start(r->env->db, &r->q->fence, r->q->jobs[r->cur].id, job_started_cb, r) != 0)
            return false;
        run_sent(r);
        r->js = JS_SENT;
    }
    if (r->sink)
        log_sink_flush(r->sink, r->env->db);
    return pg_conn_state(r->env->db) == PG_READY;
}

static void
run_arm_flush(run_t *r)
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
    run_t *r = arg;
    if (r->sink == NULL)
        return;
    log_sink_tick(r->sink);
    log_sink_flush(r->sink, r->env->db);
    run_arm_flush(r);
}

static void
job_marks(void *arg, const char *data, size_t len)
{
    run_t *r = arg;
    if (r->steps)
        steps_feed(r->steps, data, len);
}

static void
job_output(void *arg, const char *data, size_t len)
{
    run_t *r = arg;
    /* The job's first output goes out with the header when it comes within
     * RUNNER_LOG_FIRST_MS of the start, within as long again when it comes
     * later (so that a job that ends by then still stores it with its end);
     * what follows waits for the size or time bound. */
    if (!r->output_seen) {
        r->output_seen = true;
        log_sink_cut_by(r->sink, gw_now_ms() + r->env->cfg->log_first_ms);
    }
    log_sink_write(r->sink, data, len);
    log_sink_flush(r->sink, r->env->db);
    run_arm_flush(r);
}

static void
job_done(void *arg, int exit_code, const char *error)
{
    run_t *r = arg;

    r->exit_code = exit_code;
    set_str(&r->job_error, error ? xstrdup(error) : NULL);
    evtimer_del(r->timeout_ev);
    evtimer_del(r->kill_ev);
    run_move(r, RE_JOB_DONE);
    /* Not from inside the engine's callback: it frees the job next. */
    struct timeval tv = {0, 0};
    evtimer_add(r->retry_ev, &tv);
}

static void
run_stop_job(run_t *r, stop_reason_t why)
{
    if (r->stop == STOP_NONE || why == STOP_SHUTDOWN)
        r->stop = why;
    if (r->state == RS_RUNNING) {
        engine_job_stop(r->job, r->env->cfg->stop_grace);
        if (!evtimer_pending(r->kill_ev, NULL)) {
            struct timeval tv = {r->env->cfg->stop_grace + RUN_STOP_SLACK_S, 0};
            evtimer_add(r->kill_ev, &tv);
        }
    }
}

/* A stopped job did not end in time (the engine is slow, or still busy with
 * its output): drop it, which removes it at once, and end it here. */
static void
kill_cb(evutil_socket_t fd, short what, void *arg)
{
    run_t *r = arg;

    if (r->state != RS_RUNNING)
        return;
    log_warn("worker", "a stopped job did not end in time; removing it run=%s job=%s",
             r->q->fence.run_id, r->q->jobs[r->cur].id);
    engine_job_free(r->job);
    r->job = NULL;
    job_done(r, -1, "the job did not end after it was stopped");
}

/* "checkout timed out" or "timed out", as the current job is. */
static const char *
run_timed_out_text(const run_t *r)
{
    return r->checkout ? "checkout timed out" : "timed out";
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    run_t *r = arg;
    if (r->state != RS_RUNNING || r->stop != STOP_NONE)
        return;
    log_info("worker", "job timed out run=%s job=%s timeout=%d", r->q->fence.run_id,
             r->q->jobs[r->cur].id, r->job_timeout);
    log_sink_notef(r->sink, "[gitweave] %s %s after %d s; stopping it", r->checkout ? "the" : "job",
                   run_timed_out_text(r), r->job_timeout);
    log_sink_flush(r->sink, r->env->db);
    run_stop_job(r, STOP_TIMEOUT);
}

void
run_cancel(run_t *r)
{
    if (r->cancel_requested || r->shutdown || run_over(r))
        return;
    r->cancel_requested = true;
    log_info("worker", "cancel requested run=%s", r->q->fence.run_id);
    /* A job the engine does not have yet is not started (start_cb). */
    if (r->state == RS_RUNNING) {
        log_sink_notef(r->sink, "[gitweave] the run was canceled; stopping the job");
        log_sink_flush(r->sink, r->env->db);
        run_stop_job(r, STOP_CANCEL);
    }
}

void
run_shutdown(run_t *r)
{
    if (r->shutdown || run_over(r))
        return;
    r->shutdown = true;
    if (r->state == RS_RUNNING) {
        log_sink_notef(r->sink, "[gitweave] the runner is shutting down; stopping the job");
        log_sink_flush(r->sink, r->env->db);
        run_stop_job(r, STOP_SHUTDOWN);
    }
}

void
run_resume(run_t *r)
{
    if (run_over(r))
        return;
    if (run_sync(r))
        run_step(r);
}

/* The run ends because the runner is stopping or the run was canceled:
 * set its final status, that of the jobs not started, and its error. */
static void
run_end_stopped(run_t *r, stop_reason_t why)
{
    if (why == STOP_SHUTDOWN) {
        r->run_status = ST_FAILED;
        r->rest_status = ST_SKIPPED;
        set_str(&r->run_error, xasprintf("runner %s was stopped while the run was in progress",
                                         r->env->cfg->runner_name));
    } else {
        r->run_status = ST_CANCELED;
        r->rest_status = ST_CANCELED;
        set_str(&r->run_error, xstrdup("canceled"));
    }
}

/* Decide how the run ends after the current job. Returns true when it ends
 * now; false to go on with the next job. */
static bool
run_judge_job(run_t *r, gw_status_t *job_status, char **job_error)
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
            *job_error = steps_error(r->steps, r->exit_code);
    }
    if (j->allow_failure) {
        log_sink_notef(r->sink, "[gitweave] job %s failed (%s); it may fail, so the run goes on",
                       j->name, *job_error);
        return false;
    }
    r->run_status = ST_FAILED;
    r->rest_status = ST_SKIPPED;
    set_str(&r->run_error, xasprintf("job %s failed: %s", j->name, *job_error));
    return true;
}

/* Start the current job: its "running" goes out (the first job's went with
 * the claim) and the engine starts it without waiting for the answer (a
 * fenced answer stops it). */
static void
run_start_job(run_t *r)
{
    const q_job_t *j = &r->q->jobs[r->cur];
    const gw_config_t *cfg = r->env->cfg;
    bool checkout = strcmp(j->kind, "checkout") == 0;

    if (r->cur == 0 && r->q->first_started) {
        r->js = JS_OK; /* the claim stored its "running" */
    } else {
        if (q_job_start(r->env->db, &r->q->fence, j->id, job_started_cb, r) != 0)
            return; /* the connection is down: run_resume steps again */
        run_sent(r);
        r->js = JS_SENT;
    }
    log_info("worker", "job started run=%s job=%s name=%s", r->q->fence.run_id, j->id, j->name);
    r->sink = log_sink_new(&r->q->fence, j->id, (size_t)cfg->log_chunk_bytes, cfg->log_flush_ms,
                           (size_t)cfg->log_max_bytes);
    r->stop = STOP_NONE;
    r->exit_code = -1;
    set_str(&r->job_error, NULL);
    r->checkout = checkout;
    steps_free(r->steps);
    r->steps = checkout ? NULL : steps_new(j->script, j->nscript);
    if (checkout)
        r->job_timeout = cfg->checkout_timeout;
    else
        r->job_timeout = j->timeout > 0 ? j->timeout : cfg->job_timeout;

    run_move(r, job_secrets_wanted(j) ? RE_JOB_SECRETS : RE_JOB_STARTED);
    /* The engine starts the job once the "running" is on its way: active
     * events run in order, and the connection's send was activated first
     * (a fork can take milliseconds on a busy host). */
    event_active(r->start_ev, EV_TIMEOUT, 0);
}

/* The answer to the job's secrets: opened, masked in its log, and the job
 * goes on starting; or it fails saying which secret it could not have. */
static void
secrets_cb(const PGresult *res, void *arg)
{
    run_t *r = arg;
    const q_job_t *j = &r->q->jobs[r->cur];
    char *error = NULL;

    if (run_answered(r))
        return;
    if (r->state != RS_SECRETS_ASKED)
        return;
    if (!pg_result_ok(res)) {
        /* Asked again in a second (a lost connection: once it is back). */
        run_move(r, RE_SECRETS_FAILED);
        run_failed(r, res);
        struct timeval tv = {1, 0};
        evtimer_add(r->start_ev, &tv);
        return;
    }
    r->secrets = job_secrets_open(res, j, r->env->cfg->secrets_key_file, &error);
    for (size_t i = 0; error == NULL && i < job_secrets_count(r->secrets); i++) {
        size_t len;
        const char *v = job_secrets_value(r->secrets, i, &len);
        if (log_sink_mask(r->sink, v, len) != 0)
            error = xstrdup("a secret is too short to be masked in the log");
    }
    if (error != NULL) {
        log_sink_notef(r->sink, "[gitweave] %s", error);
        job_done(r, -1, error);
        free(error);
        return;
    }
    run_move(r, RE_SECRETS_OPENED);
    event_active(r->start_ev, EV_TIMEOUT, 0);
}

static void
start_cb(evutil_socket_t fd, short what, void *arg)
{
    run_t *r = arg;
    const q_job_t *j = &r->q->jobs[r->cur];
    const gw_config_t *cfg = r->env->cfg;

    if (r->state != RS_SECRETS && r->state != RS_SECRETS_ASKED && r->state != RS_STARTING)
        return;
    if (r->shutdown || r->cancel_requested) {
        /* Stopped before the engine had the job: nothing of it ran, and
         * run_step ends the run (or gives it back to the queue). */
        log_sink_free(r->sink);
        r->sink = NULL;
        run_move(r, RE_STOPPED_EARLY);
        run_step(r);
        return;
    }
    if (r->state == RS_SECRETS_ASKED)
        return;
    if (r->state == RS_SECRETS) {
        if (job_secrets_fetch(r->env->db, &r->q->fence, j, secrets_cb, r) != 0) {
            struct timeval tv = {1, 0};
            evtimer_add(r->start_ev, &tv);
            return;
        }
        run_sent(r);
        run_move(r, RE_SECRETS_ASKED);
        return;
    }
    engine_t *e = r->checkout ? r->env->local : r->env->engine;
    char *git_dir =
        workspace_git_dir(cfg->workdir, cfg->runner_name, cfg->engine, r->q->repo_id, r->ws_index);
    char **env = job_env_new(r->q, j, git_dir, e == r->env->local);
    char *image = job_env_image(r->q, j);
    char *script =
        r->checkout ? xstrdup(workspace_checkout_script()) : steps_script(j->script, j->nscript);
    free(git_dir);
    job_secrets_apply(r->secrets, j, env);
    engine_job_spec_t spec = {
        .job_id = j->id,
        .run_id = r->q->fence.run_id,
        .runner_id = r->env->runner_id,
        .image = image,
        .script = script,
        .env = (const char *const *)env,
        .workspace = r->workspace,
    };
    /* What ran, first in its log: the step echoes name variables, not values. */
    char *header = job_env_header(r->q, j, cfg->runner_name,
                                  e == r->env->local ? "local" : cfg->engine, image);
    char *line = xasprintf("%s\n", header);
    log_sink_write(r->sink, line, strlen(line));
    free(line);
    free(header);
    if (e == r->env->local && !r->checkout && image != NULL && image[0] != '\0')
        log_sink_notef(r->sink,
                       "[gitweave] local engine: image \"%s\" ignored, the job runs on "
                       "the host",
                       image);
    /* Stored within RUNNER_LOG_FIRST_MS, not after the time bound: a
     * follower sees the job start before it has printed anything, and a
     * job that ends sooner stores its whole log with its end (no insert). */
    log_sink_cut_by(r->sink, gw_now_ms() + cfg->log_first_ms);
    log_sink_tick(r->sink);
    log_sink_flush(r->sink, r->env->db);
    evtimer_del(r->flush_ev);
    run_arm_flush(r);
    r->output_seen = false;
    static const engine_callbacks_t cb = {job_output, job_done, job_marks};
    r->job = engine_job_start(e, &spec, &cb, r);
    free(script);
    free(image);
    job_secrets_wipe_env(env);
    job_env_free(env);
    job_secrets_free(r->secrets);
    r->secrets = NULL;
    if (r->job == NULL) {
        job_done(r, -1, "the engine could not start the job");
        return;
    }
    run_move(r, RE_ENGINE_STARTED);
    struct timeval tv = {r->job_timeout, 0};
    evtimer_add(r->timeout_ev, &tv);
}

static void
job_ended_cb(const PGresult *res, void *arg)
{
    run_t *r = arg;
    const q_job_t *j = &r->q->jobs[r->cur];

    if (run_answered(r))
        return;
    q_result_t qr = q_fenced(res, r->ends_with_job ? "end a job and its run" : "end a job");
    log_sink_carried(r->sink, qr == Q_OK);
    /* A log chunk that failed went out ahead of the end: send both again. */
    if (qr == Q_OK && log_sink_pending(r->sink) && res != NULL)
        qr = Q_ERROR;
    switch (qr) {
    case Q_ERROR:
        run_move(r, RE_END_FAILED);
        run_failed(r, res);
        return;
    case Q_FENCED:
        run_abandon(r, "ending a job");
        return;
    case Q_OK:
        break;
    }
    r->db_failures = 0;
    if (r->ends_with_job) {
        log_info("worker", "run ended run=%s status=%s", r->q->fence.run_id,
                 status_name(r->run_status));
        run_set_over(r, RE_RUN_ENDED);
        return;
    }
    log_info("worker", "job ended run=%s job=%s status=%s exit=%d%s%s", r->q->fence.run_id, j->id,
             status_name(r->job_status), r->exit_code, r->job_status_error ? " error=" : "",
             r->job_status_error ? r->job_status_error : "");
    log_sink_free(r->sink);
    r->sink = NULL;
    evtimer_del(r->flush_ev);
    /* A job that ends the run sent the run's end with its own (above). */
    r->cur++;
    r->js = JS_NONE;
    run_move(r, RE_NEXT_JOB);
    run_step(r);
}

/* The checkout ended well: the run's commit is the one it left checked out
 * (the commit the run was triggered with, in full, or the commit of the tag
 * it was triggered with), for the jobs after it and the run's row. */
static void
run_checkout_commit(run_t *r)
{
    const gw_config_t *cfg = r->env->cfg;
    char *git_dir =
        workspace_git_dir(cfg->workdir, cfg->runner_name, cfg->engine, r->q->repo_id, r->ws_index);
    char *err = NULL;
    char *sha = workspace_head(git_dir, &err);

    free(git_dir);
    if (sha == NULL) {
        log_sink_notef(r->sink, "[gitweave] %s", err);
        r->exit_code = -1;
        set_str(&r->job_error, err);
        return;
    }
    set_str(&r->q->commit, sha);
}

/* The current job ended: decide its status and the run's end (once), and
 * finish its log. */
static void
run_judge(run_t *r)
{
    char *err = NULL;
    bool job_ends_run;

    if (r->job) {
        engine_job_free(r->job);
        r->job = NULL;
    }
    if (r->checkout && r->exit_code == 0 && r->stop == STOP_NONE)
        run_checkout_commit(r);
    job_ends_run = run_judge_job(r, &r->job_status, &err);
    set_str(&r->job_status_error, err);
    /* The run ends with this job: one statement for both. */
    r->ends_with_job = job_ends_run || r->cur + 1 >= r->q->njobs;
    log_sink_finish(r->sink);
    run_move(r, RE_JUDGED);
}

/* Store the end of the current job, behind the rest of its log. */
static void
run_end_job(run_t *r)
{
    const q_job_t *j = &r->q->jobs[r->cur];

    /* The last chunk goes with the end, not ahead of it (q_run_marks_t). */
    int64_t last_offset = 0;
    const char *last = r->stop == STOP_SHUTDOWN ? NULL : log_sink_take_last(r->sink, &last_offset);
    if (!run_sync(r))
        return;
    /* Stopped with the runner: retried, or failed, by the job's rule. */
    if (r->stop == STOP_SHUTDOWN) {
        r->end = END_LOST;
        run_move(r, RE_STOPPED_WITH_RUNNER);
        run_finish(r);
        return;
    }
    int rc;
    /* The checkout's commit reaches the run's row before the next job. */
    q_run_marks_t marks = {
        .commit = r->checkout && r->job_status == ST_SUCCESS ? r->q->commit : NULL,
        .allowed_failure = r->job_status == ST_FAILED && j->allow_failure ? j->name : NULL,
        .last_chunk = last,
        .last_offset = last_offset,
    };
    if (r->ends_with_job)
        rc = q_job_run_end(r->env->db, &r->q->fence, j->id, r->job_status, r->exit_code,
                           r->job_status_error, &marks, r->run_status, r->rest_status, r->run_error,
                           job_ended_cb, r);
    else
        rc = q_job_end(r->env->db, &r->q->fence, j->id, r->job_status, r->exit_code,
                       r->job_status_error, &marks, job_ended_cb, r);
    if (rc != 0)
        return;
    run_sent(r);
    run_move(r, RE_END_SENT);
}

static void
run_ended_cb(const PGresult *res, void *arg)
{
    run_t *r = arg;

    if (run_answered(r))
        return;
    switch (q_fenced(res, r->end == END_REQUEUE ? "requeue a run" : "end a run")) {
    case Q_ERROR:
        run_move(r, RE_END_FAILED);
        run_failed(r, res);
        return;
    case Q_FENCED:
        if (r->end == END_REQUEUE) {
            /* A job did start after all: end the run as stopped. */
            r->end = END_LOST;
            run_move(r, RE_REQUEUE_REFUSED);
            run_step(r);
            return;
        }
        run_abandon(r, "ending it");
        return;
    case Q_OK:
        break;
    }
    if (r->end == END_REQUEUE)
        log_info("worker", "run given back to the queue run=%s", r->q->fence.run_id);
    else if (r->end == END_LOST)
        log_info("worker", "run stopped with the runner run=%s %s", r->q->fence.run_id,
                 strcmp(PQgetvalue(res, 0, 0), "retried") == 0 ? "retried=true" : "status=failed");
    else
        log_info("worker", "run ended run=%s status=%s", r->q->fence.run_id,
                 status_name(r->run_status));
    run_set_over(r, RE_RUN_ENDED);
}

static void
run_finish(run_t *r)
{
    int rc;

    if (r->end == END_REQUEUE)
        rc = q_run_requeue(r->env->db, &r->q->fence, run_ended_cb, r);
    else if (r->end == END_LOST)
        rc = q_run_lost(r->env->db, &r->q->fence, r->run_error, run_ended_cb, r);
    else
        rc = q_run_end(r->env->db, &r->q->fence, r->run_status, r->rest_status, r->run_error,
                       run_ended_cb, r);
    if (rc != 0)
        return;
    run_sent(r);
    run_move(r, RE_END_SENT);
}

/* Make the workspace; false when the run ends here. */
static bool
run_prepare(run_t *r)
{
    char *err = NULL;
    const gw_config_t *cfg = r->env->cfg;

    if (r->q->spec_error != NULL) {
        log_error("worker", "%s run=%s", r->q->spec_error, r->q->fence.run_id);
        set_str(&r->run_error, xstrdup(r->q->spec_error));
    } else {
        r->workspace = workspace_prepare(cfg->workdir, cfg->runner_name, cfg->engine, r->q->repo_id,
                                         r->ws_index, &err);
        if (r->workspace != NULL)
            return true;
        log_error("worker", "%s run=%s", err, r->q->fence.run_id);
        set_str(&r->run_error, err);
    }
    r->run_status = ST_FAILED;
    r->rest_status = ST_SKIPPED;
    return false;
}

static void
run_step(run_t *r)
{
    for (;;) {
        switch (r->state) {
        case RS_PREPARE:
            run_move(r, run_prepare(r) ? RE_PREPARED : RE_PREPARE_FAILED);
            break;
        case RS_START_JOB:
            if (r->cur >= r->q->njobs || r->cancel_requested || r->shutdown) {
                /* A cancel wins: the run ends canceled, not given back. */
                if (r->shutdown || r->cancel_requested)
                    run_end_stopped(r, r->cancel_requested ? STOP_CANCEL : STOP_SHUTDOWN);
                /* Stopped before any job reached the engine: another
                 * runner can take it (the claim's start of the first job
                 * is undone). */
                if (r->shutdown && !r->cancel_requested && r->cur == 0)
                    r->end = END_REQUEUE;
                /* Stopped between jobs: retried or failed by the rule of
                 * the next job. */
                else if (r->shutdown && !r->cancel_requested && r->cur < r->q->njobs)
                    r->end = END_LOST;
                run_move(r, RE_NO_MORE_JOBS);
                break;
            }
            run_start_job(r);
            return;
        case RS_JOB_DONE:
            run_judge(r);
            break;
        case RS_JOB_STORE:
            run_end_job(r);
            return;
        case RS_FINISH:
            run_finish(r);
            return;
        case RS_SECRETS:
        case RS_SECRETS_ASKED:
        case RS_STARTING:
        case RS_RUNNING:
        case RS_JOB_ENDING:
        case RS_FINISHING:
        case RS_OVER:
        case RS_REPORTED:
        case RS_COUNT:
            /* Waiting for an event (run_state.h). */
            return;
        }
    }
}

run_t *
run_new(const run_env_t *env, q_run_t *q, int workspace_index)
{
    run_t *r = xcalloc(1, sizeof(*r));

    r->env = env;
    r->q = q;
    r->ws_index = workspace_index;
    r->state = RS_PREPARE;
    r->run_status = ST_SUCCESS;
    r->rest_status = ST_SKIPPED;
    r->timeout_ev = evtimer_new(env->base, timeout_cb, r);
    r->flush_ev = evtimer_new(env->base, flush_cb, r);
    r->retry_ev = evtimer_new(env->base, retry_cb, r);
    r->kill_ev = evtimer_new(env->base, kill_cb, r);
    r->start_ev = evtimer_new(env->base, start_cb, r);
    log_info("worker", "claimed run run=%s repo=%s attempt=%s jobs=%zu workspace=%d",
             q->fence.run_id, q->repo, q->fence.attempt, q->njobs, workspace_index);
    run_step(r);
    return r;
}

void
run_free(run_t *r)
{
    if (r == NULL)
        return;
    engine_job_free(r->job);
    log_sink_free(r->sink);
    steps_free(r->steps);
    event_free(r->timeout_ev);
    event_free(r->flush_ev);
    event_free(r->retry_ev);
    event_free(r->kill_ev);
    event_free(r->start_ev);
    job_secrets_free(r->secrets);
    q_run_free(r->q);
    free(r->workspace);
    free(r->job_error);
    free(r->job_status_error);
    free(r->run_error);
    free(r);
}
