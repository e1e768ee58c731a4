/*
 * follow_logs - a job's log as a stream: Server-Sent Events that follow it
 * live, or plain text to its current end.
 *
 * The followers of one job share a topic: a notification makes the topic
 * read the new range once, encode each chunk once, and write it to every
 * follower. A new follower joins the topic first, then reads its history
 * on its own, then goes live; chunks are deduplicated by offset, so none
 * is lost or sent twice whichever comes first. A follower whose client
 * falls a page behind reads on its own again. The job's final status
 * ends every follower with an `end` event once all chunks are sent.
 */
#include "follow_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "queries.h"
#include "status.h"
#include "utf8.h"

/* Bytes of log read per statement; a reader waits for its client to take
 * a page before it reads the next one. A live reader with this much unsent
 * goes back to reading on its own. */
#define FOLLOW_PAGE 262144
#define FOLLOW_PAGE_S "262144"

typedef struct reader reader_t;

/* One client reading a job's log: an SSE follower, or a plain-text reader
 * (no topic: it reads page by page and ends). */
struct reader {
    follow_t *hub;
    topic_t *topic; /* NULL for plain text */
    http_req_t *r;  /* NULL once the stream is over */
    char job[37];
    long long offset;        /* the next byte to send */
    bool at_end;             /* its last page ended where the stored log ends (offset) */
    bool live;               /* gets the topic's chunks */
    bool reading;            /* a page read of its own is in flight */
    LIST_ENTRY(reader) link; /* in its topic's readers */
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
    LIST_HEAD(, reader) readers;
    LIST_ENTRY(topic) link; /* in the hub's topics */
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
    if (!LIST_EMPTY(&t->readers) || t->reading || t->pins > 0)
        return;
    LIST_REMOVE(t, link);
    free(t);
}

static topic_t *
topic_find(follow_t *hub, const char *job)
{
    topic_t *t;

    LIST_FOREACH(t, &hub->topics, link)
    {
        if (strcmp(t->job, job) == 0)
            return t;
    }
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
        LIST_REMOVE(rd, link);
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
    buf_printf(&b,
               "event: end\ndata: {\"status\":\"%s\",\"exit_code\":%s,\"next_offset\":%lld}\n\n",
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
            LIST_INSERT_HEAD(&hub->topics, t, link);
        }
        rd->topic = t;
        LIST_INSERT_HEAD(&t->readers, rd, link);
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
        for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
            next = LIST_NEXT(rd, link);
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
    if (LIST_EMPTY(&t->readers) || !pg_result_ok(res)) {
        /* Nobody left, or the database went away: its return makes
         * every topic read again. */
        goto done;
    }
    if (PQntuples(res) == 0) {
        /* The job is gone (its run was deleted). */
        for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
            next = LIST_NEXT(rd, link);
            if (rd->live)
                reader_close(rd);
        }
        goto done;
    }
    n = topic_send(t, res, &total);
    if (LIST_EMPTY(&t->readers))
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
    for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
        next = LIST_NEXT(rd, link);
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

/* ---- what the hub asks of the topics ---- */

void
follow_logs_announce(follow_t *hub, const char *job, long long next_offset)
{
    topic_t *t = topic_find(hub, job);

    if (t == NULL)
        return;
    if (next_offset > t->target)
        t->target = next_offset;
    if (t->target > t->have)
        topic_read(t);
}

void
follow_logs_job_final(follow_t *hub, const char *job)
{
    topic_t *t = topic_find(hub, job);

    if (t != NULL)
        topic_read(t);
}

void
follow_logs_catch_up(follow_t *hub)
{
    topic_t *t;

    LIST_FOREACH(t, &hub->topics, link)
    {
        topic_read(t);
    }
}

void
follow_logs_keepalive(follow_t *hub, const char *line, size_t len)
{
    for (topic_t *t = LIST_FIRST(&hub->topics), *tn; t != NULL; t = tn) {
        /* A write that fails frees its reader (the pin keeps the topic). */
        t->pins++;
        for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
            next = LIST_NEXT(rd, link);
            if (rd->r != NULL)
                (void)reader_write(rd, line, len);
        }
        t->pins--;
        tn = LIST_NEXT(t, link);
        topic_free_if_unused(t);
    }
}

void
follow_logs_close_all(follow_t *hub)
{
    while (!LIST_EMPTY(&hub->topics)) {
        topic_t *t = LIST_FIRST(&hub->topics);
        LIST_REMOVE(t, link);
        while (!LIST_EMPTY(&t->readers)) {
            reader_t *rd = LIST_FIRST(&t->readers);
            LIST_REMOVE(rd, link);
            if (rd->r != NULL)
                http_stream_close(rd->r);
            free(rd);
        }
        free(t);
    }
}
