/*
 * steps - the script of visible steps and the tracker of the step running
 * (see steps.h).
 */
#include "steps.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

/* How much of a step's first line an error quotes. */
#define STEPS_QUOTE_MAX 200
/* How much of a step its echo shows: the script holds each step twice (its
 * echo, then the step), and the whole script is one argument of sh -c,
 * which Linux caps at 128 KiB; a longer step's echo ends with "> ...". */
#define STEPS_ECHO_MAX 1024

struct steps {
    char *const *lines;
    size_t n;
    int cur;    /* the step whose echo came last, -1 before the first */
    buf_t tail; /* the end of the current output line (at least the echo's length) */
};

/* Length of the first line of s. */
static size_t
steps_first_line_len(const char *s)
{
    return strcspn(s, "\n");
}

/* How many bytes of an entry of len bytes its echo shows. */
static size_t
steps_shown(const char *entry, size_t len)
{
    return len <= STEPS_ECHO_MAX ? len : utf8_cut(entry, STEPS_ECHO_MAX);
}

/* How many bytes of the entry's first line its echo's first line shows. */
static size_t
steps_echo_first_len(const char *entry)
{
    size_t len = strlen(entry);
    size_t first = steps_first_line_len(entry);

    if (len > 0 && entry[len - 1] == '\n')
        len--;
    size_t shown = steps_shown(entry, len);
    return first < shown ? first : shown;
}

/* Append s single-quoted for the shell: every byte literal, a quote as
 * '\''. */
static void
steps_quote(buf_t *b, const char *s, size_t len)
{
    buf_puts(b, "'");
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'')
            buf_puts(b, "'\\''");
        else
            buf_append(b, &s[i], 1);
    }
    buf_puts(b, "'");
}

/* The echo of one entry: "$ " before its first line, "> " before the
 * others; a final newline of the entry adds no empty line. */
static void
steps_echo(buf_t *b, const char *entry)
{
    buf_t text;
    size_t len = strlen(entry), shown;

    if (len > 0 && entry[len - 1] == '\n')
        len--;
    shown = steps_shown(entry, len);
    buf_init(&text);
    buf_puts(&text, "$ ");
    for (size_t i = 0; i < shown; i++) {
        buf_append(&text, &entry[i], 1);
        if (entry[i] == '\n')
            buf_puts(&text, "> ");
    }
    if (shown < len)
        buf_puts(&text, shown > 0 && entry[shown - 1] == '\n' ? "..." : "\n> ...");
    buf_puts(b, "printf '%s\\n' ");
    steps_quote(b, text.data, text.len);
    buf_puts(b, "\n");
    buf_free(&text);
}

char *
steps_script(char *const *lines, size_t n)
{
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        steps_echo(&b, lines[i]);
        /* The entry as written; a newline ends it whatever it ends with,
         * as the old joined script did, so that a here-document's
         * terminator stays on a line of its own. */
        buf_puts(&b, lines[i]);
        buf_puts(&b, "\n");
    }
    return buf_steal(&b);
}

steps_t *
steps_new(char *const *lines, size_t n)
{
    steps_t *s = xcalloc(1, sizeof(*s));

    s->lines = lines;
    s->n = n;
    s->cur = -1;
    buf_init(&s->tail);
    return s;
}

void
steps_free(steps_t *s)
{
    if (s == NULL)
        return;
    buf_free(&s->tail);
    free(s);
}

/* Whether the output line in s->tail ends with the next step's echo: a
 * step that printed no final newline leaves the echo after its output. */
static bool
steps_line_is_echo(const steps_t *s)
{
    const char *line = s->lines[s->cur + 1];
    size_t len = steps_echo_first_len(line);
    const char *t = s->tail.data;

    if (s->tail.len < len + 2)
        return false;
    t += s->tail.len - len - 2;
    return t[0] == '$' && t[1] == ' ' && memcmp(t + 2, line, len) == 0;
}

void
steps_feed(steps_t *s, const char *data, size_t len)
{
    while (len > 0 && (size_t)(s->cur + 1) < s->n) {
        const char *nl = memchr(data, '\n', len);
        size_t piece = nl != NULL ? (size_t)(nl - data) : len;
        size_t keep = 2 + steps_echo_first_len(s->lines[s->cur + 1]);

        buf_append(&s->tail, data, piece);
        /* Only the end of a line can be the echo: keep no more than twice
         * its length, so that a long line costs no memory. */
        if (s->tail.len > 2 * keep)
            buf_consume(&s->tail, s->tail.len - keep);
        if (nl == NULL)
            return;
        if (steps_line_is_echo(s))
            s->cur++;
        buf_reset(&s->tail);
        data += piece + 1;
        len -= piece + 1;
    }
}

int
steps_current(const steps_t *s)
{
    return s->cur;
}

char *
steps_error(const steps_t *s, int exit_code)
{
    const char *line;
    size_t len, cut;

    if (s == NULL || s->cur < 0)
        return xasprintf("exited with code %d", exit_code);
    line = s->lines[s->cur];
    len = steps_first_line_len(line);
    cut = utf8_cut(line, len < STEPS_QUOTE_MAX ? len : STEPS_QUOTE_MAX);
    /* "More" when cut short or when further lines follow (a final newline
     * alone is not one). */
    bool more = cut < len || (line[len] == '\n' && line[len + 1] != '\0');
    return xasprintf("line %d \"%.*s%s\" exited with code %d", s->cur + 1, (int)cut, line,
                     more ? " ..." : "", exit_code);
}
