/*
 * room.h - the state of one room inside coup-roomd, and the way out.
 *
 * A room is video:<roomId> (a call) or study:<studyId> (presence and study
 * chat).  Its members are the connections the gateway joined to it; each
 * carries the user and, in a call, its media flags.  Everything the room
 * says goes out through room_send(): one Socket.IO packet, encoded once,
 * with the list of connections that get it, in one IPC message.
 */
#ifndef COUP_ROOM_H
#define COUP_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct ipc_bins;
struct ipc_chan;

enum room_kind { ROOM_VIDEO, ROOM_STUDY };

struct member {
	struct member	*next;
	uint64_t	 conn;
	char		*socket_id;
	char		*user_id;
	cJSON		*user;		/* {id,name,email,avatar} */
	uint8_t		 flags;		/* IPC_M_* */
	long long	 joined_at;	/* ms since epoch */
	char		*status;	/* presence status, study rooms */
};

/* The sender of the event being handled: a member, or a checked guest. */
struct sender {
	uint64_t	 conn;
	const char	*socket_id;
	const char	*user_id;
	const cJSON	*user;
	struct member	*member;	/* NULL for a guest */
};

/*
 * An event as the gateway handed it on: its payload parsed (to read the
 * fields a room decides on) and as the client wrote it (to pass on the
 * fields that are only carried: event_field()).
 */
struct event {
	int		 kind;		/* enum ipc_event */
	cJSON		*p;
	const char	*raw;
	size_t		 raw_len;
	const char	*msg_id;	/* chat: the gateway's id ("" none) */
	/* Its attachments (what placeholders in its fields stand for), to
	 * go with whatever carries those fields on. */
	const struct ipc_bins *bins;
};

struct room {
	char		*name;		/* "video:abc" */
	const char	*id;		/* after the colon */
	enum room_kind	 kind;
	struct member	*members;	/* newest first */
	unsigned	 count;
	struct ipc_chan	*chan;
};

struct member	*room_find(struct room *, uint64_t conn);
struct member	*room_find_socket(struct room *, const char *socket_id);
/* Connections of the members of the room, but `except` (0 = none). */
size_t		 room_recipients(struct room *, uint64_t except, uint64_t **out);
/* Send event(name, payload) to the n connections; takes payload. */
void		 room_send(struct room *, const uint64_t *conns, size_t n,
		    const char *event, cJSON *payload);
/* The same, to every member but `except` (0 = everyone). */
void		 room_broadcast(struct room *, uint64_t except,
		    const char *event, cJSON *payload);
/* Both with binary attachments: a BINARY_EVENT (bins may be NULL). */
void		 room_send_bins(struct room *, const uint64_t *conns,
		    size_t n, const char *event, cJSON *payload,
		    const struct ipc_bins *);
void		 room_broadcast_bins(struct room *, uint64_t except,
		    const char *event, cJSON *payload,
		    const struct ipc_bins *);

/* The handlers, one file per kind of event. */
/* ice: the joiner's ICE servers for its room-state (taken), or NULL. */
void	video_join(struct room *, struct member *, int replay, cJSON *ice);
void	video_leave(struct room *, struct member *);
void	video_event(struct room *, const struct sender *,
	    const struct event *);
void	presence_join(struct room *, struct member *, int replay);
void	presence_leave(struct room *, struct member *);
void	presence_event(struct room *, const struct sender *,
	    const struct event *);
void	chat_event(struct room *, const struct sender *,
	    const struct event *);

/* Helpers for building payloads. */
cJSON	*user_copy(const cJSON *user);
/* The payload's field `name` as the client wrote it (printed as it is),
 * or null when absent: what a relay or a message carries on. */
cJSON	*event_field(const struct event *, const char *name);
void	 add_timestamp(cJSON *obj);

#endif
