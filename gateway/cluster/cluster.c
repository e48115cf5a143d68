/*
 * cluster.c - multi-server mode's entry point: main.c calls
 * cluster_start(), which, with REDIS_URL set, starts the node's Redis
 * session (cluster_node.c) with the rooms across gateways
 * (cluster_rooms.c) as its listener, and registers the rooms' hooks with
 * the core (peers.h).  The core never calls in here; everything arrives
 * through those hooks.
 */
#include "cluster.h"
#include "cluster_node.h"
#include "cluster_rooms.h"
#include "config.h"
#include "gateway.h"
#include "peers.h"

static const struct cl_listener rooms = {
	.message = croom_message,
	.inbox = croom_inbox,
	.subscribed = croom_subscribed,
	.subscribe_all = croom_subscribe_all,
	.ready = croom_session_ready,
	.down = croom_session_down,
	.tick = croom_tick,
	.rooms = croom_count,
	.members = croom_local_total,
	.remote = croom_remote_total,
};

/* Leaving for good: out of Redis in one step, then the rooms let go of
 * their remote members, then the session's connections go. */
static void
cluster_stop(void *ctx)
{
	cl_leave();
	croom_stop();
	cl_free();
}

static const struct peer_hooks hooks = {
	.admit = croom_admit,
	.remote_count = croom_remote_count,
	.has_member = croom_has_member,
	.event = croom_event,
	.member_joined = croom_member_joined,
	.member_left = croom_member_left,
	.replay = croom_replay,
	.status = cl_status,
	.prometheus = cl_prometheus,
	.stop = cluster_stop,
};

void
cluster_start(struct gateway *gw)
{
	const char *url = config_str(&gw->cfg, CFG_REDIS_URL);

	if (url == NULL)
		return;		/* one server: nothing here runs */
	cl_start(gw, url, &rooms);
	peers_register(gw, &hooks, NULL);
}
