/*
 * cluster_int.h - what the two halves of multi-server mode share:
 * cluster.c (the Redis session, the node's heartbeat, dead nodes, the
 * status) and cluster_rooms.c (rooms across gateways).  Not for the rest
 * of the gateway, which sees cluster.h only.
 */
#ifndef COUP_CLUSTER_INT_H
#define COUP_CLUSTER_INT_H

#include <stddef.h>

#include <ev.h>

#include "redis_link.h"

struct gateway;
struct redisReply;

/* Keys and channels (README.md, "Multi-server mode"). */
#define CL_PREFIX		"coup:"
#define CL_NODES		CL_PREFIX "nodes"	/* zset id -> last beat */
#define CL_ROOMS		CL_PREFIX "rooms"	/* set of room names */
#define CL_NODE_KEY		CL_PREFIX "node:"	/* + id: hash, expires */
#define CL_ROOM_KEY		CL_PREFIX "room:"	/* + room: hash sid -> member */
#define CL_ROOM_CHAN		CL_PREFIX "ch:room:"	/* + room */
#define CL_NODE_CHAN		CL_PREFIX "ch:node:"	/* + id: our inbox */

struct cluster_stats {
	unsigned long long	 published;	/* messages we sent */
	unsigned long long	 received;	/* messages from other nodes */
	unsigned long long	 dropped;	/* events not sent: Redis away */
	unsigned long long	 reconnects;	/* sessions after the first */
	unsigned long long	 reaped;	/* dead nodes we cleaned up */
	unsigned long long	 resyncs;	/* rooms rewritten to Redis */
};

struct cluster {
	struct gateway		*gw;
	int			 on;
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

/* cluster.c */
extern const char cl_lua_join[], cl_lua_leave[], cl_lua_update[],
	cl_lua_snapshot[], cl_lua_resync[];
/* EVAL script with nkeys of argv as keys; -1 when the session is not up. */
int	cl_eval(const char *script, int nkeys, int argc, const char **argv,
	    redis_reply_cb, void *arg);
int	cl_publish(const char *channel, const char *msg);
/* SUBSCRIBE, counted while the session is being set up. */
int	cl_subscribe(const char *channel);
/* Something that should have answered did not: restart the session. */
void	cl_session_failed(const char *why);

/* cluster_rooms.c */
void	croom_subscribe_all(void);
void	croom_subscribed(const char *channel);
void	croom_session_ready(void);	/* outbox, then every room resynced */
void	croom_session_down(void);
void	croom_tick(void);		/* a snapshot of every room */
void	croom_message(const char *channel, const char *msg, size_t len);
void	croom_inbox(const char *msg, size_t len);
void	croom_stop(void);
unsigned croom_count(void);
unsigned croom_remote_total(void);
unsigned croom_local_total(void);

#endif
