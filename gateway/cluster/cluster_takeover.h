/*
 * cluster_takeover.h - sessions that move between gateways
 * (cluster_takeover.c): the peers.h hooks for them, and what cluster.c
 * hands on from the session (our inbox, confirmed subscriptions).
 */
#ifndef COUP_CLUSTER_TAKEOVER_H
#define COUP_CLUSTER_TAKEOVER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct client;
struct sio_socket;

struct takeover_stats {
	unsigned long long	 asked;		/* pids looked for in Redis */
	unsigned long long	 taken;		/* sessions taken over */
	unsigned long long	 refused;	/* none to take: new sessions */
	unsigned long long	 failed;	/* adopted, then gone wrong */
	unsigned long long	 handed;	/* ours, taken by another node */
};

int	takeover_start(void *, struct sio_socket *, const cJSON *user,
	    const char *pid, uint64_t offset);
void	takeover_accepted(void *, struct client *);
void	takeover_gone(void *, struct client *);
void	takeover_socket_gone(void *, struct sio_socket *);
/* 1 if the inbox message was the take-over's (a snapshot it asked for,
 * a handover, a replay). */
int	takeover_inbox(const char *msg, size_t len);
void	takeover_subscribed(void);
const struct takeover_stats *takeover_stats(void);
void	takeover_stop(void);

#endif
