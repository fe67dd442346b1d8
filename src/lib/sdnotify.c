/*
 * sdnotify.c - sd_notify(3)'s protocol, without libsystemd.
 *
 * Owns: parsing $NOTIFY_SOCKET into an AF_UNIX address (a path, or '@' for
 * the abstract namespace), one SOCK_DGRAM socket kept for the process's
 * life, a message per datagram, and $WATCHDOG_USEC / $WATCHDOG_PID.
 * Never: echoes the environment into the log (it comes from outside), or
 * sends a message systemd could take as another process's (the kernel
 * attaches our credentials; a child never inherits the socket or the
 * variables).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sdnotify.h"

#define MESSAGE_MAX 4096	/* systemd reads up to PIPE_BUF plus; stay small */

struct sdnotify {
	int fd;
	struct sockaddr_un addr;
	socklen_t addr_len;
	uint64_t watchdog_usec;
	int warned;
};

/* The address in text into n->addr: 0, or -1 when it is not one. */
static int
parse_address(struct sdnotify *n, const char *text)
{
	size_t len = strlen(text);

	if ((text[0] != '/' && text[0] != '@') || len < 2 ||
	    len > sizeof(n->addr.sun_path) - (text[0] == '/'))
		return -1;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, text, len);
	if (text[0] == '@')
		n->addr.sun_path[0] = '\0';	/* abstract: no terminating NUL counted */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (text[0] == '/'));
	return 0;
}

/* WATCHDOG_USEC, if meant for this process: WATCHDOG_PID unset, or ours. */
static uint64_t
watchdog_from_env(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end = NULL;
	unsigned long long v;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || end == usec || *end != '\0' || v == 0)
		return 0;
	return v;
}

struct sdnotify *
sdnotify_open(void)
{
	const char *text = getenv("NOTIFY_SOCKET");
	struct sdnotify *n = NULL;

	if (text != NULL && (n = calloc(1, sizeof(*n))) == NULL)
		fatal("out of memory");
	if (n != NULL && parse_address(n, text) == -1) {
		log_warn("NOTIFY_SOCKET is neither an absolute path nor an @abstract "
		    "name of at most %zu bytes; the service manager is not told "
		    "anything", sizeof(n->addr.sun_path) - 1);
		free(n);
		n = NULL;
	}
	if (n != NULL) {
		n->watchdog_usec = watchdog_from_env();
		n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (n->fd == -1) {
			log_warn("cannot make a socket to notify the service manager: %s",
			    strerror(errno));
			free(n);
			n = NULL;
		}
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return n;
}

void
sdnotify_close(struct sdnotify *n)
{
	if (n == NULL)
		return;
	close(n->fd);
	free(n);
}

uint64_t
sdnotify_watchdog_usec(const struct sdnotify *n)
{
	return n == NULL ? 0 : n->watchdog_usec;
}

int
sdnotify_send(struct sdnotify *n, const char *fmt, ...)
{
	char msg[MESSAGE_MAX];
	va_list ap;
	int len;

	if (n == NULL)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg))
		len = (int)strlen(msg);	/* a long STATUS= is cut, not dropped */
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
	    n->addr_len) == len)
		return 0;
	if (!n->warned)
		log_warn("cannot notify the service manager: %s (not said again)",
		    strerror(errno));
	n->warned = 1;
	return -1;
}
