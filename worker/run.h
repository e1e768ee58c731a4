/*
 * run - executes one claimed run: its jobs in order, their logs, timeouts,
 * cancel, stop, and the final statuses.
 *
 * A run sees a narrow environment (run_env_t): the database connection,
 * the configuration, the engines, its runner's id. It sends its statements
 * without blocking; each write is fenced and idempotent, so when the
 * connection drops the run keeps its job going, keeps its output queued,
 * and sends again what was not answered once run_resume says the
 * connection is back. When the run is over (ended, requeued, or abandoned)
 * and none of its statements is in flight, it says so once through
 * env->ended; its owner frees it on the next loop turn, never inside that
 * call.
 */
#ifndef GW_RUN_H
#define GW_RUN_H

#include <stdbool.h>

#include "config.h"
#include "engine.h"
#include "pg.h"
#include "queue.h"

typedef struct run run_t;

typedef struct {
    struct event_base *base;
    pg_conn_t *db;
    const gw_config_t *cfg;
    engine_t *engine; /* runs the jobs */
    engine_t *local;  /* runs checkouts on this host */
    const char *runner_id;
    /* The run is over and may be freed (not from inside this call). */
    void (*ended)(run_t *r, void *arg);
    void *arg;
} run_env_t;

/* Start executing q (taken over) in the workspace of its repo numbered
 * workspace_index (see workspace_prepare). env is borrowed for the run's
 * life. */
run_t *run_new(const run_env_t *env, q_run_t *q, int workspace_index);
/* Free a run; stops its job if one is still running. NULL is a no-op. */
void run_free(run_t *r);

const char *run_id(const run_t *r);
const char *run_attempt(const run_t *r);
const char *run_repo_id(const run_t *r);
int run_workspace_index(const run_t *r);
/* The id of the job running now, or NULL. */
const char *run_job_id(const run_t *r);
/* Over: ended, requeued or abandoned (it may still wait for answers). */
bool run_over(const run_t *r);

/* The database connection is back: send again what was not answered. */
void run_resume(run_t *r);
/* A cancel was requested (NOTIFY or lease renewal). */
void run_cancel(run_t *r);
/* The runner is stopping: stop the job and fail the run, or give it back
 * to the queue when none of its jobs has started. */
void run_shutdown(run_t *r);
/* The lease renewal did not find the run, or could not renew it in time:
 * it is not ours any more; its job is stopped. */
void run_lost(run_t *r);
/* The run's lease holds until until_ms (gw_now_ms): the time its claim or
 * renewal was sent, plus the lease. Never moves back. */
void run_lease_renewed(run_t *r, int64_t until_ms);
int64_t run_lease_until(const run_t *r);
/* Whether run_lost ended the run (not its own end nor a fenced answer). */
bool run_given_up(const run_t *r);

#endif
