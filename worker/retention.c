/*
 * retention - expired logs removed in small batches (retention.h).
 */
#include "retention.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "util.h"

/* Chunks removed by one statement, and the pause between two statements
 * while there is more to remove: each holds its locks briefly and leaves
 * Postgres room for everything else. */
#define RETENTION_BATCH "200"
#define RETENTION_PAUSE_MS 50
/* Runs marked by one statement. */
#define RETENTION_MARK_BATCH "100"

/*
 * Mark runs whose logs expired: final, ended longer ago than their repo's
 * log_retention_days or else $1 days (0: never). $1 the setting -> runs
 * marked.
 */
#define SQL_RETENTION_MARK                                                                         \
    "WITH x AS (SELECT r.id, coalesce(p.log_retention_days, $1::integer) AS days"                  \
    "  FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id"                                      \
    "  WHERE r.logs_expired_at IS NULL AND r.status IN ('success', 'failed', 'canceled')"          \
    "   AND coalesce(p.log_retention_days, $1::integer) > 0"                                       \
    "   AND r.ended_at < now() - coalesce(p.log_retention_days, $1::integer) * interval '1 day'"   \
    "  ORDER BY r.ended_at LIMIT " RETENTION_MARK_BATCH " FOR UPDATE OF r SKIP LOCKED),"           \
    " u AS (UPDATE pipeline_runs r SET logs_expired_at = now(), logs_expired_days = x.days"        \
    "  FROM x WHERE r.id = x.id RETURNING 1)"                                                      \
    " SELECT count(*) FROM u"

/*
 * Remove up to RETENTION_BATCH chunks of marked runs; a run none of whose
 * chunks is left is marked logs_removed. -> chunks removed, their bytes,
 * runs finished.
 */
#define SQL_RETENTION_REMOVE                                                                       \
    "WITH pend AS (SELECT r.id FROM pipeline_runs r"                                               \
    "  WHERE r.logs_expired_at IS NOT NULL AND NOT r.logs_removed"                                 \
    "  ORDER BY r.logs_expired_at LIMIT 20 FOR UPDATE SKIP LOCKED),"                               \
    " v AS (SELECT l.id FROM pend JOIN jobs j ON j.run_id = pend.id JOIN logs l ON l.job_id = "    \
    "j.id"                                                                                         \
    "  LIMIT " RETENTION_BATCH "),"                                                                \
    " d AS (DELETE FROM logs l USING v WHERE l.id = v.id RETURNING octet_length(l.chunk) AS n),"   \
    " f AS (UPDATE pipeline_runs SET logs_removed = true WHERE id IN (SELECT id FROM pend)"        \
    "  AND (SELECT count(*) FROM v) < " RETENTION_BATCH " RETURNING 1)"                            \
    " SELECT (SELECT count(*) FROM d), (SELECT coalesce(sum(n), 0) FROM d),"                       \
    " (SELECT count(*) FROM f)"

struct retention {
    const gw_config_t *cfg;
    pg_conn_t *db;
    struct event *timer;
    long long chunks, bytes; /* removed by this sweep */
};

static void retention_mark(retention_t *r);

static void
retention_later(retention_t *r, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(r->timer, &tv);
}

/* The sweep is over (done or failed): sleep until the next one. */
static void
retention_sleep(retention_t *r)
{
    if (r->chunks > 0)
        log_info("retention", "removed expired logs chunks=%lld bytes=%lld", r->chunks, r->bytes);
    r->chunks = r->bytes = 0;
    retention_later(r, r->cfg->log_retention_sweep * 1000);
}

/* Whether a statement failed: then say so and end the sweep. */
static bool
retention_failed(retention_t *r, const PGresult *res, const char *what)
{
    char *msg;

    if (pg_result_ok(res))
        return false;
    msg = res != NULL ? pg_result_error(res) : xstrdup("connection lost");
    log_warn("retention", "could not %s: %s", what, msg);
    free(msg);
    retention_sleep(r);
    return true;
}

static void
retention_removed(const PGresult *res, void *arg)
{
    retention_t *r = arg;
    long long n;

    if (retention_failed(r, res, "remove expired logs"))
        return;
    n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    r->chunks += n;
    r->bytes += strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    /* More to do: mark and remove again after a pause. */
    if (n > 0 || strcmp(PQgetvalue(res, 0, 2), "0") != 0) {
        retention_later(r, RETENTION_PAUSE_MS);
        return;
    }
    retention_sleep(r);
}

static void
retention_marked(const PGresult *res, void *arg)
{
    retention_t *r = arg;

    if (retention_failed(r, res, "mark expired logs"))
        return;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        log_info("retention", "logs expired runs=%s", PQgetvalue(res, 0, 0));
    if (pg_conn_query(r->db, SQL_RETENTION_REMOVE, 0, NULL, retention_removed, r) < 0)
        retention_sleep(r);
}

static void
retention_mark(retention_t *r)
{
    char days[16];

    snprintf(days, sizeof(days), "%d", r->cfg->log_retention_days);
    const char *params[] = {days};
    if (pg_conn_query(r->db, SQL_RETENTION_MARK, 1, params, retention_marked, r) < 0)
        retention_sleep(r);
}

static void
retention_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    retention_mark(arg);
}

retention_t *
retention_new(struct event_base *base, const gw_config_t *cfg)
{
    retention_t *r = xcalloc(1, sizeof(*r));
    pg_conn_config_t pc = {
        .conninfo = cfg->database_url,
        .application_name = "gitweave-worker retention",
        /* Never wait long for a lock: the next sweep tries again. */
        .options = "-c statement_timeout=30s -c lock_timeout=1s",
    };

    r->cfg = cfg;
    r->db = pg_conn_new(base, &pc);
    r->timer = evtimer_new(base, retention_timer_cb, r);
    /* The connection is made on the next loop turn: sweep a second later. */
    retention_later(r, 1000);
    return r;
}

void
retention_free(retention_t *r)
{
    if (r == NULL)
        return;
    /* Its callbacks run now (res NULL) and re-arm the timer: free it after. */
    pg_conn_free(r->db);
    event_free(r->timer);
    free(r);
}
