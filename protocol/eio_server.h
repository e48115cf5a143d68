/*
 * eio_server.h - Engine.IO v4 sessions over long-polling and WebSocket.
 *
 * A session has a sid, a heartbeat (the server pings every ping_interval,
 * the client must answer within ping_timeout), a bounded queue of packets
 * waiting for the client, and one transport at a time: polling until the
 * client upgrades, then WebSocket.  The layer above (Socket.IO) sees only
 * whole messages in and out.
 *
 * Outgoing packets are struct eio_msg: encoded once, reference counted, and
 * queued on any number of sessions, so a broadcast costs one encoding.
 */
#ifndef COUP_EIO_SERVER_H
#define COUP_EIO_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct eio_server;
struct eio_session;
struct httpd_req;
struct lws;

#define EIO_SID_LEN	20

struct eio_opts {
	int		 ping_interval_ms;
	int		 ping_timeout_ms;
	size_t		 max_payload;
	size_t		 send_queue_max;	/* bytes per session */
	unsigned	 max_sessions;
	/* Cookies of a handshake to keep for the layer above (a comma-
	 * separated list of names; NULL: none). */
	const char	*cookie_names;
};

struct eio_callbacks {
	void	(*open)(void *arg, struct eio_session *);
	void	(*message)(void *arg, struct eio_session *, const uint8_t *,
		    size_t, int binary);
	/* After this returns the session pointer is invalid. */
	void	(*close)(void *arg, struct eio_session *, const char *reason);
	/* A heartbeat ping was queued (pong 0), or its pong came back (pong
	 * 1): the client then has everything queued before that ping.  May
	 * be NULL. */
	void	(*heartbeat)(void *arg, struct eio_session *, int pong);
};

/* One encoded Engine.IO packet, shareable between sessions. */
struct eio_msg {
	unsigned	 refs;
	uint8_t		 type;		/* enum eio_type */
	uint8_t		 binary;
	size_t		 len;		/* payload bytes, after the type digit */
	/* LWS_PRE bytes of headroom, the type digit, then the payload. */
	uint8_t		 mem[];
};

struct eio_server *eio_server_new(struct ev_loop *, const struct eio_opts *,
		    const struct eio_callbacks *, void *arg);
/* Closes every session (their close callbacks run) and frees the server. */
void		 eio_server_free(struct eio_server *);
unsigned	 eio_server_count(const struct eio_server *);
void		 eio_server_close_all(struct eio_server *, const char *reason);
/* The same, but each counts as lost (eio_session_lost()): the layer above
 * may keep its session for the client to take back elsewhere. */
void		 eio_server_lose_all(struct eio_server *, const char *reason);
/* While set, new sessions are refused (HTTP 503) and existing ones go on. */
void		 eio_server_refuse_new(struct eio_server *, int);

/* A message packet with room for len payload bytes (to fill in). */
struct eio_msg	*eio_msg_new(int binary, size_t len);
uint8_t		*eio_msg_payload(struct eio_msg *);
void		 eio_msg_ref(struct eio_msg *);
void		 eio_msg_unref(struct eio_msg *);

/* Queue a packet (takes a reference of its own).  -1 if closed/dropped. */
int		 eio_send(struct eio_session *, struct eio_msg *);
/* Copy and send a text message. */
int		 eio_send_text(struct eio_session *, const char *, size_t);
void		 eio_close(struct eio_session *, const char *reason);

const char	*eio_session_sid(const struct eio_session *);
const char	*eio_session_transport(const struct eio_session *);
const char	*eio_session_peer(const struct eio_session *);
/* In the close callback: 1 if the connection was lost (ping timeout, a
 * WebSocket gone without a close frame, a failed write) rather than closed
 * on purpose by either side. */
int		 eio_session_lost(const struct eio_session *);
/* The cookies of o.cookie_names its handshake (the polling handshake or
 * the WebSocket upgrade that made it) carried, as a Cookie header value;
 * NULL when none, or once forgotten. */
const char	*eio_session_cookie(const struct eio_session *);
void		 eio_session_forget_cookie(struct eio_session *);
void		*eio_session_data(const struct eio_session *);
void		 eio_session_set_data(struct eio_session *, void *);

/* What httpd calls on the Engine.IO path (httpd_new(), with the
 * eio_server as its srv). */
struct httpd_transport;
const struct httpd_transport *eio_server_transport(void);

#endif
