/*
 * escape.c - outside text made safe to print (the rule is in escape.h).
 *
 * Owns: escape_text() and escape_line().
 * Never: logs (log.c calls this, not the other way round), or lets a byte
 * through that could end a line, move a cursor or reorder what is shown.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "lib/utf8.h"

/* The escaped form of the character or byte at s: its length in out[8],
 * and how many input bytes it stands for in *consumed. */
static size_t
escape_one(const unsigned char *s, size_t n, char out[8], size_t *consumed)
{
	uint32_t cp;
	size_t len = utf8_decode(s, n, &cp);

	*consumed = len == 0 ? 1 : len;
	if (len == 0 || cp < 0x20 || cp == 0x7f)
		return (size_t)snprintf(out, 8, "\\x%02x", s[0]);
	if (cp == '\\')
		return (size_t)snprintf(out, 8, "\\\\");
	if ((cp >= 0x80 && cp <= 0x9f) || utf8_is_format(cp))
		return (size_t)snprintf(out, 8, "\\u%04x", (unsigned)cp);
	memcpy(out, s, len);
	return len;
}

size_t
escape_text(char *out, size_t outlen, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0, consumed;
	int full = outlen == 0;
	char piece[8];

	for (size_t i = 0; i < len; i += consumed) {
		size_t plen = escape_one(p + i, len - i, piece, &consumed);

		/* A piece goes in whole or not at all: never half an escape. */
		if (!full && used + plen < outlen)
			memcpy(out + used, piece, plen);
		else if (!full) {
			out[used] = '\0';
			full = 1;
		}
		used += plen;
	}
	if (!full)
		out[used] = '\0';
	return used;
}

void
escape_line(FILE *f, const char *fmt, ...)
{
	char *text = NULL, *safe = NULL;
	size_t need;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	need = escape_text(NULL, 0, text, (size_t)n) + 1;
	if ((safe = malloc(need)) != NULL) {
		escape_text(safe, need, text, (size_t)n);
		fprintf(f, "%s\n", safe);
	}
	free(safe);
	free(text);
}
