/*
 * fuzz_util - what the libFuzzer targets of tests/fuzz share: the entry
 * point's prototype, a check that aborts with a message (libFuzzer then saves
 * the input as a crash), and a UTF-8 validator of its own to judge the
 * modules' output by.
 */
#ifndef GW_FUZZ_UTIL_H
#define GW_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Called by libFuzzer once per input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with "file:line: what" when cond is false. */
#define FUZZ_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, (what));                                                 \
    } while (0)

/* Print where an invariant broke and abort. */
__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

/*
 * The sequence at the start of p[0..len) (len > 0), judged by the table of
 * well-formed byte sequences (Unicode 3.9, table 3-7), written apart from
 * the validators under test: returns its length and sets *ok when it is a
 * well-formed sequence other than NUL, else returns the length of its
 * maximal ill-formed subpart (at least 1) and clears *ok.
 */
size_t fuzz_utf8_next(const unsigned char *p, size_t len, bool *ok);

/* Whether len bytes of s are well-formed UTF-8 without NUL. */
bool fuzz_utf8_valid(const void *s, size_t len);

/* Check text written into a buffer of size cap (an error message or field
 * path): terminated inside the buffer and valid UTF-8, since it is sent to
 * clients in JSON. */
void fuzz_check_message(const char *s, size_t cap, const char *what);

/* Whether two buffers hold the same bytes. */
bool fuzz_buf_equal(const buf_t *a, const buf_t *b);

/* A NUL-terminated copy of size bytes (caller frees). */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
