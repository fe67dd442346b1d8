/*
 * conf_ini.c - certsync.conf's lines, read one by one (see conf_ini.h).
 *
 * Owns: the line syntax, the same iniparser 4.1 reads (which stops
 * collecting after the first malformed line and hands back nothing), into
 * an iniparser dictionary, with the line of every name.
 * Never: echoes a line, or gives up on the file at a bad line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf_ini.h"
#include "lib/log.h"

/* What one logical line reads as. */
struct parsed {
	enum { LINE_BLANK, LINE_SECTION, LINE_VALUE, LINE_BAD } kind;
	char *name;             /* section, or key: lower case, in the line */
	char *value;            /* LINE_VALUE: in the line */
	const char *problem;    /* LINE_BAD */
};

static char *
strip(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The value after "=": quoted (kept as it is inside the quotes), or up to
 * a ';' or '#' that starts a comment, spaces around it dropped. */
static int
parse_value(char *v, struct parsed *p)
{
	char *close;

	v = strip(v);
	if (*v == '"' || *v == '\'') {
		if ((close = strchr(v + 1, *v)) == NULL) {
			p->problem = "syntax error: a quoted value has no closing quote";
			return -1;
		}
		*close = '\0';
		p->value = v + 1;
		return 0;
	}
	v[strcspn(v, ";#")] = '\0';
	p->value = strip(v);
	return 0;
}

static void
parse_line(char *line, struct parsed *p)
{
	char *s = strip(line), *eq;
	size_t len = strlen(s);

	memset(p, 0, sizeof(*p));
	if (len == 0 || s[0] == '#' || s[0] == ';')
		return;
	if (s[0] == '[' && s[len - 1] == ']') {
		s[len - 1] = '\0';
		p->name = strip(s + 1);
		lower(p->name);
		p->kind = LINE_SECTION;
		return;
	}
	p->kind = LINE_BAD;
	p->problem = "syntax error: not a [section], key = value or comment line";
	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return;
	*eq = '\0';
	p->name = strip(s);
	lower(p->name);
	if (parse_value(eq + 1, p) == 0)
		p->kind = LINE_VALUE;
}

/* Records name (written on line lineno) in the dictionary and the table. */
static void
remember(struct conf_ini *ini, const char *name, const char *value, int lineno)
{
	size_t i;

	if (dictionary_set(ini->dict, name, value) != 0)
		fatal("out of memory");
	for (i = 0; i < ini->n; i++)
		if (strcmp(ini->names[i], name) == 0)
			break;
	if (i == ini->n) {
		if ((ini->names = realloc(ini->names, (i + 1) * sizeof(*ini->names))) == NULL ||
		    (ini->lines = realloc(ini->lines, (i + 1) * sizeof(*ini->lines))) == NULL ||
		    (ini->names[i] = strdup(name)) == NULL)
			fatal("out of memory");
		ini->n++;
	}
	ini->lines[i] = lineno;
}

/* One logical line into ini; section is the header in force. */
static void
take_line(struct conf_ini *ini, const char *path, char *line, int lineno,
    char *section, size_t seclen, int *errors)
{
	struct parsed p;
	char *full = NULL;

	parse_line(line, &p);
	if (p.kind == LINE_BAD) {
		log_error("%s: line %d: %s", path, lineno, p.problem);
		++*errors;
	} else if (p.kind == LINE_SECTION) {
		snprintf(section, seclen, "%s", p.name);
		remember(ini, section, NULL, lineno);
	} else if (p.kind == LINE_VALUE) {
		if (asprintf(&full, "%s:%s", section, p.name) == -1)
			fatal("out of memory");
		remember(ini, full, p.value, lineno);
		free(full);
	}
}

/*
 * The next logical line of f into *buf: continuation lines (ending in a
 * backslash, which goes) joined on.  Returns its first line's number and
 * sets *bad to what makes it unusable (NULL if nothing), or 0 at the end.
 */
static int
next_line(FILE *f, char **buf, size_t *cap, int *lineno, const char **bad)
{
	char *part = NULL;
	size_t pcap = 0, len = 0;
	ssize_t n;
	int first = 0;

	*bad = NULL;
	while ((n = getline(&part, &pcap, f)) != -1) {
		if (first == 0)
			first = *lineno + 1;
		++*lineno;
		if (memchr(part, '\0', (size_t)n) != NULL)
			*bad = "syntax error: the line holds a NUL byte";
		while (n > 0 && isspace((unsigned char)part[n - 1]))
			part[--n] = '\0';
		if (len + (size_t)n + 1 > *cap) {
			*cap = len + (size_t)n + 1;
			if ((*buf = realloc(*buf, *cap)) == NULL)
				fatal("out of memory");
		}
		memcpy(*buf + len, part, (size_t)n + 1);
		len += (size_t)n;
		if (n == 0 || part[n - 1] != '\\')
			break;
		(*buf)[--len] = '\0';
	}
	free(part);
	if (*bad == NULL && len > CONF_INI_LINE_MAX)
		*bad = "line too long (more than 1022 characters)";
	return first;
}

int
conf_ini_read(const char *path, FILE *f, struct conf_ini *ini, int *errors)
{
	char section[CONF_INI_LINE_MAX + 1] = "", *buf = NULL;
	const char *bad = NULL;
	size_t cap = 0;
	int lineno = 0, at, rc = 0;

	memset(ini, 0, sizeof(*ini));
	if ((ini->dict = dictionary_new(0)) == NULL)
		fatal("out of memory");
	while ((at = next_line(f, &buf, &cap, &lineno, &bad)) > 0) {
		if (bad != NULL) {
			log_error("%s: line %d: %s", path, at, bad);
			++*errors;
		} else
			take_line(ini, path, buf, at, section, sizeof(section), errors);
	}
	if (ferror(f)) {
		log_error("%s: cannot read: %s", path, strerror(errno));
		rc = -1;
	}
	free(buf);
	if (rc == -1)
		conf_ini_free(ini);
	return rc;
}

int
conf_ini_line(const struct conf_ini *ini, const char *name)
{
	for (size_t i = 0; i < ini->n; i++)
		if (strcmp(ini->names[i], name) == 0)
			return ini->lines[i];
	return 0;
}

void
conf_ini_free(struct conf_ini *ini)
{
	if (ini->dict != NULL)
		dictionary_del(ini->dict);
	for (size_t i = 0; i < ini->n; i++)
		free(ini->names[i]);
	free(ini->names);
	free(ini->lines);
	memset(ini, 0, sizeof(*ini));
}
