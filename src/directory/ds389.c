/*
 * ds389.c - 389 Directory Server's id, rootDSE and cookies.
 *
 * Owns: turning nsUniqueId into the uuid 389-ds sends as syncUUID, reading
 * vendorName and the retro changelog's change numbers from the rootDSE,
 * and judging a stored cookie against them.
 * Never: decides what to do about a stale cookie (watch.c drops it and
 * reads everything), or touches the store.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/ds389.h"
#include "directory/ldapconn.h"
#include "lib/log.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
ds389_uuid(const char *val, size_t len, char out[37])
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0, d = 0;

	/* 8-8-8-8: 35 characters, a hyphen after each group of eight. */
	if (len != 35)
		return -1;
	for (size_t k = 0; k < len; k++) {
		if (k % 9 == 8) {
			if (val[k] != '-')
				return -1;
			continue;
		}
		if (hexval(val[k]) < 0)
			return -1;
		/* 8-4-4-4-12: hyphens after the 8th, 12th, 16th, 20th digit. */
		if (d == 8 || d == 12 || d == 16 || d == 20)
			out[o++] = '-';
		out[o++] = digits[hexval(val[k])];
		d++;
	}
	out[o] = '\0';
	return 0;
}

/* A decimal change number; 0 and *ok 0 when absent or not a number (one
 * past 64 bits is none: strtoull would read it as the largest). */
static uint64_t
number_of(const char *s, int *ok)
{
	char *end = NULL;
	unsigned long long n;

	*ok = 0;
	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	n = strtoull(s, &end, 10);
	*ok = *end == '\0' && errno != ERANGE;
	return *ok ? (uint64_t)n : 0;
}

int
ds389_rootdse(LDAP *ld, int timeout, struct ds389_server *out, char *err,
    size_t errlen)
{
	char *attrs[] = { "vendorName", "vendorVersion", "firstchangenumber",
	    "lastchangenumber", NULL };
	LDAPMessage *res, *e = NULL;
	char *first, *last;
	int ok_first, ok_last;

	memset(out, 0, sizeof(*out));
	if ((res = ldapconn_rootdse(ld, attrs, timeout, &e, err, errlen)) == NULL)
		return -1;
	out->vendor = ldapconn_first_value(ld, e, "vendorName");
	out->version = ldapconn_first_value(ld, e, "vendorVersion");
	first = ldapconn_first_value(ld, e, "firstchangenumber");
	last = ldapconn_first_value(ld, e, "lastchangenumber");
	out->first = number_of(first, &ok_first);
	out->last = number_of(last, &ok_last);
	out->have_changelog = ok_first && ok_last;
	free(first);
	free(last);
	ldap_msgfree(res);
	return 0;
}

void
ds389_server_free(struct ds389_server *s)
{
	free(s->vendor);
	free(s->version);
	memset(s, 0, sizeof(*s));
}

int
ds389_is_389(const struct ds389_server *s)
{
	/* 389-ds says "389 Project"; Red Hat Directory Server, the same code,
	 * its own vendorName but a vendorVersion of "Red Hat-Directory/...". */
	return (s->vendor != NULL && strcmp(s->vendor, "389 Project") == 0) ||
	    (s->version != NULL && (strncmp(s->version, "389-Directory/", 14) == 0 ||
	    strncmp(s->version, "Red Hat-Directory/", 18) == 0));
}

int
ds389_check_flavor(enum dir_flavor flavor, const struct ds389_server *s,
    char *err, size_t errlen)
{
	if (flavor != DIR_FLAVOR_OPENLDAP || !ds389_is_389(s))
		return 0;
	snprintf(err, errlen, "the server is 389 Directory Server (vendorName "
	    "\"%.60s\"), which certsync follows only with [directory] flavor = "
	    "389ds", s->vendor != NULL ? s->vendor : "?");
	return -1;
}

/* The change number after a cookie's last '#'.  0, or -1. */
static int
cookie_number(const void *cookie, size_t len, uint64_t *n)
{
	const char *c = cookie;
	char buf[24];
	size_t start = len;
	int ok;

	while (len > 0 && c[len - 1] == '\0')	/* a C string's NUL, if sent */
		len--;
	for (start = len; start > 0 && c[start - 1] != '#'; start--)
		;
	/* A NUL inside would end the number early: "#8<NUL>5" is not 8. */
	if (start == 0 || len - start == 0 || len - start >= sizeof(buf) ||
	    memchr(c + start, '\0', len - start) != NULL)
		return -1;
	memcpy(buf, c + start, len - start);
	buf[len - start] = '\0';
	*n = number_of(buf, &ok);
	return ok ? 0 : -1;
}

int
ds389_cookie_stale(const struct ds389_server *s, const void *cookie, size_t len,
    char *why, size_t whylen)
{
	uint64_t n;

	if (cookie_number(cookie, len, &n) == -1) {
		snprintf(why, whylen, "the stored cookie names no change number");
		return 1;
	}
	if (!s->have_changelog) {
		snprintf(why, whylen, "the rootDSE shows no retro changelog "
		    "(firstchangenumber, lastchangenumber)");
		return 1;
	}
	/* An empty changelog after changes: everything was trimmed. */
	if (s->first == 0 && s->last == 0 && n > 0) {
		snprintf(why, whylen, "the retro changelog is empty, and the "
		    "stored cookie is at change %llu", (unsigned long long)n);
		return 1;
	}
	if (s->first > n + 1) {
		snprintf(why, whylen, "the retro changelog starts at change %llu, "
		    "the stored cookie is at change %llu: the changes in between "
		    "were trimmed", (unsigned long long)s->first,
		    (unsigned long long)n);
		return 1;
	}
	return 0;
}
