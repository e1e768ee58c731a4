/*
 * fuzz_docker_frames - the Docker Engine's multiplexed stream, any bytes,
 * cut into reads of any sizes, through the demultiplexer.
 *
 * Input: one byte k (0..7 read sizes), k bytes of read sizes (used in turn;
 * 0 stands for an empty read), then the stream. Invariants:
 *  - each payload piece is non-empty with a stream of 0..3, stdout once the
 *    stream turned out raw;
 *  - the pieces, joined per run of one stream, equal what an independent
 *    reading of the whole stream gives: frame payloads in order, and from
 *    the first header that cannot be one on, everything as stdout;
 *  - raw and partial end up as that reading says.
 */
#include "fuzz_util.h"

#include <string.h>

#include "docker_frames.h"
#include "util.h"

#define FUZZ_HEADER 8

/* Payload as runs of one stream: the concatenated bytes, and where each
 * run starts and which stream it is. */
typedef struct {
    buf_t bytes;
    buf_t runs; /* fuzz_run_t[] */
} fuzz_out_t;

typedef struct {
    size_t start;
    int stream;
} fuzz_run_t;

static void
fuzz_out_add(fuzz_out_t *o, int stream, const char *data, size_t len)
{
    fuzz_run_t *last = o->runs.len ? (fuzz_run_t *)(o->runs.data + o->runs.len) - 1 : NULL;

    if (len == 0)
        return;
    if (last == NULL || last->stream != stream) {
        fuzz_run_t r;

        memset(&r, 0, sizeof(r)); /* runs are compared with memcmp */
        r.start = o->bytes.len;
        r.stream = stream;
        buf_append(&o->runs, &r, sizeof(r));
    }
    buf_append(&o->bytes, data, len);
}

static void
fuzz_on_payload(void *arg, int stream, const char *data, size_t len)
{
    fuzz_out_t *o = arg;

    FUZZ_CHECK(len > 0, "a payload piece is not empty");
    FUZZ_CHECK(stream >= DOCKER_STREAM_STDIN && stream <= DOCKER_STREAM_SYSTEM,
               "a piece belongs to a stream 0..3");
    fuzz_out_add(o, stream, data, len);
}

/* The stream read in one piece, frame by frame. Returns whether it ended
 * inside a frame; sets *raw when it is not multiplexed. */
static bool
fuzz_reference(const unsigned char *p, size_t len, fuzz_out_t *o, bool *raw)
{
    size_t i = 0;

    *raw = false;
    while (i < len) {
        size_t size;

        if (len - i < FUZZ_HEADER)
            return true;
        if (p[i] > 3 || p[i + 1] != 0 || p[i + 2] != 0 || p[i + 3] != 0) {
            *raw = true;
            fuzz_out_add(o, DOCKER_STREAM_STDOUT, (const char *)p + i, len - i);
            return false;
        }
        size = (size_t)p[i + 4] << 24 | (size_t)p[i + 5] << 16 | (size_t)p[i + 6] << 8 | p[i + 7];
        i += FUZZ_HEADER;
        if (size > len - i) {
            fuzz_out_add(o, p[i - FUZZ_HEADER], (const char *)p + i, len - i);
            return true;
        }
        fuzz_out_add(o, p[i - FUZZ_HEADER], (const char *)p + i, size);
        i += size;
    }
    return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_out_t got, want;
    const uint8_t *sizes, *stream;
    size_t k, len, pos = 0, turn = 0, empty = 0;
    bool raw, partial;
    docker_frames_t *f;

    if (size < 1)
        return 0;
    k = data[0] % 8;
    if (size < 1 + k)
        return 0;
    sizes = data + 1;
    stream = data + 1 + k;
    len = size - 1 - k;

    memset(&got, 0, sizeof(got));
    memset(&want, 0, sizeof(want));
    buf_init(&got.bytes);
    buf_init(&got.runs);
    buf_init(&want.bytes);
    buf_init(&want.runs);

    f = docker_frames_new(fuzz_on_payload, &got);
    while (pos < len) {
        size_t n = k ? sizes[turn++ % k] : len;

        if (n > len - pos)
            n = len - pos;
        docker_frames_feed(f, (const char *)stream + pos, n);
        pos += n;
        /* Only empty reads listed: take the rest in one. */
        empty = n == 0 ? empty + 1 : 0;
        if (empty >= k && k > 0) {
            docker_frames_feed(f, (const char *)stream + pos, len - pos);
            pos = len;
        }
        FUZZ_CHECK(!docker_frames_raw(f) || !docker_frames_partial(f),
                   "a raw stream is never partial");
    }

    partial = fuzz_reference(stream, len, &want, &raw);
    FUZZ_CHECK(docker_frames_raw(f) == raw, "raw as the whole stream says");
    FUZZ_CHECK(docker_frames_partial(f) == partial, "partial as the whole stream says");
    FUZZ_CHECK(fuzz_buf_equal(&got.bytes, &want.bytes), "the payload bytes are the frames'");
    FUZZ_CHECK(fuzz_buf_equal(&got.runs, &want.runs), "each payload byte has its frame's stream");
    if (raw) {
        /* Everything from the bad header on is stdout: the last run. */
        const fuzz_run_t *last = (const fuzz_run_t *)(got.runs.data + got.runs.len) - 1;
        FUZZ_CHECK(last->stream == DOCKER_STREAM_STDOUT, "raw output is stdout");
    }

    docker_frames_free(f);
    buf_free(&got.bytes);
    buf_free(&got.runs);
    buf_free(&want.bytes);
    buf_free(&want.runs);
    return 0;
}
