/*
 * tests/fuzz/fuzz_ds389.c - what 389 Directory Server sends that
 * src/directory/ds389.c reads: an entry's nsUniqueId (ds389_uuid, the id
 * every 389-ds user is keyed by) and a stored syncrepl cookie judged
 * against the rootDSE's retro changelog (ds389_cookie_stale).
 *
 * Owns: the input as one selector byte (even: an nsUniqueId value; odd: a
 * changelog flag byte, first and last change numbers as 8 bytes each, big
 * endian, then the cookie); the properties, each checked against a rule
 * written here apart from ds389.c: an id is taken exactly when it is
 * 8-8-8-8 hex digits and becomes the lower-case 8-4-4-4-12 text of the same
 * digits; a cookie is fresh exactly when its text after the last '#' is a
 * change number the changelog still holds after, and a stale one says why
 * in one line.
 * Never: connects anywhere (the rootDSE's values come from the input).
 */
#include "config.h"

#include <ctype.h>

#include "directory/ds389.h"
#include "fuzz.h"
#include "lib/log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

/* True when p[0..len) is four groups of eight hex digits, '-' between. */
static int
is_unique_id(const uint8_t *p, size_t len)
{
	if (len != 35)
		return 0;
	for (size_t k = 0; k < len; k++)
		if (k == 8 || k == 17 || k == 26 ? p[k] != '-' : !isxdigit(p[k]))
			return 0;
	return 1;
}

static void
unique_id(const uint8_t *p, size_t len)
{
	char out[37], digits[33];
	size_t d = 0;

	memset(out, 'x', sizeof(out));
	if (ds389_uuid((const char *)p, len, out) == -1) {
		fuzz_check(!is_unique_id(p, len));
		return;
	}
	fuzz_check(is_unique_id(p, len));
	fuzz_check(strlen(out) == 36);
	for (size_t k = 0; k < 36; k++) {
		if (k == 8 || k == 13 || k == 18 || k == 23) {
			fuzz_check(out[k] == '-');
			continue;
		}
		fuzz_check(isxdigit((unsigned char)out[k]) && !isupper((unsigned char)out[k]));
		digits[d++] = out[k];
	}
	digits[d] = '\0';
	/* The same 32 digits in the same order, lower-cased. */
	for (size_t k = 0, i = 0; k < len; k++)
		if (p[k] != '-')
			fuzz_check(digits[i++] == tolower(p[k]));
}

/* The cookie's change number by the rule: the text after its last '#'
 * (a trailing NUL or more aside), decimal digits only, 23 at most (a
 * 64-bit number has 20; ds389.c reads no longer text).  1 with *n, or 0
 * (no such number, or one past 64 bits). */
static int
change_number(const uint8_t *c, size_t len, uint64_t *n)
{
	size_t start;

	while (len > 0 && c[len - 1] == '\0')
		len--;
	for (start = len; start > 0 && c[start - 1] != '#'; start--)
		;
	if (start == 0 || start == len || len - start > 23)
		return 0;
	*n = 0;
	for (size_t k = start; k < len; k++) {
		if (!isdigit(c[k]) || *n > (UINT64_MAX - (c[k] - '0')) / 10)
			return 0;
		*n = *n * 10 + (c[k] - '0');
	}
	return 1;
}

static uint64_t
u64(struct fuzz_in *in, int *ok)
{
	uint64_t v = 0;

	for (int k = 0; k < 8; k++)
		v = v << 8 | fuzz_u8(in, ok);
	return v;
}

static void
cookie(struct fuzz_in *in)
{
	struct ds389_server s = { NULL, NULL, 0, 0, 0 };
	char why[256];
	uint64_t n = 0;
	int ok = 1, stale, number, holds;

	s.have_changelog = fuzz_u8(in, &ok) & 1;
	s.first = u64(in, &ok);
	s.last = u64(in, &ok);
	memset(why, 'x', sizeof(why));
	stale = ds389_cookie_stale(&s, in->p, in->n, why, sizeof(why));
	fuzz_check(stale == 0 || stale == 1);
	number = change_number(in->p, in->n, &n);
	/* Every change after n is still there: the log starts at n + 1 or
	 * before, and an empty log means nothing ever changed (n is 0). */
	holds = s.have_changelog && (n == UINT64_MAX || s.first <= n + 1) &&
	    !(s.first == 0 && s.last == 0 && n > 0);
	/* At 2^64 - 1 "after n" is nothing; ds389.c may call it stale. */
	if (number && n < UINT64_MAX)
		fuzz_check(stale == !holds);
	if (stale) {
		fuzz_check(memchr(why, '\0', sizeof(why)) != NULL);
		fuzz_check(why[0] != '\0' && strchr(why, '\n') == NULL);
	} else
		fuzz_check(number && holds);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t *copy;
	int ok = 1;
	unsigned sel = fuzz_u8(&in, &ok);

	if (!ok)
		return 0;
	/* An exact-size copy, so ASan sees a read past the value. */
	if ((copy = malloc(in.n + 1)) == NULL)
		abort();
	memcpy(copy, in.p, in.n);
	in.p = copy;
	if (sel % 2 == 0)
		unique_id(copy, in.n);
	else
		cookie(&in);
	free(copy);
	return 0;
}
