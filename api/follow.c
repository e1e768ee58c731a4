/*
 * follow - log followers grouped by job (topics), event subscribers, and
 * the listening connection that feeds them. See follow.h.
 */
#include "follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "events.h"
#include "log.h"
#include "queries.h"
#include "status.h"
#include "utf8.h"

/* Bytes of log read per statement; a reader waits for its client to take
 * a page before it reads the next one. A live reader with this much unsent
 * goes back to reading on its own. */
#define FOLLOW_PAGE 262144
#define FOLLOW_PAGE_S "262144"

typedef struct topic topic_t;
typedef struct reader reader_t;
typedef struct sub sub_t;

/* One client reading a job's log: an SSE follower, or a plain-text reader
 * (no topic: it reads page by page and ends). */
struct reader {
    follow_t *hub;
    topic_t *topic;   /* NULL for plain text */
    http_req_t *r;    /* NULL once the stream is over */
    char job[37];
    long long offset; /* the next byte to send */
    bool at_end;      /* its last page ended where the stored log ends (offset) */
    bool live;        /* gets the topic's chunks */
    bool reading;     /* a page read of its own is in flight */
    reader_t *prev, *next;
};

/* The followers of one job. */
struct topic {
    follow_t *hub;
    char job[37];
    long long have;   /* the topic has read up to here; -1 until a reader went live */
    long long target; /* the largest next_offset announced */
    bool reading;     /* a read of the topic's is in flight */
    bool reread;      /* something was announced that no read has covered */
    int pins;         /* loops over its readers in progress: not to be freed */
    bool final;       /* the job is final and every chunk was read */
    char status[16];
    char exit_code[16]; /* JSON: a number or null */
    reader_t *readers;
    topic_t *prev, *next;
};

/* A client of the event stream. */
struct sub {
    follow_t *hub;
    http_req_t *r;
    char *repo;      /* only this repo's events, or NULL */
    char run[37];    /* only this run's events, or "" */
    bool one_run;    /* /pipelines/runs/{run}/events: ends with the run */
    bool open;       /* the stream is open (and the sub in the hub's list) */
    sub_t *prev, *next;
};

struct follow {
    const gw_config_t *cfg;
    dbconn_t *db;
    pg_conn_t *listen;
    struct event *keepalive;
    bool was_ready; /* the listening connection has been up before */
    topic_t *topics;
    sub_t *subs;
    int nsubs;
};

static void reader_read(reader_t *rd);
static void topic_read(topic_t *t);

/* ---- SSE text ---- */

/* "event: chunk" for the chunk at offset (len bytes), into out. */
static void
follow_chunk_event(buf_t *out, long long offset, const char *chunk, size_t len)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddNumberToObject(o, "offset", (double)offset);
    cJSON_AddStringToObject(o, "chunk", chunk);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL) {
        log_error("follow", "out of memory");
        abort();
    }
    buf_printf(out, "event: chunk\nid: %lld\ndata: %s\n\n", offset + (long long)len, text);
    cJSON_free(text);
}

/* ---- readers ---- */

static void
topic_free_if_unused(topic_t *t)
{
    follow_t *hub = t->hub;

    if (t->readers != NULL || t->reading || t->pins > 0)
        return;
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        hub->topics = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    free(t);
}

static topic_t *
topic_find(follow_t *hub, const char *job)
{
    for (topic_t *t = hub->topics; t != NULL; t = t->next)
        if (strcmp(t->job, job) == 0)
            return t;
    return NULL;
}

/* Forget a reader whose stream is over (its request is no longer ours). A
 * read in flight frees it when it returns. */
static void
reader_free(reader_t *rd)
{
    topic_t *t = rd->topic;

    rd->r = NULL;
    if (rd->reading)
        return;
    if (t != NULL) {
        if (rd->prev != NULL)
            rd->prev->next = rd->next;
        else
            t->readers = rd->next;
        if (rd->next != NULL)
            rd->next->prev = rd->prev;
        topic_free_if_unused(t);
    }
    free(rd);
}

/* Write to a reader's stream; false (and the reader freed) when it is over. */
static bool
reader_write(reader_t *rd, const char *data, size_t len)
{
    if (rd->r != NULL && http_stream_write(rd->r, data, len))
        return true;
    reader_free(rd);
    return false;
}

/* The last event, then close. */
static void
reader_end(reader_t *rd, const char *status, const char *exit_code)
{
    buf_t b;

    buf_init(&b);
    buf_printf(&b, "event: end\ndata: {\"status\":\"%s\",\"exit_code\":%s,\"next_offset\":%lld}\n\n",
               status, exit_code, rd->offset);
    if (reader_write(rd, b.data, b.len)) {
        http_stream_close(rd->r);
        reader_free(rd);
    }
    buf_free(&b);
}

static void
reader_close(reader_t *rd)
{
    if (rd->r != NULL)
        http_stream_close(rd->r);
    reader_free(rd);
}

/* No more history for now: join the topic's live chunks. */
static void
reader_go_live(reader_t *rd)
{
    topic_t *t = rd->topic;

    if (t->final) {
        if (rd->offset >= t->have)
            reader_end(rd, t->status, t->exit_code);
        else
            reader_read(rd);
        return;
    }
    /* The topic reads on from the end of the stored log: from this
     * reader's offset when its page ended there, else from the start (a
     * reader asked for an offset past the end: topic_send sends it what
     * lies from its offset on). Never from past the end, or readers that
     * reach the end would be sent to read again and again. */
    if (t->have < 0)
        t->have = rd->at_end ? rd->offset : 0;
    if (rd->offset < t->have) {
        /* The topic has read past what this reader's snapshot held. */
        reader_read(rd);
        return;
    }
    rd->live = true;
    if (t->reread || t->target > t->have)
        topic_read(t);
}

/* A page of the reader's own: send it, then the next page, or go live, or end. */
static void
reader_page(reader_t *rd, const PGresult *res)
{
    int n = PQgetisnull(res, 0, 1) ? 0 : PQntuples(res);
    long long total = 0;
    buf_t b;
    int st;

    buf_init(&b);
    for (int i = 0; i < n; i++) {
        long long at = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        const char *chunk = PQgetvalue(res, i, 2);
        size_t len = (size_t)PQgetlength(res, i, 2);
        size_t skip = follow_chunk_skip(at, chunk, len, rd->offset);

        if (rd->topic != NULL)
            follow_chunk_event(&b, at + (long long)skip, chunk + skip, len - skip);
        else
            buf_append(&b, chunk + skip, len - skip);
        rd->offset = at + (long long)len;
        total = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    }
    rd->at_end = n > 0 || rd->offset == 0;
    if (b.len > 0 && !reader_write(rd, b.data, b.len)) {
        buf_free(&b);
        return;
    }
    buf_free(&b);
    if (total > n) {
        /* More is stored: read on once the client has taken this page. */
        if (http_stream_pending(rd->r) < FOLLOW_PAGE)
            reader_read(rd);
        return;
    }
    if (rd->topic == NULL) {
        reader_close(rd);
        return;
    }
    st = status_parse(ST_KIND_JOB, PQgetvalue(res, 0, 0));
    if (st >= 0 && status_is_final((gw_status_t)st)) {
        reader_end(rd, PQgetvalue(res, 0, 0),
                   PQgetisnull(res, 0, 4) ? "null" : PQgetvalue(res, 0, 4));
        return;
    }
    reader_go_live(rd);
}

static void
reader_read_done(const PGresult *res, void *arg)
{
    reader_t *rd = arg;

    rd->reading = false;
    if (rd->r == NULL) {
        reader_free(rd);
        return;
    }
    if (!pg_result_ok(res) || PQntuples(res) == 0) {
        /* The database went away (or the job with it): the client
         * reconnects and resumes from its last id. */
        log_warn("follow", "could not read the log of job %s; closing its stream", rd->job);
        reader_close(rd);
        return;
    }
    reader_page(rd, res);
}

static void
reader_read(reader_t *rd)
{
    char offset[24];

    snprintf(offset, sizeof(offset), "%lld", rd->offset);
    const char *params[] = {rd->job, offset, FOLLOW_PAGE_S};
    rd->live = false;
    rd->reading = true;
    if (dbconn_query(rd->hub->db, SQL_LOGS_PAGE, 3, params, reader_read_done, rd) < 0) {
        rd->reading = false;
        reader_close(rd);
    }
}

/* The client took what was queued: a reader between pages reads on. */
static void
reader_on_drain(http_req_t *r, void *arg)
{
    reader_t *rd = arg;

    if (!rd->live && !rd->reading)
        reader_read(rd);
}

static void
reader_on_gone(http_req_t *r, void *arg)
{
    reader_free(arg);
}

/* The first page (through http_db_async, which answers database errors). */
static void
reader_first_done(http_req_t *r, const PGresult *res, void *ctx)
{
    reader_t *rd = ctx;
    http_stream_cb_t cb = {reader_on_drain, reader_on_gone, rd};

    rd->reading = false;
    if (res == NULL) {
        reader_free(rd);
        return;
    }
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "job not found", "there is no job with id %s", rd->job);
        reader_free(rd);
        return;
    }
    if (http_stream_open(r, rd->topic != NULL ? "text/event-stream" : "text/plain; charset=utf-8",
                         &cb) < 0) {
        reader_free(rd);
        return;
    }
    rd->r = r;
    reader_page(rd, res);
}

static void
follow_reader_start(http_req_t *r, long long offset, bool sse)
{
    follow_t *hub = r->follow;
    reader_t *rd = xcalloc(1, sizeof(*rd));
    char offset_s[24];

    rd->hub = hub;
    snprintf(rd->job, sizeof(rd->job), "%s", r->params[0]);
    rd->offset = offset;
    if (sse) {
        /* Join the topic before reading the history: a chunk stored
         * meanwhile is then either in the history or announced after. */
        topic_t *t = topic_find(hub, rd->job);
        if (t == NULL) {
            t = xcalloc(1, sizeof(*t));
            t->hub = hub;
            memcpy(t->job, rd->job, sizeof(t->job));
            t->have = -1;
            t->target = -1;
            t->next = hub->topics;
            if (hub->topics != NULL)
                hub->topics->prev = t;
            hub->topics = t;
        }
        rd->topic = t;
        rd->next = t->readers;
        if (t->readers != NULL)
            t->readers->prev = rd;
        t->readers = rd;
    }
    snprintf(offset_s, sizeof(offset_s), "%lld", offset);
    const char *params[] = {rd->job, offset_s, FOLLOW_PAGE_S};
    rd->reading = true;
    http_db_async(r, "read logs", SQL_LOGS_PAGE, 3, params, reader_first_done, rd);
}

void
follow_logs(http_req_t *r, long long offset)
{
    follow_reader_start(r, offset, true);
}

void
follow_logs_text(http_req_t *r, long long offset)
{
    follow_reader_start(r, offset, false);
}

size_t
follow_chunk_skip(long long at, const char *chunk, size_t len, long long from)
{
    size_t skip;

    if (from <= at)
        return 0;
    skip = from - at >= (long long)len ? len : (size_t)(from - at);
    return utf8_cut(chunk, skip);
}

/* ---- topics ---- */

/* Send the chunks of a topic's read to its live readers; returns the
 * number of chunks and the count of those from the read's offset on. */
static int
topic_send(topic_t *t, const PGresult *res, long long *total)
{
    int n = PQgetisnull(res, 0, 1) ? 0 : PQntuples(res);

    for (int i = 0; i < n; i++) {
        long long at = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        size_t len = (size_t)PQgetlength(res, i, 2);
        buf_t ev;

        buf_init(&ev);
        follow_chunk_event(&ev, at, PQgetvalue(res, i, 2), len);
        for (reader_t *rd = t->readers, *next; rd != NULL; rd = next) {
            next = rd->next;
            /* Each byte once per reader: what its own read sent is
             * skipped, and a chunk it starts inside is sent from there. */
            if (!rd->live || rd->r == NULL || at + (long long)len <= rd->offset)
                continue;
            if (http_stream_pending(rd->r) >= FOLLOW_PAGE) {
                /* Its client is a page behind: it leaves the live chunks
                 * and catches up on its own, a page each time the client
                 * has taken the last one, so that it holds up nobody and
                 * its buffer stays bounded. */
                rd->live = false;
                continue;
            }
            if (at < rd->offset) {
                const char *chunk = PQgetvalue(res, i, 2);
                size_t skip = follow_chunk_skip(at, chunk, len, rd->offset);
                buf_t part;

                buf_init(&part);
                follow_chunk_event(&part, at + (long long)skip, chunk + skip, len - skip);
                rd->offset = at + (long long)len;
                (void)reader_write(rd, part.data, part.len);
                buf_free(&part);
                continue;
            }
            rd->offset = at + (long long)len;
            (void)reader_write(rd, ev.data, ev.len);
        }
        buf_free(&ev);
        if (at + (long long)len > t->have)
            t->have = at + (long long)len;
        *total = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    }
    return n;
}

static void
topic_read_done(const PGresult *res, void *arg)
{
    topic_t *t = arg;
    long long total = 0;
    int n, st;

    t->pins++;
    t->reading = false;
    if (t->readers == NULL || !pg_result_ok(res)) {
        /* Nobody left, or the database went away: its return makes
         * every topic read again. */
        goto done;
    }
    if (PQntuples(res) == 0) {
        /* The job is gone (its run was deleted). */
        for (reader_t *rd = t->readers, *next; rd != NULL; rd = next) {
            next = rd->next;
            if (rd->live)
                reader_close(rd);
        }
        goto done;
    }
    n = topic_send(t, res, &total);
    if (t->readers == NULL)
        goto done;
    if (total > n || t->reread) {
        topic_read(t);
        goto done;
    }
    st = status_parse(ST_KIND_JOB, PQgetvalue(res, 0, 0));
    if (st < 0 || !status_is_final((gw_status_t)st))
        goto done;
    t->final = true;
    snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, 0, 0));
    snprintf(t->exit_code, sizeof(t->exit_code), "%s",
             PQgetisnull(res, 0, 4) ? "null" : PQgetvalue(res, 0, 4));
    for (reader_t *rd = t->readers, *next; rd != NULL; rd = next) {
        next = rd->next;
        if (rd->live && rd->r != NULL)
            reader_end(rd, t->status, t->exit_code);
    }
done:
    t->pins--;
    topic_free_if_unused(t);
}

/* Read what is new since t->have, once for all its readers. */
static void
topic_read(topic_t *t)
{
    char have[24];

    t->reread = true;
    if (t->reading || t->have < 0 || t->final)
        return;
    snprintf(have, sizeof(have), "%lld", t->have);
    const char *params[] = {t->job, have, FOLLOW_PAGE_S};
    t->reread = false;
    t->reading = true;
    if (dbconn_query(t->hub->db, SQL_LOGS_PAGE, 3, params, topic_read_done, t) < 0)
        t->reading = false;
}

/* ---- event subscribers ---- */

static void
sub_free(sub_t *s)
{
    follow_t *hub = s->hub;

    if (s->open) {
        if (s->prev != NULL)
            s->prev->next = s->next;
        else
            hub->subs = s->next;
        if (s->next != NULL)
            s->next->prev = s->prev;
        hub->nsubs--;
    }
    free(s->repo);
    free(s);
}

static void
sub_on_gone(http_req_t *r, void *arg)
{
    sub_free(arg);
}

/* Send one event; false (and s freed) when its stream is over. */
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
        sub_free(s);
    return ok;
}

static bool
sub_open(sub_t *s)
{
    follow_t *hub = s->hub;
    http_stream_cb_t cb = {NULL, sub_on_gone, s};

    if (http_stream_open(s->r, "text/event-stream", &cb) < 0)
        return false;
    s->open = true;
    s->next = hub->subs;
    if (hub->subs != NULL)
        hub->subs->prev = s;
    hub->subs = s;
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

    if (!s->open && http_req_client_gone(s->r)) {
        http_reply_error(s->r, 503, "client gone", "the client has gone");
        sub_free(s);
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
        sub_free(s);
        return;
    }
    if (PQntuples(res) == 0) {
        if (s->open)
            http_stream_close(s->r);
        else
            http_reply_error(s->r, 404, "run not found", "there is no run with id %s", s->run);
        sub_free(s);
        return;
    }
    final = follow_run_is_final(PQgetvalue(res, 0, 2));
    if (s->open) {
        /* A check after an outage: only the end matters. */
        if (final && sub_send(s, "run", PQgetvalue(res, 0, 3))) {
            http_stream_close(s->r);
            sub_free(s);
        }
        return;
    }
    if (!sub_open(s)) {
        sub_free(s);
        return;
    }
    if (!sub_send(s, "run", PQgetvalue(res, 0, 3)))
        return;
    if (final) {
        http_stream_close(s->r);
        sub_free(s);
    }
}

static int
sub_run_read(sub_t *s)
{
    const char *params[] = {s->run, NULL};

    /* On the listening connection: its results come in order with the
     * events', so no change falls between this read and the events. */
    return pg_conn_query_prepared(s->hub->listen, "event_run", 2, params, sub_run_read_done, s);
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
        sub_free(s);
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
        sub_free(s);
    }
}

/* ---- notifications ---- */

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
    for (sub_t *s = hub->subs, *next; s != NULL; s = next) {
        next = s->next;
        if ((s->repo != NULL && strcmp(s->repo, repo) != 0) ||
            (s->run[0] != '\0' && strcmp(s->run, run) != 0))
            continue;
        if (!sub_send(s, is_run ? "run" : "job", json))
            continue;
        if (s->one_run && final) {
            http_stream_close(s->r);
            sub_free(s);
        }
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

static void
follow_on_events(follow_t *hub, const char *payload)
{
    cJSON *o = cJSON_Parse(payload);
    const char *type, *id, *status;

    if (o == NULL)
        return;
    type = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_TYPE));
    id = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_ID));
    status = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_STATUS));
    if (type == NULL || id == NULL || status == NULL || !gw_uuid_valid(id) ||
        (strcmp(type, EV_RUN) != 0 && strcmp(type, EV_JOB) != 0))
        goto done;
    if (strcmp(type, EV_JOB) == 0) {
        int st = status_parse(ST_KIND_JOB, status);
        topic_t *t = topic_find(hub, id);
        /* The last chunk is stored before the final status. */
        if (t != NULL && st >= 0 && status_is_final((gw_status_t)st))
            topic_read(t);
    }
    if (hub->nsubs > 0) {
        const char *params[] = {id, status};
        bool is_run = strcmp(type, EV_RUN) == 0;
        if (pg_conn_query_prepared(hub->listen, is_run ? "event_run" : "event_job", 2, params,
                          is_run ? follow_run_event_done : follow_job_event_done, hub) < 0)
            log_warn("follow", "could not read a %s event: the database is unavailable", type);
    }
done:
    cJSON_Delete(o);
}

static void
follow_on_logs(follow_t *hub, const char *payload)
{
    cJSON *o = cJSON_Parse(payload);
    const char *job;
    cJSON *next;
    topic_t *t;

    if (o == NULL)
        return;
    job = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_JOB_ID));
    next = cJSON_GetObjectItem(o, EV_KEY_NEXT_OFFSET);
    if (job != NULL && cJSON_IsNumber(next) && (t = topic_find(hub, job)) != NULL) {
        if ((long long)next->valuedouble > t->target)
            t->target = (long long)next->valuedouble;
        if (t->target > t->have)
            topic_read(t);
    }
    cJSON_Delete(o);
}

static void
follow_on_notify(const char *channel, const char *payload, int be_pid, void *arg)
{
    if (strcmp(channel, EV_LOGS_CHANNEL) == 0)
        follow_on_logs(arg, payload);
    else if (strcmp(channel, EV_CHANNEL) == 0)
        follow_on_events(arg, payload);
}

/* Back after an outage: what was announced meanwhile is lost, so read. */
static void
follow_on_state(pg_conn_t *c, pg_state_t state, void *arg)
{
    follow_t *hub = arg;

    if (state != PG_READY)
        return;
    if (!hub->was_ready) {
        hub->was_ready = true;
        return;
    }
    log_info("follow", "listening again; catching up on every stream");
    for (topic_t *t = hub->topics; t != NULL; t = t->next)
        topic_read(t);
    for (sub_t *s = hub->subs; s != NULL; s = s->next)
        if (s->one_run && sub_run_read(s) < 0)
            log_warn("follow", "could not read run %s", s->run);
}

/* A comment line on every stream, so that proxies keep them open. */
static void
follow_on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    static const char line[] = ": keepalive\n\n";
    follow_t *hub = arg;

    for (topic_t *t = hub->topics, *tn; t != NULL; t = tn) {
        /* A write that fails frees its reader (the pin keeps the topic). */
        t->pins++;
        for (reader_t *rd = t->readers, *next; rd != NULL; rd = next) {
            next = rd->next;
            if (rd->r != NULL)
                (void)reader_write(rd, line, sizeof(line) - 1);
        }
        t->pins--;
        tn = t->next;
        topic_free_if_unused(t);
    }
    for (sub_t *s = hub->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!http_stream_write(s->r, line, sizeof(line) - 1))
            sub_free(s);
    }
}

follow_t *
follow_new(struct event_base *base, const gw_config_t *cfg, dbconn_t *db)
{
    follow_t *hub = xcalloc(1, sizeof(*hub));
    pg_conn_config_t pc = {.conninfo = cfg->database_url,
                           .application_name = "gitweave-api-listen",
                           .on_notify = follow_on_notify,
                           .on_state = follow_on_state,
                           .arg = hub};
    struct timeval tv = {.tv_sec = cfg->api_keepalive, .tv_usec = 0};

    hub->cfg = cfg;
    hub->db = db;
    hub->listen = pg_conn_new(base, &pc);
    pg_conn_prepare(hub->listen, "event_run", SQL_EVENT_RUN, 0);
    pg_conn_prepare(hub->listen, "event_job", SQL_EVENT_JOB, 0);
    pg_conn_listen(hub->listen, EV_LOGS_CHANNEL);
    pg_conn_listen(hub->listen, EV_CHANNEL);
    hub->keepalive = event_new(base, -1, EV_PERSIST, follow_on_keepalive, hub);
    if (hub->keepalive == NULL || event_add(hub->keepalive, &tv) < 0) {
        log_error("follow", "could not start the keep-alive timer");
        abort();
    }
    return hub;
}

void
follow_free(follow_t *hub)
{
    if (hub == NULL)
        return;
    /* Statements of the listening connection fail now (their callbacks
     * answer and free their subscribers); those of the pool have failed
     * already (dbconn_free comes first), so no read is in flight. */
    pg_conn_free(hub->listen);
    event_free(hub->keepalive);
    while (hub->subs != NULL) {
        http_stream_close(hub->subs->r);
        sub_free(hub->subs);
    }
    while (hub->topics != NULL) {
        topic_t *t = hub->topics;
        hub->topics = t->next;
        while (t->readers != NULL) {
            reader_t *rd = t->readers;
            t->readers = rd->next;
            if (rd->r != NULL)
                http_stream_close(rd->r);
            free(rd);
        }
        free(t);
    }
    free(hub);
}
