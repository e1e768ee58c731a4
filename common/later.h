/*
 * later - free an object on the next turn of the event loop: the one way,
 * in both programs, to free an object that a callback up the stack may
 * still hold (pgbouncer's "just freed" lists, Redis's CLIENT_CLOSE_ASAP).
 *
 * The object embeds a later_t. later_free(base, &obj->later, obj, fn)
 * queues it on base's list and makes one event of base active; that event
 * runs after the current callback has returned to the loop, and calls
 * fn(obj) for every object queued, in the order they were queued. It
 * cannot fail (the node is the object's own), and queuing an object that
 * is already queued does nothing, so an object is freed once however many
 * paths give it up, even from inside another object's fn during a drain.
 * At shutdown, later_drain(base) before event_base_free frees what is
 * still queued, so nothing is leaked.
 *
 * When to use it: the object is given up inside a call that a callback of
 * its own (or a loop over a list holding it) made, and that caller goes on
 * with the object after the call returns. The owner first cuts the object
 * off (no more callbacks, out of every list, its state saying so, as
 * pg_conn_free does), then queues it; the callers up the stack look at
 * that state and stop. Users: a pg connection and a pool (common/pg.c,
 * pg_pool.c), a replied request whose client has gone (api/httpd.c), a log
 * topic whose last follower left (api/follow_logs.c), a released engine
 * job (worker/engine.c).
 *
 * When plain free is fine: nothing up the stack holds the object (it is
 * freed from the loop by its owner, or at shutdown), or the loop that
 * holds it has already taken the next element and the object is not
 * touched after the call that freed it returns false.
 *
 * Not this case: an object that a pending statement's callback will be
 * handed (its argument) lives until that callback, which may come many
 * turns later. It counts its statements in flight and the last one frees
 * it (http_req_t's in_flight, a log reader's reading, an event
 * subscriber's reads). Nor is it the worker's collection of ended runs
 * (worker/worker.c), which frees runs on the next turn but also counts
 * slots, records given-up runs and looks for work: that is its own step of
 * the worker, not a free.
 */
#ifndef GW_LATER_H
#define GW_LATER_H

#include <event2/event.h>
#include <stdbool.h>

typedef void (*later_fn)(void *obj);

/* Embedded in an object that may be freed later; zero it with the object. */
typedef struct later {
    struct later *next;
    later_fn fn;
    void *obj;
    bool queued; /* stays true once queued: the object is as good as freed */
} later_t;

/*
 * Queue obj (whose embedded node is node) to be freed by fn(obj) on base's
 * next loop turn. A node already queued is left as it is.
 */
void later_free(struct event_base *base, later_t *node, void *obj, later_fn fn);

/* Whether node was queued (its object is freed on the next turn). */
static inline bool
later_queued(const later_t *node)
{
    return node->queued;
}

/*
 * Free everything queued on base now, and what those frees queue in turn,
 * until nothing is left. For shutdown, just before event_base_free (and for
 * an owner whose own free must first free the objects it queued, as
 * engine_free does); never from a callback that may hold a queued object.
 */
void later_drain(struct event_base *base);

#endif
