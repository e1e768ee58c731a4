/*
 * engine_internal - what the engine implementations share with engine.c.
 *
 * Ownership of a job follows one pattern in every engine: engine_job_free
 * marks the job released and calls ops->job_release, which stops it and
 * cuts its callbacks; engine.c then gives it to later_free (common/later.h),
 * which frees it (ops->job_destroy) on the next turn of the loop. So a job freed from
 * inside its own callback is still there when the callback returns: the
 * code that called it looks at `released` and stops, and nothing else
 * guards against frees in flight.
 */
#ifndef GW_ENGINE_INTERNAL_H
#define GW_ENGINE_INTERNAL_H

#include "engine.h"
#include "later.h"

#include <event2/event.h>
#include <stdbool.h>

/* A question to the engine in flight (engine_ping_start,
 * engine_cleanup_start), owned by engine.c. */
typedef struct engine_call engine_call_t;

typedef struct {
    const char *name;
    engine_job_t *(*start)(engine_t *e, const engine_job_spec_t *spec, const engine_callbacks_t *cb,
                           void *arg);
    void (*stop)(engine_job_t *j, int grace_seconds);
    /* Stop the job without calling back from now on (its memory stays). */
    void (*job_release)(engine_job_t *j);
    /* Free a released job, from the loop. */
    void (*job_destroy)(engine_job_t *j);
    /* Optional; without, the engine can always take jobs. Answer with
     * engine_call_ping_done. */
    void (*ping)(engine_t *e, engine_call_t *c);
    /* Optional; without, nothing is left behind. Answer with
     * engine_call_cleanup_done. */
    void (*cleanup)(engine_t *e, const char *const *live_job_ids, engine_call_t *c);
    /* Free the implementation: drops its requests without calling back. */
    void (*destroy)(engine_t *e);
} engine_ops_t;

/* Every engine struct starts with this; set up by engine_init. */
struct engine {
    const engine_ops_t *ops;
    struct event_base *evbase;
    struct engine_call *calls; /* questions not answered yet */
};

/* Every job struct of an implementation starts with this. */
struct engine_job {
    engine_t *engine;
    bool released; /* engine_job_free was called */
    later_t later; /* released: destroyed on the next loop turn */
};

void engine_init(engine_t *e, const engine_ops_t *ops, struct event_base *base);
/* event_new that aborts when out of memory (the only way it fails), as
 * xmalloc does. */
struct event *engine_event_new(struct event_base *base, evutil_socket_t fd, short what,
                               event_callback_fn fn, void *arg);

/* The engine a question was put to. */
engine_t *engine_call_engine(const engine_call_t *c);
/* Keep a copy of live_job_ids with the call (a cleanup that reads them
 * later); engine_call_live returns it, NULL-terminated (NULL if none). */
void engine_call_keep_live(engine_call_t *c, const char *const *live_job_ids);
char **engine_call_live(const engine_call_t *c);

/* Answer a ping: problem NULL (the engine can take jobs) or why not
 * (copied). The caller's callback follows from the loop. */
void engine_call_ping_done(engine_call_t *c, const char *problem);
/* Count one more request of a cleanup in flight / one done (removed or
 * not); when the count drops to 0 after engine_call_cleanup_done, the
 * answer is the number removed. */
void engine_call_cleanup_more(engine_call_t *c);
void engine_call_cleanup_one(engine_call_t *c, bool removed);
/* Answer a cleanup now: -1 when the engine could not be asked; otherwise
 * the answer waits for the requests counted by engine_call_cleanup_more. */
void engine_call_cleanup_done(engine_call_t *c, bool failed);

#endif
