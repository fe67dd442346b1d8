/*
 * tests/fuzz/fuzz_escape.c - the escaping of outside text for printing
 * (src/lib/escape.c escape_text, which every log line and every line
 * certsyncctl prints goes through).
 *
 * Owns: the input as one byte (a small output buffer's size) and the text;
 * the properties: the escaped text is well-formed UTF-8 with no control
 * character, no DEL and nothing that reorders or hides text (one event is
 * one line, a terminal is never driven by data); its length is what
 * escape_text returns, at most ESCAPE_GROWTH times the input; it unescapes
 * to exactly the input (the rule is unambiguous, nothing is lost); and into
 * a small buffer it comes out as a prefix of the whole, cut only between
 * escapes.
 * Never: trusts escape.c's own decoder: unescape() below is written from
 * escape.h's rule alone.
 */
#include "config.h"

#include "fuzz.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "lib/utf8.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static int
hex(const char *s, int n, unsigned long *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (unsigned long)(c - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/* UTF-8 of code point cp into out; its length. */
static size_t
put_utf8(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (unsigned char)(0xe0 | cp >> 12);
	out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp & 0x3f));
	return 3;
}

/* escape.h's rule backwards; the length, or (size_t)-1 if malformed. */
static size_t
unescape(const char *s, size_t len, unsigned char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; ) {
		unsigned long v;

		if (s[i] != '\\') {
			out[n++] = (unsigned char)s[i++];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\\') {
			out[n++] = '\\';
			i += 2;
		} else if (i + 3 < len && s[i + 1] == 'x' && hex(s + i + 2, 2, &v) == 0) {
			out[n++] = (unsigned char)v;
			i += 4;
		} else if (i + 5 < len && s[i + 1] == 'u' && hex(s + i + 2, 4, &v) == 0) {
			n += put_utf8(v, out + n);
			i += 6;
		} else
			return (size_t)-1;
	}
	return n;
}

static void
check_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; ) {
		uint32_t cp = 0;
		size_t n = utf8_decode(p + i, len - i, &cp);

		fuzz_check(n > 0);
		fuzz_check(cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f));
		fuzz_check(!utf8_is_format(cp));
		i += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *out, *small;
	unsigned char *back;
	size_t len, want, n, smalllen;

	if (size < 1)
		return 0;
	smalllen = data[0];
	len = size - 1;
	text = fuzz_strndup(data + 1, len);	/* exactly len bytes are read */
	want = ESCAPE_GROWTH * len + 1;
	if ((out = malloc(want)) == NULL || (back = malloc(len + 1)) == NULL ||
	    (small = malloc(smalllen ? smalllen : 1)) == NULL)
		abort();
	n = escape_text(out, want, text, len);
	fuzz_check(n <= ESCAPE_GROWTH * len && strlen(out) == n);
	check_clean(out, n);
	fuzz_check(unescape(out, n, back) == len && memcmp(back, text, len) == 0);
	if (smalllen > 0) {
		size_t m = escape_text(small, smalllen, text, len), k = strlen(small);

		fuzz_check(m == n && k < smalllen && memcmp(small, out, k) == 0);
		/* Cut between escapes: what is there unescapes on its own. */
		fuzz_check(unescape(small, k, back) != (size_t)-1);
	}
	free(small);
	free(back);
	free(out);
	free(text);
	return 0;
}
