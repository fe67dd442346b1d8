/*
 * vocab.c - the spelling of the shared words.
 *
 * Owns: the one name table of the certificate kinds, and the one of the
 * archive protections.  Never: anything else; see vocab.h.
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

static const char *const protection_names[] = { "password-file", "recovery-agents" };

const char *
archive_protection_name(enum archive_protection p)
{
	return protection_names[p];
}

int
archive_protection_parse(const char *name)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(name, protection_names[i]) == 0)
			return i;
	return -1;
}
