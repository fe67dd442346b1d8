/*
 * smime.c - the userSMIMECertificate value kept with an issue's signing
 * certificate, stored without the certificates it carries.
 *
 * Owns: the smime_values table and the certificates its values carry that
 * are not users' certificate rows (the CA certificate, in smime_certs,
 * once for every value).  A value is a CMS SignedData whose certificates
 * field holds the user's certificates, whose DER the certificates table
 * already has, and the CA certificate: four fifths of its bytes.  So a
 * value is stored with holes where its certificates were, and parts names
 * what fills each hole ("c<id>@<offset>": the certificates row, or
 * "s<id>@<offset>": the smime_certs row), offsets in the whole value,
 * ascending.  Since schema 9 also "n<id>@<offset>": the issuer's name and
 * the serial of the certificates row (name_serial()), which a value
 * names its signer and its encryption certificate by: 40-100 bytes each,
 * three times in a value.  get gives back the very bytes put was given: each
 * hole is filled with bytes found equal to what was cut out.  A value
 * that does not parse as expected is stored whole (parts NULL), as every
 * value stored before schema 7 is.
 * Never: stores a value it could not rebuild byte for byte, or deletes a
 * row (values and certificates stay for the audit's sake).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

#define MAX_HOLES 16

/* One certificate inside a value: where, and what fills it. */
struct hole {
	size_t off, len;
	char ref[24];  /* "c<id>" (certificates), "s<id>" (smime_certs) or
	                  "n<id>" (a certificates row's issuer and serial) */
};

/* ---- the value's certificates (a DER walk of the SignedData) ---------------- */

/* The element at *p (before end): its tag, header and content length, in
 * definite-length DER with lengths of up to 4 bytes.  0, or -1. */
static int
der_next(const unsigned char *p, const unsigned char *end, int *tag, size_t *hdr,
    size_t *len)
{
	size_t n, i;

	if (end - p < 2)
		return -1;
	*tag = p[0];
	if (p[1] < 0x80) {
		*len = p[1];
		*hdr = 2;
	} else {
		if ((n = p[1] & 0x7f) == 0 || n > 4 || (size_t)(end - p) < 2 + n)
			return -1;
		for (*len = 0, i = 0; i < n; i++)
			*len = (*len << 8) | p[2 + i];
		*hdr = 2 + n;
	}
	return *len <= (size_t)(end - p) - *hdr ? 0 : -1;
}

/* Enters the element at *p, which must have tag: *p and *end become its
 * content.  0, or -1. */
static int
der_enter(const unsigned char **p, const unsigned char **end, int tag)
{
	size_t hdr, len;
	int t;

	if (der_next(*p, *end, &t, &hdr, &len) == -1 || t != tag)
		return -1;
	*end = *p + hdr + len;
	*p += hdr;
	return 0;
}

/* Skips the element at *p, which must have tag.  0, or -1. */
static int
der_skip(const unsigned char **p, const unsigned char *end, int tag)
{
	size_t hdr, len;
	int t;

	if (der_next(*p, end, &t, &hdr, &len) == -1 || t != tag)
		return -1;
	*p += hdr + len;
	return 0;
}

/*
 * The certificates of the SignedData in value: ContentInfo { OID, [0] {
 * SignedData { version, digestAlgorithms, encapContentInfo, [0] IMPLICIT
 * certificates ... } } }.  Their spans into holes (refs not filled);
 * returns how many, or -1 when the value is not of that shape.
 */
static int
find_certificates(const unsigned char *value, size_t vlen, struct hole *holes)
{
	const unsigned char *p = value, *end = value + vlen;
	int n = 0;

	if (der_enter(&p, &end, 0x30) == -1 || der_skip(&p, end, 0x06) == -1 ||
	    der_enter(&p, &end, 0xa0) == -1 || der_enter(&p, &end, 0x30) == -1 ||
	    der_skip(&p, end, 0x02) == -1 || der_skip(&p, end, 0x31) == -1 ||
	    der_skip(&p, end, 0x30) == -1 || der_enter(&p, &end, 0xa0) == -1)
		return -1;
	while (p < end) {
		size_t hdr, len;
		int tag;

		if (n == MAX_HOLES || der_next(p, end, &tag, &hdr, &len) == -1 ||
		    tag != 0x30)
			return -1;
		holes[n].off = (size_t)(p - value);
		holes[n++].len = hdr + len;
		p += hdr + len;
	}
	return n;
}

/* ---- what fills a hole ------------------------------------------------------------ */

/* A column's bytes, copied (caller frees), into *der and *len. */
static void
copy_blob(sqlite3_stmt *stmt, int col, unsigned char **der, size_t *len)
{
	const void *b = sqlite3_column_blob(stmt, col);

	*len = (size_t)sqlite3_column_bytes(stmt, col);
	if ((*der = malloc(*len ? *len : 1)) == NULL)
		fatal("out of memory");
	if (*len)
		memcpy(*der, b, *len);
}

/* The hole's bytes as one of the user's certificate rows (the same user as
 * cert_id) with the very same DER: "c<id>".  1 found, 0 not, -1 error. */
static int
ref_user_certificate(struct store *st, int64_t cert_id, const unsigned char *der,
    struct hole *h)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT id FROM certificates WHERE "
	    "uuid = (SELECT uuid FROM certificates WHERE id = ?) AND der = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cert_id);
	sqlite3_bind_blob(stmt, 2, der, (int)h->len, SQLITE_STATIC);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		snprintf(h->ref, sizeof(h->ref), "c%lld",
		    (long long)sqlite3_column_int64(stmt, 0));
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "find an S/MIME value's certificate");
}

/* The hole's bytes kept once in smime_certs (found by their digest):
 * "s<id>".  1 kept (the row holds these very bytes), 0 not, -1 error. */
static int
ref_kept_certificate(struct store *st, const unsigned char *der, struct hole *h)
{
	sqlite3_stmt *ins = db_prepare(st, "INSERT OR IGNORE INTO smime_certs "
	    "(digest, der) VALUES (?, ?)");
	sqlite3_stmt *chk;
	unsigned char d[STORE_DIGEST_LEN];
	int rc;

	if (ins == NULL)
		return -1;
	store_value_digest(der, h->len, d);
	sqlite3_bind_blob(ins, 1, d, sizeof(d), SQLITE_STATIC);
	sqlite3_bind_blob(ins, 2, der, (int)h->len, SQLITE_STATIC);
	if (db_step_done(st, ins, "keep an S/MIME value's certificate") == -1 ||
	    (chk = db_prepare(st, "SELECT id FROM smime_certs WHERE digest = ? "
	    "AND der = ?")) == NULL)
		return -1;
	sqlite3_bind_blob(chk, 1, d, sizeof(d), SQLITE_STATIC);
	sqlite3_bind_blob(chk, 2, der, (int)h->len, SQLITE_STATIC);
	if ((rc = sqlite3_step(chk)) == SQLITE_ROW)
		snprintf(h->ref, sizeof(h->ref), "s%lld",
		    (long long)sqlite3_column_int64(chk, 0));
	db_release(st, chk);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "check an S/MIME value's certificate");
}

/* What fills each hole.  1 all found, 0 not (stored whole), -1 error. */
static int
fill_refs(struct store *st, int64_t cert_id, const unsigned char *value,
    struct hole *holes, int n)
{
	for (int i = 0; i < n; i++) {
		const unsigned char *der = value + holes[i].off;
		int rc = ref_user_certificate(st, cert_id, der, &holes[i]);

		if (rc == 0)
			rc = ref_kept_certificate(st, der, &holes[i]);
		if (rc != 1)
			return rc;
	}
	return 1;
}

/* ---- a certificate's issuer and serial (IssuerAndSerialNumber's content) -------- */

/*
 * The issuer's Name and the serial's INTEGER of the certificate der, one
 * after the other, into out (at most max bytes): the content of the
 * IssuerAndSerialNumber that names it, which a value has once for its
 * signer and twice for the encryption certificate it prefers.  Their
 * length, or 0 when der is not a certificate of that shape.
 */
static size_t
name_serial(const unsigned char *der, size_t len, unsigned char *out, size_t max)
{
	const unsigned char *p = der, *end = der + len, *serial, *issuer;
	size_t hdr, slen, ilen;
	int tag;

	if (der_enter(&p, &end, 0x30) == -1 || der_enter(&p, &end, 0x30) == -1 ||
	    (p < end && *p == 0xa0 && der_skip(&p, end, 0xa0) == -1))
		return 0;
	serial = p;
	if (der_next(p, end, &tag, &hdr, &slen) == -1 || tag != 0x02)
		return 0;
	slen += hdr;
	p += slen;
	if (der_skip(&p, end, 0x30) == -1)
		return 0;
	issuer = p;
	if (der_next(p, end, &tag, &hdr, &ilen) == -1 || tag != 0x30 ||
	    (ilen += hdr) + slen > max)
		return 0;
	memcpy(out, issuer, ilen);
	memcpy(out + ilen, serial, slen);
	return ilen + slen;
}

/* Whether [off, off + len) is clear of every hole. */
static int
clear_of(const struct hole *holes, int n, size_t off, size_t len)
{
	for (int i = 0; i < n; i++)
		if (off < holes[i].off + holes[i].len && holes[i].off < off + len)
			return 0;
	return 1;
}

/* Adds a hole in order of offset; the new count. */
static int
insert_hole(struct hole *holes, int n, size_t off, size_t len, const char *id)
{
	int j;

	for (j = n; j > 0 && holes[j - 1].off > off; j--)
		holes[j] = holes[j - 1];
	holes[j].off = off;
	holes[j].len = len;
	snprintf(holes[j].ref, sizeof(holes[j].ref), "n%s", id);
	return n + 1;
}

/* More holes, "n<id>", wherever the issuer and serial of one of the user's
 * certificates (the "c" holes) appear in value.  The new count. */
static int
add_name_holes(const unsigned char *value, size_t vlen, struct hole *holes, int n)
{
	struct hole certs[MAX_HOLES];
	unsigned char pat[1024];
	int ncert = n;

	memcpy(certs, holes, (size_t)n * sizeof(*holes));
	for (int i = 0; i < ncert; i++) {
		size_t plen = certs[i].ref[0] == 'c' ? name_serial(value + certs[i].off,
		    certs[i].len, pat, sizeof(pat)) : 0;

		for (size_t off = 0; plen > 0 && n < MAX_HOLES && off + plen <= vlen; off++) {
			if (value[off] != pat[0] || memcmp(value + off, pat, plen) != 0 ||
			    !clear_of(holes, n, off, plen))
				continue;
			n = insert_hole(holes, n, off, plen, certs[i].ref + 1);
			off += plen - 1;
		}
	}
	return n;
}

/* ---- packing and unpacking -------------------------------------------------------- */

/* value without its holes into *packed (caller frees), and parts. */
static void
pack(const unsigned char *value, size_t vlen, const struct hole *holes, int n,
    unsigned char **packed, size_t *plen, char **parts)
{
	size_t q = 0, at = 0, room = (size_t)n * sizeof(holes->ref) + (size_t)n * 24 + 1;

	if ((*packed = malloc(vlen ? vlen : 1)) == NULL || (*parts = malloc(room)) == NULL)
		fatal("out of memory");
	(*parts)[0] = '\0';
	*plen = 0;
	for (int i = 0; i < n; i++) {
		memcpy(*packed + *plen, value + q, holes[i].off - q);
		*plen += holes[i].off - q;
		q = holes[i].off + holes[i].len;
		at += (size_t)snprintf(*parts + at, room - at, "%s%s@%zu", i ? " " : "",
		    holes[i].ref, holes[i].off);
	}
	memcpy(*packed + *plen, value + q, vlen - q);
	*plen += vlen - q;
}

/* *der (a certificate's, caller frees) replaced by its issuer and serial
 * (name_serial()).  0, or -1 after logging. */
static int
name_of(struct store *st, const char *ref, unsigned char **der, size_t *len)
{
	unsigned char *out = malloc(*len ? *len : 1);
	size_t n;

	if (out == NULL)
		fatal("out of memory");
	n = name_serial(*der, *len, out, *len);
	free(*der);
	*der = out;
	*len = n;
	if (n > 0)
		return 0;
	free(out);
	*der = NULL;
	log_error("state store %s: an S/MIME value names the issuer and serial of "
	    "a certificate that does not parse (%s); the value cannot be rebuilt",
	    st->path, ref);
	st->failed = 1;
	return -1;
}

/* The bytes a reference names (caller frees).  0, or -1 after logging. */
static int
fetch_ref(struct store *st, const char *ref, unsigned char **der, size_t *len)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (ref[0] == 'c' || ref[0] == 'n')
		stmt = db_prepare(st, "SELECT der FROM certificates WHERE id = ?");
	else if (ref[0] == 's')
		stmt = db_prepare(st, "SELECT der FROM smime_certs WHERE id = ?");
	else
		return db_fail(st, "read an S/MIME value: a bad part");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, strtoll(ref + 1, NULL, 10));
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		copy_blob(stmt, 0, der, len);
	db_release(st, stmt);
	if (rc == SQLITE_ROW && ref[0] == 'n')
		return name_of(st, ref, der, len);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return db_fail(st, "read an S/MIME value's certificate");
	log_error("state store %s: an S/MIME value names a certificate that is "
	    "not there (%s); the value cannot be rebuilt", st->path, ref);
	st->failed = 1;
	return -1;
}

/* Appends n bytes to a growing buffer. */
static void
append(unsigned char **buf, size_t *len, const void *data, size_t n)
{
	if ((*buf = realloc(*buf, *len + n + 1)) == NULL)
		fatal("out of memory");
	memcpy(*buf + *len, data, n);
	*len += n;
}

/* The whole value from the packed one and its parts into *value (caller
 * frees).  0, or -1 after logging. */
static int
unpack(struct store *st, const unsigned char *packed, size_t plen, const char *parts,
    unsigned char **value, size_t *len)
{
	char ref[sizeof(((struct hole *)0)->ref)];
	size_t q = 0, off, gap, dlen;
	unsigned char *der;
	int used;

	*value = NULL;
	*len = 0;
	while (sscanf(parts, " %23[^@ ]@%zu%n", ref, &off, &used) == 2) {
		if (off < *len || (gap = off - *len) > plen - q) {
			db_fail(st, "read an S/MIME value: its parts do not fit");
			goto fail;
		}
		if (fetch_ref(st, ref, &der, &dlen) == -1)
			goto fail;
		append(value, len, packed + q, gap);
		q += gap;
		append(value, len, der, dlen);
		free(der);
		parts += used;
	}
	append(value, len, packed + q, plen - q);
	return 0;
fail:
	free(*value);
	*value = NULL;
	*len = 0;
	return -1;
}

/* ---- the table ---------------------------------------------------------------------- */

static int
insert_value(struct store *st, int64_t cert_id, const void *value, size_t len,
    const char *parts)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT INTO smime_values (cert_id, value, "
	    "parts) VALUES (?, ?, ?)");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cert_id);
	sqlite3_bind_blob(stmt, 2, value, (int)len, SQLITE_TRANSIENT);
	db_bind_text(stmt, 3, parts);
	return db_step_done(st, stmt, "record an S/MIME value");
}

int
store_cert_smime_put(struct store *st, int64_t cert_id, const void *value, size_t len)
{
	struct hole holes[MAX_HOLES];
	unsigned char *packed = NULL;
	char *parts = NULL;
	size_t plen = 0;
	int n, rc;

	n = find_certificates(value, len, holes);
	if (n > 0 && (rc = fill_refs(st, cert_id, value, holes, n)) != 1) {
		if (rc == -1)
			return -1;
		n = 0;
	}
	if (n <= 0)
		return insert_value(st, cert_id, value, len, NULL);
	n = add_name_holes(value, len, holes, n);
	pack(value, len, holes, n, &packed, &plen, &parts);
	rc = insert_value(st, cert_id, packed, plen, parts);
	free(packed);
	free(parts);
	return rc;
}

int
store_cert_smime_get(struct store *st, int64_t cert_id, unsigned char **value,
    size_t *len)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT value, parts FROM smime_values "
	    "WHERE cert_id = ?");
	unsigned char *packed = NULL;
	char *parts = NULL;
	size_t plen = 0;
	int rc;

	*value = NULL;
	*len = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cert_id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		copy_blob(stmt, 0, &packed, &plen);
		parts = db_col_text(stmt, 1);
	}
	db_release(st, stmt);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : db_fail(st, "read an S/MIME value");
	if (parts == NULL) {
		*value = packed;
		*len = plen;
		return 1;
	}
	rc = unpack(st, packed, plen, parts, value, len);
	free(packed);
	free(parts);
	return rc == 0 ? 1 : -1;
}
