/*
 * served.c - the CRL and the CA certificate as the HTTP listener serves
 * them.
 *
 * Owns: noticing that a file changed (stat: a new inode after the atomic
 * rename, or another size or mtime), reading and parsing it again, and
 * its validators: an ETag from SHA-256 of the DER bytes (the same bytes
 * give the same tag, across restarts too) and Last-Modified (the CRL's
 * thisUpdate, the certificate file's mtime).
 * Never: holds a file open, parses on every request (only after a change),
 * or logs the same failure twice in a row.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "ops/served.h"
#include "pki/certinfo.h"

#define SERVED_MAX (64u << 20)	/* a CRL of a million entries is ~40 MiB */

void
served_init(struct served_file *f, enum served_kind kind, const char *path)
{
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->path = path;
}

static void
drop(struct served_file *f)
{
	free(f->der);
	f->der = NULL;
	f->der_len = 0;
	f->loaded = 0;
}

void
served_free(struct served_file *f)
{
	drop(f);
}

static int
same_file(const struct served_file *f, const struct stat *st)
{
	return f->loaded && f->dev == st->st_dev && f->ino == st->st_ino &&
	    f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
	    f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The failure into f->error, logged when it is news.  Returns -1. */
static int
failed(struct served_file *f, const char *what)
{
	char why[sizeof(f->error)];

	snprintf(why, sizeof(why), "%s %s: %s", f->kind == SERVED_CRL ? "CRL" :
	    "CA certificate", f->path, what);
	if (strcmp(why, f->error) != 0)
		log_warn("http: %s; not served", why);
	snprintf(f->error, sizeof(f->error), "%s", why);
	drop(f);
	return -1;
}

/* The CRL in der: its times.  0, or -1 with *what. */
static int
parse_crl(struct served_file *f, const char **what)
{
	const unsigned char *p = f->der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)f->der_len);
	int rc = -1;

	if (crl == NULL || p != f->der + f->der_len)
		*what = "not a DER CRL";
	else if (certinfo_time(X509_CRL_get0_lastUpdate(crl), &f->this_update) == -1)
		*what = "no readable thisUpdate";
	else {
		f->next_update = 0;
		if (X509_CRL_get0_nextUpdate(crl) != NULL &&
		    certinfo_time(X509_CRL_get0_nextUpdate(crl), &f->next_update) == -1)
			*what = "no readable nextUpdate";
		else
			rc = 0;
	}
	f->last_modified = f->this_update;
	X509_CRL_free(crl);
	return rc;
}

/* The CA certificate, PEM (as certsync keeps it) or DER, as DER.  0, or
 * -1 with *what. */
static int
parse_cert(struct served_file *f, const char **what)
{
	BIO *bio = BIO_new_mem_buf(f->der, (int)f->der_len);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	BIO_free(bio);
	if (cert == NULL)
		cert = certinfo_from_der(f->der, f->der_len);
	if (cert == NULL || certinfo_der(cert, &der, &len) == -1) {
		*what = "not a PEM or DER certificate";
		X509_free(cert);
		return -1;
	}
	free(f->der);
	if ((f->der = malloc(len)) == NULL)
		fatal("out of memory");
	memcpy(f->der, der, len);
	f->der_len = len;
	OPENSSL_free(der);
	X509_free(cert);
	f->last_modified = f->mtime.tv_sec;
	return 0;
}

static void
set_etag(struct served_file *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t used;

	EVP_Digest(f->der, f->der_len, md, &mdlen, EVP_sha256(), NULL);
	used = (size_t)snprintf(f->etag, sizeof(f->etag), "\"");
	/* 128 bits: enough to tell versions apart, short on the wire. */
	for (unsigned int i = 0; i < 16 && i < mdlen; i++)
		used += (size_t)snprintf(f->etag + used, sizeof(f->etag) - used, "%02x", md[i]);
	snprintf(f->etag + used, sizeof(f->etag) - used, "\"");
}

int
served_refresh(struct served_file *f)
{
	struct stat st;
	const char *what = NULL;

	if (stat(f->path, &st) == -1)
		return failed(f, strerror(errno));
	if (same_file(f, &st))
		return 0;
	drop(f);
	/* The identity of the stat before the read: if the file is replaced
	 * in between, the next request sees another inode and reads again. */
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	if (fs_read_file(f->path, SERVED_MAX, &f->der, &f->der_len) == -1)
		return failed(f, strerror(errno));
	if ((f->kind == SERVED_CRL ? parse_crl(f, &what) : parse_cert(f, &what)) == -1)
		return failed(f, what);
	set_etag(f);
	f->loaded = 1;
	if (f->error[0] != '\0')
		log_notice("http: %s %s is served again", f->kind == SERVED_CRL ?
		    "CRL" : "CA certificate", f->path);
	f->error[0] = '\0';
	return 0;
}
