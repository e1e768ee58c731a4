/*
 * log_sink - a job's output on its way into the logs table.
 *
 * Output goes through the chunker (logchunk.h); finished chunks wait in a
 * queue until they are stored, so that a dropped database connection loses
 * nothing: log_sink_flush sends the chunks not yet sent, and one whose
 * insert fails is sent again by the next flush (inserts are idempotent).
 * While the job runs, at most LOG_SINK_INFLIGHT inserts are in flight (an
 * answered one sends the next), so a job printing without end does not
 * queue megabytes ahead of the runner's heartbeat on the same connection;
 * once the sink is finished every chunk goes, so the inserts go on the
 * run's connection ahead of the job's end and are answered before it.
 *
 * A sink freed while inserts are in flight is released when the last one
 * is answered (the one deferred free of the worker's statements).
 */
#ifndef GW_LOG_SINK_H
#define GW_LOG_SINK_H

/* Inserts of a running job's log in flight at once. */
#define LOG_SINK_INFLIGHT 4

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

typedef struct log_sink log_sink_t;

/* A sink for one job; the fence is copied. Free with log_sink_free. */
log_sink_t *log_sink_new(const q_fence_t *fence, const char *job_id, size_t max_chunk,
                         int max_delay_ms, size_t cap);
void log_sink_free(log_sink_t *s);

/* Mask value (and its forms, secret_mask.h) in everything written from now
 * on: it goes through the masker before the chunker, which holds back only
 * what could be the start of a value. Returns -1 when the value is too
 * short to mask. */
int log_sink_mask(log_sink_t *s, const char *value, size_t len) GW_MUST_CHECK;
/* Output of the job (or a line of the runner's own about the job). */
void log_sink_write(log_sink_t *s, const char *data, size_t len);
/* printf-style line of the runner's own, e.g. "[gitweave] timed out". */
void log_sink_notef(log_sink_t *s, const char *fmt, ...) GW_PRINTF(2, 3);
/* Cut what is pending into a chunk now, whatever the time bound says (what
 * the masker holds back stays: never a finished line). */
void log_sink_cut(log_sink_t *s);
/* Cut what is pending by at_ms (monotonic) at the latest, sooner than the
 * time bound: from then on, until a cut, whatever is written is cut at
 * once. An earlier deadline set before wins. */
void log_sink_cut_by(log_sink_t *s, int64_t at_ms);
/* Cut a chunk if the time bound, or log_sink_cut_by's deadline, says so. */
void log_sink_tick(log_sink_t *s);
/* When log_sink_tick must next run (monotonic ms), or -1. */
int64_t log_sink_deadline(const log_sink_t *s);
/* The job is over: cut everything that is pending. */
void log_sink_finish(log_sink_t *s);
/* Send the chunks not sent yet, in order, on c (when it is down they wait
 * for the next flush): up to LOG_SINK_INFLIGHT in flight until the sink is
 * finished, every one after. */
void log_sink_flush(log_sink_t *s, pg_conn_t *c);
/* The last chunk of a finished log, when it alone is left to store and
 * has not been sent: it goes with the job's end (q_run_marks_t), which
 * stores it in the same statement, and no flush sends it until
 * log_sink_carried says how that went. The same chunk until then; NULL
 * when there is none. Sets *offset; the text is the sink's. */
const char *log_sink_take_last(log_sink_t *s, int64_t *offset);
/* The answer to the end that carried the last chunk: stored, or to be sent
 * by the next flush on its own (a failure, a lost connection). */
void log_sink_carried(log_sink_t *s, bool stored);
/* Whether a chunk is not stored yet (queued, in flight, or failed). */
bool log_sink_pending(const log_sink_t *s);

#endif
