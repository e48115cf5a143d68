/*
 * cookie.h - the cookies of a request's Cookie header that one cares
 * about, and none of the others: what is kept of a handshake for
 * authenticating by session (the gateway's AUTH_SOURCE).  Pure; no I/O.
 */
#ifndef COUP_COOKIE_H
#define COUP_COOKIE_H

#include <stddef.h>

/*
 * From header ("a=1; b=2"), the cookies whose names are in `names` (a
 * comma-separated list, exact names), as a header value again
 * ("b=2; c=3"), in a string of its own (free it); NULL when none is
 * there, when a kept one holds a control character, or when they are
 * more than max bytes together.
 */
char	*cookie_filter(const char *header, const char *names, size_t max);

#endif
