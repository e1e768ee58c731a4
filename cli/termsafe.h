/*
 * termsafe - a job's output made safe to print on a terminal.
 *
 * A job's log is text that an untrusted job wrote; printed as it is, its
 * escape sequences would be obeyed by the user's terminal (write the
 * clipboard, set the title, clear the screen, conceal text, links that say
 * one address and go to another). The filter lets through printable text,
 * \n, \t, \r and plain SGR colours (CSI ... m with only reset, bold, faint,
 * italic, underline, their "off" codes and 16, 256 and 24-bit colours);
 * every other control byte is shown in caret notation, as `cat -v` does:
 * C0 controls as ^@..^_ (ESC as ^[), DEL as ^?, C1 controls (U+0080..U+009F,
 * and such a byte that is not part of a UTF-8 character) as M-^@..M-^_.
 * So `ESC ] 52 ; c ; ... BEL` prints as `^[]52;c;...^G`, inert and visible.
 *
 * The filter keeps its state between writes: a sequence split across
 * chunks is judged whole. Pure (no I/O): out is a buffer the caller owns.
 */
#ifndef GW_CLI_TERMSAFE_H
#define GW_CLI_TERMSAFE_H

#include <stddef.h>

#include "util.h"

/* The longest CSI sequence held back to be judged; a longer one is shown. */
#define TERMSAFE_MAX_CSI 64

typedef struct termsafe termsafe_t;

/* A filter at the start of a stream; free with termsafe_free. */
termsafe_t *termsafe_new(void);
void termsafe_free(termsafe_t *t);

/* Filter len bytes of the stream, appending what may be printed to out. */
void termsafe_feed(termsafe_t *t, const char *data, size_t len, buf_t *out);

/*
 * The end of the stream: append what was held back (an unfinished sequence,
 * shown), and a reset (ESC [ 0 m) if a colour passed since the last one, so
 * that no colour outlives the stream. The filter is then at a stream's start.
 */
void termsafe_finish(termsafe_t *t, buf_t *out);

/* s made safe as one whole stream (finished); the caller frees it. */
char *termsafe_string(const char *s);

#endif
