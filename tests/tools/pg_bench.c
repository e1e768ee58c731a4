/*
 * pg_bench - how fast common/pg*.c runs short statements: N statements on
 * one connection without and with pipeline mode, and through a pool.
 *   pg_bench CONNINFO [N] [POOL_SIZE]
 * Prints statements per second for each; the numbers in docs/pg.md come
 * from here.
 */
#include "later.h"
#include "pg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static int done;
static int failed;

static void
on_result(const PGresult *res, void *arg)
{
    done++;
    if (!pg_result_ok(res))
        failed++;
}

static void
on_state(pg_conn_t *c, pg_state_t state, void *arg)
{
    if (state == PG_READY)
        *(int *)arg = 1;
}

static void
run_until(struct event_base *base, const int *counter, int want)
{
    while (*counter < want)
        event_base_loop(base, EVLOOP_ONCE);
}

/* Queue n statements at once (window statements in flight from the
 * caller's side at most) and time them. */
static double
measure(struct event_base *base, pg_conn_t *c, pg_pool_t *p, int n)
{
    int64_t t0 = gw_now_ms();
    char num[16];

    done = failed = 0;
    for (int i = 0; i < n; i++) {
        const char *params[] = {num};
        int rc;
        snprintf(num, sizeof(num), "%d", i);
        rc = c != NULL ? pg_conn_query_prepared(c, "q", 1, params, on_result, NULL)
                       : pg_pool_query_prepared(p, "q", 1, params, on_result, NULL);
        if (rc < 0) {
            fprintf(stderr, "pg_bench: statement refused\n");
            exit(1);
        }
    }
    run_until(base, &done, n);
    if (failed > 0) {
        fprintf(stderr, "pg_bench: %d statements failed\n", failed);
        exit(1);
    }
    return n * 1000.0 / (double)(gw_now_ms() - t0 + 1);
}

int
main(int argc, char **argv)
{
    struct event_base *base = event_base_new();
    int n = argc > 2 ? atoi(argv[2]) : 20000;
    int pool_size = argc > 3 ? atoi(argv[3]) : 4;
    const char *sql = "SELECT $1::int + 1";

    if (argc < 2 || n < 1) {
        fprintf(stderr, "usage: pg_bench CONNINFO [N] [POOL_SIZE]\n");
        return 2;
    }
    for (int pipeline = 0; pipeline <= 1; pipeline++) {
        int ready = 0;
        pg_conn_config_t cfg = {.conninfo = argv[1],
                                .application_name = "pg_bench",
                                .pipeline = pipeline,
                                .on_state = on_state,
                                .arg = &ready};
        pg_conn_t *c = pg_conn_new(base, &cfg);
        pg_conn_prepare(c, "q", sql, 1);
        run_until(base, &ready, 1);
        printf("one connection%s: %.0f statements/s\n", pipeline ? ", pipeline mode" : "",
               measure(base, c, NULL, n));
        pg_conn_free(c);
    }
    {
        pg_conn_config_t cfg = {.conninfo = argv[1], .application_name = "pg_bench"};
        pg_pool_t *p = pg_pool_new(base, &cfg, pool_size);
        pg_pool_prepare(p, "q", sql, 1);
        while (pg_pool_stats(p).ready < pool_size)
            event_base_loop(base, EVLOOP_ONCE);
        printf("pool of %d: %.0f statements/s\n", pool_size, measure(base, NULL, p, n));
        pg_pool_free(p);
    }
    later_drain(base);
    event_base_free(base);
    return 0;
}
