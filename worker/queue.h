/*
 * queue - every statement the worker runs against Postgres.
 *
 * The queue protocol (docs/queue.md): runs are claimed with one UPDATE over
 * a `FOR UPDATE SKIP LOCKED` sub-select that also sets the runner, the
 * attempt and the lease, and returns each run with its jobs. Every later
 * write about a run is fenced by (run id, runner id, attempt, status
 * running): a worker that lost its lease changes nothing. Every status
 * change NOTIFYs gitweave_events in the same statement.
 *
 * The statements are prepared on the worker's pg_conn (q_prepare) and sent
 * without blocking: each q_* function queues one and returns what
 * pg_conn_query_prepared returns (0 accepted, -1 the connection is down);
 * the result goes to fn. q_fenced and the q_*_row helpers read the results.
 *
 * A worker holds a session-level advisory lock on its name for as long as
 * its database session lives (q_runner_lock), so another worker's reaper
 * sees at once that a worker died: its session, and the lock, are gone.
 */
#ifndef GW_QUEUE_H
#define GW_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "pg.h"
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
    char *name;
    char *kind;  /* "script" or "checkout" */
    char *image; /* NULL when the job names none */
    char **script;
    size_t nscript;
    char **env;  /* NULL-terminated NAME=value */
    int timeout; /* seconds, 0 = the runner's default */
    bool allow_failure;
    /* The values that wait for the run's commit (spec.h spec_expand), or
     * NULL; job_env.c fills them in. */
    cJSON *deferred;
    /* The secrets its env names, {ENV: NAME} (spec.h), or NULL;
     * job_secrets.c fills them in. */
    cJSON *secrets;
} q_job_t;

typedef struct {
    q_fence_t fence;
    char *repo;
    char *repo_id;   /* the repo's id: what its workspace is keyed by */
    char *clone_url; /* NULL when the repo has none */
    char *ref;       /* may be NULL */
    char *commit;    /* may be NULL */
    char *inputs;    /* the run's input values, JSON text; may be NULL */
    bool clean;
    /* The claim started the first job (its "running" is stored). */
    bool first_started;
    q_job_t *jobs;
    size_t njobs;
    /* Set when the frozen spec does not say how to run the jobs (it was
     * changed behind the API's back): the run must fail with it. */
    char *spec_error;
} q_run_t;

void q_run_free(q_run_t *run);

/* Register every statement below on c (again after each reconnect). */
void q_prepare(pg_conn_t *c);
/* The text of the statement prepared as name ("q_job_start", ...), or NULL
 * (borrowed): tests/unit/check_status_sql.c runs it against the status
 * table. */
const char *q_statement_sql(const char *name);
/* The i-th statement's text, its name in *name; NULL past the last. */
const char *q_statement_at(size_t i, const char **name);

/*
 * Whether a fenced write took effect: Q_OK when it returned a row, Q_FENCED
 * when the fence refused it (the run is no longer ours), Q_ERROR when the
 * statement failed (logged under what) or res is NULL (the connection was
 * lost).
 */
q_result_t q_fenced(const PGresult *res, const char *what);

/* Whether a statement's result (not NULL) is a failure; if so, logs
 * "could not <what>: <why>". */
bool q_failed(const PGresult *res, const char *what);

/* Take the advisory lock of runner name in this session; the result's one
 * row says whether it was taken ("t"): "f" when another live session holds
 * it, and then its second column says who (the runner, its host, the
 * database session; NULL when the holder let go meanwhile). */
int q_runner_lock(pg_conn_t *c, const char *name, pg_result_fn fn, void *arg) GW_MUST_CHECK;
/* Register the runner under its name (a restart of the same name takes its
 * row over, keeping its id) with its labels (comma-separated) and whether
 * it takes runs without runs-on; one row: the id. */
int q_register(pg_conn_t *c, const char *name, const char *hostname, const char *engine,
               const char *labels, bool run_unlabeled, int lease_seconds, int slots,
               pg_result_fn fn, void *arg) GW_MUST_CHECK;
/*
 * Heartbeat with a status (idle, busy, degraded, draining, stopped) and
 * detail, and renew the lease of the runs held (run_ids and attempts: SQL
 * array literals, see q_array_append). Rows: ("runner", NULL, NULL) when
 * the runner row exists, then ("run", id, cancel requested "t"/"f") for
 * each run renewed; a held run missing is no longer ours.
 */
int q_heartbeat(pg_conn_t *c, const char *runner_id, const char *status, const char *detail,
                int slots, int lease_seconds, const char *run_ids, const char *attempts,
                pg_result_fn fn, void *arg) GW_MUST_CHECK;

/* Append value to an SQL array literal being built in b ("{a,b}"); values
 * are uuids or numbers, which need no quoting. q_array_end closes it. */
void q_array_append(buf_t *b, const char *value);
void q_array_end(buf_t *b);

/* Claim up to n of the oldest queued runs, one row each (q_claim_row), and
 * start the first job of each (q_run_t.first_started). */
int q_claim(pg_conn_t *c, const char *runner_id, int lease_seconds, int n, pg_result_fn fn,
            void *arg) GW_MUST_CHECK;
/* The run of one row of a claim's result (caller frees with q_run_free). */
q_run_t *q_claim_row(const PGresult *res, int row, const char *runner_id);

/* What a job's end records on its run (each NULL when none): the commit
 * its checkout resolved, and its name when it failed but was allowed to;
 * and what it stores of the job's log: the last chunk (NULL when none) at
 * last_offset, written in the same statement as the end, when it passes
 * the fence (log_sink_take_last). */
typedef struct {
    const char *commit;
    const char *allowed_failure;
    const char *last_chunk;
    int64_t last_offset;
} q_run_marks_t;

/* Job and run status changes, fenced (q_fenced). error may be NULL;
 * exit_code < 0 is stored as NULL. */
int q_job_start(pg_conn_t *c, const q_fence_t *f, const char *job_id, pg_result_fn fn,
                void *arg) GW_MUST_CHECK;
int q_job_end(pg_conn_t *c, const q_fence_t *f, const char *job_id, gw_status_t status,
              int exit_code, const char *error, const q_run_marks_t *marks, pg_result_fn fn,
              void *arg) GW_MUST_CHECK;
/* The queued jobs of the run become `rest_status` (skipped or canceled),
 * then the run ends with run_status and error. */
int q_run_end(pg_conn_t *c, const q_fence_t *f, gw_status_t run_status, gw_status_t rest_status,
              const char *error, pg_result_fn fn, void *arg) GW_MUST_CHECK;
/* q_job_end and q_run_end in one statement, for the run's last job. */
int q_job_run_end(pg_conn_t *c, const q_fence_t *f, const char *job_id, gw_status_t status,
                  int exit_code, const char *error, const q_run_marks_t *marks,
                  gw_status_t run_status, gw_status_t rest_status, const char *run_error,
                  pg_result_fn fn, void *arg) GW_MUST_CHECK;
/* The run goes back to the queue, if none of its jobs started (fenced). */
int q_run_requeue(pg_conn_t *c, const q_fence_t *f, pg_result_fn fn, void *arg) GW_MUST_CHECK;
/* The runner stops the run, its job ended: it goes back to the queue as its
 * next try when the job it was at allows (retry: runner_lost), else it
 * ends failed with why; fenced. One row per run ('retried' or 'failed')
 * and job changed ('job'); none when fenced. */
int q_run_lost(pg_conn_t *c, const q_fence_t *f, const char *why, pg_result_fn fn,
               void *arg) GW_MUST_CHECK;

/* Store one log chunk (idempotent on (job, offset)), fenced. */
int q_log_insert(pg_conn_t *c, const q_fence_t *f, const char *job_id, int64_t offset,
                 const char *chunk, pg_result_fn fn, void *arg) GW_MUST_CHECK;

/*
 * End the running runs that are lost: those whose lease expired, and those
 * of another runner whose advisory lock has been free for a second (its
 * session ended: it died). The running job failed, the rest skipped, the
 * run failed with the reason. One row per run ended.
 */
int q_reap(pg_conn_t *c, const char *runner_id, pg_result_fn fn, void *arg) GW_MUST_CHECK;
/*
 * The running runs of this runner other than live_ids (an SQL array
 * literal): at start (restarted: an earlier life died with them), or after
 * a reconnect (a claim whose reply was lost with the connection). A lost
 * claim goes back to the queue, its first job too; an earlier life's runs
 * end failed, as the claim had started their first job.
 * Rows: ("requeued" | "failed") per run.
 */
int q_reap_own(pg_conn_t *c, const char *runner_id, bool restarted, const char *live_ids,
               pg_result_fn fn, void *arg) GW_MUST_CHECK;

#endif
