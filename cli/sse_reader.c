/*
 * sse_reader - an incremental Server-Sent Events parser.
 *
 * The bytes of an unfinished line wait in `line`; fields of the event being
 * read wait in `event` and `data` until an empty line dispatches it.
 */
#include "sse_reader.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sse_reader {
    sse_event_fn fn;
    void *ctx;
    buf_t line;  /* the current line, without its end */
    buf_t event; /* the "event" field of the event being read */
    buf_t data;  /* its data lines, each followed by "\n" */
    buf_t id;    /* the last event id */
    bool has_data;
    bool after_cr;    /* the last byte was a CR: a following LF belongs to it */
    bool bom_checked; /* a UTF-8 byte order mark may open the stream */
};

sse_reader_t *
sse_reader_new(sse_event_fn fn, void *ctx)
{
    sse_reader_t *r = xcalloc(1, sizeof(*r));

    r->fn = fn;
    r->ctx = ctx;
    buf_init(&r->line);
    buf_init(&r->event);
    buf_init(&r->data);
    buf_init(&r->id);
    return r;
}

void
sse_reader_free(sse_reader_t *r)
{
    if (r == NULL)
        return;
    buf_free(&r->line);
    buf_free(&r->event);
    buf_free(&r->data);
    buf_free(&r->id);
    free(r);
}

const char *
sse_reader_last_id(const sse_reader_t *r)
{
    return r->id.data ? r->id.data : "";
}

/* An empty line: hand over the event read so far, if it has data. */
static int
sse_reader_dispatch(sse_reader_t *r)
{
    int rc = 0;

    if (r->has_data) {
        /* The last data line's "\n" is not part of the data. */
        size_t n = r->data.len - 1;
        r->data.data[n] = '\0';
        rc = r->fn(r->ctx, r->event.len ? r->event.data : "message", r->data.data, n,
                   sse_reader_last_id(r));
    }
    buf_reset(&r->event);
    buf_reset(&r->data);
    r->has_data = false;
    return rc;
}

/* One complete line (in r->line). */
static int
sse_reader_line(sse_reader_t *r)
{
    const char *s = r->line.data ? r->line.data : "";
    size_t n = r->line.len, flen;
    const char *colon, *v;
    size_t vlen;

    if (n == 0)
        return sse_reader_dispatch(r);
    if (s[0] == ':')
        return 0;
    colon = memchr(s, ':', n);
    flen = colon ? (size_t)(colon - s) : n;
    v = colon ? colon + 1 : s + n;
    vlen = n - (size_t)(v - s);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 5 && memcmp(s, "event", 5) == 0) {
        buf_reset(&r->event);
        buf_append(&r->event, v, vlen);
    } else if (flen == 4 && memcmp(s, "data", 4) == 0) {
        buf_append(&r->data, v, vlen);
        buf_append(&r->data, "\n", 1);
        r->has_data = true;
    } else if (flen == 2 && memcmp(s, "id", 2) == 0 && memchr(v, '\0', vlen) == NULL) {
        buf_reset(&r->id);
        buf_append(&r->id, v, vlen);
    }
    /* "retry" and unknown fields are ignored: the client reconnects itself. */
    return 0;
}

int
sse_reader_feed(sse_reader_t *r, const char *data, size_t len)
{
    size_t i = 0;

    if (!r->bom_checked && len > 0) {
        /* The mark may arrive split; only a whole one at the start is dropped. */
        static const char bom[] = "\xEF\xBB\xBF";
        size_t have = r->line.len;
        while (have < 3 && i < len && data[i] == bom[have]) {
            buf_append(&r->line, &data[i++], 1);
            have++;
        }
        if (have == 3) {
            buf_reset(&r->line);
            r->bom_checked = true;
        } else if (i < len) {
            r->bom_checked = true; /* what was held back is an ordinary line start */
        } else {
            return 0;
        }
    }
    while (i < len) {
        const char *start = data + i;
        size_t rest = len - i, k = 0;
        int rc;

        if (r->after_cr) {
            r->after_cr = false;
            if (start[0] == '\n') {
                i++;
                continue;
            }
        }
        while (k < rest && start[k] != '\n' && start[k] != '\r')
            k++;
        buf_append(&r->line, start, k);
        i += k;
        if (k == rest)
            break; /* the line goes on in the next feed */
        r->after_cr = start[k] == '\r';
        i++;
        rc = sse_reader_line(r);
        buf_reset(&r->line);
        if (rc != 0)
            return rc;
    }
    return 0;
}
