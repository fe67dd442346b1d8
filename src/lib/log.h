/*
 * log.h - the two logging tiers every certsync program uses.
 *
 * Owns: where log lines go (stderr or syslog) and which levels pass.
 * Never: formats secrets.  Callers pass DNs, uuids and serials; a password,
 * passphrase or key never reaches a log call.
 */
#ifndef CERTSYNC_LOG_H
#define CERTSYNC_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARNING,
	LOG_LVL_NOTICE,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Sets the program name shown in front of every line (default "certsync"). */
void log_init(const char *progname);
/* Sends lines to syslog with the given facility instead of stderr. */
void log_to_syslog(int facility);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error".."debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs the newest OpenSSL error queue entries after the message. */
void log_ssl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs the count of every line log_guard.h still holds back (at exit). */
void log_flush(void);

/* The text of the last error line logged, "" if none: the CA process hands it to its parent as the reason it stopped. */
const char *log_last_error(void);
/* While on, error lines are only kept for log_last_error(): a process
 * that hands its reason to another, which logs it once. */
void log_hold_errors(int on);

/* A broken invariant: logs and exits 70 (EX_SOFTWARE).  Not for bad input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
