/*
 * log_sink - chunked job output with a queue of chunks not yet stored.
 */
#include "log_sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logchunk.h"
#include "secret_mask.h"

typedef struct chunk {
    struct chunk *next;
    struct log_sink *sink;
    bool sent; /* in flight, or stored */
    bool stored;
    int64_t offset;
    size_t len;
    char data[]; /* NUL-terminated */
} chunk_t;

struct log_sink {
    q_fence_t fence;
    char job_id[37];
    logchunk_t *lc;
    secret_mask_t *mask; /* the job's secrets, masked before the chunker; or NULL */
    chunk_t *head;
    chunk_t **tail;
    int inflight;     /* inserts not answered yet */
    pg_conn_t *conn;  /* where the last flush sent them (the run's connection) */
    bool finished;    /* log_sink_finish was called */
    int64_t cut_at;   /* log_sink_cut_by's deadline, or -1 */
    chunk_t *carried; /* the last chunk, sent with the job's end */
    bool freed;       /* freed by its owner: released with the last answer */
};

static void
sink_emit(void *arg, int64_t offset, const char *data, size_t len)
{
    log_sink_t *s = arg;
    chunk_t *c = xmalloc(sizeof(*c) + len + 1);

    c->next = NULL;
    c->sink = s;
    c->sent = false;
    c->stored = false;
    c->offset = offset;
    c->len = len;
    memcpy(c->data, data, len);
    c->data[len] = '\0';
    *s->tail = c;
    s->tail = &c->next;
}

log_sink_t *
log_sink_new(const q_fence_t *fence, const char *job_id, size_t max_chunk, int max_delay_ms,
             size_t cap)
{
    log_sink_t *s = xcalloc(1, sizeof(*s));

    s->fence = *fence;
    snprintf(s->job_id, sizeof(s->job_id), "%s", job_id);
    s->lc = logchunk_new(max_chunk, max_delay_ms, cap, sink_emit, s);
    s->tail = &s->head;
    s->cut_at = -1;
    return s;
}

static void
sink_masked(void *arg, const char *data, size_t len)
{
    log_sink_t *s = arg;

    logchunk_write(s->lc, data, len, gw_now_ms());
}

int
log_sink_mask(log_sink_t *s, const char *value, size_t len)
{
    if (s->mask == NULL)
        s->mask = secret_mask_new(sink_masked, s);
    return secret_mask_add(s->mask, value, len);
}

static void
sink_release(log_sink_t *s)
{
    secret_mask_free(s->mask);
    logchunk_free(s->lc);
    while (s->head) {
        chunk_t *c = s->head;
        s->head = c->next;
        free(c);
    }
    free(s);
}

void
log_sink_free(log_sink_t *s)
{
    if (s == NULL)
        return;
    if (s->inflight > 0) {
        s->freed = true;
        return;
    }
    sink_release(s);
}

void
log_sink_write(log_sink_t *s, const char *data, size_t len)
{
    if (s->mask != NULL)
        secret_mask_write(s->mask, data, len);
    else
        logchunk_write(s->lc, data, len, gw_now_ms());
    if (s->cut_at >= 0)
        log_sink_tick(s);
}

void
log_sink_notef(log_sink_t *s, const char *fmt, ...)
{
    va_list ap;
    char line[1024];

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    log_sink_write(s, line, (size_t)n);
}

void
log_sink_cut(log_sink_t *s)
{
    logchunk_cut(s->lc);
    s->cut_at = -1;
}

void
log_sink_cut_by(log_sink_t *s, int64_t at_ms)
{
    if (s->cut_at < 0 || at_ms < s->cut_at)
        s->cut_at = at_ms;
}

void
log_sink_tick(log_sink_t *s)
{
    int64_t now = gw_now_ms();

    /* Only a cut with something to cut meets the deadline: until then
     * what comes is cut as soon as it is written. */
    if (s->cut_at >= 0 && now >= s->cut_at && logchunk_deadline(s->lc) >= 0)
        log_sink_cut(s);
    else
        logchunk_tick(s->lc, now);
}

int64_t
log_sink_deadline(const log_sink_t *s)
{
    int64_t at = logchunk_deadline(s->lc);

    if (at >= 0 && s->cut_at >= 0 && s->cut_at < at)
        return s->cut_at;
    return at;
}

void
log_sink_finish(log_sink_t *s)
{
    if (s->mask != NULL)
        secret_mask_finish(s->mask);
    logchunk_finish(s->lc);
    s->finished = true;
}

const char *
log_sink_take_last(log_sink_t *s, int64_t *offset)
{
    chunk_t *c = s->head;

    if (s->carried == NULL && s->finished && c != NULL && c->next == NULL && !c->sent) {
        c->sent = true;
        s->carried = c;
    }
    if (s->carried == NULL)
        return NULL;
    *offset = s->carried->offset;
    return s->carried->data;
}

void
log_sink_carried(log_sink_t *s, bool stored)
{
    chunk_t *c = s->carried;

    if (c == NULL)
        return;
    s->carried = NULL;
    if (!stored) {
        c->sent = false;
        return;
    }
    /* The only chunk left (log_sink_take_last). */
    s->head = NULL;
    s->tail = &s->head;
    free(c);
}

static void
sink_stored(const PGresult *res, void *arg)
{
    chunk_t *ch = arg;
    log_sink_t *s = ch->sink;

    s->inflight--;
    if (s->freed) {
        if (s->inflight == 0)
            sink_release(s);
        return;
    }
    /* A failure leaves the chunk for the next flush. */
    bool stored = q_fenced(res, "store a log chunk") != Q_ERROR;
    if (stored)
        ch->stored = true;
    else
        ch->sent = false;
    while (s->head && s->head->stored) {
        chunk_t *c = s->head;
        s->head = c->next;
        free(c);
    }
    if (s->head == NULL)
        s->tail = &s->head;
    /* The next chunk waiting for room goes now (after a failure, the run
     * flushes again when it resumes). */
    if (stored && s->conn != NULL)
        log_sink_flush(s, s->conn);
}

void
log_sink_flush(log_sink_t *s, pg_conn_t *c)
{
    s->conn = c;
    for (chunk_t *ch = s->head; ch; ch = ch->next) {
        if (ch->sent)
            continue;
        if (!s->finished && s->inflight >= LOG_SINK_INFLIGHT)
            return;
        if (q_log_insert(c, &s->fence, s->job_id, ch->offset, ch->data, sink_stored, ch) != 0)
            return;
        ch->sent = true;
        s->inflight++;
    }
}

bool
log_sink_pending(const log_sink_t *s)
{
    return s->head != NULL;
}
