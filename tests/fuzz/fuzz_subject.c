/*
 * tests/fuzz/fuzz_subject.c - subject-template expansion (src/pki/issue.c
 * issue_subject) with a fuzzed template and fuzzed variables.
 *
 * Owns: the input read as "TEMPLATE\0name\0given\0sn\0mail\0uid" (a
 * variable that is not there is NULL), and the properties of a subject
 * made: it encodes as DER; it has no more attributes than the template has
 * comma-separated parts (a comma inside a value never starts one); every
 * value, read as text whatever its string type, is UTF-8 without control
 * characters, within its attribute's RFC 5280 bound in characters (for
 * the attributes a template may use).  A refusal gives a reason and no name.
 * Never: asserts which templates are accepted: conf.c's check decides
 * that (the conf target covers it).
 */
#include "config.h"

#include <openssl/x509.h>

#include "fuzz.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "pki/issue.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

/* Characters (not bytes) of valid UTF-8. */
static size_t
utf8_chars(const unsigned char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += (s[i] & 0xc0) != 0x80;
	return n;
}

/* RFC 5280's upper bound in characters for the attributes a template may
 * use (lib/rdn.c's table); for any other, which conf.c never lets through,
 * issue.c leaves the bound to OpenSSL's table: only the text is checked. */
static size_t
bound(int nid)
{
	switch (nid) {
	case NID_commonName:
	case NID_organizationName:
	case NID_organizationalUnitName:
	case NID_serialNumber:
		return 64;
	case NID_localityName:
	case NID_stateOrProvinceName:
	case NID_pkcs9_emailAddress:
		return 128;
	case NID_countryName:
		return 2;
	default:
		return (size_t)-1;
	}
}

static void
check_name(const char *tmpl, X509_NAME *name)
{
	size_t parts = 1;

	for (const char *p = tmpl; *p; p++)
		parts += *p == ',';
	fuzz_check(i2d_X509_NAME(name, NULL) > 0);
	fuzz_check((size_t)X509_NAME_entry_count(name) <= parts);
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		X509_NAME_ENTRY *ne = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ne));
		unsigned char *utf8 = NULL;
		char reason[160];
		int len;

		/* As text, whatever string type OpenSSL chose for the
		 * attribute (a BMPString for some). */
		len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ne));
		fuzz_check(len > 0 && strlen((char *)utf8) == (size_t)len);
		fuzz_check(utf8_text_check((char *)utf8, (size_t)len, reason,
		    sizeof(reason)) == 0);
		fuzz_check(utf8_chars(utf8, (size_t)len) <= bound(nid));
		OPENSSL_free(utf8);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_strndup(data, size), *field[6] = { NULL };
	struct subject_vars vars;
	X509_NAME *name = NULL;
	char why[256] = "";
	size_t k = 0;

	/* Split on NUL: the template, then the five variables in order. */
	field[k++] = buf;
	for (size_t i = 0; i < size && k < 6; i++)
		if (buf[i] == '\0')
			field[k++] = buf + i + 1;
	vars.name = field[1];
	vars.given = field[2];
	vars.sn = field[3];
	vars.mail = field[4];
	vars.uid = field[5];
	if (issue_subject(field[0], &vars, &name, why, sizeof(why)) == 0) {
		fuzz_check(name != NULL);
		check_name(field[0], name);
	} else
		fuzz_check(name == NULL && why[0] != '\0');
	X509_NAME_free(name);
	free(buf);
	return 0;
}
