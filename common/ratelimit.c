/*
 * ratelimit.c - a token bucket with a grace period (see ratelimit.h).
 */
#include "ratelimit.h"

enum rate_verdict
rate_take(struct rate_bucket *b, double now, double rate)
{
	double cap = rate * RATE_BURST;

	if (b->tokens < 0) {
		b->tokens = cap;
		b->refilled = now;
	}
	/* ev_now() is the wall clock, which can be set back: time that runs
	 * backwards refills nothing and takes nothing away.  (Added to the
	 * bucket, it made tokens negative: a full bucket refused, and on the
	 * next take "not used yet" gave a full burst again.) */
	if (now > b->refilled)
		b->tokens += (now - b->refilled) * rate;
	if (b->tokens > cap)
		b->tokens = cap;
	b->refilled = now;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return RATE_OK;
	}
	/* Over the limit: refusals without a quiet second between them (a
	 * flood gets some through as the bucket refills, and is still a
	 * flood).  A clock set back more than a second starts the grace
	 * again too: counted from a time yet to come, it would last as long
	 * as the clock went back. */
	if (b->over_since == 0 || now - b->last_refused > 1.0 ||
	    b->last_refused - now > 1.0)
		b->over_since = now;
	b->last_refused = now;
	return now - b->over_since > RATE_GRACE_SECS ? RATE_CLOSE :
	    RATE_REFUSED;
}
