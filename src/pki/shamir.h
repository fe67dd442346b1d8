/*
 * shamir.h - Shamir secret sharing over GF(2^8), byte by byte.
 *
 * Owns: the field arithmetic (the AES field, x^8 + x^4 + x^3 + x + 1) and
 * splitting a secret into n points of random polynomials of degree m - 1
 * whose constant terms are the secret's bytes, and interpolating them back
 * at x = 0.
 * Never: branches on or indexes memory by a secret byte (every multiply is
 * the same sequence of shifts, masks and xors), or leaves a coefficient or
 * intermediate value in memory it returns.
 *
 * The format that carries the points (who holds which x, for which secret)
 * belongs to kra.h; this layer is pure arithmetic.
 */
#ifndef CERTSYNC_SHAMIR_H
#define CERTSYNC_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_MAX_SHARES 255

/* a * b in GF(2^8) mod x^8 + x^4 + x^3 + x + 1, in constant time. */
uint8_t gf256_mul(uint8_t a, uint8_t b);

/* The inverse of a (a^254), in constant time; 0 for a = 0. */
uint8_t gf256_inv(uint8_t a);

/*
 * Splits secret (len bytes) into n shares, any m of which recover it
 * (1 <= m <= n <= 255).  Share i (0-based) is the point x = i + 1; its len
 * bytes go to ys + i * len.  The coefficients come from RAND_priv_bytes();
 * with m = 1 every share equals the secret.
 * Returns 0, or -1 (bad m or n, len 0, or the random generator failed)
 * with ys wiped.
 */
int shamir_split(const unsigned char *secret, size_t len, unsigned m,
    unsigned n, unsigned char *ys);

/*
 * Interpolates k points at x = 0 into secret (len bytes): xs[i] is point
 * i's x, ys + i * len its bytes.  k points of a polynomial of degree below
 * k give its constant term; fewer give a value unrelated to it.
 * Returns 0, or -1 (k = 0, an x of 0, or two equal x) with secret wiped.
 */
int shamir_combine(const unsigned char *xs, const unsigned char *ys, size_t k,
    size_t len, unsigned char *secret);

#endif
