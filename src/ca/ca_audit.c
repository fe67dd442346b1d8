/*
 * ca_audit.c - the CA process's audit log (ca_audit.h).
 *
 * Owns: the line format, its escaping and its parsing.
 * Never: writes part of a line (a line is built whole, then written with
 * one write()), or syncs: the CA process calls fdatasync once per batch,
 * before the batch's replies are sent.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca_audit.h"
#include "lib/fsutil.h"
#include "lib/log.h"

#define LINE_MAX_LEN 16384

int
ca_audit_open(const char *path)
{
	int fd = -1;

	if (fs_mkdir_p_parent(path, 0700) == 0)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd == -1)
		log_error("[ca] audit_log %s: cannot open for appending: %s", path,
		    strerror(errno));
	return fd;
}

/* Appends s to buf (at *off, of len bytes), escaped.  0, or -1 if full. */
static int
put_escaped(char *buf, size_t len, size_t *off, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int n;

		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			n = snprintf(buf + *off, len - *off, "%c", *p);
		else
			n = snprintf(buf + *off, len - *off, "\\x%02x", *p);
		if (n < 0 || (size_t)n >= len - *off)
			return -1;
		*off += (size_t)n;
	}
	return 0;
}

static int
put_raw(char *buf, size_t len, size_t *off, const char *s)
{
	int n = snprintf(buf + *off, len - *off, "%s", s);

	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

/* The line for event and its name, value pairs; 0, or -1 if too long. */
static int
build_line(char *buf, size_t len, time_t at, const char *event, va_list ap)
{
	char when[32];
	struct tm tm;
	const char *name, *value;
	size_t off = 0;

	gmtime_r(&at, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (put_raw(buf, len, &off, when) == -1 || put_raw(buf, len, &off, "\t") == -1 ||
	    put_raw(buf, len, &off, event) == -1)
		return -1;
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (put_raw(buf, len, &off, "\t") == -1 ||
		    put_raw(buf, len, &off, name) == -1 ||
		    put_raw(buf, len, &off, "=") == -1 ||
		    put_escaped(buf, len, &off, value ? value : "") == -1)
			return -1;
	}
	return put_raw(buf, len, &off, "\n");
}

int
ca_audit_line(int fd, time_t at, const char *event, ...)
{
	char *buf = malloc(LINE_MAX_LEN);
	size_t len;
	ssize_t n;
	va_list ap;
	int rc;

	if (buf == NULL)
		fatal("out of memory");
	va_start(ap, event);
	rc = build_line(buf, LINE_MAX_LEN, at, event, ap);
	va_end(ap);
	if (rc == -1) {
		free(buf);
		errno = EMSGSIZE;
		return -1;
	}
	len = strlen(buf);
	do
		n = write(fd, buf, len);
	while (n == -1 && errno == EINTR);
	free(buf);
	if (n >= 0 && (size_t)n != len)
		errno = ENOSPC;	/* a short write: the disk is full */
	return n >= 0 && (size_t)n == len ? 0 : -1;
}

int
ca_audit_write_sign(int fd, const struct ca_audit_sign *s)
{
	return ca_audit_line(fd, s->at, "sign", "serial", s->serial, "kind", s->kind,
	    "user", s->user, "by", s->by, "addresses", s->addresses, "subject",
	    s->subject, "spki-sha256", s->spki_sha256, "fingerprint",
	    s->fingerprint, (char *)NULL);
}

/* ---- reading it back ---------------------------------------------------- */

/* Undoes put_escaped(); NULL if the text is not ours. */
static char *
unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (out == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < len; i++) {
		unsigned int c;

		if (s[i] != '\\')
			*o++ = s[i];
		else if (i + 3 < len && s[i + 1] == 'x' &&
		    isxdigit((unsigned char)s[i + 2]) &&
		    isxdigit((unsigned char)s[i + 3]) &&
		    sscanf(s + i + 2, "%2x", &c) == 1 && c != 0) {
			*o++ = (char)c;
			i += 3;
		} else {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

/* The field named name of a sign line into *out; -1 if it is not ours. */
static int
take_field(struct ca_audit_sign *out, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	static const struct { const char *name; size_t off; } fields[] = {
		{ "serial", offsetof(struct ca_audit_sign, serial) },
		{ "kind", offsetof(struct ca_audit_sign, kind) },
		{ "user", offsetof(struct ca_audit_sign, user) },
		{ "by", offsetof(struct ca_audit_sign, by) },
		{ "addresses", offsetof(struct ca_audit_sign, addresses) },
		{ "subject", offsetof(struct ca_audit_sign, subject) },
		{ "spki-sha256", offsetof(struct ca_audit_sign, spki_sha256) },
		{ "fingerprint", offsetof(struct ca_audit_sign, fingerprint) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char **f = (char **)((char *)out + fields[i].off);

		if (strlen(fields[i].name) != nlen ||
		    strncmp(fields[i].name, name, nlen) != 0)
			continue;
		if (*f != NULL)
			return -1;	/* twice */
		return (*f = unescape(value, vlen)) == NULL ? -1 : 0;
	}
	return 0;	/* a field a later version added */
}

/* The line's time and event; the rest of the line after them in *rest. */
static int
parse_head(const char *line, time_t *at, const char **event, size_t *elen,
    const char **rest)
{
	struct tm tm = { 0 };
	const char *p = strptime(line, "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (p == NULL || *p != '\t')
		return -1;
	*at = timegm(&tm);
	*event = p + 1;
	*elen = strcspn(*event, "\t\n");
	*rest = *event + *elen;
	return 0;
}

int
ca_audit_parse_sign(const char *line, struct ca_audit_sign *out)
{
	const char *event, *p;
	size_t elen;

	memset(out, 0, sizeof(*out));
	if (parse_head(line, &out->at, &event, &elen, &p) == -1)
		return -1;
	if (elen != 4 || strncmp(event, "sign", 4) != 0)
		return 0;
	while (*p == '\t') {
		const char *name = p + 1, *eq;
		size_t len = strcspn(name, "\t\n");

		if ((eq = memchr(name, '=', len)) == NULL ||
		    take_field(out, name, (size_t)(eq - name), eq + 1,
		    len - (size_t)(eq - name) - 1) == -1)
			goto bad;
		p = name + len;
	}
	if ((*p != '\n' && *p != '\0') || out->serial == NULL || out->kind == NULL ||
	    out->user == NULL || out->by == NULL || out->addresses == NULL ||
	    out->fingerprint == NULL)
		goto bad;
	return 1;
bad:
	ca_audit_sign_free(out);
	return -1;
}

void
ca_audit_sign_free(struct ca_audit_sign *s)
{
	free(s->serial);
	free(s->kind);
	free(s->user);
	free(s->by);
	free(s->addresses);
	free(s->subject);
	free(s->spki_sha256);
	free(s->fingerprint);
	memset(s, 0, sizeof(*s));
}
