/*
 * procstat.h - the server's memory and CPU, read from /proc.
 *
 * The server is a process tree (coup-gateway and its coup-roomd children;
 * or one node process), so both figures are summed over the pid given with
 * --server-pid and all its descendants.
 */
#ifndef COUP_BENCH_PROCSTAT_H
#define COUP_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct tree_sample {
	int		ok;		/* 0 when the pid could not be read */
	int		processes;	/* the pid and its live descendants */
	uint64_t	rss_bytes;	/* sum of VmRSS */
	uint64_t	cpu_ticks;	/* utime+stime of all, + reaped children's */
	double		t;		/* CLOCK_MONOTONIC seconds of the sample */
};

int	 tree_sample(pid_t pid, struct tree_sample *out);
/* % of one core used between two samples. */
double	 tree_cpu_percent(const struct tree_sample *a,
	    const struct tree_sample *b);

#endif
