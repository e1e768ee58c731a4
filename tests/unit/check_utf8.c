/*
 * Unit tests of common/utf8.c: validation (examples, and every sequence of
 * up to three bytes against a decoder written from RFC 3629), and cutting.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

START_TEST(test_valid_examples)
{
    ck_assert(utf8_valid("", 0));
    ck_assert(utf8_valid("plain ascii", 11));
    ck_assert(utf8_valid("caf\xc3\xa9", 5));
    ck_assert(utf8_valid("\xe2\x82\xac", 3));
    ck_assert(utf8_valid("\xf0\x9f\x98\x80", 4));
    ck_assert(utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */

    ck_assert(!utf8_valid("a\0b", 3));             /* NUL */
    ck_assert(!utf8_valid("\xc3", 1));             /* truncated */
    ck_assert(!utf8_valid("\xe2\x82", 2));         /* truncated */
    ck_assert(!utf8_valid("\x80", 1));             /* lone continuation */
    ck_assert(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    ck_assert(!utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    ck_assert(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!utf8_valid("\xff", 1));
    ck_assert(!utf8_valid("\xc3\x28", 2));
    ck_assert(!utf8_valid("\xe2\x82\x28", 3)); /* a bad second continuation */
}
END_TEST

/* RFC 3629 read literally: decode the code point, then refuse overlong
 * forms, surrogates and anything above U+10FFFF. */
static bool
reference_valid(const unsigned char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i], cp, min;
        size_t n;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        i += n + 1;
    }
    return true;
}

/* Every string of one to three bytes, and every four-byte string whose
 * last two bytes are at the edges of the continuation range. (A plain
 * comparison: ck_assert marks a point per call, far too slow here.) */
START_TEST(test_valid_matches_reference)
{
    static const unsigned char edges[] = {0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xFF};
    unsigned char s[4];

    for (uint32_t v = 0; v < (1u << 24); v++) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        for (size_t len = 1; len <= 3; len++)
            if ((len == 3 || (v & 0xFF) == 0) &&
                utf8_valid((const char *)s, len) != reference_valid(s, len))
                ck_abort_msg("%02x %02x %02x len %zu", s[0], s[1], s[2], len);
    }
    for (unsigned a = 0xE0; a <= 0xFF; a++)
        for (unsigned b = 0; b <= 0xFF; b++)
            for (size_t x = 0; x < sizeof(edges); x++)
                for (size_t y = 0; y < sizeof(edges); y++) {
                    s[0] = (unsigned char)a;
                    s[1] = (unsigned char)b;
                    s[2] = edges[x];
                    s[3] = edges[y];
                    if (utf8_valid((const char *)s, 4) != reference_valid(s, 4))
                        ck_abort_msg("%02x %02x %02x %02x", s[0], s[1], s[2], s[3]);
                }
}
END_TEST

START_TEST(test_cut)
{
    /* "é" is two bytes, "€" three, "😀" four. */
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";

    ck_assert_uint_eq(utf8_cut(s, 0), 0);
    ck_assert_uint_eq(utf8_cut(s, 1), 1);
    ck_assert_uint_eq(utf8_cut(s, 2), 1);
    ck_assert_uint_eq(utf8_cut(s, 3), 3);
    ck_assert_uint_eq(utf8_cut(s, 4), 3);
    ck_assert_uint_eq(utf8_cut(s, 5), 3);
    ck_assert_uint_eq(utf8_cut(s, 6), 6);
    for (size_t n = 7; n < 10; n++)
        ck_assert_uint_eq(utf8_cut(s, n), 6);
    ck_assert_uint_eq(utf8_cut(s, 10), 10);
    /* Continuation bytes with no lead byte are not text to repair. */
    ck_assert_uint_eq(utf8_cut("\x80\x80", 2), 2);

    char t[] = "ab\xe2\x82";
    utf8_trim(t);
    ck_assert_str_eq(t, "ab");
}
END_TEST

START_TEST(test_lead)
{
    size_t need;
    unsigned char lo, hi;

    ck_assert(!utf8_lead('a', &need, &lo, &hi));
    ck_assert(!utf8_lead(0xC1, &need, &lo, &hi));
    ck_assert(!utf8_lead(0xF5, &need, &lo, &hi));
    ck_assert(utf8_lead(0xE0, &need, &lo, &hi));
    ck_assert_uint_eq(need, 2);
    ck_assert_uint_eq(lo, 0xA0);
    ck_assert(utf8_lead(0xF4, &need, &lo, &hi));
    ck_assert_uint_eq(need, 3);
    ck_assert_uint_eq(hi, 0x8F);
    ck_assert(utf8_is_cont(0x80) && utf8_is_cont(0xBF) && !utf8_is_cont(0xC0));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_valid_examples);
    tcase_add_test(tc, test_valid_matches_reference);
    tcase_add_test(tc, test_cut);
    tcase_add_test(tc, test_lead);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
