/*
 * sse_reader - an incremental parser of Server-Sent Events streams
 * (text/event-stream, as the HTML standard defines it).
 *
 * Pure: bytes go in as they arrive, split anywhere (inside a line, between
 * CR and LF); each complete event comes out through a callback. Lines end
 * in LF, CRLF or CR; lines starting with ":" are comments; a field's value
 * loses one leading space; several data lines join with "\n"; "id" sets the
 * last event id, which survives events that do not name one.
 */
#ifndef GW_CLI_SSE_READER_H
#define GW_CLI_SSE_READER_H

#include <stddef.h>

#include "util.h"

typedef struct sse_reader sse_reader_t;

/*
 * One event: its type ("message" when the stream named none), its data
 * (NUL-terminated, data_len bytes) and the last event id ("" if none), all
 * borrowed for the call. A non-zero return stops sse_reader_feed, which
 * returns it.
 */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t data_len,
                            const char *id);

/* A new reader calling fn(ctx, ...); free with sse_reader_free. */
sse_reader_t *sse_reader_new(sse_event_fn fn, void *ctx);
void sse_reader_free(sse_reader_t *r);

/* Feed the next bytes. Returns 0, or the first non-zero callback result. */
int sse_reader_feed(sse_reader_t *r, const char *data, size_t len) GW_MUST_CHECK;

/* The last event id seen so far ("" if none), borrowed. */
const char *sse_reader_last_id(const sse_reader_t *r);

#endif
