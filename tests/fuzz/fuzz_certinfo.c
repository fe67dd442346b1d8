/*
 * tests/fuzz/fuzz_certinfo.c - certificates read back from the store
 * (src/pki/certinfo.c certinfo_from_der, as reconcile.c and "certsyncctl
 * list" call it) and the facts certsync prints of them.
 *
 * Owns: the properties of a certificate that decodes: its serial is hex
 * (a sign at most), its fingerprint 64 upper-case hex digits, its names
 * and rfc822Names print as strings, its times format.
 * Never: judges the certificate: a decoder's job is only not to fail
 * badly on what it is handed.
 */
#include "config.h"

#include <ctype.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "lib/log.h"
#include "pki/certinfo.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static void
facts(X509 *x)
{
	char *serial = certinfo_serial(x), *fp = certinfo_fingerprint(x);
	char *subject = certinfo_name(X509_get_subject_name(x));
	char *issuer = certinfo_name(X509_get_issuer_name(x));
	char *emails = certinfo_emails(x), buf[64];
	time_t t = 0;

	fuzz_check(serial != NULL && fp != NULL && emails != NULL);
	for (const char *p = serial[0] == '-' ? serial + 1 : serial; *p; p++)
		fuzz_check(isxdigit((unsigned char)*p) && !islower((unsigned char)*p));
	fuzz_check(strlen(fp) == 64);
	if (certinfo_time(X509_get0_notBefore(x), &t) == 0)
		certinfo_fmt_time(t, buf, sizeof(buf));
	if (certinfo_time(X509_get0_notAfter(x), &t) == 0)
		certinfo_fmt_time(t, buf, sizeof(buf));
	free(serial);
	free(fp);
	free(subject);
	free(issuer);
	free(emails);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);
	X509 *x;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	if ((x = certinfo_from_der(copy, size)) != NULL)
		facts(x);
	X509_free(x);
	ERR_clear_error();
	free(copy);
	return 0;
}
