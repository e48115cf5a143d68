/*
 * figures.h - memory figures from /proc, read in one place (figures.c)
 * and cached: /metrics and coupctl may be asked as often as anyone likes
 * (/metrics needs no login), so no scrape opens a file.  The room
 * processes' figures are refreshed by the supervisor's timer, a slice of
 * the processes each tick, so that ten thousand rooms cost ten thousand
 * small reads every FIGURES_REFRESH_SECS, spread out, never in one go.
 */
#ifndef COUP_FIGURES_H
#define COUP_FIGURES_H

#include <sys/types.h>

/* How old the gateway's own cached figure may be, in seconds. */
#define FIGURES_MAX_AGE		1.0
/* Every room process's figure is read again within this many seconds, */
#define FIGURES_REFRESH_SECS	5.0
/* in this many ticks, each reading one slice of the processes. */
#define FIGURES_SLICES		10

/* Resident bytes of a process (0 if it is gone), read now. */
long long	figures_rss(pid_t);
/* The gateway's own, cached; now: ev_now(). */
long long	figures_self_rss(double now);

#endif
