/*
 * tests/fuzz/fuzz_p12.c - PKCS#12 files as "recover" and the archive step
 * read them (src/pki/keystore.c keystore_decode, the bytes of
 * keystore_load).
 *
 * Owns: the fixed password the seeds were made with (FUZZ_P12_PASSWORD)
 * and the input as one selector byte and the file: even, the file as it
 * is; odd, the file re-MACed under that password after parsing (mutations
 * inside the MAC-protected part then reach PKCS12_parse instead of ending
 * at the MAC).  The property: a file that opens gives a key and a
 * certificate, one that does not gives neither.
 * Never: reads a file; the seeds are PKCS#12 files made by
 * keystore_p12_encode (tests/fuzz/seeds.c).
 */
#include "config.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "fuzz.h"
#include "lib/log.h"
#include "pki/keystore.h"

#define FUZZ_P12_PASSWORD "fuzz-archive-password"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

/* The file with a fresh MAC (1 iteration), or NULL when it does not parse. */
static unsigned char *
remac(const unsigned char *der, size_t len, size_t *outlen)
{
	const unsigned char *p = der;
	unsigned char *out = NULL;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	int n;

	if (p12 == NULL)
		return NULL;
	if (PKCS12_set_mac(p12, FUZZ_P12_PASSWORD, -1, NULL, 0, 1, NULL) == 1 &&
	    (n = i2d_PKCS12(p12, &out)) > 0)
		*outlen = (size_t)n;
	PKCS12_free(p12);
	return out;
}

static void
decode(const unsigned char *der, size_t len)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	if (keystore_decode(der, len, "fuzz.p12", FUZZ_P12_PASSWORD, &key, &cert) == 0)
		fuzz_check(key != NULL && cert != NULL);
	else
		fuzz_check(key == NULL && cert == NULL);
	EVP_PKEY_free(key);
	X509_free(cert);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy, *again;
	size_t alen = 0;

	if (size < 1)
		return 0;
	if ((copy = malloc(size)) == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 2 == 0)
		decode(copy, size - 1);
	else if ((again = remac(copy, size - 1, &alen)) != NULL) {
		decode(again, alen);
		OPENSSL_free(again);
	}
	ERR_clear_error();
	free(copy);
	return 0;
}
