/*
 * tests/fuzz/fuzz_kra.c - what "recover" reads of key recovery
 * (src/pki/kra.c, src/pki/kra_wrap.c): a KraShare (kra_share_decode), a
 * KraBundle (kra_bundle_decode, then kra_bundle_find), and an envelope
 * opened by an agent (kra_unwrap).
 *
 * Owns: the input as one selector byte (value % 3: 0 share, 1 bundle,
 * 2 envelope) and the DER, opened as the test-only recovery agent of
 * fuzz_agent.h (the seeds are wrapped to it); the properties: a share that decodes is in range and encodes
 * back to the same bytes (DER has one spelling), a bundle that decodes has
 * 1..255 entries each with an envelope, threshold within them, and finds
 * an entry only by its certificate hash; an envelope opens to a share in
 * range or is refused with a reason.
 * Never: holds a real key.
 */
#include "config.h"

#include <openssl/pem.h>

#include "fuzz.h"
#include "fuzz_agent.h"
#include "lib/log.h"
#include "pki/kra.h"

static EVP_PKEY *agent_key;
static X509 *agent_cert;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	BIO *k = BIO_new_mem_buf(agent_key_pem, -1);
	BIO *c = BIO_new_mem_buf(agent_cert_pem, -1);

	log_set_level(LOG_LVL_ERROR);
	if (k == NULL || c == NULL ||
	    (agent_key = PEM_read_bio_PrivateKey(k, NULL, NULL, NULL)) == NULL ||
	    (agent_cert = PEM_read_bio_X509(c, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(k);
	BIO_free(c);
	return 0;
}

static void
check_share(const struct kra_share *s)
{
	fuzz_check(s->threshold >= 1 && s->threshold <= 255);
	fuzz_check(s->total >= s->threshold && s->total <= 255);
	fuzz_check(s->index >= 1 && s->index <= s->total);
	fuzz_check(memchr(s->label, '\0', sizeof(s->label)) != NULL);
	for (const char *p = s->label; *p; p++)
		fuzz_check(*p >= 0x20 && *p < 0x7f);
}

static void
share(const unsigned char *der, size_t len)
{
	struct kra_share s;
	unsigned char *again = NULL;
	size_t alen = 0;
	char err[KRA_ERR_LEN] = "";

	if (kra_share_decode(der, len, &s, err, sizeof(err)) == -1) {
		fuzz_check(err[0] != '\0');
		return;
	}
	check_share(&s);
	fuzz_check(kra_share_encode(&s, &again, &alen, err, sizeof(err)) == 0);
	fuzz_check(alen == len && memcmp(again, der, len) == 0);
	OPENSSL_clear_free(again, alen);
	kra_share_wipe(&s);
}

static void
bundle(const unsigned char *der, size_t len)
{
	struct kra_bundle b;
	const struct kra_wrapped *w;
	char err[KRA_ERR_LEN] = "";

	if (kra_bundle_decode(der, len, &b, err, sizeof(err)) == -1) {
		fuzz_check(err[0] != '\0' && b.n == 0 && b.v == NULL);
		return;
	}
	fuzz_check(b.n >= 1 && b.n <= KRA_MAX_AGENTS);
	fuzz_check(b.threshold >= 1 && (size_t)b.threshold <= b.n);
	fuzz_check(memchr(b.label, '\0', sizeof(b.label)) != NULL);
	for (size_t i = 0; i < b.n; i++)
		fuzz_check(b.v[i].envelope != NULL && b.v[i].envelope_len > 0);
	if ((w = kra_bundle_find(&b, agent_cert)) != NULL) {
		unsigned char fp[32];
		unsigned int fplen = 0;

		fuzz_check(X509_digest(agent_cert, EVP_sha256(), fp, &fplen) == 1 &&
		    memcmp(w->cert_hash, fp, sizeof(fp)) == 0);
	}
	kra_bundle_free(&b);
}

static void
envelope(const unsigned char *der, size_t len)
{
	struct kra_share s;
	char err[KRA_ERR_LEN] = "";

	if (kra_unwrap(der, len, agent_key, agent_cert, &s, err, sizeof(err)) == 0)
		check_share(&s);
	else
		fuzz_check(err[0] != '\0');
	kra_share_wipe(&s);
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
	switch (data[0] % 3) {
	case 0: share(copy, size - 1); break;
	case 1: bundle(copy, size - 1); break;
	case 2: envelope(copy, size - 1); break;
	}
	free(copy);
	return 0;
}
