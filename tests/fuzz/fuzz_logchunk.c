/*
 * fuzz_logchunk - a job's output, arbitrary bytes in arbitrary writes at
 * arbitrary times, through the log chunker.
 *
 * Input: three bytes of settings (size bound, time bound, cap), then
 * operations of one byte each (a write of the next 0..63 bytes, with or
 * without the clock moving on, or a tick), and logchunk_finish at the end.
 * Invariants, checked as chunks come out and at the end:
 *  - each chunk is non-empty, at most max_chunk bytes, valid UTF-8 without
 *    NUL, and starts where the last one ended (from 0); logchunk_stored
 *    agrees;
 *  - nothing pending outlives its time bound: after a write or a tick at
 *    `now` the deadline is -1 or in (now, now + max_delay_ms];
 *  - how the output was cut into writes changes nothing: the text equals
 *    that of one write of everything, and, without a cap, that of an
 *    independent sanitiser (invalid sequences become U+FFFD, maximal
 *    subparts);
 *  - output is dropped exactly when the sanitised text exceeds the cap, and
 *    then what is stored is a prefix of it, at most cap bytes, followed by
 *    the marker.
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "logchunk.h"
#include "util.h"

#define FFFD "\xEF\xBF\xBD"
#define MARKER "\n[gitweave] log limit of "

typedef struct {
    size_t max_chunk;
    buf_t text;
    int64_t next_offset;
} fuzz_sink_t;

static void
fuzz_emit(void *arg, int64_t offset, const char *data, size_t len)
{
    fuzz_sink_t *sink = arg;

    FUZZ_CHECK(len > 0, "a chunk is not empty");
    FUZZ_CHECK(len <= sink->max_chunk, "a chunk is at most max_chunk bytes");
    FUZZ_CHECK(offset == sink->next_offset, "a chunk starts where the last one ended");
    FUZZ_CHECK(fuzz_utf8_valid(data, len), "a chunk is valid UTF-8 without NUL");
    buf_append(&sink->text, data, len);
    sink->next_offset += (int64_t)len;
}

/* Replace NUL and every maximal ill-formed subpart by U+FFFD. */
static void
fuzz_sanitise(const unsigned char *p, size_t len, buf_t *out)
{
    size_t i = 0;

    while (i < len) {
        bool ok;
        size_t n = fuzz_utf8_next(p + i, len - i, &ok);

        if (ok)
            buf_append(out, p + i, n);
        else
            buf_puts(out, FFFD);
        i += n;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink_t a = {0}, b = {0};
    logchunk_t *lc;
    size_t max_chunk, cap, i;
    int delay;
    int64_t now = 0, deadline;
    buf_t all, ref;

    if (size < 3)
        return 0;
    max_chunk = data[0] & 0x80 ? 4096 : (size_t)(data[0] & 0x7F);
    delay = data[1] % 50;
    cap = data[2] % 4 == 0 ? 0 : (size_t)data[2] * 2;
    a.max_chunk = b.max_chunk = max_chunk < 4 ? 4 : max_chunk;
    buf_init(&a.text);
    buf_init(&b.text);
    buf_init(&all);
    buf_init(&ref);

    lc = logchunk_new(max_chunk, delay, cap, fuzz_emit, &a);
    for (i = 3; i < size;) {
        unsigned op = data[i] & 3, arg = data[i] >> 2;
        size_t n;

        i++;
        switch (op) {
        case 0: /* a write at the same time */
        case 1: /* a write a little later */
            if (op == 1)
                now += arg % 7;
            n = arg < size - i ? arg : size - i;
            logchunk_write(lc, (const char *)data + i, n, now);
            buf_append(&all, data + i, n);
            i += n;
            break;
        case 2: /* time passes, with a tick */
            now += arg;
            logchunk_tick(lc, now);
            break;
        case 3: /* a tick right when due */
            deadline = logchunk_deadline(lc);
            if (deadline > now)
                now = deadline;
            logchunk_tick(lc, now);
            break;
        }
        deadline = logchunk_deadline(lc);
        FUZZ_CHECK(deadline == -1 || (deadline > now && deadline <= now + delay),
                   "pending output is due within max_delay_ms");
        FUZZ_CHECK(logchunk_stored(lc) == a.next_offset, "stored counts what was emitted");
    }
    logchunk_finish(lc);
    FUZZ_CHECK(logchunk_deadline(lc) == -1, "nothing is pending after finish");
    FUZZ_CHECK(logchunk_stored(lc) == a.next_offset, "stored counts what was emitted");

    /* The same bytes in one write. */
    logchunk_t *one = logchunk_new(max_chunk, delay, cap, fuzz_emit, &b);
    logchunk_write(one, all.data, all.len, 0);
    logchunk_finish(one);
    FUZZ_CHECK(fuzz_buf_equal(&a.text, &b.text),
               "how output is cut into writes does not change the text");
    FUZZ_CHECK(logchunk_dropped(lc) == logchunk_dropped(one),
               "how output is cut into writes does not change what is dropped");

    fuzz_sanitise((const unsigned char *)all.data, all.len, &ref);
    if (cap == 0 || ref.len <= cap) {
        FUZZ_CHECK(logchunk_dropped(lc) == 0, "nothing is dropped below the cap");
        FUZZ_CHECK(fuzz_buf_equal(&a.text, &ref), "the text is the sanitised output");
    } else {
        const char *m = memmem(a.text.data, a.text.len, MARKER, strlen(MARKER));
        size_t kept;

        FUZZ_CHECK(logchunk_dropped(lc) > 0, "output past the cap is dropped");
        FUZZ_CHECK(logchunk_dropped(lc) <= (int64_t)all.len, "at most all output is dropped");
        FUZZ_CHECK(m != NULL, "the marker says the cap was reached");
        kept = (size_t)(m - a.text.data);
        FUZZ_CHECK(kept <= cap, "at most cap bytes of output are kept");
        FUZZ_CHECK(kept == 0 || memcmp(a.text.data, ref.data, kept) == 0,
                   "what is kept is the output's start");
    }

    logchunk_free(lc);
    logchunk_free(one);
    buf_free(&a.text);
    buf_free(&b.text);
    buf_free(&all);
    buf_free(&ref);
    return 0;
}
