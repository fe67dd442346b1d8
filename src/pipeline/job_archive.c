/*
 * job_archive.c - ISSUED -> ARCHIVED: every key about to be superseded is in
 * the archive.
 *
 * Owns: copying keys from the keystore into the archive (pki/archive.h
 * writes the files, under the password file or to the recovery agents) and
 * recording where each went and how it is protected: one key on its own
 * (revoking asks for that), or every key of a batch of jobs at once, read
 * and sealed on the workers, written with shared flushes, recorded with
 * the jobs' next state in one transaction.  A rerun skips the done ones.
 * Never: removes the keystore copy (revoking does, once the archive copy
 * is recorded), or overwrites an archive file.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/workers.h"
#include "pipeline/job_archive.h"
#include "pki/archive.h"
#include "pki/certinfo.h"
#include "pki/keystore.h"
#include "pki/p12.h"

/* One key to archive: whose, which row, and the key once read (its
 * PKCS#8 DER as the keystore holds it: moved, not parsed). */
struct copy {
	struct job_item *it;
	struct cert_row *row;
	struct p12_raw raw;
	X509 *cert;        /* the row's, when found in the archive */
	int have_raw;
	char friendly[256];
};

struct copies {
	struct job_ctx *ctx;
	struct copy *v;
	size_t n;
};

static void
copy_free(struct copy *cp)
{
	p12_raw_free(&cp->raw);
	X509_free(cp->cert);
	cp->cert = NULL;
}

/* The store learns where the copy went and how it is protected. */
static void
record_copy(struct job_ctx *ctx, struct cert_row *row, struct archive_copy *copy)
{
	const char *how = archive_protection_name(copy->protection);

	store_cert_set_archive(ctx->st, row->id, copy->path, copy->protection,
	    copy->bundle, copy->bundle_len);
	store_audit(ctx->st, "archive", row->uuid, row->serial, "%s key archived to %s (%s)",
	    cert_kind_name(row->kind), copy->path, how);
	/* The row learns the path and the protection; the bundle stays in
	 * the store (and beside the file), where recover reads it. */
	free(row->archive_path);
	row->archive_path = copy->path;
	row->archive_protection = copy->protection;
	copy->path = NULL;
}

/*
 * The store names a keystore file that is gone, but the key's archive file
 * (write-once, named by kind and serial) is there: a store restored from a
 * snapshot taken while the agent ran, whose key moved to the archive after
 * the snapshot (README: Backup and restore).  archive_write_many() adopts
 * a file that is there, with the protection it really has (the password
 * file opens it with this certificate in it, or its recovery-agent bundle
 * lies beside it), and needs no key for that.  1 with cp->cert, or 0.
 */
static int
found_in_archive(struct job_ctx *ctx, struct copy *cp)
{
	const struct cert_row *row = cp->row;
	char *file;
	int found = 0;

	if (access(row->keystore_path, F_OK) == 0 || errno != ENOENT)
		return 0;
	file = keystore_file(ctx->conf, AREA_ARCHIVE, cert_kind_name(row->kind), row->serial);
	if (access(file, F_OK) == 0 &&
	    (cp->cert = certinfo_from_der(row->der, row->der_len)) != NULL) {
		log_notice("user %s: the key of %s certificate %s is no longer in %s "
		    "but in its archive file %s; recorded from there", row->uuid,
		    cert_kind_name(row->kind), row->serial, row->keystore_path, file);
		found = 1;
	}
	free(file);
	return found;
}

/* On a worker: copy i's key read from the keystore (unless the archive
 * has it already: found_in_archive). */
static void
read_one(void *arg, size_t i)
{
	struct copies *c = arg;
	struct copy *cp = &c->v[i];

	snprintf(cp->friendly, sizeof(cp->friendly), "%s (%s, archived) %s",
	    cp->row->addresses, cert_kind_name(cp->row->kind), cp->row->serial);
	if (cp->cert != NULL)
		return;
	if (keystore_read_raw(c->ctx->keystore, cp->row->keystore_path, &cp->raw) == -1)
		return;
	/* The file names the serial; its certificate must be the row's. */
	if (cp->raw.cert_len != cp->row->der_len ||
	    memcmp(cp->raw.cert, cp->row->der, cp->row->der_len) != 0) {
		log_error("%s: holds another certificate than %s", cp->row->keystore_path,
		    cp->row->serial);
		p12_raw_free(&cp->raw);
		return;
	}
	cp->have_raw = 1;
}

/* The keys read, then written to the archive at once: items[i].rc 0 for
 * each one archived (its copy in out[i]), else -1 after logging. */
static void
write_copies(struct copies *c, struct archive_item *out)
{
	struct job_ctx *ctx = c->ctx;

	if (ctx->archive == NULL || ctx->keystore == NULL)
		fatal("job_archive: no archive or keystore in the job's context");
	for (size_t i = 0; i < c->n; i++)
		found_in_archive(ctx, &c->v[i]);
	workers_map(ctx->workers, c->n, read_one, c);
	for (size_t i = 0; i < c->n; i++)
		out[i] = (struct archive_item){ NULL, c->v[i].cert,
		    c->v[i].have_raw ? &c->v[i].raw : NULL, c->v[i].row->serial,
		    cert_kind_name(c->v[i].row->kind), c->v[i].friendly, { 0 }, -1 };
	archive_write_many(ctx->archive, ctx->workers, ctx->ca_cert, out, c->n);
	for (size_t i = 0; i < c->n; i++)
		if (out[i].rc != 0)
			log_error("user %s: cannot archive the key of %s certificate %s; "
			    "leaving it in place", c->v[i].row->uuid,
			    cert_kind_name(c->v[i].row->kind), c->v[i].row->serial);
}

int
job_archive_key(struct job_ctx *ctx, struct cert_row *row)
{
	struct copy cp = { NULL, row, { NULL, 0, 0, NULL, 0 }, NULL, 0, "" };
	struct copies c = { ctx, &cp, 1 };
	struct archive_item out;
	int rc = -1;

	if (row->archive_path != NULL || row->keystore_path == NULL)
		return 0;
	write_copies(&c, &out);
	if (out.rc == 0 && (rc = store_begin(ctx->st)) == 0) {
		record_copy(ctx, row, &out.out);
		rc = store_commit(ctx->st);
	}
	if (out.rc == 0)
		archive_copy_free(&out.out);
	copy_free(&cp);
	return rc;
}

/* The keys of the items' current certificates (active, or on hold) not
 * archived yet, into c
 * (their rows in rows[i]).  An item the store cannot answer for fails. */
static void
collect(struct job_ctx *ctx, struct job_item **items, size_t n,
    struct cert_rows *rows, struct copies *c)
{
	c->ctx = ctx;
	c->n = 0;
	c->v = NULL;
	for (size_t i = 0; i < n; i++) {
		if (store_cert_query(ctx->st, CQ_UUID_CURRENT, items[i]->job.uuid,
		    &rows[i]) == -1) {
			job_item_fail(items[i], -1, NULL);
			continue;
		}
		for (size_t k = 0; k < rows[i].n; k++) {
			struct cert_row *r = &rows[i].v[k];

			if (r->archive_path != NULL || r->keystore_path == NULL)
				continue;
			if ((c->v = realloc(c->v, (c->n + 1) * sizeof(*c->v))) == NULL)
				fatal("out of memory");
			c->v[c->n++] = (struct copy){ items[i], r, { NULL, 0, 0, NULL, 0 },
			    NULL, 0, "" };
		}
	}
}

/* Every copy made recorded, and ARCHIVED for each item all of whose keys
 * are in the archive: one transaction. */
static void
record_all(struct job_ctx *ctx, struct job_item **items, size_t n,
    struct copies *c, struct archive_item *out)
{
	int ok = store_begin(ctx->st) == 0;

	for (size_t i = 0; i < c->n; i++) {
		if (out[i].rc != 0)
			job_item_fail(c->v[i].it, -1, NULL);	/* logged */
		else if (ok)
			record_copy(ctx, c->v[i].row, &out[i].out);
	}
	for (size_t i = 0; ok && i < n; i++)
		if (items[i]->rc == 0)
			job_set_state(ctx->st, &items[i]->job, JOB_ARCHIVED);
	if (!ok || store_commit(ctx->st) == -1)
		for (size_t i = 0; i < n; i++)
			if (items[i]->rc == 0)
				job_item_fail(items[i], -1, NULL);
}

void
job_step_archive_many(struct job_ctx *ctx, struct job_item **items, size_t n)
{
	struct cert_rows *rows = calloc(n ? n : 1, sizeof(*rows));
	struct archive_item *out = NULL;
	struct copies c;

	if (rows == NULL)
		fatal("out of memory");
	collect(ctx, items, n, rows, &c);
	if ((out = calloc(c.n ? c.n : 1, sizeof(*out))) == NULL)
		fatal("out of memory");
	write_copies(&c, out);
	record_all(ctx, items, n, &c, out);
	for (size_t i = 0; i < c.n; i++) {
		if (out[i].rc == 0)
			archive_copy_free(&out[i].out);
		copy_free(&c.v[i]);
	}
	for (size_t i = 0; i < n; i++)
		cert_rows_free(&rows[i]);
	free(c.v);
	free(out);
	free(rows);
}
