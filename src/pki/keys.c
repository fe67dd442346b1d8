/*
 * keys.c - keypair generation (RSA 2048/3072/4096, EC P-256/P-384).
 *
 * Owns: key generation through EVP_PKEY_Q_keygen (no deprecated RSA_* or
 * EC_KEY_* calls).  Never: stores or logs key material.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "lib/log.h"
#include "pki/keys.h"

EVP_PKEY *
keys_generate(const struct key_spec *spec)
{
	EVP_PKEY *key;

	if (spec->alg == KEY_ALG_RSA)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->bits);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec->curve);
	if (key == NULL)
		log_ssl("cannot generate a %s key", spec->name);
	return key;
}

const char *
keys_describe(const EVP_PKEY *key, char *buf, size_t len)
{
	char group[64];

	if (EVP_PKEY_is_a(key, "RSA"))
		snprintf(buf, len, "rsa:%d", EVP_PKEY_get_bits(key));
	else if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL))
		/* OpenSSL names the curves by their SEC names; we use NIST's,
		 * as key_type does. */
		snprintf(buf, len, "ec:%s", strcmp(group, "prime256v1") == 0 ?
		    "P-256" : strcmp(group, "secp384r1") == 0 ? "P-384" : group);
	else
		snprintf(buf, len, "%s", EVP_PKEY_get0_type_name(key));
	return buf;
}
