/*
 * engine - dispatch to the implementation behind an engine_t.
 */
#include "engine.h"

#include "engine_internal.h"

#include <stddef.h>

engine_job_t *
engine_job_start(engine_t *e, const engine_job_spec_t *spec, const engine_callbacks_t *cb,
                 void *arg)
{
    if (e == NULL || spec == NULL || cb == NULL)
        return NULL;
    engine_job_t *j = e->ops->start(e, spec, cb, arg);
    if (j != NULL)
        j->engine = e;
    return j;
}

void
engine_job_stop(engine_job_t *j, int grace_seconds)
{
    if (j != NULL)
        j->engine->ops->stop(j, grace_seconds);
}

void
engine_job_free(engine_job_t *j)
{
    if (j != NULL)
        j->engine->ops->job_free(j);
}

int
engine_cleanup(engine_t *e, const char *const *live_job_ids)
{
    if (e->ops->cleanup == NULL)
        return 0;
    return e->ops->cleanup(e, live_job_ids);
}

int
engine_ping(engine_t *e, char **problem)
{
    *problem = NULL;
    if (e->ops->ping == NULL)
        return 0;
    return e->ops->ping(e, problem);
}

const char *
engine_name(const engine_t *e)
{
    return e->ops->name;
}

void
engine_free(engine_t *e)
{
    if (e != NULL)
        e->ops->destroy(e);
}
