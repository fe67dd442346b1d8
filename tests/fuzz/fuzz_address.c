/*
 * tests/fuzz/fuzz_address.c - address validation and normalization
 * (src/pki/address.c) on any bytes.
 *
 * Owns: the properties an address that passes must have: one '@', nothing
 * outside RFC 5321 dot-atom and LDH, at most 254 bytes, the domain lower
 * case, normalizing it again changes nothing, and it survives the stored
 * list form (join, split) as itself.  The input is also read as a stored
 * list ("a@x, b@y"): what splits must join and split back to the same.
 * Never: accepts a crash, a leak or a changed value as "refused".
 */
#include "config.h"

#include <ctype.h>

#include "fuzz.h"
#include "lib/log.h"
#include "pki/address.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static void
check_normalized(const char *in, const char *out)
{
	const char *at = strrchr(out, '@'), *why = NULL;
	struct address_list one = { NULL, 0 };
	char *again;

	fuzz_check(at != NULL && strchr(out, '@') == at);
	fuzz_check(strlen(out) == strlen(in) && strlen(out) <= 254);
	fuzz_check(address_equal(in, out));
	for (const char *p = at + 1; *p; p++)
		fuzz_check(!isupper((unsigned char)*p));
	for (const char *p = out; *p; p++)
		fuzz_check(*p > ' ' && *p < 0x7f && *p != ',' && *p != '"');
	again = address_normalize(out, &why);
	fuzz_check(again != NULL && strcmp(again, out) == 0);
	free(again);
	fuzz_check(address_list_split(out, &one) == 0 && one.n == 1 &&
	    strcmp(one.v[0], out) == 0);
	address_list_free(&one);
}

/* A stored list: what splits joins and splits back to the same list. */
static void
check_list(const char *joined)
{
	struct address_list a = { NULL, 0 }, b = { NULL, 0 };
	char *text;

	if (address_list_split(joined, &a) == -1) {
		fuzz_check(a.n == 0 && a.v == NULL);
		return;
	}
	text = address_list_join(&a);
	fuzz_check(address_list_split(text, &b) == 0);
	fuzz_check(address_list_same(&a, &b) && a.n == b.n);
	for (size_t i = 0; i < a.n; i++)
		fuzz_check(strcmp(a.v[i], b.v[i]) == 0);
	free(text);
	address_list_free(&a);
	address_list_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_strndup(data, size), *out;
	const char *why = NULL;

	if ((out = address_normalize(in, &why)) != NULL)
		check_normalized(in, out);
	else
		fuzz_check(why != NULL && *why != '\0');
	free(out);
	check_list(in);
	free(in);
	return 0;
}
