/*
 * engine - dispatch to the implementation behind an engine_t, released jobs
 * destroyed on the next loop turn (common/later.h), and the answers to
 * questions to the engine.
 */
#include "engine.h"

#include "engine_internal.h"
#include "log.h"
#include "util.h"

#include <event2/event.h>
#include <stdlib.h>

struct engine_call {
    engine_t *engine;
    struct engine_call *next;
    struct event *ev; /* calls back from the loop */
    engine_ping_fn ping_fn;
    engine_cleanup_fn cleanup_fn;
    void *arg;
    char *problem;
    char **live; /* cleanup: the live job ids, NULL-terminated */
    int pending; /* cleanup requests in flight */
    int removed;
    bool listed; /* the cleanup knows what to remove (or failed) */
    bool failed;
    bool answered;
};

struct event *
engine_event_new(struct event_base *base, evutil_socket_t fd, short what, event_callback_fn fn,
                 void *arg)
{
    struct event *ev = event_new(base, fd, what, fn, arg);

    if (ev == NULL) {
        /* Fails only when out of memory, which aborts like xmalloc does. */
        log_error("engine", "could not allocate an event");
        abort();
    }
    return ev;
}

/* A released job, from the loop (later.h). */
static void
engine_job_destroy(void *arg)
{
    engine_job_t *j = arg;

    j->engine->ops->job_destroy(j);
}

void
engine_init(engine_t *e, const engine_ops_t *ops, struct event_base *base)
{
    e->ops = ops;
    e->evbase = base;
    e->calls = NULL;
}

engine_job_t *
engine_job_start(engine_t *e, const engine_job_spec_t *spec, const engine_callbacks_t *cb,
                 void *arg)
{
    if (e == NULL || spec == NULL || cb == NULL)
        return NULL;
    engine_job_t *j = e->ops->start(e, spec, cb, arg);
    if (j != NULL) {
        j->engine = e;
        j->released = false;
        j->later = (later_t){0};
    }
    return j;
}

void
engine_job_stop(engine_job_t *j, int grace_seconds)
{
    if (j != NULL && !j->released)
        j->engine->ops->stop(j, grace_seconds);
}

void
engine_job_free(engine_job_t *j)
{
    engine_t *e;

    if (j == NULL || j->released)
        return;
    e = j->engine;
    j->released = true;
    e->ops->job_release(j);
    later_free(e->evbase, &j->later, j, engine_job_destroy);
}

/* --- questions to the engine --- */

static void
engine_call_free(engine_call_t *c)
{
    event_free(c->ev);
    free(c->problem);
    for (char **p = c->live; p != NULL && *p != NULL; p++)
        free(*p);
    free(c->live);
    free(c);
}

engine_t *
engine_call_engine(const engine_call_t *c)
{
    return c->engine;
}

void
engine_call_keep_live(engine_call_t *c, const char *const *live_job_ids)
{
    size_t n = 0;

    while (live_job_ids != NULL && live_job_ids[n] != NULL)
        n++;
    c->live = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c->live[i] = xstrdup(live_job_ids[i]);
}

char **
engine_call_live(const engine_call_t *c)
{
    return c->live;
}

static void
engine_call_fire(evutil_socket_t fd, short what, void *arg)
{
    engine_call_t *c = arg;
    engine_call_t **p = &c->engine->calls;

    while (*p != c)
        p = &(*p)->next;
    *p = c->next;
    if (c->ping_fn != NULL)
        c->ping_fn(c->arg, c->problem);
    else
        c->cleanup_fn(c->arg, c->failed ? -1 : c->removed);
    engine_call_free(c);
}

static engine_call_t *
engine_call_new(engine_t *e, engine_ping_fn ping_fn, engine_cleanup_fn cleanup_fn, void *arg)
{
    engine_call_t *c = xcalloc(1, sizeof(*c));

    c->engine = e;
    c->ping_fn = ping_fn;
    c->cleanup_fn = cleanup_fn;
    c->arg = arg;
    c->ev = engine_event_new(e->evbase, -1, 0, engine_call_fire, c);
    c->next = e->calls;
    e->calls = c;
    return c;
}

/* Schedule the callback, once. */
static void
engine_call_answer(engine_call_t *c)
{
    if (c->answered)
        return;
    c->answered = true;
    event_active(c->ev, EV_TIMEOUT, 0);
}

void
engine_call_ping_done(engine_call_t *c, const char *problem)
{
    c->problem = problem != NULL ? xstrdup(problem) : NULL;
    engine_call_answer(c);
}

void
engine_call_cleanup_more(engine_call_t *c)
{
    c->pending++;
}

void
engine_call_cleanup_one(engine_call_t *c, bool removed)
{
    c->pending--;
    if (removed)
        c->removed++;
    if (c->listed && c->pending == 0)
        engine_call_answer(c);
}

void
engine_call_cleanup_done(engine_call_t *c, bool failed)
{
    c->listed = true;
    c->failed = failed;
    if (failed || c->pending == 0)
        engine_call_answer(c);
}

void
engine_ping_start(engine_t *e, engine_ping_fn fn, void *arg)
{
    engine_call_t *c = engine_call_new(e, fn, NULL, arg);

    if (e->ops->ping == NULL)
        engine_call_ping_done(c, NULL);
    else
        e->ops->ping(e, c);
}

void
engine_cleanup_start(engine_t *e, const char *const *live_job_ids, engine_cleanup_fn fn, void *arg)
{
    engine_call_t *c = engine_call_new(e, NULL, fn, arg);

    if (e->ops->cleanup == NULL)
        engine_call_cleanup_done(c, false);
    else
        e->ops->cleanup(e, live_job_ids, c);
}

const char *
engine_name(const engine_t *e)
{
    return e->ops->name;
}

void
engine_free(engine_t *e)
{
    engine_call_t *calls;

    if (e == NULL)
        return;
    /* Its released jobs first (with whatever else waits on the base): the
     * implementation's destroy frees the jobs still linked to it. */
    later_drain(e->evbase);
    calls = e->calls;
    /* The implementation drops its requests without calling back, so no
     * call is touched after this. */
    e->ops->destroy(e);
    while (calls != NULL) {
        engine_call_t *next = calls->next;
        engine_call_free(calls);
        calls = next;
    }
}
