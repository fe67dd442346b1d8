/*
 * testca.h - an in-memory CA and configuration for unit tests.
 */
#ifndef CERTSYNC_TESTCA_H
#define CERTSYNC_TESTCA_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"

/* A self-signed EC P-256 CA valid from nb to na; NULL on failure. */
X509 *testca_make(EVP_PKEY **key, time_t nb, time_t na);

/* A configuration with the documented defaults; free with testca_conf_free. */
struct conf *testca_conf(void);
void testca_conf_free(struct conf *conf);

#endif
