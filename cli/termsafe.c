/*
 * termsafe - a job's output made safe to print on a terminal (termsafe.h).
 *
 * Three states: text (where UTF-8 characters are gathered whole, so that a
 * C1 control written as UTF-8 is seen, and invalid bytes become U+FFFD),
 * after an ESC, and inside a CSI sequence, held back until its final byte
 * says whether it is an allowed SGR. Nothing else is held back: an OSC, DCS
 * or any other sequence is shown from its ESC on, its text is plain text.
 */
#include "termsafe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define TERMSAFE_ESC 0x1b
#define TERMSAFE_RESET "\033[0m"
/* U+FFFD, in place of bytes that are not UTF-8. */
#define TERMSAFE_REPLACEMENT "\xef\xbf\xbd"

typedef enum {
    TERMSAFE_TEXT,
    TERMSAFE_AFTER_ESC, /* an ESC was read: a CSI if '[' follows */
    TERMSAFE_IN_CSI,    /* ESC [ and csi[] were read, not yet the final byte */
} termsafe_state_t;

struct termsafe {
    termsafe_state_t state;
    char csi[TERMSAFE_MAX_CSI]; /* the parameter and intermediate bytes held back */
    size_t csi_len;
    unsigned char ch[4]; /* a UTF-8 character being gathered */
    size_t ch_len, ch_need;
    unsigned char lo, hi; /* the range of its next byte */
    bool coloured;        /* an SGR other than a reset passed since the last reset */
};

termsafe_t *
termsafe_new(void)
{
    return xcalloc(1, sizeof(termsafe_t));
}

void
termsafe_free(termsafe_t *t)
{
    free(t);
}

/* A C0 control or DEL in caret notation: ^@..^_, ^?. */
static void
termsafe_caret(buf_t *out, unsigned char c)
{
    char s[2] = {'^', c == 0x7f ? '?' : (char)(c + 0x40)};

    buf_append(out, s, sizeof(s));
}

/* The parameters of an SGR (digits and ';'), in v; -1 when there are others. */
static int
termsafe_sgr_params(const char *p, size_t len, int v[TERMSAFE_MAX_CSI + 1])
{
    int n = 0;

    v[0] = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ';') {
            v[++n] = 0;
        } else if (p[i] >= '0' && p[i] <= '9') {
            /* Past 999 no value is allowed: stop there, no overflow. */
            if (v[n] < 1000)
                v[n] = v[n] * 10 + (p[i] - '0');
        } else {
            return -1; /* ':' sub-parameters, private markers, intermediates */
        }
    }
    return n + 1;
}

/* Whether code is an attribute that may pass: reset, bold, faint, italic,
 * underline and their "off" codes, the 16 colours and the defaults. */
static bool
termsafe_sgr_code(int code)
{
    switch (code) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 22:
    case 23:
    case 24:
    case 39:
    case 49:
        return true;
    default:
        return (code >= 30 && code <= 37) || (code >= 40 && code <= 47) ||
               (code >= 90 && code <= 97) || (code >= 100 && code <= 107);
    }
}

/*
 * Whether CSI p m may pass: only allowed codes, and 38/48 followed by 5;N
 * (256 colours) or 2;R;G;B (24-bit), each value 0..255. *reset: it is
 * nothing but resets.
 */
static bool
termsafe_sgr_allowed(const char *p, size_t len, bool *reset)
{
    int v[TERMSAFE_MAX_CSI + 1];
    int n = termsafe_sgr_params(p, len, v);

    *reset = true;
    for (int i = 0; i < n; i++) {
        if (v[i] == 38 || v[i] == 48) {
            /* The values that follow 5 (one) or 2 (three), each 0..255. */
            int values = 0;
            if (i + 1 < n && v[i + 1] == 5)
                values = 1;
            else if (i + 1 < n && v[i + 1] == 2)
                values = 3;
            if (values == 0 || i + 1 + values >= n)
                return false;
            for (int j = i + 2; j <= i + 1 + values; j++)
                if (v[j] > 255)
                    return false;
            i += 1 + values;
        } else if (!termsafe_sgr_code(v[i])) {
            return false;
        }
        *reset = *reset && v[i] == 0;
    }
    return n > 0;
}

/* Show the ESC or CSI held back, as text, and go back to text. */
static void
termsafe_show_held(termsafe_t *t, buf_t *out)
{
    if (t->state == TERMSAFE_AFTER_ESC) {
        buf_puts(out, "^[");
    } else if (t->state == TERMSAFE_IN_CSI) {
        buf_puts(out, "^[[");
        buf_append(out, t->csi, t->csi_len);
    }
    t->state = TERMSAFE_TEXT;
    t->csi_len = 0;
}

/* The final byte of a CSI: pass it whole if it is an allowed SGR, else show it. */
static void
termsafe_csi_final(termsafe_t *t, unsigned char c, buf_t *out)
{
    bool reset;

    if (c == 'm' && termsafe_sgr_allowed(t->csi, t->csi_len, &reset)) {
        buf_puts(out, "\033[");
        buf_append(out, t->csi, t->csi_len);
        buf_puts(out, "m");
        t->coloured = !reset;
        t->state = TERMSAFE_TEXT;
        t->csi_len = 0;
        return;
    }
    termsafe_show_held(t, out);
    buf_append(out, &c, 1);
}

/* A UTF-8 character that was gathered whole: a C1 control is shown. */
static void
termsafe_char_done(termsafe_t *t, buf_t *out)
{
    if (t->ch_len == 2 && t->ch[0] == 0xc2 && t->ch[1] <= 0x9f) {
        buf_puts(out, "M-");
        termsafe_caret(out, (unsigned char)(t->ch[1] - 0x80));
    } else {
        buf_append(out, t->ch, t->ch_len);
    }
    t->ch_len = 0;
}

/* One byte of text (no ESC or CSI held back). */
static void
termsafe_text(termsafe_t *t, unsigned char c, buf_t *out)
{
    size_t need;

    if (t->ch_len > 0) {
        if (c >= t->lo && c <= t->hi) {
            t->ch[t->ch_len++] = c;
            t->lo = 0x80;
            t->hi = 0xbf;
            if (--t->ch_need == 0)
                termsafe_char_done(t, out);
            return;
        }
        /* A character cut short: it is not UTF-8, and c starts afresh. */
        buf_puts(out, TERMSAFE_REPLACEMENT);
        t->ch_len = 0;
    }
    if (c == TERMSAFE_ESC) {
        t->state = TERMSAFE_AFTER_ESC;
    } else if (c == '\n' || c == '\t' || c == '\r' || (c >= 0x20 && c < 0x7f)) {
        buf_append(out, &c, 1);
    } else if (c < 0x80) {
        termsafe_caret(out, c);
    } else if (utf8_lead(c, &need, &t->lo, &t->hi)) {
        t->ch[0] = c;
        t->ch_len = 1;
        t->ch_need = need;
    } else {
        buf_puts(out, TERMSAFE_REPLACEMENT);
    }
}

/* The length of the run at s that is plain text: printable ASCII, \n, \t, \r. */
static size_t
termsafe_plain_run(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len &&
           ((s[i] >= 0x20 && s[i] < 0x7f) || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i;
}

void
termsafe_feed(termsafe_t *t, const char *data, size_t len, buf_t *out)
{
    const unsigned char *s = (const unsigned char *)data;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];

        switch (t->state) {
        case TERMSAFE_TEXT:
            if (t->ch_len == 0) {
                size_t run = termsafe_plain_run(s + i, len - i);
                if (run > 0) {
                    /* Most of a log: copied in one piece. */
                    buf_append(out, s + i, run);
                    i += run - 1;
                    break;
                }
            }
            termsafe_text(t, c, out);
            break;
        case TERMSAFE_AFTER_ESC:
            if (c == '[') {
                t->state = TERMSAFE_IN_CSI;
                t->csi_len = 0;
            } else {
                termsafe_show_held(t, out);
                termsafe_text(t, c, out);
            }
            break;
        case TERMSAFE_IN_CSI:
            if (c >= 0x40 && c <= 0x7e) {
                termsafe_csi_final(t, c, out);
            } else if (c >= 0x20 && c <= 0x3f && t->csi_len < sizeof(t->csi)) {
                t->csi[t->csi_len++] = (char)c;
            } else {
                /* Cut short by another byte, or too long to be a colour. */
                termsafe_show_held(t, out);
                termsafe_text(t, c, out);
            }
            break;
        }
    }
}

void
termsafe_finish(termsafe_t *t, buf_t *out)
{
    termsafe_show_held(t, out);
    if (t->ch_len > 0)
        buf_puts(out, TERMSAFE_REPLACEMENT);
    if (t->coloured)
        buf_puts(out, TERMSAFE_RESET);
    memset(t, 0, sizeof(*t));
}

char *
termsafe_string(const char *s)
{
    termsafe_t *t = termsafe_new();
    buf_t out;

    buf_init(&out);
    termsafe_feed(t, s, strlen(s), &out);
    termsafe_finish(t, &out);
    termsafe_free(t);
    return buf_steal(&out);
}
