/* Unit tests of the client's Server-Sent Events parser: events split at
 * every byte, comments, multi-line data, CRLF and CR line ends, ids. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sse_reader.h"

/* The events seen, one "type|id|data" line each. */
typedef struct {
    buf_t out;
    int stop_after; /* return 1 from this event on (0: never) */
    int count;
} seen_t;

static int
on_event(void *ctx, const char *event, const char *data, size_t len, const char *id)
{
    seen_t *s = ctx;

    ck_assert_uint_eq(strlen(data), len);
    buf_printf(&s->out, "%s|%s|%s\n", event, id, data);
    s->count++;
    return s->stop_after != 0 && s->count >= s->stop_after;
}

/* Feed text in pieces of `step` bytes; return what came out. */
static char *
parse_in_steps(const char *text, size_t step)
{
    seen_t s = {.stop_after = 0};
    sse_reader_t *r = sse_reader_new(on_event, &s);
    size_t n = strlen(text);

    buf_init(&s.out);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        ck_assert_int_eq(sse_reader_feed(r, text + i, k), 0);
    }
    sse_reader_free(r);
    buf_puts(&s.out, "");
    return buf_steal(&s.out);
}

/* The same result whatever the pieces the stream arrives in. */
static void
expect_events(const char *text, const char *want)
{
    size_t n = strlen(text);

    for (size_t step = 1; step <= n; step++) {
        char *got = parse_in_steps(text, step);
        ck_assert_msg(strcmp(got, want) == 0, "step %zu: want [%s] got [%s]", step, want, got);
        free(got);
    }
}

START_TEST(test_chunk_events_of_the_api)
{
    expect_events(
        "event: chunk\nid: 6\ndata: {\"offset\": 0, \"chunk\": \"hello\\n\"}\n\n"
        "event: end\ndata: {\"status\":\"success\",\"exit_code\":0,\"next_offset\":6}\n\n",
        "chunk|6|{\"offset\": 0, \"chunk\": \"hello\\n\"}\n"
        "end|6|{\"status\":\"success\",\"exit_code\":0,\"next_offset\":6}\n");
}
END_TEST

START_TEST(test_comments_are_ignored)
{
    expect_events(": keep-alive\n\n:\ndata: a\n: in the middle\n\n", "message||a\n");
}
END_TEST

START_TEST(test_multi_line_data)
{
    expect_events("data: one\ndata:two\ndata\ndata:  three\n\n", "message||one\ntwo\n\n three\n");
}
END_TEST

START_TEST(test_crlf_and_cr_line_ends)
{
    expect_events("event: job\r\nid: 1\r\ndata: x\r\n\r\ndata: y\rdata: z\r\r",
                  "job|1|x\nmessage|1|y\nz\n");
}
END_TEST

START_TEST(test_cr_then_lf_in_the_next_feed)
{
    seen_t s = {.stop_after = 0};
    sse_reader_t *r = sse_reader_new(on_event, &s);

    buf_init(&s.out);
    /* One line end split across two feeds: not an empty line in between. */
    ck_assert_int_eq(sse_reader_feed(r, "data: a\r", 8), 0);
    ck_assert_int_eq(sse_reader_feed(r, "\ndata: b\r", 9), 0);
    ck_assert_int_eq(s.count, 0);
    ck_assert_int_eq(sse_reader_feed(r, "\n\r\n", 3), 0);
    ck_assert_str_eq(s.out.data, "message||a\nb\n");
    sse_reader_free(r);
    buf_free(&s.out);
}
END_TEST

START_TEST(test_event_without_data_is_not_dispatched)
{
    expect_events("event: chunk\nid: 9\n\ndata: d\n\n", "message|9|d\n");
}
END_TEST

START_TEST(test_id_persists_and_event_type_resets)
{
    expect_events("event: chunk\nid: 10\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
                  "chunk|10|a\nmessage|10|b\nmessage||c\n");
}
END_TEST

START_TEST(test_field_without_colon_and_unknown_fields)
{
    expect_events("retry: 1000\nfoo: bar\ndata\n\nevent\ndata:x\n\n", "message||\nmessage||x\n");
}
END_TEST

START_TEST(test_unfinished_event_is_not_dispatched)
{
    expect_events("data: complete\n\ndata: cut off\n", "message||complete\n");
}
END_TEST

START_TEST(test_byte_order_mark_at_the_start)
{
    expect_events("\xEF\xBB\xBF"
                  "data: a\n\n",
                  "message||a\n");
    /* Anywhere else it is data. */
    expect_events("data: \xEF\xBB\xBF\n\n", "message||\xEF\xBB\xBF\n");
}
END_TEST

START_TEST(test_callback_stops_the_feed)
{
    seen_t s = {.stop_after = 1};
    sse_reader_t *r = sse_reader_new(on_event, &s);
    const char *text = "data: a\n\ndata: b\n\n";

    buf_init(&s.out);
    ck_assert_int_eq(sse_reader_feed(r, text, strlen(text)), 1);
    ck_assert_int_eq(s.count, 1);
    ck_assert_str_eq(sse_reader_last_id(r), "");
    sse_reader_free(r);
    buf_free(&s.out);
}
END_TEST

START_TEST(test_free_null)
{
    sse_reader_free(NULL);
}
END_TEST

static Suite *
sse_suite(void)
{
    Suite *s = suite_create("sse_reader");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_chunk_events_of_the_api);
    tcase_add_test(tc, test_comments_are_ignored);
    tcase_add_test(tc, test_multi_line_data);
    tcase_add_test(tc, test_crlf_and_cr_line_ends);
    tcase_add_test(tc, test_cr_then_lf_in_the_next_feed);
    tcase_add_test(tc, test_event_without_data_is_not_dispatched);
    tcase_add_test(tc, test_id_persists_and_event_type_resets);
    tcase_add_test(tc, test_field_without_colon_and_unknown_fields);
    tcase_add_test(tc, test_unfinished_event_is_not_dispatched);
    tcase_add_test(tc, test_byte_order_mark_at_the_start);
    tcase_add_test(tc, test_callback_stops_the_feed);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sse_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
