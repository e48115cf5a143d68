/*
 * log.c - the one logging idiom of every CoUp process.
 *
 * In the foreground a line on stderr reads
 *	2026-11-26T00:31:02.123Z gateway[1234] warn: message: strerror
 * and once log_to_syslog(1) has been called the same line, without the time
 * (syslog adds its own), goes to syslog(3) under LOG_DAEMON.  The gateway and
 * its room children share one stderr, so every line is assembled in a buffer
 * and written with a single write(2): lines shorter than PIPE_BUF never
 * interleave with another process's lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "timestamp.h"

/* Long enough for any sensible line; longer messages are cut, not lost. */
#define LOG_LINE_MAX	4096

int log_level_current = LOG_LEVEL_INFO;

/* openlog(3) keeps a pointer to the ident, so the name lives here. */
static char	log_procname[64] = "coup";
static int	log_syslog;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int level_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

#define LEVEL_COUNT ((int)(sizeof(level_names) / sizeof(level_names[0])))

static int
clamp_level(int level)
{
	if (level < LOG_LEVEL_ERROR)
		return LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		return LOG_LEVEL_DEBUG;
	return level;
}

void
log_set_procname(const char *procname)
{
	if (procname == NULL || *procname == '\0')
		return;
	snprintf(log_procname, sizeof(log_procname), "%s", procname);
	/* A child renames itself after fork; syslog must learn the new name. */
	if (log_syslog) {
		closelog();
		openlog(log_procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void
log_set_level(int level)
{
	log_level_current = clamp_level(level);
}

void
log_init(const char *procname, int level)
{
	log_set_procname(procname);
	log_set_level(level);
}

void
log_to_syslog(int on)
{
	if (on && !log_syslog)
		openlog(log_procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && log_syslog)
		closelog();
	log_syslog = on != 0;
}

/* Exact names only, the same ones LOG_LEVEL accepts. */
int
log_level_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < LEVEL_COUNT; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level >= LEVEL_COUNT)
		return "unknown";
	return level_names[level];
}

/*
 * Messages often carry text from outside (a room id, a user agent); a
 * newline there would let a client forge a whole log line, so control
 * characters become '?'.
 */
static void
defang(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

/* Append with snprintf semantics, never moving `len` past the buffer. */
static size_t
append(char *buf, size_t len, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
append(char *buf, size_t len, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= size - 1)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return len;
	len += (size_t)n;
	return len < size - 1 ? len : size - 1;
}

static void
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to complain to */
		}
		p += n;
		len -= (size_t)n;
	}
}

void
log_vemit(int level, int with_errno, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];
	char stamp[TIMESTAMP_ISO_LEN];
	size_t mlen, len;
	int n;

	level = clamp_level(level);
	if (level > log_level_current)
		goto out;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		msg[0] = '\0';
		mlen = 0;
	} else if ((size_t)n >= sizeof(msg))
		mlen = sizeof(msg) - 1;		/* cut, as promised above */
	else
		mlen = (size_t)n;
	defang(msg, mlen);
	if (with_errno)
		mlen = append(msg, mlen, sizeof(msg), ": %s",
		    strerror(saved_errno));

	if (log_syslog) {
		syslog(level_priorities[level], "%s: %s", level_names[level],
		    msg);
		goto out;
	}

	timestamp_iso(stamp);
	len = append(line, 0, sizeof(line), "%s %s[%ld] %s: %s", stamp,
	    log_procname, (long)getpid(), level_names[level], msg);
	/* append() always leaves room for this newline. */
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
out:
	errno = saved_errno;
}

void
log_emit(int level, int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, with_errno, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
