/*
 * cluster_rooms.h - rooms across gateways (cluster_rooms.c): remote members
 * mirrored into the room process, joins admitted by Redis, snapshots,
 * resynchronisation; over the session of cluster_node.h.
 */
#ifndef COUP_CLUSTER_ROOMS_H
#define COUP_CLUSTER_ROOMS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "peers.h"

struct sio_bins;

/* The hooks of peers.h (ctx unused: one cluster). */
void	croom_admit(void *, struct client *, const char *room, unsigned max,
	    peers_admit_cb, void *arg);
unsigned croom_remote_count(void *, const char *room);
int	croom_has_member(void *, const char *room, const char *socket_id);
int	croom_has_user(void *, const char *room, const char *user_id);
void	croom_event(void *, const char *room, struct client *, int event,
	    int guest, const char *msg_id, const cJSON *payload,
	    const char *raw, size_t raw_len, const struct sio_bins *);
void	croom_member_joined(void *, struct membership *);
void	croom_member_left(void *, struct room *, struct client *,
	    int reason);
void	croom_replay(void *, struct room *, peers_push_cb, void *arg);
/* the session's listener (struct cl_listener) */
void	croom_subscribe_all(void);
void	croom_subscribed(const char *channel);
void	croom_session_ready(void);	/* outbox, then every room resynced */
void	croom_session_down(void);
void	croom_tick(void);		/* a snapshot of every room */
void	croom_message(const char *channel, const char *msg, size_t len);
void	croom_inbox(const char *msg, size_t len);
/* A session taking over (cluster_takeover.c): listen to room (1 once
 * subscribed), forget it again if nothing came of it, and make client c,
 * whose record in the snapshot `members` says it is ours now, the room's
 * member as it was (0, or -1 if it is not in the snapshot as ours). */
int	croom_listen(const char *room);
void	croom_forget(const char *room);
int	croom_adopt(const char *room, struct client *, const cJSON *members,
	    const cJSON *alive);
void	croom_stop(void);
unsigned croom_count(void);
unsigned croom_remote_total(void);
unsigned croom_local_total(void);

#endif
