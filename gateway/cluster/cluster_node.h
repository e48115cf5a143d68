/*
 * cluster_node.h - the bottom of multi-server mode (cluster_node.c): the
 * Redis session, the node's heartbeat, dead nodes, the status, and the
 * names of every key and channel.  Above it, cluster_rooms.h (rooms across
 * gateways, over the session) and cluster.c (which starts both and
 * registers the rooms' hooks with the core).  The session calls the rooms
 * only through the struct cl_listener it is started with.  Not for the
 * rest of the gateway, which sees cluster.h (main.c) and the hooks
 * (peers.h).
 */
#ifndef COUP_CLUSTER_NODE_H
#define COUP_CLUSTER_NODE_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "redis_link.h"

struct gateway;
struct redisReply;
struct sio_bins;

/* Keys and channels (README.md, "Multi-server mode"); the scripts in
 * lua/ spell them too (tests/tools/check-lua checks that they agree). */
#define CL_PREFIX		"coup:"
#define CL_NODES		CL_PREFIX "nodes"	/* zset id -> last beat */
#define CL_ROOMS		CL_PREFIX "rooms"	/* set of room names */
#define CL_NODE_KEY		CL_PREFIX "node:"	/* + id: hash, expires */
#define CL_ROOM_KEY		CL_PREFIX "room:"	/* + room: hash sid -> member */
#define CL_ROOM_CHAN		CL_PREFIX "ch:room:"	/* + room */
#define CL_NODE_CHAN		CL_PREFIX "ch:node:"	/* + id: our inbox */
#define CL_PID_KEY		CL_PREFIX "pid:"	/* + pid: a session */
#define CL_CALL_KEY		CL_PREFIX "call:"	/* + room: its start, peak */

struct cluster_stats {
	unsigned long long	 published;	/* messages we sent */
	unsigned long long	 received;	/* messages from other nodes */
	unsigned long long	 dropped;	/* events not sent: Redis away */
	unsigned long long	 reconnects;	/* sessions after the first */
	unsigned long long	 reaped;	/* dead nodes we cleaned up */
	unsigned long long	 resyncs;	/* rooms rewritten to Redis */
};

/* What the session tells the rooms (cluster_rooms.c), and asks them
 * for its logs and status. */
struct cl_listener {
	void		(*message)(const char *channel, const char *msg,
			    size_t len);
	void		(*inbox)(const char *msg, size_t len);	/* ours */
	void		(*subscribed)(const char *channel);
	void		(*subscribe_all)(void);	/* the session is setting up */
	void		(*ready)(void);	/* write everything again */
	void		(*down)(void);
	void		(*tick)(void);	/* every CLUSTER_NODE_TIMEOUT_MS / 3 */
	unsigned	(*rooms)(void);
	unsigned	(*members)(void);	/* local */
	unsigned	(*remote)(void);
};

struct cluster {
	struct gateway		*gw;
	const struct cl_listener *up;
	char			 id[96];	/* this node */
	char			 inbox[160];	/* its channel */
	struct redis_link	*cmd, *sub;
	int			 ready;		/* session up and in step */
	double			 up_since;	/* ev_now when it became ready */
	double			 node_timeout;	/* seconds */
	double			 timeout;	/* Redis command, seconds */
	struct cluster_stats	 st;
};

extern struct cluster cl;

/* Connect to Redis at url (REDIS_URL) and keep the session up. */
void	cl_start(struct gateway *, const char *url,
	    const struct cl_listener *);
/* Leave the cluster (one blocking call), then let everything go. */
void	cl_leave(void);
void	cl_free(void);
cJSON	*cl_status(void *);			/* peers.h's status hook */
struct buf;
void	cl_prometheus(void *, struct buf *);	/* and its prometheus */
/* EVAL script with nkeys of argv as keys; -1 when the session is not up. */
int	cl_eval(const char *script, int nkeys, int argc, const char **argv,
	    redis_reply_cb, void *arg);
int	cl_publish(const char *channel, const char *msg);
/* SUBSCRIBE, counted while the session is being set up. */
int	cl_subscribe(const char *channel);
/* Something that should have answered did not: restart the session. */
void	cl_session_failed(const char *why);

#endif
