/*
 * check_pg - unit tests for common/pg.h against a real Postgres started for
 * the test (tests/lib/pg_cluster.sh): statements, parameters, prepared
 * statements, ordering, notifications, a backend terminated mid-statement,
 * a server restart, freeing from a callback, and the pool.
 */
#include "later.h"
#include "pg.h"
#include "pg_cluster.h"
#include "util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
cluster_start(void)
{
    cluster_start_named("gwcheckpg");
}

/* ---- a loop and recorded results ---------------------------------------- */

#define MAX_SEEN 256

typedef struct {
    int n;                  /* results seen */
    int lost;               /* of which NULL (connection lost) */
    int failed;             /* of which an error result */
    char *values[MAX_SEEN]; /* column 0 of row 0, or "" */
    char *sqlstates[MAX_SEEN];
    int notifies;
    char *notify_payload;
    int ready; /* times READY was entered */
    int down;  /* times DOWN was entered */
} seen_t;

static struct event_base *base;
static seen_t seen;

static void
seen_reset(void)
{
    for (int i = 0; i < seen.n && i < MAX_SEEN; i++) {
        free(seen.values[i]);
        free(seen.sqlstates[i]);
    }
    free(seen.notify_payload);
    memset(&seen, 0, sizeof(seen));
}

static void
on_result(const PGresult *res, void *arg)
{
    int i = seen.n++;

    if (res == NULL)
        seen.lost++;
    else if (!pg_result_ok(res))
        seen.failed++;
    if (i < MAX_SEEN) {
        seen.values[i] =
            xstrdup(pg_result_ok(res) && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
        seen.sqlstates[i] = xstrdup(pg_result_sqlstate(res));
    }
}

static void
on_notify(const char *channel, const char *payload, int be_pid, void *arg)
{
    seen.notifies++;
    free(seen.notify_payload);
    seen.notify_payload = xasprintf("%s:%s", channel, payload);
}

static void
on_state(pg_conn_t *c, pg_state_t state, void *arg)
{
    if (state == PG_READY)
        seen.ready++;
    if (state == PG_DOWN)
        seen.down++;
}

/* Run the loop until *counter reaches want, or seconds pass. Returns
 * whether it was reached. */
static bool
run_until(const int *counter, int want, double seconds)
{
    int64_t end = gw_now_ms() + (int64_t)(seconds * 1000);

    while (*counter < want && gw_now_ms() < end) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(base, &tv);
        event_base_loop(base, 0);
    }
    return *counter >= want;
}

/* Run the loop for a while. */
static void
run_for(double seconds)
{
    int never = 0;

    run_until(&never, 1, seconds);
}

/* Free what was freed with the deferred free (later.h), then the base. */
static void
loop_teardown(void)
{
    later_drain(base);
    event_base_free(base);
    base = NULL;
    seen_reset();
}

static void
loop_setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    seen_reset();
}

static pg_conn_t *
conn_new(bool pipeline, bool notify)
{
    pg_conn_config_t cfg = {.conninfo = conninfo,
                            .application_name = "check_pg",
                            .pipeline = pipeline,
                            .on_notify = notify ? on_notify : NULL,
                            .on_state = on_state};
    pg_conn_t *c = pg_conn_new(base, &cfg);

    ck_assert(run_until(&seen.ready, seen.ready + 1, 10));
    ck_assert_int_eq(pg_conn_state(c), PG_READY);
    return c;
}

/* A statement on a connection of its own, to completion (for the test's
 * side actions: NOTIFY, pg_terminate_backend). */
static void
side_exec(const char *sql)
{
    PGconn *conn = PQconnectdb(conninfo);
    PGresult *res;

    ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
    res = PQexec(conn, sql);
    ck_assert_msg(pg_result_ok(res), "%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_query_params)
{
    pg_conn_t *c = conn_new(false, false);
    const char *params[] = {"41", NULL};

    ck_assert_int_eq(pg_conn_query(c, "SELECT $1::int + 1", 1, params, on_result, NULL), 0);
    ck_assert_int_eq(
        pg_conn_query(c, "SELECT coalesce($1, 'null')", 1, params + 1, on_result, NULL), 0);
    ck_assert_int_eq(pg_conn_query(c, "SELECT 1/0", 0, NULL, on_result, NULL), 0);
    /* No callback runs inside the call that queued the statement. */
    ck_assert_int_eq(seen.n, 0);
    ck_assert(run_until(&seen.n, 3, 5));
    ck_assert_str_eq(seen.values[0], "42");
    ck_assert_str_eq(seen.values[1], "null");
    ck_assert_int_eq(seen.failed, 1);
    ck_assert_str_eq(seen.sqlstates[2], "22012");
    /* The connection is still usable after a failed statement. */
    ck_assert_int_eq(pg_conn_query(c, "SELECT 'after'", 0, NULL, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 4, 5));
    ck_assert_str_eq(seen.values[3], "after");
    pg_conn_free(c);
    loop_teardown();
}
END_TEST

START_TEST(test_prepared)
{
    pg_conn_t *c = conn_new(false, false);
    const char *params[] = {"a", "b"};

    pg_conn_prepare(c, "cat", "SELECT $1::text || $2::text", 2);
    pg_conn_prepare(c, "broken", "SELECT no_such_column", 0);
    ck_assert_int_eq(pg_conn_query_prepared(c, "cat", 2, params, on_result, NULL), 0);
    ck_assert_int_eq(pg_conn_query_prepared(c, "broken", 0, NULL, on_result, NULL), 0);
    ck_assert_int_eq(pg_conn_query_prepared(c, "missing", 0, NULL, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 3, 5));
    ck_assert_str_eq(seen.values[0], "ab");
    ck_assert_str_eq(seen.sqlstates[1], "26000"); /* never prepared */
    ck_assert_str_eq(seen.sqlstates[2], "26000");
    pg_conn_free(c);
    loop_teardown();
}
END_TEST

/* Results come back in the order the statements were queued, with and
 * without pipeline mode. */
static void
check_ordering(bool pipeline)
{
    pg_conn_t *c = conn_new(pipeline, false);
    char num[16];

    for (int i = 0; i < 100; i++) {
        const char *params[] = {num};
        snprintf(num, sizeof(num), "%d", i);
        /* Every tenth fails, and must not disturb the others. */
        ck_assert_int_eq(pg_conn_query(c, i % 10 == 9 ? "SELECT $1::int / 0" : "SELECT $1::int", 1,
                                       params, on_result, NULL),
                         0);
    }
    ck_assert_int_eq(pg_conn_load(c), 100);
    ck_assert(run_until(&seen.n, 100, 10));
    for (int i = 0; i < 100; i++) {
        snprintf(num, sizeof(num), "%d", i);
        ck_assert_str_eq(seen.values[i], i % 10 == 9 ? "" : num);
    }
    ck_assert_int_eq(seen.failed, 10);
    ck_assert_int_eq(pg_conn_load(c), 0);
    pg_conn_free(c);
    loop_teardown();
}

START_TEST(test_ordering)
{
    check_ordering(false);
}
END_TEST

START_TEST(test_ordering_pipeline)
{
    check_ordering(true);
}
END_TEST

/* A notification reaches the callback with no statement of the listener's
 * own, only the loop running. */
START_TEST(test_notify)
{
    pg_conn_t *c = conn_new(false, true);

    pg_conn_listen(c, "gw test");
    run_for(0.3); /* let the LISTEN go out */
    ck_assert_int_eq(pg_conn_load(c), 0);
    side_exec("NOTIFY \"gw test\", 'one'");
    ck_assert(run_until(&seen.notifies, 1, 5));
    ck_assert_str_eq(seen.notify_payload, "gw test:one");
    ck_assert_int_eq(seen.n, 0);
    pg_conn_free(c);
    loop_teardown();
}
END_TEST

/* pg_terminate_backend of its backend mid-statement: the statement and the
 * one queued behind it fail, then it reconnects and works. */
START_TEST(test_terminate)
{
    pg_conn_t *c = conn_new(false, false);
    int pid = pg_conn_backend_pid(c);
    char *kill;

    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(pg_conn_query(c, "SELECT pg_sleep(30)", 0, NULL, on_result, NULL), 0);
    ck_assert_int_eq(pg_conn_query(c, "SELECT 'queued'", 0, NULL, on_result, NULL), 0);
    run_for(0.3); /* the sleep is running */
    kill = xasprintf("SELECT pg_terminate_backend(%d)", pid);
    side_exec(kill);
    free(kill);
    ck_assert(run_until(&seen.n, 2, 5));
    ck_assert_int_eq(seen.n - seen.lost - seen.failed, 0); /* neither succeeded */
    ck_assert_int_ge(seen.down, 1);
    ck_assert(run_until(&seen.ready, 2, 10));
    ck_assert_int_ne(pg_conn_backend_pid(c), pid);
    ck_assert_int_eq(pg_conn_query(c, "SELECT 'again'", 0, NULL, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 3, 5));
    ck_assert_str_eq(seen.values[2], "again");
    pg_conn_free(c);
    loop_teardown();
}
END_TEST

/* A server restart: reconnect, re-prepare, re-LISTEN. */
START_TEST(test_restart)
{
    pg_conn_t *c = conn_new(false, true);
    const char *params[] = {"7"};

    pg_conn_prepare(c, "twice", "SELECT $1::int * 2", 1);
    pg_conn_listen(c, "after_restart");
    ck_assert_int_eq(pg_conn_query_prepared(c, "twice", 1, params, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 1, 5));
    ck_assert_str_eq(seen.values[0], "14");

    ck_assert_int_eq(pg_conn_query(c, "SELECT pg_sleep(30)", 0, NULL, on_result, NULL), 0);
    run_for(0.3);
    cluster_cmd("restart");
    ck_assert(run_until(&seen.n, 2, 10));
    ck_assert_int_eq(seen.n - seen.lost - seen.failed, 1); /* the sleep did not succeed */
    ck_assert(run_until(&seen.ready, 2, 20));

    ck_assert_int_eq(pg_conn_query_prepared(c, "twice", 1, params, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 3, 5));
    ck_assert_str_eq(seen.values[2], "14");
    side_exec("NOTIFY after_restart, 'back'");
    ck_assert(run_until(&seen.notifies, 1, 5));
    ck_assert_str_eq(seen.notify_payload, "after_restart:back");
    pg_conn_free(c);
    loop_teardown();
}
END_TEST

/* Freeing a connection from its own callback: the rest get NULL, nothing
 * runs after, and the memory goes on the next loop turn (ASan checks). */
static pg_conn_t *to_free;
static int closed_refused;

static void
on_result_free(const PGresult *res, void *arg)
{
    on_result(res, arg);
    pg_conn_free(to_free);
    /* Closed at once; its memory lives until the next loop turn. */
    if (pg_conn_state(to_free) == PG_CLOSED &&
        pg_conn_query(to_free, "SELECT 4", 0, NULL, on_result, NULL) == -1)
        closed_refused = 1;
}

START_TEST(test_free_in_callback)
{
    to_free = conn_new(false, false);
    ck_assert_int_eq(pg_conn_query(to_free, "SELECT 1", 0, NULL, on_result_free, NULL), 0);
    ck_assert_int_eq(pg_conn_query(to_free, "SELECT 2", 0, NULL, on_result, NULL), 0);
    ck_assert_int_eq(pg_conn_query(to_free, "SELECT 3", 0, NULL, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 3, 5));
    ck_assert_str_eq(seen.values[0], "1");
    ck_assert_int_eq(seen.lost, 2);
    ck_assert_int_eq(closed_refused, 1);
    run_for(0.2);
    ck_assert_int_eq(seen.n, 3);
    loop_teardown();
}
END_TEST

/* The pool: a slow statement holds one connection; the others keep going,
 * and what cannot be placed waits. */
START_TEST(test_pool)
{
    pg_conn_config_t cfg = {.conninfo = conninfo, .application_name = "check_pg"};
    pg_pool_t *p = pg_pool_new(base, &cfg, 2);
    pg_pool_stats_t st;
    int64_t t0;

    pg_pool_prepare(p, "one", "SELECT 'one'", 0);
    ck_assert_int_eq(pg_pool_query(p, "SELECT pg_sleep(1.5), 'slow'", 0, NULL, on_result, NULL), 0);
    run_for(0.5);
    st = pg_pool_stats(p);
    ck_assert_int_eq(st.size, 2);
    ck_assert_int_eq(st.ready, 2);
    ck_assert_int_eq(st.busy, 1);
    t0 = gw_now_ms();
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(pg_pool_query_prepared(p, "one", 0, NULL, on_result, NULL), 0);
    ck_assert_int_eq(pg_pool_stats(p).waiting, 19);
    ck_assert(run_until(&seen.n, 20, 5));
    /* All twenty ran on the other connection while the slow one slept. */
    ck_assert_int_lt(gw_now_ms() - t0, 1000);
    for (int i = 0; i < 20; i++)
        ck_assert_str_eq(seen.values[i], "one");
    ck_assert(run_until(&seen.n, 21, 5));
    ck_assert_str_eq(seen.values[20], "");
    ck_assert_int_eq(seen.failed + seen.lost, 0);
    st = pg_pool_stats(p);
    ck_assert_int_eq(st.busy, 0);
    ck_assert_int_eq(st.waiting, 0);
    pg_pool_free(p);
    loop_teardown();
}
END_TEST

/* Nothing to connect to: the pool refuses at once instead of queueing. */
START_TEST(test_pool_down)
{
    pg_conn_config_t cfg = {.conninfo = "host=127.0.0.1 port=1 user=nobody connect_timeout=2",
                            .application_name = "check_pg"};
    pg_pool_t *p = pg_pool_new(base, &cfg, 1);
    int64_t t0 = gw_now_ms();

    /* Accepted while the first attempt is under way, then failed. */
    ck_assert_int_eq(pg_pool_query(p, "SELECT 1", 0, NULL, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 1, 5));
    ck_assert_int_eq(seen.lost, 1);
    ck_assert_int_lt(gw_now_ms() - t0, 3000);
    ck_assert_int_eq(pg_pool_query(p, "SELECT 1", 0, NULL, on_result, NULL), -1);
    ck_assert_int_eq(pg_pool_stats(p).ready, 0);
    pg_pool_free(p);
    loop_teardown();
}
END_TEST

/* A running statement's caller that, told at pg_pool_free that its
 * statement failed, asks the pool for another: refused (-1), since nothing
 * would ever answer it. */
static pg_pool_t *closing_pool;
static int resubmit_rc = 1;

static void
on_result_resubmit(const PGresult *res, void *arg)
{
    on_result(res, arg);
    if (res == NULL)
        resubmit_rc = pg_pool_query(closing_pool, "SELECT 1", 0, NULL, on_result, NULL);
}

/* pg_pool_free answers every statement exactly once, the running ones (in
 * the order they were sent) before the waiting ones, and takes no new one
 * from those answers. */
START_TEST(test_pool_free_answers_all)
{
    pg_conn_config_t cfg = {.conninfo = conninfo, .application_name = "check_pg"};

    closing_pool = pg_pool_new(base, &cfg, 1);
    resubmit_rc = 1;
    ck_assert_int_eq(pg_pool_query(closing_pool, "SELECT pg_sleep(5), 'running'", 0, NULL,
                                   on_result_resubmit, NULL),
                     0);
    /* Running once the connection is up (at most 10 s). */
    for (int i = 0; i < 200 && pg_pool_stats(closing_pool).busy == 0; i++)
        run_for(0.05);
    ck_assert_int_eq(pg_pool_stats(closing_pool).busy, 1);
    ck_assert_int_eq(pg_pool_query(closing_pool, "SELECT 'waiting'", 0, NULL, on_result, NULL), 0);
    ck_assert_int_eq(pg_pool_stats(closing_pool).waiting, 1);
    pg_pool_free(closing_pool);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(seen.lost, 2);
    ck_assert_int_eq(resubmit_rc, -1);
    run_for(0.2);
    ck_assert_int_eq(seen.n, 2);
    loop_teardown();
}
END_TEST

/* The pool freed from the callback of one of its statements: the others
 * are answered (NULL) once each, and the memory goes on the next loop turn. */
static void
on_result_free_pool(const PGresult *res, void *arg)
{
    on_result(res, arg);
    pg_pool_free(closing_pool);
}

START_TEST(test_pool_free_in_callback)
{
    pg_conn_config_t cfg = {.conninfo = conninfo, .application_name = "check_pg"};

    closing_pool = pg_pool_new(base, &cfg, 2);
    ck_assert_int_eq(
        pg_pool_query(closing_pool, "SELECT 'first'", 0, NULL, on_result_free_pool, NULL), 0);
    ck_assert_int_eq(pg_pool_query(closing_pool, "SELECT pg_sleep(5)", 0, NULL, on_result, NULL),
                     0);
    ck_assert_int_eq(pg_pool_query(closing_pool, "SELECT 'third'", 0, NULL, on_result, NULL), 0);
    ck_assert(run_until(&seen.n, 3, 5));
    ck_assert_str_eq(seen.values[0], "first");
    ck_assert_int_eq(seen.lost, 2);
    run_for(0.2);
    ck_assert_int_eq(seen.n, 3);
    loop_teardown();
}
END_TEST

static void
per_test_setup(void)
{
    loop_setup();
}

static Suite *
pg_suite(void)
{
    Suite *s = suite_create("pg");
    TCase *tc = tcase_create("conn");

    tcase_add_unchecked_fixture(tc, cluster_start, cluster_stop);
    tcase_add_checked_fixture(tc, per_test_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_query_params);
    tcase_add_test(tc, test_prepared);
    tcase_add_test(tc, test_ordering);
    tcase_add_test(tc, test_ordering_pipeline);
    tcase_add_test(tc, test_notify);
    tcase_add_test(tc, test_terminate);
    tcase_add_test(tc, test_free_in_callback);
    tcase_add_test(tc, test_pool);
    tcase_add_test(tc, test_pool_down);
    tcase_add_test(tc, test_pool_free_answers_all);
    tcase_add_test(tc, test_pool_free_in_callback);
    tcase_add_test(tc, test_restart);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(pg_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
