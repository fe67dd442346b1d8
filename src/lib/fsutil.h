/*
 * fsutil.h - durable file writes.
 *
 * Owns: the atomic write (temp file, fsync, rename, directory fsync) and
 * creating private directories.  Never: overwrites a file in place, so a
 * crash leaves either the old file or the new one, never half of either.
 */
#ifndef CERTSYNC_FSUTIL_H
#define CERTSYNC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* What a temporary file's name carries after the final name:
 * "FILE.tmp.PID.XXXXXX" (the writer's pid, then mkstemp's letters). */
#define FS_TMP_TAG ".tmp."

/* All of len bytes written to fd (EINTR resumed); 0, or -1 with errno. */
int fs_write_all(int fd, const void *data, size_t len);

/*
 * Writes len bytes to path atomically with the given mode.  With
 * no_replace set, fails (errno EEXIST) if path already exists: used for
 * archive files, which are never overwritten.  Returns 0, or -1 with errno
 * set and nothing left behind (the caller logs).
 */
int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, int no_replace);

/*
 * Creates dir and its missing parents; the last component gets mode.
 * An existing directory is accepted as it is.  Returns 0, or -1 with errno.
 */
int fs_mkdir_p(const char *dir, mode_t mode);

/* Creates the directory that will hold path (the last one with mode). */
int fs_mkdir_p_parent(const char *path, mode_t mode);

/* Removes path, and makes the removal durable (directory fsync).  A path
 * that does not exist is fine.  Returns 0, or -1 with errno. */
int fs_unlink_durable(const char *path);

/* Reads a whole file (at most max bytes) into *out (caller frees).
 * Returns 0, or -1 with errno (EFBIG when larger than max). */
int fs_read_file(const char *path, size_t max, unsigned char **out, size_t *len);

/*
 * Removes from dir the temporary files fs_write_atomic() left when its
 * writer was killed: only names of ours whose writer's pid is gone (an
 * hour old, for a name without pid), never a file being written now.
 * Calls removed (may be NULL) per file.  Returns how many, or -1 with
 * errno when dir cannot be read (a missing dir is 0).
 */
int fs_sweep_tmp(const char *dir, void (*removed)(void *arg, const char *path),
    void *arg);

/* Copies "dir/name" into a new string the caller frees; NULL on overflow. */
char *fs_join(const char *dir, const char *name);

#endif
