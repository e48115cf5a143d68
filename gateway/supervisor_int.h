/*
 * supervisor_int.h - what the two halves of the room-process mechanism
 * share: supervisor.c (one process's life) and spares.c (the pool of
 * processes started ahead of need).  Not for the rest of the gateway,
 * which sees supervisor.h only.
 */
#ifndef COUP_SUPERVISOR_INT_H
#define COUP_SUPERVISOR_INT_H

#include "bounds.h"
#include "supervisor.h"

/* Dying within this many seconds of starting counts as failing to start. */
#define CHILD_QUICK_DEATH_SECS	5.0
/* Tries before a room (or the spare pool) gives up, and for how long. */
#define ROOM_START_ATTEMPTS	3
#define ROOM_COOLDOWN_SECS	10.0
#define COOLDOWNS		32

enum child_state {
	C_STARTING,	/* forked, waiting for HELLO */
	C_READY,
	C_WAITING,	/* dead, restart scheduled */
	C_RETIRING,	/* told to exit; the room is gone */
};

struct child {
	struct supervisor	*sup;
	void			*room;		/* the owner's; NULL: retiring */
	char			*name;
	pid_t			 pid;
	struct ipc_chan		*chan;
	enum child_state	 state;
	struct dq		 q;		/* what goes to it */
	ev_child		 reaper;
	int			 reaped;	/* waiting for EOF to finish */
	int			 status;	/* from waitpid */
	ev_timer		 timer;		/* HELLO timeout / restart */
	double			 spawned_at;
	int			 quick_deaths;
	unsigned		 restarts;
	int			 asked_restart;	/* an admin's, not a crash */
	int			 spare;		/* no room yet */
	long long		 rss;		/* figures.c's, refreshed by
						 * the supervisor's timer */
	struct child		*next;
};

struct cooldown {
	char		 name[BOUND_ROOM_NAME + 1];	/* the whole name */
	double		 until;
};

struct supervisor {
	struct ev_loop		*loop;
	struct supervisor_ops	 ops;
	char			*roomd;		/* binary */
	int			 syslog;
	struct child		*children;
	struct child		*spares;	/* starting, ready or retiring */
	unsigned		 spares_want;
	ev_timer		 refill;	/* tops the spares up */
	int			 spare_fails;	/* quick deaths in a row */
	double			 spares_paused_until;
	ev_timer		 figures;	/* refreshes children's rss */
	unsigned		 figures_tick;
	struct cooldown		 cool[COOLDOWNS];
	unsigned		 ncool;
	struct supervisor_stats	 st;
};

/* supervisor.c */
struct child	*child_new(struct supervisor *, const char *name,
		    struct child **list);
void		 child_free(struct child *);
void		 spawn(struct child *);
void		 describe_status(int status, char *out, size_t n);

/* spares.c */
struct child	*spare_take(struct supervisor *);
void		 spare_adopt(struct child *, struct child *spare);
void		 spare_died(struct child *);
void		 spares_refill(struct supervisor *, double after);
void		 spares_init(struct supervisor *);

#endif
