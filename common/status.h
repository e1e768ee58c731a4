/*
 * status - the statuses of runs and jobs and the transitions between them.
 *
 * This is the table of record of the allowed transitions:
 *
 *   run:  queued -> running (claimed) | canceled
 *         running -> queued (requeued: none of its jobs started)
 *                  | success | failed | canceled
 *   job:  queued -> running | skipped | canceled
 *         running -> queued (its run requeued: the claim marked it running,
 *                    it never reached the engine)
 *                  | success | failed | canceled
 *
 * success, failed, canceled and skipped are final. A status never
 * "transitions" to itself: a worker's write repeated after a lost reply
 * finds its row already in the status it sets and changes nothing, which
 * the worker's statements accept as success (docs/queue.md).
 *
 * The C checks use it directly; the SQL of both programs is tied to it by
 * tests/unit/check_status_sql.c, which runs every status-changing statement
 * (worker/queue.c, api/queries.h) from every status and compares what moved
 * with this table, and checks the SQL functions gw_run_may and gw_job_may
 * (db/migrations/0007_status_transitions.sql) pair by pair.
 */
#ifndef GW_STATUS_H
#define GW_STATUS_H

#include <stdbool.h>

typedef enum {
    ST_QUEUED,
    ST_RUNNING,
    ST_SUCCESS,
    ST_FAILED,
    ST_CANCELED,
    ST_SKIPPED, /* jobs only */
    ST__COUNT
} gw_status_t;

typedef enum { ST_KIND_RUN, ST_KIND_JOB } gw_status_kind_t;

/* The lowercase name, as stored in Postgres. */
const char *status_name(gw_status_t s);
/* Parse a name for the kind; returns -1 for an unknown name. */
int status_parse(gw_status_kind_t kind, const char *name);
/* Whether the status is final (nothing follows). */
bool status_is_final(gw_status_t s);
/* Whether from -> to is allowed for the kind. */
bool status_can_transition(gw_status_kind_t kind, gw_status_t from, gw_status_t to);

#endif
