/*
 * pkcs11.c - a CA private key that lives in a PKCS#11 token.
 *
 * Owns: OpenSSL's pkcs11 engine (libp11 0.4.12 on Debian 12) and the
 * PKCS#11 module it loads, for one key: the URI checks, the login with the
 * PIN from a file, the reasons a key cannot be opened, told apart.
 * Never: logs or keeps the PIN (libp11 keeps its own copy while the key is
 * open, wiped when the engine lets go of the token), retries a login (a
 * token locks its PIN after a few wrong ones), or asks on a terminal.
 *
 * Why the engine and not a provider: Debian 12's pkcs11-provider is only in
 * backports, and SoftHSM2 2.6.1 crashes under it.  OpenSSL 3 marks the
 * ENGINE API deprecated, and the build turns warnings into errors: this
 * file alone, the one place that speaks to an engine, silences them.
 * Why p11-kit: it parses RFC 7512 URIs properly (so a PIN or a module in
 * the URI can be refused), and, when libp11 says only "object not found",
 * it lists the module's tokens to tell "no such token" from "no such key".
 */
#include "config.h"

#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE API: see above */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ui.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "ca/pkcs11.h"
#include "lib/log.h"
#include "lib/secret.h"

/* The settings the messages name, as certsync.conf spells them. */
#define KEY_SETTING "[ca] key"
#define PIN_SETTING "[ca] pin_file"
#define MODULE_SETTING "[ca] pkcs11_module"

/*
 * libp11's error library names and reason codes (eng_err.h, p11_err.h in
 * libp11 0.4.12).  Library numbers are handed out at run time, so the
 * libraries are told apart by name.  Reasons of "PKCS#11 module" are the
 * token's CKR_ return values.
 */
#define LIBP11_CKR_LIB "PKCS#11 module"
#define LIBP11_LIB "libp11"
#define LIBP11_ENGINE_LIB "pkcs11 engine"
#define LIBP11_R_LOAD_MODULE 1025
#define LIBP11_ENGINE_R_INVALID_ID 100
#define LIBP11_ENGINE_R_OBJECT_NOT_FOUND 101

#define TEXT_MAX 512
#define LABEL_MAX (32 * 4 + 1)  /* a token label, every byte as \xHH */

struct ca_pkcs11 {
	ENGINE *engine;   /* a structural and a functional reference */
	EVP_PKEY *key;    /* its methods live in the engine: freed first */
	void *module;     /* our dlopen of [ca] pkcs11_module, or NULL */
};

/*
 * The process that last logged in, or tried to.  libp11 0.4.12 never logs
 * out or finalizes the module, not at ENGINE_finish nor when the engine is
 * destroyed: the login lasts until the process exits, and a second open
 * would find the token logged in and never check its PIN.  So one open per
 * process; a child forked later is a process of its own.
 */
static pid_t logged_in_by;

/* What the tokens of a module say about a URI that found no key. */
struct census {
	int matches;              /* initialized tokens the URI matches */
	char match[LABEL_MAX];    /* the label of the last of them */
	char others[TEXT_MAX];    /* the labels of the others, for the message */
};

int
ca_pkcs11_is_uri(const char *key)
{
	return key != NULL && strncmp(key, CA_PKCS11_URI_PREFIX,
	    strlen(CA_PKCS11_URI_PREFIX)) == 0;
}

/*
 * Copies len bytes of s into buf, bytes other than printable ASCII as
 * \xHH: URIs come from the configuration, labels from the token.
 * Returns buf.
 */
static const char *
printable(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && s[i] != '\0' && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* The URI, printable, in a static buffer: for messages only. */
static const char *
uri_text(const struct ca_pkcs11_spec *spec)
{
	static char buf[TEXT_MAX];

	return printable(spec->uri, strlen(spec->uri), buf, sizeof(buf));
}

/* The module the engine loads, for messages. */
static const char *
module_text(const struct ca_pkcs11_spec *spec, char *buf, size_t buflen)
{
	const char *env = getenv("PKCS11_MODULE_PATH");

	if (spec->module != NULL)
		return printable(spec->module, strlen(spec->module), buf, buflen);
	if (env != NULL)
		return printable(env, strlen(env), buf, buflen);
	return "p11-kit-proxy (the modules p11-kit knows)";
}

/* ---- the URI ------------------------------------------------------------ */

/*
 * Refuses what the URI must not carry: a PIN (pin-value= would put it in the
 * configuration; pin-source= would skip the mode check of PIN_SETTING), a
 * module (libp11 0.4.12 cannot read module-path=; MODULE_SETTING names it),
 * an object that is not a private key, or no object at all (libp11 would
 * take the token's first key).  Returns 0, or -1 after logging.
 */
static int
uri_refuse(const struct ca_pkcs11_spec *spec, P11KitUri *uri)
{
	CK_ATTRIBUTE *class = p11_kit_uri_get_attribute(uri, CKA_CLASS);
	const char *why = NULL;

	if (p11_kit_uri_get_pin_value(uri) != NULL ||
	    p11_kit_uri_get_pin_source(uri) != NULL)
		why = "carries a PIN; put the PIN in a file named by " PIN_SETTING;
	else if (p11_kit_uri_get_module_path(uri) != NULL ||
	    p11_kit_uri_get_module_name(uri) != NULL)
		why = "names a module; name it with " MODULE_SETTING;
	else if (class != NULL && (class->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
	    *(CK_OBJECT_CLASS *)class->pValue != CKO_PRIVATE_KEY))
		why = "names an object that is not a private key (type=private)";
	else if (p11_kit_uri_get_attribute(uri, CKA_LABEL) == NULL &&
	    p11_kit_uri_get_attribute(uri, CKA_ID) == NULL)
		why = "names no key: add object=LABEL or id=HEX";
	else if (p11_kit_uri_any_unrecognized(uri))
		why = "has an attribute that is not in RFC 7512";
	if (why == NULL)
		return 0;
	/* Not even an escaped copy of a URI that may hold a PIN. */
	log_error(KEY_SETTING " %s", why);
	return -1;
}

/* Parses and checks spec->uri.  Returns 0 and *out, or -1 after logging. */
static int
uri_parse(const struct ca_pkcs11_spec *spec, P11KitUri **out)
{
	P11KitUri *uri;
	int rc;

	*out = NULL;
	if ((uri = p11_kit_uri_new()) == NULL)
		fatal("out of memory");
	if ((rc = p11_kit_uri_parse(spec->uri, P11_KIT_URI_FOR_ANY, uri)) !=
	    P11_KIT_URI_OK) {
		log_error(KEY_SETTING " is not a PKCS#11 URI (RFC 7512): %s",
		    p11_kit_uri_message(rc));
		p11_kit_uri_free(uri);
		return -1;
	}
	if (uri_refuse(spec, uri) == -1) {
		p11_kit_uri_free(uri);
		return -1;
	}
	*out = uri;
	return 0;
}

/* ---- the engine --------------------------------------------------------- */

static void
engine_close(ENGINE *e)
{
	if (e == NULL)
		return;
	ENGINE_finish(e);
	ENGINE_free(e);
}

/* Where OpenSSL looks for engines, for the message that none was found. */
static const char *
engines_dir(void)
{
	const char *env = getenv("OPENSSL_ENGINES");

	return env != NULL ? env : OpenSSL_version(OPENSSL_ENGINES_DIR);
}

/*
 * The pkcs11 engine, initialized, with the module set, quiet (libp11 would
 * print its own lines, with the URI, on stderr) and logging in always (some
 * tokens hide private keys until login without saying that they need one).
 * Returns the engine, or NULL after logging.
 */
static ENGINE *
engine_open(const struct ca_pkcs11_spec *spec)
{
	char text[TEXT_MAX];
	ENGINE *e;

	/* Not in OpenSSL's list: ENGINE_by_id loads ENGINESDIR/pkcs11.so. */
	if ((e = ENGINE_by_id("pkcs11")) == NULL) {
		ERR_clear_error();
		log_error(KEY_SETTING " %s: OpenSSL's pkcs11 engine is not installed "
		    "in %s (on Debian: apt-get install libengine-pkcs11-openssl)",
		    uri_text(spec), printable(engines_dir(), strlen(engines_dir()),
		    text, sizeof(text)));
		return NULL;
	}
	if (!ENGINE_ctrl_cmd_string(e, "QUIET", NULL, 0) ||
	    !ENGINE_ctrl_cmd_string(e, "FORCE_LOGIN", NULL, 0) ||
	    (spec->module != NULL &&
	    !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", spec->module, 0))) {
		log_ssl(KEY_SETTING " %s: the pkcs11 engine refused its settings",
		    uri_text(spec));
		ENGINE_free(e);
		return NULL;
	}
	if (!ENGINE_init(e)) {
		log_ssl(KEY_SETTING " %s: cannot start the pkcs11 engine",
		    uri_text(spec));
		ENGINE_free(e);
		return NULL;
	}
	return e;
}

/* ---- why a key did not load --------------------------------------------- */

/* The oldest error in OpenSSL's queue (the most specific one); empties it. */
static unsigned long
oldest_error(void)
{
	unsigned long first = ERR_get_error(), e;

	while ((e = ERR_get_error()) != 0)
		continue;
	return first;
}

static int
error_is(unsigned long e, const char *lib, int reason)
{
	const char *name = ERR_lib_error_string(e);

	return e != 0 && name != NULL && strcmp(name, lib) == 0 &&
	    ERR_GET_REASON(e) == reason;
}

/* One line for a PIN the token refused; 0 if e is not about the PIN. */
static int
pin_refused(const struct ca_pkcs11_spec *spec, unsigned long e)
{
	char text[TEXT_MAX];
	const char *file = printable(spec->pin_file, strlen(spec->pin_file),
	    text, sizeof(text));

	if (error_is(e, LIBP11_CKR_LIB, CKR_PIN_LOCKED)) {
		log_error(PIN_SETTING " %s: the token's user PIN is locked (too many "
		    "wrong PINs); its security officer must unlock it", file);
		return 1;
	}
	if (error_is(e, LIBP11_CKR_LIB, CKR_PIN_INCORRECT) ||
	    error_is(e, LIBP11_CKR_LIB, CKR_PIN_INVALID) ||
	    error_is(e, LIBP11_CKR_LIB, CKR_PIN_LEN_RANGE) ||
	    error_is(e, LIBP11_CKR_LIB, CKR_PIN_EXPIRED)) {
		log_error(PIN_SETTING " %s: the token refused the PIN (%s); not "
		    "retried, so as not to lock the token", file,
		    ERR_reason_error_string(e));
		return 1;
	}
	return 0;
}

/*
 * Explains a failed ENGINE_load_private_key from OpenSSL's error queue.
 * Returns 1 if libp11 found no key (the tokens must tell why), else 0
 * after logging.
 */
static int
load_failed(const struct ca_pkcs11_spec *spec)
{
	char text[TEXT_MAX];
	unsigned long e = oldest_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (error_is(e, LIBP11_ENGINE_LIB, LIBP11_ENGINE_R_OBJECT_NOT_FOUND))
		return 1;
	if (pin_refused(spec, e))
		return 0;
	if (error_is(e, LIBP11_LIB, LIBP11_R_LOAD_MODULE))
		log_error("%s %s: the PKCS#11 module does not load",
		    spec->module != NULL ? MODULE_SETTING : "PKCS#11 module",
		    module_text(spec, text, sizeof(text)));
	else if (error_is(e, LIBP11_ENGINE_LIB, LIBP11_ENGINE_R_INVALID_ID))
		log_error(KEY_SETTING " %s: the pkcs11 engine does not understand "
		    "this URI (it knows token, manufacturer, serial, model, object, "
		    "id and type)", uri_text(spec));
	else
		log_error(KEY_SETTING " %s: cannot load the private key (%s)",
		    uri_text(spec), why != NULL ? why : "no detail from OpenSSL");
	return 0;
}

/* Appends "'label'" to a list of labels, as long as it fits. */
static void
census_add(char *list, size_t len, const char *label)
{
	size_t used = strlen(list);

	snprintf(list + used, len - used, "%s'%s'", used ? ", " : "", label);
}

/* Counts the initialized tokens of one module that the URI matches. */
static void
census_module(CK_FUNCTION_LIST *m, P11KitUri *uri, struct census *c)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO info;
	CK_ULONG n = 0;
	char label[LABEL_MAX];

	if (m->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || n == 0)
		return;
	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		fatal("out of memory");
	if (m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		n = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		if (m->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
		    !(info.flags & CKF_TOKEN_INITIALIZED))
			continue;
		/* A label is 32 bytes, padded with blanks, not terminated. */
		size_t len = sizeof(info.label);
		while (len > 0 && info.label[len - 1] == ' ')
			len--;
		printable((const char *)info.label, len, label, sizeof(label));
		if (p11_kit_uri_match_token_info(uri, &info)) {
			c->matches++;
			snprintf(c->match, sizeof(c->match), "%s", label);
		} else
			census_add(c->others, sizeof(c->others), label);
	}
	free(slots);
}

/*
 * The modules libp11 looked in, NULL-terminated: the one it was told, or
 * every module p11-kit knows (what p11-kit-proxy offers).  NULL if they do
 * not load.  Release with modules_release(module, list).
 */
static CK_FUNCTION_LIST **
modules_load(const char *module)
{
	CK_FUNCTION_LIST **list;

	if (module == NULL)
		return p11_kit_modules_load_and_initialize(0);
	if ((list = calloc(2, sizeof(*list))) == NULL)
		fatal("out of memory");
	if ((list[0] = p11_kit_module_load(module, 0)) == NULL)
		goto fail;
	if (p11_kit_module_initialize(list[0]) != CKR_OK) {
		p11_kit_module_release(list[0]);
		goto fail;
	}
	return list;
fail:
	free(list);
	return NULL;
}

static void
modules_release(const char *module, CK_FUNCTION_LIST **list)
{
	if (list == NULL)
		return;
	if (module == NULL) {
		p11_kit_modules_finalize_and_release(list);
		return;
	}
	p11_kit_module_finalize(list[0]);
	p11_kit_module_release(list[0]);
	free(list);
}

/*
 * libp11 found no key: asks the module's tokens whether the token or the
 * key is missing, and logs one line.  Call it with the engine closed, so
 * the module is not initialized twice.
 */
static void
key_not_found(const struct ca_pkcs11_spec *spec, P11KitUri *uri)
{
	const char *module = spec->module ? spec->module : getenv("PKCS11_MODULE_PATH");
	struct census c = { 0 };
	CK_FUNCTION_LIST **list = modules_load(module);
	char buf[TEXT_MAX];
	const char *text = module_text(spec, buf, sizeof(buf));

	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		census_module(list[i], uri, &c);
	modules_release(module, list);
	if (list == NULL)
		log_error(KEY_SETTING " %s: no such token, or no such private key "
		    "in it (and module %s does not list its tokens)", uri_text(spec), text);
	else if (c.matches == 0)
		log_error(KEY_SETTING " %s: no token matches it in module %s "
		    "(tokens there: %s)", uri_text(spec), text,
		    c.others[0] ? c.others : "none");
	else if (c.matches > 1)
		log_error(KEY_SETTING " %s: %d tokens match it in module %s; name "
		    "one (token=, serial=)", uri_text(spec), c.matches, text);
	else
		log_error(KEY_SETTING " %s: token '%s' holds no private key that "
		    "matches it (object=, id=)", uri_text(spec), c.match);
}

/* ---- the key ------------------------------------------------------------- */

/*
 * Opens the module named by spec, if any, and keeps it open for libp11: a
 * file that does not load, or is not a PKCS#11 module, is one line of ours
 * (libp11 would print dlopen's complaint on stderr, then fail vaguely).
 * Returns 0 and *handle (NULL without a module; dlclose it after the
 * engine), or -1 after logging.
 */
static int
module_open(const struct ca_pkcs11_spec *spec, void **handle)
{
	char text[TEXT_MAX], why[TEXT_MAX];
	const char *err;
	void *h;

	*handle = NULL;
	if (spec->module == NULL)
		return 0;
	printable(spec->module, strlen(spec->module), text, sizeof(text));
	if ((h = dlopen(spec->module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		log_error(MODULE_SETTING " %s: does not load: %s", text,
		    printable(err, strlen(err), why, sizeof(why)));
		return -1;
	}
	if (dlsym(h, "C_GetFunctionList") == NULL) {
		log_error(MODULE_SETTING " %s: is not a PKCS#11 module (it has no "
		    "C_GetFunctionList)", text);
		dlclose(h);
		return -1;
	}
	*handle = h;
	return 0;
}

/* Checks what spec names before anything is loaded.  0, or -1 after logging. */
static int
spec_check(const struct ca_pkcs11_spec *spec)
{
	if (spec->pin_file == NULL) {
		log_error(KEY_SETTING " %s is a token key; " PIN_SETTING " must name "
		    "the file that holds its user PIN", uri_text(spec));
		return -1;
	}
	if (logged_in_by == getpid()) {
		log_error(KEY_SETTING " %s: this process opened a token key before; "
		    "the token is still logged in, so the PIN would not be checked: "
		    "open a key once per process", uri_text(spec));
		return -1;
	}
	return 0;
}

/*
 * Logs in with pin and loads the key; never prompts (UI_null).  Returns
 * the key, or NULL with the reason in OpenSSL's error queue.
 */
static EVP_PKEY *
engine_load_key(ENGINE *e, const struct ca_pkcs11_spec *spec, const char *pin)
{
	ERR_clear_error();
	/* libp11 copies the PIN, and wipes its copy when the engine ends. */
	if (!ENGINE_ctrl_cmd_string(e, "PIN", pin, 0))
		return NULL;
	/* The engine API predates const; it only reads the method. */
	return ENGINE_load_private_key(e, spec->uri, (UI_METHOD *)UI_null(), NULL);
}

struct ca_pkcs11 *
ca_pkcs11_open(const struct ca_pkcs11_spec *spec)
{
	struct ca_pkcs11 *p11 = NULL;
	P11KitUri *uri = NULL;
	EVP_PKEY *key = NULL;
	ENGINE *e = NULL;
	void *module = NULL;
	char *pin = NULL;

	if (uri_parse(spec, &uri) == -1 || spec_check(spec) == -1 ||
	    module_open(spec, &module) == -1 ||
	    (pin = secret_read_password(spec->pin_file, PIN_SETTING)) == NULL ||
	    (e = engine_open(spec)) == NULL)
		goto done;
	logged_in_by = getpid();
	key = engine_load_key(e, spec, pin);
	secret_free(pin);
	pin = NULL;
	if (key == NULL) {
		int missing = load_failed(spec);

		/* The census loads the module itself: not while libp11 has it. */
		engine_close(e);
		e = NULL;
		if (missing)
			key_not_found(spec, uri);
		goto done;
	}
	if ((p11 = calloc(1, sizeof(*p11))) == NULL)
		fatal("out of memory");
	p11->engine = e;
	p11->key = key;
	p11->module = module;
	e = NULL;
	module = NULL;
done:
	secret_free(pin);
	engine_close(e);
	if (module != NULL)
		dlclose(module);
	p11_kit_uri_free(uri);
	return p11;
}

EVP_PKEY *
ca_pkcs11_key(const struct ca_pkcs11 *p11)
{
	return p11->key;
}

void
ca_pkcs11_close(struct ca_pkcs11 *p11)
{
	if (p11 == NULL)
		return;
	EVP_PKEY_free(p11->key);
	engine_close(p11->engine);
	if (p11->module != NULL)
		dlclose(p11->module);
	free(p11);
}

/* ---- does the key belong to the certificate? ---------------------------- */

static const char *
key_type(int id)
{
	return id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_RSA ? "RSA" :
	    OBJ_nid2sn(id);
}

/* A SHA-256 signature of data by key.  Returns 0, or -1 (OpenSSL's queue). */
static int
test_sign(EVP_PKEY *key, const unsigned char *data, size_t len,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	*sig = NULL;
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, siglen, data, len) != 1 ||
	    (*sig = OPENSSL_malloc(*siglen)) == NULL ||
	    EVP_DigestSign(ctx, *sig, siglen, data, len) != 1)
		goto done;
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* 1 if sig verifies, 0 if not, -1 if verifying failed (OpenSSL's queue). */
static int
test_verify(EVP_PKEY *pub, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1)
		rc = EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error(); /* a signature that does not verify leaves an entry */
	return rc;
}

int
ca_key_matches_cert(EVP_PKEY *key, X509 *cert, const char *key_name,
    const char *cert_name)
{
	unsigned char data[32], *sig = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	size_t siglen = 0;
	int rc = -1, ok;

	if (pub == NULL) {
		log_ssl("%s: cannot read its public key", cert_name);
		return -1;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_get_base_id(pub)) {
		log_error("%s is an %s key, but %s holds an %s key: they do not "
		    "belong together", key_name, key_type(EVP_PKEY_get_base_id(key)),
		    cert_name, key_type(EVP_PKEY_get_base_id(pub)));
		return -1;
	}
	if (RAND_bytes(data, sizeof(data)) != 1 ||
	    test_sign(key, data, sizeof(data), &sig, &siglen) == -1) {
		log_ssl("%s: cannot make a test signature", key_name);
		goto done;
	}
	if ((ok = test_verify(pub, data, sizeof(data), sig, siglen)) == 1)
		rc = 0;
	else if (ok == 0)
		log_error("%s does not belong to %s: a test signature with the key "
		    "does not verify with the certificate's public key", key_name,
		    cert_name);
	else
		log_error("%s: cannot verify a test signature with its public key",
		    cert_name);
done:
	OPENSSL_free(sig);
	return rc;
}
