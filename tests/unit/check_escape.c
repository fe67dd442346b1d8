/*
 * check_escape.c - outside text made safe to print (escape.c), the log's
 * one-line guarantee (log.c), and the verdict on text for a certificate
 * (utf8.c).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/escape.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "check_main.h"

/* escape_text of the len bytes at s, into a fresh static buffer. */
static const char *
esc(const char *s, size_t len)
{
	static char out[1024];
	size_t n = escape_text(out, sizeof(out), s, len);

	ck_assert_uint_eq(n, strlen(out));
	ck_assert_uint_le(n, ESCAPE_GROWTH * len);
	return out;
}
#define ESC(lit) esc(lit, sizeof(lit) - 1)

START_TEST(plain_text_unchanged)
{
	ck_assert_str_eq(ESC("Alice Example <alice@example.org>"),
	    "Alice Example <alice@example.org>");
	/* Other UTF-8 text is printed as it is: CJK, accents, emoji. */
	ck_assert_str_eq(ESC("\xe5\xb1\xb1\xe7\x94\xb0 Zo\xc3\xab \xf0\x9f\x98\x80"),
	    "\xe5\xb1\xb1\xe7\x94\xb0 Zo\xc3\xab \xf0\x9f\x98\x80");
	ck_assert_str_eq(ESC(""), "");
}
END_TEST

START_TEST(controls_escaped)
{
	ck_assert_str_eq(ESC("a\nb"), "a\\x0ab");
	ck_assert_str_eq(ESC("a\rb"), "a\\x0db");
	ck_assert_str_eq(ESC("a\tb"), "a\\x09b");
	ck_assert_str_eq(ESC("\x1b[2J"), "\\x1b[2J");
	ck_assert_str_eq(ESC("del\x7f"), "del\\x7f");
	ck_assert_str_eq(esc("n\0ul", 4), "n\\x00ul");
	/* C1 controls, as UTF-8: CSI (U+009B) and NEL (U+0085). */
	ck_assert_str_eq(ESC("\xc2\x9b" "31m"), "\\u009b31m");
	ck_assert_str_eq(ESC("x\xc2\x85y"), "x\\u0085y");
}
END_TEST

START_TEST(backslash_escaped)
{
	/* A literal "\x0a" in data must not read like an escaped LF. */
	ck_assert_str_eq(ESC("C:\\x0a"), "C:\\\\x0a");
	ck_assert_str_eq(ESC("\\"), "\\\\");
}
END_TEST

START_TEST(invalid_utf8_escaped_bytewise)
{
	ck_assert_str_eq(ESC("a\xff" "b"), "a\\xffb");
	ck_assert_str_eq(ESC("\xc0\xaf"), "\\xc0\\xaf");           /* overlong */
	ck_assert_str_eq(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");  /* surrogate */
	ck_assert_str_eq(ESC("end\xe2\x82"), "end\\xe2\\x82");     /* truncated */
	ck_assert_str_eq(ESC("\xf8\x88\x80\x80\x80"), "\\xf8\\x88\\x80\\x80\\x80");
}
END_TEST

START_TEST(format_characters_escaped)
{
	ck_assert_str_eq(ESC("evil\xe2\x80\xae" "fdp.exe"), "evil\\u202efdp.exe");
	ck_assert_str_eq(ESC("\xe2\x80\x8e\xe2\x80\x8f"), "\\u200e\\u200f");
	ck_assert_str_eq(ESC("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");
	ck_assert_str_eq(ESC("\xef\xbb\xbf" "bom"), "\\ufeffbom");
	ck_assert_str_eq(ESC("line\xe2\x80\xa8sep"), "line\\u2028sep");
	/* ZWJ holds emoji sequences together: not escaped. */
	ck_assert_str_eq(ESC("\xe2\x80\x8d"), "\xe2\x80\x8d");
}
END_TEST

START_TEST(truncation_keeps_escapes_whole)
{
	char out[6];
	size_t n;

	n = escape_text(out, sizeof(out), "ab\ncd", 5);
	ck_assert_uint_eq(n, 8);		/* "ab\x0acd" */
	ck_assert_str_eq(out, "ab");		/* never "ab\x0" */
	n = escape_text(out, sizeof(out), "abcdefgh", 8);
	ck_assert_str_eq(out, "abcde");
	ck_assert_uint_eq(n, 8);
	ck_assert_uint_eq(escape_text(NULL, 0, "a\nb", 3), 6);
}
END_TEST

/* Runs fn with stderr sent to a file; returns what was written. */
static char *
captured(void (*fn)(void))
{
	char path[] = "/tmp/check_escape.XXXXXX", *text = NULL;
	int fd, saved;
	long len;
	FILE *f;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)len + 1));
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(path);
	return text;
}

static void
log_forgery(void)
{
	log_init("certsyncd");
	log_warn("%s: skipped: %s", "uid=x,dc=test",
	    "mail \"a\ncertsyncd: uid=admin: issued\r\x1b[2K\x7f\xe2\x80\xae\" bad");
}

START_TEST(log_line_is_one_line)
{
	char *text = captured(log_forgery);

	ck_assert_str_eq(text, "certsyncd: warning: uid=x,dc=test: skipped: mail "
	    "\"a\\x0acertsyncd: uid=admin: issued\\x0d\\x1b[2K\\x7f\\u202e\" bad\n");
	free(text);
}
END_TEST

static void
log_long(void)
{
	char big[5000];

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_error("%s", big);
}

START_TEST(log_long_line_cut_not_split)
{
	char *text = captured(log_long);

	ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);
	ck_assert_ptr_nonnull(strstr(text, "\\x0a [cut]\n"));
	free(text);
}
END_TEST

static void
print_line(void)
{
	escape_line(stderr, "%-5s|%s", "dn", "a\nb\\c");
}

START_TEST(escape_line_prints_one_line)
{
	char *text = captured(print_line);

	ck_assert_str_eq(text, "dn   |a\\x0ab\\\\c\n");
	free(text);
}
END_TEST

/* utf8_text_check of a literal, returning the reason ("" when fine). */
static const char *
verdict(const char *s, size_t len)
{
	static char why[256];

	why[0] = '\0';
	if (utf8_text_check(s, len, why, sizeof(why)) == 0)
		ck_assert_str_eq(why, "");
	else
		ck_assert_str_ne(why, "");
	return why;
}
#define VERDICT(lit) verdict(lit, sizeof(lit) - 1)

START_TEST(text_check_says_what_and_where)
{
	ck_assert_str_eq(VERDICT("J\xc3\xb6rg M\xc3\xbcller"), "");
	ck_assert_str_eq(VERDICT("\xf0\x9f\x98\x80 smile"), "");
	ck_assert_str_eq(VERDICT("Alice\tBob"), "contains a control character (TAB) "
	    "at position 6");
	ck_assert_str_eq(verdict("ab\0c", 4), "contains a NUL byte at position 3");
	ck_assert_str_eq(VERDICT("a\nb"), "contains a control character (LF) at "
	    "position 2");
	ck_assert_str_eq(VERDICT("\x1b[31m"), "contains a control character (ESC) "
	    "at position 1");
	ck_assert_str_eq(VERDICT("x\x7f"), "contains a control character (DEL) at "
	    "position 2");
	ck_assert_str_eq(VERDICT("\xc3\xa9\xc2\x9b"), "contains a control character "
	    "(U+009B) at position 2");
	ck_assert_str_eq(VERDICT("Bad \xf8\x88\x80\x80\x80 Name"), "is not valid "
	    "UTF-8 (byte 0xF8 at position 5)");
	ck_assert_str_eq(VERDICT("Half \xed\xa0\x80 Pair"), "is not valid UTF-8 "
	    "(byte 0xED at position 6)");
	ck_assert_str_eq(VERDICT("abc\xe2\x80\xae" "cba"), "contains U+202E (a "
	    "bidirectional override) at position 4");
	ck_assert_str_eq(VERDICT("a\xe2\x80\xa8" "b"), "contains U+2028 (a line or "
	    "paragraph separator) at position 2");
	/* Marks that mixed-script names carry are text. */
	ck_assert_str_eq(VERDICT("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\xe2\x80\x8f"), "");
}
END_TEST

START_TEST(length_in_characters)
{
	ck_assert_int_eq(utf8_length("", 0), 0);
	ck_assert_int_eq(utf8_length("abc", 3), 3);
	ck_assert_int_eq(utf8_length("\xc3\xa9\xc3\xa9", 4), 2);
	ck_assert_int_eq(utf8_length("\xe5\xb1\xb1\xf0\x9f\x98\x80", 7), 2);
	ck_assert_int_eq(utf8_length("\xc3", 1), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("escape");
	TCase *tc = tcase_create("escape");

	tcase_add_test(tc, plain_text_unchanged);
	tcase_add_test(tc, controls_escaped);
	tcase_add_test(tc, backslash_escaped);
	tcase_add_test(tc, invalid_utf8_escaped_bytewise);
	tcase_add_test(tc, format_characters_escaped);
	tcase_add_test(tc, truncation_keeps_escapes_whole);
	tcase_add_test(tc, log_line_is_one_line);
	tcase_add_test(tc, log_long_line_cut_not_split);
	tcase_add_test(tc, escape_line_prints_one_line);
	tcase_add_test(tc, text_check_says_what_and_where);
	tcase_add_test(tc, length_in_characters);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
