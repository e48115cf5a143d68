/*
 * ratelimit.h - the token bucket every per-connection rate limit uses
 * (events, CONNECT packets): `rate` a second, bursts of RATE_BURST times
 * that, and a connection that stays over the limit for RATE_GRACE_SECS
 * is one to close.
 */
#ifndef COUP_RATELIMIT_H
#define COUP_RATELIMIT_H

#define RATE_BURST	3	/* bursts of three times the rate */
#define RATE_GRACE_SECS	10.0	/* over the limit this long: close */

struct rate_bucket {
	double	 tokens;	/* < 0: not used yet (full on first use) */
	double	 refilled;
	double	 over_since;	/* 0: not over the limit */
	double	 last_refused;
};

#define RATE_BUCKET_INIT { -1, 0, 0, 0 }

enum rate_verdict {
	RATE_OK = 0,
	RATE_REFUSED = -1,	/* over the limit: refuse this one */
	RATE_CLOSE = -2,	/* over it for RATE_GRACE_SECS: close */
};

/* Take one token at time `now` (seconds). */
enum rate_verdict rate_take(struct rate_bucket *, double now, double rate);

#endif
