/*
 * p12.c - PKCS#12 with a password's keys derived once (see p12.h).
 *
 * Owns: the derived keys, on a locked page of their own, and the PKCS#12
 * built from OpenSSL's ASN.1 types: the certificates in a plain data
 * SafeContents, the key in a pkcs8ShroudedKeyBag (an X509_SIG with a PBES2
 * X509_ALGOR), both in the AuthenticatedSafe, and the MacData (HMAC-SHA256
 * under the PKCS#12 KDF's MAC key, RFC 7292 appendix B) over it: the same
 * structure PKCS12_create() makes, without its three derivations per file.
 * Never: lets a password or a derived key reach the heap, a core dump or
 * swap (as far as mlock allows), or uses an IV twice (a fresh one per file).
 */
#include "config.h"

#include <sys/mman.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>

#include "lib/log.h"
#include "pki/p12.h"

#define PW_MAX 4096
#define KEY_LEN 32     /* AES-256, and HMAC-SHA256's key */
#define IV_LEN 16

/* The secrets, on their own locked page(s). */
struct p12_secret {
	char password[PW_MAX + 1];
	unsigned char enc[KEY_LEN];
	unsigned char mac[KEY_LEN];
};

struct p12_key {
	pthread_mutex_t lock;
	int derived;                 /* 0 not yet, 1 done, -1 failed */
	unsigned char salt[P12_SALT_LEN];
	int iterations;
	enum p12_profile profile;
	size_t pwlen;
	struct p12_secret *s;
};

/* ---- the key ---------------------------------------------------------------- */

static struct p12_secret *
locked_alloc(void)
{
	static int warned;
	void *p = mmap(NULL, sizeof(struct p12_secret), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("out of memory");
	/* Best effort: an unprivileged daemon may have no locking allowance. */
	if (mlock(p, sizeof(struct p12_secret)) == -1 && !warned) {
		warned = 1;
		log_warn("cannot lock the PKCS#12 keys in memory (%s); they may be "
		    "swapped out", strerror(errno));
	}
#ifdef MADV_DONTDUMP
	madvise(p, sizeof(struct p12_secret), MADV_DONTDUMP);
#endif
	return p;
}

int
p12_key_new(const char *password, const unsigned char *salt, int iterations,
    enum p12_profile profile, struct p12_key **out)
{
	struct p12_key *k;
	size_t len = strlen(password);

	*out = NULL;
	if (len > PW_MAX) {
		log_error("a PKCS#12 password longer than %d bytes is refused", PW_MAX);
		return -1;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("out of memory");
	pthread_mutex_init(&k->lock, NULL);
	k->s = locked_alloc();
	memcpy(k->s->password, password, len + 1);
	k->pwlen = len;
	k->iterations = iterations;
	k->profile = profile;
	if (salt != NULL)
		memcpy(k->salt, salt, P12_SALT_LEN);
	else if (RAND_bytes(k->salt, P12_SALT_LEN) != 1) {
		log_ssl("cannot make a PKCS#12 salt");
		p12_key_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void
p12_key_free(struct p12_key *k)
{
	if (k == NULL)
		return;
	OPENSSL_cleanse(k->s, sizeof(*k->s));
	munlock(k->s, sizeof(*k->s));
	munmap(k->s, sizeof(*k->s));
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int
p12_key_is(const struct p12_key *k, const char *password)
{
	size_t len = strlen(password);

	return len == k->pwlen && CRYPTO_memcmp(k->s->password, password, len) == 0;
}

int
p12_key_prepare(struct p12_key *k)
{
	int rc;

	pthread_mutex_lock(&k->lock);
	if (k->derived == 0 && k->profile == P12_PROFILE_AES256) {
		/* PBKDF2 as PBES2 uses it (the password's bytes), and the MAC
		 * key as PKCS12_set_mac() makes it (the password as BMPString). */
		k->derived = PKCS5_PBKDF2_HMAC(k->s->password, (int)k->pwlen, k->salt,
		    P12_SALT_LEN, k->iterations, EVP_sha256(), KEY_LEN, k->s->enc) == 1 &&
		    PKCS12_key_gen_utf8_ex(k->s->password, (int)k->pwlen, k->salt,
		    P12_SALT_LEN, PKCS12_MAC_ID, k->iterations, KEY_LEN, k->s->mac,
		    EVP_sha256(), NULL, NULL) == 1 ? 1 : -1;
		if (k->derived == -1)
			log_ssl("cannot derive the PKCS#12 keys");
	}
	rc = k->profile != P12_PROFILE_AES256 || k->derived == 1 ? 0 : -1;
	pthread_mutex_unlock(&k->lock);
	return rc;
}

/* ---- the DER the MAC covers ------------------------------------------------- */

/* The next TLV at *q (definite length, of tag/class/constructedness as
 * asked): *q moved to its contents, *l their length.  0, or -1. */
static int
der_next(const unsigned char **q, const unsigned char *end, int want_tag,
    int want_class, int constructed, long *l)
{
	int tag, class, r = ASN1_get_object(q, l, &tag, &class, (long)(end - *q));

	if ((r & 0x80) || (r & 1) || tag != want_tag || class != want_class ||
	    ((r & V_ASN1_CONSTRUCTED) != 0) != constructed || *l > end - *q)
		return -1;
	return 0;
}

/* The AuthenticatedSafe's octets in a PFX (RFC 7292 4: the content of the
 * authSafe ContentInfo), which the MAC covers.  0, or -1 (not DER). */
static int
authsafe_octets(const unsigned char *der, size_t len, const unsigned char **p,
    long *plen)
{
	const unsigned char *q = der, *end = der + len;
	long l;

	if (der_next(&q, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 1, &l) == -1 ||
	    der_next(&q, end, V_ASN1_INTEGER, V_ASN1_UNIVERSAL, 0, &l) == -1)
		return -1;
	q += l;
	if (der_next(&q, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 1, &l) == -1 ||
	    der_next(&q, end, V_ASN1_OBJECT, V_ASN1_UNIVERSAL, 0, &l) == -1)
		return -1;
	q += l;
	if (der_next(&q, end, 0, V_ASN1_CONTEXT_SPECIFIC, 1, &l) == -1 ||
	    der_next(&q, end, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL, 0, &l) == -1)
		return -1;
	*p = q;
	*plen = l;
	return 0;
}

static int
hmac(const struct p12_key *k, const unsigned char *data, size_t len,
    unsigned char out[KEY_LEN])
{
	size_t n = 0;

	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->s->mac, KEY_LEN, data,
	    len, out, KEY_LEN, &n) != NULL && n == KEY_LEN ? 0 : -1;
}

/* ---- encoding ------------------------------------------------------------------ */

/* The key (PKCS#8 DER), encrypted under k with a fresh IV, in a shrouded
 * key bag. */
static PKCS12_SAFEBAG *
key_bag(struct p12_key *k, const unsigned char *plain, int plen)
{
	unsigned char *ct = NULL, iv[IV_LEN];
	X509_ALGOR *alg = NULL, *into;
	ASN1_OCTET_STRING *digest;
	X509_SIG *sig = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	PKCS12_SAFEBAG *bag = NULL;
	int n1 = 0, n2 = 0;

	if (RAND_bytes(iv, IV_LEN) != 1 ||
	    (alg = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), k->iterations, k->salt,
	    P12_SALT_LEN, iv, NID_hmacWithSHA256, NULL)) == NULL ||
	    (ct = OPENSSL_malloc((size_t)plen + IV_LEN)) == NULL ||
	    (cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->s->enc, iv) ||
	    !EVP_EncryptUpdate(cctx, ct, &n1, plain, plen) ||
	    !EVP_EncryptFinal_ex(cctx, ct + n1, &n2) ||
	    (sig = X509_SIG_new()) == NULL)
		goto done;
	X509_SIG_getm(sig, &into, &digest);
	if (!X509_ALGOR_copy(into, alg) || !ASN1_OCTET_STRING_set(digest, ct, n1 + n2))
		goto done;
	if ((bag = PKCS12_SAFEBAG_create0_pkcs8(sig)) != NULL)
		sig = NULL;
done:
	OPENSSL_free(ct);
	EVP_CIPHER_CTX_free(cctx);
	X509_ALGOR_free(alg);
	X509_SIG_free(sig);
	return bag;
}

/* A SafeContents of bags in a plain data ContentInfo, pushed on safes. */
static int
push_safe(STACK_OF(PKCS7) *safes, STACK_OF(PKCS12_SAFEBAG) *bags)
{
	PKCS7 *p7 = PKCS12_pack_p7data(bags);

	if (p7 == NULL || !sk_PKCS7_push(safes, p7)) {
		PKCS7_free(p7);
		return -1;
	}
	return 0;
}

/*
 * A certificate bag for a certificate's DER, pushed on bags; NULL on a
 * failure.  Packed as the DER it is (an ASN1_ANY), not through an X509:
 * OpenSSL 3.0 parses a certificate's public key with its slow decoders,
 * and nothing here needs the key parsed.
 */
static PKCS12_SAFEBAG *
push_cert(STACK_OF(PKCS12_SAFEBAG) *bags, const unsigned char *der, size_t len)
{
	ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	ASN1_TYPE *any = ASN1_TYPE_new();
	PKCS12_SAFEBAG *bag = NULL;

	if (seq == NULL || any == NULL || !ASN1_STRING_set(seq, der, (int)len))
		fatal("out of memory");
	ASN1_TYPE_set(any, V_ASN1_SEQUENCE, seq);
	if ((bag = PKCS12_item_pack_safebag(any, ASN1_ITEM_rptr(ASN1_ANY),
	    NID_x509Certificate, NID_certBag)) != NULL &&
	    !sk_PKCS12_SAFEBAG_push(bags, bag)) {
		PKCS12_SAFEBAG_free(bag);
		bag = NULL;
	}
	ASN1_TYPE_free(any);
	return bag;
}

/* The two SafeContents: the certificates (public: not encrypted), then the
 * key; the user's certificate and key tied by localKeyID as PKCS12_create
 * ties them (the certificate's SHA-1). */
static STACK_OF(PKCS7) *
make_safes(struct p12_key *k, const struct p12_parts *in)
{
	STACK_OF(PKCS12_SAFEBAG) *certs = sk_PKCS12_SAFEBAG_new_null();
	STACK_OF(PKCS12_SAFEBAG) *keys = sk_PKCS12_SAFEBAG_new_null();
	STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
	PKCS12_SAFEBAG *bag, *kbag = NULL;
	unsigned char id[EVP_MAX_MD_SIZE];
	unsigned int idlen = 0;
	int ok = 0;

	if (certs == NULL || keys == NULL || safes == NULL)
		fatal("out of memory");
	if (!EVP_Digest(in->cert, in->cert_len, id, &idlen, EVP_sha1(), NULL) ||
	    (bag = push_cert(certs, in->cert, in->cert_len)) == NULL ||
	    !PKCS12_add_friendlyname_utf8(bag, in->friendly, -1) ||
	    !PKCS12_add_localkeyid(bag, id, (int)idlen) ||
	    (in->ca != NULL && push_cert(certs, in->ca, in->ca_len) == NULL) ||
	    (kbag = key_bag(k, in->key, (int)in->key_len)) == NULL ||
	    !PKCS12_add_friendlyname_utf8(kbag, in->friendly, -1) ||
	    !PKCS12_add_localkeyid(kbag, id, (int)idlen) ||
	    !sk_PKCS12_SAFEBAG_push(keys, kbag))
		goto done;
	kbag = NULL;
	ok = push_safe(safes, certs) == 0 && push_safe(safes, keys) == 0;
done:
	PKCS12_SAFEBAG_free(kbag);
	sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
	if (!ok) {
		sk_PKCS7_pop_free(safes, PKCS7_free);
		safes = NULL;
	}
	return safes;
}

/* The MacData: set up with k's salt and iterations, its digest the HMAC
 * of the AuthenticatedSafe as encoded.  0, or -1. */
static int
set_mac(struct p12_key *k, PKCS12 *p12)
{
	const ASN1_OCTET_STRING *mac = NULL;
	const unsigned char *content;
	unsigned char *der = NULL, md[KEY_LEN];
	long clen;
	int len, rc = -1;

	if (!PKCS12_setup_mac(p12, k->iterations, k->salt, P12_SALT_LEN, EVP_sha256()) ||
	    (len = i2d_PKCS12(p12, &der)) <= 0 ||
	    authsafe_octets(der, (size_t)len, &content, &clen) == -1 ||
	    hmac(k, content, (size_t)clen, md) == -1)
		goto done;
	PKCS12_get0_mac(&mac, NULL, NULL, NULL, p12);
	/* The digest is p12's own, set up empty just above. */
	if (mac != NULL && ASN1_OCTET_STRING_set((ASN1_OCTET_STRING *)mac, md, KEY_LEN))
		rc = 0;
done:
	OPENSSL_free(der);
	return rc;
}

/* The legacy profile: PKCS12_create's own way, a salt and work per file
 * (the parts parsed: it wants them so). */
static PKCS12 *
legacy_p12(struct p12_key *k, const struct p12_parts *in)
{
	int nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
	STACK_OF(X509) *chain = sk_X509_new_null();
	const unsigned char *p = in->key, *c = in->cert, *a = in->ca;
	PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)in->key_len);
	EVP_PKEY *key = info != NULL ? EVP_PKCS82PKEY(info) : NULL;
	X509 *cert = d2i_X509(NULL, &c, (long)in->cert_len);
	X509 *ca = a != NULL ? d2i_X509(NULL, &a, (long)in->ca_len) : NULL;
	PKCS12 *p12 = NULL;

	if (chain == NULL || (ca != NULL && !sk_X509_push(chain, ca)))
		fatal("out of memory");
	if (key != NULL && cert != NULL && (p12 = PKCS12_create(k->s->password,
	    in->friendly, key, cert, chain, nid, nid, k->iterations, -1, 0)) != NULL &&
	    !PKCS12_set_mac(p12, k->s->password, -1, NULL, 0, k->iterations,
	    EVP_sha1())) {
		PKCS12_free(p12);
		p12 = NULL;
	}
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(info);
	return p12;
}

int
p12_encode_parts(struct p12_key *k, const struct p12_parts *in, unsigned char **der,
    size_t *len)
{
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12 = NULL;
	int n, rc = -1;

	*der = NULL;
	if (p12_key_prepare(k) == -1)
		return -1;
	if (k->profile == P12_PROFILE_LEGACY)
		p12 = legacy_p12(k, in);
	else if ((safes = make_safes(k, in)) != NULL &&
	    (p12 = PKCS12_init(NID_pkcs7_data)) != NULL &&
	    (!PKCS12_pack_authsafes(p12, safes) || set_mac(k, p12) == -1)) {
		PKCS12_free(p12);
		p12 = NULL;
	}
	if (p12 == NULL || (n = i2d_PKCS12(p12, der)) <= 0) {
		log_ssl("cannot build a PKCS#12 for %s", in->friendly);
		goto done;
	}
	*len = (size_t)n;
	rc = 0;
done:
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return rc;
}

int
p12_key_der(EVP_PKEY *key, unsigned char **p8, size_t *p8len)
{
	PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(key);
	int n;

	*p8 = NULL;
	if (info == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(info, p8)) <= 0) {
		PKCS8_PRIV_KEY_INFO_free(info);
		log_ssl("cannot encode a private key");
		return -1;
	}
	PKCS8_PRIV_KEY_INFO_free(info);
	*p8len = (size_t)n;
	return 0;
}

int
p12_encode(struct p12_key *k, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *friendly, unsigned char **der, size_t *len)
{
	struct p12_parts in = { .friendly = friendly };
	unsigned char *p8 = NULL, *c = NULL, *a = NULL;
	int n, rc = -1;

	*der = NULL;
	if (p12_key_der(key, &p8, &in.key_len) == -1)
		return -1;
	in.key = p8;
	if ((n = i2d_X509(cert, &c)) <= 0 || (ca != NULL && i2d_X509(ca, &a) <= 0))
		log_ssl("cannot encode a certificate for %s", friendly);
	else {
		in.cert = c;
		in.cert_len = (size_t)n;
		in.ca = a;
		in.ca_len = a != NULL ? (size_t)i2d_X509(ca, NULL) : 0;
		rc = p12_encode_parts(k, &in, der, len);
	}
	OPENSSL_clear_free(p8, in.key_len);
	OPENSSL_free(c);
	OPENSSL_free(a);
	return rc;
}

/* ---- decoding ------------------------------------------------------------------- */

/* Whether p12's MacData is k's (SHA-256, k's salt and iterations): 1, or 0
 * (made some other way). */
static int
mac_is_ours(const struct p12_key *k, const PKCS12 *p12)
{
	const ASN1_OCTET_STRING *mac = NULL, *salt = NULL;
	const X509_ALGOR *alg = NULL;
	const ASN1_INTEGER *iter = NULL;
	const ASN1_OBJECT *obj = NULL;

	PKCS12_get0_mac(&mac, &alg, &salt, &iter, p12);
	if (mac == NULL || alg == NULL || salt == NULL)
		return 0;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return OBJ_obj2nid(obj) == NID_sha256 &&
	    ASN1_STRING_length(salt) == P12_SALT_LEN &&
	    memcmp(ASN1_STRING_get0_data(salt), k->salt, P12_SALT_LEN) == 0 &&
	    (iter != NULL ? ASN1_INTEGER_get(iter) : 1) == k->iterations;
}

/* The MAC of der checked under k: 1 it holds, 0 it does not. */
static int
mac_holds(const struct p12_key *k, const PKCS12 *p12, const unsigned char *der,
    size_t len)
{
	const ASN1_OCTET_STRING *mac = NULL;
	const unsigned char *content;
	unsigned char md[KEY_LEN];
	long clen;

	PKCS12_get0_mac(&mac, NULL, NULL, NULL, p12);
	return authsafe_octets(der, len, &content, &clen) == 0 &&
	    hmac(k, content, (size_t)clen, md) == 0 &&
	    ASN1_STRING_length(mac) == KEY_LEN &&
	    CRYPTO_memcmp(ASN1_STRING_get0_data(mac), md, KEY_LEN) == 0;
}

/* A key bag's PBES2 parameters, if they are k's: 1 and its IV, else 0. */
static int
pbes2_is_ours(const struct p12_key *k, const X509_ALGOR *alg, unsigned char *iv)
{
	PBE2PARAM *pbe2 = NULL;
	PBKDF2PARAM *kdf = NULL;
	const ASN1_OCTET_STRING *salt, *ivs;
	int ours = 0;

	if (OBJ_obj2nid(alg->algorithm) != NID_pbes2 ||
	    (pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
	    alg->parameter)) == NULL ||
	    OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2 ||
	    OBJ_obj2nid(pbe2->encryption->algorithm) != NID_aes_256_cbc ||
	    (kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
	    pbe2->keyfunc->parameter)) == NULL ||
	    kdf->prf == NULL || OBJ_obj2nid(kdf->prf->algorithm) != NID_hmacWithSHA256 ||
	    kdf->salt->type != V_ASN1_OCTET_STRING ||
	    pbe2->encryption->parameter == NULL ||
	    pbe2->encryption->parameter->type != V_ASN1_OCTET_STRING)
		goto done;
	salt = kdf->salt->value.octet_string;
	ivs = pbe2->encryption->parameter->value.octet_string;
	if (ASN1_STRING_length(salt) == P12_SALT_LEN &&
	    memcmp(ASN1_STRING_get0_data(salt), k->salt, P12_SALT_LEN) == 0 &&
	    ASN1_INTEGER_get(kdf->iter) == k->iterations &&
	    ASN1_STRING_length(ivs) == IV_LEN) {
		memcpy(iv, ASN1_STRING_get0_data(ivs), IV_LEN);
		ours = 1;
	}
done:
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(pbe2);
	return ours;
}

/* A bag's localKeyID, or NULL. */
static const ASN1_OCTET_STRING *
bag_keyid(const PKCS12_SAFEBAG *bag)
{
	const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);

	return t != NULL && t->type == V_ASN1_OCTET_STRING ? t->value.octet_string : NULL;
}

/* A shrouded key bag opened with k's key: 1 and the PKCS#8 DER in *p8
 * (caller frees with OPENSSL_clear_free), 0 not k's, -1. */
static int
open_key_bag(const struct p12_key *k, const PKCS12_SAFEBAG *bag, unsigned char **p8,
    size_t *p8len)
{
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *ct;
	EVP_CIPHER_CTX *cctx = NULL;
	unsigned char iv[IV_LEN], *plain = NULL;
	int n1 = 0, n2 = 0, clen, rc = -1;

	X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, &ct);
	if (!pbes2_is_ours(k, alg, iv))
		return 0;
	clen = ASN1_STRING_length(ct);
	if ((plain = OPENSSL_malloc((size_t)clen + IV_LEN)) == NULL ||
	    (cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->s->enc, iv) ||
	    !EVP_DecryptUpdate(cctx, plain, &n1, ASN1_STRING_get0_data(ct), clen) ||
	    !EVP_DecryptFinal_ex(cctx, plain + n1, &n2))
		goto done;
	*p8 = plain;
	*p8len = (size_t)(n1 + n2);
	plain = NULL;
	rc = 1;
done:
	if (plain != NULL)
		OPENSSL_clear_free(plain, (size_t)clen + IV_LEN);
	EVP_CIPHER_CTX_free(cctx);
	return rc;
}

/* The certificate's DER in a certificate bag, found by walking the bag's
 * own encoding (SafeBag: bagId, [0] CertBag: certId, [0] OCTET STRING),
 * not by parsing the certificate.  0 and *out (caller frees with
 * OPENSSL_free), or -1. */
static int
bag_cert_der(const PKCS12_SAFEBAG *bag, unsigned char **out, size_t *outlen)
{
	unsigned char *buf = NULL;
	const unsigned char *q, *end;
	long l;
	int n, rc = -1;

	if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate ||
	    (n = i2d_PKCS12_SAFEBAG((PKCS12_SAFEBAG *)bag, &buf)) <= 0)
		return -1;
	q = buf;
	end = buf + n;
	if (der_next(&q, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 1, &l) == 0 &&
	    der_next(&q, end, V_ASN1_OBJECT, V_ASN1_UNIVERSAL, 0, &l) == 0 &&
	    (q += l, der_next(&q, end, 0, V_ASN1_CONTEXT_SPECIFIC, 1, &l)) == 0 &&
	    der_next(&q, end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 1, &l) == 0 &&
	    der_next(&q, end, V_ASN1_OBJECT, V_ASN1_UNIVERSAL, 0, &l) == 0 &&
	    (q += l, der_next(&q, end, 0, V_ASN1_CONTEXT_SPECIFIC, 1, &l)) == 0 &&
	    der_next(&q, end, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL, 0, &l) == 0 &&
	    (*out = OPENSSL_memdup(q, (size_t)l)) != NULL) {
		*outlen = (size_t)l;
		rc = 0;
	}
	OPENSSL_free(buf);
	return rc;
}

#define CERTS_MAX 8

/* What the bags hold: the key (PKCS#8 DER) with its localKeyID, and the
 * certificates' DER, each with its localKeyID (or none). */
struct opened {
	unsigned char *p8;
	size_t p8len, cap;
	ASN1_OCTET_STRING *keyid;
	unsigned char *cert[CERTS_MAX];
	size_t cert_len[CERTS_MAX];
	ASN1_OCTET_STRING *cert_id[CERTS_MAX];
	int ncerts;
};

/* One bag into o: 1 taken or skipped, 0 a bag only the slow way opens. */
static int
take_bag(const struct p12_key *k, const PKCS12_SAFEBAG *bag, struct opened *o)
{
	const ASN1_OCTET_STRING *id = bag_keyid(bag);
	int i = o->ncerts;

	switch (PKCS12_SAFEBAG_get_nid(bag)) {
	case NID_pkcs8ShroudedKeyBag:
		if (o->p8 != NULL || open_key_bag(k, bag, &o->p8, &o->p8len) != 1)
			return 0;
		o->cap = o->p8len;
		if (id != NULL && (o->keyid = ASN1_OCTET_STRING_dup(id)) == NULL)
			fatal("out of memory");
		return 1;
	case NID_certBag:
		if (i == CERTS_MAX || bag_cert_der(bag, &o->cert[i], &o->cert_len[i]) == -1)
			return 0;
		if (id != NULL && (o->cert_id[i] = ASN1_OCTET_STRING_dup(id)) == NULL)
			fatal("out of memory");
		o->ncerts++;
		return 1;
	default:
		return 1;
	}
}

/* Every bag, if every SafeContents is plain data: 1, or 0 (an encrypted
 * one: an older certsync's certificate bag, say). */
static int
take_safes(const struct p12_key *k, const PKCS12 *p12, struct opened *o)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	int ok = safes != NULL;

	for (int i = 0; ok && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags;

		if (OBJ_obj2nid(p7->type) != NID_pkcs7_data ||
		    (bags = PKCS12_unpack_p7data(p7)) == NULL) {
			ok = 0;
			break;
		}
		for (int j = 0; ok && j < sk_PKCS12_SAFEBAG_num(bags); j++)
			ok = take_bag(k, sk_PKCS12_SAFEBAG_value(bags, j), o);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return ok && o->p8 != NULL;
}

/* The certificate that shares the key's localKeyID (the one PKCS12_parse
 * would pick), moved into out; 0, or -1 when there is none. */
static int
cert_of_key(struct opened *o, struct p12_raw *out)
{
	for (int i = 0; o->keyid != NULL && i < o->ncerts; i++)
		if (o->cert_id[i] != NULL &&
		    ASN1_OCTET_STRING_cmp(o->cert_id[i], o->keyid) == 0) {
			out->cert = o->cert[i];
			out->cert_len = o->cert_len[i];
			o->cert[i] = NULL;
			return 0;
		}
	return -1;
}

static void
opened_free(struct opened *o)
{
	if (o->p8 != NULL)
		OPENSSL_clear_free(o->p8, o->cap);
	ASN1_OCTET_STRING_free(o->keyid);
	for (int i = 0; i < o->ncerts; i++) {
		OPENSSL_free(o->cert[i]);
		ASN1_OCTET_STRING_free(o->cert_id[i]);
	}
}

/* The fast way: 1 opened, 0 not a file made under k (try the slow way),
 * -1 made under k's salt but the MAC does not hold (wrong password), -2
 * no certificate for its key. */
static int
decode_fast(struct p12_key *k, const PKCS12 *p12, const unsigned char *der,
    size_t len, struct p12_raw *out)
{
	struct opened o;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	if (k->profile != P12_PROFILE_AES256 || !mac_is_ours(k, p12))
		return 0;
	if (p12_key_prepare(k) == -1 || !mac_holds(k, p12, der, len))
		return -1;
	if (!take_safes(k, p12, &o))
		goto done;	/* not all ours: the slow way */
	if (cert_of_key(&o, out) == -1)
		rc = -2;
	else {
		out->p8 = o.p8;
		out->p8len = o.p8len;
		out->cap = o.cap;
		o.p8 = NULL;
		rc = 1;
	}
done:
	opened_free(&o);
	return rc;
}

/* The slow way, OpenSSL's own (the derivations run again).  1, -1 the MAC
 * does not hold, -2 no key or certificate. */
static int
decode_slow(struct p12_key *k, PKCS12 *p12, struct p12_raw *out)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int n, rc = -2;

	if (!PKCS12_verify_mac(p12, k->s->password, (int)k->pwlen))
		return -1;
	if (PKCS12_parse(p12, k->s->password, &key, &cert, NULL) && key != NULL &&
	    cert != NULL && p12_key_der(key, &out->p8, &out->p8len) == 0 &&
	    (n = i2d_X509(cert, &out->cert)) > 0) {
		out->cert_len = (size_t)n;
		rc = 1;
	}
	out->cap = out->p8len;
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

void
p12_raw_free(struct p12_raw *r)
{
	if (r->p8 != NULL)
		OPENSSL_clear_free(r->p8, r->cap);
	OPENSSL_free(r->cert);
	memset(r, 0, sizeof(*r));
}

int
p12_decode_raw(struct p12_key *k, const unsigned char *der, size_t len,
    const char *what, int quiet, struct p12_raw *out)
{
	const unsigned char *p = der;
	PKCS12 *p12 = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		if (!quiet)
			log_ssl("%s: not a PKCS#12 file", what);
		ERR_clear_error();
		return -1;
	}
	/* 1 opened; -1 the MAC does not hold; -2 no key or certificate. */
	if ((rc = decode_fast(k, p12, der, len, out)) == 0)
		rc = decode_slow(k, p12, out);
	if (rc == -1 && !quiet)
		log_error("%s: wrong password (the MAC does not verify)", what);
	else if (rc == -2 && !quiet)
		log_ssl("%s: cannot open the PKCS#12", what);
	ERR_clear_error();
	PKCS12_free(p12);
	if (rc != 1)
		p12_raw_free(out);
	return rc == 1 ? 0 : -1;
}

int
p12_decode(struct p12_key *k, const unsigned char *der, size_t len,
    const char *what, int quiet, EVP_PKEY **key, X509 **cert)
{
	struct p12_raw r;
	PKCS8_PRIV_KEY_INFO *info = NULL;
	const unsigned char *p, *c;

	*key = NULL;
	*cert = NULL;
	if (p12_decode_raw(k, der, len, what, quiet, &r) == -1)
		return -1;
	p = r.p8;
	c = r.cert;
	if ((info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)r.p8len)) == NULL ||
	    (*key = EVP_PKCS82PKEY(info)) == NULL ||
	    (*cert = d2i_X509(NULL, &c, (long)r.cert_len)) == NULL) {
		if (!quiet)
			log_ssl("%s: cannot read its key or certificate", what);
		EVP_PKEY_free(*key);
		*key = NULL;
		PKCS8_PRIV_KEY_INFO_free(info);
		p12_raw_free(&r);
		return -1;
	}
	PKCS8_PRIV_KEY_INFO_free(info);
	p12_raw_free(&r);
	return 0;
}
