/*
 * served.h - the files the HTTP listener hands out: the CRL and the CA
 * certificate, each with the facts a cache needs.
 *
 * Owns: reading each file again only when it changed on disk (another
 * inode, size or mtime: the CRL is replaced by rename), its DER bytes, an
 * ETag (a digest of those bytes), Last-Modified, and for the CRL its
 * thisUpdate and nextUpdate.
 * Never: writes either file (crl_publish.c and certsyncctl do), or serves
 * bytes it could not parse as what they should be.
 */
#ifndef CERTSYNC_SERVED_H
#define CERTSYNC_SERVED_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

enum served_kind { SERVED_CRL, SERVED_CERT };

struct served_file {
	enum served_kind kind;
	const char *path;          /* borrowed from the configuration */
	/* What the file was when last read; loaded = 0: never read well. */
	int loaded;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	unsigned char *der;
	size_t der_len;
	char etag[40];             /* "\"...\"", quotes included */
	time_t last_modified;      /* the CRL's thisUpdate; the file's mtime */
	time_t this_update, next_update;  /* CRL only; next 0: none given */
	char error[160];           /* why the last read failed, for /healthz */
};

/* Sets up f for path (nothing is read yet). */
void served_init(struct served_file *f, enum served_kind kind, const char *path);
/*
 * Brings f up to date with the file: 0 when f holds what is on disk now;
 * -1 when the file cannot be read or parsed (f->error says why, logged
 * once per different reason; an earlier good copy is dropped: the disk is
 * the truth, and a stale CRL is worse than none).
 */
int served_refresh(struct served_file *f);
void served_free(struct served_file *f);

#endif
