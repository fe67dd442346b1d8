/*
 * identity.h - a directory entry, normalized into the person we certify.
 *
 * Owns: turning raw attribute values into an identity: uuid, DN, primary
 * address and aliases (validated), names (UTF-8, bounded), enabled.
 * Never: guesses around a bad value.  A value we cannot certify makes the
 * whole user skipped, with one reason naming the attribute and the problem.
 */
#ifndef CERTSYNC_IDENTITY_H
#define CERTSYNC_IDENTITY_H

#include <stddef.h>

#include "directory/entry.h"
#include "lib/vocab.h"
#include "pki/address.h"

/* Which attributes carry what; from [directory]. */
struct identity_map {
	const char *mail;             /* primary address (first value) */
	const char *aliases;          /* more addresses; NULL: none */
	const char *display_name;
	const char *given_name;
	const char *surname;
	const char *uid;
	int ad;                       /* Active Directory: aliases are proxyAddresses
	                                 (SMTP:/smtp:), userAccountControl says enabled */
	const char *subject;          /* [certificates] subject: the user must be one
	                                 the profile certifies (issue_check());
	                                 NULL: not checked */
};

/* userAccountControl's ACCOUNTDISABLE bit. */
#define IDENTITY_UAC_DISABLED 0x2

struct identity {
	char *uuid;
	char *dn;
	struct address_list addresses;   /* v[0] primary */
	char *display_name;
	char *given_name;
	char *surname;
	char *uid;
	int enabled;
};

/* Longest name we accept, in bytes (64 characters of 4 bytes each, the
 * most any subject attribute of a name takes); a longer one is refused,
 * not cut.  The profile's own bounds, in characters, come on top. */
#define IDENTITY_NAME_MAX 256

/*
 * Normalizes entry.  With map->ad the primary address is the proxyAddresses
 * value marked SMTP: (else the first mail value), then mail, then smtp:
 * aliases; other proxyAddresses types are ignored; a user is disabled when
 * userAccountControl has IDENTITY_UAC_DISABLED.  Returns 0 and fills *out (free with identity_free), or
 * -1 with a reason written into why (a full sentence naming the attribute)
 * and *out left empty.  Every value must be clean text
 * (utf8_text_check(): the reason says what is wrong and at which
 * character), every address valid (address_normalize()), and with
 * map->subject the user must be one the profile certifies (issue_check()).
 */
int identity_from_entry(const struct identity_map *map, const struct dir_entry *entry,
    struct identity *out, char *why, size_t whylen);
void identity_free(struct identity *id);

/* Whether a and b are the same person with the same values: DN, addresses
 * (the same primary; aliases in any order), names, uid, enabled. */
int identity_same(const struct identity *a, const struct identity *b);

/*
 * The subject template's variables for id.  %{name} is the display name,
 * else "given surname", else the surname, else the primary address; buf
 * holds it when it has to be composed.  Pointers stay valid while id and
 * buf do.
 */
void identity_subject_vars(const struct identity *id, struct subject_vars *vars,
    char *buf, size_t len);

#endif
