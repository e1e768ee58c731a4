/*
 * follow - live streams: a job's log as Server-Sent Events (and as plain
 * text), and the stream of run and job status changes.
 *
 * follow.c listens for the notifications that feed them and catches up
 * after an outage; follow_logs.c holds the log followers, grouped by job
 * (how a chunk reaches each once, in order); follow_events.c the event
 * subscribers. See docs/streams.md for the formats.
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

/*
 * A page of SQL_LOGS_PAGE (res has a row): returns how many chunks it
 * holds, and sets *total to how many the log has from the page's offset on
 * (more than it holds: more follow).
 */
int follow_page_count(const PGresult *res, long long *total);
/*
 * Chunk i of a page from byte `from` on (the chunk that holds `from` is cut
 * there, as follow_chunk_skip says): returns its text (borrowed from res),
 * and sets *at to its offset and *len to its length (> 0).
 */
const char *follow_page_chunk(const PGresult *res, int i, long long from, long long *at,
                              size_t *len);

/*
 * Append to out (NULL: only count) the JSON string text, quotes left out,
 * of the longest run of whole UTF-8 characters of text (len bytes) that
 * takes at most room bytes of JSON, and of one character at least; control
 * characters, quote and backslash are escaped, the rest is copied. Returns
 * how many bytes of text that is.
 */
size_t follow_json_text(buf_t *out, const char *text, size_t len, size_t room);
/* GET /events: every status change, filtered by ?repo= and ?run=. */
void follow_events(http_req_t *r);
/* GET /pipelines/runs/{run}/events: one run's changes until its final
 * status. */
void follow_run_events(http_req_t *r);

#endif
