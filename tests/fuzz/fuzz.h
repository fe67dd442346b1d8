/*
 * tests/fuzz/fuzz.h - what every fuzz target shares.
 *
 * Owns: the libFuzzer entry points every target defines, reading a fuzz
 * input piece by piece, and the one way a target reports a broken
 * property (fuzz_check: abort, which libFuzzer and the replay driver both
 * count as a finding).
 * Never: hides a failure; a target either returns 0 or aborts.
 *
 * A target is a file tests/fuzz/fuzz_NAME.c with LLVMFuzzerTestOneInput
 * (and LLVMFuzzerInitialize if it needs one-time set-up).  It is linked
 * twice: with -fsanitize=fuzzer by scripts/fuzz, and with replay.c (a plain
 * main() that feeds it files) by make check, with any compiler.
 */
#ifndef CERTSYNC_FUZZ_H
#define CERTSYNC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold for every input: abort when it does not. */
#define fuzz_check(cond) do {                                           \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: fuzz property broken: %s\n",    \
		    __FILE__, __LINE__, #cond);                         \
		abort();                                                \
	}                                                               \
} while (0)

/* The input, consumed from the front. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* One byte, or 0 when the input is used up (*ok cleared). */
static inline unsigned
fuzz_u8(struct fuzz_in *in, int *ok)
{
	if (in->n == 0) {
		*ok = 0;
		return 0;
	}
	in->n--;
	return *in->p++;
}

/* A 16-bit big-endian number, or 0 when the input is used up. */
static inline unsigned
fuzz_u16(struct fuzz_in *in, int *ok)
{
	unsigned hi = fuzz_u8(in, ok);

	return hi << 8 | fuzz_u8(in, ok);
}

/* Up to want bytes: their address and *got; fewer when the input ends. */
static inline const uint8_t *
fuzz_bytes(struct fuzz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

/* A malloc'd NUL-terminated copy of len bytes (a NUL inside stays). */
static inline char *
fuzz_strndup(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

#endif
