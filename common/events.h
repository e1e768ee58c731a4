/*
 * events - the notifications both programs publish and read: every event
 * type, its channel and its fields, defined once (docs/events.md).
 *
 * Each type's fields are an X-macro list (EV_*_FIELDS): EV_*_SQL expands
 * it into the pg_notify(...) call the statements of the API and the worker
 * embed, and ev_types (events.c) into the table the readers and the tests
 * go by. The logs trigger (db/migrations/0002_log_follow.sql) is PL/pgSQL
 * and cannot include this header; tests/unit/check_events.c holds it, every
 * statement that notifies, and docs/events.md to the table.
 */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

#include <stddef.h>

/* Status changes, the cancel of a running run, a runner paused or resumed. */
#define EV_CHANNEL "gitweave_events"
/* Stored log chunks, one notification per job per statement. */
#define EV_LOGS_CHANNEL "gitweave_logs"

/* Every payload is a JSON object whose first key is the type. */
#define EV_KEY_TYPE "type"

#define EV_RUN "run"
#define EV_JOB "job"
#define EV_CANCEL "cancel"
#define EV_LOG "log"
#define EV_RUNNER "runner"

#define EV_KEY_ID "id"
#define EV_KEY_RUN_ID "run_id"
#define EV_KEY_STATUS "status"
#define EV_KEY_JOB_ID "job_id"
#define EV_KEY_NEXT_OFFSET "next_offset"
#define EV_KEY_PAUSED "paused"

/* The fields of each type, in payload order: F(key, value) each. */
#define EV_RUN_FIELDS(F, id, status) F(EV_KEY_ID, id) F(EV_KEY_STATUS, status)
#define EV_JOB_FIELDS(F, id, run_id, status)                                                       \
    F(EV_KEY_ID, id) F(EV_KEY_RUN_ID, run_id) F(EV_KEY_STATUS, status)
#define EV_CANCEL_FIELDS(F, id) F(EV_KEY_ID, id)
#define EV_LOG_FIELDS(F, job_id, next_offset)                                                      \
    F(EV_KEY_JOB_ID, job_id) F(EV_KEY_NEXT_OFFSET, next_offset)
#define EV_RUNNER_FIELDS(F, id, paused) F(EV_KEY_ID, id) F(EV_KEY_PAUSED, paused)

/* SQL: the pg_notify call of one event; the values are SQL expressions. */
#define EV_SQL_FIELD(key, value) ", '" key "', " value
#define EV_SQL(channel, type, fields)                                                              \
    "pg_notify('" channel "', json_build_object('" EV_KEY_TYPE "', '" type "'" fields ")::text)"
#define EV_RUN_SQL(id, status) EV_SQL(EV_CHANNEL, EV_RUN, EV_RUN_FIELDS(EV_SQL_FIELD, id, status))
#define EV_JOB_SQL(id, run_id, status)                                                             \
    EV_SQL(EV_CHANNEL, EV_JOB, EV_JOB_FIELDS(EV_SQL_FIELD, id, run_id, status))
#define EV_CANCEL_SQL(id) EV_SQL(EV_CHANNEL, EV_CANCEL, EV_CANCEL_FIELDS(EV_SQL_FIELD, id))
#define EV_RUNNER_SQL(id, paused)                                                                  \
    EV_SQL(EV_CHANNEL, EV_RUNNER, EV_RUNNER_FIELDS(EV_SQL_FIELD, id, paused))

#define EV_MAX_FIELDS 3

typedef struct {
    const char *channel;
    const char *type;
    const char *keys[EV_MAX_FIELDS + 1]; /* after "type", NULL-terminated */
} ev_type_t;

/* Every event type, ev_ntypes of them. */
extern const ev_type_t ev_types[];
extern const size_t ev_ntypes;

#endif
