/*
 * check_logchunk - unit tests for common/logchunk.c: size and time bounds,
 * contiguous offsets, UTF-8 sanitising and the output cap.
 */
#include "logchunk.h"
#include "util.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FFFD "\xEF\xBF\xBD"
#define EMOJI "\xF0\x9F\x98\x80" /* U+1F600 */

typedef struct {
    size_t off;
    size_t len;
} chunk_t;

/* Records every chunk and checks the emit contract as chunks arrive. */
typedef struct {
    size_t max_chunk;
    buf_t all;
    chunk_t *chunks;
    size_t n;
    size_t cap;
} collector_t;

/* Independent of the module's validator: decode and range-check each code
 * point. */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t n;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
            return false;
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        i += n;
    }
    return true;
}

static void
collect(void *arg, int64_t offset, const char *data, size_t len)
{
    collector_t *c = arg;

    ck_assert_uint_gt(len, 0);
    ck_assert_uint_le(len, c->max_chunk);
    /* Offsets are contiguous from 0. */
    ck_assert_int_eq(offset, (int64_t)c->all.len);
    ck_assert_msg(utf8_valid((const unsigned char *)data, len), "chunk %zu is not valid UTF-8",
                  c->n);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->chunks = xrealloc(c->chunks, c->cap * sizeof(*c->chunks));
    }
    c->chunks[c->n].off = c->all.len;
    c->chunks[c->n].len = len;
    c->n++;
    buf_append(&c->all, data, len);
}

static void
collector_init(collector_t *c, size_t max_chunk)
{
    memset(c, 0, sizeof(*c));
    c->max_chunk = max_chunk;
    buf_init(&c->all);
}

static void
collector_free(collector_t *c)
{
    buf_free(&c->all);
    free(c->chunks);
}

/* Assert that chunk i holds exactly s. */
static void
assert_chunk(const collector_t *c, size_t i, const char *s)
{
    ck_assert_uint_lt(i, c->n);
    ck_assert_uint_eq(c->chunks[i].len, strlen(s));
    ck_assert_mem_eq(c->all.data + c->chunks[i].off, s, strlen(s));
}

/* Run in through a fresh chunker in one write and return what was stored. */
static char *
sanitise(const char *in, size_t len)
{
    collector_t c;
    logchunk_t *lc;
    char *out;

    collector_init(&c, 1024);
    lc = logchunk_new(1024, 1000, 0, collect, &c);
    logchunk_write(lc, in, len, 0);
    logchunk_finish(lc);
    ck_assert_int_eq(logchunk_stored(lc), (int64_t)c.all.len);
    logchunk_free(lc);
    out = buf_steal(&c.all);
    collector_free(&c);
    return out;
}

#define ck_assert_sanitised(in, expect)                                                            \
    do {                                                                                           \
        char *out_ = sanitise((in), sizeof(in) - 1);                                               \
        ck_assert_str_eq(out_, (expect));                                                          \
        free(out_);                                                                                \
    } while (0)

START_TEST(test_size_bound_ascii)
{
    collector_t c;
    buf_t in;
    logchunk_t *lc;
    size_t total = 10000;

    collector_init(&c, 100);
    buf_init(&in);
    lc = logchunk_new(100, 1000000, 0, collect, &c);
    for (size_t i = 0, w = 1; i < total; w = w % 37 + 1) {
        char piece[64];
        size_t n = w < total - i ? w : total - i;
        for (size_t k = 0; k < n; k++)
            piece[k] = (char)('a' + (i + k) % 26);
        buf_append(&in, piece, n);
        logchunk_write(lc, piece, n, 0);
        i += n;
    }
    /* Full chunks are emitted by the writes, without any tick. */
    ck_assert_uint_eq(c.n, total / 100);
    for (size_t i = 0; i < c.n; i++)
        ck_assert_uint_eq(c.chunks[i].len, 100);
    logchunk_finish(lc);
    ck_assert_uint_eq(c.all.len, in.len);
    ck_assert_mem_eq(c.all.data, in.data, in.len);
    ck_assert_int_eq(logchunk_stored(lc), (int64_t)total);
    ck_assert_int_eq(logchunk_dropped(lc), 0);
    logchunk_free(lc);
    buf_free(&in);
    collector_free(&c);
}
END_TEST

START_TEST(test_size_bound_multibyte)
{
    static const char unit[] = "a\xC3\xA9\xE2\x82\xAC" EMOJI "\n";
    collector_t c;
    buf_t in;
    logchunk_t *lc;

    /* Every chunk size from the minimum up, with writes of every length
     * 1..13 so that sequences are split by writes at every position. */
    for (size_t max = 4; max <= 24; max++) {
        collector_init(&c, max);
        buf_init(&in);
        for (int r = 0; r < 200; r++)
            buf_append(&in, unit, sizeof(unit) - 1);
        lc = logchunk_new(max, 1000000, 0, collect, &c);
        for (size_t i = 0, w = 1; i < in.len; w = w % 13 + 1) {
            size_t n = w < in.len - i ? w : in.len - i;
            logchunk_write(lc, in.data + i, n, (int64_t)i);
            i += n;
        }
        logchunk_finish(lc);
        ck_assert_uint_eq(c.all.len, in.len);
        ck_assert_mem_eq(c.all.data, in.data, in.len);
        /* Only the last chunk may be short by more than a split sequence. */
        for (size_t i = 0; i + 1 < c.n; i++)
            ck_assert_uint_ge(c.chunks[i].len, max - 3);
        logchunk_free(lc);
        buf_free(&in);
        collector_free(&c);
    }
}
END_TEST

START_TEST(test_large_write)
{
    collector_t c;
    size_t len = 8u << 20;
    char *in = xmalloc(len);
    logchunk_t *lc;

    for (size_t i = 0; i < len; i++)
        in[i] = (char)(' ' + i % 90);
    collector_init(&c, 65536);
    lc = logchunk_new(65536, 500, 0, collect, &c);
    logchunk_write(lc, in, len, 0);
    ck_assert_uint_eq(c.n, len / 65536);
    logchunk_finish(lc);
    ck_assert_uint_eq(c.all.len, len);
    ck_assert_mem_eq(c.all.data, in, len);
    logchunk_free(lc);
    free(in);
    collector_free(&c);
}
END_TEST

START_TEST(test_time_bound)
{
    collector_t c;
    logchunk_t *lc;

    collector_init(&c, 1000);
    lc = logchunk_new(1000, 200, 0, collect, &c);
    ck_assert_int_eq(logchunk_deadline(lc), -1);

    logchunk_write(lc, "hello", 5, 1000);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(logchunk_deadline(lc), 1200);
    logchunk_tick(lc, 1000);
    logchunk_tick(lc, 1199);
    ck_assert_uint_eq(c.n, 0);
    logchunk_tick(lc, 1200);
    ck_assert_uint_eq(c.n, 1);
    assert_chunk(&c, 0, "hello");
    ck_assert_int_eq(logchunk_deadline(lc), -1);
    logchunk_tick(lc, 5000);
    ck_assert_uint_eq(c.n, 1);

    /* The deadline follows the oldest pending byte, not the newest. */
    logchunk_write(lc, "x", 1, 1300);
    ck_assert_int_eq(logchunk_deadline(lc), 1500);
    logchunk_write(lc, "y", 1, 1400);
    ck_assert_int_eq(logchunk_deadline(lc), 1500);
    logchunk_tick(lc, 1499);
    ck_assert_uint_eq(c.n, 1);
    logchunk_tick(lc, 1501);
    ck_assert_uint_eq(c.n, 2);
    assert_chunk(&c, 1, "xy");
    ck_assert_int_eq(c.chunks[1].off, 5);

    /* A write that arrives when pending output is due flushes it too. */
    logchunk_write(lc, "a", 1, 2000);
    logchunk_write(lc, "b", 1, 2250);
    ck_assert_uint_eq(c.n, 3);
    assert_chunk(&c, 2, "ab");
    ck_assert_int_eq(logchunk_deadline(lc), -1);

    logchunk_finish(lc);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_int_eq(logchunk_stored(lc), 9);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_time_after_size_cut)
{
    collector_t c;
    logchunk_t *lc;

    /* The bytes left after a size cut restart the clock at their write. */
    collector_init(&c, 4);
    lc = logchunk_new(4, 100, 0, collect, &c);
    logchunk_write(lc, "ab", 2, 0);
    ck_assert_int_eq(logchunk_deadline(lc), 100);
    logchunk_write(lc, "cdef", 4, 50);
    ck_assert_uint_eq(c.n, 1);
    assert_chunk(&c, 0, "abcd");
    ck_assert_int_eq(logchunk_deadline(lc), 150);
    logchunk_tick(lc, 149);
    ck_assert_uint_eq(c.n, 1);
    logchunk_tick(lc, 150);
    assert_chunk(&c, 1, "ef");
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

/* A cut emits what is pending at once, keeps a held incomplete sequence
 * and the offsets contiguous; the time bound applies again after it. */
START_TEST(test_cut)
{
    collector_t c;
    logchunk_t *lc;

    collector_init(&c, 1000);
    lc = logchunk_new(1000, 500, 0, collect, &c);
    logchunk_cut(lc);
    ck_assert_uint_eq(c.n, 0);
    logchunk_write(lc, "[gitweave] job b\n\xC3", 18, 1000);
    ck_assert_uint_eq(c.n, 0);
    logchunk_cut(lc);
    ck_assert_uint_eq(c.n, 1);
    assert_chunk(&c, 0, "[gitweave] job b\n");
    ck_assert_int_eq(logchunk_deadline(lc), -1);
    /* The held byte was written at 1000: the bound counts from it. */
    logchunk_write(lc, "\xA9x", 2, 1100);
    ck_assert_int_eq(logchunk_deadline(lc), 1500);
    logchunk_tick(lc, 1499);
    ck_assert_uint_eq(c.n, 1);
    logchunk_tick(lc, 1500);
    assert_chunk(&c, 1, "\xC3\xA9x");
    ck_assert_int_eq(c.chunks[1].off, 17);
    logchunk_finish(lc);
    logchunk_write(lc, "y", 1, 1700);
    logchunk_cut(lc);
    ck_assert_uint_eq(c.n, 2);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_offsets_contiguous)
{
    collector_t c;
    logchunk_t *lc;
    int64_t t = 0;

    /* Mixed size and time cuts; collect() checks each offset as it comes. */
    collector_init(&c, 16);
    lc = logchunk_new(16, 10, 0, collect, &c);
    for (int i = 0; i < 500; i++) {
        /* Lengths 6..12: some writes end inside the check mark. */
        logchunk_write(lc, "line \xE2\x9C\x93 ok\n", 6 + (size_t)(i % 7), t);
        t += i % 7;
        logchunk_tick(lc, t);
    }
    logchunk_finish(lc);
    ck_assert_uint_gt(c.n, 100);
    for (size_t i = 0; i + 1 < c.n; i++)
        ck_assert_uint_eq(c.chunks[i + 1].off, c.chunks[i].off + c.chunks[i].len);
    ck_assert_uint_eq(c.chunks[0].off, 0);
    ck_assert_int_eq(logchunk_stored(lc), (int64_t)c.all.len);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_nul_replaced)
{
    ck_assert_sanitised("a\0b", "a" FFFD "b");
    ck_assert_sanitised("\0\0", FFFD FFFD);
}
END_TEST

START_TEST(test_invalid_replaced)
{
    /* A lone continuation byte. */
    ck_assert_sanitised("a\x80"
                        "b",
                        "a" FFFD "b");
    /* Overlong encodings, byte by byte. */
    ck_assert_sanitised("\xC0\x80", FFFD FFFD);
    ck_assert_sanitised("\xC1\xBF", FFFD FFFD);
    ck_assert_sanitised("\xE0\x80\x80", FFFD FFFD FFFD);
    ck_assert_sanitised("\xF0\x8F\xBF\xBF", FFFD FFFD FFFD FFFD);
    /* Surrogates and code points above U+10FFFF. */
    ck_assert_sanitised("\xED\xA0\x80", FFFD FFFD FFFD);
    ck_assert_sanitised("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD);
    ck_assert_sanitised("\xF5\x80", FFFD FFFD);
    ck_assert_sanitised("\xFE\xFF", FFFD FFFD);
    /* A sequence broken by a byte that cannot continue it: its valid prefix
     * is one U+FFFD and the byte is read afresh. */
    ck_assert_sanitised("\xE2\x82x", FFFD "x");
    ck_assert_sanitised("\xF0\x9F\x98\xF0\x9F\x98\x80", FFFD EMOJI);
    /* The edges of the valid ranges pass through. */
    ck_assert_sanitised("\xC2\x80\xDF\xBF", "\xC2\x80\xDF\xBF");
    ck_assert_sanitised("\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF",
                        "\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF");
    ck_assert_sanitised("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
}
END_TEST

START_TEST(test_truncated_at_finish)
{
    collector_t c;
    logchunk_t *lc;

    collector_init(&c, 64);
    lc = logchunk_new(64, 100, 0, collect, &c);
    logchunk_write(lc, "ok\xF0\x9F\x98", 5, 0);
    /* The incomplete sequence is held, not emitted, even when due. */
    logchunk_tick(lc, 1000);
    ck_assert_uint_eq(c.n, 1);
    assert_chunk(&c, 0, "ok");
    ck_assert_int_eq(logchunk_deadline(lc), -1);
    logchunk_finish(lc);
    ck_assert_uint_eq(c.n, 2);
    assert_chunk(&c, 1, FFFD);
    ck_assert_int_eq(logchunk_stored(lc), 5);
    logchunk_free(lc);
    collector_free(&c);

    /* Broken by the next write rather than by the finish. */
    collector_init(&c, 64);
    lc = logchunk_new(64, 100, 0, collect, &c);
    logchunk_write(lc, "\xE2\x82", 2, 0);
    logchunk_write(lc, "\xAC\x80z", 3, 1);
    logchunk_finish(lc);
    ck_assert_uint_eq(c.all.len, strlen("\xE2\x82\xAC" FFFD "z"));
    ck_assert_str_eq(c.all.data, "\xE2\x82\xAC" FFFD "z");
    logchunk_free(lc);
    collector_free(&c);

    collector_init(&c, 64);
    lc = logchunk_new(64, 100, 0, collect, &c);
    logchunk_write(lc, "\xE2\x82", 2, 0);
    logchunk_write(lc, "q", 1, 1);
    logchunk_finish(lc);
    ck_assert_str_eq(c.all.data, FFFD "q");
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_emoji_split_across_writes)
{
    collector_t c;
    logchunk_t *lc;

    /* The chunk bound (5) falls inside the emoji, which also arrives in two
     * writes: the first chunk stops before it. */
    collector_init(&c, 5);
    lc = logchunk_new(5, 1000, 0, collect, &c);
    logchunk_write(lc, "abc\xF0\x9F", 5, 0);
    ck_assert_uint_eq(c.n, 0);
    logchunk_write(lc,
                   "\x98\x80"
                   "de",
                   4, 1);
    ck_assert_uint_eq(c.n, 2);
    assert_chunk(&c, 0, "abc");
    assert_chunk(&c, 1, EMOJI "d");
    logchunk_finish(lc);
    ck_assert_uint_eq(c.n, 3);
    assert_chunk(&c, 2, "e");
    ck_assert_int_eq(logchunk_stored(lc), 9);
    logchunk_free(lc);
    collector_free(&c);

    /* One byte per write, with a time cut in between. */
    collector_init(&c, 5);
    lc = logchunk_new(5, 10, 0, collect, &c);
    logchunk_write(lc, "xy", 2, 0);
    logchunk_write(lc, "\xF0", 1, 1);
    logchunk_write(lc, "\x9F", 1, 2);
    logchunk_tick(lc, 50);
    ck_assert_uint_eq(c.n, 1);
    assert_chunk(&c, 0, "xy");
    logchunk_write(lc, "\x98", 1, 60);
    logchunk_write(lc, "\x80", 1, 61);
    /* The emoji's first byte came at 1, so it is already due. */
    ck_assert_int_eq(logchunk_deadline(lc), -1);
    ck_assert_uint_eq(c.n, 2);
    assert_chunk(&c, 1, EMOJI);
    logchunk_finish(lc);
    ck_assert_uint_eq(c.n, 2);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_cap)
{
    static const char marker[] =
        "\n[gitweave] log limit of 100 bytes reached; further output is not stored\n";
    static const char dropped[] = "[gitweave] 150 bytes of output were dropped\n";
    collector_t c;
    buf_t in, expect;
    logchunk_t *lc;

    collector_init(&c, 64);
    buf_init(&in);
    buf_init(&expect);
    for (int i = 0; i < 250; i++)
        buf_append(&in, &"0123456789"[i % 10], 1);
    lc = logchunk_new(64, 1000, 100, collect, &c);
    for (size_t i = 0; i < in.len; i += 30)
        logchunk_write(lc, in.data + i, in.len - i < 30 ? in.len - i : 30, 0);
    ck_assert_int_eq(logchunk_dropped(lc), 150);
    logchunk_finish(lc);
    ck_assert_int_eq(logchunk_dropped(lc), 150);

    buf_append(&expect, in.data, 100);
    buf_puts(&expect, marker);
    buf_puts(&expect, dropped);
    ck_assert_str_eq(c.all.data, expect.data);
    ck_assert_int_eq(logchunk_stored(lc), (int64_t)expect.len);
    logchunk_free(lc);
    buf_free(&in);
    buf_free(&expect);
    collector_free(&c);
}
END_TEST

/* Found by tests/fuzz/fuzz_logchunk: once the cap was reached, a write no
 * longer emitted what was pending and due, so the marker line waited for a
 * separate tick. */
START_TEST(test_cap_write_emits_due)
{
    collector_t c;
    logchunk_t *lc;

    collector_init(&c, 1024);
    lc = logchunk_new(1024, 100, 10, collect, &c);
    logchunk_write(lc, "0123456789abc", 13, 0); /* reaches the cap: marker pending */
    ck_assert_uint_eq(c.n, 0);
    logchunk_write(lc, "more", 4, 100); /* dropped, but the pending text is due */
    ck_assert_uint_eq(c.n, 1);
    ck_assert_int_eq(logchunk_deadline(lc), -1);
    ck_assert_mem_eq(c.all.data, "0123456789\n[gitweave] log limit", 31);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_cap_multibyte)
{
    collector_t c;
    logchunk_t *lc;

    /* The cap falls inside the emoji: it is dropped whole, never split. */
    collector_init(&c, 256);
    lc = logchunk_new(256, 1000, 5, collect, &c);
    logchunk_write(lc, "abc" EMOJI, 7, 0);
    ck_assert_int_eq(logchunk_dropped(lc), 4);
    logchunk_write(lc, "more\xF0\x9F", 6, 1);
    ck_assert_int_eq(logchunk_dropped(lc), 10);
    logchunk_finish(lc);
    ck_assert_str_eq(c.all.data,
                     "abc\n[gitweave] log limit of 5 bytes reached; further output is not stored\n"
                     "[gitweave] 10 bytes of output were dropped\n");
    logchunk_free(lc);
    collector_free(&c);

    /* A broken sequence that meets the cap counts all its input bytes. */
    collector_init(&c, 256);
    lc = logchunk_new(256, 1000, 2, collect, &c);
    logchunk_write(lc, "ab\xE2\x82x", 5, 0);
    ck_assert_int_eq(logchunk_dropped(lc), 3);
    logchunk_finish(lc);
    ck_assert_str_eq(c.all.data,
                     "ab\n[gitweave] log limit of 2 bytes reached; further output is not stored\n"
                     "[gitweave] 3 bytes of output were dropped\n");
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_cap_exact)
{
    collector_t c;
    logchunk_t *lc;

    /* Output that fits the cap exactly drops nothing and adds no lines. */
    collector_init(&c, 256);
    lc = logchunk_new(256, 1000, 4, collect, &c);
    logchunk_write(lc, "abcd", 4, 0);
    logchunk_finish(lc);
    ck_assert_str_eq(c.all.data, "abcd");
    ck_assert_int_eq(logchunk_dropped(lc), 0);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_finish_empty)
{
    collector_t c;
    logchunk_t *lc;

    collector_init(&c, 64);
    lc = logchunk_new(64, 100, 1000, collect, &c);
    logchunk_finish(lc);
    logchunk_finish(lc);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(logchunk_stored(lc), 0);
    ck_assert_int_eq(logchunk_dropped(lc), 0);
    ck_assert_int_eq(logchunk_deadline(lc), -1);
    logchunk_free(lc);
    collector_free(&c);
}
END_TEST

START_TEST(test_free_null)
{
    logchunk_free(NULL);
}
END_TEST

static Suite *
logchunk_suite(void)
{
    Suite *s = suite_create("logchunk");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_size_bound_ascii);
    tcase_add_test(tc, test_size_bound_multibyte);
    tcase_add_test(tc, test_large_write);
    tcase_add_test(tc, test_time_bound);
    tcase_add_test(tc, test_time_after_size_cut);
    tcase_add_test(tc, test_cut);
    tcase_add_test(tc, test_offsets_contiguous);
    tcase_add_test(tc, test_nul_replaced);
    tcase_add_test(tc, test_invalid_replaced);
    tcase_add_test(tc, test_truncated_at_finish);
    tcase_add_test(tc, test_emoji_split_across_writes);
    tcase_add_test(tc, test_cap);
    tcase_add_test(tc, test_cap_write_emits_due);
    tcase_add_test(tc, test_cap_multibyte);
    tcase_add_test(tc, test_cap_exact);
    tcase_add_test(tc, test_finish_empty);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(logchunk_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
