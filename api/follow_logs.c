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
 *
 * Whatever a log holds, what waits for one client stays bounded: JSON
 * writes a control byte in six (\u001b), so a chunk is sent as events of
 * at most FOLLOW_EVENT bytes of JSON, and a reader writes them one at a
 * time while less than FOLLOW_PAGE waits for its client.
 */
#include "follow_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "later.h"
#include "log.h"
#include "queries.h"
#include "status.h"
#include "utf8.h"

/* What may wait unsent for one client: a reader writes while less than
 * this waits, and reads on once its client has taken it; a live reader
 * with this much unsent goes back to reading on its own. Also the bytes of
 * log one statement reads. */
#define FOLLOW_PAGE 262144
#define FOLLOW_PAGE_S "262144"
/* The most bytes of JSON text in one chunk event (one character more when
 * a single character does not fit). */
#define FOLLOW_EVENT 65536

/* The columns of SQL_LOGS_PAGE. */
enum { COL_STATUS, COL_OFFSET, COL_CHUNK, COL_TOTAL, COL_EXIT_CODE, COL_LENGTH };

typedef struct reader reader_t;

/* One client reading a job's log: an SSE follower, or a plain-text reader
 * (no topic: it reads page by page and ends). */
struct reader {
    follow_t *hub;
    topic_t *topic; /* NULL for plain text */
    http_req_t *r;  /* NULL once the stream is over */
    char job[37];
    long long offset;        /* the next byte to send */
    long long length;        /* the stored log's length when its last page was read */
    long long want;          /* bytes of log its next read asks for */
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
    bool final;       /* the job is final and every chunk was read */
    char status[16];
    char exit_code[16]; /* JSON: a number or null */
    long long length;   /* once final: the length of the log */
    LIST_HEAD(, reader) readers;
    LIST_ENTRY(topic) link; /* in the hub's topics, until it is unused */
    later_t later;          /* unused: freed on the next loop turn */
};

static void reader_read(reader_t *rd);
static void topic_read(topic_t *t);

/* ---- JSON and SSE text ---- */

/* The bytes of the UTF-8 character that starts s (1 for a byte that
 * starts none, or for a character cut short by the end of s). */
static size_t
follow_char_len(const char *s, size_t len)
{
    size_t need;
    unsigned char lo, hi;

    if (!utf8_lead((unsigned char)s[0], &need, &lo, &hi) || need >= len)
        return 1;
    return need + 1;
}

/* How JSON writes byte c of a string: its escape (u is room for one), or
 * NULL when c stands for itself. */
static const char *
follow_json_escape(unsigned char c, char u[7])
{
    static const char hex[] = "0123456789abcdef";
    static const char *const named[] = {
        ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
        ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t"};

    if (c < GW_ARRAY_LEN(named) && named[c] != NULL)
        return named[c];
    if (c >= 0x20)
        return NULL;
    memcpy(u, "\\u00", 4);
    u[4] = hex[c >> 4];
    u[5] = hex[c & 0xF];
    u[6] = '\0';
    return u;
}

size_t
follow_json_text(buf_t *out, const char *text, size_t len, size_t room)
{
    size_t i = 0, run = 0, used = 0;

    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        char u[7];
        const char *esc = follow_json_escape(c, u);
        size_t k = esc == NULL && c >= 0x80 ? follow_char_len(text + i, len - i) : 1;
        size_t e = esc != NULL ? strlen(esc) : k;

        if (i > 0 && used + e > room)
            break;
        if (esc != NULL) {
            /* The run of text before it goes out as it is. */
            if (out != NULL) {
                buf_append(out, text + run, i - run);
                buf_append(out, esc, e);
            }
            run = i + 1;
        }
        used += e;
        i += k;
    }
    if (out != NULL)
        buf_append(out, text + run, i - run);
    return i;
}

/* "event: chunk" for as much of the text at offset (len > 0 bytes) as one
 * event carries, appended to out; returns how many bytes of text. */
static size_t
follow_chunk_event(buf_t *out, long long offset, const char *text, size_t len)
{
    size_t n = follow_json_text(NULL, text, len, FOLLOW_EVENT);

    buf_printf(out, "event: chunk\nid: %lld\ndata: {\"offset\":%lld,\"chunk\":\"",
               offset + (long long)n, offset);
    (void)follow_json_text(out, text, n, SIZE_MAX);
    buf_puts(out, "\"}\n\n");
    return n;
}

const char *
follow_page_chunk(const PGresult *res, int i, long long from, long long *at, size_t *len)
{
    const char *chunk = PQgetvalue(res, i, COL_CHUNK);
    size_t full = (size_t)PQgetlength(res, i, COL_CHUNK);
    long long start = strtoll(PQgetvalue(res, i, COL_OFFSET), NULL, 10);
    size_t skip = follow_chunk_skip(start, chunk, full, from);

    *at = start + (long long)skip;
    *len = full - skip;
    return chunk + skip;
}

int
follow_page_count(const PGresult *res, long long *total)
{
    int n = PQgetisnull(res, 0, COL_OFFSET) ? 0 : PQntuples(res);

    *total = n > 0 ? strtoll(PQgetvalue(res, 0, COL_TOTAL), NULL, 10) : 0;
    return n;
}

/* ---- readers ---- */

/* A topic without readers and reads leaves its hub now (no new reader
 * joins it), and its memory goes on the next turn (later.h): a loop over
 * its readers up the stack may be where its last reader left. */
static void
topic_free_if_unused(topic_t *t)
{
    if (!LIST_EMPTY(&t->readers) || t->reading || later_queued(&t->later))
        return;
    LIST_REMOVE(t, link);
    later_free(t->hub->base, &t->later, t, free);
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

/* Whether a reader's client has a page waiting: it gets no more for now. */
static bool
reader_full(const reader_t *rd)
{
    return http_stream_pending(rd->r) >= FOLLOW_PAGE;
}

/*
 * Send the text at offset at (len bytes, whole characters) to a reader, an
 * event (or for plain text, FOLLOW_EVENT bytes) at a time, while its client
 * has less than a page waiting. Returns 1 when all of it went, 0 when the
 * rest waits for the client (rd->offset says where it resumes), -1 when
 * the stream is over (the reader is freed).
 */
static int
reader_send(reader_t *rd, long long at, const char *text, size_t len)
{
    buf_t ev;
    int rc = 1;

    buf_init(&ev);
    while (len > 0) {
        size_t n;
        bool ok;

        if (reader_full(rd)) {
            rc = 0;
            break;
        }
        buf_reset(&ev);
        if (rd->topic != NULL) {
            n = follow_chunk_event(&ev, at, text, len);
            rd->offset = at + (long long)n;
            ok = reader_write(rd, ev.data, ev.len);
        } else {
            n = len <= FOLLOW_EVENT ? len : utf8_cut(text, FOLLOW_EVENT);
            rd->offset = at + (long long)n;
            ok = reader_write(rd, text, n);
        }
        if (!ok) {
            rc = -1;
            break;
        }
        at += (long long)n;
        text += n;
        len -= n;
    }
    buf_free(&ev);
    return rc;
}

/* The last event, then close. next_offset is the log's length. */
static void
reader_end(reader_t *rd, const char *status, const char *exit_code, long long length)
{
    buf_t b;

    buf_init(&b);
    buf_printf(&b,
               "event: end\ndata: {\"status\":\"%s\",\"exit_code\":%s,\"next_offset\":%lld}\n\n",
               status, exit_code, length);
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
            reader_end(rd, t->status, t->exit_code, t->length);
        else
            reader_read(rd);
        return;
    }
    /* The topic reads on from where the stored log ended in this reader's
     * snapshot (not from past it, for a reader that asked for an offset
     * past the end: topic_send sends it what lies from its offset on). */
    if (t->have < 0)
        t->have = rd->length;
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
    long long total, from = rd->offset;
    int n = follow_page_count(res, &total), sent = 1, st;

    rd->length = strtoll(PQgetvalue(res, 0, COL_LENGTH), NULL, 10);
    for (int i = 0; i < n && sent == 1; i++) {
        long long at;
        size_t len;
        const char *text = follow_page_chunk(res, i, rd->offset, &at, &len);

        sent = reader_send(rd, at, text, len);
    }
    if (sent < 0)
        return;
    /* A page that takes more room than it holds (control bytes take six)
     * makes the next read ask for what went; one that went whole, twice
     * as much, up to a page. */
    if (sent == 0)
        rd->want = rd->offset > from ? rd->offset - from : 1;
    else if (rd->want < FOLLOW_PAGE)
        rd->want = rd->want * 2 < FOLLOW_PAGE ? rd->want * 2 : FOLLOW_PAGE;
    if (sent == 0 || total > n) {
        /* More is stored: read on now if little waits for the client,
         * else once it has taken what waits (reader_on_drain). */
        if (http_stream_pending(rd->r) < FOLLOW_PAGE / 2)
            reader_read(rd);
        return;
    }
    if (rd->topic == NULL) {
        reader_close(rd);
        return;
    }
    st = status_parse(ST_KIND_JOB, PQgetvalue(res, 0, COL_STATUS));
    if (st >= 0 && status_is_final((gw_status_t)st)) {
        reader_end(rd, PQgetvalue(res, 0, COL_STATUS),
                   PQgetisnull(res, 0, COL_EXIT_CODE) ? "null" : PQgetvalue(res, 0, COL_EXIT_CODE),
                   rd->length);
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
    char offset[24], want[24];

    snprintf(offset, sizeof(offset), "%lld", rd->offset);
    snprintf(want, sizeof(want), "%lld", rd->want);
    const char *params[] = {rd->job, offset, want};
    rd->live = false;
    rd->reading = true;
    if (dbconn_query(rd->hub->db, STMT_LOGS_PAGE, 3, params, reader_read_done, rd) < 0) {
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
    rd->want = FOLLOW_PAGE;
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
    http_db_async(r, "read logs", STMT_LOGS_PAGE, 3, params, reader_first_done, rd);
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

/*
 * Send one event of a topic's read (the text at offset at, n bytes, whose
 * event is ev) to every live reader: each byte once per reader (what its
 * own read sent is skipped, and an event it starts inside is sent from its
 * offset on). A reader whose client has a page waiting leaves the live
 * chunks and catches up on its own, a page each time the client has taken
 * the last one, so that it holds up nobody and its buffer stays bounded.
 */
static void
topic_send_event(topic_t *t, long long at, const char *text, size_t n, const buf_t *ev)
{
    long long end = at + (long long)n;

    for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
        next = LIST_NEXT(rd, link);
        if (!rd->live || rd->r == NULL || end <= rd->offset)
            continue;
        if (reader_full(rd)) {
            rd->live = false;
            continue;
        }
        if (at < rd->offset) {
            size_t skip = follow_chunk_skip(at, text, n, rd->offset);
            buf_t part;

            buf_init(&part);
            (void)follow_chunk_event(&part, at + (long long)skip, text + skip, n - skip);
            rd->offset = end;
            (void)reader_write(rd, part.data, part.len);
            buf_free(&part);
            continue;
        }
        rd->offset = end;
        (void)reader_write(rd, ev->data, ev->len);
    }
}

/* Send the chunks of a topic's read to its live readers, each encoded
 * once; returns the number of chunks and the count of those from the
 * read's offset on. */
static int
topic_send(topic_t *t, const PGresult *res, long long *total)
{
    int n = follow_page_count(res, total);
    buf_t ev;

    buf_init(&ev);
    for (int i = 0; i < n; i++) {
        long long at;
        size_t len;
        const char *text = follow_page_chunk(res, i, 0, &at, &len);

        while (len > 0) {
            size_t k;

            buf_reset(&ev);
            k = follow_chunk_event(&ev, at, text, len);
            topic_send_event(t, at, text, k, &ev);
            at += (long long)k;
            text += k;
            len -= k;
        }
        if (at > t->have)
            t->have = at;
    }
    buf_free(&ev);
    return n;
}

static void
topic_read_done(const PGresult *res, void *arg)
{
    topic_t *t = arg;
    long long total = 0;
    int n, st;

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
    st = status_parse(ST_KIND_JOB, PQgetvalue(res, 0, COL_STATUS));
    if (st < 0 || !status_is_final((gw_status_t)st))
        goto done;
    t->final = true;
    snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, 0, COL_STATUS));
    snprintf(t->exit_code, sizeof(t->exit_code), "%s",
             PQgetisnull(res, 0, COL_EXIT_CODE) ? "null" : PQgetvalue(res, 0, COL_EXIT_CODE));
    t->length = strtoll(PQgetvalue(res, 0, COL_LENGTH), NULL, 10);
    for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
        next = LIST_NEXT(rd, link);
        if (rd->live && rd->r != NULL)
            reader_end(rd, t->status, t->exit_code, t->length);
    }
done:
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
    if (dbconn_query(t->hub->db, STMT_LOGS_PAGE, 3, params, topic_read_done, t) < 0)
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
        /* A write that fails frees its reader, and its last one the topic
         * (which leaves the list now, its memory on the next turn). */
        tn = LIST_NEXT(t, link);
        for (reader_t *rd = LIST_FIRST(&t->readers), *next; rd != NULL; rd = next) {
            next = LIST_NEXT(rd, link);
            if (rd->r != NULL)
                (void)reader_write(rd, line, len);
        }
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
