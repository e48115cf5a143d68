/*
 * sio_internal.h - what the files of the Socket.IO server share and
 * nobody else sees: the structs behind sio_server.h's opaque types and
 * the functions the files offer one another.  Layered, lowest first:
 *
 *   sio_out.c       packets encoded once for any number of sockets
 *   sio_socket.c    a socket's links to its connection and namespace,
 *                   its removal (the application's disconnect callback)
 *   sio_recovery.c  connection state recovery: held sockets, pids,
 *                   offsets, the replay buffer's upkeep
 *   sio_server.c    incoming packets, the engine's callbacks, sending,
 *                   the server
 *
 * Each calls only the files above it in this list.
 */
#ifndef COUP_SIO_INTERNAL_H
#define COUP_SIO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "buf.h"
#include "hashtab.h"
#include "ratelimit.h"
#include "sio_packet.h"
#include "sio_replay.h"
#include "sio_server.h"

struct pending_ack {
	struct pending_ack	*next;
	long long		 id;
	sio_ack_cb		 cb;
	void			*arg;
};

struct client;

struct sio_socket {
	struct client		*client;	/* NULL while held */
	struct sio_nsp		*nsp;
	struct sio_socket	*cnext;		/* in client */
	struct sio_socket	*nprev, *nnext;	/* in nsp, when connected */
	char			 id[SIO_ID_LEN + 1];
	uint8_t			 connected;
	struct pending_ack	*acks;
	long long		 next_ack;
	void			*data;
	/* Connection state recovery (with a recovery window only). */
	char			 pid[SIO_PID_LEN + 1];	/* "" until accepted */
	struct sio_replay	 replay;	/* what it was sent lately */
	uint8_t			 held;		/* its connection was lost */
	uint8_t			 overflowed;	/* held, and missed too much */
	char			*held_reason;	/* the loss, for the end */
	ev_timer		 hold_timer;
	struct hnode		 by_pid;	/* srv->by_pid, once it has one */
	/* A CONNECT asking for a held session: that one, and the client's
	 * last offset (bad_offset: one we could not read). */
	struct sio_socket	*recover;
	struct sio_socket	*recovered_by;	/* on the held one */
	uint64_t		 offset;
	uint8_t			 bad_offset;
	/* How many packets its replay buffer had kept when the ping now
	 * waiting for its pong was sent: once the pong is in, the client
	 * has them all. */
	uint64_t		 ping_mark;
	/* Until accepted, pid may hold a pid its CONNECT asked for that is
	 * not here: another gateway's, perhaps (sio_socket_pid_asked). */
	uint8_t			 pid_asked;
	/* Taken over from another gateway and not answered yet: what it is
	 * sent waits in its replay buffer (sio_adopt). */
	uint8_t			 deferred;
};

struct sio_nsp {
	struct sio_nsp		*next;
	struct sio_server	*srv;
	char			*name;
	struct sio_nsp_ops	 ops;
	void			*arg;
	struct sio_socket	*head;
	unsigned		 count;
};

struct client {
	struct sio_server	*srv;
	struct eio_session	*eio;
	struct sio_socket	*sockets;
	ev_timer		 connect_timer;
	struct sio_packet	*partial;	/* binary packet waiting */
	struct buf		*bins;
	int			 nbins;
	size_t			 bins_bytes;	/* of the packet, so far */
	struct rate_bucket	 connects;	/* CONNECT, DISCONNECT */
};

struct sio_server {
	struct ev_loop		*loop;
	struct eio_server	*eio;
	struct sio_nsp		*nsps;
	double			 connect_timeout;
	double			 connect_rate;
	size_t			 max_payload;	/* attachments, in all */
	unsigned		 connections;
	/* Connection state recovery: off when window is 0. */
	double			 recovery_window;	/* seconds */
	size_t			 recovery_bytes;	/* per session */
	uint64_t		 next_offset;
	struct hashtab		 by_pid;	/* sockets with a pid */
	struct sio_recovery_stats rstats;
};

struct sio_out {
	unsigned		 refs;
	uint64_t		 offset;	/* 0: none */
	size_t			 bytes;
	struct eio_msg		*text;
	int			 nbins;
	struct eio_msg		*bins[];
};

/* sio_out.c: the replay buffer's way to let a packet go. */
void		 sio_out_release(void *);
/* A packet encoded elsewhere, as it is (no offset of ours). */
struct sio_out	*sio_out_copy(const void *packet, size_t len,
		    const struct sio_bins *);

/* sio_socket.c */
struct sio_socket *sio_client_socket(struct client *, const char *nsp);
void		 sio_client_unlink(struct client *, struct sio_socket *);
/* The answers the socket's own emits were waiting for will not come. */
void		 sio_acks_fail(struct sio_socket *);
/* A packet with no event or ack: CONNECT, CONNECT_ERROR, DISCONNECT.
 * c NULL (a held socket): nobody to tell. */
void		 sio_send_simple(struct client *, enum sio_type,
		    const char *nsp, const cJSON *data);
void		 sio_answer_connect(struct sio_socket *, struct client *);
/* Connected: in its namespace's list (broadcasts, counts), its
 * connection's connect timeout over.  sio_socket_remove() undoes it. */
void		 sio_socket_link(struct sio_socket *);
void		 sio_unhold(struct sio_socket *);
/* Unlink, tell the application, free. */
void		 sio_socket_remove(struct sio_socket *, const char *reason);

/* sio_recovery.c */
/* A CONNECT's {pid, offset}: the session it asks for, if any. */
void		 sio_recovery_asked(struct sio_socket *, const cJSON *data);
/* Accepted as new: declines what it asked for, gets a pid of its own. */
void		 sio_recovery_accepted(struct sio_socket *);
/* Its connection was lost: keep it, in its namespace, for the window. */
void		 sio_recovery_hold(struct sio_socket *, const char *reason);
/* An offset-carrying packet sent to it: kept until its client has it. */
void		 sio_recovery_keep(struct sio_socket *, struct sio_out *);
/* The heartbeat of a connection: a ping queued, its pong come back. */
void		 sio_recovery_ping(struct client *);
void		 sio_recovery_pong(struct client *);

#endif
