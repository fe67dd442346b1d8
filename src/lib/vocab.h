/*
 * vocab.h - the words every stage shares about a certificate.
 *
 * Owns: the certificate kinds (and their spelling in the store, the logs and
 * the key files' names), how an archive file is protected, and the subject
 * template's variables.  They are
 * here, below every stage, so that the identity, the store and the issuer
 * can all speak of them without one importing another.
 * Never: grows behaviour.  A word goes here only when two stages that must
 * not know each other both need it.
 */
#ifndef CERTSYNC_VOCAB_H
#define CERTSYNC_VOCAB_H

enum cert_kind { CERT_KIND_SIGNING, CERT_KIND_ENCRYPTION, CERT_KIND_DUAL };

/* "signing", "encryption", "dual"; and back (-1 if unknown). */
const char *cert_kind_name(enum cert_kind kind);
int cert_kind_parse(const char *name);

/*
 * How one archive file is protected: by the password in [archive]
 * password_file, or by a random password of its own that only recovery
 * agents can rebuild (pki/kra.h; its bundle lies beside the file and in the
 * store).  Each archive row records which, so switching modes never
 * strands an older file.
 */
enum archive_protection { ARCHIVE_PASSWORD_FILE, ARCHIVE_RECOVERY_AGENTS };

/* "password-file", "recovery-agents"; and back (-1 if unknown). */
const char *archive_protection_name(enum archive_protection p);
int archive_protection_parse(const char *name);

/* Values for the subject template's %{...} variables; NULL means empty. */
struct subject_vars {
	const char *name;   /* display name */
	const char *given;
	const char *sn;
	const char *mail;   /* primary address */
	const char *uid;
};

#endif
