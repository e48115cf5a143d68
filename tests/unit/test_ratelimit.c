/*
 * test_ratelimit.c - the token bucket of common/ratelimit.h, with a fake
 * clock: a burst of RATE_BURST times the rate, then refusals; the refill
 * over time, never beyond the burst; a rate of 0 and fractional rates;
 * the grace period before RATE_CLOSE; and a clock that jumps far ahead or
 * back (ev_now() is the wall clock) neither overflows the bucket nor
 * hands out a burst.
 */
#include <math.h>
#include <stddef.h>

#include "ratelimit.h"
#include "tap.h"

/* Takes until the first refusal, at most `max`: how many were allowed. */
static int
take_all(struct rate_bucket *b, double now, double rate, int max)
{
	int n = 0;

	while (n < max && rate_take(b, now, rate) == RATE_OK)
		n++;
	return n;
}

static void
test_burst(void)
{
	struct rate_bucket b = RATE_BUCKET_INIT;

	/* Rate 4: a burst of 12, and one token every 0.25 s (exact in
	 * binary, so no rounding decides a test). */
	ok(b.tokens < 0, "a new bucket is not used yet");
	is_int(take_all(&b, 1000.0, 4, 100), 4 * RATE_BURST,
	    "a new bucket is full: a burst of RATE_BURST times the rate");
	is_int(rate_take(&b, 1000.0, 4), RATE_REFUSED, "the next is refused");
	is_int(rate_take(&b, 1000.0, 4), RATE_REFUSED,
	    "and the next, at the same time");
	ok(b.tokens >= 0 && b.tokens < 1, "a refusal takes nothing");
}

/*
 * A scenario: takes at given times on one bucket, each step as many as
 * are allowed (at most `max`, so max 1 is a single take).
 */
struct step {
	double		 now;
	double		 rate;
	int		 max;
	int		 allowed;
	const char	*what;
};

static void
run(struct rate_bucket *b, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		is_int(take_all(b, s[i].now, s[i].rate, s[i].max),
		    s[i].allowed, s[i].what);
}

#define RUN(b, steps)	run((b), (steps), sizeof(steps) / sizeof((steps)[0]))

static void
test_refill(void)
{
	static const struct step steps[] = {
		{ 1000.0, 4, 100, 12, "burst of 12 at rate 4" },
		{ 1000.125, 4, 1, 0, "half a token later: refused" },
		{ 1000.25, 4, 1, 1, "one token later: allowed" },
		{ 1000.25, 4, 1, 0, "only the one" },
		{ 1001.25, 4, 100, 4, "a second later: 4 more" },
		{ 1100.0, 4, 100, 12,
		    "after a long pause: the burst again, not more" },
	};
	struct rate_bucket b = RATE_BUCKET_INIT;

	RUN(&b, steps);
	/* A steady pace at the rate is never refused. */
	int refused = 0;
	for (int i = 1; i <= 400; i++)
		refused += rate_take(&b, 1100.0 + i * 0.25, 4) != RATE_OK;
	is_int(refused, 0, "4 a second for 100 s: none refused");
	is_int(take_all(&b, 1200.0, 4, 100), 0,
	    "and nothing saved up meanwhile");
}

static void
test_rates(void)
{
	/* Rate 0 (callers never pass it: 0 means no limit to them): the
	 * bucket holds nothing, everything is refused. */
	static const struct step zero[] = {
		{ 1000.0, 0, 1, 0, "rate 0: the first is refused" },
		{ 5000.0, 0, 10, 0, "rate 0: refused, even later" },
	};
	/* Rate 0.5: a burst of 1.5, so one, then one every 2 s. */
	static const struct step half[] = {
		{ 1000.0, 0.5, 10, 1, "rate 0.5: a burst of one" },
		{ 1000.5, 0.5, 1, 0, "rate 0.5: refused 0.5 s later" },
		{ 1001.0, 0.5, 1, 1,
		    "rate 0.5: the half token left and one second make one" },
		{ 1003.0, 0.5, 10, 1, "rate 0.5: one 2 s later" },
	};
	/* The largest configurable rate (RATE_LIMIT_EVENTS 1000000). */
	static const struct step most[] = {
		{ 1000.0, 1e6, 4000000, 3000000, "rate 1e6: a burst of 3e6" },
		{ 1000.5, 1e6, 4000000, 500000,
		    "rate 1e6: 5e5 in half a second" },
	};
	/* The rate lowered between two takes (a SIGHUP): what is left is
	 * capped at the new burst. */
	static const struct step lowered[] = {
		{ 1000.0, 100, 1, 1, "rate 100: one taken" },
		{ 1000.0, 1, 1000, 3,
		    "then rate 1: only its burst of 3 is left" },
	};
	struct rate_bucket b0 = RATE_BUCKET_INIT, b1 = RATE_BUCKET_INIT,
	    b2 = RATE_BUCKET_INIT, b3 = RATE_BUCKET_INIT;

	RUN(&b0, zero);
	RUN(&b1, half);
	RUN(&b2, most);
	RUN(&b3, lowered);
}

static void
test_clock_jumps(void)
{
	static const struct step ahead[] = {
		{ 1000.0, 4, 100, 12, "drained at t=1000" },
		{ 1e15, 4, 100, 12,
		    "a jump far ahead (t=1e15): the burst, not more" },
	};
	/* (1e308 - 1e15) * 1e6 is infinite: capped all the same. */
	static const struct step farther[] = {
		{ 1e308, 1e6, 10000000, 3000000,
		    "t=1e308 at rate 1e6: the burst, no more" },
	};
	/* The wall clock set back: time that runs backwards refills
	 * nothing and takes nothing away. */
	static const struct step back[] = {
		{ 2000.0, 4, 100, 12, "drained at t=2000" },
		{ 1990.0, 4, 1, 0, "clock set back 10 s: still refused" },
		{ 1990.0, 4, 100, 0, "and no new burst right after" },
		{ 1990.25, 4, 100, 1,
		    "the refill goes on from the new time: a token 0.25 s later" },
	};
	static const struct step back_full[] = {
		{ 3000.0, 4, 1, 1, "one taken at t=3000" },
		{ 2000.0, 4, 100, 11,
		    "clock set back 1000 s: the 11 tokens left are still there" },
		{ 1e-300, 4, 100, 0, "set back to almost 0: nothing given" },
	};
	struct rate_bucket b = RATE_BUCKET_INIT, b1 = RATE_BUCKET_INIT,
	    b2 = RATE_BUCKET_INIT;

	RUN(&b, ahead);
	ok(isfinite(b.tokens) && b.tokens >= 0 && b.tokens <= 12,
	    "the bucket stays within [0, burst]");
	RUN(&b, farther);
	ok(isfinite(b.tokens), "the bucket is still a number");
	RUN(&b1, back);
	RUN(&b2, back_full);
}

/*
 * One take every `step` seconds from `from` while before `to`: the time of
 * the first RATE_CLOSE (0: none), with how many were allowed and when the
 * first refusal came.
 */
static double
flood(struct rate_bucket *b, double from, double to, double step,
    double rate, int *allowed, double *first_refused)
{
	*allowed = 0;
	*first_refused = 0;
	for (double t = from; t < to; t += step) {
		switch (rate_take(b, t, rate)) {
		case RATE_OK:
			++*allowed;
			break;
		case RATE_REFUSED:
			if (*first_refused == 0)
				*first_refused = t;
			break;
		case RATE_CLOSE:
			return t;
		}
	}
	return 0;
}

static void
test_grace(void)
{
	struct rate_bucket b = RATE_BUCKET_INIT;
	double closed, first;
	int allowed;

	/* Refused without a quiet second between refusals: RATE_CLOSE once
	 * that has lasted more than RATE_GRACE_SECS. Rate 0: all refused. */
	closed = flood(&b, 100.0, 100.0 + RATE_GRACE_SECS + 0.25, 0.5, 0,
	    &allowed, &first);
	ok(closed == 0 && first == 100.0,
	    "refused, not closed, for the grace period");
	is_int(rate_take(&b, 100.0 + RATE_GRACE_SECS + 0.5, 0), RATE_CLOSE,
	    "past it: RATE_CLOSE");
	is_int(rate_take(&b, 100.0 + RATE_GRACE_SECS + 0.75, 0), RATE_CLOSE,
	    "and RATE_CLOSE after that");

	/* A flood that gets some through as the bucket refills is still a
	 * flood: rate 1, one every 0.25 s. */
	b = (struct rate_bucket)RATE_BUCKET_INIT;
	closed = flood(&b, 500.0, 600.0, 0.25, 1, &allowed, &first);
	ok(allowed > 3 + 5, "a flood at 4 a second gets some through");
	ok(closed > first + RATE_GRACE_SECS &&
	    closed <= first + RATE_GRACE_SECS + 0.5,
	    "and is closed once over the limit for the grace period");

	/* A quiet second between refusals starts the grace anew. */
	b = (struct rate_bucket)RATE_BUCKET_INIT;
	closed = flood(&b, 100.0, 106.5, 1.0, 0, &allowed, &first);
	ok(closed == 0, "refused for 6 s");
	closed = flood(&b, 107.5, 107.5 + RATE_GRACE_SECS + 0.25, 0.5, 0,
	    &allowed, &first);
	ok(closed == 0,
	    "then, after 1.5 s without a take, refused for a new grace period");
	is_int(rate_take(&b, 107.5 + RATE_GRACE_SECS + 0.5, 0), RATE_CLOSE,
	    "and closed past it");

	/* The clock set back a day in a flood: the grace starts again from
	 * the new time, it is not put off by the size of the jump. */
	b = (struct rate_bucket)RATE_BUCKET_INIT;
	flood(&b, 100000.0, 100005.0, 0.5, 0, &allowed, &first);
	closed = flood(&b, 10000.0, 10100.0, 0.5, 0, &allowed, &first);
	ok(closed > 10000.0 + RATE_GRACE_SECS &&
	    closed <= 10000.0 + RATE_GRACE_SECS + 0.5,
	    "clock set back a day in a flood: closed after the grace period, "
	    "counted from the new time");
}

int
main(void)
{
	test_burst();
	test_refill();
	test_rates();
	test_clock_jumps();
	test_grace();
	return tap_done();
}
