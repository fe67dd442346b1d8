/*
 * identity.c - normalizes directory entries into identities.
 *
 * Owns: the rules for what in an entry is certifiable.  Never: alters a
 * value beyond address normalization; never accepts a partial user.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "issue.h"
#include "log.h"

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

/* NUL-terminates a value; NULL if it holds a NUL byte (never certifiable). */
static char *
value_str(const struct dir_value *v)
{
	char *s;

	if (memchr(v->val, '\0', v->len) != NULL)
		return NULL;
	if ((s = malloc(v->len + 1)) == NULL)
		fatal("out of memory");
	memcpy(s, v->val, v->len);
	s[v->len] = '\0';
	return s;
}

static int
add_addresses(struct identity *id, const struct dir_attr *a, size_t first,
    char *why, size_t whylen)
{
	for (size_t i = first; a != NULL && i < a->nvalues; i++) {
		const char *reason = NULL;
		char *raw = value_str(&a->values[i]), *norm;

		if (raw == NULL) {
			snprintf(why, whylen, "%s holds a value with a NUL byte", a->name);
			return -1;
		}
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
	if ((*out = value_str(&a->values[0])) == NULL || !issue_utf8_ok(*out)) {
		snprintf(why, whylen, "%s is not valid UTF-8 text", a->name);
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
identity_from_entry(const struct identity_map *map, const struct dir_entry *e,
    struct identity *out, char *why, size_t whylen)
{
	const struct dir_attr *mail = find_attr(e, map->mail);

	memset(out, 0, sizeof(*out));
	if (e->uuid == NULL || e->uuid[0] == '\0') {
		snprintf(why, whylen, "the entry has no uuid");
		return -1;
	}
	if (mail == NULL || mail->nvalues == 0) {
		snprintf(why, whylen, "the entry has no %s attribute", map->mail);
		return -1;
	}
	if ((out->uuid = strdup(e->uuid)) == NULL || (out->dn = strdup(e->dn)) == NULL)
		fatal("out of memory");
	out->enabled = 1;
	/* Further values of the mail attribute are aliases, in stored order. */
	if (add_addresses(out, mail, 0, why, whylen) == -1 ||
	    add_addresses(out, find_attr(e, map->aliases), 0, why, whylen) == -1 ||
	    get_name(e, map->display_name, &out->display_name, why, whylen) == -1 ||
	    get_name(e, map->given_name, &out->given_name, why, whylen) == -1 ||
	    get_name(e, map->surname, &out->surname, why, whylen) == -1 ||
	    get_name(e, map->uid, &out->uid, why, whylen) == -1) {
		identity_free(out);
		return -1;
	}
	return 0;
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

char *
identity_aliases_text(const struct identity *id)
{
	size_t len = 1;
	char *out;

	for (size_t i = 1; i < id->addresses.n; i++)
		len += strlen(id->addresses.v[i]) + 1;
	if ((out = calloc(1, len)) == NULL)
		fatal("out of memory");
	for (size_t i = 1; i < id->addresses.n; i++) {
		if (i > 1)
			strcat(out, "\n");
		strcat(out, id->addresses.v[i]);
	}
	return out;
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
