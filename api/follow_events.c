/*
 * follow_events - the event streams: every run and job status change
 * (GET /events, filtered by repo and run), or one run's until its final
 * status (GET /pipelines/runs/{run}/events).
 *
 * A change notified on gitweave_events is read once (SQL_EVENT_RUN/JOB, on
 * the listening connection, so in order with the notifications) and sent
 * to every subscriber it concerns. A one-run stream first sends the run as
 * it is, read on that same connection, so no change falls in between.
 */
#include "follow_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "status.h"

/* A client of the event stream. Its owner frees it once its stream is
 * over (sub_release) and no read of its own is in flight: a read's
 * callback gets the sub as its argument, so a sub whose client left while
 * it read stays until that callback, which frees it. */
struct sub {
    follow_t *hub;
    http_req_t *r;        /* NULL once the stream is over */
    char *repo;           /* only this repo's events, or NULL */
    char run[37];         /* only this run's events, or "" */
    bool one_run;         /* /pipelines/runs/{run}/events: ends with the run */
    bool open;            /* the stream is open (and the sub in the hub's list) */
    int reads;            /* reads in flight with this sub as their argument */
    LIST_ENTRY(sub) link; /* in the hub's subs, while open */
};

/* The stream is over (its request is no longer ours): leave the hub, and
 * free the sub unless a read still has it (then that read's callback
 * frees it). */
static void
sub_release(sub_t *s)
{
    follow_t *hub = s->hub;

    if (s->open) {
        LIST_REMOVE(s, link);
        hub->nsubs--;
        s->open = false;
    }
    s->r = NULL;
    if (s->reads > 0)
        return;
    free(s->repo);
    free(s);
}

static void
sub_on_gone(http_req_t *r, void *arg)
{
    sub_release(arg);
}

/* Send one event; false (and s released) when its stream is over. */
static bool
sub_send(sub_t *s, const char *type, const char *json)
{
    buf_t b;
    bool ok;

    buf_init(&b);
    buf_printf(&b, "event: %s\ndata: %s\n\n", type, json);
    ok = http_stream_write(s->r, b.data, b.len);
    buf_free(&b);
    if (!ok)
        sub_release(s);
    return ok;
}

/* The last event was sent: close the stream. */
static void
sub_close(sub_t *s)
{
    http_stream_close(s->r);
    sub_release(s);
}

static bool
sub_open(sub_t *s)
{
    follow_t *hub = s->hub;
    http_stream_cb_t cb = {NULL, sub_on_gone, s};

    if (http_stream_open(s->r, "text/event-stream", &cb) < 0)
        return false;
    s->open = true;
    LIST_INSERT_HEAD(&hub->subs, s, link);
    hub->nsubs++;
    return true;
}

static bool
follow_run_is_final(const char *status)
{
    int st = status_parse(ST_KIND_RUN, status);
    return st >= 0 && status_is_final((gw_status_t)st);
}

/* One run's state, for /pipelines/runs/{run}/events: when it opens (404 if
 * there is no such run), and after the listening connection came back. */
static void
sub_run_read_done(const PGresult *res, void *arg)
{
    sub_t *s = arg;
    bool final;

    s->reads--;
    if (s->r == NULL) {
        /* The stream ended while the read was in flight. */
        sub_release(s);
        return;
    }
    if (!s->open && http_req_client_gone(s->r)) {
        http_reply_error(s->r, 503, "client gone", "the client has gone");
        sub_release(s);
        return;
    }
    if (!pg_result_ok(res)) {
        if (s->open) {
            http_stream_close(s->r);
        } else if (res == NULL) {
            http_reply_db_failure(s->r, NULL);
        } else {
            log_error("follow", "could not read run %s", s->run);
            http_reply_db_failure(s->r, res);
        }
        sub_release(s);
        return;
    }
    if (PQntuples(res) == 0) {
        if (s->open)
            http_stream_close(s->r);
        else
            http_reply_error(s->r, 404, "run not found", "there is no run with id %s", s->run);
        sub_release(s);
        return;
    }
    final = follow_run_is_final(PQgetvalue(res, 0, 2));
    if (s->open) {
        /* A check after an outage: only the end matters. */
        if (final && sub_send(s, "run", PQgetvalue(res, 0, 3)))
            sub_close(s);
        return;
    }
    if (!sub_open(s)) {
        sub_release(s);
        return;
    }
    if (!sub_send(s, "run", PQgetvalue(res, 0, 3)))
        return;
    if (final)
        sub_close(s);
}

static int
sub_run_read(sub_t *s)
{
    const char *params[] = {s->run, NULL};

    /* On the listening connection: its results come in order with the
     * events', so no change falls between this read and the events. */
    if (pg_conn_query_prepared(s->hub->listen, FOLLOW_EVENT_RUN, 2, params, sub_run_read_done, s) <
        0)
        return -1;
    s->reads++;
    return 0;
}

void
follow_events(http_req_t *r)
{
    const char *repo = request_query_get(&r->query, "repo");
    const char *run = request_query_get(&r->query, "run");
    sub_t *s;

    if (repo != NULL && !gw_name_valid(repo)) {
        http_reply_error(r, 400, "invalid repo name",
                         "a repo name is 1 to 100 characters of [A-Za-z0-9._-], starting with a "
                         "letter or digit");
        return;
    }
    if (run != NULL && !gw_uuid_valid(run)) {
        http_reply_error(r, 400, "invalid run id",
                         "an id is a uuid such as 123e4567-e89b-12d3-a456-426614174000");
        return;
    }
    s = xcalloc(1, sizeof(*s));
    s->hub = r->follow;
    s->r = r;
    s->repo = repo != NULL ? xstrdup(repo) : NULL;
    if (run != NULL)
        snprintf(s->run, sizeof(s->run), "%s", run);
    if (!sub_open(s))
        sub_release(s);
}

void
follow_run_events(http_req_t *r)
{
    sub_t *s = xcalloc(1, sizeof(*s));

    s->hub = r->follow;
    s->r = r;
    s->one_run = true;
    snprintf(s->run, sizeof(s->run), "%s", r->params[0]);
    http_req_hold(r);
    if (sub_run_read(s) < 0) {
        http_reply_db_failure(r, NULL);
        sub_release(s);
    }
}

/* ---- status changes ---- */

/* An event built by SQL_EVENT_RUN/JOB: repo, run id, status, json. */
static void
follow_event_send(follow_t *hub, const PGresult *res, bool is_run)
{
    const char *repo, *run, *status, *json;
    bool final;

    if (!pg_result_ok(res) || PQntuples(res) == 0)
        return;
    repo = PQgetvalue(res, 0, 0);
    run = PQgetvalue(res, 0, 1);
    status = PQgetvalue(res, 0, 2);
    json = PQgetvalue(res, 0, 3);
    final = is_run && follow_run_is_final(status);
    for (sub_t *s = LIST_FIRST(&hub->subs), *next; s != NULL; s = next) {
        next = LIST_NEXT(s, link);
        if ((s->repo != NULL && strcmp(s->repo, repo) != 0) ||
            (s->run[0] != '\0' && strcmp(s->run, run) != 0))
            continue;
        if (!sub_send(s, is_run ? "run" : "job", json))
            continue;
        if (s->one_run && final)
            sub_close(s);
    }
}

static void
follow_run_event_done(const PGresult *res, void *arg)
{
    follow_event_send(arg, res, true);
}

static void
follow_job_event_done(const PGresult *res, void *arg)
{
    follow_event_send(arg, res, false);
}

void
follow_events_changed(follow_t *hub, bool is_run, const char *id, const char *status)
{
    const char *params[] = {id, status};

    if (hub->nsubs == 0)
        return;
    if (pg_conn_query_prepared(hub->listen, is_run ? FOLLOW_EVENT_RUN : FOLLOW_EVENT_JOB, 2, params,
                               is_run ? follow_run_event_done : follow_job_event_done, hub) < 0)
        log_warn("follow", "could not read a %s event: the database is unavailable",
                 is_run ? EV_RUN : EV_JOB);
}

void
follow_events_catch_up(follow_t *hub)
{
    sub_t *s;

    LIST_FOREACH(s, &hub->subs, link)
    {
        if (s->one_run && sub_run_read(s) < 0)
            log_warn("follow", "could not read run %s", s->run);
    }
}

void
follow_events_keepalive(follow_t *hub, const char *line, size_t len)
{
    for (sub_t *s = LIST_FIRST(&hub->subs), *next; s != NULL; s = next) {
        next = LIST_NEXT(s, link);
        if (!http_stream_write(s->r, line, len))
            sub_release(s);
    }
}

void
follow_events_close_all(follow_t *hub)
{
    while (!LIST_EMPTY(&hub->subs))
        sub_close(LIST_FIRST(&hub->subs));
}
