/*
 * pkcs11.h - the CA private key in a PKCS#11 token (an HSM, or SoftHSM2),
 * through OpenSSL's pkcs11 engine (Debian: libengine-pkcs11-openssl, libp11).
 *
 * Owns: loading the engine and the PKCS#11 module, logging in to the token
 * with the user PIN from a file, finding the private key by its RFC 7512
 * URI, one clear line for each way that can fail; and the test signature
 * that shows a key and a certificate belong together (X509_check_private_key
 * cannot look inside a key that never leaves its token).
 * Never: logs the PIN, takes it from the URI (pin-value=, pin-source=) or
 * from a file group or others can read, or prompts on a terminal.  Never
 * opens a token in a process that forks to sign: a PKCS#11 session does not
 * survive fork() (PKCS#11 2.40, 6.7.7), so the signing process opens the key
 * itself, after it was forked.
 */
#ifndef CERTSYNC_CA_PKCS11_H
#define CERTSYNC_CA_PKCS11_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The prefix that makes a [ca] key a token key instead of a key file. */
#define CA_PKCS11_URI_PREFIX "pkcs11:"

/* What names a key in a token.  Strings are the caller's. */
struct ca_pkcs11_spec {
	/* pkcs11:token=LABEL;object=LABEL;type=private (object= or id= needed) */
	const char *uri;
	/* The PKCS#11 module (a .so path); NULL: the engine's default,
	 * p11-kit-proxy, which offers every module p11-kit has registered. */
	const char *module;
	/* The user PIN: the first line of this file, mode 0600 or stricter. */
	const char *pin_file;
};

struct ca_pkcs11;

/* 1 if a [ca] key setting names a token key (starts with "pkcs11:"). */
int ca_pkcs11_is_uri(const char *key);

/*
 * Loads the engine and the module, logs in and finds the private key.  Call
 * it in the process that will sign, after any fork(), and once: libp11
 * keeps the token logged in until the process exits, so a second open in
 * the same process would not check the PIN, and is refused.  Returns the
 * open key (close with ca_pkcs11_close), or NULL after logging one line that
 * names the setting and the problem: a wrong or locked PIN, no such token,
 * no such key in it, no engine, a module that does not load.
 */
struct ca_pkcs11 *ca_pkcs11_open(const struct ca_pkcs11_spec *spec);

/*
 * The private key, usable with EVP_DigestSign, X509_sign and X509_CRL_sign
 * while the handle is open.  Owned by the handle: do not free it, and do not
 * use it after ca_pkcs11_close().
 */
EVP_PKEY *ca_pkcs11_key(const struct ca_pkcs11 *p11);

/*
 * Frees the key and lets go of the engine and the module.  The token stays
 * logged in until the process exits: libp11 0.4.12 calls neither C_Logout
 * nor C_Finalize.  NULL is fine.
 */
void ca_pkcs11_close(struct ca_pkcs11 *p11);

/*
 * Signs 32 random bytes with key (SHA-256) and verifies the signature with
 * the public key in cert: the proof that they belong together which works
 * for a key in a token as for one in memory.  key_name and cert_name name
 * both in the message.  Returns 0 if they match, or -1 after logging one
 * line (they do not match, or the token could not sign).
 */
int ca_key_matches_cert(EVP_PKEY *key, X509 *cert, const char *key_name,
    const char *cert_name);

#endif
