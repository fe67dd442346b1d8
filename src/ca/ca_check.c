/*
 * ca_check.c - is a request one the profile would make (ca_check.h)?
 *
 * Owns: the CA process's checks of an issue or CRL request against the
 * configuration it read itself, and the unsigned certificate or CRL built
 * by the profile from the request's parts.
 * Never: takes a value from the request into a certificate that the
 * profile did not compute itself: the request's subject, validity and
 * extensions are only compared with the profile's, never copied.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_check.h"
#include "lib/log.h"
#include "pki/address.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/issue.h"
#include "pki/keys.h"
#include "pki/spki.h"

/* Text from a request, made safe to print: at most 80 bytes, every byte
 * outside printable ASCII as '?'.  Returns buf. */
static const char *
shown(const unsigned char *s, size_t len, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; i < len && i + 1 < buflen && i < 80; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static int
refuse(int code, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(int code, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- the parts of an issue request ------------------------------------- */

static int
check_kind(const struct conf *conf, const ASN1_ENUMERATED *k,
    enum cert_kind *kind, char *why, size_t len)
{
	int dual = conf->certificates.mode == CERT_MODE_DUAL;
	int64_t v;

	if (!ASN1_ENUMERATED_get_int64(&v, k))
		return refuse(CA_REFUSE_MALFORMED, why, len, "the kind is no small number");
	if (v < CERT_KIND_SIGNING || v > CERT_KIND_DUAL)
		return refuse(CA_REFUSE_PROFILE, why, len, "unknown certificate kind %lld",
		    (long long)v);
	if (dual != (v == CERT_KIND_DUAL))
		return refuse(CA_REFUSE_PROFILE, why, len, "a %s certificate is not "
		    "issued with [certificates] mode = %s", cert_kind_name((int)v),
		    dual ? "dual" : "separate");
	*kind = (enum cert_kind)v;
	return 0;
}

/* The refusals that matter most, named as such whatever else the request
 * gets wrong: a CA certificate (CA:TRUE, or the key usages of one), and a
 * purpose beyond S/MIME. */
static int
check_forbidden(const STACK_OF(X509_EXTENSION) *exts, char *why, size_t len)
{
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		BASIC_CONSTRAINTS *bc = NULL;
		EXTENDED_KEY_USAGE *eku = NULL;
		int bad = 0;

		if (nid == NID_basic_constraints) {
			bc = X509V3_EXT_d2i(ext);
			bad = bc == NULL || bc->ca;
			BASIC_CONSTRAINTS_free(bc);
			if (bad)
				return refuse(CA_REFUSE_PROFILE, why, len, "a CA certificate "
				    "(basicConstraints CA:TRUE) is never issued");
		} else if (nid == NID_key_usage) {
			ASN1_BIT_STRING *ku = X509V3_EXT_d2i(ext);

			bad = ku == NULL || ASN1_BIT_STRING_get_bit(ku, 5) ||
			    ASN1_BIT_STRING_get_bit(ku, 6);
			ASN1_BIT_STRING_free(ku);
			if (bad)
				return refuse(CA_REFUSE_PROFILE, why, len, "keyUsage "
				    "keyCertSign or cRLSign is never issued");
		} else if (nid == NID_ext_key_usage) {
			eku = X509V3_EXT_d2i(ext);
			bad = eku == NULL || sk_ASN1_OBJECT_num(eku) != 1 ||
			    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) != NID_email_protect;
			EXTENDED_KEY_USAGE_free(eku);
			if (bad)
				return refuse(CA_REFUSE_PROFILE, why, len, "an extendedKeyUsage "
				    "other than emailProtection alone is never issued");
		}
	}
	return 0;
}

/* The request's addresses, each valid and in its normal form, once. */
static int
check_addresses(const STACK_OF(ASN1_IA5STRING) *in, struct address_list *out,
    char *why, size_t len)
{
	char text[96];
	int n = sk_ASN1_IA5STRING_num(in);

	if (n < 1 || n > CA_ADDRESSES_MAX)
		return refuse(CA_REFUSE_PROFILE, why, len, "%d addresses (1 to %d are "
		    "certified)", n, CA_ADDRESSES_MAX);
	for (int i = 0; i < n; i++) {
		const ASN1_IA5STRING *s = sk_ASN1_IA5STRING_value(in, i);
		const unsigned char *d = ASN1_STRING_get0_data(s);
		size_t l = (size_t)ASN1_STRING_length(s);
		const char *w = NULL;
		char *raw = strndup((const char *)d, l), *norm = NULL;

		if (raw == NULL)
			fatal("out of memory");
		shown(d, l, text, sizeof(text));
		if (strlen(raw) != l || (norm = address_normalize(raw, &w)) == NULL) {
			free(raw);
			return refuse(CA_REFUSE_PROFILE, why, len, "address \"%s\" is not "
			    "valid: %s", text, w ? w : "it holds a NUL byte");
		}
		if (strcmp(norm, raw) != 0) {
			free(raw);
			free(norm);
			return refuse(CA_REFUSE_PROFILE, why, len, "address \"%s\" is not "
			    "in its normal form", text);
		}
		if (address_list_add(out, norm) == 0) {	/* it took norm either way */
			free(raw);
			return refuse(CA_REFUSE_PROFILE, why, len, "address \"%s\" is "
			    "given twice", text);
		}
		free(raw);
	}
	return 0;
}

/* The subject variables, as C strings in vals (caller frees). */
static int
check_vars(const CA_SUBJECT_VARS *in, char *vals[5], struct subject_vars *out,
    char *why, size_t len)
{
	const ASN1_UTF8STRING *v[5] = { in->name, in->given, in->sn, in->mail, in->uid };
	static const char *const names[5] = { "name", "given", "sn", "mail", "uid" };
	const char **dst[5] = { &out->name, &out->given, &out->sn, &out->mail,
	    &out->uid };

	for (int i = 0; i < 5; i++) {
		if (v[i] == NULL)
			continue;
		if ((vals[i] = ca_utf8_dup(v[i], CA_VAR_MAX)) == NULL)
			return refuse(CA_REFUSE_MALFORMED, why, len, "subject variable %s "
			    "is not UTF-8 text without control characters, of at most "
			    "%d bytes", names[i], CA_VAR_MAX);
		*dst[i] = vals[i];
	}
	return 0;
}

/* The public key: of [certificates] key_type, and not the CA's own. */
static int
check_key(const struct ca_profile *p, X509_PUBKEY *pk, EVP_PKEY **key,
    char *why, size_t len)
{
	const struct key_spec *spec = &p->conf->certificates.key;
	char type[64];

	if ((*key = X509_PUBKEY_get0(pk)) == NULL) {
		ERR_clear_error();
		return refuse(CA_REFUSE_MALFORMED, why, len, "the public key cannot be read");
	}
	keys_describe(*key, type, sizeof(type));
	if (strcasecmp(type, spec->name) != 0)
		return refuse(CA_REFUSE_PROFILE, why, len, "the public key is %s, not "
		    "[certificates] key_type %s", type, spec->name);
	if (EVP_PKEY_eq(*key, X509_get0_pubkey(p->ca)) == 1)
		return refuse(CA_REFUSE_PROFILE, why, len, "the public key is the CA's own");
	/* The certificate carries these bytes as they came (spki.h): only
	 * ever the encoding OpenSSL gives the key they decode to. */
	if (!spki_canonical(pk))
		return refuse(CA_REFUSE_MALFORMED, why, len, "the public key is not "
		    "encoded as its key encodes (bytes its decoder skipped?)");
	return 0;
}

/* ---- the request against what the profile built ------------------------ */

static int
check_subject(const X509_NAME *asked, X509 *built, char *why, size_t len)
{
	unsigned char *a = NULL, *b = NULL;
	int la = i2d_X509_NAME(asked, &a), lb = i2d_X509_NAME(X509_get_subject_name(built), &b);
	int same = la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0;

	OPENSSL_free(a);
	OPENSSL_free(b);
	if (!same)
		return refuse(CA_REFUSE_PROFILE, why, len, "the subject differs from the "
		    "one [certificates] subject makes of these variables");
	return 0;
}

static int
check_validity(const struct ca_profile *p, const CA_ISSUE *req, X509 *built,
    char *why, size_t len)
{
	time_t nb, na, pnb, pna, cna;

	if (ca_time_get(req->not_before, &nb) == -1 || ca_time_get(req->not_after, &na) == -1)
		return refuse(CA_REFUSE_MALFORMED, why, len, "notBefore or notAfter is not a "
		    "DER GeneralizedTime (YYYYMMDDHHMMSSZ)");
	if (certinfo_time(X509_get0_notBefore(built), &pnb) == -1 ||
	    certinfo_time(X509_get0_notAfter(built), &pna) == -1 ||
	    certinfo_time(X509_get0_notAfter(p->ca), &cna) == -1)
		return refuse(CA_REFUSE_INTERNAL, why, len, "cannot read a validity");
	if (na > cna)
		return refuse(CA_REFUSE_PROFILE, why, len, "a validity beyond the CA "
		    "certificate's notAfter");
	if (na > pna + CA_SKEW)
		return refuse(CA_REFUSE_PROFILE, why, len, "a validity beyond "
		    "[certificates] validity_days (%d days)",
		    p->conf->certificates.validity_days);
	if (nb < pnb - CA_SKEW)
		return refuse(CA_REFUSE_PROFILE, why, len, "a notBefore earlier than "
		    "[certificates] backdate_minutes allows");
	if (na < pna - CA_SKEW || nb > pnb + CA_SKEW)
		return refuse(CA_REFUSE_PROFILE, why, len, "a validity that differs from "
		    "the profile's");
	return 0;
}

/* keyUsage, subjectAltName, ... or the OID of one OpenSSL does not know. */
static const char *
ext_name(const X509_EXTENSION *ext, char *buf, size_t len)
{
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object((X509_EXTENSION *)ext);
	int nid = OBJ_obj2nid(obj);

	if (nid != NID_undef)
		snprintf(buf, len, "%s", OBJ_nid2sn(nid));
	else
		OBJ_obj2txt(buf, (int)len, obj, 1);
	return buf;
}

/* 1 if a and b are the same extension, value and criticality alike. */
static int
ext_same(const X509_EXTENSION *a, const X509_EXTENSION *b)
{
	const ASN1_OCTET_STRING *va = X509_EXTENSION_get_data((X509_EXTENSION *)a);
	const ASN1_OCTET_STRING *vb = X509_EXTENSION_get_data((X509_EXTENSION *)b);

	return X509_EXTENSION_get_critical(a) == X509_EXTENSION_get_critical(b) &&
	    ASN1_OCTET_STRING_cmp(va, vb) == 0;
}

/* Whether the extension's OID is in list (X509v3 names no two alike). */
static int
ext_in(const STACK_OF(X509_EXTENSION) *list, const X509_EXTENSION *ext)
{
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object((X509_EXTENSION *)ext);

	return X509v3_get_ext_by_OBJ(list, obj, -1) >= 0;
}

/* The request's extensions are the profile's: the same, in its order. */
static int
check_extensions(const STACK_OF(X509_EXTENSION) *asked, X509 *built, char *why,
    size_t len)
{
	const STACK_OF(X509_EXTENSION) *want = X509_get0_extensions(built);
	int na = sk_X509_EXTENSION_num(asked), nw = sk_X509_EXTENSION_num(want);
	char name[80];

	for (int i = 0; i < na; i++)
		if (!ext_in(want, sk_X509_EXTENSION_value(asked, i)))
			return refuse(CA_REFUSE_PROFILE, why, len, "extension %s is not in "
			    "the profile", ext_name(sk_X509_EXTENSION_value(asked, i), name,
			    sizeof(name)));
	for (int i = 0; i < nw; i++)
		if (!ext_in(asked, sk_X509_EXTENSION_value(want, i)))
			return refuse(CA_REFUSE_PROFILE, why, len, "extension %s of the "
			    "profile is missing", ext_name(sk_X509_EXTENSION_value(want, i),
			    name, sizeof(name)));
	if (na != nw)
		return refuse(CA_REFUSE_PROFILE, why, len, "an extension is given twice");
	for (int i = 0; i < nw; i++) {
		const X509_EXTENSION *a = sk_X509_EXTENSION_value(asked, i);
		const X509_EXTENSION *w = sk_X509_EXTENSION_value(want, i);

		if (OBJ_cmp(X509_EXTENSION_get_object((X509_EXTENSION *)a),
		    X509_EXTENSION_get_object((X509_EXTENSION *)w)) != 0)
			return refuse(CA_REFUSE_PROFILE, why, len, "the extensions are not "
			    "in the profile's order (%s)", ext_name(a, name, sizeof(name)));
		if (!ext_same(a, w))
			return refuse(CA_REFUSE_PROFILE, why, len, "extension %s differs "
			    "from the profile's", ext_name(a, name, sizeof(name)));
	}
	return 0;
}

/* ---- an issue request ---------------------------------------------------- */

/* Everything the request says, checked one by one; then built. */
static int
check_parts(const struct ca_profile *p, const CA_ISSUE *req, struct issue_request *ir,
    struct address_list *addrs, char *vals[5], struct ca_issued *facts,
    char *why, size_t len)
{
	int rc;

	if ((facts->user = ca_utf8_dup(req->user, CA_USER_MAX)) == NULL ||
	    *facts->user == '\0')
		return refuse(CA_REFUSE_MALFORMED, why, len, "the user is not UTF-8 text "
		    "of 1 to %d bytes", CA_USER_MAX);
	if ((rc = check_kind(p->conf, req->kind, &ir->kind, why, len)) != 0 ||
	    (rc = check_forbidden(req->extensions, why, len)) != 0 ||
	    (rc = check_addresses(req->addresses, addrs, why, len)) != 0 ||
	    (rc = check_vars(req->vars, vals, &ir->vars, why, len)) != 0 ||
	    (rc = check_key(p, req->public_key, &ir->key, why, len)) != 0)
		return rc;
	ir->spki = req->public_key;
	ir->addresses = addrs;
	facts->kind = ir->kind;
	return 0;
}

int
ca_check_issue(const struct ca_profile *p, const CA_ISSUE *req, time_t now,
    X509 **out, struct ca_issued *facts, char *why, size_t whylen)
{
	struct issue_request ir = { .now = now };
	struct address_list addrs = { 0 };
	char *vals[5] = { NULL };
	char w[256] = "";
	X509 *cert = NULL;
	int rc;

	*out = NULL;
	memset(facts, 0, sizeof(*facts));
	if ((rc = check_parts(p, req, &ir, &addrs, vals, facts, why, whylen)) != 0)
		goto done;
	/* -2: the profile refuses these values, or the CA expired; -1 with a
	 * reason: the CA is not valid yet; without one, OpenSSL failed. */
	if ((rc = issue_build(p->conf, p->ca, &ir, &cert, w, sizeof(w))) != 0) {
		rc = refuse(w[0] ? CA_REFUSE_PROFILE : CA_REFUSE_INTERNAL, why, whylen,
		    "%s", w[0] ? w : "the profile cannot build this certificate");
		goto done;
	}
	if ((rc = check_subject(req->subject, cert, why, whylen)) != 0 ||
	    (rc = check_validity(p, req, cert, why, whylen)) != 0 ||
	    (rc = check_extensions(req->extensions, cert, why, whylen)) != 0)
		goto done;
	facts->addresses = address_list_join(&addrs);
	*out = cert;
	cert = NULL;
done:
	X509_free(cert);
	address_list_free(&addrs);
	for (int i = 0; i < 5; i++)
		free(vals[i]);
	return rc;
}

void
ca_issued_free(struct ca_issued *facts)
{
	free(facts->user);
	free(facts->addresses);
	memset(facts, 0, sizeof(*facts));
}

/* ---- a CRL request ------------------------------------------------------- */

static int
check_crl_head(const struct ca_profile *p, const CA_CRL *req, time_t now,
    int64_t *number, time_t *tu, time_t *nu, char *why, size_t len)
{
	int64_t hours = p->conf->crl.next_update_hours;

	if (!ASN1_INTEGER_get_int64(number, req->number) || *number < 1)
		return refuse(CA_REFUSE_PROFILE, why, len, "the CRL number is not a "
		    "positive integer below 2^63");
	if (*number <= p->last_crl)
		return refuse(CA_REFUSE_PROFILE, why, len, "CRL number %lld is not above "
		    "%lld, the last one this CA process signed", (long long)*number,
		    (long long)p->last_crl);
	if (ca_time_get(req->this_update, tu) == -1 || ca_time_get(req->next_update, nu) == -1)
		return refuse(CA_REFUSE_MALFORMED, why, len, "thisUpdate or nextUpdate is "
		    "not a DER GeneralizedTime (YYYYMMDDHHMMSSZ)");
	if (*tu < now - CA_SKEW || *tu > now + CA_SKEW)
		return refuse(CA_REFUSE_PROFILE, why, len, "thisUpdate is not now");
	if (*nu <= *tu || *nu - *tu > hours * 3600 + CA_SKEW)
		return refuse(CA_REFUSE_PROFILE, why, len, "nextUpdate is not within "
		    "[crl] next_update_hours (%lld) of thisUpdate", (long long)hours);
	if (sk_CA_CRL_ENTRY_num(req->entries) > CA_CRL_ENTRIES_MAX)
		return refuse(CA_REFUSE_PROFILE, why, len, "more than %d CRL entries",
		    CA_CRL_ENTRIES_MAX);
	return 0;
}

static int
check_entry(const CA_CRL_ENTRY *e, time_t now, time_t *when, int *reason,
    char *why, size_t len)
{
	int n = ASN1_STRING_length(e->serial);
	int64_t r;

	/* RFC 5280 4.1.2.2: positive, at most 20 octets. */
	if (ASN1_STRING_type(e->serial) != V_ASN1_INTEGER || n < 1 || n > 20 ||
	    (n == 1 && ASN1_STRING_get0_data(e->serial)[0] == 0))
		return refuse(CA_REFUSE_PROFILE, why, len, "a CRL entry's serial is not a "
		    "positive integer of at most 20 octets");
	if (ca_time_get(e->date, when) == -1 || *when > now + CA_SKEW)
		return refuse(CA_REFUSE_PROFILE, why, len, "a CRL entry's revocationDate "
		    "is not a DER GeneralizedTime, or lies in the future");
	if (!ASN1_ENUMERATED_get_int64(&r, e->reason) || r < 0 || r > 10 ||
	    strcmp(crl_reason_name((int)r), "unknown") == 0)
		return refuse(CA_REFUSE_PROFILE, why, len, "a CRL entry's reason is not "
		    "one certsync records (%s, or certificateHold)",
		    crl_reason_list());
	*reason = (int)r;
	return 0;
}

/* After sorting, a serial listed twice sits next to itself. */
static int
check_unique(X509_CRL *crl, char *why, size_t len)
{
	STACK_OF(X509_REVOKED) *v = X509_CRL_get_REVOKED(crl);

	for (int i = 1; i < sk_X509_REVOKED_num(v); i++)
		if (ASN1_INTEGER_cmp(
		    X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(v, i - 1)),
		    X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(v, i))) == 0)
			return refuse(CA_REFUSE_PROFILE, why, len, "a serial is listed "
			    "twice in the CRL");
	return 0;
}

int
ca_check_crl(const struct ca_profile *p, const CA_CRL *req, time_t now,
    X509_CRL **out, int64_t *number, char *why, size_t whylen)
{
	X509_CRL *crl = NULL;
	time_t tu, nu, when = 0;
	int rc, reason = 0;

	*out = NULL;
	if ((rc = check_crl_head(p, req, now, number, &tu, &nu, why, whylen)) != 0)
		return rc;
	if ((crl = crl_new(p->ca, tu, nu)) == NULL)
		return refuse(CA_REFUSE_INTERNAL, why, whylen, "cannot start a CRL");
	for (int i = 0; i < sk_CA_CRL_ENTRY_num(req->entries); i++) {
		const CA_CRL_ENTRY *e = sk_CA_CRL_ENTRY_value(req->entries, i);

		if ((rc = check_entry(e, now, &when, &reason, why, whylen)) != 0)
			goto fail;
		if (crl_add(crl, e->serial, when, reason) == -1) {
			rc = refuse(CA_REFUSE_INTERNAL, why, whylen, "cannot add a CRL entry");
			goto fail;
		}
	}
	if (crl_finish(crl, p->ca, req->number) == -1) {
		rc = refuse(CA_REFUSE_INTERNAL, why, whylen, "cannot finish the CRL");
		goto fail;
	}
	if ((rc = check_unique(crl, why, whylen)) != 0)
		goto fail;
	*out = crl;
	return 0;
fail:
	X509_CRL_free(crl);
	return rc;
}
