/*
 * check_secret_mask - unit tests for common/secret_mask.c: the forms of a
 * value that are masked, and output fed in every split (one byte at a time,
 * every cut in two, every write size) coming out as one write of it does,
 * and as a naive search for every pattern says.
 */
#include "secret_mask.h"
#include "util.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    buf_t out;
    size_t calls;
} sink_t;

static void
sink_out(void *arg, const char *data, size_t len)
{
    sink_t *s = arg;

    ck_assert_uint_gt(len, 0);
    buf_append(&s->out, data, len);
    s->calls++;
}

/* A masker of the values (NULL-terminated) writing into s. */
static secret_mask_t *
masker(sink_t *s, const char *const *values)
{
    secret_mask_t *m;

    buf_init(&s->out);
    s->calls = 0;
    m = secret_mask_new(sink_out, s);
    for (const char *const *v = values; *v; v++)
        ck_assert_int_eq(secret_mask_add(m, *v, strlen(*v)), 0);
    return m;
}

/* The output of text written in pieces of `step` bytes (0: at once), or,
 * with cut > 0, in two pieces cut there. Caller frees. */
static char *
masked(const char *const *values, const char *text, size_t len, size_t step, size_t cut)
{
    sink_t s;
    secret_mask_t *m = masker(&s, values);

    if (cut > 0) {
        secret_mask_write(m, text, cut);
        secret_mask_write(m, text + cut, len - cut);
    } else if (step == 0) {
        secret_mask_write(m, text, len);
    } else {
        for (size_t i = 0; i < len; i += step)
            secret_mask_write(m, text + i, len - i < step ? len - i : step);
    }
    secret_mask_finish(m);
    ck_assert_uint_eq(secret_mask_held(m), 0);
    secret_mask_free(m);
    return buf_steal(&s.out);
}

/* Independent of the automaton: mark every byte inside an occurrence of any
 * of the masker's patterns, then each run of marked bytes becomes "***". */
static char *
reference(const char *const *values, const char *text, size_t len)
{
    sink_t s;
    secret_mask_t *m = masker(&s, values);
    bool *mark = xcalloc(len + 1, sizeof(bool));
    buf_t out;

    for (size_t k = 0; k < secret_mask_patterns(m); k++) {
        size_t plen;
        const char *p = secret_mask_pattern(m, k, &plen);
        for (size_t i = 0; i + plen <= len; i++)
            if (memcmp(text + i, p, plen) == 0)
                for (size_t j = i; j < i + plen; j++)
                    mark[j] = true;
    }
    buf_init(&out);
    for (size_t i = 0; i < len; i++) {
        if (!mark[i])
            buf_append(&out, text + i, 1);
        else if (i == 0 || !mark[i - 1])
            buf_puts(&out, SECRET_MASK_TEXT);
    }
    free(mark);
    secret_mask_free(m);
    buf_free(&s.out);
    return buf_steal(&out);
}

/* Every split of text gives the reference's output. */
static void
check_every_split(const char *const *values, const char *text, size_t len)
{
    char *want = reference(values, text, len);
    char *got;

    got = masked(values, text, len, 0, 0);
    ck_assert_str_eq(got, want);
    free(got);
    for (size_t step = 1; step <= len; step++) {
        got = masked(values, text, len, step, 0);
        ck_assert_msg(strcmp(got, want) == 0, "writes of %zu bytes: got \"%s\", want \"%s\"", step,
                      got, want);
        free(got);
    }
    for (size_t cut = 1; cut < len; cut++) {
        got = masked(values, text, len, 0, cut);
        ck_assert_msg(strcmp(got, want) == 0, "cut at %zu: got \"%s\", want \"%s\"", cut, got,
                      want);
        free(got);
    }
    free(want);
}

static char *
mask_str(const char *const *values, const char *text)
{
    return masked(values, text, strlen(text), 0, 0);
}

/* Standard base64 with padding, as base64(1) prints it. Caller frees. */
static char *
b64(const char *s, size_t len)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)s[i + 2];
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], i + 1 < len ? a[(v >> 6) & 63] : '=',
                     i + 2 < len ? a[v & 63] : '='};
        buf_append(&b, q, 4);
    }
    return buf_steal(&b);
}

START_TEST(test_raw)
{
    const char *v[] = {"hunter2-s3cr3t", NULL};
    char *got = mask_str(v, "token is hunter2-s3cr3t, again hunter2-s3cr3thunter2-s3cr3t.\n");

    ck_assert_str_eq(got, "token is ***, again ***.\n");
    free(got);
}
END_TEST

/* The value inside a longer text that is base64-encoded, at each of the
 * three alignments, with text after it of each length: no 4-character run
 * of the value's own encoding survives. */
START_TEST(test_base64_alignments)
{
    const char *value = "hunter2-s3cr3t";
    const char *v[] = {value, NULL};

    for (size_t pre = 0; pre < 6; pre++) {
        for (size_t post = 0; post < 4; post++) {
            char text[64];
            snprintf(text, sizeof(text), "%.*s%s%.*s", (int)pre, "abcdef", value, (int)post,
                     "wxyz");
            char *enc = b64(text, strlen(text));
            char *got = mask_str(v, enc);
            ck_assert_msg(strstr(got, SECRET_MASK_TEXT) != NULL, "%s: %s", enc, got);
            /* What is left is at most the characters that mix in the
             * bytes around the value: 2 before, 2 after, plus padding. */
            ck_assert_msg(strlen(got) - strlen(SECRET_MASK_TEXT) <= (pre + 2) / 3 * 4 + 4 + 2,
                          "%s: %s", enc, got);
            free(enc);
            free(got);
        }
    }
    char *alone = b64(value, strlen(value));
    char *got = mask_str(v, alone);
    ck_assert_str_eq(got, "***");
    free(got);
    free(alone);
}
END_TEST

START_TEST(test_url_and_json)
{
    const char *v[] = {"p@ss w/rd\"x\\y", NULL};
    const char *cases[][2] = {
        {"u=p%40ss%20w%2Frd%22x%5Cy&", "u=***&"},
        {"u=p%40ss+w%2Frd%22x%5Cy&", "u=***&"},
        {"u=p%40ss%20w%2frd%22x%5cy&", "u=***&"},
        {"{\"t\":\"p@ss w/rd\\\"x\\\\y\"}", "{\"t\":\"***\"}"},
        {"{\"t\":\"p@ss w\\/rd\\\"x\\\\y\"}", "{\"t\":\"***\"}"},
    };

    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        char *got = mask_str(v, cases[i][0]);
        ck_assert_str_eq(got, cases[i][1]);
        free(got);
    }
}
END_TEST

START_TEST(test_multiline)
{
    const char *v[] = {"-----BEGIN KEY-----\r\nMIIEvQIBADANBgkqhkiG\nabc\nZmFrZSBrZXkgYm9keQ==\n",
                       NULL};
    char *got = mask_str(v, "line MIIEvQIBADANBgkqhkiG\nZmFrZSBrZXkgYm9keQ==\nabc\n");

    ck_assert_str_eq(got, "line ***\n***\nabc\n");
    free(got);
    got = mask_str(v, "{\"k\":\"-----BEGIN KEY-----\\r\\nMIIEvQIBADANBgkqhkiG\\nabc\\n"
                      "ZmFrZSBrZXkgYm9keQ==\\n\"}");
    ck_assert_str_eq(got, "{\"k\":\"***\"}");
    free(got);
}
END_TEST

START_TEST(test_overlap_repeat_prefix)
{
    const char *overlap[] = {"abcdefgh", "defghijk", NULL};
    const char *prefix[] = {"secret-one", "secret-two", NULL};
    const char *repeat[] = {"aaaaaa", NULL};
    char *got;

    got = mask_str(overlap, "[abcdefghijk] [defghijkabcdefgh] [abcdefg]");
    ck_assert_str_eq(got, "[***] [***] [abcdefg]");
    free(got);
    got = mask_str(prefix, "secret-onx secret-two secret-one secret-t");
    ck_assert_str_eq(got, "secret-onx *** *** secret-t");
    free(got);
    got = mask_str(repeat, "aaaaa|aaaaaaaaaaaaaaaaa|aaaaaa");
    ck_assert_str_eq(got, "aaaaa|***|***");
    free(got);
}
END_TEST

/* Values that overlap, repeat, share prefixes or hold newlines, and
 * output with near misses, fed in every split. */
START_TEST(test_every_split)
{
    const char *overlap[] = {"abcdefgh", "defghijk", "ghijklmn", NULL};
    const char *prefix[] = {"secret-one", "secret-two", "secret-", NULL};
    const char *repeat[] = {"aaaaaa", "abab-abab", NULL};
    const char *multi[] = {"first-line\nsecond-line\nx\n", "hunter2-s3cr3t", NULL};
    const char *touch[] = {"abcdef", NULL};
    const char *texts[] = {
        "abcdefghijklmn abcdefg defghij ghijklm abcdefghijk\n",
        "secret-onsecret-two secret-one\nsecret-tw secret-\nsecret-",
        "aaaaaaaaaaaaa abab-abab-abab-abab aaaaa abab-aba",
        "first-line\nsecond-line\nx\nfirst-linsecond-line hunter2-s3cr3 aHVudGVyMi1zM2NyM3Q=",
        "hunter2-s3cr3t%20 hunter2-s3cr3t\nZmlyc3QtbGluZQpzZWNvbmQtbGluZQp4Cg== first-line",
        /* Occurrences that touch: one "***", wherever the output is cut. */
        "xabcdefabcdefy abcdefabcdeabcdef",
    };
    const char *const *sets[] = {overlap, prefix, repeat, multi, multi, touch};

    for (size_t i = 0; i < GW_ARRAY_LEN(texts); i++)
        check_every_split(sets[i], texts[i], strlen(texts[i]));
}
END_TEST

/* The end of the output that could start a value is held, and only that;
 * a finished line never is. */
START_TEST(test_held)
{
    const char *v[] = {"hunter2-s3cr3t", NULL};
    sink_t s;
    secret_mask_t *m = masker(&s, v);

    secret_mask_write(m, "token: hunt", 11);
    ck_assert_uint_eq(secret_mask_held(m), 4);
    ck_assert_str_eq(s.out.data, "token: ");
    /* Past the flush interval the rest comes. */
    secret_mask_write(m, "er2-s3cr3t\nnext line\n", 21);
    ck_assert_uint_eq(secret_mask_held(m), 0);
    ck_assert_str_eq(s.out.data, "token: ***\nnext line\n");
    secret_mask_write(m, "hunter2\n", 8);
    ck_assert_uint_eq(secret_mask_held(m), 0);
    secret_mask_write(m, "hunter", 6);
    ck_assert_uint_eq(secret_mask_held(m), 6);
    secret_mask_finish(m);
    ck_assert_uint_eq(secret_mask_held(m), 0);
    ck_assert_str_eq(s.out.data, "token: ***\nnext line\nhunter2\nhunter");
    secret_mask_free(m);
    buf_free(&s.out);
}
END_TEST

START_TEST(test_no_values)
{
    const char *v[] = {NULL};
    char *got = mask_str(v, "anything at all");

    ck_assert_str_eq(got, "anything at all");
    free(got);
}
END_TEST

START_TEST(test_short_refused)
{
    secret_mask_t *m = secret_mask_new(sink_out, NULL);

    ck_assert_int_eq(secret_mask_add(m, "12345", 5), -1);
    ck_assert_uint_eq(secret_mask_patterns(m), 0);
    ck_assert_int_eq(secret_mask_add(m, "123456", 6), 0);
    secret_mask_free(m);
    secret_mask_free(NULL);
}
END_TEST

/* A value of 64 KiB of any bytes (its table of moves would be too big, so
 * moves follow failure links) among output, in several splits. */
START_TEST(test_large_value)
{
    size_t vlen = 64 * 1024;
    char *value = xmalloc(vlen + 1);
    const char *v[] = {value, NULL};
    buf_t text;
    uint32_t x = 12345;

    for (size_t i = 0; i < vlen; i++) {
        x = x * 1103515245u + 12345u;
        value[i] = (char)(1 + (x >> 16) % 255); /* no NUL: a C string */
    }
    value[vlen] = '\0';
    buf_init(&text);
    buf_puts(&text, "before ");
    buf_append(&text, value, vlen / 2);
    buf_puts(&text, " between ");
    buf_append(&text, value, vlen);
    buf_puts(&text, " after\n");

    char *want = reference(v, text.data, text.len);
    ck_assert_ptr_nonnull(strstr(want, " between ***"));
    ck_assert_ptr_nonnull(strstr(want, "*** after\n"));
    const size_t steps[] = {0, 1, 7, 4096, 65536};
    for (size_t i = 0; i < GW_ARRAY_LEN(steps); i++) {
        char *got = masked(v, text.data, text.len, steps[i], 0);
        ck_assert_str_eq(got, want);
        free(got);
    }
    free(want);
    buf_free(&text);
    free(value);
}
END_TEST

/* Plain output comes out in as few pieces as it went in. */
START_TEST(test_few_calls)
{
    const char *v[] = {"hunter2-s3cr3t", NULL};
    sink_t s;
    secret_mask_t *m = masker(&s, v);
    char line[4096];

    memset(line, 'h', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    secret_mask_write(m, line, sizeof(line));
    ck_assert_uint_eq(s.calls, 1);
    secret_mask_free(m);
    buf_free(&s.out);
}
END_TEST

static Suite *
secret_mask_suite(void)
{
    Suite *s = suite_create("secret_mask");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_raw);
    tcase_add_test(tc, test_base64_alignments);
    tcase_add_test(tc, test_url_and_json);
    tcase_add_test(tc, test_multiline);
    tcase_add_test(tc, test_overlap_repeat_prefix);
    tcase_add_test(tc, test_every_split);
    tcase_add_test(tc, test_held);
    tcase_add_test(tc, test_no_values);
    tcase_add_test(tc, test_short_refused);
    tcase_add_test(tc, test_large_value);
    tcase_add_test(tc, test_few_calls);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(secret_mask_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
