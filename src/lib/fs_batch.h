/*
 * fs_batch.h - many durable file writes for the price of a few flushes.
 *
 * Owns: writing a batch of files atomically, each as fs_write_atomic()
 * would (a temporary file, renamed or linked into place, mode set, never a
 * partial file at the final path), but with the flushes shared: all the
 * temporary files are written, then one syncfs() of their filesystem makes
 * them durable at once, then they are renamed, then each directory is
 * fsynced once.  On this machine kind that is 3-10x fewer milliseconds per
 * file than a flush of its own per file (README: Performance).
 * Never: leaves a temporary file behind, or reports a file written before
 * its name is durable.
 */
#ifndef CERTSYNC_FS_BATCH_H
#define CERTSYNC_FS_BATCH_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct fs_file {
	const char *path;          /* the final name */
	const void *data;
	size_t len;
	mode_t mode;
	int no_replace;            /* EEXIST rather than replace (archive files) */
	int err;                   /* out: 0 written, else this file's errno */
	char tmp[PATH_MAX];        /* private */
};

struct workers;

/* Writes every file of v, the temporary files made and renamed on the
 * workers w (NULL: on the caller's thread); each one's err says how it
 * went.  Returns how many failed (the caller logs them, naming each
 * path). */
size_t fs_write_many(struct workers *w, struct fs_file *v, size_t n);

#endif
