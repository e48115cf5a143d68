/*
 * bounds.h - every limit on input from outside, defined once.
 *
 * What clients send (the CONNECT auth, event payloads), what the CoUp API
 * answers (the user), what Redis peers publish (multi-server mode) and
 * what the control socket is asked is checked against these where it
 * enters the gateway (gateway/checks.c, connect.c, control.c); the IPC
 * encoders and coup-roomd use the same numbers.  So nothing that passed
 * the edge can be refused further in, and a room process is never handed
 * what it would die on.  Lengths are bytes unless they say characters.
 */
#ifndef COUP_BOUNDS_H
#define COUP_BOUNDS_H

/* A roomId, studyId or relay target ("to"). */
#define BOUND_ID		128
/* A userId: the auth's, the CoUp API's user.id, a peer's. */
#define BOUND_USER_ID		128
/* A socket id as it travels (ours are 20; a peer's must fit too). */
#define BOUND_SOCKET_ID		64
/* A room's name: "video:" or "study:" and its id. */
#define BOUND_ROOM_NAME		(6 + BOUND_ID)
/* A presence status or a chat message type, in characters (contract
 * section 6: "a short string, <= 32 chars"). */
#define BOUND_STATUS_CHARS	32
/* The auth token, sent on to the CoUp API in a header. */
#define BOUND_TOKEN		8192
/* The session cookies forwarded from a handshake (AUTH_SOURCE session),
 * all of them: a browser keeps up to 4096 bytes per cookie. */
#define BOUND_COOKIE		8192
/* A joiner's ICE servers (turn.c's), as JSON: TURN_URLS (1024 bytes at
 * most) twice, as turn: and stun:, a user id and a credential fit. */
#define BOUND_ICE_JSON		4096
/* One field of a user object (name, email, avatar) as JSON text; a
 * longer one from the CoUp API is dropped (null), from a peer refused. */
#define BOUND_USER_FIELD	2048
/* A whole user object as JSON text: id, the three fields, their names. */
#define BOUND_USER_JSON		8192
/* A chat message id the gateway makes ("msg_<ms>_<socketId>_<n>"). */
#define BOUND_MESSAGE_ID	(32 + BOUND_SOCKET_ID)
/* A multi-server node id ("<host>-<port>-<random>"). */
#define BOUND_NODE_ID		95

/* Binary attachments of one Socket.IO packet (they and the packet are
 * MAX_PAYLOAD bytes in all). */
#define BOUND_ATTACHMENTS	64

/* The largest message body between the gateway and a room process. */
#define IPC_MSG_MAX		(8 * 1024 * 1024)
/*
 * What a room message adds to the payload it carries, at most: the
 * sender (ids and user object), a message id, the event's own fields and
 * timestamp, the packet's framing.  Recipient lists are split to fit.
 */
#define BOUND_EVENT_OVERHEAD	(64 * 1024)
/* The largest event payload, hence the largest MAX_PAYLOAD: what one
 * room message can carry. */
#define BOUND_PAYLOAD		(IPC_MSG_MAX - BOUND_EVENT_OVERHEAD)

#endif
