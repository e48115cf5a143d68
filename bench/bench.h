/*
 * bench.h - what the parts of coup-bench share: the clock, the options,
 * the loop helpers and the report.
 */
#ifndef COUP_BENCH_H
#define COUP_BENCH_H

#include <stdint.h>
#include <time.h>

struct ev_loop;

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double
now_s(void)
{
	return (double)now_ns() / 1e9;
}

struct options {
	const char	*url;
	const char	*scenario;
	int		 clients;
	double		 duration;	/* s */
	double		 rate;		/* see usage() per scenario */
	int		 rate_set;
	int		 rooms, members;
	int		 pairs;
	int		 json;
	int		 server_pid;
	double		 max_seconds;	/* hard stop of the whole run */
	int		 sources;	/* source addresses; 0 = let the kernel pick */
	int		 concurrency;	/* connections being set up at once */
	int		 find_max;
	int		 verbose;
};

extern struct options opt;
extern struct ev_loop *loop;

/* Runs the loop until done() is true or `seconds` pass; 0 when done. */
int	 run_until(int (*done)(void), double seconds);
/* Runs the loop for `seconds`. */
void	 run_for(double seconds);

/* The report: figures are added in order, printed by report_print(). */
void	 report_num(const char *key, double v, const char *unit);
void	 report_int(const char *key, long long v, const char *unit);
void	 report_str(const char *key, const char *v);
/* Adds {"p50","p99","p999","max","mean"} in ms under key. */
struct hist;
void	 report_latency(const char *key, const struct hist *h);
/* Starts a nested object (e.g. one step of --find-max); NULL ends it. */
void	 report_begin_array_item(const char *array);
void	 report_end_array_item(void);
void	 report_note(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* scenarios.c */
int	 scenario_run(const char *name);
int	 scenario_known(const char *name);
/* How many clients the scenario will open with the options given. */
int	 scenario_clients(const char *name);

#endif
