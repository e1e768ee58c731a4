/*
 * later - free an object on the next turn of the event loop (see later.h).
 *
 * Each event base with something queued has one entry here: its list of
 * queued nodes and the event that drains it. The entry is made by the
 * first later_free on that base and goes with later_drain, so a program
 * whose base is freed after a drain leaves nothing behind. Programs have
 * one base or a few (a test makes one per case), so the entries are a
 * short list.
 */
#include "later.h"

#include <stdlib.h>

#include "log.h"
#include "util.h"

typedef struct later_base {
    struct later_base *next;
    struct event_base *base;
    struct event *ev; /* drains the list; active while it is not empty */
    later_t *head;    /* in the order queued */
    later_t **tail;
} later_base_t;

static later_base_t *later_bases;

static later_base_t **
later_find(struct event_base *base)
{
    later_base_t **p = &later_bases;

    while (*p != NULL && (*p)->base != base)
        p = &(*p)->next;
    return p;
}

/* Free every queued object, and those their frees queue, in order. */
static void
later_run(later_base_t *lb)
{
    later_t *n;

    while ((n = lb->head) != NULL) {
        lb->head = n->next;
        if (lb->head == NULL)
            lb->tail = &lb->head;
        /* n->queued stays true: a later_free of n from here on is a no-op. */
        n->fn(n->obj);
    }
}

static void
later_on_turn(evutil_socket_t fd, short what, void *arg)
{
    later_run(arg);
}

void
later_free(struct event_base *base, later_t *node, void *obj, later_fn fn)
{
    later_base_t **p;
    later_base_t *lb;

    if (node->queued)
        return;
    p = later_find(base);
    if (*p == NULL) {
        lb = xcalloc(1, sizeof(*lb));
        lb->base = base;
        lb->tail = &lb->head;
        lb->ev = event_new(base, -1, 0, later_on_turn, lb);
        if (lb->ev == NULL) {
            log_error("later", "could not allocate an event: out of memory");
            abort();
        }
        *p = lb;
    }
    lb = *p;
    node->next = NULL;
    node->fn = fn;
    node->obj = obj;
    node->queued = true;
    *lb->tail = node;
    lb->tail = &node->next;
    /* The drain runs on the loop's next pass over active events, after
     * the current callback returns (making it active again is a no-op). */
    event_active(lb->ev, EV_TIMEOUT, 0);
}

void
later_drain(struct event_base *base)
{
    later_base_t **p = later_find(base);
    later_base_t *lb = *p;

    if (lb == NULL)
        return;
    later_run(lb);
    /* A free may have queued on another base's entry, never removed this
     * one: find it again before unlinking. */
    p = later_find(base);
    *p = lb->next;
    event_free(lb->ev);
    free(lb);
}
