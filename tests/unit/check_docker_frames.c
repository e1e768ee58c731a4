/*
 * check_docker_frames - unit tests of the demultiplexer for the Docker
 * Engine's multiplexed stream: frames whole, joined, split at every byte,
 * empty, interleaved, large (100 KB, 16 MB), the stream types, and a stream
 * that is not multiplexed.
 */
#include "docker_frames.h"
#include "util.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the demultiplexer delivered: each stream's bytes, and all of them in
 * delivery order with a stream tag in front of every change of stream. */
struct sink {
    buf_t stream[4];
    buf_t all;
    int last_stream;
    int calls;
    bool empty_call;
};

static void
sink_init(struct sink *s)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(s->stream); i++)
        buf_init(&s->stream[i]);
    buf_init(&s->all);
    s->last_stream = -1;
    s->calls = 0;
    s->empty_call = false;
}

static void
sink_free(struct sink *s)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(s->stream); i++)
        buf_free(&s->stream[i]);
    buf_free(&s->all);
}

static void
sink_fn(void *arg, int stream, const char *data, size_t len)
{
    struct sink *s = arg;

    ck_assert_int_ge(stream, 0);
    ck_assert_int_le(stream, 3);
    if (len == 0)
        s->empty_call = true;
    s->calls++;
    buf_append(&s->stream[stream], data, len);
    if (stream != s->last_stream)
        buf_printf(&s->all, "<%d>", stream);
    s->last_stream = stream;
    buf_append(&s->all, data, len);
}

/* Append a frame of stream with len bytes of payload to b. */
static void
frame(buf_t *b, int stream, const char *payload, size_t len)
{
    unsigned char h[8] = {(unsigned char)stream,
                          0,
                          0,
                          0,
                          (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8),
                          (unsigned char)len};

    buf_append(b, h, sizeof(h));
    buf_append(b, payload, len);
}

static void
frame_str(buf_t *b, int stream, const char *payload)
{
    frame(b, stream, payload, strlen(payload));
}

START_TEST(test_single_frame)
{
    struct sink s;
    buf_t in;

    sink_init(&s);
    buf_init(&in);
    frame_str(&in, DOCKER_STREAM_STDOUT, "hello\n");
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    docker_frames_feed(f, in.data, in.len);
    ck_assert_str_eq(s.stream[DOCKER_STREAM_STDOUT].data, "hello\n");
    ck_assert_int_eq(s.calls, 1);
    ck_assert(!docker_frames_partial(f));
    ck_assert(!docker_frames_raw(f));
    docker_frames_free(f);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

START_TEST(test_two_frames_joined)
{
    struct sink s;
    buf_t in;

    sink_init(&s);
    buf_init(&in);
    frame_str(&in, DOCKER_STREAM_STDOUT, "one\n");
    frame_str(&in, DOCKER_STREAM_STDERR, "two\n");
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    docker_frames_feed(f, in.data, in.len);
    ck_assert_str_eq(s.all.data, "<1>one\n<2>two\n");
    ck_assert_int_eq(s.calls, 2);
    ck_assert(!docker_frames_partial(f));
    docker_frames_free(f);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

/* Two frames fed in two pieces, cut at every position: inside the first
 * header, its payload, the second header and the second payload. */
START_TEST(test_split_everywhere)
{
    buf_t in;

    buf_init(&in);
    frame_str(&in, DOCKER_STREAM_STDOUT, "first payload\n");
    frame_str(&in, DOCKER_STREAM_STDERR, "second\n");
    for (size_t cut = 0; cut <= in.len; cut++) {
        struct sink s;
        sink_init(&s);
        docker_frames_t *f = docker_frames_new(sink_fn, &s);
        docker_frames_feed(f, in.data, cut);
        bool inside = cut != 0 && cut != 8 + 14 && cut != in.len;
        ck_assert_msg(docker_frames_partial(f) == inside, "cut %zu: partial is %d", cut,
                      docker_frames_partial(f));
        docker_frames_feed(f, in.data + cut, in.len - cut);
        ck_assert_msg(strcmp(s.all.data, "<1>first payload\n<2>second\n") == 0,
                      "cut %zu: got \"%s\"", cut, s.all.data);
        ck_assert(!docker_frames_partial(f));
        ck_assert(!s.empty_call);
        docker_frames_free(f);
        sink_free(&s);
    }
    buf_free(&in);
}
END_TEST

/* The worst case: one byte per feed. */
START_TEST(test_byte_by_byte)
{
    struct sink s;
    buf_t in;

    sink_init(&s);
    buf_init(&in);
    frame_str(&in, DOCKER_STREAM_STDOUT, "ab");
    frame_str(&in, DOCKER_STREAM_STDERR, "cd");
    frame_str(&in, DOCKER_STREAM_STDOUT, "ef");
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    for (size_t i = 0; i < in.len; i++)
        docker_frames_feed(f, in.data + i, 1);
    ck_assert_str_eq(s.all.data, "<1>ab<2>cd<1>ef");
    ck_assert(!docker_frames_partial(f));
    docker_frames_free(f);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

START_TEST(test_zero_length_frame)
{
    struct sink s;
    buf_t in;

    sink_init(&s);
    buf_init(&in);
    frame(&in, DOCKER_STREAM_STDOUT, "", 0);
    frame_str(&in, DOCKER_STREAM_STDERR, "after\n");
    frame(&in, DOCKER_STREAM_STDOUT, "", 0);
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    docker_frames_feed(f, in.data, in.len);
    ck_assert_str_eq(s.all.data, "<2>after\n");
    ck_assert(!s.empty_call);
    ck_assert(!docker_frames_partial(f));
    /* An empty frame on its own, split in its header. */
    buf_reset(&in);
    frame(&in, DOCKER_STREAM_STDOUT, "", 0);
    docker_frames_feed(f, in.data, 3);
    ck_assert(docker_frames_partial(f));
    docker_frames_feed(f, in.data + 3, in.len - 3);
    ck_assert(!docker_frames_partial(f));
    ck_assert_int_eq(s.calls, 1);
    docker_frames_free(f);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

START_TEST(test_interleaving_kept)
{
    struct sink s;
    buf_t in, want;
    char line[64];

    sink_init(&s);
    buf_init(&in);
    buf_init(&want);
    for (int i = 0; i < 50; i++) {
        int stream = (i % 3 == 0) ? DOCKER_STREAM_STDERR : DOCKER_STREAM_STDOUT;
        snprintf(line, sizeof(line), "line %d\n", i);
        frame_str(&in, stream, line);
        if (i == 0 || stream != ((i - 1) % 3 == 0 ? 2 : 1))
            buf_printf(&want, "<%d>", stream);
        buf_puts(&want, line);
    }
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    /* Reads of an odd size, so that cuts fall everywhere. */
    for (size_t off = 0; off < in.len; off += 7)
        docker_frames_feed(f, in.data + off, in.len - off < 7 ? in.len - off : 7);
    ck_assert_str_eq(s.all.data, want.data);
    docker_frames_free(f);
    buf_free(&in);
    buf_free(&want);
    sink_free(&s);
}
END_TEST

START_TEST(test_large_frame)
{
    const size_t size = 100 * 1024 + 3;
    struct sink s;
    buf_t in;
    char *payload = xmalloc(size);

    for (size_t i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);
    sink_init(&s);
    buf_init(&in);
    frame(&in, DOCKER_STREAM_STDERR, payload, size);
    frame_str(&in, DOCKER_STREAM_STDOUT, "tail\n");
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    /* In one piece, then again in 4 KB reads as a socket would give it. */
    docker_frames_feed(f, in.data, in.len);
    for (size_t off = 0; off < in.len; off += 4096)
        docker_frames_feed(f, in.data + off, in.len - off < 4096 ? in.len - off : 4096);
    ck_assert_uint_eq(s.stream[DOCKER_STREAM_STDERR].len, 2 * size);
    ck_assert(memcmp(s.stream[DOCKER_STREAM_STDERR].data, payload, size) == 0);
    ck_assert(memcmp(s.stream[DOCKER_STREAM_STDERR].data + size, payload, size) == 0);
    ck_assert_str_eq(s.stream[DOCKER_STREAM_STDOUT].data, "tail\ntail\n");
    ck_assert(!docker_frames_partial(f));
    docker_frames_free(f);
    free(payload);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

/* Counts bytes per stream without keeping them. */
static void
count_fn(void *arg, int stream, const char *data, size_t len)
{
    size_t *counts = arg;

    counts[stream] += len;
}

/* The size is big-endian and uses all four bytes. */
START_TEST(test_size_byte_order)
{
    const size_t size = 0x01020304; /* 16 MB and some */
    const size_t piece = 65536;
    unsigned char h[8] = {2, 0, 0, 0, 0x01, 0x02, 0x03, 0x04};
    unsigned char next[8] = {1, 0, 0, 0, 0, 0, 0, 1};
    size_t counts[4] = {0};
    char *payload = xcalloc(1, piece);

    docker_frames_t *f = docker_frames_new(count_fn, counts);
    docker_frames_feed(f, (const char *)h, sizeof(h));
    for (size_t left = size - 1; left > 0;) {
        size_t n = left < piece ? left : piece;
        docker_frames_feed(f, payload, n);
        left -= n;
    }
    ck_assert(docker_frames_partial(f));
    ck_assert_uint_eq(counts[DOCKER_STREAM_STDERR], size - 1);
    docker_frames_feed(f, payload, 1);
    ck_assert(!docker_frames_partial(f));
    ck_assert_uint_eq(counts[DOCKER_STREAM_STDERR], size);
    /* The next header is read as one. */
    docker_frames_feed(f, (const char *)next, sizeof(next));
    docker_frames_feed(f, "x", 1);
    ck_assert_uint_eq(counts[DOCKER_STREAM_STDOUT], 1);
    ck_assert(!docker_frames_raw(f));
    docker_frames_free(f);
    free(payload);
}
END_TEST

/* Stream 3 is the engine's own error stream; anything above is not a
 * stream. */
START_TEST(test_stream_types)
{
    struct sink s;
    buf_t in;
    const unsigned char bad[8] = {4, 0, 0, 0, 0, 0, 0, 2};

    sink_init(&s);
    buf_init(&in);
    frame_str(&in, DOCKER_STREAM_SYSTEM, "engine error\n");
    frame_str(&in, DOCKER_STREAM_STDIN, "in");
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    docker_frames_feed(f, in.data, in.len);
    ck_assert_str_eq(s.all.data, "<3>engine error\n<0>in");
    ck_assert(!docker_frames_raw(f));
    docker_frames_feed(f, (const char *)bad, sizeof(bad));
    ck_assert(docker_frames_raw(f));
    ck_assert_uint_eq(s.stream[DOCKER_STREAM_STDOUT].len, sizeof(bad));
    ck_assert(memcmp(s.stream[DOCKER_STREAM_STDOUT].data, bad, sizeof(bad)) == 0);
    docker_frames_free(f);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

/* Plain text where a header should be: everything goes out as stdout. */
START_TEST(test_not_multiplexed)
{
    struct sink s;
    buf_t in;

    sink_init(&s);
    buf_init(&in);
    frame_str(&in, DOCKER_STREAM_STDERR, "framed\n");
    buf_puts(&in, "plain text, no frames\n");
    docker_frames_t *f = docker_frames_new(sink_fn, &s);
    docker_frames_feed(f, in.data, 20);
    docker_frames_feed(f, in.data + 20, in.len - 20);
    ck_assert(docker_frames_raw(f));
    ck_assert(!docker_frames_partial(f));
    ck_assert_str_eq(s.all.data, "<2>framed\n<1>plain text, no frames\n");
    docker_frames_free(f);
    buf_free(&in);
    sink_free(&s);
}
END_TEST

static Suite *
docker_frames_suite(void)
{
    Suite *s = suite_create("docker_frames");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_single_frame);
    tcase_add_test(tc, test_two_frames_joined);
    tcase_add_test(tc, test_split_everywhere);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_zero_length_frame);
    tcase_add_test(tc, test_interleaving_kept);
    tcase_add_test(tc, test_large_frame);
    tcase_add_test(tc, test_size_byte_order);
    tcase_add_test(tc, test_stream_types);
    tcase_add_test(tc, test_not_multiplexed);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(docker_frames_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
