/*
 * supervisor_int.h - what the room-process mechanism shares with the
 * pool of processes started ahead of need: supervisor.c (one process's
 * life) and spares.c (the pool, above it).  supervisor.c calls the pool
 * only through the hooks spares_attach() registers (struct spare_pool),
 * so the two never call each other.  Not for the rest of the gateway,
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

/* What the mechanism asks of the pool (spares.c). */
struct spare_pool {
	/* A ready spare, taken out of the pool; NULL if none. */
	struct child	*(*take)(struct supervisor *);
	/* Spare sp's process becomes c's (sp is freed). */
	void		 (*adopt)(struct child *c, struct child *sp);
	/* A spare's process is gone (c is freed). */
	void		 (*died)(struct child *);
	/* A spare could not be started: try again after that long. */
	void		 (*retry)(struct supervisor *, double after);
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
	const struct spare_pool	*pool;		/* NULL: no pool */
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


#endif
