/*
 * stats.c - the log-linear latency histogram of stats.h.
 *
 * Values below 2^SUB_BITS ns have a bucket each; above, every power of two
 * is split into 2^(SUB_BITS-1) equal buckets, so the bucket width is under
 * 1/64 of the value wherever it is.
 */
#include "stats.h"

#include <string.h>

#define HALF	(1u << (HIST_SUB_BITS - 1))

static unsigned
bucket_of(uint64_t v)
{
	unsigned msb, shift;

	if (v < (1u << HIST_SUB_BITS))
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - (HIST_SUB_BITS - 1);
	/* v >> shift is in [HALF, 2*HALF): consecutive octaves line up. */
	return shift * HALF + (unsigned)(v >> shift);
}

/* The middle of bucket i, the value reported for samples in it. */
static uint64_t
value_of(unsigned i)
{
	unsigned shift;
	uint64_t lo;

	if (i < (1u << HIST_SUB_BITS))
		return i;
	shift = i / HALF - 1;
	lo = (uint64_t)(i - shift * HALF) << shift;
	return lo + ((1ull << shift) >> 1);
}

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void
hist_add(struct hist *h, uint64_t ns)
{
	unsigned b = bucket_of(ns);

	if (b >= HIST_BUCKETS)
		b = HIST_BUCKETS - 1;
	h->bucket[b]++;
	if (h->count == 0 || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->count++;
	h->sum += (double)ns;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (h->count == 0)
		return 0;
	/* The smallest value with at least q of the samples at or below it. */
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			v = value_of(i);
			/* Never report outside what was seen. */
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

double
hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}
