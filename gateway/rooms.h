/*
 * rooms.h - the gateway's routing table and its room processes.
 *
 * clients.c: every authenticated socket is a struct client with a
 *   connection id (what room processes call it), its user, and the rooms
 *   it is in.
 * rooms.c: every live room is a struct room with its members (struct
 *   membership links a client and a room, with the media flags and join
 *   time a restarted room process needs to get the member back).
 * supervisor.c: every room has one coup-roomd process (struct child),
 *   started on the first join, watched, restarted and replayed when it
 *   dies, throttled when it keeps dying, retired when the room is idle.
 */
#ifndef COUP_ROOMS_H
#define COUP_ROOMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "gateway.h"
#include "event_queue.h"
#include "ratelimit.h"

struct child;
struct room;
struct sio_socket;
struct coupapi_req;

enum room_kind { ROOM_VIDEO, ROOM_STUDY };

/* processed: 1 once the room's process handled a message, 0 if it never
 * will (the room was given up or closed), -1 if it was dropped because
 * room processes died on it (supervisor.c). */
typedef void	(*child_done_cb)(void *arg, int processed);

struct membership {
	struct room		*room;
	struct client		*client;
	struct membership	*cnext;		/* the client's list */
	unsigned		 idx;		/* in room->members */
	uint8_t			 flags;		/* IPC_M_* media flags */
	uint8_t			 replay_tries;	/* supervisor.c's poison count */
	uint8_t			 typing;	/* a study's: last said */
	long long		 joined_at;	/* ms since epoch */
};

/* A membership check in flight for a client (cancelled if it leaves). */
struct pending_check {
	struct pending_check	*next;
	struct client		*client;
	struct coupapi_req	*req;
	void			*ctx;		/* events.c's */
};

/* A user's connections and the rooms they are in (USER_ROOMS_MAX). */
struct user_rooms {
	struct room		*room;
	unsigned		 refs;		/* its connections in it */
};

struct user {
	char			*id;
	unsigned		 nclients;
	struct user_rooms	*rooms;		/* distinct rooms */
	unsigned		 nrooms, cap;
};

struct client {
	struct gateway		*gw;
	struct sio_socket	*sock;
	uint64_t		 conn;
	char			*user_id;
	struct user		*owner;		/* the user's record */
	cJSON			*user;		/* {id,name,email,avatar} */
	char			*user_json;	/* the same, printed once */
	struct membership	*rooms;		/* every room it is in */
	struct membership	*video;		/* its video room, if any */
	struct pending_check	*checks;
	struct client		*hnext;		/* by conn */
	struct rate_bucket	 rate;		/* events.c */
	/* When the last `error` of each code went (events.c: one a second). */
#define CLIENT_ERROR_CODES	8
	double			 error_at[CLIENT_ERROR_CODES];
	struct equeue		 eq;		/* its events kept for later */
	/* chat ids: unique even within one millisecond */
	long long		 last_id_ms;
	unsigned		 id_seq;
};

struct room {
	struct gateway		*gw;
	char			*name;		/* "video:abc" */
	const char		*id;		/* after the colon */
	enum room_kind		 kind;
	struct membership	**members;
	unsigned		 count, cap;
	struct child		*child;
	ev_timer		 idle;
	struct room		*hnext;
};

/* ---- clients.c ---- */
struct client	*client_find(struct gateway *, uint64_t conn);
struct client	*client_by_socket(struct gateway *, const char *socket_id);
struct client	*client_of(struct sio_socket *);
/* The `error` event to the client, at most one a second per code. */
void		 client_error(struct client *, const char *code,
		    const char *message);
/* The socket is gone: leave every room, cancel checks, free. */
void		 client_gone(struct client *, const char *reason);
unsigned	 clients_count(struct gateway *);
/* The rooms of the client's user: in it?  one more (+1) or less (-1). */
int		 user_in_room(const struct user *, const struct room *);
void		 user_room_ref(struct user *, struct room *, int delta);
void		 clients_foreach(struct gateway *,
		    void (*fn)(struct client *, void *), void *arg);

/* ---- rooms.c ---- */
void		 rooms_init(struct gateway *);
void		 rooms_shutdown(struct gateway *);
/* May a join open room `name` (MAX_ROOMS)?  May close an empty room. */
int		 rooms_may_open(struct gateway *, const char *name);
struct room	*room_find(struct gateway *, const char *name);
/* Find or create (starting its process). */
struct room	*room_get(struct gateway *, const char *name);
struct membership *room_membership(struct room *, const struct client *);
/* 0, or -1 when the room's process cannot be had (ROOM_UNAVAILABLE);
 * done (if not NULL) learns when the room process has the member. */
int		 room_join(struct room *, struct client *, child_done_cb done,
		    void *arg);
void		 room_leave(struct membership *, int reason);
/*
 * Forward a checked event: its payload's text as the client wrote it,
 * and the chat message id the gateway chose ("" for none); guest = not a
 * member.  -1: unavailable.
 */
int		 room_event(struct room *, struct client *, int event,
		    int guest, const char *msg_id, const char *payload,
		    size_t len, const struct sio_bins *);
/* USER_ROOMS_MAX: may the client (and its user) be in room `name` too? */
int		 rooms_user_may_join(const struct client *, const char *name);
/* The IPC_JOIN body of a member (supervisor.c replays it). */
struct buf;
void		 room_join_body(struct buf *, const struct membership *,
		    uint8_t extra_flags);
/* Members of every room, for /metrics; fn per room. */
void		 rooms_foreach(struct gateway *,
		    void (*fn)(struct room *, void *), void *arg);
unsigned	 rooms_count(struct gateway *);
/* Let every empty room's process go now (draining). */
void		 rooms_retire_empty(struct gateway *);
/* The `error` event to every member (room_unavailable's first). */
void		 room_tell(struct room *, const char *code, const char *message);
/* The process died for good: drop every member (told ROOM_UNAVAILABLE
 * by room_tell first, before their joins' acks). */
void		 room_unavailable(struct room *);
/* A room made for a join that did not happen: let it idle out. */
void		 room_idle_check(struct room *);

/* ---- events.c ---- */
struct sio_event;
void		 events_dispatch(struct client *, const struct sio_event *);
/* At start-up (the socket queues' drain). */
void		 events_init(struct gateway *);
/* Cancel what is in flight for a client that is going away. */
void		 events_client_gone(struct client *);

/* ---- supervisor.c ---- */
struct supervisor *supervisor_new(struct gateway *);
void		 supervisor_free(struct supervisor *);
struct child	*child_start(struct supervisor *, struct room *);
/* Queue or send a message for the room's process; -1 if unavailable. */
int		 child_send(struct child *, uint16_t type, const void *body,
		    size_t len);
/* The same, and tell done when it has been handled (or never will be). */
int		 child_send_cb(struct child *, uint16_t type, const void *body,
		    size_t len, child_done_cb done, void *arg);
/* The room is empty and idle: tell the process to exit. */
void		 child_retire(struct child *);
/* Stop the process (and restart it, with its members). */
void		 child_restart(struct child *);
pid_t		 child_pid(const struct child *);
unsigned	 child_restarts(const struct child *);
long long	 child_rss(const struct child *);
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
/* ROOM_SPARES or draining changed: grow or shrink the pool. */
void		 supervisor_adjust_spares(struct supervisor *);

#endif
