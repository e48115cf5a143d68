/*
 * ipc.h - the gateway <-> coup-roomd channel: a typed, versioned catalogue
 * of messages over one SOCK_SEQPACKET socketpair per room process.
 *
 * Every datagram is a struct ipc_hdr followed by up to IPC_FRAG_MAX bytes
 * of body; a body larger than that (an SDP offer can be MAX_PAYLOAD bytes)
 * travels as several datagrams with IPC_F_MORE set on all but the last.
 * Sends never block: what the socket does not take waits in a bounded
 * queue, and a full queue is the caller's to act on (the gateway kills a
 * child that stops reading).  Every receive is size-checked: a datagram
 * shorter than its header, longer than it says, a message over
 * IPC_MSG_MAX or a type we do not know is "malformed", reported to the
 * owner, who decides (the gateway kills the child; a child exits).
 *
 * Bodies are packed little-endian fields, written with ipc_put_* and read
 * with ipc_get_*, which check every length.  The layout of each body is
 * documented next to its type below.  Bump IPC_VERSION on any change: the
 * child says its version in HELLO and the gateway refuses a mismatch.
 */
#ifndef COUP_IPC_H
#define COUP_IPC_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "bounds.h"
#include "buf.h"

#define IPC_VERSION	6
/* The descriptor a room process finds its end of the socketpair on. */
#define IPC_CHILD_FD	3
/* Body bytes per datagram; far below the default SO_SNDBUF (~208 KB). */
#define IPC_FRAG_MAX	(48 * 1024)
/* Largest reassembled message body: IPC_MSG_MAX, in bounds.h. */

#define IPC_F_MORE	0x0001	/* another fragment of this message follows */

struct ipc_hdr {
	uint16_t	 type;		/* enum ipc_type */
	uint16_t	 flags;		/* IPC_F_* */
	uint32_t	 len;		/* body bytes in this datagram */
	uint32_t	 seq;		/* per direction, per message */
	uint32_t	 reserved;	/* zero */
};

enum ipc_type {
	/* child -> gateway, first message: u32 version, u32 pid */
	IPC_HELLO = 1,
	/* gateway -> child, once after HELLO:
	 * str room ("video:abc" | "study:42"), u8 log level
	 * (enum log_level) */
	IPC_ROOM_OPEN,
	/* gateway -> child: a member joins (or is replayed into a new child):
	 * u64 conn, str socket_id, str user_id, str user (JSON object),
	 * u8 member flags (IPC_M_*), u64 joined_at (ms since epoch),
	 * str ice (the joiner's ICE servers, a JSON array, or empty) */
	IPC_JOIN,
	/* gateway -> child: u64 conn, u8 reason (enum ipc_leave_reason) */
	IPC_LEAVE,
	/* gateway -> child: a client event for this room:
	 * u64 conn, u16 event (enum ipc_event), u8 event flags (IPC_E_*),
	 * when IPC_E_GUEST: str socket_id, str user_id, str user (JSON);
	 * then str message id (chat: chosen by the gateway; else empty),
	 * str payload (the JSON object as the client wrote it, checked by
	 * the gateway: what is handed on is the client's own text),
	 * u16 nbins, str bin[nbins] (its binary attachments) */
	IPC_EVENT,
	/* child -> gateway: one encoded Socket.IO packet for some members:
	 * u32 n, u64 conn[n], u16 nbins, str bin[nbins], then the packet
	 * text to the end of the body ("2[...]", or "5<nbins>-[...]") */
	IPC_SEND,
	/* gateway -> child: exit now (room empty and idle, or shutdown) */
	IPC_EXIT,
	/* child -> gateway: u32 seq of the last gateway message processed */
	IPC_PROCESSED,
	/* gateway -> child: u8 log level (enum log_level), changed by an
	 * admin (coupctl log-level, reload) */
	IPC_LOG_LEVEL,
	/* gateway -> child: u64 from, u64 to: member `from` is now
	 * connection `to`, all else kept (a session that moved between a
	 * gateway's own clients and its mirror of another's); no one is
	 * told */
	IPC_RECONN,
	IPC_TYPE_MAX
};

/* Member flags in IPC_JOIN. */
#define IPC_M_MUTED	0x01
#define IPC_M_VIDEO_OFF	0x02
#define IPC_M_SHARING	0x04
#define IPC_M_SPEAKING	0x08	/* a joiner is told who speaks now */
#define IPC_M_REPLAY	0x80	/* re-join after a restart: tell no one */

/* Event flags in IPC_EVENT. */
#define IPC_E_GUEST	0x01	/* sender is not a member (checked study chat) */

enum ipc_leave_reason {
	IPC_LEAVE_LEFT = 0,	/* asked to leave */
	IPC_LEAVE_DISCONNECT,	/* connection gone */
	IPC_LEAVE_MOVED,	/* joined another video room */
	IPC_LEAVE_KICKED,	/* removed by an admin */
};

/* The client events a room process handles. */
enum ipc_event {
	IPC_EV_VIDEO_OFFER = 1,
	IPC_EV_VIDEO_ANSWER,
	IPC_EV_VIDEO_ICE_CANDIDATE,
	IPC_EV_VIDEO_TOGGLE_AUDIO,
	IPC_EV_VIDEO_TOGGLE_VIDEO,
	IPC_EV_VIDEO_SCREEN_SHARE_START,
	IPC_EV_VIDEO_SCREEN_SHARE_STOP,
	IPC_EV_VIDEO_SPEAKING,
	IPC_EV_CHAT_SEND_MESSAGE,
	IPC_EV_CHAT_VIDEO_MESSAGE,
	IPC_EV_CHAT_VIDEO_FILE,
	IPC_EV_CHAT_FILE_UPLOADED,
	IPC_EV_CHAT_TYPING,
	IPC_EV_PRESENCE_STATUS_CHANGE,
	IPC_EV_MAX
};

/* ---- writing and reading bodies (JOIN, LEAVE, EVENT: ipc_msg.h) ---- */

void	ipc_put_u8(struct buf *, uint8_t);
void	ipc_put_u16(struct buf *, uint16_t);
void	ipc_put_u32(struct buf *, uint32_t);
void	ipc_put_u64(struct buf *, uint64_t);
/* u32 length, then the bytes (no NUL). */
void	ipc_put_str(struct buf *, const char *, size_t);

struct ipc_reader {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;		/* a read ran past the end */
};

void	ipc_reader_init(struct ipc_reader *, const void *, size_t);
uint8_t	 ipc_get_u8(struct ipc_reader *);
uint16_t ipc_get_u16(struct ipc_reader *);
uint32_t ipc_get_u32(struct ipc_reader *);
uint64_t ipc_get_u64(struct ipc_reader *);
/* A string: points into the body (not NUL-terminated); *len its length.
 * Strings longer than max are bad. */
const char *ipc_get_str(struct ipc_reader *, size_t *len, size_t max);
/* The rest of the body. */
const uint8_t *ipc_get_rest(struct ipc_reader *, size_t *len);

/* ---- the channel ---- */

struct ipc_chan;

struct ipc_msg {
	uint16_t	 type;
	uint32_t	 seq;
	const uint8_t	*body;
	size_t		 len;
};

/*
 * Both callbacks may call ipc_send and ipc_chan_free (the memory goes once
 * the callback returns).  They are only ever called from the loop, never
 * from inside ipc_send.
 */
struct ipc_callbacks {
	/* One whole message; body valid during the call. */
	void	(*message)(struct ipc_chan *, const struct ipc_msg *, void *);
	/* The peer closed (why = NULL) or sent something malformed (why
	 * says what; valid during the call), or a send failed.  The channel
	 * stops reading and writing; the owner frees it. */
	void	(*error)(struct ipc_chan *, const char *why, void *);
};

/*
 * Take over a non-blocking SOCK_SEQPACKET descriptor (closed by
 * ipc_chan_free; any other socket type is fatal).  sendq_max bounds the
 * bytes (headers included, see ipc_frame_size) waiting to be sent.
 */
struct ipc_chan	*ipc_chan_new(struct ev_loop *, int fd, size_t sendq_max,
		    const struct ipc_callbacks *, void *arg);
void		 ipc_chan_free(struct ipc_chan *);
/* Whose callbacks' arg it is from now on (a channel changing owner). */
void		 ipc_chan_set_arg(struct ipc_chan *, void *arg);
/*
 * Send a message (fragmented if needed).  Returns its seq, or -1 when the
 * queue would exceed sendq_max or the channel has failed; nothing is
 * queued then.  The room is counted as if the socket took none of the
 * message, so sendq_max must be at least ipc_frame_size() of the largest
 * message.  A peer that is gone (EPIPE) makes this return -1; its EOF is
 * reported once its last messages have been read.
 */
long long	 ipc_send(struct ipc_chan *, uint16_t type, const void *body,
		    size_t len);
size_t		 ipc_queued(const struct ipc_chan *);
int		 ipc_fd(const struct ipc_chan *);

/*
 * The receive side without I/O, for the fuzzer and the unit tests: feed
 * one datagram; returns 0 (maybe having called cb with a whole message),
 * or -1 with *why set if it is malformed (a partial message is dropped
 * then).  Start from a zeroed struct.  The assembler is done with its
 * state before cb runs, so cb may clear it.
 */
struct ipc_assembler {
	struct buf	 body;
	uint16_t	 type;
	uint32_t	 seq;
	int		 partial;
};
int	ipc_assemble(struct ipc_assembler *, const uint8_t *dgram, size_t len,
	    void (*cb)(const struct ipc_msg *, void *), void *arg,
	    const char **why);
void	ipc_assembler_clear(struct ipc_assembler *);
/*
 * The send side without I/O: append the datagrams that carry one message
 * (as ipc_send queues them) to a buffer; returns the bytes appended, which
 * is ipc_frame_size(len).  len must be at most IPC_MSG_MAX.
 */
size_t	ipc_frame(struct buf *, uint16_t type, uint32_t seq, const void *body,
	    size_t len);
size_t	ipc_frame_size(size_t len);

/* "HELLO", "JOIN", ...; "?" if unknown. */
const char *ipc_type_name(int);
/* "video:offer", ...: the client event name; NULL if unknown. */
const char *ipc_event_name(int);
/* IPC_EV_* for a client event name; 0 if not a room event. */
int	ipc_event_by_name(const char *);

#endif
