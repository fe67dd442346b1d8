/*
 * tests/fuzz/fuzz_dirsync.c - Active Directory's change-source values
 * (src/directory/dirsync.c): the DirSync response control's value as
 * ad_dirsync_decode() reads it (libldap's ldap_parse_dirsync_control), and
 * a uSNChanged round's stored checkpoint (ad_usn_since).
 *
 * Owns: the input as one selector byte (even: DirSync control value, odd:
 * uSN checkpoint) and the value; the properties: a decoded control gives a
 * cookie no longer than the value, a refused one gives no cookie and no
 * more-flag; a uSN checkpoint reads as a number only when it is
 * decimal text that prints back as itself.
 * Never: connects: the LDAP handle is made once and only carries
 * libldap's error code.
 */
#include "config.h"

#include <inttypes.h>

#include "directory/dirsync.h"
#include "fuzz.h"
#include "lib/log.h"

static LDAP *ld;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	if (ldap_initialize(&ld, "ldap://127.0.0.1:9") != LDAP_SUCCESS)
		abort();
	return 0;
}

static void
dirsync_value(const unsigned char *p, size_t len)
{
	struct berval value = { len, (char *)p }, cookie = { 1, (char *)"x" };
	int more = -1;

	if (ad_dirsync_decode(ld, &value, &more, &cookie) == 0) {
		fuzz_check(cookie.bv_len <= len);
		fuzz_check(cookie.bv_len == 0 || cookie.bv_val != NULL);
	} else
		fuzz_check(more == 0 && cookie.bv_val == NULL && cookie.bv_len == 0);
	ber_memfree(cookie.bv_val);
}

static void
usn_checkpoint(const unsigned char *p, size_t len)
{
	uint64_t usn = ad_usn_since(p, len);
	char text[24];

	if (usn == 0)
		return;
	snprintf(text, sizeof(text), "%" PRIu64, usn);
	/* Leading zeros aside, the text is the number. */
	while (len > 1 && p[0] == '0') {
		p++;
		len--;
	}
	fuzz_check(strlen(text) == len && memcmp(text, p, len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy;

	if (size < 1)
		return 0;
	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 2 == 0)
		dirsync_value(copy, size - 1);
	else
		usn_checkpoint(copy, size - 1);
	free(copy);
	return 0;
}
