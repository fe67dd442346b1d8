/*
 * secret.c - secret files: permission checks, reading, wiping.
 *
 * Owns: the access rule for files that hold secrets.  Never: prints a
 * secret, or leaves one in memory it freed.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/log.h"
#include "lib/secret.h"

#define SECRET_MAX 4096
#define SECRET_ERR_MAX 1200

/*
 * Checks an open descriptor, so the file checked is the file read.  On
 * failure writes one line to err and returns -1.
 */
static int
secret_check_fd(int fd, const char *path, const char *what, char *err,
    size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s %s: cannot stat: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s %s: mode %04o lets group or others "
		    "access a secret; refusing it (chmod 600 %s)", what, path,
		    (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* secret_open(), with the reason in err instead of the log. */
static int
secret_open_err(const char *path, const char *what, char *err, size_t errlen)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s %s: cannot open: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (secret_check_fd(fd, path, what, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
secret_open(const char *path, const char *what)
{
	char err[SECRET_ERR_MAX];
	int fd;

	if ((fd = secret_open_err(path, what, err, sizeof(err))) == -1)
		log_error("%s", err);
	return fd;
}

int
secret_check_file(const char *path, const char *what)
{
	int fd = secret_open(path, what);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

int
secret_check_file_err(const char *path, const char *what, char *err,
    size_t errlen)
{
	int fd = secret_open_err(path, what, err, errlen);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

char *
secret_read_password(const char *path, const char *what)
{
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd = -1;

	if ((fd = secret_open(path, what)) == -1)
		goto fail;
	if ((buf = OPENSSL_secure_zalloc(SECRET_MAX + 1)) == NULL &&
	    (buf = calloc(1, SECRET_MAX + 1)) == NULL)
		fatal("out of memory");
	while (len < SECRET_MAX &&
	    (n = read(fd, buf + len, SECRET_MAX - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_error("%s %s: cannot read: %s", what, path, strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		log_error("%s %s: the file holds no password", what, path);
		goto fail;
	}
	close(fd);
	return buf;
fail:
	if (fd != -1)
		close(fd);
	secret_free(buf);
	return NULL;
}

void
secret_free(char *secret)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, SECRET_MAX + 1);
	if (CRYPTO_secure_allocated(secret))
		OPENSSL_secure_free(secret);
	else
		free(secret);
}
