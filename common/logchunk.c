/*
 * logchunk - cuts a job's output into valid UTF-8 chunks for storage.
 *
 * Input runs through a UTF-8 validator (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). Well-formed text is copied in runs;
 * a NUL byte, a byte that cannot start a sequence, or the longest prefix of a
 * sequence that turns out to be broken (the "maximal subpart" of Unicode
 * 3.9, as browsers and most decoders do) becomes one U+FFFD. A sequence cut
 * by the end of a write is held until the next write completes or breaks it.
 *
 * Accepted text collects in `pending`, which only ever holds whole code
 * points between calls. A chunk is cut as soon as max_chunk bytes are
 * pending, ending before any code point that would cross the bound, and the
 * few bytes left over are moved to the front; so each input byte is copied a
 * bounded number of times and nothing is allocated per byte.
 */
#include "logchunk.h"

#include "utf8.h"
#include "util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LC_REPLACEMENT "\xEF\xBF\xBD"
#define LC_REPLACEMENT_LEN 3
/* The longest UTF-8 sequence; a chunk bound below it could not hold one. */
#define LC_MIN_CHUNK 4

struct logchunk {
    size_t max_chunk;
    int64_t max_delay_ms;
    size_t cap;
    logchunk_emit_fn emit;
    void *arg;

    buf_t pending;         /* accepted text not yet emitted, whole code points */
    int64_t pending_since; /* when the oldest pending byte was written */
    int64_t stored;        /* bytes emitted so far, the next chunk's offset */
    int64_t dropped;       /* input bytes dropped by the cap */
    bool capped;           /* the cap was reached and the marker added */
    bool finished;

    /* An incomplete sequence at the end of the last write. */
    unsigned char held[4];
    size_t held_len;
    size_t held_need;      /* continuation bytes still missing */
    unsigned char held_lo; /* the range the next byte must be in */
    unsigned char held_hi;
    int64_t held_since;
};

static void
lc_emit(logchunk_t *lc, const char *data, size_t len)
{
    lc->emit(lc->arg, lc->stored, data, len);
    lc->stored += (int64_t)len;
}

/*
 * Emit every chunk of max_chunk bytes that is pending. With !complete the
 * buffer may end inside a code point, so a chunk of exactly the remaining
 * bytes is left for later. Bytes left over were all written at `t`.
 */
static void
lc_cut(logchunk_t *lc, bool complete, int64_t t)
{
    const unsigned char *d = (const unsigned char *)lc->pending.data;
    size_t pos = 0;

    while (lc->pending.len - pos >= lc->max_chunk) {
        size_t avail = lc->pending.len - pos;
        size_t n = lc->max_chunk;

        if (avail == n) {
            if (!complete)
                break;
        } else {
            /* Stop before the code point that the bound would split. */
            while (n > 0 && utf8_is_cont(d[pos + n]))
                n--;
            if (n == 0)
                n = lc->max_chunk; /* not reachable: pending is valid UTF-8 */
        }
        lc_emit(lc, (const char *)d + pos, n);
        pos += n;
    }
    if (pos > 0) {
        buf_consume(&lc->pending, pos);
        /* Every chunk cut here began with the older bytes, so what is left
         * came from this append. */
        if (lc->pending.len > 0)
            lc->pending_since = t;
    }
}

/* Add text to pending regardless of the cap, cutting chunks as it fills. */
static void
lc_append(logchunk_t *lc, const char *text, size_t n, int64_t t)
{
    if (n == 0)
        return;
    if (lc->pending.len == 0)
        lc->pending_since = t;
    /* In pieces, so that a large write never grows the buffer past about
     * twice max_chunk. */
    while (n > 0) {
        size_t piece = n < lc->max_chunk ? n : lc->max_chunk;
        buf_append(&lc->pending, text, piece);
        text += piece;
        n -= piece;
        lc_cut(lc, false, t);
    }
    lc_cut(lc, true, t);
}

/*
 * Store n bytes of valid text that stand for raw_n input bytes, subject to
 * the cap. Text that is a verbatim copy of the input (n == raw_n) may be
 * stored in part, up to a code point boundary; a replacement is all or
 * nothing.
 */
static void
lc_accept(logchunk_t *lc, const char *text, size_t n, size_t raw_n, int64_t t)
{
    char marker[128];
    size_t used, keep = 0;
    int m;

    if (lc->capped) {
        lc->dropped += (int64_t)raw_n;
        return;
    }
    used = (size_t)lc->stored + lc->pending.len;
    if (lc->cap == 0 || used + n <= lc->cap) {
        lc_append(lc, text, n, t);
        return;
    }
    if (n == raw_n && used < lc->cap) {
        keep = lc->cap - used;
        while (keep > 0 && utf8_is_cont((unsigned char)text[keep]))
            keep--;
    }
    lc_append(lc, text, keep, t);
    lc->dropped += (int64_t)(raw_n - keep);
    lc->capped = true;
    m = snprintf(marker, sizeof(marker),
                 "\n[gitweave] log limit of %zu bytes reached; further output is not stored\n",
                 lc->cap);
    if (m > 0)
        lc_append(lc, marker, (size_t)m < sizeof(marker) ? (size_t)m : sizeof(marker) - 1, t);
}

static void
lc_replace(logchunk_t *lc, size_t raw_n, int64_t t)
{
    lc_accept(lc, LC_REPLACEMENT, LC_REPLACEMENT_LEN, raw_n, t);
}

/* Run input bytes through the validator into lc_accept. */
static void
lc_feed(logchunk_t *lc, const unsigned char *p, size_t len, int64_t now)
{
    size_t i = 0, run;

    /* First complete (or give up on) the sequence held from the last write. */
    while (i < len && lc->held_len > 0) {
        unsigned char c = p[i];
        if (c < lc->held_lo || c > lc->held_hi) {
            /* Broken: the held bytes become one U+FFFD and c is looked at
             * afresh below. */
            lc_replace(lc, lc->held_len, lc->held_since);
            lc->held_len = 0;
            break;
        }
        lc->held[lc->held_len++] = c;
        lc->held_lo = 0x80;
        lc->held_hi = 0xBF;
        i++;
        if (--lc->held_need == 0) {
            lc_accept(lc, (const char *)lc->held, lc->held_len, lc->held_len, lc->held_since);
            lc->held_len = 0;
        }
    }
    if (lc->held_len > 0)
        return; /* still incomplete: the write was shorter than the sequence */

    run = i;
    while (i < len) {
        unsigned char c = p[i];
        size_t need, k;
        unsigned char lo, hi;

        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        if (c == 0x00 || !utf8_lead(c, &need, &lo, &hi)) {
            lc_accept(lc, (const char *)p + run, i - run, i - run, now);
            lc_replace(lc, 1, now);
            run = ++i;
            continue;
        }
        /* k counts the bytes of the sequence that are valid so far. */
        for (k = 1; k <= need && i + k < len; k++) {
            unsigned char cc = p[i + k];
            if (cc < lo || cc > hi)
                break;
            lo = 0x80;
            hi = 0xBF;
        }
        if (k == need + 1) {
            i += k;
            continue;
        }
        lc_accept(lc, (const char *)p + run, i - run, i - run, now);
        if (i + k == len) {
            memcpy(lc->held, p + i, k);
            lc->held_len = k;
            lc->held_need = need + 1 - k;
            lc->held_lo = lo;
            lc->held_hi = hi;
            lc->held_since = now;
            return;
        }
        lc_replace(lc, k, now);
        i += k;
        run = i;
    }
    lc_accept(lc, (const char *)p + run, i - run, i - run, now);
}

/*
 * Create a chunker. max_chunk below 4 is raised to 4 so that any code point
 * fits in a chunk; a negative max_delay_ms counts as 0. The caller frees the
 * result with logchunk_free. The emit callback must not call back into lc
 * except through logchunk_stored, logchunk_dropped and logchunk_deadline.
 */
logchunk_t *
logchunk_new(size_t max_chunk, int max_delay_ms, size_t cap, logchunk_emit_fn emit, void *arg)
{
    logchunk_t *lc = xcalloc(1, sizeof(*lc));

    lc->max_chunk = max_chunk < LC_MIN_CHUNK ? LC_MIN_CHUNK : max_chunk;
    lc->max_delay_ms = max_delay_ms < 0 ? 0 : max_delay_ms;
    lc->cap = cap;
    lc->emit = emit;
    lc->arg = arg;
    buf_init(&lc->pending);
    lc->pending_since = -1;
    return lc;
}

/*
 * Free lc without emitting what is pending (call logchunk_finish first to
 * keep it). NULL is a no-op.
 */
void
logchunk_free(logchunk_t *lc)
{
    if (lc == NULL)
        return;
    buf_free(&lc->pending);
    free(lc);
}

/*
 * Add len bytes of raw output produced at now_ms (len may be 0). Emits
 * every full chunk, and also what is pending when its oldest byte is due by
 * now_ms, also once the cap is reached. data is borrowed. Ignored after
 * logchunk_finish.
 */
void
logchunk_write(logchunk_t *lc, const char *data, size_t len, int64_t now_ms)
{
    if (lc->finished)
        return;
    /* Past the cap nothing more is stored (a held sequence is counted at
     * finish), but what is pending still goes out when due. */
    if (lc->capped)
        lc->dropped += (int64_t)len;
    else if (len > 0)
        lc_feed(lc, (const unsigned char *)data, len, now_ms);
    logchunk_tick(lc, now_ms);
}

/*
 * Emit what is pending, whatever its age. Pending text is whole code points
 * and shorter than max_chunk between calls; a held incomplete sequence
 * stays held. Ignored after logchunk_finish.
 */
void
logchunk_cut(logchunk_t *lc)
{
    if (lc->finished || lc->pending.len == 0)
        return;
    /* Between calls pending is shorter than max_chunk and whole. */
    lc_emit(lc, lc->pending.data, lc->pending.len);
    buf_reset(&lc->pending);
    lc->pending_since = -1;
}

/*
 * Emit what is pending when its oldest byte was written max_delay_ms or more
 * before now_ms. A held incomplete sequence stays held.
 */
void
logchunk_tick(logchunk_t *lc, int64_t now_ms)
{
    if (lc->pending.len == 0 || now_ms < lc->pending_since + lc->max_delay_ms)
        return;
    logchunk_cut(lc);
}

/*
 * The time at which logchunk_tick must next be called (possibly already
 * past), or -1 when nothing is pending.
 */
int64_t
logchunk_deadline(const logchunk_t *lc)
{
    if (lc->pending.len == 0)
        return -1;
    return lc->pending_since + lc->max_delay_ms;
}

/*
 * Emit everything pending: a held incomplete sequence becomes U+FFFD, and
 * when the cap dropped output a last line says how many bytes. Calls after
 * the first do nothing.
 */
void
logchunk_finish(logchunk_t *lc)
{
    int64_t t = lc->pending.len > 0 ? lc->pending_since : lc->held_since;

    if (lc->finished)
        return;
    lc->finished = true;
    if (lc->held_len > 0) {
        lc_replace(lc, lc->held_len, lc->held_since);
        lc->held_len = 0;
    }
    if (lc->dropped > 0) {
        char line[96];
        int m = snprintf(line, sizeof(line),
                         "[gitweave] %" PRId64 " bytes of output were dropped\n", lc->dropped);
        if (m > 0)
            lc_append(lc, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line) - 1, t);
    }
    if (lc->pending.len > 0)
        lc_emit(lc, lc->pending.data, lc->pending.len);
    buf_reset(&lc->pending);
    lc->pending_since = -1;
}

/* Bytes emitted so far, which is the offset of the next chunk. */
int64_t
logchunk_stored(const logchunk_t *lc)
{
    return lc->stored;
}

/* Input bytes dropped by the cap so far. */
int64_t
logchunk_dropped(const logchunk_t *lc)
{
    return lc->dropped;
}
