/*
 * queue - every statement the worker runs against Postgres.
 *
 * The queue protocol (docs/queue.md): a run is claimed with one UPDATE over
 * a `FOR UPDATE SKIP LOCKED` sub-select that also sets the runner, the
 * attempt and the lease. Every later write about the run is fenced by
 * (run id, runner id, attempt, status running): a worker that lost its lease
 * changes nothing. Every status change NOTIFYs gitweave_events in the same
 * statement.
 *
 * Functions return Q_OK, Q_FENCED (the fence refused the write: the run is
 * no longer ours) or Q_ERROR (the statement failed, logged; the caller checks
 * whether the connection is gone).
 */
#ifndef GW_QUEUE_H
#define GW_QUEUE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "status.h"
#include "util.h"

typedef enum { Q_ERROR = -1, Q_OK = 0, Q_FENCED = 1 } q_result_t;

/* The identity of a claimed run, used to fence every write. */
typedef struct {
    char run_id[37];
    char runner_id[37];
    char attempt[16];
} q_fence_t;

typedef struct {
    char id[37];
    int position;
    char *name;
    char *kind;   /* "script" or "checkout" */
    char *image;  /* NULL when the job names none */
    char **script;
    size_t nscript;
    char **env;   /* NULL-terminated NAME=value */
    int timeout;  /* seconds, 0 = the runner's default */
    bool allow_failure;
} q_job_t;

typedef struct {
    q_fence_t fence;
    char *repo;
    char *clone_url; /* NULL when the repo has none */
    char *ref;       /* may be NULL */
    char *commit;    /* may be NULL */
    bool clean;
    q_job_t *jobs;
    size_t njobs;
    /* Set when the frozen spec does not say how to run the jobs (it was
     * changed behind the API's back): the run must fail with it. */
    char *spec_error;
} q_run_t;

void q_run_free(q_run_t *run);

/*
 * Look up the runner row of a name. Returns Q_OK with *exists false when
 * there is none; else *live says whether it is not stopped and was seen
 * within its lease, and *last_seen_us is its last_seen_at (microseconds
 * since the epoch) to compare with a later look.
 */
q_result_t q_runner_state(PGconn *c, const char *name, bool *exists, bool *live,
                          int64_t *last_seen_us);
/* Register the runner under its name (a restart of the same name takes its
 * row over, keeping its id). Writes the id to id_out. */
q_result_t q_register(PGconn *c, const char *name, const char *hostname, const char *engine,
                      int lease_seconds, char id_out[37]);
/* Heartbeat with a status (idle, busy, degraded, stopped) and detail. */
q_result_t q_heartbeat(PGconn *c, const char *runner_id, const char *status,
                       const char *detail);

/* Claim the oldest queued run. Returns Q_OK with *out set (caller frees with
 * q_run_free) or NULL when nothing is queued; Q_ERROR on failure. */
q_result_t q_claim(PGconn *c, const char *runner_id, int lease_seconds, q_run_t **out);
/* Renew the lease; *cancel_requested says whether the run is being
 * canceled. */
q_result_t q_renew(PGconn *c, const q_fence_t *f, int lease_seconds, bool *cancel_requested);

/* Job and run status changes, fenced. error may be NULL; exit_code < 0 is
 * stored as NULL. */
q_result_t q_job_start(PGconn *c, const q_fence_t *f, const char *job_id);
q_result_t q_job_end(PGconn *c, const q_fence_t *f, const char *job_id, gw_status_t status,
                     int exit_code, const char *error);
/* The queued jobs of the run become `status` (skipped or canceled), then the
 * run ends with run_status and error. */
q_result_t q_run_end(PGconn *c, const q_fence_t *f, gw_status_t run_status,
                     gw_status_t rest_status, const char *error);

/* Store one log chunk (idempotent on (job, offset)). */
q_result_t q_log_insert(PGconn *c, const q_fence_t *f, const char *job_id, int64_t offset,
                        const char *chunk, size_t len);

/* End every running run whose lease expired: the running job failed, the
 * rest skipped, the run failed with the reason. Returns the number reaped,
 * or -1. */
int q_reap(PGconn *c);
/* End the running runs still assigned to this runner while it has none: at
 * start (restarted: a previous life died with them), or after a reconnect
 * (a claim whose reply was lost with the connection). Returns the number, or
 * -1. */
int q_reap_own(PGconn *c, const char *runner_id, bool restarted);

#endif
