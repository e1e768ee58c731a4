/*
 * scheduler - fires the schedules of the repos (on.schedule of their
 * attached templates) from a libevent timer.
 *
 * At every minute boundary (UTC wall clock) it reads every schedule
 * (SQL_SCHEDULES_DUE) and starts, through trigger_schedule, a run for
 * each one whose latest fire time has come since the last look. Every API
 * process runs one; the insert of a run takes its fire time in the
 * database (schedule_fires), so a fire time starts one run whatever
 * number of processes fire it. At start the first look is at once: a
 * schedule whose latest fire time passed while no API ran fires that one
 * (not the others it missed), unless it has fired already. See
 * docs/templates.md, "Schedules".
 */
#ifndef GW_API_SCHEDULER_H
#define GW_API_SCHEDULER_H

#include <event2/event.h>

#include "dbconn.h"

typedef struct scheduler scheduler_t;

/* A scheduler on base using db (borrowed; it must outlive the scheduler's
 * statements, see scheduler_free); its first look is on the next loop
 * turn. Never returns NULL. */
scheduler_t *scheduler_new(struct event_base *base, dbconn_t *db);

/* Stop firing (NULL is a no-op). Call before dbconn_free: the statements
 * still in flight get their callbacks from it, and the memory goes with
 * the last of them. */
void scheduler_free(scheduler_t *s);

#endif
