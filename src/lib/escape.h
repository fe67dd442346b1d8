/*
 * escape.h - outside text made safe to print: one event is one line, and a
 * terminal is never driven by data.
 *
 * Owns: the one escaping rule for everything certsync prints that may hold
 * a value from outside (a directory value, a command-line argument, a line
 * of a file): the log (log.c runs every line through it) and what
 * certsyncctl and certsyncd --dry-run print on stdout (escape_line()).
 * Never: changes what is stored.  The audit trail and the store keep the
 * raw value; only its printed form is escaped.
 *
 * The rule:
 *   \            ->  \\            (so every escape below is unambiguous)
 *   C0 controls (U+0000..U+001F, TAB and LF included) and DEL
 *                ->  \xHH          e.g. LF is \x0a, ESC is \x1b
 *   a byte that is not part of well-formed UTF-8
 *                ->  \xHH          e.g. \xff
 *   C1 controls (U+0080..U+009F)
 *                ->  \uHHHH        e.g. \u009b
 *   characters that reorder or hide text (utf8_is_format(): U+061C,
 *   U+200B, U+200E, U+200F, U+2028..U+202E, U+2066..U+2069, U+FEFF)
 *                ->  \uHHHH        e.g. \u202e
 * Everything else, all other UTF-8 text included, is printed as it is.
 */
#ifndef CERTSYNC_ESCAPE_H
#define CERTSYNC_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Escaping multiplies a length by at most this (a byte becomes \xHH). */
#define ESCAPE_GROWTH 4

/*
 * Escapes s (len bytes; it may hold NUL) into out, NUL-terminated; when out
 * (outlen bytes) is too small the result stops before the first escape or
 * character that does not fit whole.  Returns the length of the complete
 * result (like snprintf), which is at most ESCAPE_GROWTH * len.
 */
size_t escape_text(char *out, size_t outlen, const char *s, size_t len);

/* Prints one line on f: the formatted text escaped, then a newline.  Call
 * it once per line; a newline inside the text is escaped like any LF. */
void escape_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
