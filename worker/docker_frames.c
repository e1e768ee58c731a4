/*
 * docker_frames - split the Docker Engine's multiplexed stream into the
 * payloads of its frames, as they arrive.
 */
#include "docker_frames.h"

#include "util.h"

#include <stdint.h>
#include <stdlib.h>

#define DOCKER_FRAME_HEADER 8

struct docker_frames {
    docker_frames_fn fn;
    void *arg;
    unsigned char header[DOCKER_FRAME_HEADER];
    size_t header_len; /* bytes of the next header seen so far */
    size_t remaining;  /* payload bytes of the current frame still to come */
    int stream;        /* stream of the current frame */
    bool raw;
};

docker_frames_t *
docker_frames_new(docker_frames_fn fn, void *arg)
{
    docker_frames_t *f = xcalloc(1, sizeof(*f));

    f->fn = fn;
    f->arg = arg;
    return f;
}

void
docker_frames_free(docker_frames_t *f)
{
    free(f);
}

static bool
docker_frames_header_valid(const unsigned char *h)
{
    return h[0] <= DOCKER_STREAM_SYSTEM && h[1] == 0 && h[2] == 0 && h[3] == 0;
}

void
docker_frames_feed(docker_frames_t *f, const char *data, size_t len)
{
    while (len > 0) {
        if (f->raw) {
            f->fn(f->arg, DOCKER_STREAM_STDOUT, data, len);
            return;
        }
        if (f->remaining > 0) {
            size_t n = len < f->remaining ? len : f->remaining;
            f->fn(f->arg, f->stream, data, n);
            f->remaining -= n;
            data += n;
            len -= n;
            continue;
        }

        size_t n = DOCKER_FRAME_HEADER - f->header_len;
        if (n > len)
            n = len;
        for (size_t i = 0; i < n; i++)
            f->header[f->header_len + i] = (unsigned char)data[i];
        f->header_len += n;
        data += n;
        len -= n;
        if (f->header_len < DOCKER_FRAME_HEADER)
            return;

        f->header_len = 0;
        if (!docker_frames_header_valid(f->header)) {
            /* Not a multiplexed stream: hand on what was taken for a header
             * and, through the loop, everything after it. */
            f->raw = true;
            f->fn(f->arg, DOCKER_STREAM_STDOUT, (const char *)f->header, DOCKER_FRAME_HEADER);
            continue;
        }
        f->stream = f->header[0];
        f->remaining = (size_t)f->header[4] << 24 | (size_t)f->header[5] << 16 |
                       (size_t)f->header[6] << 8 | (size_t)f->header[7];
    }
}

bool
docker_frames_raw(const docker_frames_t *f)
{
    return f->raw;
}

bool
docker_frames_partial(const docker_frames_t *f)
{
    return !f->raw && (f->header_len > 0 || f->remaining > 0);
}
