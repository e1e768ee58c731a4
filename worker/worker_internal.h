/*
 * worker_internal - the worker's state, shared by worker.c and run.c.
 */
#ifndef GW_WORKER_INTERNAL_H
#define GW_WORKER_INTERNAL_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"
#include "engine.h"
#include "queue.h"
#include "worker.h"

typedef struct run_exec run_exec_t;

struct worker {
    const gw_config_t *cfg;
    struct event_base *base;
    engine_t *engine;    /* runs the jobs */
    engine_t *local;     /* runs checkouts on this host */
    PGconn *conn;        /* NULL while disconnected */
    struct event *db_ev; /* readable: notifications */
    struct event *reconnect_ev;
    struct event *heartbeat_ev;
    struct event *poll_ev;
    struct event *cleanup_ev;
    struct event *claim_ev;
    struct event *sigterm_ev;
    struct event *sigint_ev;
    char runner_id[37];
    char hostname[256];
    int reconnect_delay;
    int stop_signals; /* SIGTERM/SIGINT received */
    bool engine_ok;
    int engine_backoff; /* seconds, while the engine is unreachable */
    int64_t engine_retry_at;
    int64_t engine_checked_at;
    bool engine_asking; /* a ping or the start-up cleanup is in flight */
    char *engine_problem;
    run_exec_t *run; /* the claimed run, or NULL */
    int exit_status;
};

/* The connection is gone: drop it and reconnect with back-off. */
void worker_db_lost(worker_t *w);
/* After a failed statement: reconnect if the connection is gone. */
void worker_db_failed(worker_t *w);
/* Read pending notifications (after any statement). */
void worker_drain_notifies(worker_t *w);
/* Look for work soon (from the event loop, not recursively). */
void worker_schedule_claim(worker_t *w);
/* The run is over (ended, or abandoned): free it and look for more. */
void worker_run_finished(worker_t *w);

/* run.c */
run_exec_t *run_exec_start(worker_t *w, q_run_t *q);
void run_exec_free(run_exec_t *r);
/* Continue after the database is back. */
void run_exec_resume(run_exec_t *r);
/* A cancel was requested (NOTIFY or lease renewal). */
void run_exec_cancel(run_exec_t *r);
/* The worker is shutting down: stop the job, fail the run. */
void run_exec_shutdown(run_exec_t *r);
/* Renew the lease (heartbeat). */
void run_exec_renew(run_exec_t *r);
const char *run_exec_id(const run_exec_t *r);
/* The id of the job running now, or NULL. */
const char *run_exec_job_id(const run_exec_t *r);

#endif
