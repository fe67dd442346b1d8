/*
 * signer.h - the one door to the CA private key.
 *
 * Owns: loading the CA key and certificate, and the only two operations
 * anybody may ask of the key: sign this certificate, sign this CRL.  The
 * interface stays this narrow so the signer can move into its own process
 * or behind PKCS#11 without touching its callers.
 * Never: hands out the key, writes it anywhere (but init-ca's new file),
 * or signs a certificate that claims to be a CA.
 */
#ifndef CERTSYNC_SIGNER_H
#define CERTSYNC_SIGNER_H

#include <openssl/x509.h>

#include "lib/conf.h"

struct signer;
struct workers;

/*
 * Loads [ca] certificate and key (refusing a key file group or others can
 * read), with the passphrase from [ca] passphrase_file if set, and checks
 * that they belong together.  Returns 0 and *out, or -1 after logging.
 */
int signer_open(const struct conf *conf, struct signer **out);
void signer_close(struct signer *signer);

/* The CA certificate, owned by the signer: do not free. */
X509 *signer_ca(const struct signer *signer);

/* Sign with the CA key and the configured digest.  0, or -1 after logging. */
int signer_sign_cert(struct signer *signer, X509 *cert);
/*
 * signer_sign_cert() for the n certificates of a batch: rcs[i] is its
 * result for certs[i].  The one door for a batch: the key in memory signs
 * on the workers (w, may be NULL), all cores at once; a CA process will
 * have every request in flight before the first reply is read.
 */
void signer_sign_certs(struct signer *signer, struct workers *w, X509 **certs,
    size_t n, int *rcs);
int signer_sign_crl(struct signer *signer, X509_CRL *crl);

/*
 * Makes a new self-signed CA key and certificate at [ca] key and
 * [ca] certificate, for demos and tests.  Refuses if either file exists.
 * Returns 0, or a sysexits code after logging.
 */
int signer_init_ca(const struct conf *conf, const char *subject, int days,
    const struct key_spec *spec);

#endif
