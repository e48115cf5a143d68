/*
 * turn.h - ICE servers for a user's calls (turn.c): coturn's REST API
 * credentials (use-auth-secret), username "<expiry>:<userId>", password
 * base64(HMAC-SHA1(secret, username)), made fresh for each ask, so a
 * credential copied out of a page stops working at its expiry.
 */
#ifndef COUP_TURN_H
#define COUP_TURN_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct config;

/* TURN_URLS, TURN_SECRET or TURN_SECRET_FILE, TURN_TTL, checked: -1 with
 * err saying what is wrong.  Again on a reload is not needed: none of
 * them is reloadable. */
int	 turn_configure(const struct config *, char *err, size_t errlen);
/* Whether TURN_URLS is set. */
int	 turn_enabled(void);
/* [{urls: [stun:...]}, {urls: [turn:...], username, credential}] for the
 * user, valid TURN_TTL seconds from now; an empty array without TURN. */
cJSON	*turn_ice_servers(const char *user_id);
void	 turn_free(void);

#endif
