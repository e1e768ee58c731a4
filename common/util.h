/*
 * util - allocation wrappers and a growable byte buffer.
 *
 * Out-of-memory aborts here, in one place, so callers never check the
 * result of an allocation.
 */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_MUST_CHECK __attribute__((warn_unused_result))
#define GW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate or abort; the caller frees with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) GW_PRINTF(1, 2);

/* A growable, always NUL-terminated byte buffer. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);
void buf_append(buf_t *b, const void *data, size_t len);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) GW_PRINTF(2, 3);
/* Drop the first n bytes. */
void buf_consume(buf_t *b, size_t n);
/* Hand the contents to the caller (who frees them) and reset the buffer. */
char *buf_steal(buf_t *b);

/* Milliseconds of a monotonic clock. */
int64_t gw_now_ms(void);

/* Whether s is a valid name for a repo, template or runner:
 * [A-Za-z0-9][A-Za-z0-9._-]{0,99}. Such a name is safe in a path. */
bool gw_name_valid(const char *s);
/* Whether s is a runner label: a name, or name=name (RUNNER_LABELS, a
 * template's runs-on). Such a label needs no quoting in SQL array
 * literals or metric label values. */
bool gw_label_valid(const char *s);
/* Whether s is a canonical textual UUID (36 chars, hex and dashes). */
bool gw_uuid_valid(const char *s);
/* A new random UUID in its textual form, written to out[37]. */
void gw_uuid_new(char out[37]);

#endif
