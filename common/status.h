/*
 * status - the statuses of runs and jobs and the transitions between them.
 *
 * This is the one place where the allowed transitions live; both processes
 * use it (the API to cancel, the worker for everything else).
 *
 *   run:  queued -> running | canceled
 *         running -> success | failed | canceled
 *   job:  queued -> running | skipped | canceled
 *         running -> success | failed | canceled
 *
 * success, failed, canceled and skipped are final.
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
