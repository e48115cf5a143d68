/*
 * sio_server.h - Socket.IO v5 on top of eio_server: namespaces, CONNECT
 * (answered at once or later, for authentication over HTTP), events, acks
 * in both directions, binary attachments, DISCONNECT and the connect
 * timeout.  It knows nothing of CoUp: the application registers namespaces
 * with callbacks and emits through the functions below.
 *
 * Lifetime rule: a struct sio_socket is valid from the connect callback
 * until the disconnect callback returns, whether or not it was accepted.
 */
#ifndef COUP_SIO_SERVER_H
#define COUP_SIO_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "eio_server.h"

struct sio_server;
struct sio_nsp;
struct sio_socket;

#define SIO_ID_LEN	20
/* A session's private id (connection state recovery): 24 characters of
 * the URL-safe alphabet, 144 random bits. */
#define SIO_PID_LEN	24

/* Binary attachments of an event or ack, in placeholder order. */
struct sio_bins {
	int		 n;
	const uint8_t	**data;
	const size_t	*len;
};

/*
 * An event from a client.  args is the array after the event name (the
 * application may change it during the call).  json is the packet's JSON
 * text as args was parsed from it (json.h: element 0 is the name, element
 * i + 1 is args[i]), for handing on what the client wrote as it wrote it.
 * ack_id >= 0 when the client wants an answer through sio_ack().
 */
struct sio_event {
	const char		*name;
	cJSON			*args;
	const char		*json;
	size_t			 json_len;
	const struct sio_bins	*bins;		/* NULL or n == 0: none */
	long long		 ack_id;
};

struct sio_nsp_ops {
	/* A client asks to join.  Answer with sio_accept() or sio_refuse(),
	 * now or later.  auth is the CONNECT payload (NULL when none) and is
	 * only valid during the call. */
	void	(*connect)(struct sio_socket *, const cJSON *auth, void *arg);
	/* An event (valid during the call; see struct sio_event). */
	void	(*event)(struct sio_socket *, const struct sio_event *,
		    void *arg);
	/* The socket is gone (also for one never accepted). */
	void	(*disconnect)(struct sio_socket *, const char *reason,
		    void *arg);
};

/* An encoded packet, ready to be sent to any number of sockets. */
struct sio_out;

struct sio_opts {
	int		 connect_timeout_ms;	/* to join a namespace */
	/* CONNECT and DISCONNECT packets a second per connection, in bursts
	 * (ratelimit.h); 0 = no limit. */
	double		 connect_rate;
	/* Connection state recovery: a socket whose connection is lost
	 * (not closed on purpose) is held this long for its client to come
	 * back with its pid; 0: off (no pid, no offsets). */
	int		 recovery_window_ms;
	size_t		 recovery_buffer_bytes;	/* kept per session */
};

/* Counters of connection state recovery; held is a gauge. */
struct sio_recovery_stats {
	unsigned		 held;
	unsigned long long	 recovered;
	unsigned long long	 expired;		/* window over */
	unsigned long long	 overflowed;		/* missed too much */
	unsigned long long	 refused_unknown;	/* pid unknown, expired */
	unsigned long long	 refused_user;		/* the app said no */
	unsigned long long	 refused_offset;	/* missed what is gone */
};

struct sio_server *sio_server_new(struct ev_loop *, const struct eio_opts *,
		    const struct sio_opts *);
void		 sio_server_free(struct sio_server *);
struct eio_server *sio_server_engine(struct sio_server *);
/* Register a namespace ("/", "/custom"). */
struct sio_nsp	*sio_namespace(struct sio_server *, const char *name,
		    const struct sio_nsp_ops *, void *arg);
/* Connected sockets in a namespace, and a way to visit them. */
unsigned	 sio_nsp_count(const struct sio_nsp *);
void		 sio_nsp_foreach(struct sio_nsp *,
		    void (*fn)(struct sio_socket *, void *), void *arg);

void		 sio_accept(struct sio_socket *);
/* data is the CONNECT_ERROR payload, e.g. {"message":"..."}. */
void		 sio_refuse(struct sio_socket *, const cJSON *data);
void		 sio_refuse_message(struct sio_socket *, const char *message);
/* Server-side disconnect of one namespace socket ("io server disconnect"). */
void		 sio_disconnect(struct sio_socket *);
/* Close the whole underlying connection. */
void		 sio_close_connection(struct sio_socket *, const char *reason);

/* Encode once: an EVENT (name + args) or, with name NULL, an ACK. */
struct sio_out	*sio_out_event(const struct sio_nsp *, const char *name,
		    const cJSON *args, const struct sio_bins *, long long ack_id);
struct sio_out	*sio_out_ack(const struct sio_nsp *, long long ack_id,
		    const cJSON *args, const struct sio_bins *);
/* A packet encoded elsewhere ("2[...]", or "5<n>-[...]" and its n
 * attachments: a room process's), sent as it is.  bins may be NULL. */
struct sio_out	*sio_out_packet(const struct sio_nsp *, const void *packet,
		    size_t len, const struct sio_bins *);
/* Packets are reference counted (a socket's replay buffer keeps them):
 * sio_out_free() drops one reference. */
struct sio_out	*sio_out_ref(struct sio_out *);
void		 sio_out_free(struct sio_out *);
int		 sio_send(struct sio_socket *, struct sio_out *);

/* The same for one socket. */
int		 sio_send_packet(struct sio_socket *, const void *packet,
		    size_t len, const struct sio_bins *);
/* Conveniences that encode for one socket. */
int		 sio_emit(struct sio_socket *, const char *name,
		    const cJSON *args, const struct sio_bins *);
int		 sio_ack(struct sio_socket *, long long ack_id,
		    const cJSON *args, const struct sio_bins *);
/* Emit and ask for an ack; cb gets the client's answer (args NULL when
 * the socket went away first). */
typedef void	(*sio_ack_cb)(struct sio_socket *, cJSON *args,
		    const struct sio_bins *, void *arg);
int		 sio_emit_with_ack(struct sio_socket *, const char *name,
		    const cJSON *args, const struct sio_bins *, sio_ack_cb,
		    void *arg);

const char	*sio_socket_id(const struct sio_socket *);
struct sio_nsp	*sio_socket_nsp(const struct sio_socket *);
/* NULL while the socket is held. */
struct eio_session *sio_socket_engine(const struct sio_socket *);
int		 sio_socket_connected(const struct sio_socket *);
void		*sio_socket_data(const struct sio_socket *);
void		 sio_socket_set_data(struct sio_socket *, void *);
unsigned	 sio_server_connections(const struct sio_server *);

/*
 * Connection state recovery (socket.io 4.6's, with the client's pid and
 * last offset in its CONNECT).  A socket whose connection was lost is
 * held: still connected to the application, in its namespace, sent to as
 * ever (what it is sent is kept), until its client comes back or the
 * window ends (then the disconnect callback, with the loss's reason).
 *
 * In the connect callback, sio_socket_recovering() is the socket the
 * CONNECT asks for (NULL: none): held, or still on a connection its client
 * has given up on (then sio_recover() closes that connection).  The application checks it may have it
 * (the same user) and calls sio_recover(): the held socket takes this
 * connection, is answered with its own sid and pid and sent what it
 * missed; this socket is freed without a disconnect callback.  NULL when
 * it cannot be recovered (it missed what is no longer kept: the held one
 * is then disconnected): the application accepts this one as new.
 * sio_accept() of a socket that asked declines, and leaves the held one
 * held.
 */
struct sio_socket *sio_socket_recovering(const struct sio_socket *);
struct sio_socket *sio_recover(struct sio_socket *);
int		 sio_socket_held(const struct sio_socket *);
/* Its pid (NULL: none, recovery off or not accepted yet). */
const char	*sio_socket_pid(const struct sio_socket *);

/*
 * Sessions of other servers (a cluster's).  In the connect callback,
 * sio_socket_pid_asked() is the pid the CONNECT presented when no session
 * here has it (NULL: none, or an offset we could not read), and *offset
 * the client's last offset (0: none).  If the application finds that
 * session elsewhere and may move it here, sio_adopt() gives this socket
 * its socket id and pid: it is connected (sent to, in its namespace) but
 * its CONNECT is not answered yet and what it is sent is kept; then
 * sio_adopt_finish() answers, sends the other server's packets the client
 * missed (pre-encoded, with that server's offsets), then what was kept.
 * sio_adopt() fails (-1) on ids that are not ours or a pid in use here.
 */
struct sio_adopted {
	const char	*text;		/* "2[...,\"<offset>\"]" */
	size_t		 len;
	int		 nbins;
	const uint8_t	**bins;
	const size_t	*blen;
};
const char	*sio_socket_pid_asked(const struct sio_socket *,
		    uint64_t *offset);
int		 sio_adopt(struct sio_socket *, const char *sid,
		    const char *pid);
void		 sio_adopt_finish(struct sio_socket *,
		    const struct sio_adopted *, size_t n);
int		 sio_socket_adopting(const struct sio_socket *);
/* What a socket was sent after the client's `offset` (still kept: those
 * may not have reached it), oldest first, for another server taking the
 * session over: the number of packets, or -1 when the offset is not one
 * it knows. */
typedef void	(*sio_missed_cb)(void *arg, const char *text, size_t len,
		    int nbins, const uint8_t **bins, const size_t *blen);
long		 sio_socket_missed(const struct sio_socket *, uint64_t offset,
		    sio_missed_cb, void *arg);
const struct sio_recovery_stats *sio_server_recovery_stats(
		    const struct sio_server *);
/* Every held socket leaves now (a drain, a shutdown). */
void		 sio_drop_held(struct sio_server *, const char *reason);

#endif
