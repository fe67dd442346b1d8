/*
 * utf8.c - reading UTF-8 text that came from outside.
 *
 * Owns: the decoder, the character count and the verdict on a value as
 * certificate text (see utf8.h).
 * Never: allocates, or accepts a sequence RFC 3629 forbids: an overlong
 * form could smuggle a NUL or a '/' past a byte-wise check.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/utf8.h"

size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) { len = 2; v = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { len = 3; v = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { len = 4; v = s[0] & 0x07; }
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* The shortest form only, no surrogates, nothing past Unicode. */
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) ||
	    (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

long
utf8_length(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long chars = 0;
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n, chars++)
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0)
			return -1;
	return chars;
}

int
utf8_is_format(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200b || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff;
}

/* The common name of a C0 control character, or NULL. */
static const char *
control_name(uint32_t cp)
{
	static const char *const names[] = {
		[0x00] = "NUL", [0x07] = "BEL", [0x08] = "BS", [0x09] = "TAB",
		[0x0a] = "LF", [0x0b] = "VT", [0x0c] = "FF", [0x0d] = "CR",
		[0x1b] = "ESC",
	};

	if (cp == 0x7f)
		return "DEL";
	return cp < sizeof(names) / sizeof(names[0]) ? names[cp] : NULL;
}

static const char *
format_name(uint32_t cp)
{
	if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return "a bidirectional override";
	if (cp == 0x2028 || cp == 0x2029)
		return "a line or paragraph separator";
	return "an invisible character";
}

/* One character's verdict: 0 fine, else -1 with why. */
static int
char_check(uint32_t cp, long pos, char *why, size_t whylen)
{
	const char *name;

	if (cp == 0) {
		snprintf(why, whylen, "contains a NUL byte at position %ld", pos);
		return -1;
	}
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
		if ((name = control_name(cp)) != NULL)
			snprintf(why, whylen, "contains a control character (%s) at "
			    "position %ld", name, pos);
		else
			snprintf(why, whylen, "contains a control character "
			    "(U+%04X) at position %ld", (unsigned)cp, pos);
		return -1;
	}
	if (utf8_is_format(cp) && cp != 0x200e && cp != 0x200f && cp != 0x061c) {
		snprintf(why, whylen, "contains U+%04X (%s) at position %ld",
		    (unsigned)cp, format_name(cp), pos);
		return -1;
	}
	return 0;
}

int
utf8_text_check(const char *s, size_t len, char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)s;
	long pos = 1;
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n, pos++) {
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0) {
			snprintf(why, whylen, "is not valid UTF-8 (byte 0x%02X at "
			    "position %ld)", p[i], pos);
			return -1;
		}
		if (char_check(cp, pos, why, whylen) == -1)
			return -1;
	}
	return 0;
}
