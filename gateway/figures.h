/*
 * figures.h - memory figures from /proc, read in one place (figures.c)
 * and cached: /metrics and coupctl may be asked as often as anyone likes
 * (/metrics needs no login), and a room's figure is read at most once a
 * second, whatever the number of rooms and scrapes.
 */
#ifndef COUP_FIGURES_H
#define COUP_FIGURES_H

#include <sys/types.h>

/* How old a cached figure may be, in seconds. */
#define FIGURES_MAX_AGE	1.0

/* Resident bytes of a process (0 if it is gone), read now. */
long long	figures_rss(pid_t);
/* The gateway's own, cached; now: ev_now(). */
long long	figures_self_rss(double now);

#endif
