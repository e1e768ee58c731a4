/*
 * Unit tests of follow_json_text (api/follow_logs.c), the JSON text of a
 * log's chunks in pages and events: the same escapes as cJSON for every
 * byte, whole characters only, cut by the room it is given, and never
 * nothing.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "follow.h"

/* cJSON's text of s, quotes left out (caller frees). */
static char *
cjson_text(const char *s)
{
    cJSON *v = cJSON_CreateString(s);
    char *text = cJSON_PrintUnformatted(v);
    size_t n = strlen(text);
    char *inner = calloc(1, n);
    memcpy(inner, text + 1, n - 2);

    cJSON_Delete(v);
    cJSON_free(text);
    return inner;
}

START_TEST(test_escapes_match_cjson)
{
    char text[256];
    size_t n = 0;
    buf_t b;
    char *want;

    /* Every byte but NUL, and a few characters of two, three and four. */
    for (int c = 1; c < 0x80; c++)
        text[n++] = (char)c;
    memcpy(text + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    n += 9;
    text[n] = '\0';
    buf_init(&b);
    ck_assert_uint_eq(follow_json_text(&b, text, n, SIZE_MAX), n);
    want = cjson_text(text);
    ck_assert_str_eq(b.data, want);
    ck_assert_uint_eq(follow_json_text(NULL, text, n, SIZE_MAX), n);
    free(want);
    buf_free(&b);
}
END_TEST

START_TEST(test_room)
{
    buf_t b;

    buf_init(&b);
    /* Six bytes per control byte: two fit in 12, not in 11. */
    ck_assert_uint_eq(follow_json_text(&b, "\x01\x01\x01", 3, 12), 2);
    ck_assert_str_eq(b.data, "\\u0001\\u0001");
    buf_reset(&b);
    ck_assert_uint_eq(follow_json_text(&b, "\x01\x01\x01", 3, 11), 1);
    /* One character at least, whatever the room. */
    buf_reset(&b);
    ck_assert_uint_eq(follow_json_text(&b,
                                       "\x1b"
                                       "abc",
                                       4, 0),
                      1);
    ck_assert_str_eq(b.data, "\\u001b");
    buf_reset(&b);
    ck_assert_uint_eq(follow_json_text(&b, "\xf0\x9f\x98\x80z", 5, 1), 4);
    /* A character is never cut: "é" does not fit in the one byte left. */
    buf_reset(&b);
    ck_assert_uint_eq(follow_json_text(&b, "ab\xc3\xa9", 4, 3), 2);
    ck_assert_str_eq(b.data, "ab");
    /* Counting gives what writing would take. */
    ck_assert_uint_eq(follow_json_text(NULL,
                                       "a\nb\x02"
                                       "c",
                                       5, 5),
                      3);
    buf_free(&b);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("follow_json");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_escapes_match_cjson);
    tcase_add_test(tc, test_room);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
