/*
 * signer.h - the CA private key, inside the CA process.
 *
 * Owns: loading the CA key (a PEM file, or a key in a PKCS#11 token) and
 * the CA certificate, and the only two operations anybody may ask of the
 * key: sign this certificate, sign this CRL.  Linked into certsync-ca only:
 * certsyncd and certsyncctl reach the key through ca_client.h, which asks
 * the CA process.
 * Never: hands out the key, writes it anywhere (but init-ca's new file),
 * or signs a certificate that claims to be a CA.
 */
#ifndef CERTSYNC_SIGNER_H
#define CERTSYNC_SIGNER_H

#include <openssl/x509.h>

#include "lib/conf.h"

struct signer;

/*
 * Loads [ca] certificate and key: a key file (refused if group or others
 * can read it; its passphrase from [ca] passphrase_file if set), or a token
 * key by its pkcs11: URI (the PIN from [ca] pin_file; call this after any
 * fork, once per process).  Checks that key and certificate belong
 * together by a test signature, and that the certificate is a CA's.
 * Returns 0 and *out, or -1 after logging (every failure here is one a
 * restart cannot mend: a file, a PIN, a mismatch).
 */
int signer_open(const struct conf *conf, struct signer **out);
void signer_close(struct signer *signer);

/* The CA certificate, owned by the signer: do not free. */
X509 *signer_ca(const struct signer *signer);
/* The CA key (its public half is what the CA process compares requests'
 * keys against), owned by the signer. */
EVP_PKEY *signer_key(const struct signer *signer);

/* Sign with the CA key and the configured digest.  0, or -1 after logging. */
int signer_sign_cert(struct signer *signer, X509 *cert);
int signer_sign_crl(struct signer *signer, X509_CRL *crl);

/*
 * Makes the self-signed CA certificate at [ca] certificate: for a key file,
 * with a new key written to [ca] key (demos and tests); for a token key,
 * with the key already in the token (spec is then unused).  Refuses if a
 * file it would write exists.  Returns 0 and *made (the new certificate,
 * the caller's), or a sysexits code after logging.
 */
int signer_init_ca(const struct conf *conf, const char *subject, int days,
    const struct key_spec *spec, X509 **made);

#endif
