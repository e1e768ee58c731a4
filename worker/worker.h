/*
 * worker - the runner process: registration, the claim loop, heartbeats
 * and leases, the reaper, draining and stopping; up to RUNNER_CONCURRENCY
 * claimed runs at once, each executed by run.c.
 *
 * Everything happens on one libevent loop and nothing on it blocks on the
 * database: statements go through one pg_conn (common/pg.h) in pipeline
 * mode and are answered by callback; notifications arrive by callback the
 * moment they are read. When the connection drops, the runs keep their
 * jobs going and their output queued; the connection comes back on its
 * own, and the worker takes its lock again and carries on where it was
 * (its writes are fenced, so a run that was reaped meanwhile is abandoned).
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include "config.h"
#include "util.h"

typedef struct worker worker_t;

/* Set up the worker; it connects and registers once running. Returns NULL
 * after logging why (a start-up failure). */
worker_t *worker_new(const gw_config_t *cfg) GW_MUST_CHECK;
/* Run until stopped: SIGTERM drains (no new runs, the running ones finish;
 * RUNNER_DRAIN_SECONDS bounds the wait), SIGINT or a second SIGTERM stops
 * the running runs, a third signal exits at once. Returns the process exit
 * status. */
int worker_run(worker_t *w);
void worker_free(worker_t *w);

#endif
