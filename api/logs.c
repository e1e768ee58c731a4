/*
 * logs - reading a job's log a page at a time, by byte offset.
 *
 * A page holds the chunks from `offset` on until about `limit` bytes (at
 * least one chunk if there is any), cut short where its chunks take
 * LOGS_PAGE_MAX bytes of JSON; next_offset is where the next page starts. An offset inside a chunk
 * gives the rest of that chunk first, from the start of the UTF-8 character that holds the offset.
 * complete says that nothing more will come: the job is final and no chunk follows. The job's
 * status and its chunks come from one statement (one snapshot): a worker writes the last chunk
 * before the final status, so a final status means every chunk is there.
 *
 * The same resource follows the log live as Server-Sent Events (Accept:
 * text/event-stream, or ?follow=true; resuming from Last-Event-ID) or
 * gives it whole as text (Accept: text/plain, or logs.txt): follow_logs.c.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow.h"
#include "handlers.h"
#include "queries.h"
#include "status.h"

#define LOGS_LIMIT_DEFAULT 1048576
#define LOGS_LIMIT_MAX (8 * 1048576)
/* The most bytes of chunk JSON one page holds (one character more when a
 * single character does not fit): a control byte takes six in JSON, so a
 * page is cut by what it takes in JSON, not by what it holds. */
#define LOGS_PAGE_MAX 262144

static void
logs_get_done(http_req_t *r, const PGresult *res, void *ctx)
{
    long long offset = *(long long *)ctx, next, total;
    const char *status;
    bool final, cut = false;
    int st, n;
    size_t start;
    buf_t b;

    free(ctx);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "job not found", "there is no job with id %s", r->params[0]);
        return;
    }
    status = PQgetvalue(res, 0, 0);
    st = status_parse(ST_KIND_JOB, status);
    final = st >= 0 && status_is_final((gw_status_t)st);
    n = follow_page_count(res, &total);
    next = offset;
    /* The job id is a UUID and the status a word: neither needs escaping. */
    buf_init(&b);
    buf_printf(&b, "{\"job_id\":\"%s\",\"status\":\"%s\",\"chunks\":[", r->params[0], status);
    start = b.len;
    for (int i = 0; i < n && !cut; i++) {
        long long at;
        size_t len, used, took;
        const char *text = follow_page_chunk(res, i, offset, &at, &len);

        used = b.len - start;
        if (i > 0 && used >= LOGS_PAGE_MAX) {
            cut = true;
            break;
        }
        buf_printf(&b, "%s{\"offset\":%lld,\"chunk\":\"", i > 0 ? "," : "", at);
        used = b.len - start;
        took = follow_json_text(&b, text, len, used < LOGS_PAGE_MAX ? LOGS_PAGE_MAX - used : 0);
        buf_puts(&b, "\"}");
        next = at + (long long)took;
        cut = took < len;
    }
    buf_printf(&b, "],\"next_offset\":%lld,\"complete\":%s", next,
               final && !cut && total <= n ? "true" : "false");
    /* Removed by retention: what the log was, instead of an empty page (the
     * database's own JSON, {at, after_days}). */
    buf_printf(&b, ",\"logs_expired\":%s}",
               PQgetisnull(res, 0, 6) ? "null" : PQgetvalue(res, 0, 6));
    http_reply_raw(r, 200, "application/json", b.data, b.len);
    buf_free(&b);
}

/* Whether the Accept header names media type (a plain substring test:
 * clients send one type here, and no type contains another). */
static bool
logs_accepts(http_req_t *r, const char *type)
{
    const char *accept = http_header(r, "Accept");
    return accept != NULL && strstr(accept, type) != NULL;
}

void
logs_get(http_req_t *r)
{
    const char *offset_s = request_query_get(&r->query, "offset");
    const char *limit_s = request_query_get(&r->query, "limit");
    const char *follow_s = request_query_get(&r->query, "follow");
    const char *last_id = http_header(r, "Last-Event-ID");
    long long offset = 0, limit = LOGS_LIMIT_DEFAULT;
    char offset_p[24], limit_p[24];
    long long *ctx;
    bool follow;

    if (follow_s != NULL && strcmp(follow_s, "true") != 0 && strcmp(follow_s, "false") != 0) {
        http_reply_error(r, 400, "invalid follow", "follow is true or false");
        return;
    }
    follow = (follow_s != NULL && strcmp(follow_s, "true") == 0) ||
             (follow_s == NULL && logs_accepts(r, "text/event-stream"));
    if (offset_s != NULL && request_parse_int(offset_s, 0, 2147483647LL, &offset) < 0) {
        http_reply_error(r, 400, "invalid offset", "offset is a byte offset (an integer >= 0)");
        return;
    }
    if (follow) {
        /* A reconnecting EventSource sends the id of the last event it
         * got, with the URL it first used: the id wins. */
        if (last_id != NULL && request_parse_int(last_id, 0, 2147483647LL, &offset) < 0) {
            http_reply_error(r, 400, "invalid Last-Event-ID",
                             "Last-Event-ID is the id of a chunk event (a byte offset >= 0)");
            return;
        }
        follow_logs(r, offset);
        return;
    }
    if (offset_s == NULL && limit_s == NULL && logs_accepts(r, "text/plain") &&
        !logs_accepts(r, "application/json")) {
        follow_logs_text(r, 0);
        return;
    }
    if (limit_s != NULL && request_parse_int(limit_s, 1, LOGS_LIMIT_MAX, &limit) < 0) {
        http_reply_error(r, 400, "invalid limit", "limit is a number of bytes from 1 to %d",
                         LOGS_LIMIT_MAX);
        return;
    }
    snprintf(offset_p, sizeof(offset_p), "%lld", offset);
    /* More than a page's JSON holds is never read: each byte takes one at least. */
    snprintf(limit_p, sizeof(limit_p), "%lld", limit < LOGS_PAGE_MAX ? limit : LOGS_PAGE_MAX);
    const char *params[] = {r->params[0], offset_p, limit_p};
    ctx = xmalloc(sizeof(*ctx));
    *ctx = offset;
    http_db_async(r, "read logs", STMT_LOGS_PAGE, 3, params, logs_get_done, ctx);
}

void
logs_text(http_req_t *r)
{
    const char *offset_s = request_query_get(&r->query, "offset");
    long long offset = 0;

    if (offset_s != NULL && request_parse_int(offset_s, 0, 2147483647LL, &offset) < 0) {
        http_reply_error(r, 400, "invalid offset", "offset is a byte offset (an integer >= 0)");
        return;
    }
    follow_logs_text(r, offset);
}
