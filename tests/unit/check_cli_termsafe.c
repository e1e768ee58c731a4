/* Unit tests of the client's terminal filter: escape sequences a job may
 * print (OSC 52, OSC 0, OSC 8, CSI 2J, SGR 8, C1 controls) shown in caret
 * notation, plain colours passed, and the same output wherever the stream
 * is cut into writes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "termsafe.h"

/* in (n bytes) filtered as one stream written in two pieces, cut at `cut`. */
static char *
filter_cut(const char *in, size_t n, size_t cut)
{
    termsafe_t *t = termsafe_new();
    buf_t out;

    buf_init(&out);
    termsafe_feed(t, in, cut, &out);
    termsafe_feed(t, in + cut, n - cut, &out);
    termsafe_finish(t, &out);
    termsafe_free(t);
    return buf_steal(&out);
}

/* in filtered one byte per write. */
static char *
filter_bytewise(const char *in, size_t n)
{
    termsafe_t *t = termsafe_new();
    buf_t out;

    buf_init(&out);
    for (size_t i = 0; i < n; i++)
        termsafe_feed(t, in + i, 1, &out);
    termsafe_finish(t, &out);
    termsafe_free(t);
    return buf_steal(&out);
}

/* The same output, want, wherever the stream is cut, and byte by byte. */
static void
expect_filtered(const char *in, const char *want)
{
    size_t n = strlen(in);
    char *got;

    for (size_t cut = 0; cut <= n; cut++) {
        got = filter_cut(in, n, cut);
        ck_assert_msg(strcmp(got, want) == 0, "cut at %zu of [%s]: want [%s] got [%s]", cut, in,
                      want, got);
        free(got);
    }
    got = filter_bytewise(in, n);
    ck_assert_msg(strcmp(got, want) == 0, "byte by byte [%s]: want [%s] got [%s]", in, want, got);
    free(got);
}

START_TEST(test_text_passes)
{
    expect_filtered("", "");
    expect_filtered("hello\n", "hello\n");
    expect_filtered("a\tb\r\nprogress 10%\rprogress 20%\n", "a\tb\r\nprogress 10%\rprogress 20%\n");
    /* UTF-8, with continuation bytes in 0x80..0x9F (U+2500 is E2 94 80). */
    expect_filtered("é ü 日本 \xe2\x94\x80 \xc2\xa0 \xf0\x9f\x98\x80\n",
                    "é ü 日本 \xe2\x94\x80 \xc2\xa0 \xf0\x9f\x98\x80\n");
}
END_TEST

START_TEST(test_osc_shown)
{
    /* Clipboard write, title, each ended by BEL or by ST (ESC \). */
    expect_filtered("\033]52;c;cHduZWQ=\007after", "^[]52;c;cHduZWQ=^Gafter");
    expect_filtered("\033]52;c;cHduZWQ=\033\\after", "^[]52;c;cHduZWQ=^[\\after");
    expect_filtered("\033]0;TITLE\007", "^[]0;TITLE^G");
    expect_filtered("\033]2;TITLE\033\\", "^[]2;TITLE^[\\");
    /* A link that says one address and goes to another. */
    expect_filtered("\033]8;;http://evil.example/\033\\http://good.example/\033]8;;\033\\",
                    "^[]8;;http://evil.example/^[\\http://good.example/^[]8;;^[\\");
    /* DCS, APC, other escapes: shown from their ESC on. */
    expect_filtered("\033P+q544e\033\\", "^[P+q544e^[\\");
    expect_filtered("\033_apc\033\\", "^[_apc^[\\");
    expect_filtered("\033c\0337\0338\033(0x", "^[c^[7^[8^[(0x");
    expect_filtered("\033\033[31m", "^[\033[31m\033[0m");
}
END_TEST

START_TEST(test_csi_shown)
{
    expect_filtered("\033[2Jclear", "^[[2Jclear");
    expect_filtered("\033[H\033[1A\033[K\033[?25l\033[?1049h\033[6n",
                    "^[[H^[[1A^[[K^[[?25l^[[?1049h^[[6n");
    expect_filtered("\033[8mhidden\033[0m", "^[[8mhidden\033[0m");
    /* One refused attribute shows the whole sequence. */
    expect_filtered("\033[1;8m", "^[[1;8m");
    expect_filtered("\033[5m\033[7m\033[9m\033[28m", "^[[5m^[[7m^[[9m^[[28m");
    /* Colours with bad values, and forms that are not plain. */
    expect_filtered("\033[38;5;256m\033[38;5m\033[48;2;1;2m\033[38;2;1;2;300m\033[38m",
                    "^[[38;5;256m^[[38;5m^[[48;2;1;2m^[[38;2;1;2;300m^[[38m");
    expect_filtered("\033[38:5:1m\033[>4;2m\033[1 m\033[99999999999999999999m",
                    "^[[38:5:1m^[[>4;2m^[[1 m^[[99999999999999999999m");
    /* A sequence cut short by a control byte or a character. */
    expect_filtered("\033[31\nx", "^[[31\nx");
    expect_filtered("\033[31\033[32m", "^[[31\033[32m\033[0m");
    expect_filtered("\033[3é", "^[[3é");
}
END_TEST

START_TEST(test_colours_pass)
{
    expect_filtered("\033[0m\033[m", "\033[0m\033[m");
    expect_filtered("\033[1;31mred\033[0m", "\033[1;31mred\033[0m");
    expect_filtered("\033[90m\033[107m\033[39;49m\033[22;23;24m\033[2;3;4m\033[0m",
                    "\033[90m\033[107m\033[39;49m\033[22;23;24m\033[2;3;4m\033[0m");
    expect_filtered("\033[38;5;208mx\033[48;5;0my\033[0m", "\033[38;5;208mx\033[48;5;0my\033[0m");
    expect_filtered("\033[38;2;255;128;0;48;2;0;0;0;1mz\033[m",
                    "\033[38;2;255;128;0;48;2;0;0;0;1mz\033[m");
    /* A colour left on at the end is reset; one reset already is not repeated. */
    expect_filtered("\033[32mleft green", "\033[32mleft green\033[0m");
    expect_filtered("\033[32mgreen\033[0;31m", "\033[32mgreen\033[0;31m\033[0m");
    expect_filtered("\033[32mgreen\033[0;0m", "\033[32mgreen\033[0;0m");
}
END_TEST

START_TEST(test_controls_shown)
{
    expect_filtered("bell\a back\b\b nul-less \x01\x1f del\x7f vt\v ff\f",
                    "bell^G back^H^H nul-less ^A^_ del^? vt^K ff^L");
    /* C1 controls as UTF-8: CSI (U+009B), OSC (U+009D), NEL (U+0085), ST (U+009C). */
    expect_filtered("\xc2\x9b"
                    "31mc1",
                    "M-^[31mc1");
    expect_filtered("\xc2\x9d"
                    "0;T\xc2\x9c\xc2\x85\xc2\x80",
                    "M-^]0;TM-^\\M-^EM-^@");
    /* Bytes that are not UTF-8 (a lone C1 byte, overlong ESC forms) are U+FFFD. */
    expect_filtered("\x9b"
                    "31m",
                    "\xef\xbf\xbd"
                    "31m");
    expect_filtered("\xc0\x9b", "\xef\xbf\xbd\xef\xbf\xbd");
    expect_filtered("\xe0\x80\x9b", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    expect_filtered("\xe6\x97\n", "\xef\xbf\xbd\n");
    expect_filtered("\xff", "\xef\xbf\xbd");
}
END_TEST

START_TEST(test_unfinished_at_the_end)
{
    expect_filtered("abc\033", "abc^[");
    expect_filtered("abc\033[", "abc^[[");
    expect_filtered("abc\033[38;5", "abc^[[38;5");
    expect_filtered("abc\xe6\x97", "abc\xef\xbf\xbd");
    expect_filtered("abc\xc2", "abc\xef\xbf\xbd");
}
END_TEST

START_TEST(test_long_csi_shown)
{
    char in[256], want[256];

    /* Longer than anything held back: shown, the rest is text. */
    snprintf(in, sizeof(in), "\033[%0*dm", TERMSAFE_MAX_CSI + 10, 1);
    snprintf(want, sizeof(want), "^[[%0*dm", TERMSAFE_MAX_CSI + 10, 1);
    expect_filtered(in, want);
}
END_TEST

START_TEST(test_finish_starts_afresh)
{
    termsafe_t *t = termsafe_new();
    buf_t out;

    buf_init(&out);
    termsafe_feed(t, "\033[31mred\033]0;", 12, &out);
    termsafe_finish(t, &out);
    termsafe_feed(t, "[2J", 3, &out);
    termsafe_finish(t, &out);
    ck_assert_str_eq(out.data, "\033[31mred^[]0;\033[0m[2J");
    buf_free(&out);
    termsafe_free(t);
    termsafe_free(NULL);
}
END_TEST

START_TEST(test_string)
{
    char *s = termsafe_string("line 3 \"\033]0;x\007\" exited");

    ck_assert_str_eq(s, "line 3 \"^[]0;x^G\" exited");
    free(s);
    s = termsafe_string("");
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* Whether out holds no control byte but \t \n \r, no C1 control, and no ESC
 * but one that starts a CSI ending in 'm' with only digits and ';'. */
static bool
only_plain_and_colours(const char *out)
{
    const unsigned char *s = (const unsigned char *)out;

    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] == 0x1b) {
            size_t j = i + 2;
            if (s[i + 1] != '[')
                return false;
            while ((s[j] >= '0' && s[j] <= '9') || s[j] == ';')
                j++;
            if (s[j] != 'm')
                return false;
            i = j;
        } else if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') || s[i] == 0x7f ||
                   (s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)) {
            return false;
        }
    }
    return true;
}

START_TEST(test_random_bytes_never_escape)
{
    /* Bytes that matter most, and any byte now and then. */
    static const char alphabet[] = "\033[]m;0123456789:?\007\\\xc2\x9b\x9d\x80\xe2\x94PX^_ \n\r";
    unsigned seed = 42;

    for (int round = 0; round < 20000; round++) {
        char in[48];
        size_t n = (size_t)(rand_r(&seed) % (sizeof(in) - 1)) + 1;
        termsafe_t *t = termsafe_new();
        buf_t out;

        for (size_t i = 0; i < n; i++) {
            int r = rand_r(&seed);
            in[i] = r % 8 == 0 ? (char)(r >> 8) : alphabet[(r >> 3) % (sizeof(alphabet) - 1)];
        }
        buf_init(&out);
        for (size_t i = 0; i < n;) {
            size_t k = (size_t)(rand_r(&seed) % 5) + 1;
            k = k > n - i ? n - i : k;
            termsafe_feed(t, in + i, k, &out);
            i += k;
        }
        termsafe_finish(t, &out);
        ck_assert_msg(only_plain_and_colours(out.data ? out.data : ""), "round %d", round);
        buf_free(&out);
        termsafe_free(t);
    }
}
END_TEST

static Suite *
termsafe_suite(void)
{
    Suite *s = suite_create("cli_termsafe");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_text_passes);
    tcase_add_test(tc, test_osc_shown);
    tcase_add_test(tc, test_csi_shown);
    tcase_add_test(tc, test_colours_pass);
    tcase_add_test(tc, test_controls_shown);
    tcase_add_test(tc, test_unfinished_at_the_end);
    tcase_add_test(tc, test_long_csi_shown);
    tcase_add_test(tc, test_finish_starts_afresh);
    tcase_add_test(tc, test_string);
    tcase_add_test(tc, test_random_bytes_never_escape);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(termsafe_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
