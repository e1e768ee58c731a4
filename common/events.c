/*
 * events - the table of event types, from the field lists of events.h.
 */
#include "events.h"

#define EV_KEY(key, value) key,

const ev_type_t ev_types[] = {
    {EV_CHANNEL, EV_RUN, {EV_RUN_FIELDS(EV_KEY, , ) NULL}},
    {EV_CHANNEL, EV_JOB, {EV_JOB_FIELDS(EV_KEY, , , ) NULL}},
    {EV_CHANNEL, EV_CANCEL, {EV_CANCEL_FIELDS(EV_KEY, ) NULL}},
    {EV_CHANNEL, EV_RUNNER, {EV_RUNNER_FIELDS(EV_KEY, , ) NULL}},
    {EV_LOGS_CHANNEL, EV_LOG, {EV_LOG_FIELDS(EV_KEY, , ) NULL}},
};

const size_t ev_ntypes = sizeof(ev_types) / sizeof(ev_types[0]);
