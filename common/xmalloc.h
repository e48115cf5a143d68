/*
 * xmalloc.h - the one allocation idiom of every CoUp program.
 *
 * A process that cannot get a few hundred bytes cannot do anything useful
 * for anyone (not even log much), so allocation failure is fatal: it logs
 * and exits, and the supervisor (or the init system, for the gateway)
 * starts a fresh process.  Callers therefore never test the result.
 * cJSON is given the same functions (json_use_xmalloc() in json.h), so an
 * unchecked cJSON_Create* or cJSON_Print* cannot hand back NULL for want of
 * memory.
 */
#ifndef COUP_XMALLOC_H
#define COUP_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t nmemb, size_t size);
/* realloc(p, nmemb * size), failing (fatally) on overflow too. */
void	*xreallocarray(void *, size_t nmemb, size_t size);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
