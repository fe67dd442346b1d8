/*
 * vocab.c - the spelling of the shared words.
 *
 * Owns: the one name table of the certificate kinds.  Never: anything else;
 * see vocab.h.
 */
#include "config.h"

#include <string.h>

#include "lib/vocab.h"

static const char *const kind_names[] = { "signing", "encryption", "dual" };

const char *
cert_kind_name(enum cert_kind kind)
{
	return kind_names[kind];
}

int
cert_kind_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}
