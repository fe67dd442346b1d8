/*
 * address.h - email address validation and normalization.
 *
 * Owns: deciding whether a directory value may go into a certificate as an
 * rfc822Name (RFC 5321 Mailbox syntax), and its one canonical spelling.
 * Never: guesses.  A value it cannot vouch for is refused with a reason,
 * before anything is signed.
 */
#ifndef CERTSYNC_ADDRESS_H
#define CERTSYNC_ADDRESS_H

#include <stddef.h>

/*
 * Checks in against RFC 5321 Mailbox (dot-atom local part of at most 64
 * octets, domain of LDH labels, at most 254 octets in all) and returns its
 * normalized form: the domain lower-cased, the local part kept as it is
 * (it is case-sensitive by the RFC).  Refused, with a static reason in
 * *why: quoted local parts, address literals, non-ASCII (those need
 * RFC 8398 SmtpUTF8Mailbox), whitespace, control characters.
 * Returns a string the caller frees, or NULL with *why set.
 */
char *address_normalize(const char *in, const char **why);

/*
 * True when a and b name the same mailbox for our purposes: normalized
 * forms equal ignoring ASCII case (mail systems treat local parts
 * case-insensitively in practice, and a certificate per case would be a
 * stale certificate waiting to happen).
 */
int address_equal(const char *a, const char *b);

/*
 * A list of normalized addresses: the primary first, then the aliases in
 * their original order, duplicates (by address_equal) dropped.
 */
struct address_list {
	char **v;      /* v[0] is the primary */
	size_t n;
};

/* Appends a normalized address unless already present; returns 1 if added,
 * 0 if a duplicate.  Takes ownership of addr either way. */
int address_list_add(struct address_list *list, char *addr);
/* True when both lists hold the same addresses with the same primary. */
int address_list_same(const struct address_list *a, const struct address_list *b);
void address_list_free(struct address_list *list);
/* The list joined with ", " (the form stored and shown); caller frees. */
char *address_list_join(const struct address_list *list);
/* Parses a joined list back; every entry is normalized again (the store is
 * not trusted blindly).  Returns 0, or -1 if an entry is not an address. */
int address_list_split(const char *joined, struct address_list *out);

#endif
