/*
 * run_state - the life of a claimed run as one table: its states, the
 * events that move it, and what each state allows. worker/run.c moves a
 * run only through run_state_next; check_run_state walks the table.
 *
 *   state              what it waits for / allows                  event -> next state
 *   -----------------  ------------------------------------------ ---------------------------------
 *   PREPARE            makes the workspace                         prepared -> START_JOB
 *                                                                  prepare_failed -> FINISH
 *   START_JOB          sends the next job's "running" (again       job_started -> STARTING
 *                      after a reconnect)                          job_secrets -> SECRETS
 *                                                                  no_more_jobs -> FINISH
 *   SECRETS            asks for the job's secrets (again a         secrets_asked -> SECRETS_ASKED
 *                      second after a failure); a stop goes back   stopped_early -> START_JOB
 *   SECRETS_ASKED      their answer                                secrets_failed -> SECRETS
 *                                                                  secrets_opened -> STARTING
 *                                                                  job_done (cannot open) ->
 * JOB_DONE stopped_early -> START_JOB STARTING           the engine is to start the job (next pass
 * engine_started -> RUNNING of the loop); a stop goes back              job_done (refused) ->
 * JOB_DONE stopped_early -> START_JOB RUNNING            the engine has the job: output, timeout,
 * job_done -> JOB_DONE cancel and shutdown stop it JOB_DONE           judges the job, finishes its
 * log (once)     judged -> JOB_STORE JOB_STORE          sends the job's end (again after a end_sent
 * -> JOB_ENDING failure or a reconnect)                     stopped_with_runner -> FINISH
 *   JOB_ENDING         the end's answer                            end_failed -> JOB_STORE
 *                                                                  next_job -> START_JOB
 *                                                                  run_ended -> OVER (the end was
 * the run's) FINISH             sends the run's end, requeue or loss        end_sent -> FINISHING
 *   FINISHING          its answer                                  end_failed -> FINISH
 *                                                                  requeue_refused -> FINISH (as
 * lost) run_ended -> OVER OVER               answers still in flight; nothing is sent    reported
 * -> REPORTED REPORTED           the owner was told (it frees the run)       (none)
 *
 * And from every state before OVER: given_up -> OVER (a fenced write, a
 * lost lease, statements that keep failing).
 *
 * Not states, and so fields of the run: the current job's "running"
 * statement (its own small machine, in parallel with the job), why a job
 * was stopped, and the requests from outside (cancel, shutdown), which may
 * come in any state and are acted on where the table says.
 */
#ifndef GW_RUN_STATE_H
#define GW_RUN_STATE_H

#include <stddef.h>

typedef enum {
    RS_PREPARE,
    RS_START_JOB,
    RS_SECRETS,
    RS_SECRETS_ASKED,
    RS_STARTING,
    RS_RUNNING,
    RS_JOB_DONE,
    RS_JOB_STORE,
    RS_JOB_ENDING,
    RS_FINISH,
    RS_FINISHING,
    RS_OVER,
    RS_REPORTED,
    RS_COUNT
} run_state_t;

typedef enum {
    RE_PREPARED,
    RE_PREPARE_FAILED,
    RE_JOB_STARTED,
    RE_JOB_SECRETS,
    RE_NO_MORE_JOBS,
    RE_SECRETS_ASKED,
    RE_SECRETS_FAILED,
    RE_SECRETS_OPENED,
    RE_STOPPED_EARLY,
    RE_ENGINE_STARTED,
    RE_JOB_DONE,
    RE_JUDGED,
    RE_END_SENT,
    RE_STOPPED_WITH_RUNNER,
    RE_END_FAILED,
    RE_NEXT_JOB,
    RE_RUN_ENDED,
    RE_REQUEUE_REFUSED,
    RE_GIVEN_UP,
    RE_REPORTED,
    RE_COUNT
} run_event_t;

typedef struct {
    run_state_t from;
    run_event_t event;
    run_state_t to;
} run_move_t;

/* The table (n moves). */
const run_move_t *run_state_moves(size_t *n);

/* The state event moves from to, or -1 when the table has no such move. */
int run_state_next(run_state_t from, run_event_t event);

/* Names for logs and tests ("PREPARE", "prepared"). */
const char *run_state_name(run_state_t s);
const char *run_event_name(run_event_t e);

#endif
