/*
 * ipc_msg.h - the bodies of the messages that carry the room's members
 * and everything else between the gateway and a room process: one struct
 * each, one encoder and
 * one decoder each (ipc_msg.c), used by every process that writes or
 * reads them.  The decoders hold every string to its bounds.h limit and
 * fail on bytes left over, so an encoder and a decoder cannot disagree
 * about what a body is.
 */
#ifndef COUP_IPC_MSG_H
#define COUP_IPC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "buf.h"

/* Some bytes of a body (not NUL-terminated). */
struct ipc_str {
	const char	*p;
	size_t		 len;
};

/* IPC_HELLO: a room process's first word. */
struct ipc_hello {
	uint32_t	 version;	/* IPC_VERSION */
	uint32_t	 pid;
};

/* IPC_ROOM_OPEN: its room, once after HELLO. */
struct ipc_room_open {
	struct ipc_str	 room;		/* "video:<id>" | "study:<id>" */
	uint8_t		 log_level;	/* enum log_level */
};

/* IPC_PROCESSED: how far the room process got. */
struct ipc_processed {
	uint32_t	 seq;		/* of the last message handled */
};

/* IPC_LOG_LEVEL: an admin changed it. */
struct ipc_log_level {
	uint8_t		 level;		/* enum log_level */
};

/* IPC_JOIN: a member joins (or is replayed into a new process). */
struct ipc_join {
	uint64_t	 conn;
	struct ipc_str	 socket_id;	/* <= BOUND_SOCKET_ID */
	struct ipc_str	 user_id;	/* <= BOUND_USER_ID */
	struct ipc_str	 user;		/* JSON object, <= BOUND_USER_JSON */
	uint8_t		 flags;		/* IPC_M_* */
	int64_t		 joined_at;	/* ms since epoch */
	/* For the joiner's video:room-state: its ICE servers (a JSON
	 * array, <= BOUND_ICE_JSON; empty: none). */
	struct ipc_str	 ice;
};

/* IPC_LEAVE */
struct ipc_leave {
	uint64_t	 conn;
	uint8_t		 reason;	/* enum ipc_leave_reason */
};

/* IPC_RECONN */
struct ipc_reconn {
	uint64_t	 from, to;
};

/* Binary attachments, in placeholder order (BOUND_ATTACHMENTS at most,
 * and with the payload no more than BOUND_PAYLOAD bytes). */
struct ipc_bins {
	uint16_t	 n;
	struct ipc_str	 bin[BOUND_ATTACHMENTS];
};

/* IPC_EVENT: a checked client event for the room. */
struct ipc_event_msg {
	uint64_t	 conn;
	uint16_t	 event;		/* enum ipc_event */
	uint8_t		 flags;		/* IPC_E_* */
	/* The sender, when IPC_E_GUEST (not a member): as in ipc_join. */
	struct ipc_str	 socket_id, user_id, user;
	struct ipc_str	 msg_id;	/* chat: the gateway's, or empty */
	struct ipc_str	 payload;	/* JSON object, as the client wrote it */
	struct ipc_bins	 bins;		/* what its placeholders stand for */
};

/* IPC_SEND: one packet for some of the room's connections. */
struct ipc_send_msg {
	uint32_t	 n;		/* connections */
	const uint8_t	*conns;		/* n little-endian u64s: ipc_send_conn() */
	struct ipc_bins	 bins;		/* a BINARY_EVENT's attachments */
	struct ipc_str	 packet;	/* "2[...]", or "5<n>-[...]" with bins */
};

/* From C strings (NULL is empty). */
struct ipc_str	ipc_str(const char *);

/* Every body, by type (IPC_EXIT has none). */
union ipc_body {
	struct ipc_hello	 hello;
	struct ipc_room_open	 room_open;
	struct ipc_join		 join;
	struct ipc_leave	 leave;
	struct ipc_event_msg	 event;
	struct ipc_send_msg	 send;
	struct ipc_processed	 processed;
	struct ipc_log_level	 log_level;
	struct ipc_reconn	 reconn;
};

/*
 * Append the body; -1 (nothing appended) when a field is over its bound:
 * the caller checked its input at the edge, so that is its bug to report,
 * never the room's to die on.
 */
int	ipc_put_hello(struct buf *, const struct ipc_hello *);
int	ipc_put_room_open(struct buf *, const struct ipc_room_open *);
int	ipc_put_processed(struct buf *, const struct ipc_processed *);
int	ipc_put_log_level(struct buf *, const struct ipc_log_level *);
int	ipc_put_join(struct buf *, const struct ipc_join *);
int	ipc_put_leave(struct buf *, const struct ipc_leave *);
int	ipc_put_reconn(struct buf *, const struct ipc_reconn *);
int	ipc_put_event(struct buf *, const struct ipc_event_msg *);
/* conns[0..n) and the rest of the message. */
int	ipc_put_send(struct buf *, const uint64_t *conns, uint32_t n,
	    const struct ipc_bins *, struct ipc_str packet);

/* Read a body: 0, or -1 when it is short, over a bound, or too long. */
int	ipc_get_hello(const void *body, size_t len, struct ipc_hello *);
int	ipc_get_room_open(const void *body, size_t len, struct ipc_room_open *);
int	ipc_get_processed(const void *body, size_t len, struct ipc_processed *);
int	ipc_get_log_level(const void *body, size_t len, struct ipc_log_level *);
int	ipc_get_exit(const void *body, size_t len);
int	ipc_get_join(const void *body, size_t len, struct ipc_join *);
int	ipc_get_leave(const void *body, size_t len, struct ipc_leave *);
int	ipc_get_reconn(const void *body, size_t len, struct ipc_reconn *);
int	ipc_get_event(const void *body, size_t len, struct ipc_event_msg *);
int	ipc_get_send(const void *body, size_t len, struct ipc_send_msg *);
uint64_t ipc_send_conn(const struct ipc_send_msg *, uint32_t i);

/* Any message, by its type: what the fuzzer and the tests go through. */
int	ipc_get_body(uint16_t type, const void *body, size_t len,
	    union ipc_body *);
int	ipc_put_body(struct buf *, uint16_t type, const union ipc_body *);

#endif
