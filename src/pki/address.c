/*
 * address.c - RFC 5321 Mailbox validation for rfc822Name values.
 *
 * Owns: the syntax check and normalization of email addresses.
 * Never: accepts a value it had to alter beyond lower-casing the domain;
 * anything else wrong is refused with a reason, so the admin fixes the
 * directory instead of us certifying a guess.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "pki/address.h"

#define LOCAL_MAX 64
#define DOMAIN_MAX 253
#define LABEL_MAX 63
#define MAILBOX_MAX 254

/* RFC 5322 atext. */
static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* Catches the faults that deserve their own message before the grammar. */
static const char *
check_characters(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80)
			return "contains non-ASCII characters (internationalized "
			    "addresses are not supported)";
		if (*p == ' ' || *p == '\t')
			return "contains whitespace";
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	}
	return NULL;
}

static const char *
check_local(const char *s, size_t len)
{
	int prev_dot = 1;

	if (len == 0)
		return "has an empty local part";
	if (len > LOCAL_MAX)
		return "has a local part longer than 64 characters";
	if (s[0] == '"')
		return "has a quoted local part (not supported)";
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (prev_dot)
				return "has a misplaced dot in the local part";
			prev_dot = 1;
		} else if (is_atext((unsigned char)s[i]))
			prev_dot = 0;
		else
			return "has a character not allowed in a local part";
	}
	if (prev_dot)
		return "has a misplaced dot in the local part";
	return NULL;
}

static const char *
check_domain(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0)
		return "has an empty domain";
	if (s[0] == '[')
		return "has an address literal as its domain (not supported)";
	if (len > DOMAIN_MAX)
		return "has a domain longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0)
				return "has an empty label in the domain";
			if (s[i - 1] == '-')
				return "has a domain label ending in a hyphen";
			label = 0;
			continue;
		}
		if (!is_ldh((unsigned char)s[i]))
			return "has a character not allowed in a domain";
		if (label == 0 && s[i] == '-')
			return "has a domain label starting with a hyphen";
		if (++label > LABEL_MAX)
			return "has a domain label longer than 63 characters";
	}
	return NULL;
}

char *
address_normalize(const char *in, const char **why)
{
	const char *at, *reason;
	char *out;

	if (in == NULL || in[0] == '\0') {
		*why = "is empty";
		return NULL;
	}
	if (strlen(in) > MAILBOX_MAX) {
		*why = "is longer than 254 characters";
		return NULL;
	}
	if ((reason = check_characters(in)) != NULL) {
		*why = reason;
		return NULL;
	}
	if ((at = strrchr(in, '@')) == NULL) {
		*why = "has no @";
		return NULL;
	}
	if ((reason = check_local(in, (size_t)(at - in))) != NULL ||
	    (reason = check_domain(at + 1)) != NULL) {
		*why = reason;
		return NULL;
	}
	if ((out = strdup(in)) == NULL)
		fatal("out of memory");
	for (char *p = out + (at - in) + 1; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

int
address_equal(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int
address_list_add(struct address_list *list, char *addr)
{
	char **v;

	for (size_t i = 0; i < list->n; i++) {
		if (address_equal(list->v[i], addr)) {
			free(addr);
			return 0;
		}
	}
	if ((v = realloc(list->v, (list->n + 1) * sizeof(*v))) == NULL)
		fatal("out of memory");
	list->v = v;
	list->v[list->n++] = addr;
	return 1;
}

int
address_list_same(const struct address_list *a, const struct address_list *b)
{
	if (a->n != b->n)
		return 0;
	if (a->n == 0)
		return 1;
	if (!address_equal(a->v[0], b->v[0]))
		return 0;
	for (size_t i = 1; i < a->n; i++) {
		size_t j;

		for (j = 1; j < b->n; j++)
			if (address_equal(a->v[i], b->v[j]))
				break;
		if (j == b->n)
			return 0;
	}
	return 1;
}

void
address_list_free(struct address_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

char *
address_list_join(const struct address_list *list)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < list->n; i++)
		len += strlen(list->v[i]) + 2;
	if ((out = calloc(1, len)) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < list->n; i++) {
		if (i > 0)
			strcat(out, ", ");
		strcat(out, list->v[i]);
	}
	return out;
}

int
address_list_split(const char *joined, struct address_list *out)
{
	char *copy, *save = NULL, *tok;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if ((copy = strdup(joined)) == NULL)
		fatal("out of memory");
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		const char *why;
		char *norm = address_normalize(tok, &why);

		if (norm == NULL) {
			rc = -1;
			break;
		}
		address_list_add(out, norm);
	}
	free(copy);
	if (rc == -1)
		address_list_free(out);
	return rc;
}
