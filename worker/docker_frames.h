/*
 * docker_frames - demultiplexer for the Docker Engine's multiplexed stream.
 *
 * A container without a TTY has its output sent (by /containers/{id}/logs and
 * /attach) as frames: an 8-byte header [stream, 0, 0, 0, size as big-endian
 * uint32] followed by size bytes of payload, where stream is 0 (stdin),
 * 1 (stdout), 2 (stderr) or 3 (an error of the engine itself). Frames arrive
 * split across reads or several in one read; the demultiplexer keeps the
 * header bytes it has seen and hands the payload on as it comes, without
 * copying or waiting for the whole frame.
 *
 * A header that cannot be one (unknown stream, non-zero padding) means the
 * stream is not multiplexed after all; from there on everything, including
 * the bytes of that header, is delivered as stdout and docker_frames_raw()
 * tells so.
 */
#ifndef GW_DOCKER_FRAMES_H
#define GW_DOCKER_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#define DOCKER_STREAM_STDIN 0
#define DOCKER_STREAM_STDOUT 1
#define DOCKER_STREAM_STDERR 2
#define DOCKER_STREAM_SYSTEM 3

/* Payload of a frame, or a piece of it; data is borrowed for the call and
 * len is never 0. */
typedef void (*docker_frames_fn)(void *arg, int stream, const char *data, size_t len);

typedef struct docker_frames docker_frames_t;

/* A demultiplexer that hands payload to fn(arg, ...). Free with
 * docker_frames_free. */
docker_frames_t *docker_frames_new(docker_frames_fn fn, void *arg);
/* docker_frames_free(NULL) is a no-op. */
void docker_frames_free(docker_frames_t *f);
/* Feed the next len bytes of the stream; fn is called zero or more times
 * from inside, in stream order. */
void docker_frames_feed(docker_frames_t *f, const char *data, size_t len);
/* Whether the stream turned out not to be multiplexed (see above). */
bool docker_frames_raw(const docker_frames_t *f);
/* Whether the stream stopped inside a frame: a header or payload is
 * incomplete, so the end of the output was lost. */
bool docker_frames_partial(const docker_frames_t *f);

#endif
