/*
 * secret_mask - hides secret values in a job's output before it is stored.
 *
 * Each value is added with the forms a job is likely to print it in: as it
 * is, its base64 (standard and URL alphabets: its whole encoding with and
 * without padding, and the characters that depend on it alone at each of the
 * three alignments it can have inside a longer encoded text), its
 * URL encoding (%XX upper and lower case, '+' for a space) and its JSON
 * string escaping. A value with newlines is also masked line by line (a
 * program may print one line of it), each line of at least
 * SECRET_MASK_MIN_LINE bytes.
 *
 * Output goes in as the job writes it and comes out through a callback with
 * every byte that lies inside an occurrence of any form replaced: each
 * stretch of such bytes (overlapping or touching occurrences together)
 * becomes one "***". The masker holds back the end of the output that could
 * still be the start of an occurrence, and only that: however the output is
 * cut into writes, what comes out is the same. A line ending in a newline is
 * never held, since no form contains one; a trailing prefix of a value is
 * held until the output goes on or secret_mask_finish.
 *
 * The module has no clock and no I/O; values are copied into the masker and
 * wiped when it is freed.
 */
#ifndef GW_SECRET_MASK_H
#define GW_SECRET_MASK_H

#include <stddef.h>

#include "util.h"

/* Values shorter than this are refused: they would mask ordinary words. */
#define SECRET_MASK_MIN_LEN 6
/* The shortest line of a multi-line value that is masked on its own. */
#define SECRET_MASK_MIN_LINE 6
/* What a masked stretch becomes. */
#define SECRET_MASK_TEXT "***"

typedef struct secret_mask secret_mask_t;

/* Receives masked output; data is borrowed for the call, len > 0. */
typedef void (*secret_mask_out_fn)(void *arg, const char *data, size_t len);

/* An empty masker writing to out. Free with secret_mask_free. */
secret_mask_t *secret_mask_new(secret_mask_out_fn out, void *arg);
/* Wipes the values and frees the masker; NULL is a no-op. */
void secret_mask_free(secret_mask_t *m);

/* Mask value (len bytes, any bytes) and its forms from now on. Returns -1
 * when it is shorter than SECRET_MASK_MIN_LEN (nothing is added), 0
 * otherwise. Call before the first write. */
int secret_mask_add(secret_mask_t *m, const char *value, size_t len) GW_MUST_CHECK;

/* Output of the job; passes on everything that can no longer be part of an
 * occurrence. */
void secret_mask_write(secret_mask_t *m, const char *data, size_t len);
/* The output has ended: passes on what was held. The masker may be written
 * to again afterwards, as a new stream. */
void secret_mask_finish(secret_mask_t *m);
/* Bytes held back now. */
size_t secret_mask_held(const secret_mask_t *m);
/* The number of distinct strings masked (values and forms), and the i-th
 * of them (borrowed; for tests). */
size_t secret_mask_patterns(const secret_mask_t *m);
const char *secret_mask_pattern(const secret_mask_t *m, size_t i, size_t *len);

#endif
