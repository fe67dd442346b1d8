/*
 * rdn.h - what a subject template's attributes may hold.
 *
 * Owns: the attributes a subject template may name, each with its RFC 5280
 * upper bound in characters and the string type DER gives it, the longest
 * template, and the one verdict on a value: for the issuer (pki/issue.c,
 * on each expanded value) and for the configuration (lib/conf.c, on the
 * template's own text, so a template under which no user could be issued
 * is refused when the file is loaded, not at every issue).
 * Never: expands a template, or calls OpenSSL; it says why, in words an
 * admin can act on.
 */
#ifndef CERTSYNC_RDN_H
#define CERTSYNC_RDN_H

#include <stddef.h>

/* The longest subject template, in bytes with its NUL. */
#define RDN_TEMPLATE_MAX 1024

/*
 * The value of attribute attr as it goes into a certificate: text
 * (utf8_text_check()), within the attribute's bound (counted in
 * characters; C is exactly 2), in its string type's character set
 * (PrintableString for C and serialNumber, IA5String for emailAddress).
 * An attribute outside the table is only checked as text.  0, or -1 with a
 * reason in why: "subject CN would be 65 characters long; RFC 5280 allows
 * at most 64".
 */
int rdn_value_check(const char *attr, const char *value, char *why, size_t whylen);

/*
 * The same verdict on the fixed text of a template value that also holds
 * variables (text is the value with its %{...} taken out): text, character
 * set, and not over the bound already.  A length that must be exact (C) is
 * left to the expanded value.  0, or -1 with a reason in why.
 */
int rdn_fixed_text_check(const char *attr, const char *text, char *why, size_t whylen);

#endif
