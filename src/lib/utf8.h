/*
 * utf8.h - reading UTF-8 text that came from outside, one code point at a
 * time.
 *
 * Owns: the one UTF-8 decoder (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), counting characters, and the one verdict on
 * whether a value is text certsync may put into a certificate, with a
 * reason that says what is wrong and where.
 * Never: repairs a value.  A value that is not clean text is refused, not
 * cleaned up.
 */
#ifndef CERTSYNC_UTF8_H
#define CERTSYNC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the sequence at s (n bytes available, n > 0): returns its length
 * in bytes (1 to 4) with *cp, or 0 when s does not start a well-formed
 * sequence (a stray continuation byte, a truncated or overlong sequence, an
 * encoded surrogate, a value past U+10FFFF, or a byte that never occurs in
 * UTF-8).
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* The number of code points in s (len bytes), or -1 if s is not
 * well-formed UTF-8. */
long utf8_length(const char *s, size_t len);

/*
 * Whether cp is one that hides or reorders what a reader sees: the
 * bidirectional embeddings, overrides and isolates (U+202A..U+202E,
 * U+2066..U+2069), the line and paragraph separators (U+2028, U+2029), the
 * marks (U+061C, U+200E, U+200F), the zero-width space (U+200B) and the
 * byte order mark (U+FEFF).
 */
int utf8_is_format(uint32_t cp);

/*
 * The verdict on a value (len bytes, which may hold NUL) as text for a
 * certificate: 0 when it is well-formed UTF-8 with no control character
 * (C0 including TAB, DEL, C1) and none of the characters that reorder or
 * hide text (utf8_is_format(), except the marks U+200E, U+200F and U+061C,
 * which names in mixed scripts legitimately carry).  Otherwise -1, with a
 * reason in why that completes "ATTRIBUTE ...": "contains a NUL byte at
 * position 3", "contains a control character (TAB) at position 7", "is not
 * valid UTF-8 (byte 0xF8 at position 5)", "contains U+202E (a bidirectional
 * override) at position 4".  Positions count characters, from 1.
 */
int utf8_text_check(const char *s, size_t len, char *why, size_t whylen);

#endif
