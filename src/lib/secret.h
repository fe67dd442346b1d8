/*
 * secret.h - reading secret files: passwords, passphrases, private keys.
 *
 * Owns: the rule that a secret file must be a regular file that neither group
 * nor others may access, and wiping secrets from memory when done.
 * Never: logs a secret's content, or keeps a copy it did not hand out.
 */
#ifndef CERTSYNC_SECRET_H
#define CERTSYNC_SECRET_H

#include <stddef.h>

/*
 * Refuses a file that group or others may read or write, or that is not a
 * regular file.  `what` names the file's role in the message ("[archive]
 * password_file").  Returns 0, or -1 after logging one line.
 */
int secret_check_file(const char *path, const char *what);

/*
 * secret_check_file() for a caller that reports the problem itself (one line
 * in err, as secret_check_file() would log it), e.g. from a worker thread
 * that hands its error back.  Returns 0, or -1 with err set; logs nothing.
 */
int secret_check_file_err(const char *path, const char *what, char *err,
    size_t errlen);

/*
 * Opens a secret file (no symlinks) and checks it as secret_check_file()
 * does, on the same descriptor: the file checked is the file read.
 * Returns the fd (caller closes), or -1 after logging.
 */
int secret_open(const char *path, const char *what);

/*
 * Reads a password file: the first line, without its line ending.  Checks the
 * file with secret_check_file() first; an empty password is refused.
 * Returns a NUL-terminated string the caller frees with secret_free(), or
 * NULL after logging one line.
 */
char *secret_read_password(const char *path, const char *what);

/* Wipes and frees a string from secret_read_password(); NULL is fine. */
void secret_free(char *secret);

#endif
