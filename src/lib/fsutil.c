/*
 * fsutil.c - durable file writes and small file helpers.
 *
 * Owns: the write-temp/fsync/rename/fsync-dir sequence every key, archive
 * and CRL file goes through, the temporary files' names (the writer's pid
 * in them), and clearing away the ones a killed writer left.
 * Never: leaves a partial file at the final path, or removes a temporary
 * file whose writer is alive (certsyncctl may be writing it right now).
 */
#include "config.h"

#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/fsutil.h"

/* 0, or -1 with errno (fsutil.h). */
int
fs_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is only durable once the directory entry is on disk too. */
static int
fsync_parent(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    int no_replace)
{
	char tmp[PATH_MAX];
	int fd = -1, saved;

	/* The pid tells fs_sweep_tmp() whether the writer is still alive. */
	if (snprintf(tmp, sizeof(tmp), "%s" FS_TMP_TAG "%ld.XXXXXX", path,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	if (fchmod(fd, mode) == -1 || fs_write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (no_replace) {
		/* link() fails with EEXIST instead of replacing: archives are
		 * write-once. */
		if (link(tmp, path) == -1)
			goto fail;
		unlink(tmp);
	} else if (rename(tmp, path) == -1)
		goto fail;
	return fsync_parent(path);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
fs_unlink_durable(const char *path)
{
	if (unlink(path) == -1)
		return errno == ENOENT ? 0 : -1;
	return fsync_parent(path);
}

int
fs_mkdir_p(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	if (stat(buf, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
fs_mkdir_p_parent(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *slash;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(buf, '/')) == NULL || slash == buf)
		return 0;
	*slash = '\0';
	return fs_mkdir_p(buf, mode);
}

int
fs_read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, saved;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* the file shrank under us */
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return -1;
}

char *
fs_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

/*
 * Whether name is a temporary file of fs_write_atomic() whose writer is
 * gone: "FILE.tmp.PID.XXXXXX" with PID not running (or this process, whose
 * caller knows it writes nothing now), or the older "FILE.tmp.XXXXXX"
 * (no pid) once it is an hour old.  A file of ours takes milliseconds to
 * write; an hour is far beyond any of them.
 */
static int
stale_tmp(const char *name, time_t mtime, time_t now)
{
	const char *tag = NULL, *p, *dot;
	char *end = NULL;
	long pid;

	/* The last tag: a final name of ours never holds one itself. */
	for (p = strstr(name, FS_TMP_TAG); p != NULL; p = strstr(p + 1, FS_TMP_TAG))
		tag = p;
	if (tag == NULL || tag == name)
		return 0;
	p = tag + strlen(FS_TMP_TAG);
	if ((dot = strrchr(p, '.')) == NULL) {
		/* The old name: exactly six characters from mkstemp(). */
		for (size_t i = 0; i < 6; i++)
			if (!isalnum((unsigned char)p[i]))
				return 0;
		return p[6] == '\0' && now - mtime > 3600;
	}
	if (strlen(dot + 1) != 6 || !isdigit((unsigned char)*p))
		return 0;
	pid = strtol(p, &end, 10);
	if (end != dot || pid <= 0)
		return 0;
	if (pid == (long)getpid())
		return 1;
	return (kill((pid_t)pid, 0) == -1 && errno == ESRCH) || now - mtime > 3600;
}

int
fs_sweep_tmp(const char *dir, void (*removed)(void *arg, const char *path),
    void *arg)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		char *path;

		/* Most names are final ones: no stat for them (a keystore
		 * holds two files a user). */
		if (strstr(de->d_name, FS_TMP_TAG) == NULL)
			continue;
		path = fs_join(dir, de->d_name);
		if (path != NULL && fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    stale_tmp(de->d_name, st.st_mtime, now) &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0) {
			n++;
			if (removed != NULL)
				removed(arg, path);
		}
		free(path);
	}
	closedir(d);
	return n;
}
