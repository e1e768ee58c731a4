/*
 * run_state - the table of a run's life (see run_state.h): pure, no clock
 * and no I/O, walked by check_run_state.
 */
#include "run_state.h"

#include "util.h"

#define MOVE(f, e, t)                                                                              \
    {                                                                                              \
        RS_##f, RE_##e, RS_##t                                                                     \
    }

static const run_move_t run_moves[] = {
    MOVE(PREPARE, PREPARED, START_JOB),
    MOVE(PREPARE, PREPARE_FAILED, FINISH),
    MOVE(START_JOB, JOB_STARTED, STARTING),
    MOVE(START_JOB, JOB_SECRETS, SECRETS),
    MOVE(START_JOB, NO_MORE_JOBS, FINISH),
    MOVE(SECRETS, SECRETS_ASKED, SECRETS_ASKED),
    MOVE(SECRETS, STOPPED_EARLY, START_JOB),
    MOVE(SECRETS_ASKED, SECRETS_FAILED, SECRETS),
    MOVE(SECRETS_ASKED, SECRETS_OPENED, STARTING),
    MOVE(SECRETS_ASKED, JOB_DONE, JOB_DONE),
    MOVE(SECRETS_ASKED, STOPPED_EARLY, START_JOB),
    MOVE(STARTING, ENGINE_STARTED, RUNNING),
    MOVE(STARTING, JOB_DONE, JOB_DONE),
    MOVE(STARTING, STOPPED_EARLY, START_JOB),
    MOVE(RUNNING, JOB_DONE, JOB_DONE),
    MOVE(JOB_DONE, JUDGED, JOB_STORE),
    MOVE(JOB_STORE, END_SENT, JOB_ENDING),
    MOVE(JOB_STORE, STOPPED_WITH_RUNNER, FINISH),
    MOVE(JOB_ENDING, END_FAILED, JOB_STORE),
    MOVE(JOB_ENDING, NEXT_JOB, START_JOB),
    MOVE(JOB_ENDING, RUN_ENDED, OVER),
    MOVE(FINISH, END_SENT, FINISHING),
    MOVE(FINISHING, END_FAILED, FINISH),
    MOVE(FINISHING, REQUEUE_REFUSED, FINISH),
    MOVE(FINISHING, RUN_ENDED, OVER),
    MOVE(PREPARE, GIVEN_UP, OVER),
    MOVE(START_JOB, GIVEN_UP, OVER),
    MOVE(SECRETS, GIVEN_UP, OVER),
    MOVE(SECRETS_ASKED, GIVEN_UP, OVER),
    MOVE(STARTING, GIVEN_UP, OVER),
    MOVE(RUNNING, GIVEN_UP, OVER),
    MOVE(JOB_DONE, GIVEN_UP, OVER),
    MOVE(JOB_STORE, GIVEN_UP, OVER),
    MOVE(JOB_ENDING, GIVEN_UP, OVER),
    MOVE(FINISH, GIVEN_UP, OVER),
    MOVE(FINISHING, GIVEN_UP, OVER),
    MOVE(OVER, REPORTED, REPORTED),
};

static const char *const run_state_names[RS_COUNT] = {
    [RS_PREPARE] = "PREPARE",       [RS_START_JOB] = "START_JOB",
    [RS_SECRETS] = "SECRETS",       [RS_SECRETS_ASKED] = "SECRETS_ASKED",
    [RS_STARTING] = "STARTING",     [RS_RUNNING] = "RUNNING",
    [RS_JOB_DONE] = "JOB_DONE",     [RS_JOB_STORE] = "JOB_STORE",
    [RS_JOB_ENDING] = "JOB_ENDING", [RS_FINISH] = "FINISH",
    [RS_FINISHING] = "FINISHING",   [RS_OVER] = "OVER",
    [RS_REPORTED] = "REPORTED",
};

static const char *const run_event_names[RE_COUNT] = {
    [RE_PREPARED] = "prepared",
    [RE_PREPARE_FAILED] = "prepare_failed",
    [RE_JOB_STARTED] = "job_started",
    [RE_JOB_SECRETS] = "job_secrets",
    [RE_NO_MORE_JOBS] = "no_more_jobs",
    [RE_SECRETS_ASKED] = "secrets_asked",
    [RE_SECRETS_FAILED] = "secrets_failed",
    [RE_SECRETS_OPENED] = "secrets_opened",
    [RE_STOPPED_EARLY] = "stopped_early",
    [RE_ENGINE_STARTED] = "engine_started",
    [RE_JOB_DONE] = "job_done",
    [RE_JUDGED] = "judged",
    [RE_END_SENT] = "end_sent",
    [RE_STOPPED_WITH_RUNNER] = "stopped_with_runner",
    [RE_END_FAILED] = "end_failed",
    [RE_NEXT_JOB] = "next_job",
    [RE_RUN_ENDED] = "run_ended",
    [RE_REQUEUE_REFUSED] = "requeue_refused",
    [RE_GIVEN_UP] = "given_up",
    [RE_REPORTED] = "reported",
};

const run_move_t *
run_state_moves(size_t *n)
{
    *n = GW_ARRAY_LEN(run_moves);
    return run_moves;
}

int
run_state_next(run_state_t from, run_event_t event)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(run_moves); i++)
        if (run_moves[i].from == from && run_moves[i].event == event)
            return (int)run_moves[i].to;
    return -1;
}

const char *
run_state_name(run_state_t s)
{
    return s < RS_COUNT && run_state_names[s] != NULL ? run_state_names[s] : "?";
}

const char *
run_event_name(run_event_t e)
{
    return e < RE_COUNT && run_event_names[e] != NULL ? run_event_names[e] : "?";
}
