/*
 * engine_internal - what the engine implementations share with engine.c.
 */
#ifndef GW_ENGINE_INTERNAL_H
#define GW_ENGINE_INTERNAL_H

#include "engine.h"

/* Every job struct of an implementation starts with this. */
struct engine_job {
    engine_t *engine;
};

#endif
