/*
 * trigger - starting a scheduled run (the endpoints that start runs are in
 * handlers.h). It goes the way of a manual trigger: the same preparation
 * (input values, expansion, secrets) and the same insert
 * (SQL_TRIGGER_INSERT), with the schedule's fire time taken in that insert.
 */
#ifndef GW_API_TRIGGER_H
#define GW_API_TRIGGER_H

#include <stdint.h>

#include <libpq-fe.h>

#include "dbconn.h"
#include "pg.h"

/*
 * Start the run of the schedule in row `row` of a SQL_SCHEDULES_DUE result
 * (borrowed) at fire time fire_at (seconds since the epoch), on the repo's
 * default branch, trigger "schedule". Returns 0 when the insert is sent:
 * fn then gets its result, one row (as SQL_TRIGGER_INSERT's) when this
 * call started the run, none when the fire time was taken already; the
 * new run's id is in run_id. Returns 1 (fn not called) when the run could
 * not be prepared (logged: an input without a value, a secret not set;
 * nothing to retry), -1 (fn not called) when the database is unavailable
 * (not logged).
 */
int trigger_schedule(dbconn_t *db, const PGresult *res, int row, int64_t fire_at, char run_id[37],
                     pg_result_fn fn, void *arg) GW_MUST_CHECK;

#endif
