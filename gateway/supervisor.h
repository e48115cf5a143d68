/*
 * supervisor.h - the room processes, as a mechanism (supervisor.c, the
 * life of one process; spares.c, those started ahead of need;
 * deliveryq.c, what goes to each).
 *
 * Every room has one coup-roomd, started on its first join, watched,
 * restarted with its members when it dies, throttled when it keeps dying
 * at start, retired when its room is idle.  The supervisor knows nothing
 * of clients or rooms: the owner of a process (the routing table) is an
 * opaque pointer, and what the supervisor must learn or tell goes through
 * the callbacks the owner gives it (struct supervisor_ops).
 */
#ifndef COUP_SUPERVISOR_H
#define COUP_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "deliveryq.h"

struct child;
struct ipc_send_msg;
struct supervisor;

/* processed: 1, 0 (never will be), -1 (dropped as poison). */
typedef dq_done_cb	child_done_cb;

struct supervisor_ops {
	/* The room's process sent a packet for some of its connections. */
	void	(*deliver)(void *room, const struct ipc_send_msg *);
	/* A new process for the room: push every member's IPC_JOIN body,
	 * silent (IPC_M_REPLAY), to bring it up to date. */
	void	(*replay)(void *room, void (*push)(void *arg, uint64_t conn,
		    const void *body, size_t len), void *arg);
	/* The room's process keeps dying at start: the room is given up
	 * (its members told, dropped; the room freed, which retires the
	 * child).  The child may be gone when this returns. */
	void	(*gave_up)(void *room);
	/* A message processes died on was dropped: its sender (conn) to be
	 * told; for a JOIN, the member to be taken out. */
	void	(*dropped)(void *room, uint16_t type, uint64_t conn);
};

struct supervisor_opts {
	const char	*roomd_path;	/* "" or NULL: next to us, else libexec */
	int		 syslog;	/* room processes log there too */
};

struct supervisor *supervisor_new(struct ev_loop *,
		    const struct supervisor_opts *,
		    const struct supervisor_ops *);
void		 supervisor_free(struct supervisor *);

/* A process for room `name` (owner: the ops' room); NULL while the room
 * is cooling down after being given up. */
struct child	*child_start(struct supervisor *, const char *name,
		    void *room);
/* Queue or send a message for the room's process; -1 if unavailable. */
int		 child_send(struct child *, uint16_t type, const void *body,
		    size_t len);
/* The same, and tell done when it has been handled (or never will be). */
int		 child_send_cb(struct child *, uint16_t type, const void *body,
		    size_t len, child_done_cb done, void *arg);
/* The room is empty and idle (or gone): the process exits; the owner
 * forgets it. */
void		 child_retire(struct child *);
/* Stop the process (and restart it, with its members). */
void		 child_restart(struct child *);
pid_t		 child_pid(const struct child *);
unsigned	 child_restarts(const struct child *);
/* Its resident memory, as last read (figures.h: no file is opened). */
long long	 child_rss(struct child *);
int		 child_available(const struct child *);
/* Running, with nothing sent to it unhandled: its output is all out. */
int		 child_quiet(const struct child *);

struct supervisor_stats {
	unsigned		 processes;	/* live */
	unsigned long long	 started;
	unsigned long long	 restarts;	/* after a death */
	unsigned long long	 deaths;
	unsigned long long	 killed;	/* by us: malformed, stuck */
	unsigned long long	 poisoned;	/* messages processes died on */
	double			 start_ms_last;	/* fork to HELLO */
	double			 start_ms_max;
	long long		 rss_bytes;	/* of the live processes */
	unsigned		 spares;	/* started ahead of need */
	unsigned		 spares_ready;	/* of which said HELLO */
	unsigned long long	 spares_used;	/* taken by a room */
	long long		 spare_rss_bytes;
};
void		 supervisor_stats(struct supervisor *, struct supervisor_stats *);
/* coupctl log-level or a reload: tell every room process. */
void		 supervisor_set_log_level(struct supervisor *, int level);

#endif
