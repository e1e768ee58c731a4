/*
 * fuzz_secret_mask - values of any bytes, and output of any bytes in any
 * writes, through the secret masker.
 *
 * Input: one byte with the number of values (1..4); per value one byte
 * with its length (0..63; shorter than SECRET_MASK_MIN_LEN must be refused)
 * and its bytes; then operations of one byte each (a write of the next
 * 0..63 bytes, or a finish), and secret_mask_finish at the end.
 * Invariants:
 *  - a value is refused exactly when it is short, and a refused one adds
 *    nothing;
 *  - what is held after a write is at most the longest pattern, and
 *    nothing after a finish;
 *  - how the output was cut into writes changes nothing: the text equals
 *    that of one write of every piece between finishes, and that of a
 *    naive search (each byte inside an occurrence of a pattern marked, each
 *    run of marked bytes one "***");
 *  - no pattern without a '*' occurs in what comes out of one stream
 *    (between finishes).
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "secret_mask.h"
#include "util.h"

static void
fuzz_out(void *arg, const char *data, size_t len)
{
    FUZZ_CHECK(len > 0, "a piece of output is not empty");
    buf_append(arg, data, len);
}

/* The naive masking of text by m's patterns, appended to out. */
static void
fuzz_reference(const secret_mask_t *m, const buf_t *text, buf_t *out)
{
    bool *mark = xcalloc(text->len + 1, sizeof(bool));

    for (size_t k = 0; k < secret_mask_patterns(m); k++) {
        size_t plen;
        const char *p = secret_mask_pattern(m, k, &plen);
        for (size_t i = 0; i + plen <= text->len; i++)
            if (memcmp(text->data + i, p, plen) == 0)
                memset(mark + i, 1, plen);
    }
    for (size_t i = 0; i < text->len; i++) {
        if (!mark[i])
            buf_append(out, text->data + i, 1);
        else if (i == 0 || !mark[i - 1])
            buf_puts(out, SECRET_MASK_TEXT);
    }
    free(mark);
}

/* No pattern without a '*' in out[from..). */
static void
fuzz_check_clean(const secret_mask_t *m, const buf_t *out, size_t from)
{
    for (size_t k = 0; k < secret_mask_patterns(m); k++) {
        size_t plen;
        const char *p = secret_mask_pattern(m, k, &plen);
        if (memchr(p, '*', plen) == NULL && out->len > from)
            FUZZ_CHECK(memmem(out->data + from, out->len - from, p, plen) == NULL,
                       "no pattern occurs in the output");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf_t got, one, ref, piece;
    secret_mask_t *m, *whole;
    size_t i = 1, nvalues, longest = 0, stream = 0;

    if (size < 1)
        return 0;
    buf_init(&got);
    buf_init(&one);
    buf_init(&ref);
    buf_init(&piece);
    m = secret_mask_new(fuzz_out, &got);
    whole = secret_mask_new(fuzz_out, &one);
    nvalues = 1 + data[0] % 4;
    for (size_t v = 0; v < nvalues && i < size; v++) {
        size_t len = data[i++] % 64, before = secret_mask_patterns(m);
        if (len > size - i)
            len = size - i;
        int rc = secret_mask_add(m, (const char *)data + i, len);
        FUZZ_CHECK((rc == -1) == (len < SECRET_MASK_MIN_LEN), "a value is refused when short");
        FUZZ_CHECK(rc == 0 || secret_mask_patterns(m) == before, "a refused value adds nothing");
        if (rc == 0)
            FUZZ_CHECK(secret_mask_add(whole, (const char *)data + i, len) == 0,
                       "the same value is accepted twice");
        i += len;
    }
    for (size_t k = 0; k < secret_mask_patterns(m); k++) {
        size_t plen;
        (void)secret_mask_pattern(m, k, &plen);
        if (plen > longest)
            longest = plen;
    }

    while (i < size) {
        unsigned op = data[i] & 1, arg = data[i] >> 2;
        i++;
        if (op == 0) {
            size_t n = arg < size - i ? arg : size - i;
            secret_mask_write(m, (const char *)data + i, n);
            buf_append(&piece, data + i, n);
            i += n;
            FUZZ_CHECK(secret_mask_held(m) <= longest, "at most the longest pattern is held");
        } else {
            secret_mask_finish(m);
            FUZZ_CHECK(secret_mask_held(m) == 0, "nothing is held after a finish");
            secret_mask_write(whole, piece.data, piece.len);
            secret_mask_finish(whole);
            fuzz_reference(m, &piece, &ref);
            buf_reset(&piece);
            fuzz_check_clean(m, &got, stream);
            stream = got.len;
        }
    }
    secret_mask_finish(m);
    FUZZ_CHECK(secret_mask_held(m) == 0, "nothing is held after a finish");
    secret_mask_write(whole, piece.data, piece.len);
    secret_mask_finish(whole);
    fuzz_reference(m, &piece, &ref);

    FUZZ_CHECK(fuzz_buf_equal(&got, &one), "how output is cut into writes changes nothing");
    FUZZ_CHECK(fuzz_buf_equal(&got, &ref), "the output is the naive masking's");
    fuzz_check_clean(m, &got, stream);

    secret_mask_free(m);
    secret_mask_free(whole);
    buf_free(&got);
    buf_free(&one);
    buf_free(&ref);
    buf_free(&piece);
    return 0;
}
