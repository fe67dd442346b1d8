/*
 * conf_ini.h - certsync.conf's lines, read one by one.
 *
 * Owns: the INI syntax of certsync.conf (certsync.conf(5), "File format"):
 * which line is a [section] header, a key = value line, a comment or
 * nothing; quotes, comments after a value, continuation lines; and the
 * line each section and key was written on.  Every malformed line is
 * reported, and the rest of the file is still read, so the loader can
 * report every other mistake in the same run.
 * Never: echoes a line it could not parse (a pasted key must not end up in
 * a log), or judges a section, key or value (conf.c does).
 */
#ifndef CERTSYNC_CONF_INI_H
#define CERTSYNC_CONF_INI_H

#include <stddef.h>

#include <stdio.h>

#include <iniparser.h>

/* The longest line (after joining continuation lines), as iniparser's. */
#define CONF_INI_LINE_MAX 1022

struct conf_ini {
	/* As iniparser keeps a file: "section" -> NULL for a header,
	 * "section:key" -> value (":key" above the first header); names
	 * lower-cased; the last value of a key counts. */
	dictionary *dict;
	char **names;           /* each name in dict ... */
	int *lines;             /* ... and the line it was last written on */
	size_t n;
};

/*
 * Reads the text f (the file path, or its copy in memory) into ini.  Every
 * malformed line is logged as "PATH: line N: ..." and counted in *errors;
 * the good lines are kept.  Returns 0 (free ini with conf_ini_free), or -1
 * after logging when the text cannot be read at all.
 */
int conf_ini_read(const char *path, FILE *f, struct conf_ini *ini, int *errors);

/* The line name ("section" or "section:key", lower case) was written on;
 * 0 when it was not. */
int conf_ini_line(const struct conf_ini *ini, const char *name);

void conf_ini_free(struct conf_ini *ini);

#endif
