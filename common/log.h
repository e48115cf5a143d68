/*
 * log.h - the one logging idiom of every CoUp process.
 *
 * Every line is prefixed with the process name ("gateway", "room video:abc").
 * log_warn() appends strerror(errno); log_warnx() does not.  fatal() and
 * fatalx() log and exit(1).  The level is checked before any formatting, so
 * a disabled log_debug() costs one comparison.  Lines go to stderr in the
 * foreground and to syslog once log_to_syslog() has been called.
 */
#ifndef COUP_LOG_H
#define COUP_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

extern int log_level_current;

void	log_init(const char *procname, int level);
void	log_set_procname(const char *procname);
void	log_set_level(int level);
void	log_to_syslog(int on);
/* "debug" -> LOG_LEVEL_DEBUG etc; -1 if unknown. */
int	log_level_from_name(const char *);
const char *log_level_name(int);

void	log_emit(int level, int with_errno, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_vemit(int level, int with_errno, const char *fmt, va_list ap);

#define LOG_AT(lvl, errn, ...) do {					\
	if (log_level_current >= (lvl))					\
		log_emit((lvl), (errn), __VA_ARGS__);			\
} while (0)

#define log_warn(...)	LOG_AT(LOG_LEVEL_WARN, 1, __VA_ARGS__)
#define log_warnx(...)	LOG_AT(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...)	LOG_AT(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...)	LOG_AT(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
