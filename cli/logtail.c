/*
 * logtail - a job's log to its end, over Server-Sent Events or by polling.
 *
 * The offset of the next unread byte is the only state both ways share: a
 * chunk that starts before it (a resent one) is cut, so nothing is printed
 * twice, and a reconnect asks for the stream from there.
 */
#include "logtail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "sse_reader.h"

/* Reconnects in a row without any progress before giving up. */
#define LOGTAIL_MAX_RETRIES 5

typedef struct {
    const logtail_opts_t *o;
    logtail_result_t *res;
    long long offset; /* the next byte to hand to the sink */
    bool ended;
    bool bad;             /* the stream sent something that is not the API's */
    sse_reader_t *reader; /* of the stream being read */
} logtail_state_t;

void
logtail_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    /* A signal (Ctrl-C) cuts the sleep short; the caller looks at its flag. */
    nanosleep(&ts, NULL);
}

/* A chunk at `at`: hand over the bytes not handed over yet. */
static void
logtail_chunk(logtail_state_t *st, long long at, const char *s, size_t n)
{
    if (at < st->offset) {
        long long skip = st->offset - at;
        if ((size_t)skip >= n)
            return;
        s += skip;
        n -= (size_t)skip;
        at = st->offset;
    }
    if (n > 0)
        st->o->sink(st->o->ctx, s, n);
    st->offset = at + (long long)n;
}

static int
logtail_on_event(void *ctx, const char *event, const char *data, size_t len, const char *id)
{
    logtail_state_t *st = ctx;
    cJSON *o = cJSON_ParseWithLength(data, len);
    const cJSON *v;
    int rc = 0;

    if (strcmp(event, "chunk") == 0) {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "offset");
        v = cJSON_GetObjectItemCaseSensitive(o, "chunk");
        if (!cJSON_IsNumber(at) || !cJSON_IsString(v)) {
            st->bad = true;
            rc = 1;
        } else {
            logtail_chunk(st, (long long)at->valuedouble, v->valuestring, strlen(v->valuestring));
        }
    } else if (strcmp(event, "end") == 0) {
        v = cJSON_GetObjectItemCaseSensitive(o, "status");
        if (cJSON_IsString(v))
            snprintf(st->res->status, sizeof(st->res->status), "%s", v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(o, "exit_code");
        st->res->has_exit_code = cJSON_IsNumber(v);
        if (cJSON_IsNumber(v))
            st->res->exit_code = v->valueint;
        st->ended = true;
        rc = 1; /* everything is there: no need to wait for the close */
    }
    cJSON_Delete(o);
    return rc;
}

static int
logtail_on_bytes(void *ctx, const char *data, size_t len)
{
    logtail_state_t *st = ctx;

    return sse_reader_feed(st->reader, data, len);
}

static void
logtail_on_tick(void *ctx)
{
    logtail_state_t *st = ctx;

    if (st->o->tick != NULL)
        st->o->tick(st->o->ctx);
}

/* A log removed by retention says so (on stderr), instead of being empty. */
static void
logtail_expired(const cJSON *expired)
{
    const cJSON *days = cJSON_GetObjectItemCaseSensitive(expired, "after_days");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(expired, "at");

    if (!cJSON_IsObject(expired))
        return;
    fprintf(stderr, "gitweave: log removed after %d days (%.19s)\n",
            cJSON_IsNumber(days) ? days->valueint : 0, cJSON_IsString(at) ? at->valuestring : "-");
}

/*
 * One JSON page of GET /jobs/{id}/logs: hand over its chunks. Returns the
 * number of chunks, or -1 when it is not such a page; *complete says
 * whether the log is at its end.
 */
static int
logtail_page(logtail_state_t *st, const buf_t *body, bool *complete)
{
    cJSON *o = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    const cJSON *chunks = cJSON_GetObjectItemCaseSensitive(o, "chunks");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *c;
    int n = 0;

    if (!cJSON_IsArray(chunks) || !cJSON_IsString(status)) {
        cJSON_Delete(o);
        return -1;
    }
    cJSON_ArrayForEach(c, chunks)
    {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(c, "offset");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "chunk");
        if (cJSON_IsNumber(at) && cJSON_IsString(s)) {
            logtail_chunk(st, (long long)at->valuedouble, s->valuestring, strlen(s->valuestring));
            n++;
        }
    }
    snprintf(st->res->status, sizeof(st->res->status), "%s", status->valuestring);
    *complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "complete"));
    logtail_expired(cJSON_GetObjectItemCaseSensitive(o, "logs_expired"));
    cJSON_Delete(o);
    return n;
}

int
logtail_job(apiclient_t *api, const char *job_id, const logtail_opts_t *o, logtail_result_t *res)
{
    logtail_state_t st = {.o = o, .res = res};
    char *job = apiclient_escape(api, job_id);
    bool polling = !o->wait;
    int retries = 0, rc = -1;

    memset(res, 0, sizeof(*res));
    while (!st.ended) {
        apiclient_reply_t reply;
        long long before = st.offset;
        char *path = xasprintf("/jobs/%s/logs?offset=%lld", job, st.offset);
        int got;

        apiclient_reply_init(&reply);
        if (polling) {
            got = apiclient_call(api, "GET", path, NULL, NULL, 0, &reply);
        } else {
            st.reader = sse_reader_new(logtail_on_event, &st);
            got = apiclient_stream(api, path, logtail_on_bytes, logtail_on_tick, &st, &reply);
            sse_reader_free(st.reader);
            st.reader = NULL;
        }
        free(path);
        if (got == 0 && reply.streamed) {
            if (st.bad) {
                fprintf(stderr, "gitweave: the API sent a log event that could not be read\n");
                apiclient_reply_free(&reply);
                goto done;
            }
        } else if (got == 0 && reply.status == 200) {
            bool complete = false;
            int n = logtail_page(&st, &reply.body, &complete);
            if (n < 0) {
                fprintf(stderr, "gitweave: the API's reply for job %s could not be read\n", job_id);
                apiclient_reply_free(&reply);
                goto done;
            }
            /* An API without event streams answers pages: read those from now on. */
            polling = true;
            st.ended = complete || (!o->wait && n == 0);
            if (!st.ended && n == 0) {
                if (o->tick != NULL)
                    o->tick(o->ctx);
                logtail_sleep_ms(LOGTAIL_POLL_MS);
            }
        } else if (got == 0 || apiclient_interrupted(api)) {
            apiclient_print_failure(api, got, &reply);
            apiclient_reply_free(&reply);
            goto done;
        }
        apiclient_reply_free(&reply);
        if (got < 0 || (reply.streamed && !st.ended)) {
            /* The stream broke off: resume where it stopped, unless it keeps failing. */
            retries = st.offset > before ? 0 : retries + 1;
            if (retries > LOGTAIL_MAX_RETRIES) {
                fprintf(stderr, "gitweave: lost the log stream of job %s: %s\n", job_id,
                        got < 0 ? apiclient_error(api) : "closed before its end");
                goto done;
            }
            logtail_sleep_ms(LOGTAIL_POLL_MS * retries);
        }
        if (apiclient_interrupted(api))
            goto done;
    }
    res->next_offset = st.offset;
    rc = 0;
done:
    free(job);
    return rc;
}
