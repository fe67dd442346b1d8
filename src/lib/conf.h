/*
 * conf.h - the certsync configuration: one INI file (conf_ini.c reads its
 * lines).
 *
 * Owns: parsing and validating the file into a struct conf, with defaults.
 * Never: reads secrets.  Secret files (passwords, the CA key) are only named
 * here; secret.c reads them, and checks their permissions, when needed.
 *
 * (Named conf.h because autoconf's generated header is config.h.)
 */
#ifndef CERTSYNC_CONF_H
#define CERTSYNC_CONF_H

#include <stddef.h>

enum key_alg { KEY_ALG_RSA, KEY_ALG_EC };

/* One of rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256, ec:P-384. */
struct key_spec {
	enum key_alg alg;
	int bits;              /* RSA modulus size; 0 for EC */
	const char *curve;     /* "P-256" or "P-384" for EC; NULL for RSA */
	const char *name;      /* the spelling in the file, e.g. "rsa:2048" */
};

enum cert_mode { CERT_MODE_SEPARATE, CERT_MODE_DUAL };
enum p12_profile { P12_PROFILE_AES256, P12_PROFILE_LEGACY };
enum dir_flavor { DIR_FLAVOR_OPENLDAP, DIR_FLAVOR_AD, DIR_FLAVOR_389DS };
enum disable_policy { DISABLE_REVOKE, DISABLE_UNPUBLISH };
enum log_dest { LOG_DEST_STDERR, LOG_DEST_SYSLOG };

/* [reconcile] max_revoke: a share of the known users ("5%": percent = 1,
 * value = 500, in hundredths of a percent) or a count ("20": percent = 0,
 * value = 20). */
struct threshold {
	int percent;
	int value;
};

/*
 * Every path is absolute after loading: a relative path in the file is taken
 * relative to the directory holding the file.  Unset optional strings are
 * NULL.  All strings are owned by the struct and freed by conf_free().
 */
struct conf {
	char *path;                       /* the file that was read (absolute) */
	char *text;                       /* its bytes as read (what a restarted */
	size_t text_len;                  /* certsync-ca is given: see conf_load_fd) */

	struct {
		char *uri;                /* default "ldapi:///" */
		char *base;               /* search base; NULL until set */
		char *scope;              /* "sub" (default) or "one" */
		char *filter;             /* default "(&(objectClass=inetOrgPerson)(mail=*))";
		                             ad: users with mail or an SMTP proxyAddress */
		char *bind_dn;            /* NULL: anonymous or SASL EXTERNAL */
		char *bind_password_file; /* secret file */
		char *tls_ca_file;        /* CA bundle for the server's certificate */
		int starttls;             /* default 0 */
		int tls_verify;           /* default 1: the server's certificate is checked */
		char *tls_cert_file;      /* client certificate, for SASL EXTERNAL over TLS */
		char *tls_key_file;       /* its key (a secret file) */
		char *sasl_mech;          /* "EXTERNAL", "GSSAPI", or NULL: simple or anonymous bind */
		char *keytab;             /* GSSAPI: the client keytab (a secret file) */
		enum dir_flavor flavor;   /* default openldap; ad; 389ds (389 Directory Server:
		                             the id is nsUniqueId) */
		char *mail_attribute;     /* default "mail": primary address, more values are aliases */
		char *alias_attribute;    /* more addresses; default none (NULL); ad: proxyAddresses */
		char *display_name_attribute; /* default "displayName" */
		char *given_name_attribute;   /* default "givenName" */
		char *surname_attribute;      /* default "sn" */
		char *uid_attribute;          /* default "uid"; ad: sAMAccountName */
		char *source;             /* auto, syncrepl, dirsync, usn, poll;
		                             default syncrepl (openldap), auto (ad) */
		int poll_interval;        /* seconds, default 60 */
		int full_reconcile_hours; /* default 24; 0 turns it off */
		int network_timeout;      /* seconds, default 10 */
		int reconnect_max;        /* seconds, backoff ceiling, default 60 */
		int idle_probe;           /* seconds of silence on the watching connection
		                             before it is probed, default 60; 0: never */
	} directory;

	struct {
		int on_address_change;    /* default 1 */
		int on_name_change;       /* default 1 */
		int ca_change_per_minute; /* reissues after a CA change, default 10 */
		enum disable_policy on_disable; /* default revoke */
		struct threshold max_revoke; /* the safety catch; default 5% */
		int hold_days;            /* on hold before final; default 7, 0: none */
	} reconcile;

	struct {
		char *delivery_hook;      /* command run when new keys are ready */
		int delivery_timeout;     /* seconds, default 60 */
		char *pid_file;           /* optional */
		int workers;              /* threads for CPU work; default 0: one per CPU */
		int retry_max;            /* seconds, longest wait between two attempts
		                             of a failing job, default 3600 */
	} daemon;

	struct {
		char *certificate;        /* required: the CA certificate (PEM) */
		char *key;                /* required: the CA private key (PEM file, made
		                             absolute), or a "pkcs11:" URI (kept as is) */
		char *passphrase_file;    /* secret file; NULL: key is not encrypted */
		char *pin_file;           /* secret file: the token's user PIN (pkcs11 key) */
		char *pkcs11_module;      /* NULL: the engine's default (p11-kit-proxy) */
		char *audit_log;          /* the CA process's own log of every signature,
		                             default /var/lib/certsync/ca-audit.log */
		char *user;               /* the CA process's user when started as root,
		                             default "certsync" */
		int max_signatures_per_minute; /* the damage limit, default 30000 */
	} ca;

	struct {
		struct key_spec key;      /* key_type, default rsa:2048 */
		int key_pool;             /* keys made ahead, default 256, 0..10000 (0: none) */
		enum cert_mode mode;      /* "separate" (default) or "dual" */
		int validity_days;        /* default 365, 1..3650 */
		int backdate_minutes;     /* default 5, 0..1440 */
		char *subject;            /* template, default "CN=%{name}" */
		int non_repudiation;      /* default 0 */
		char *crl_url;            /* CRL distribution point URI, optional */
		char *aia_url;            /* AIA caIssuers URI, optional */
		char *digest;             /* "sha256" (default), "sha384", "sha512" */
		int renew_before_days;    /* default 30, 0..validity_days-1 */
	} certificates;

	struct {
		char *directory;          /* default /var/lib/certsync/archive */
		char *password_file;      /* secret file; required unless recovery_agents is set */
		enum p12_profile profile; /* "aes256" (default) or "legacy" */
		int iterations;           /* PBKDF2 and MAC iterations, default 600000, 1000..10000000 */
		char *recovery_agents;    /* glob(3) of agent certificates; NULL: password-file mode */
		int recovery_quorum;      /* M agents needed, default 1, 1..255; <= the number
		                             of agents, checked when they load (pki/archive.c) */
	} archive;

	struct {
		char *directory;          /* default /var/lib/certsync/keystore */
		char *password_file;      /* default: [archive] password_file; required
		                             when that is unset (recovery-agent mode) */
	} keystore;

	struct {
		char *certificate_attribute; /* default by flavor: "userCertificate;binary" (openldap), "userCertificate" (ad) */
		char *smime_attribute;       /* default "userSMIMECertificate"; "none" in the file turns it off (NULL) */
		int max_values;              /* default 15, 1..15 */
	} publish;

	struct {
		char *path;               /* DER CRL, default /var/lib/certsync/crl/ca.crl */
		char *pem_path;           /* optional PEM copy */
		int next_update_hours;    /* default 168, 1..8760 */
	} crl;

	struct {
		char *database;           /* default /var/lib/certsync/state.db */
	} state;

	struct {
		char *listen;             /* "ADDRESS:PORT ..." (IPv6 as [::1]:PORT);
		                             NULL: no HTTP listener (default) */
		int revocation_delay_max; /* seconds a revocation may wait for its
		                             CRL before /healthz fails, default 600 */
		int timeout;              /* seconds a connection may stay silent, default 10 */
	} http;

	struct {
		enum log_dest destination; /* "stderr" (default) or "syslog" */
		int level;                 /* enum log_level, default notice */
		int facility;              /* syslog facility, default LOG_DAEMON */
	} log;
};

/*
 * Reads and validates the file at path.  On success returns 0 and sets *out
 * (free with conf_free).  On any problem logs one line per problem with
 * log_error() in the form
 *     PATH: [section] key: what is wrong
 * (or "PATH: line N: ..." for a syntax error, "PATH: cannot read: ..." for a
 * missing file), sets *out to NULL and returns 78 (EX_CONFIG).
 * It reports every problem it finds, not only the first.
 */
int conf_load(const char *path, struct conf **out);

/*
 * The same, but the text is read from fd (from where it stands) while
 * path, which must be absolute, names it in messages and places relative
 * names in it: how certsync-ca is given the configuration the agent runs
 * on (its conf->text), not whatever the file holds by the time it starts.
 */
int conf_load_fd(const char *path, int fd, struct conf **out);
void conf_free(struct conf *conf);

/* Parses a key_type spelling into spec; returns 0, or -1 if unknown. */
int conf_parse_key_spec(const char *text, struct key_spec *spec);

#define CONF_LISTEN_MAX 8	/* addresses in [http] listen */
#define CONF_HOST_MAX 46	/* INET6_ADDRSTRLEN */

/*
 * The i-th address of an [http] listen value (addresses are separated by
 * spaces): "127.0.0.1:8080" or "[::1]:8080", an IP literal (no name to
 * resolve) and a port 1..65535, into host (the literal, without brackets)
 * and *port.  Returns 1, 0 when there is no i-th address, or -1 when it
 * is malformed (*why then says how).
 */
int conf_listen_item(const char *value, int i, char host[CONF_HOST_MAX], int *port,
    const char **why);

/* Which users the directory is asked for: "base=B scope=S filter=F", to
 * tell a changed [directory] base, scope or filter from the one a stored
 * checkpoint was read with.  The caller frees it. */
char *conf_scope_text(const struct conf *conf);

#endif
