/*
 * checks.h - input from outside, checked once, where it enters (checks.c):
 * the payload of each CoUp event (a client's in events.c, a Redis peer's
 * in the cluster), ids, and user objects (the CoUp API's, a peer's).
 * Every limit is bounds.h's, which coup-roomd relies on.
 */
#ifndef COUP_CHECKS_H
#define COUP_CHECKS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "bounds.h"

/* Room names and ids, with their terminating NUL. */
typedef char	check_id_t[BOUND_ID + 1];

/*
 * Is payload (an object) a well-formed `event` (a CoUp event name)?  0,
 * or -1 with a message for BAD_REQUEST in why ("roomId must be ...").
 * chat_max is CHAT_MAX_LENGTH.  Unknown names pass (they are ignored).
 */
int	check_payload(const char *event, const cJSON *payload,
	    size_t chat_max, char *why, size_t whylen);

/*
 * An id field: a non-empty string of at most BOUND_ID bytes without
 * control characters, or an integer a double holds exactly (written in
 * decimal).  0 with out set, or -1 (and a message in why, if not NULL).
 */
int	check_id(const cJSON *payload, const char *field, check_id_t out,
	    char *why, size_t whylen);

/* The same rules for a string that is not in an object (a userId). */
int	check_id_text(const char *s, size_t max);

/* Characters, as the contract counts them: code points of UTF-8. */
size_t	check_chars(const char *);

/*
 * A user object as a Redis peer sends it: an object of at most
 * BOUND_USER_JSON bytes printed.  0 or -1.
 */
int	check_user(const cJSON *user);

/*
 * The user object the CoUp API answered, made safe to hand on: fields
 * longer than BOUND_USER_FIELD (printed) become null, with a warning.
 * Returns the number of fields dropped.
 */
int	check_api_user(cJSON *user);

#endif
