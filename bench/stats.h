/*
 * stats.h - latency histograms for coup-bench.
 *
 * A log-linear histogram (like HdrHistogram, about 0.8% relative error)
 * so a run of millions of deliveries costs a few kilobytes and a constant
 * time per sample, instead of an array of every sample.
 */
#ifndef COUP_BENCH_STATS_H
#define COUP_BENCH_STATS_H

#include <stdint.h>

#define HIST_SUB_BITS	7
#define HIST_BUCKETS	((64 - HIST_SUB_BITS + 1) * (1 << (HIST_SUB_BITS - 1)) \
			 + (1 << HIST_SUB_BITS))

struct hist {
	uint64_t	count;
	uint64_t	min, max;	/* exact, ns */
	double		sum;		/* ns, for the mean */
	uint64_t	bucket[HIST_BUCKETS];
};

void	 hist_reset(struct hist *h);
void	 hist_add(struct hist *h, uint64_t ns);
/* The value (ns) at quantile q in [0,1]; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double	 hist_mean(const struct hist *h);

#endif
