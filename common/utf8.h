/*
 * utf8 - the one definition of valid UTF-8 (RFC 3629: no overlong forms,
 * no UTF-16 surrogates, nothing above U+10FFFF), shared by the API's
 * request checks (utf8_valid) and the log chunker's streaming validator
 * (utf8_lead, utf8_is_cont), and where to cut text without splitting a
 * character (utf8_cut).
 */
#ifndef GW_UTF8_H
#define GW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether c is a continuation byte (10xxxxxx). */
bool utf8_is_cont(unsigned char c);

/*
 * For a byte that starts a multi-byte sequence, set *need to the number of
 * continuation bytes and [*lo, *hi] to the range of the first of them (the
 * narrowed ranges rule out overlongs, surrogates and code points above
 * U+10FFFF; later ones are 0x80-0xBF). Returns false for a byte that cannot
 * start a sequence (ASCII included).
 */
bool utf8_lead(unsigned char c, size_t *need, unsigned char *lo, unsigned char *hi);

/* Whether len bytes of s are valid UTF-8 without NUL bytes. */
bool utf8_valid(const char *s, size_t len);

/* Where to cut UTF-8 text: the length of the longest prefix of s[0..n)
 * that does not end inside a multi-byte character. */
size_t utf8_cut(const char *s, size_t n);
/* Drop an incomplete character that snprintf left at the end of s (text
 * cut to fit a buffer). */
void utf8_trim(char *s);

#endif
