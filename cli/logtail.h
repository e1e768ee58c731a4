/*
 * logtail - reading a job's log to its end as it is written.
 *
 * Asks the API for a Server-Sent Events stream (GET /jobs/{id}/logs with
 * Accept: text/event-stream, resuming at the next unread offset after a
 * broken connection). An API that answers with a JSON page instead is read
 * page by page (?offset=), every LOGTAIL_POLL_MS while nothing new comes.
 * Either way each byte of the log reaches the sink once, in order.
 */
#ifndef GW_CLI_LOGTAIL_H
#define GW_CLI_LOGTAIL_H

#include <stdbool.h>

#include "apiclient.h"

#define LOGTAIL_POLL_MS 250

/* Where the log's bytes go (len > 0), in order. */
typedef void (*logtail_sink_fn)(void *ctx, const char *data, size_t len);

/* Called between polls and on stream activity: a chance to draw a spinner. */
typedef void (*logtail_tick_fn)(void *ctx);

typedef struct {
    logtail_sink_fn sink;
    logtail_tick_fn tick; /* or NULL */
    void *ctx;
    bool wait; /* false: stop at the end of what is stored now (no follow) */
} logtail_opts_t;

/* What a followed job ended as. */
typedef struct {
    char status[16]; /* the job's status when the log ended */
    long long next_offset;
    bool has_exit_code; /* the stream's end said an exit code (pages say none) */
    int exit_code;
} logtail_result_t;

/*
 * Read job_id's log from offset 0 to its end (the job is final and every
 * chunk was read), or with !o->wait to the end of what is stored now.
 * Returns 0, or -1 after printing why to stderr (network, API error, or
 * an interrupt: apiclient_interrupted).
 */
int logtail_job(apiclient_t *api, const char *job_id, const logtail_opts_t *o,
                logtail_result_t *res) GW_MUST_CHECK;

/* Sleep ms milliseconds (less if a signal comes). */
void logtail_sleep_ms(long ms);

#endif
