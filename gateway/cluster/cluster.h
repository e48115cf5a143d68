/*
 * cluster.h - multi-server mode: gateways that share rooms through Redis.
 *
 * With REDIS_URL unset the gateway behaves exactly as a single server.
 * With it set, cluster.c keeps two connections to Redis (commands,
 * pub/sub) and the node's heartbeat, and cluster_rooms.c translates
 * between this gateway's rooms and the cluster: members on other gateways ("remote members") are mirrored
 * into the local room process so it decides who hears what as if they
 * were here, and what local members do is published for the other
 * gateways.  The layout of keys and channels is in README.md
 * ("Multi-server mode") and coup-gateway(8).
 */
#ifndef COUP_CLUSTER_H
#define COUP_CLUSTER_H

struct gateway;

/*
 * main.c: with REDIS_URL set, join the cluster and register its hooks
 * (peers.h), through which the core tells it of joins, leaves and events
 * and asks it about members elsewhere; peers_stop() leaves the cluster.
 * Without REDIS_URL nothing is registered and nothing here runs.
 */
void	cluster_start(struct gateway *);

#endif
