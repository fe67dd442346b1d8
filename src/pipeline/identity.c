/*
 * identity.c - normalizes directory entries into identities.
 *
 * Owns: the rules for what in an entry is certifiable: every value clean
 * text (utf8_text_check()), every address valid, and the user as a whole
 * one the profile would certify (issue_check(): the subject the template
 * gives, the number of addresses), so that a user the issuer would refuse
 * is skipped here, with the reason, and never becomes a job that fails.
 * Never: alters a value beyond address normalization; never accepts a
 * partial user.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/utf8.h"
#include "pipeline/identity.h"
#include "pki/issue.h"

static const struct dir_attr *
find_attr(const struct dir_entry *e, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < e->nattrs; i++)
		if (strcasecmp(e->attrs[i].name, name) == 0)
			return &e->attrs[i];
	return NULL;
}

/* A NUL-terminated copy of a value (checked to hold no NUL); caller frees. */
static char *
value_str(const struct dir_value *v)
{
	char *s;

	if ((s = malloc(v->len + 1)) == NULL)
		fatal("out of memory");
	memcpy(s, v->val, v->len);
	s[v->len] = '\0';
	return s;
}

/* Whether value i of attribute a is text; why names the attribute and the
 * problem, and where.  0 or -1. */
static int
value_text(const struct dir_attr *a, const struct dir_value *v, char *why,
    size_t whylen)
{
	char reason[160];

	if (utf8_text_check(v->val, v->len, reason, sizeof(reason)) == 0)
		return 0;
	snprintf(why, whylen, "%s %s", a->name, reason);
	return -1;
}

static int
add_addresses(struct identity *id, const struct dir_attr *a, size_t first,
    char *why, size_t whylen)
{
	for (size_t i = first; a != NULL && i < a->nvalues; i++) {
		const char *reason = NULL;
		char *raw, *norm;

		if (value_text(a, &a->values[i], why, whylen) == -1)
			return -1;
		raw = value_str(&a->values[i]);
		if ((norm = address_normalize(raw, &reason)) == NULL) {
			snprintf(why, whylen, "%s \"%.80s\" %s", a->name, raw, reason);
			free(raw);
			return -1;
		}
		free(raw);
		address_list_add(&id->addresses, norm);
	}
	return 0;
}

/* Adds one address value (raw, not NUL-terminated) of attribute name. */
static int
add_one(struct identity *id, const char *name, const char *val, size_t len,
    char *why, size_t whylen)
{
	struct dir_value v = { val, len };
	struct dir_attr a = { name, &v, 1 };

	return add_addresses(id, &a, 0, why, whylen);
}

/*
 * Exchange proxyAddresses: "SMTP:" (exactly so) marks the primary address,
 * "smtp:" (any other case) an alias; other types (X400:, SIP:, X500:, ...)
 * are no e-mail addresses and are ignored.  pass 0 adds the primary only,
 * pass 1 the aliases.
 */
static int
add_proxy_addresses(struct identity *id, const struct dir_attr *a, int pass,
    char *why, size_t whylen)
{
	for (size_t i = 0; a != NULL && i < a->nvalues; i++) {
		const char *v = a->values[i].val;
		size_t len = a->values[i].len;
		int primary;

		if (len < 5 || strncasecmp(v, "smtp:", 5) != 0)
			continue;
		primary = strncmp(v, "SMTP:", 5) == 0;
		if (primary != (pass == 0))
			continue;
		if (add_one(id, a->name, v + 5, len - 5, why, whylen) == -1)
			return -1;
	}
	return 0;
}

/* userAccountControl: a decimal number; *enabled from its ACCOUNTDISABLE bit. */
static int
get_enabled(const struct dir_entry *e, int *enabled, char *why, size_t whylen)
{
	const struct dir_attr *a = find_attr(e, "userAccountControl");
	char buf[24], *end;
	long long uac;

	*enabled = 1;
	if (a == NULL || a->nvalues == 0)
		return 0;
	if (a->values[0].len == 0 || a->values[0].len >= sizeof(buf))
		goto bad;
	memcpy(buf, a->values[0].val, a->values[0].len);
	buf[a->values[0].len] = '\0';
	errno = 0;
	uac = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || uac < INT32_MIN || uac > UINT32_MAX)
		goto bad;
	*enabled = ((unsigned long long)uac & IDENTITY_UAC_DISABLED) == 0;
	return 0;
bad:
	snprintf(why, whylen, "userAccountControl is not a 32-bit number");
	return -1;
}

/* The first value of a name attribute, checked; *out NULL when absent. */
static int
get_name(const struct dir_entry *e, const char *attr, char **out, char *why,
    size_t whylen)
{
	const struct dir_attr *a = find_attr(e, attr);

	*out = NULL;
	if (a == NULL || a->nvalues == 0)
		return 0;
	if (a->values[0].len > IDENTITY_NAME_MAX) {
		snprintf(why, whylen, "%s is %zu bytes long (at most %d are accepted)",
		    a->name, a->values[0].len, IDENTITY_NAME_MAX);
		return -1;
	}
	if (value_text(a, &a->values[0], why, whylen) == -1)
		return -1;
	*out = value_str(&a->values[0]);
	return 0;
}

/* The user as the issuer would see it: the subject the template gives and
 * the addresses, checked by the profile's own rules.  0, or -1 with why. */
static int
check_profile(const char *tmpl, const struct identity *id, char *why,
    size_t whylen)
{
	char namebuf[2 * IDENTITY_NAME_MAX + 2];
	struct subject_vars vars;

	identity_subject_vars(id, &vars, namebuf, sizeof(namebuf));
	return issue_check(tmpl, &vars, &id->addresses, why, whylen);
}

int
identity_from_entry(const struct identity_map *map, const struct dir_entry *e,
    struct identity *out, char *why, size_t whylen)
{
	const struct dir_attr *mail = find_attr(e, map->mail);
	const struct dir_attr *aliases = find_attr(e, map->aliases);

	memset(out, 0, sizeof(*out));
	if (e->uuid == NULL || e->uuid[0] == '\0') {
		snprintf(why, whylen, "the entry has no uuid");
		return -1;
	}
	if ((out->uuid = strdup(e->uuid)) == NULL || (out->dn = strdup(e->dn)) == NULL)
		fatal("out of memory");
	out->enabled = 1;
	if (map->ad) {
		/* SMTP: first, then mail, then the smtp: aliases. */
		if (add_proxy_addresses(out, aliases, 0, why, whylen) == -1 ||
		    add_addresses(out, mail, 0, why, whylen) == -1 ||
		    add_proxy_addresses(out, aliases, 1, why, whylen) == -1 ||
		    get_enabled(e, &out->enabled, why, whylen) == -1)
			goto bad;
		if (out->addresses.n == 0) {
			snprintf(why, whylen, "the entry has neither %s nor an "
			    "SMTP address in %s", map->mail,
			    map->aliases ? map->aliases : "proxyAddresses");
			goto bad;
		}
	} else if (mail == NULL || mail->nvalues == 0) {
		snprintf(why, whylen, "the entry has no %s attribute", map->mail);
		goto bad;
	} else if (add_addresses(out, mail, 0, why, whylen) == -1 ||
	    add_addresses(out, aliases, 0, why, whylen) == -1)
		/* Further values of the mail attribute are aliases, in order. */
		goto bad;
	if (get_name(e, map->display_name, &out->display_name, why, whylen) == -1 ||
	    get_name(e, map->given_name, &out->given_name, why, whylen) == -1 ||
	    get_name(e, map->surname, &out->surname, why, whylen) == -1 ||
	    get_name(e, map->uid, &out->uid, why, whylen) == -1)
		goto bad;
	if (map->subject != NULL && check_profile(map->subject, out, why, whylen) == -1)
		goto bad;
	return 0;
bad:
	identity_free(out);
	return -1;
}

void
identity_free(struct identity *id)
{
	free(id->uuid);
	free(id->dn);
	address_list_free(&id->addresses);
	free(id->display_name);
	free(id->given_name);
	free(id->surname);
	free(id->uid);
	memset(id, 0, sizeof(*id));
}

/* Two names the same, NULL and "" alike. */
static int
same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int
identity_same(const struct identity *a, const struct identity *b)
{
	return same_text(a->dn, b->dn) && address_list_same(&a->addresses, &b->addresses) &&
	    same_text(a->display_name, b->display_name) &&
	    same_text(a->given_name, b->given_name) &&
	    same_text(a->surname, b->surname) && same_text(a->uid, b->uid) &&
	    a->enabled == b->enabled;
}

static int
set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

void
identity_subject_vars(const struct identity *id, struct subject_vars *vars,
    char *buf, size_t len)
{
	memset(vars, 0, sizeof(*vars));
	vars->given = id->given_name;
	vars->sn = id->surname;
	vars->uid = id->uid;
	vars->mail = id->addresses.n ? id->addresses.v[0] : NULL;
	if (set(id->display_name))
		vars->name = id->display_name;
	else if (set(id->given_name) && set(id->surname)) {
		snprintf(buf, len, "%s %s", id->given_name, id->surname);
		vars->name = buf;
	} else if (set(id->surname))
		vars->name = id->surname;
	else
		vars->name = vars->mail;
}
