/*
 * tests/fuzz/replay.c - a fuzz target's corpus, replayed without libFuzzer.
 *
 * Owns: main() for the replay drivers make check builds (any compiler):
 * each file named on the command line is read whole and fed once to the
 * target's LLVMFuzzerTestOneInput, as libFuzzer would.  A broken property
 * aborts, a sanitizer reports; otherwise it prints how many inputs ran.
 * Never: mutates an input or skips one it cannot read (that is an error).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Optional in a target; the replay driver calls it when there is one. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
replay(const char *path)
{
	FILE *f = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, got;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	if (ferror(f))
		fprintf(stderr, "replay: %s: read error\n", path);
	else {
		/* libFuzzer hands over exactly len bytes: no slack to read. */
		unsigned char *exact = malloc(len ? len : 1);

		if (exact == NULL)
			abort();
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
		rc = 0;
	}
	free(buf);
	fclose(f);
	return rc;
}

int
main(int argc, char **argv)
{
	int n = 0, bad = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (replay(argv[i]) == -1)
			bad++;
		else
			n++;
	}
	printf("%s: %d input(s) replayed\n", argv[0], n);
	return bad ? 1 : 0;
}
