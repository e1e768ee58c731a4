/*
 * check_later - common/later.c: an object given up is freed on the next
 * loop turn, not now; once, however often it is queued (also from inside
 * another object's free during the drain); in the order queued; and what
 * is still queued at shutdown is freed by later_drain. Run under ASan, a
 * second free or a leak fails too.
 */
#include <check.h>
#include <stdlib.h>

#include "later.h"
#include "util.h"

typedef struct obj {
    later_t later;
    struct event_base *base;
    int id;
    int *frees;          /* counts this object's frees */
    int *order;          /* ids in the order freed */
    int *norder;         /* entries of order */
    struct obj *also[2]; /* queued from this object's free */
} obj_t;

static void
obj_free(void *arg)
{
    obj_t *o = arg;

    (*o->frees)++;
    if (o->order != NULL)
        o->order[(*o->norder)++] = o->id;
    for (size_t i = 0; i < GW_ARRAY_LEN(o->also); i++)
        if (o->also[i] != NULL)
            later_free(o->base, &o->also[i]->later, o->also[i], obj_free);
    /* Queued again from its own free: must do nothing. */
    later_free(o->base, &o->later, o, obj_free);
    free(o);
}

static obj_t *
obj_new(struct event_base *base, int id, int *frees)
{
    obj_t *o = xcalloc(1, sizeof(*o));

    o->base = base;
    o->id = id;
    o->frees = frees;
    return o;
}

static void
turn(struct event_base *base)
{
    ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
}

START_TEST(test_next_turn_not_now)
{
    struct event_base *base = event_base_new();
    int frees = 0;
    obj_t *o = obj_new(base, 1, &frees);

    later_free(base, &o->later, o, obj_free);
    ck_assert(later_queued(&o->later));
    ck_assert_int_eq(frees, 0);
    turn(base);
    ck_assert_int_eq(frees, 1);
    /* Nothing left: another turn and the drain free nothing more. */
    turn(base);
    later_drain(base);
    ck_assert_int_eq(frees, 1);
    event_base_free(base);
}
END_TEST

/* A callback that gives its object up still has it when the call returns. */
typedef struct {
    obj_t *o;
    int frees_after_queue;
} in_cb_t;

static void
give_up_cb(evutil_socket_t fd, short what, void *arg)
{
    in_cb_t *c = arg;

    later_free(c->o->base, &c->o->later, c->o, obj_free);
    c->frees_after_queue = *c->o->frees;
    /* Still ours until we return. */
    c->o->id = 2;
}

START_TEST(test_from_a_callback)
{
    struct event_base *base = event_base_new();
    int frees = 0;
    in_cb_t c = {obj_new(base, 1, &frees), -1};
    struct event *ev = event_new(base, -1, 0, give_up_cb, &c);

    event_active(ev, EV_TIMEOUT, 0);
    while (frees == 0)
        turn(base);
    ck_assert_int_eq(c.frees_after_queue, 0);
    ck_assert_int_eq(frees, 1);
    event_free(ev);
    later_drain(base);
    event_base_free(base);
}
END_TEST

START_TEST(test_freed_once)
{
    struct event_base *base = event_base_new();
    int frees_a = 0, frees_b = 0, frees_c = 0;
    int order[3], norder = 0;
    obj_t *a = obj_new(base, 1, &frees_a);
    obj_t *b = obj_new(base, 2, &frees_b);
    obj_t *c = obj_new(base, 3, &frees_c);

    a->order = b->order = c->order = order;
    a->norder = b->norder = c->norder = &norder;
    /* a's free queues b (already queued behind it) and c (new). */
    a->also[0] = b;
    a->also[1] = c;
    later_free(base, &a->later, a, obj_free);
    later_free(base, &b->later, b, obj_free);
    later_free(base, &a->later, a, obj_free);
    later_free(base, &b->later, b, obj_free);
    turn(base);
    ck_assert_int_eq(frees_a, 1);
    ck_assert_int_eq(frees_b, 1);
    ck_assert_int_eq(frees_c, 1);
    ck_assert_int_eq(norder, 3);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 3);
    later_drain(base);
    event_base_free(base);
}
END_TEST

START_TEST(test_drained_at_shutdown)
{
    struct event_base *base = event_base_new();
    int frees = 0, frees_b = 0;
    obj_t *a = obj_new(base, 1, &frees);
    obj_t *b = obj_new(base, 2, &frees_b);

    /* b is queued by a's free during the drain: the drain frees it too. */
    a->also[0] = b;
    later_free(base, &a->later, a, obj_free);
    later_drain(base);
    ck_assert_int_eq(frees, 1);
    ck_assert_int_eq(frees_b, 1);
    /* No loop turn after the drain: nothing is left (ASan: no leak). */
    event_base_free(base);
}
END_TEST

START_TEST(test_bases_apart)
{
    struct event_base *one = event_base_new();
    struct event_base *two = event_base_new();
    int frees_one = 0, frees_two = 0;
    obj_t *a = obj_new(one, 1, &frees_one);
    obj_t *b = obj_new(two, 2, &frees_two);

    later_free(one, &a->later, a, obj_free);
    later_free(two, &b->later, b, obj_free);
    turn(one);
    ck_assert_int_eq(frees_one, 1);
    ck_assert_int_eq(frees_two, 0);
    later_drain(one);
    later_drain(two);
    ck_assert_int_eq(frees_two, 1);
    event_base_free(one);
    event_base_free(two);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("later");
    TCase *tc = tcase_create("later");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_next_turn_not_now);
    tcase_add_test(tc, test_from_a_callback);
    tcase_add_test(tc, test_freed_once);
    tcase_add_test(tc, test_drained_at_shutdown);
    tcase_add_test(tc, test_bases_apart);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
