/*
 * keys.h - keypair generation.
 *
 * Owns: turning a key_spec into a fresh keypair with OpenSSL's EVP API.
 * Never: writes a key anywhere; the keystore stage makes keys durable.
 */
#ifndef CERTSYNC_KEYS_H
#define CERTSYNC_KEYS_H

#include <openssl/evp.h>

#include "lib/conf.h"

/* Returns a new keypair the caller frees with EVP_PKEY_free, or NULL after
 * logging.  CPU-heavy for RSA: the daemon calls it off the event loop. */
EVP_PKEY *keys_generate(const struct key_spec *spec);

/* "rsa:2048", "ec:P-256", ... describing key; writes into buf. */
const char *keys_describe(const EVP_PKEY *key, char *buf, size_t len);

#endif
