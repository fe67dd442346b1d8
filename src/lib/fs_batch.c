/*
 * fs_batch.c - the batch write behind fs_write_many().
 *
 * Owns: the order that makes a batch durable with shared flushes: every
 * temporary file written (its writeback started at once), one syncfs(),
 * every rename or link, one fsync per directory.  A syncfs() that fails
 * (another file on the filesystem may be the one at fault) falls back to
 * an fsync of each temporary file, which says which of ours, if any, is
 * not on disk.
 * Never: renames a temporary file that is not durable.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fs_batch.h"
#include "lib/fsutil.h"
#include "lib/workers.h"

/* The temporary file of f, written and its writeback started; f->err set
 * on a failure (and nothing left behind). */
static void
write_tmp(struct fs_file *f)
{
	int fd;

	/* fsutil.c's name, with our pid: a sweep at start knows it for ours. */
	if (snprintf(f->tmp, sizeof(f->tmp), "%s" FS_TMP_TAG "%ld.XXXXXX",
	    f->path, (long)getpid()) >= (int)sizeof(f->tmp)) {
		f->err = ENAMETOOLONG;
		return;
	}
	if ((fd = mkstemp(f->tmp)) == -1) {
		f->err = errno;
		return;
	}
	if (fchmod(fd, f->mode) == -1 || fs_write_all(fd, f->data, f->len) == -1 ||
	    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == -1)
		f->err = errno;
	if (close(fd) == -1 && f->err == 0)
		f->err = errno;
	if (f->err != 0)
		unlink(f->tmp);
}

/* Every temporary file durable: one syncfs(), or one fsync each when it
 * fails.  A file that cannot be made durable gets its err. */
static void
sync_tmps(struct fs_file *v, size_t n)
{
	int fd = -1;

	for (size_t i = 0; i < n && fd == -1; i++)
		if (v[i].err == 0)
			fd = open(v[i].tmp, O_RDONLY | O_CLOEXEC);
	if (fd != -1 && syncfs(fd) == 0) {
		close(fd);
		return;
	}
	if (fd != -1)
		close(fd);
	for (size_t i = 0; i < n; i++) {
		if (v[i].err != 0)
			continue;
		if ((fd = open(v[i].tmp, O_RDONLY | O_CLOEXEC)) == -1 || fsync(fd) == -1) {
			v[i].err = errno;
			unlink(v[i].tmp);
		}
		if (fd != -1)
			close(fd);
	}
}

/* The durable temporary file of f in place under its final name. */
static void
put_in_place(struct fs_file *f)
{
	if (f->no_replace) {
		/* link() fails with EEXIST instead of replacing. */
		if (link(f->tmp, f->path) == -1)
			f->err = errno;
		unlink(f->tmp);
	} else if (rename(f->tmp, f->path) == -1) {
		f->err = errno;
		unlink(f->tmp);
	}
}

#define DIRS_MAX 8

/* fsync of directory d: 0, or the errno. */
static int
fsync_dir(const char *d)
{
	int fd, e = 0;

	if ((fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	if (fsync(fd) == -1)
		e = errno;
	close(fd);
	return e;
}

/* The directories of the files put in place, each fsynced once (a batch
 * spans one or two: the keystore, the archive).  A file whose directory
 * cannot be synced gets its err. */
static void
sync_dirs(struct fs_file *v, size_t n)
{
	char seen[DIRS_MAX][PATH_MAX], d[PATH_MAX], p[PATH_MAX];
	int err[DIRS_MAX], nseen = 0;

	for (size_t i = 0; i < n; i++) {
		int k, e;

		if (v[i].err != 0)
			continue;
		snprintf(p, sizeof(p), "%s", v[i].path);
		snprintf(d, sizeof(d), "%s", dirname(p));
		for (k = 0; k < nseen && strcmp(seen[k], d) != 0; k++)
			;
		if (k < nseen)
			e = err[k];
		else if ((e = fsync_dir(d)) == 0 && nseen < DIRS_MAX) {
			snprintf(seen[nseen], PATH_MAX, "%s", d);
			err[nseen++] = e;
		}
		if (e != 0)
			v[i].err = e;
	}
}

/* Each file is its own: the workers create and rename them side by side
 * (creating a file is mostly the kernel's time: the inode's allocation). */
static void
tmp_one(void *arg, size_t i)
{
	struct fs_file *f = (struct fs_file *)arg + i;

	f->err = 0;
	write_tmp(f);
}

static void
place_one(void *arg, size_t i)
{
	struct fs_file *f = (struct fs_file *)arg + i;

	if (f->err == 0)
		put_in_place(f);
}

size_t
fs_write_many(struct workers *w, struct fs_file *v, size_t n)
{
	size_t failed = 0;

	workers_map(w, n, tmp_one, v);
	sync_tmps(v, n);
	workers_map(w, n, place_one, v);
	sync_dirs(v, n);
	for (size_t i = 0; i < n; i++)
		failed += v[i].err != 0;
	return failed;
}
