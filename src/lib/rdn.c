/*
 * rdn.c - the subject attributes' bounds and character sets.
 *
 * Owns: the table of the attributes a subject template may use and the
 * checks of a value against it (rdn.h).  Never: anything about how a
 * template is written or expanded: conf.c reads templates, issue.c
 * expands them, and both ask here whether a value fits.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/rdn.h"
#include "lib/utf8.h"

/*
 * The attributes a subject template may use (lib/conf.c lists the same
 * names), with their upper bounds in characters (RFC 5280 Appendix A;
 * emailAddress at OpenSSL's 128, below PKCS #9's 255) and the string type
 * DER gives them.  OpenSSL counts characters the same way and refuses what
 * this table refuses; checking here first gives the admin the reason.
 */
enum rdn_charset { RDN_UTF8, RDN_PRINTABLE, RDN_IA5 };

static const struct rdn_bound {
	const char *name;
	long min, max;
	enum rdn_charset charset;
} rdn_bounds[] = {
	{ "CN", 1, 64, RDN_UTF8 },                 /* ub-common-name */
	{ "O", 1, 64, RDN_UTF8 },                  /* ub-organization-name */
	{ "OU", 1, 64, RDN_UTF8 },                 /* ub-organizational-unit-name */
	{ "L", 1, 128, RDN_UTF8 },                 /* ub-locality-name */
	{ "ST", 1, 128, RDN_UTF8 },                /* ub-state-name */
	{ "C", 2, 2, RDN_PRINTABLE },              /* ISO 3166 alpha-2 */
	{ "serialNumber", 1, 64, RDN_PRINTABLE },  /* ub-serial-number */
	{ "emailAddress", 1, 128, RDN_IA5 },       /* ub-emailaddress-length */
};

/* RFC 5280's PrintableString: letters, digits, space and '()+,-./:=? */
static int
printable(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr(" '()+,-./:=?", c) != NULL);
}

/* The position (from 1) of the first character of value its string type
 * cannot carry, or 0 when there is none. */
static long
charset_misfit(const char *value, enum rdn_charset cs)
{
	const unsigned char *p = (const unsigned char *)value;
	long pos = 1;

	for (; *p != '\0' && cs != RDN_UTF8; p++) {
		if ((*p & 0xc0) == 0x80)
			continue;	/* inside a character */
		if (*p >= 0x80 || (cs == RDN_PRINTABLE && !printable(*p)))
			return pos;
		pos++;
	}
	return 0;
}

static const struct rdn_bound *
bound_of(const char *attr)
{
	for (size_t i = 0; i < sizeof(rdn_bounds) / sizeof(rdn_bounds[0]); i++)
		if (strcasecmp(attr, rdn_bounds[i].name) == 0)
			return &rdn_bounds[i];
	return NULL;
}

/* rdn_value_check(), and with fixed the check of a value's fixed text
 * (at least that long, no exact length): 0, or -1 with why. */
static int
check(const char *attr, const char *value, int fixed, char *why, size_t whylen)
{
	const struct rdn_bound *b = bound_of(attr);
	char reason[160];
	long chars, pos;

	if (utf8_text_check(value, strlen(value), reason, sizeof(reason)) == -1) {
		snprintf(why, whylen, "subject %s %s", attr, reason);
		return -1;
	}
	if (b == NULL)
		return 0;	/* not a template attribute: OpenSSL's table decides */
	chars = utf8_length(value, strlen(value));
	if (!fixed && b->min == b->max && chars != b->max) {
		snprintf(why, whylen, "subject %s would be %ld characters long; it "
		    "must be exactly %ld", b->name, chars, b->max);
		return -1;
	}
	if (chars > b->max) {
		snprintf(why, whylen, "subject %s would be %s%ld characters long; RFC "
		    "5280 allows at most %ld", b->name, fixed ? "at least " : "",
		    chars, b->max);
		return -1;
	}
	if ((pos = charset_misfit(value, b->charset)) > 0) {
		snprintf(why, whylen, "subject %s has a character at position %ld "
		    "that %s cannot hold", b->name, pos, b->charset == RDN_IA5 ?
		    "an IA5String (ASCII)" : "a PrintableString (letters, digits, "
		    "space and '()+,-./:=?)");
		return -1;
	}
	return 0;
}

int
rdn_value_check(const char *attr, const char *value, char *why, size_t whylen)
{
	return check(attr, value, 0, why, whylen);
}

int
rdn_fixed_text_check(const char *attr, const char *text, char *why, size_t whylen)
{
	return check(attr, text, 1, why, whylen);
}
