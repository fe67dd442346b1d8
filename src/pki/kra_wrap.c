/*
 * kra_wrap.c - shares wrapped to agents: CMS envelopes and the bundle.
 *
 * Owns: one CMS EnvelopedData per agent (RSA-OAEP/SHA-256 key transport or
 * ECDH with an X9.63 SHA-256 KDF and AES-256 key wrap, AES-256-CBC content),
 * the KraBundle DER that lists them (kra.h has the ASN.1), and opening one
 * envelope with an agent's key.
 * Never: writes a plain share anywhere but into the envelope being built or
 * the caller's struct, or frees one unwiped.  OpenSSL's own working copies
 * (cipher contexts, the content key) are wiped by OpenSSL when freed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "pki/kra.h"

typedef struct {
	ASN1_OCTET_STRING *cert_hash;
	ASN1_TYPE *envelope;	/* a SEQUENCE kept as its whole encoding */
} KRA_WRAPPED_ASN;

DEFINE_STACK_OF(KRA_WRAPPED_ASN)

typedef struct {
	int32_t version;
	int32_t threshold;
	ASN1_UTF8STRING *label;
	STACK_OF(KRA_WRAPPED_ASN) *agents;
} KRA_BUNDLE_ASN;

ASN1_SEQUENCE(KRA_WRAPPED_ASN) = {
	ASN1_SIMPLE(KRA_WRAPPED_ASN, cert_hash, ASN1_OCTET_STRING),
	ASN1_SIMPLE(KRA_WRAPPED_ASN, envelope, ASN1_ANY),
} static_ASN1_SEQUENCE_END(KRA_WRAPPED_ASN)

ASN1_SEQUENCE(KRA_BUNDLE_ASN) = {
	ASN1_EMBED(KRA_BUNDLE_ASN, version, INT32),
	ASN1_EMBED(KRA_BUNDLE_ASN, threshold, INT32),
	ASN1_SIMPLE(KRA_BUNDLE_ASN, label, ASN1_UTF8STRING),
	ASN1_SEQUENCE_OF(KRA_BUNDLE_ASN, agents, KRA_WRAPPED_ASN),
} static_ASN1_SEQUENCE_END(KRA_BUNDLE_ASN)

#define BUNDLE_ITEM ASN1_ITEM_rptr(KRA_BUNDLE_ASN)
#define WRAPPED_ITEM ASN1_ITEM_rptr(KRA_WRAPPED_ASN)
/* Far above 255 envelopes of RSA-16384 or P-384 agents. */
#define BUNDLE_MAX (4 * 1024 * 1024)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* OpenSSL's newest error reason, for the end of a message. */
static const char *
ssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "no detail";
}

/* The agent's subject, RFC 2253 with everything outside ASCII escaped, so
 * it prints safely. */
static void
agent_name(X509 *cert, char *buf, size_t buflen)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	snprintf(buf, buflen, "(unnamed)");
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253) >= 0 && (n = BIO_read(b, buf, (int)buflen - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* Sets the key transport or agreement parameters kra.h promises on the
 * recipient just added.  Returns 0, or -1 with err. */
static int
recipient_params(CMS_RecipientInfo *ri, char *err, size_t errlen)
{
	EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
	int ok = 0;

	if (pctx == NULL) {
		seterr(err, errlen, "no key context for the recipient");
		return -1;
	}
	switch (CMS_RecipientInfo_type(ri)) {
	case CMS_RECIPINFO_TRANS:
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0
		    && EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
		break;
	case CMS_RECIPINFO_AGREE:
		/* The wrap algorithm follows the content cipher: AES-256. */
		ok = EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) > 0;
		break;
	default:
		break;
	}
	if (!ok) {
		seterr(err, errlen, "cannot set RSA-OAEP or ECDH parameters: %s",
		    ssl_reason());
		return -1;
	}
	return 0;
}

/* The envelope around content[len] for agent.  Returns the CMS or NULL
 * with err. */
static CMS_ContentInfo *
envelope_build(const unsigned char *content, size_t len, X509 *agent,
    char *err, size_t errlen)
{
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	BIO *in = NULL;

	if ((in = BIO_new_mem_buf(content, (int)len)) == NULL ||
	    (cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(),
	    CMS_BINARY | CMS_PARTIAL)) == NULL) {
		seterr(err, errlen, "cannot start a CMS envelope: %s",
		    ssl_reason());
		goto fail;
	}
	/* CMS_KEY_PARAM: a key context now, so OAEP/KDF can be chosen. */
	if ((ri = CMS_add1_recipient_cert(cms, agent, CMS_KEY_PARAM)) == NULL) {
		seterr(err, errlen, "cannot make the agent a recipient: %s",
		    ssl_reason());
		goto fail;
	}
	if (recipient_params(ri, err, errlen) == -1)
		goto fail;
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
		seterr(err, errlen, "cannot encrypt the share: %s", ssl_reason());
		goto fail;
	}
	BIO_free(in);
	return cms;
fail:
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return NULL;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_envelope(const struct kra_share *share, X509 *agent, unsigned char **der,
    size_t *len, char *err, size_t errlen)
{
	CMS_ContentInfo *cms = NULL;
	unsigned char *content = NULL, *out = NULL;
	size_t clen = 0;
	char name[256];
	int n, rc = -1;

	*der = NULL;
	*len = 0;
	if (kra_share_encode(share, &content, &clen, err, errlen) == -1)
		return -1;
	if ((cms = envelope_build(content, clen, agent, err, errlen)) == NULL)
		goto done;
	if ((n = i2d_CMS_ContentInfo(cms, &out)) <= 0) {
		seterr(err, errlen, "cannot encode the envelope: %s",
		    ssl_reason());
		goto done;
	}
	*der = out;
	*len = (size_t)n;
	rc = 0;
done:
	if (rc == -1) {
		/* Name the agent in front of the reason. */
		char why[KRA_ERR_LEN];

		snprintf(why, sizeof(why), "%s", err);
		agent_name(agent, name, sizeof(name));
		seterr(err, errlen, "agent %s: %s", name, why);
	}
	CMS_ContentInfo_free(cms);
	OPENSSL_clear_free(content, clen);
	return rc;
}

/* A KraWrapped for agent holding envelope der[len].  NULL when out of
 * memory. */
static KRA_WRAPPED_ASN *
wrapped_new(X509 *agent, const unsigned char *der, size_t len)
{
	KRA_WRAPPED_ASN *w = NULL;
	ASN1_STRING *seq = NULL;
	unsigned char fp[KRA_FP_LEN];
	unsigned int fplen = 0;

	if ((w = (KRA_WRAPPED_ASN *)ASN1_item_new(WRAPPED_ITEM)) == NULL ||
	    X509_digest(agent, EVP_sha256(), fp, &fplen) != 1 ||
	    fplen != KRA_FP_LEN ||
	    !ASN1_OCTET_STRING_set(w->cert_hash, fp, KRA_FP_LEN) ||
	    (seq = ASN1_STRING_new()) == NULL ||
	    !ASN1_STRING_set(seq, der, (int)len))
		goto fail;
	ASN1_TYPE_set(w->envelope, V_ASN1_SEQUENCE, seq);
	return w;
fail:
	ASN1_STRING_free(seq);
	ASN1_item_free((ASN1_VALUE *)w, WRAPPED_ITEM);
	return NULL;
}

/* Wraps shares[i] to agents[i] into the bundle b.  Returns 0 or -1. */
static int
bundle_add_all(KRA_BUNDLE_ASN *b, const struct kra_share *shares,
    X509 *const *agents, size_t n, char *err, size_t errlen)
{
	KRA_WRAPPED_ASN *w;
	unsigned char *der = NULL;
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		if (kra_envelope(&shares[i], agents[i], &der, &len, err,
		    errlen) == -1)
			return -1;
		w = wrapped_new(agents[i], der, len);
		OPENSSL_free(der);
		if (w == NULL || !sk_KRA_WRAPPED_ASN_push(b->agents, w)) {
			ASN1_item_free((ASN1_VALUE *)w, WRAPPED_ITEM);
			seterr(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_wrap(const unsigned char secret[KRA_SECRET_LEN], const char *label,
    X509 *const *agents, size_t n, int m, unsigned char **der, size_t *len,
    char *err, size_t errlen)
{
	KRA_BUNDLE_ASN *b = NULL;
	struct kra_share *shares = NULL;
	unsigned char *out = NULL;
	int outlen, rc = -1;

	*der = NULL;
	*len = 0;
	if (n < 1 || n > KRA_MAX_AGENTS) {
		seterr(err, errlen, "%zu recovery agents; 1 to 255 can be used", n);
		return -1;
	}
	if ((shares = OPENSSL_zalloc(n * sizeof(*shares))) == NULL ||
	    (b = (KRA_BUNDLE_ASN *)ASN1_item_new(BUNDLE_ITEM)) == NULL) {
		seterr(err, errlen, "out of memory");
		goto done;
	}
	if (kra_split(secret, label, m, (int)n, shares, err, errlen) == -1 ||
	    bundle_add_all(b, shares, agents, n, err, errlen) == -1)
		goto done;
	b->version = KRA_VERSION;
	b->threshold = m;
	if (!ASN1_STRING_set(b->label, label, (int)strlen(label)) ||
	    (outlen = ASN1_item_i2d((ASN1_VALUE *)b, &out, BUNDLE_ITEM)) <= 0) {
		seterr(err, errlen, "cannot encode the bundle (out of memory)");
		goto done;
	}
	*der = out;
	*len = (size_t)outlen;
	rc = 0;
done:
	OPENSSL_clear_free(shares, n * sizeof(*shares));
	ASN1_item_free((ASN1_VALUE *)b, BUNDLE_ITEM);
	return rc;
}

void
kra_bundle_free(struct kra_bundle *bundle)
{
	size_t i;

	for (i = 0; i < bundle->n; i++)
		OPENSSL_free(bundle->v[i].envelope);
	OPENSSL_free(bundle->v);
	memset(bundle, 0, sizeof(*bundle));
}

/* 1 when der[len] is CMS EnvelopedData and nothing else. */
static int
is_enveloped(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	int ok;

	ok = cms != NULL && p == der + len &&
	    OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_enveloped;
	CMS_ContentInfo_free(cms);
	return ok;
}

/* Copies KraWrapped i of a into bundle->v[i].  Returns 0, or -1 with err. */
static int
wrapped_copy(const KRA_WRAPPED_ASN *w, size_t i, struct kra_bundle *bundle,
    char *err, size_t errlen)
{
	const ASN1_STRING *seq = w->envelope->value.sequence;
	size_t j;

	if (w->cert_hash->length != KRA_FP_LEN ||
	    w->envelope->type != V_ASN1_SEQUENCE ||
	    !is_enveloped(seq->data, (size_t)seq->length)) {
		seterr(err, errlen, "agent %zu's entry is not a SHA-256 hash and "
		    "a CMS EnvelopedData", i + 1);
		return -1;
	}
	memcpy(bundle->v[i].cert_hash, w->cert_hash->data, KRA_FP_LEN);
	for (j = 0; j < i; j++)
		if (memcmp(bundle->v[j].cert_hash, bundle->v[i].cert_hash,
		    KRA_FP_LEN) == 0) {
			seterr(err, errlen, "agents %zu and %zu are the same "
			    "certificate", j + 1, i + 1);
			return -1;
		}
	if ((bundle->v[i].envelope = OPENSSL_memdup(seq->data,
	    (size_t)seq->length)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	bundle->v[i].envelope_len = (size_t)seq->length;
	bundle->n = i + 1;
	return 0;
}

/* 1 when the label is what kra_split() accepts: printable ASCII. */
static int
label_printable(const ASN1_STRING *label)
{
	int i;

	if (label->length > KRA_LABEL_MAX)
		return 0;
	for (i = 0; i < label->length; i++)
		if (label->data[i] < 0x20 || label->data[i] > 0x7e)
			return 0;
	return 1;
}

/* Checks the bundle's own fields and copies its agents.  Returns 0 or -1. */
static int
bundle_from_asn(const KRA_BUNDLE_ASN *b, struct kra_bundle *bundle,
    char *err, size_t errlen)
{
	int n = sk_KRA_WRAPPED_ASN_num(b->agents), i;

	if (b->version != KRA_VERSION) {
		seterr(err, errlen, "bundle format version %ld is not %d",
		    (long)b->version, KRA_VERSION);
		return -1;
	}
	if (n < 1 || n > KRA_MAX_AGENTS || b->threshold < 1 ||
	    b->threshold > n || !label_printable(b->label)) {
		seterr(err, errlen, "the bundle's quorum %ld of %d agents or its "
		    "label is out of range", (long)b->threshold, n);
		return -1;
	}
	bundle->threshold = (int)b->threshold;
	memcpy(bundle->label, b->label->data, (size_t)b->label->length);
	bundle->label[b->label->length] = '\0';
	if ((bundle->v = OPENSSL_zalloc((size_t)n * sizeof(*bundle->v))) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (wrapped_copy(sk_KRA_WRAPPED_ASN_value(b->agents, i), (size_t)i,
		    bundle, err, errlen) == -1)
			return -1;
	return 0;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_bundle_decode(const unsigned char *der, size_t len,
    struct kra_bundle *bundle, char *err, size_t errlen)
{
	KRA_BUNDLE_ASN *b = NULL;
	const unsigned char *p = der;
	unsigned char *again = NULL;
	int n = 0, rc = -1;

	memset(bundle, 0, sizeof(*bundle));
	if (len == 0 || len > BUNDLE_MAX ||
	    (b = (KRA_BUNDLE_ASN *)ASN1_item_d2i(NULL, &p, (long)len,
	    BUNDLE_ITEM)) == NULL || p != der + len ||
	    (n = ASN1_item_i2d((ASN1_VALUE *)b, &again, BUNDLE_ITEM)) <= 0 ||
	    (size_t)n != len || memcmp(again, der, len) != 0) {
		seterr(err, errlen, "not a certsync key recovery bundle "
		    "(KraBundle DER): corrupt or another kind of file");
		goto done;
	}
	if (bundle_from_asn(b, bundle, err, errlen) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		kra_bundle_free(bundle);
	OPENSSL_free(again);
	ASN1_item_free((ASN1_VALUE *)b, BUNDLE_ITEM);
	return rc;
}

const struct kra_wrapped *
kra_bundle_find(const struct kra_bundle *bundle, X509 *agent)
{
	unsigned char fp[KRA_FP_LEN];
	unsigned int fplen = 0;
	size_t i;

	if (X509_digest(agent, EVP_sha256(), fp, &fplen) != 1 ||
	    fplen != KRA_FP_LEN)
		return NULL;
	for (i = 0; i < bundle->n; i++)
		if (memcmp(bundle->v[i].cert_hash, fp, KRA_FP_LEN) == 0)
			return &bundle->v[i];
	return NULL;
}

/* 1 when one of the envelope's recipients is cert (issuer and serial, or
 * subject key identifier). */
static int
recipient_is(CMS_ContentInfo *cms, X509 *cert)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	STACK_OF(CMS_RecipientEncryptedKey) *reks;
	CMS_RecipientInfo *ri;
	int i, j;

	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		ri = sk_CMS_RecipientInfo_value(ris, i);
		if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
		    CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
			return 1;
		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE)
			continue;
		reks = CMS_RecipientInfo_kari_get0_reks(ri);
		for (j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++)
			if (CMS_RecipientEncryptedKey_cert_cmp(
			    sk_CMS_RecipientEncryptedKey_value(reks, j), cert) == 0)
				return 1;
	}
	return 0;
}

/* The key wrap algorithm named in a KeyAgreeRecipientInfo's key
 * encryption parameters (its NID), or NID_undef. */
static int
kari_wrap_nid(const X509_ALGOR *alg)
{
	const ASN1_TYPE *param = alg->parameter;
	const unsigned char *p;
	X509_ALGOR *wrap = NULL;
	int nid = NID_undef;

	if (param == NULL || param->type != V_ASN1_SEQUENCE)
		return NID_undef;
	p = param->value.sequence->data;
	if ((wrap = d2i_X509_ALGOR(NULL, &p, param->value.sequence->length)) != NULL &&
	    p == param->value.sequence->data + param->value.sequence->length)
		nid = OBJ_obj2nid(wrap->algorithm);
	X509_ALGOR_free(wrap);
	return nid;
}

/*
 * Whether the one recipient of an envelope uses the key encryption that
 * kra_envelope() chose (kra.h: RSAES-OAEP; or dhSinglePass-stdDH-
 * sha256kdf-scheme with id-aes256-wrap).  Anything else is refused before
 * OpenSSL decrypts: an algorithm the envelope names itself reaches code
 * certsync never needs, and OpenSSL 3.0's AES key unwrap with padding
 * (id-aes256-wrap-pad) writes 8 bytes past its buffer when the unwrapped
 * key does not check (found by tests/fuzz/fuzz_kra.c under valgrind).
 */
static int
recipient_profile(CMS_RecipientInfo *ri)
{
	X509_ALGOR *alg = NULL;

	switch (CMS_RecipientInfo_type(ri)) {
	case CMS_RECIPINFO_TRANS:
		return CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) == 1 &&
		    OBJ_obj2nid(alg->algorithm) == NID_rsaesOaep;
	case CMS_RECIPINFO_AGREE:
		return CMS_RecipientInfo_kari_get0_alg(ri, &alg, NULL) == 1 &&
		    OBJ_obj2nid(alg->algorithm) ==
		    NID_dhSinglePass_stdDH_sha256kdf_scheme &&
		    kari_wrap_nid(alg) == NID_id_aes256_wrap;
	default:
		return 0;
	}
}

/* Parses an envelope meant for cert.  Returns the CMS or NULL with err. */
static CMS_ContentInfo *
envelope_parse(const unsigned char *der, size_t len, X509 *cert, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	char name[256];

	if (len > BUNDLE_MAX ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		seterr(err, errlen, "not a CMS message (DER)");
		goto fail;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
		seterr(err, errlen, "the CMS message is not EnvelopedData");
		goto fail;
	}
	if (!recipient_is(cms, cert)) {
		agent_name(cert, name, sizeof(name));
		seterr(err, errlen, "not wrapped to agent %s: another agent's "
		    "share, or the wrong certificate", name);
		goto fail;
	}
	/* kra_envelope() makes one recipient, with kra.h's algorithms. */
	if (sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)) != 1 ||
	    !recipient_profile(sk_CMS_RecipientInfo_value(
	    CMS_get0_RecipientInfos(cms), 0))) {
		seterr(err, errlen, "not an envelope certsync makes: one "
		    "recipient, with RSAES-OAEP or ECDH (SHA-256 KDF) and "
		    "id-aes256-wrap");
		goto fail;
	}
	return cms;
fail:
	CMS_ContentInfo_free(cms);
	return NULL;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_unwrap(const unsigned char *envelope, size_t len, EVP_PKEY *key,
    X509 *cert, struct kra_share *share, char *err, size_t errlen)
{
	CMS_ContentInfo *cms = NULL;
	BIO *out = NULL;
	char *data = NULL, why[KRA_ERR_LEN];
	long dlen;
	int rc = -1;

	kra_share_wipe(share);
	if (X509_check_private_key(cert, key) != 1) {
		seterr(err, errlen, "the private key does not belong to the "
		    "agent certificate");
		goto done;
	}
	if ((cms = envelope_parse(envelope, len, cert, err, errlen)) == NULL)
		goto done;
	/* A secure-heap BIO: its buffer is wiped when freed. */
	if ((out = BIO_new(BIO_s_secmem())) == NULL ||
	    CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY) != 1) {
		/* No OpenSSL reason: given the certificate, CMS_decrypt hides
		 * why (a random content key stands in for a bad wrapped one). */
		seterr(err, errlen, "the envelope does not decrypt with this "
		    "agent's key: it is corrupt");
		goto done;
	}
	dlen = BIO_get_mem_data(out, &data);
	if (kra_share_decode((const unsigned char *)data, (size_t)dlen, share,
	    why, sizeof(why)) == -1) {
		seterr(err, errlen, "the envelope's content: %s", why);
		goto done;
	}
	rc = 0;
done:
	ERR_clear_error();
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return rc;
}
