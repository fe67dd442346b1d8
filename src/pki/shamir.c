/*
 * shamir.c - Shamir secret sharing over GF(2^8), byte by byte.
 *
 * Owns: the field arithmetic and the split/interpolate pair of shamir.h.
 * Never: looks anything up by a secret value.  Log/exp tables would make
 * multiplication cheaper, but an index derived from a secret byte leaks it
 * through the cache; the multiply below is eight rounds of shift, mask and
 * xor whatever its operands, and the inverse is a fixed chain of multiplies
 * (a^254).  The x values are public (they are written in every share), so
 * checking them may branch; the y values and coefficients never steer a
 * branch or an index.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pki/shamir.h"

/* x^8 + x^4 + x^3 + x + 1: the AES polynomial (0x11b). */
#define GF256_POLY 0x11bu

uint8_t
gf256_mul(uint8_t a, uint8_t b)
{
	unsigned r = 0, aa = a, i;

	for (i = 0; i < 8; i++) {
		/* 0u - bit is all ones or all zeros: a mask, not a branch. */
		r ^= aa & (0u - ((unsigned)(b >> i) & 1u));
		aa = (aa << 1) ^ (GF256_POLY & (0u - (aa >> 7)));
	}
	return (uint8_t)r;
}

uint8_t
gf256_inv(uint8_t a)
{
	uint8_t r = 1, sq = a;
	int i;

	/* a^254 = a^2 * a^4 * ... * a^128; the group has order 255. */
	for (i = 1; i < 8; i++) {
		sq = gf256_mul(sq, sq);
		r = gf256_mul(r, sq);
	}
	return r;
}

/* The polynomial with coefficients secret[j], coef[0][j], coef[1][j], ...
 * (each coef row len bytes) evaluated at x, by Horner's rule. */
static uint8_t
poly_eval(const unsigned char *secret, const unsigned char *coef, size_t j,
    size_t len, unsigned m, uint8_t x)
{
	uint8_t y = 0;
	unsigned k;

	for (k = m - 1; k >= 1; k--)
		y = gf256_mul(y, x) ^ coef[(k - 1) * len + j];
	return gf256_mul(y, x) ^ secret[j];
}

/* Returns 0 or -1, as shamir.h says. */
int
shamir_split(const unsigned char *secret, size_t len, unsigned m, unsigned n,
    unsigned char *ys)
{
	unsigned char *coef = NULL;
	size_t clen, j;
	unsigned i;
	int rc = -1;

	if (m < 1 || m > n || n > SHAMIR_MAX_SHARES || len == 0)
		return -1;
	/* Uniform coefficients, a zero top one included: forcing it nonzero
	 * would make m - 1 shares rule out one candidate secret. */
	clen = (size_t)(m - 1) * len;
	if (clen > 0 && ((coef = OPENSSL_malloc(clen)) == NULL ||
	    RAND_priv_bytes(coef, (int)clen) != 1))
		goto done;
	for (i = 0; i < n; i++)
		for (j = 0; j < len; j++)
			ys[i * len + j] = poly_eval(secret, coef, j, len, m,
			    (uint8_t)(i + 1));
	rc = 0;
done:
	if (rc == -1)
		OPENSSL_cleanse(ys, (size_t)n * len);
	OPENSSL_clear_free(coef, clen);
	return rc;
}

/* Lagrange weight of point i at x = 0: the product over j != i of
 * x_j / (x_i - x_j), where minus is xor in characteristic 2. */
static uint8_t
lagrange_at_zero(const unsigned char *xs, size_t k, size_t i)
{
	uint8_t num = 1, den = 1;
	size_t j;

	for (j = 0; j < k; j++) {
		if (j == i)
			continue;
		num = gf256_mul(num, xs[j]);
		den = gf256_mul(den, xs[i] ^ xs[j]);
	}
	return gf256_mul(num, gf256_inv(den));
}

/* 1 when the public x values are usable: nonzero and distinct. */
static int
xs_valid(const unsigned char *xs, size_t k)
{
	size_t i, j;

	for (i = 0; i < k; i++) {
		if (xs[i] == 0)
			return 0;
		for (j = 0; j < i; j++)
			if (xs[i] == xs[j])
				return 0;
	}
	return 1;
}

/* Returns 0 or -1, as shamir.h says. */
int
shamir_combine(const unsigned char *xs, const unsigned char *ys, size_t k,
    size_t len, unsigned char *secret)
{
	size_t i, j;
	uint8_t w;

	OPENSSL_cleanse(secret, len);
	if (k == 0 || k > SHAMIR_MAX_SHARES || !xs_valid(xs, k))
		return -1;
	for (i = 0; i < k; i++) {
		w = lagrange_at_zero(xs, k, i);
		for (j = 0; j < len; j++)
			secret[j] ^= gf256_mul(w, ys[i * len + j]);
	}
	return 0;
}
