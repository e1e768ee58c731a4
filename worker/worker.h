/*
 * worker - the runner process: registration, the claim loop, leases, the
 * reaper, and the execution of one claimed run at a time (run.c).
 *
 * Everything happens on one libevent loop. Database statements are short and
 * synchronous; when the connection drops, the worker keeps its job running,
 * keeps its output queued, reconnects with back-off, and carries on where it
 * was (its writes are fenced, so if its lease ran out meanwhile and the run
 * was reaped, it abandons the run instead).
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include "config.h"
#include "util.h"

typedef struct worker worker_t;

/* Set up the worker: connect, register, clean up after an earlier life.
 * Returns NULL after logging why (a start-up failure). */
worker_t *worker_new(const gw_config_t *cfg) GW_MUST_CHECK;
/* Run until stopped by SIGTERM/SIGINT. Returns the process exit status. */
int worker_run(worker_t *w);
void worker_free(worker_t *w);

#endif
