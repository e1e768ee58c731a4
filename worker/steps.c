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

/* The longest report line kept: a step number. */
#define STEPS_REPORT_MAX 16

struct steps {
    char *const *lines;
    size_t n;
    int cur;                         /* the step reported last, -1 before the first */
    char line[STEPS_REPORT_MAX + 1]; /* the report line read so far */
    size_t len;                      /* its length; > STEPS_REPORT_MAX: too long, ignored */
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
        buf_printf(&b, "echo %zu >&3\n", i + 1);
        /* The entry as written, in a group without descriptor 3 (":" so
         * that an empty entry is a group still). A newline ends it
         * whatever it ends with, so that a here-document's terminator
         * stays on a line of its own. */
        buf_puts(&b, "{ :\n");
        buf_puts(&b, lines[i]);
        buf_puts(&b, "\n} 3>&-\n");
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
    return s;
}

void
steps_free(steps_t *s)
{
    if (s == NULL)
        return;
    free(s);
}

/* One report line: the next step's number moves the tracker. */
static void
steps_report(steps_t *s)
{
    size_t want = (size_t)(s->cur + 2);
    size_t got = 0;

    /* As the script writes it: digits, no leading zero. */
    if (s->len == 0 || s->len > STEPS_REPORT_MAX || s->line[0] == '0')
        return;
    for (size_t i = 0; i < s->len; i++) {
        if (s->line[i] < '0' || s->line[i] > '9')
            return;
        got = got * 10 + (size_t)(s->line[i] - '0');
    }
    if (got == want && want <= s->n)
        s->cur++;
}

void
steps_feed(steps_t *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            steps_report(s);
            s->len = 0;
        } else if (s->len <= STEPS_REPORT_MAX) {
            /* One byte past the most marks the line as too long. */
            s->line[s->len < STEPS_REPORT_MAX ? s->len : STEPS_REPORT_MAX] = data[i];
            s->len++;
        }
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
