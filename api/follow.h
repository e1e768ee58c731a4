/*
 * follow - live streams: a job's log as Server-Sent Events (and as plain
 * text), and the stream of run and job status changes.
 *
 * One dedicated connection LISTENs on gitweave_logs (one notification per
 * job per statement that stored chunks, from a trigger) and
 * gitweave_events (status changes). The followers of one job share a
 * topic: a notification makes the topic read the new range once, encode
 * each chunk once, and write it to every follower. A new follower joins
 * the topic first, then reads its history on its own, then goes live;
 * chunks are deduplicated by offset, so none is lost or sent twice
 * whichever comes first. The job's final status (from gitweave_events, or
 * seen in a read) ends every follower with an `end` event once all chunks
 * are sent. After the listening connection comes back from an outage,
 * every topic reads again, so a notification lost meanwhile costs a read,
 * not a chunk. See docs/api.md for the formats.
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
