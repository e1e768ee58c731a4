/*
 * scheduler - the timer that fires schedules (scheduler.h).
 *
 * One look: read every schedule, and for each one take the latest fire
 * time at or before the look's time; it is due when it is later than the
 * time since when the schedule counts (attached or changed) and later
 * than the previous look of this process (done_until). A due fire time is
 * handed to trigger_schedule, whose insert takes it or finds it taken.
 * The look then becomes done_until, and the timer waits for the next
 * minute boundary. A look that fails (the database unreachable) and an
 * insert that fails are tried again a second later; only the latest fire
 * time of a schedule is ever tried, so a failure never starts a backlog.
 */
#include "scheduler.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "log.h"
#include "queries.h"
#include "trigger.h"
#include "util.h"

/* How long to wait before trying again after a failure, in ms. */
#define SCHEDULER_RETRY_MS 1000
/* How long after a minute boundary the look is, in ms: a timer that wakes
 * a little early finds nothing due and waits again. */
#define SCHEDULER_SLACK_MS 5

struct scheduler {
    dbconn_t *db;
    struct event *timer;
    int64_t look_at;    /* the time of the look being made (seconds) */
    int64_t done_until; /* fire times up to this have been handled */
    int pending;        /* statements whose callback has not run */
    bool closed;        /* scheduler_free was called */
};

/* One fire time being inserted. */
typedef struct {
    scheduler_t *s;
    int64_t fire_at;
    char run_id[37];
    char *what; /* repo, template and expression, for the log */
} scheduler_fire_t;

/* Milliseconds since the epoch, by the wall clock (cron is in UTC). */
static int64_t
scheduler_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
scheduler_arm(scheduler_t *s, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};

    evtimer_add(s->timer, &tv);
}

/* Wait for the next minute boundary. */
static void
scheduler_arm_minute(scheduler_t *s)
{
    scheduler_arm(s, 60000 - scheduler_wall_ms() % 60000 + SCHEDULER_SLACK_MS);
}

/* A statement's callback has run: whether the scheduler is still there to
 * use (if not, it is freed with its last callback). */
static bool
scheduler_settle(scheduler_t *s)
{
    s->pending--;
    if (!s->closed)
        return true;
    if (s->pending == 0)
        free(s);
    return false;
}

static void
scheduler_inserted(const PGresult *res, void *arg)
{
    scheduler_fire_t *f = arg;
    scheduler_t *s = f->s;
    char when[CRON_TIME_LEN];

    if (!scheduler_settle(s))
        goto done;
    cron_format(f->fire_at, when);
    if (!pg_result_ok(res)) {
        log_warn("schedule", "could not start a run, trying again %s fire_at=%s", f->what, when);
        /* Try this fire time again, unless a later one comes first. */
        if (f->fire_at - 1 < s->done_until)
            s->done_until = f->fire_at - 1;
        scheduler_arm(s, SCHEDULER_RETRY_MS);
    } else if (PQntuples(res) == 1) {
        log_info("schedule", "started run run=%s %s fire_at=%s", f->run_id, f->what, when);
    } else {
        log_debug("schedule", "fire time already taken %s fire_at=%s", f->what, when);
    }
done:
    free(f->what);
    free(f);
}

/* Fire the schedule of row i of res at fire_at. Returns -1 when the
 * database is unavailable. */
static int
scheduler_fire(scheduler_t *s, const PGresult *res, int i, int64_t fire_at)
{
    scheduler_fire_t *f = xcalloc(1, sizeof(*f));
    int rc;

    f->s = s;
    f->fire_at = fire_at;
    f->what = xasprintf("repo=%s template=%s cron=\"%s\"", PQgetvalue(res, i, 2),
                        PQgetvalue(res, i, 4), PQgetvalue(res, i, 9));
    rc = trigger_schedule(s->db, res, i, fire_at, f->run_id, scheduler_inserted, f);
    if (rc != 0) {
        free(f->what);
        free(f);
        return rc < 0 ? -1 : 0;
    }
    s->pending++;
    return 0;
}

static void
scheduler_read(const PGresult *res, void *arg)
{
    scheduler_t *s = arg;
    bool retry = false;

    if (!scheduler_settle(s))
        return;
    if (!pg_result_ok(res)) {
        log_warn("schedule", "could not read the schedules, trying again");
        scheduler_arm(s, SCHEDULER_RETRY_MS);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char err[CRON_ERR_LEN];
        cron_t c;
        int64_t fire;

        /* Stored templates were validated: a refusal here is a bug. */
        if (cron_parse(PQgetvalue(res, i, 9), &c, err, sizeof(err)) < 0) {
            log_error("schedule", "stored schedule refused repo=%s template=%s detail=\"%s\"",
                      PQgetvalue(res, i, 2), PQgetvalue(res, i, 4), err);
            continue;
        }
        fire = cron_prev(&c, s->look_at);
        if (fire < 0 || fire <= strtoll(PQgetvalue(res, i, 10), NULL, 10) || fire <= s->done_until)
            continue;
        if (scheduler_fire(s, res, i, fire) < 0)
            retry = true;
    }
    s->done_until = s->look_at;
    if (retry) {
        /* The pool went away meanwhile: look again soon (what was fired
         * is taken, the rest is due). */
        s->done_until = 0;
        scheduler_arm(s, SCHEDULER_RETRY_MS);
        return;
    }
    scheduler_arm_minute(s);
}

static void
scheduler_look(evutil_socket_t fd, short what, void *arg)
{
    scheduler_t *s = arg;

    s->look_at = scheduler_wall_ms() / 1000;
    if (dbconn_query(s->db, STMT_SCHEDULES_DUE, 0, NULL, scheduler_read, s) < 0) {
        scheduler_arm(s, SCHEDULER_RETRY_MS);
        return;
    }
    s->pending++;
}

scheduler_t *
scheduler_new(struct event_base *base, dbconn_t *db)
{
    scheduler_t *s = xcalloc(1, sizeof(*s));

    s->db = db;
    s->timer = evtimer_new(base, scheduler_look, s);
    if (s->timer == NULL) {
        log_error("schedule", "could not create the scheduler's timer");
        abort();
    }
    scheduler_arm(s, 0);
    return s;
}

void
scheduler_free(scheduler_t *s)
{
    if (s == NULL)
        return;
    event_free(s->timer);
    s->timer = NULL;
    s->closed = true;
    if (s->pending == 0)
        free(s);
}
