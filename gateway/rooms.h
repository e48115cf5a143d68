/*
 * rooms.h - the routing table (rooms.c): every live room is a struct
 * room with its members (struct membership links a client, clients.h,
 * and a room, with the media flags and join time a restarted room
 * process needs to get the member back) and its process (supervisor.h).
 */
#ifndef COUP_ROOMS_H
#define COUP_ROOMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "clients.h"
#include "gateway.h"
#include "hashtab.h"
#include "supervisor.h"

struct room;
struct sio_bins;

enum room_kind { ROOM_VIDEO, ROOM_STUDY };

struct membership {
	struct room		*room;
	struct client		*client;
	struct membership	*cnext;		/* the client's list */
	unsigned		 idx;		/* in room->members */
	uint8_t			 flags;		/* IPC_M_* media flags */
	uint8_t			 typing;	/* a study's: last said */
	long long		 joined_at;	/* ms since epoch */
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
	struct hnode		 hnode;		/* rooms.c's table, by name */
};

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
 * A session moving between gateways (multi-server recovery), unheard by
 * anyone.  room_adopt(): the client is a member as it was elsewhere
 * (flags, joined_at); `from` is the room process's member that stood for
 * it (its mirror of the other gateway's client), or 0 when there is none
 * (it is replayed in, silently).  room_handed_over(): the member is now
 * connection `to` in the room process (the mirror of the gateway that took
 * it), and no longer this gateway's.
 */
struct membership *room_adopt(struct room *, struct client *, uint8_t flags,
		    long long joined_at, uint64_t from);
void		 room_handed_over(struct membership *, uint64_t to);
/* Every room of the client, left (its connection is gone). */
void		 rooms_leave_all(struct client *, int reason);
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

#endif
