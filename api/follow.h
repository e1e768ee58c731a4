/*
 * follow - live streams: a job's log as Server-Sent Events (and as plain
 * text), and the stream of run and job status changes.
 *
 * follow.c listens for the notifications that feed them and catches up
 * after an outage; follow_logs.c holds the log followers, grouped by job
 * (how a chunk reaches each once, in order); follow_events.c the event
 * subscribers. See docs/api.md for the formats.
 */
#ifndef GW_API_FOLLOW_H
#define GW_API_FOLLOW_H

#include <event2/event.h>
#include <stdbool.h>

#include "config.h"
#include "dbconn.h"
#include "http.h"

typedef struct follow follow_t;

/*
 * Start listening (in the background, reconnecting as needed) on base.
 * cfg and db are borrowed and must outlive the result. Never returns NULL;
 * free with follow_free (NULL is a no-op) after db: statements of db still
 * waiting fail first, then every open stream is closed.
 */
follow_t *follow_new(struct event_base *base, const gw_config_t *cfg, dbconn_t *db);
void follow_free(follow_t *f);

/* GET /jobs/{job}/logs as events: r->params[0] is the job, from byte
 * offset on. Replies 404 if there is no such job. */
void follow_logs(http_req_t *r, long long offset);
/* GET /jobs/{job}/logs.txt: the log as text from byte offset on. */
void follow_logs_text(http_req_t *r, long long offset);

/*
 * How many bytes of a chunk stored at byte offset `at` (len bytes) precede
 * byte offset `from`, moved back to the first byte of the UTF-8 character
 * that holds `from`: a read from `from` sends the chunk from there. 0 when
 * the chunk starts at or after `from`.
 */
size_t follow_chunk_skip(long long at, const char *chunk, size_t len, long long from);
/* GET /events: every status change, filtered by ?repo= and ?run=. */
void follow_events(http_req_t *r);
/* GET /pipelines/runs/{run}/events: one run's changes until its final
 * status. */
void follow_run_events(http_req_t *r);

#endif
