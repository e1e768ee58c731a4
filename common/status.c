/*
 * status - run and job statuses and their allowed transitions.
 */
#include "status.h"

#include <string.h>

static const char *const status_names[ST__COUNT] = {
    [ST_QUEUED] = "queued", [ST_RUNNING] = "running",   [ST_SUCCESS] = "success",
    [ST_FAILED] = "failed", [ST_CANCELED] = "canceled", [ST_SKIPPED] = "skipped",
};

/* allowed[kind][from] is a bit set of the statuses that may follow. */
#define B(s) (1u << (s))
static const unsigned allowed[2][ST__COUNT] = {
    [ST_KIND_RUN] =
        {
            [ST_QUEUED] = B(ST_RUNNING) | B(ST_CANCELED),
            [ST_RUNNING] = B(ST_QUEUED) | B(ST_SUCCESS) | B(ST_FAILED) | B(ST_CANCELED),
        },
    [ST_KIND_JOB] =
        {
            [ST_QUEUED] = B(ST_RUNNING) | B(ST_SKIPPED) | B(ST_CANCELED),
            [ST_RUNNING] = B(ST_QUEUED) | B(ST_SUCCESS) | B(ST_FAILED) | B(ST_CANCELED),
        },
};
#undef B

const char *
status_name(gw_status_t s)
{
    if ((unsigned)s >= ST__COUNT)
        return "unknown";
    return status_names[s];
}

int
status_parse(gw_status_kind_t kind, const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < ST__COUNT; i++) {
        if (kind == ST_KIND_RUN && i == ST_SKIPPED)
            continue;
        if (strcmp(name, status_names[i]) == 0)
            return i;
    }
    return -1;
}

bool
status_is_final(gw_status_t s)
{
    return s == ST_SUCCESS || s == ST_FAILED || s == ST_CANCELED || s == ST_SKIPPED;
}

bool
status_can_transition(gw_status_kind_t kind, gw_status_t from, gw_status_t to)
{
    if ((unsigned)from >= ST__COUNT || (unsigned)to >= ST__COUNT)
        return false;
    if (kind == ST_KIND_RUN && (from == ST_SKIPPED || to == ST_SKIPPED))
        return false;
    return (allowed[kind][from] >> to) & 1u;
}
