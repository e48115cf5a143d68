/*
 * cluster.h - multi-server mode: gateways that share rooms through Redis.
 *
 * With REDIS_URL unset every function here does nothing (or answers "not
 * clustered") and the gateway behaves exactly as a single server.  With it
 * set, cluster.c keeps two connections to Redis (commands, pub/sub), the
 * node's heartbeat, and the translation between this gateway's rooms and
 * the cluster: members on other gateways ("remote members") are mirrored
 * into the local room process so it decides who hears what as if they
 * were here, and what local members do is published for the other
 * gateways.  The layout of keys and channels is in README.md
 * ("Multi-server mode") and coup-gateway(8).
 */
#ifndef COUP_CLUSTER_H
#define COUP_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct gateway;
struct client;
struct membership;
struct room;
struct sio_bins;

/* main.c */
void	cluster_start(struct gateway *);
/* Leave the cluster at exit: our members and our node go at once. */
void	cluster_stop(struct gateway *);
int	cluster_active(void);

/*
 * events.c: a join must first be admitted by the cluster (capacity is
 * cluster-wide, and the joiner must see the members on other gateways).
 * cb gets CLUSTER_ADMITTED, CLUSTER_FULL, or CLUSTER_LOCAL when Redis
 * cannot answer now (the join goes ahead locally and is written to Redis
 * when it is back).  cb is always called later, never from inside.
 */
enum { CLUSTER_ADMITTED, CLUSTER_FULL, CLUSTER_LOCAL };
typedef void	(*cluster_admit_cb)(void *arg, int result);
void	cluster_admit(struct gateway *, struct client *, const char *room,
	    unsigned max, cluster_admit_cb, void *arg);
/* Members of the room on other gateways. */
unsigned cluster_remote_count(const char *room);
/* Whether socket_id is a member of the room on another gateway. */
int	cluster_has_member(const char *room, const char *socket_id);
/* A checked event of a local client for the room: tell the others.  The
 * payload as parsed and as the client wrote it (raw); msg_id: chat's. */
void	cluster_event(struct gateway *, const char *room, struct client *,
	    int event, int guest, const char *msg_id, const cJSON *payload,
	    const char *raw, size_t raw_len, const struct sio_bins *);

/* rooms.c: a local member joined or left (before it is freed). */
void	cluster_member_joined(struct membership *);
void	cluster_member_left(struct room *, struct client *, int reason);

/* supervisor.c: a new room process must hear the remote members too, as
 * silent replays; push gets each one's IPC_JOIN body. */
void	cluster_replay(struct room *,
	    void (*push)(void *arg, uint64_t conn, const void *body,
	    size_t len), void *arg);

/* endpoints.c, control.c: {node, redis, nodes[], rooms[]...}; NULL when
 * not clustered. */
cJSON	*cluster_status(void);
struct buf;
/* The Prometheus samples of multi-server mode (nothing when off). */
void	cluster_prometheus(struct buf *);

#endif
