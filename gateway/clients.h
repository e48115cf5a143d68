/*
 * clients.h - authenticated sockets (clients.c).
 *
 * Every socket that passed authentication is a struct client with a
 * connection id (what room processes call it), its user, the rooms it is
 * in (struct membership, rooms.h), its rate limit and its events kept for
 * later.  Every user with a connection here has a struct user: its
 * connections and the distinct rooms they are in (USER_ROOMS_MAX).
 */
#ifndef COUP_CLIENTS_H
#define COUP_CLIENTS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "event_queue.h"
#include "gateway.h"
#include "hashtab.h"
#include "ratelimit.h"
#include "replies.h"

struct coupapi_req;
struct membership;
struct room;
struct sio_socket;

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

/* The contract's error codes, for the one-a-second throttle. */
#define CLIENT_ERROR_CODES	ERR_NCODES

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
	struct hnode		 by_conn;	/* clients.c's two indexes */
	struct hnode		 by_sid;
	struct rate_bucket	 rate;		/* events.c */
	/* When the last `error` of each code went (one a second). */
	double			 error_at[CLIENT_ERROR_CODES];
	struct equeue		 eq;		/* its events kept for later */
	/* Why its socket is gone (while it leaves its rooms), else NULL. */
	const char		*gone_why;
	/* chat ids: unique even within one millisecond */
	long long		 last_id_ms;
	unsigned		 id_seq;
};

/* An authenticated socket; user is {id,name,email,avatar} (copied).
 * Accepts the socket. */
void		 client_accepted(struct gateway *, struct sio_socket *,
		    const cJSON *user);
/* The same, as a new session whatever it asked (the peers found none of
 * its pid's), and a session taken over from another gateway: the socket
 * gets the session's socket id and pid (sio_adopt()); NULL if it cannot. */
void		 client_new(struct gateway *, struct sio_socket *,
		    const cJSON *user);
struct client	*client_adopted(struct gateway *, struct sio_socket *,
		    const cJSON *user, const char *sid, const char *pid);
struct client	*client_find(struct gateway *, uint64_t conn);
struct client	*client_by_socket(struct gateway *, const char *socket_id);
struct client	*client_of(struct sio_socket *);
/* The `error` event to the client, at most one a second per code. */
void		 client_error(struct client *, const char *code,
		    const char *message);
/* The socket is gone: leave every room, cancel checks, free. */
void		 client_gone(struct client *, const char *reason);
unsigned	 clients_count(struct gateway *);
void		 clients_foreach(struct gateway *,
		    void (*fn)(struct client *, void *), void *arg);
/* The rooms of the client's user: in it?  one more (+1) or less (-1). */
int		 user_in_room(const struct user *, const struct room *);
void		 user_room_ref(struct user *, struct room *, int delta);

#endif
