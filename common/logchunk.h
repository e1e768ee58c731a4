/*
 * logchunk - cuts a job's output into chunks for storage.
 *
 * Bytes go in as the job produces them; chunks come out through a callback,
 * cut at a size bound or a time bound, whichever comes first, so that live
 * readers see a slow job's line within max_delay_ms while Postgres sees few,
 * large inserts. Every emitted chunk is valid UTF-8: NUL bytes and invalid
 * sequences are replaced by U+FFFD, and a multi-byte sequence is never split
 * between two chunks. Offsets are byte offsets of the stored (sanitised) text:
 * the first chunk starts at 0 and each next chunk starts where the last one
 * ended. Past `cap` stored bytes nothing more is stored except one marker line
 * saying so; logchunk_finish adds a line with the number of bytes dropped.
 *
 * The module has no clock and no I/O of its own: callers pass the time, which
 * makes it testable and keeps it off the event loop's back.
 */
#ifndef GW_LOGCHUNK_H
#define GW_LOGCHUNK_H

#include <stddef.h>
#include <stdint.h>

typedef struct logchunk logchunk_t;

/* Called for each chunk; data is borrowed for the duration of the call,
 * valid UTF-8 with no NUL, len > 0. */
typedef void (*logchunk_emit_fn)(void *arg, int64_t offset, const char *data, size_t len);

/* max_chunk: size bound in bytes (> 0); max_delay_ms: time bound; cap: the
 * most bytes of output stored for the job (0 = no cap). Free with
 * logchunk_free. */
logchunk_t *logchunk_new(size_t max_chunk, int max_delay_ms, size_t cap, logchunk_emit_fn emit,
                         void *arg);
void logchunk_free(logchunk_t *lc);

/* Add output produced at now_ms; emits every full chunk at once. */
void logchunk_write(logchunk_t *lc, const char *data, size_t len, int64_t now_ms);
/* Emit what is pending if its oldest byte is max_delay_ms old at now_ms. */
void logchunk_tick(logchunk_t *lc, int64_t now_ms);
/* Emit what is pending now, whatever its age (a held incomplete sequence
 * stays held): for output a reader waits for, such as a log's first line. */
void logchunk_cut(logchunk_t *lc);
/* The time at which logchunk_tick must next be called, or -1 when nothing is
 * pending. */
int64_t logchunk_deadline(const logchunk_t *lc);
/* Emit everything that is pending (an incomplete trailing UTF-8 sequence is
 * replaced) and, when the cap dropped output, the line saying how much. */
void logchunk_finish(logchunk_t *lc);

/* Bytes stored so far (the offset of the next chunk). */
int64_t logchunk_stored(const logchunk_t *lc);
/* Bytes of output dropped by the cap so far. */
int64_t logchunk_dropped(const logchunk_t *lc);

#endif
