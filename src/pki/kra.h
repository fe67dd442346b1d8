/*
 * kra.h - key recovery agents: an archive password that only recovery
 * officers can rebuild.
 *
 * Owns: the random archive secret and its password text; splitting it
 * M-of-N (Shamir over GF(2^8), shamir.h) into self-describing shares;
 * wrapping each share to one agent certificate as CMS EnvelopedData;
 * the bundle that lists the wrapped shares; unwrapping and combining
 * shares; checking agent certificates.
 * Never: writes a file, logs a secret or share, keeps a plain secret, share
 * or password in memory it frees (every such buffer is wiped), or lets the
 * host open an archive: what it hands out for storage (the bundle) opens
 * only with M agents' private keys.
 *
 * Return convention: functions that can fail return 0 or -1; on -1 they
 * write one line (no newline) into err[errlen] naming the problem, and
 * leave their outputs empty.  Only kra_load_agents() logs.
 *
 * ---- Formats (version 1, DER) ---------------------------------------------
 *
 *   KraShare ::= SEQUENCE {           -- content of each agent's envelope
 *       version    INTEGER (1),
 *       threshold  INTEGER (1..255),  -- M: shares needed
 *       total      INTEGER (1..255),  -- N: shares made (M <= N)
 *       index      INTEGER (1..255),  -- x of this share (1..N)
 *       label      UTF8String (SIZE (0..255)),   -- what the secret opens,
 *                                     -- e.g. "encryption-0A1B2C.p12";
 *                                     -- printable ASCII in version 1
 *       splitId    OCTET STRING (SIZE (16)),     -- random per split: the
 *                                     -- same in all N shares of one secret
 *       check      OCTET STRING (SIZE (32)),     -- SHA-256 of
 *                                     -- "certsync-kra-v1" || splitId || secret
 *       share      OCTET STRING (SIZE (32))      -- y = f(x), byte-wise;
 *                                     -- with M = 1 it is the secret itself
 *   }
 *
 *   KraBundle ::= SEQUENCE {          -- "<archive file>.kra" and the store
 *       version    INTEGER (1),
 *       threshold  INTEGER (1..255),  -- M, as in every share
 *       label      UTF8String,        -- as in every share
 *       agents     SEQUENCE SIZE (1..255) OF KraWrapped
 *   }
 *   KraWrapped ::= SEQUENCE {
 *       certHash   OCTET STRING (SIZE (32)),  -- SHA-256 of the agent
 *                                     -- certificate's DER (its fingerprint)
 *       envelope   ContentInfo        -- RFC 5652 EnvelopedData, one
 *                                     -- recipient: that agent; the share
 *                                     -- with index = position in agents
 *   }
 *
 * Envelopes: content AES-256-CBC; an RSA agent gets KeyTransRecipientInfo
 * with RSAES-OAEP (SHA-256, MGF1-SHA-256), an EC agent (P-256, P-384)
 * KeyAgreeRecipientInfo with dhSinglePass-stdDH-sha256kdf-scheme and
 * id-aes256-wrap; recipients are named by issuer and serial number.  An
 * officer opens their envelope with
 *     openssl cms -decrypt -inform DER -in share.cms -inkey kra.key \
 *         -recip kra.crt -out share.der
 * and reads it with "openssl asn1parse -inform DER -in share.der".  (With
 * a wrong RSA key and -recip, openssl cms hides the failure and decrypts
 * with a random key: usually "bad decrypt", about once in 256 tries garbage
 * and exit 0; a reader of the share refuses that garbage.)  Their envelope
 * in a bundle is the SEQUENCE after the OCTET STRING that holds their
 * certificate's SHA-256 fingerprint in "openssl asn1parse -inform DER
 * -in FILE.kra"; "-strparse OFFSET -noout -out mine.cms" extracts it.
 *
 * The archive password is the secret as 64 upper-case hex digits: ASCII,
 * so OpenSSL, NSS and Windows turn it into the same PKCS#12 (BMPString) and
 * PBKDF2 (UTF-8) bytes, and no shell, form field or keyboard layout
 * changes it.  openssl asn1parse prints an OCTET STRING as upper-case hex,
 * so with M = 1 the "share" line of the decrypted share IS the password.
 *
 * Secrecy: the share bytes of fewer than M shares say nothing about the
 * secret (for every candidate secret, exactly as many polynomials fit
 * them).  The check value, a hash of the secret, makes a wrong combination
 * detectable; it hides the secret only computationally, which is all a
 * uniformly random 256-bit secret needs.  The x values, M, N, label and
 * split id are not secret.
 */
#ifndef CERTSYNC_KRA_H
#define CERTSYNC_KRA_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define KRA_VERSION 1
#define KRA_SECRET_LEN 32
#define KRA_PASSWORD_LEN (2 * KRA_SECRET_LEN)
#define KRA_SPLIT_ID_LEN 16
#define KRA_CHECK_LEN 32
#define KRA_FP_LEN 32
#define KRA_LABEL_MAX 255
#define KRA_MAX_AGENTS 255
/* A size for err buffers that holds any message of this module. */
#define KRA_ERR_LEN 512

/* One share, decoded.  Holds secret material: wipe with kra_share_wipe(). */
struct kra_share {
	int threshold;
	int total;
	int index;
	char label[KRA_LABEL_MAX + 1];
	unsigned char split_id[KRA_SPLIT_ID_LEN];
	unsigned char check[KRA_CHECK_LEN];
	unsigned char y[KRA_SECRET_LEN];
};

/* A checked agent certificate and the file it came from. */
struct kra_agent {
	X509 *cert;
	char *path;
	unsigned char fp[KRA_FP_LEN];	/* SHA-256 of the DER */
};

struct kra_agents {
	struct kra_agent *v;
	size_t n;
};

/* A decoded bundle; every buffer is the bundle's own. */
struct kra_wrapped {
	unsigned char cert_hash[KRA_FP_LEN];
	unsigned char *envelope;	/* CMS ContentInfo, DER */
	size_t envelope_len;
};

struct kra_bundle {
	int threshold;
	char label[KRA_LABEL_MAX + 1];
	struct kra_wrapped *v;
	size_t n;
};

/* ---- secret and password ------------------------------------------------ */

/* Fills secret with KRA_SECRET_LEN bytes from RAND_priv_bytes().
 * Returns 0, or -1 when the generator fails. */
int kra_secret_new(unsigned char secret[KRA_SECRET_LEN]);

/* The archive password of secret: KRA_PASSWORD_LEN upper-case hex digits
 * and a NUL.  The caller wipes text (OPENSSL_cleanse) when done. */
void kra_password_text(const unsigned char secret[KRA_SECRET_LEN],
    char text[KRA_PASSWORD_LEN + 1]);

/* ---- shares ------------------------------------------------------------- */

/*
 * Splits secret into n shares (shares[0..n-1], index 1..n), any m of which
 * recover it; label (printable ASCII, at most 255 bytes) is copied into
 * each.  Returns 0, or -1 with err and the shares wiped.
 */
int kra_split(const unsigned char secret[KRA_SECRET_LEN], const char *label,
    int m, int n, struct kra_share *shares, char *err, size_t errlen);

/*
 * Rebuilds the secret from k shares (any order; at least their threshold,
 * all of the same split).  Refuses, naming shares by their 1-based position:
 * too few shares, shares of different splits or parameters, a repeated
 * index, and shares that do not rebuild the secret their check value names
 * (one of them is corrupt).  Returns 0, or -1 with err and secret wiped.
 */
int kra_combine(const struct kra_share *shares, size_t k,
    unsigned char secret[KRA_SECRET_LEN], char *err, size_t errlen);

/* KraShare DER of share.  Returns 0 and *der, which the caller frees with
 * OPENSSL_clear_free(*der, *len), or -1 with err. */
int kra_share_encode(const struct kra_share *share, unsigned char **der,
    size_t *len, char *err, size_t errlen);

/* Parses and checks a KraShare (DER only, nothing after it, every field in
 * range).  Returns 0, or -1 with err and *share wiped. */
int kra_share_decode(const unsigned char *der, size_t len,
    struct kra_share *share, char *err, size_t errlen);

void kra_share_wipe(struct kra_share *share);

/* ---- agents ------------------------------------------------------------- */

/*
 * Whether cert can be a recovery agent at time now: an RSA key of at least
 * 2048 bits or an EC key on P-256 or P-384, inside its validity period,
 * and, when it has a keyUsage extension, keyEncipherment (RSA) or
 * keyAgreement (EC) in it.  Returns 0, or -1 with err (no file name).
 */
int kra_agent_check(X509 *cert, time_t now, char *err, size_t errlen);

/*
 * Loads every file that pattern (a glob(3) pattern, e.g. the "*.pem"
 * files of /etc/certsync/kra) matches, in sorted order, each holding one
 * certificate (PEM or DER) that kra_agent_check() accepts; the same
 * certificate or the same public key twice is refused (one officer would
 * hold two shares).  what names the setting in messages
 * ("[archive] recovery_agents").  Logs one line per bad file, naming it.
 * Returns 0 and *agents (free with kra_agents_free), or -1 after logging
 * (also when nothing matches, or more than 255 files do).
 */
int kra_load_agents(const char *pattern, const char *what, time_t now,
    struct kra_agents *agents);

void kra_agents_free(struct kra_agents *agents);

/* ---- wrapping ----------------------------------------------------------- */

/*
 * CMS EnvelopedData (ContentInfo DER) of share's KraShare encoding, with
 * agent as its only recipient, as this header's "Envelopes" says.
 * Returns 0 and *der (caller frees with OPENSSL_free), or -1 with err.
 */
int kra_envelope(const struct kra_share *share, X509 *agent,
    unsigned char **der, size_t *len, char *err, size_t errlen);

/*
 * Splits secret m-of-n over the n agents (agent i gets index i + 1) and
 * wraps each share to its agent: the KraBundle DER.  Returns 0 and *der
 * (caller frees with OPENSSL_free), or -1 with err.
 */
int kra_wrap(const unsigned char secret[KRA_SECRET_LEN], const char *label,
    X509 *const *agents, size_t n, int m, unsigned char **der, size_t *len,
    char *err, size_t errlen);

/* Parses and checks a KraBundle (each envelope must be CMS EnvelopedData).
 * Returns 0 and *bundle (free with kra_bundle_free), or -1 with err. */
int kra_bundle_decode(const unsigned char *der, size_t len,
    struct kra_bundle *bundle, char *err, size_t errlen);

void kra_bundle_free(struct kra_bundle *bundle);

/* The bundle's entry for agent (by certificate hash), or NULL. */
const struct kra_wrapped *kra_bundle_find(const struct kra_bundle *bundle,
    X509 *agent);

/*
 * Opens one envelope with an agent's key and certificate and decodes the
 * share inside.  Refuses a key that does not belong to cert, an envelope
 * not wrapped to cert, one that does not decrypt (corrupt), and content
 * that is not a KraShare.  Returns 0, or -1 with err and *share wiped.
 */
int kra_unwrap(const unsigned char *envelope, size_t len, EVP_PKEY *key,
    X509 *cert, struct kra_share *share, char *err, size_t errlen);

#endif
