/*
 * cluster.c - multi-server mode's entry point: main.c calls
 * cluster_start(), which, with REDIS_URL set, starts the node's Redis
 * session (cluster_node.c) with the rooms across gateways
 * (cluster_rooms.c) as its listener, and registers the rooms' hooks with
 * the core (peers.h).  The core never calls in here; everything arrives
 * through those hooks.
 */
#include <stdio.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "cluster.h"
#include "cluster_node.h"
#include "cluster_rooms.h"
#include "cluster_takeover.h"
#include "config.h"
#include "gateway.h"
#include "lua_scripts.h"
#include "peers.h"
#include "timestamp.h"
#include "xmalloc.h"

/* The inbox and the subscriptions serve sessions taking over too. */
static void
inbox(const char *msg, size_t len)
{
	if (!takeover_inbox(msg, len))
		croom_inbox(msg, len);
}

static void
subscribed(const char *channel)
{
	croom_subscribed(channel);
	takeover_subscribed();
}

static const struct cl_listener rooms = {
	.message = croom_message,
	.inbox = inbox,
	.subscribed = subscribed,
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
	takeover_stop();
	croom_stop();
	cl_free();
}

/* ---------------------------------------------------------------- calls */

static void
call_joined(void *ctx, const char *room, unsigned members)
{
	char now[24], n[16];
	const char *av[3] = { room, now, n };

	(void)ctx;
	snprintf(now, sizeof(now), "%lld", timestamp_now_ms());
	snprintf(n, sizeof(n), "%u", members);
	(void)cl_eval(lua_callmark, 0, 3, av, NULL, NULL);
}

struct call_ask {
	peers_call_cb	 cb;
	void		*arg;
};

static void
on_call_end(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct call_ask *q = arg;
	long long started = 0;
	unsigned long peak = 0;

	(void)l;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		started = strtoll(r->element[0]->str, NULL, 10);
		peak = strtoul(r->element[1]->str, NULL, 10);
	}
	q->cb(q->arg, started > 0 ? started : 0,
	    peak < 1000000 ? (unsigned)peak : 0);
	free(q);
}

static int
call_finished(void *ctx, const char *room, peers_call_cb cb, void *arg)
{
	struct call_ask *q = xmalloc(sizeof(*q));
	const char *av[1] = { room };

	(void)ctx;
	q->cb = cb;
	q->arg = arg;
	if (cl_eval(lua_callend, 0, 1, av, on_call_end, q) < 0) {
		free(q);
		return -1;
	}
	return 0;
}

/* The node's status and figures, and the take-overs'. */
static cJSON *
status(void *ctx)
{
	const struct takeover_stats *t = takeover_stats();
	cJSON *o = cl_status(ctx), *k;

	k = cJSON_AddObjectToObject(o, "takeovers");
	cJSON_AddNumberToObject(k, "asked", (double)t->asked);
	cJSON_AddNumberToObject(k, "taken", (double)t->taken);
	cJSON_AddNumberToObject(k, "refused", (double)t->refused);
	cJSON_AddNumberToObject(k, "failed", (double)t->failed);
	cJSON_AddNumberToObject(k, "handedOver", (double)t->handed);
	return o;
}

static void
prometheus(void *ctx, struct buf *b)
{
	const struct takeover_stats *t = takeover_stats();

	cl_prometheus(ctx, b);
	buf_printf(b, "# HELP coup_cluster_takeovers_total Reconnections "
	    "presenting a pid of another gateway's session, by outcome: taken "
	    "over here, none to take (a new session), or failed after it "
	    "began.\n# TYPE coup_cluster_takeovers_total counter\n"
	    "coup_cluster_takeovers_total{result=\"taken\"} %llu\n"
	    "coup_cluster_takeovers_total{result=\"refused\"} %llu\n"
	    "coup_cluster_takeovers_total{result=\"failed\"} %llu\n"
	    "# HELP coup_cluster_handovers_total Sessions of this gateway's "
	    "taken over by another.\n"
	    "# TYPE coup_cluster_handovers_total counter\n"
	    "coup_cluster_handovers_total %llu\n", t->taken, t->refused,
	    t->failed, t->handed);
}

static const struct peer_hooks hooks = {
	.admit = croom_admit,
	.remote_count = croom_remote_count,
	.has_member = croom_has_member,
	.has_user = croom_has_user,
	.event = croom_event,
	.member_joined = croom_member_joined,
	.member_left = croom_member_left,
	.replay = croom_replay,
	.status = status,
	.prometheus = prometheus,
	.stop = cluster_stop,
	.accepted = takeover_accepted,
	.gone = takeover_gone,
	.socket_gone = takeover_socket_gone,
	.take_over = takeover_start,
	.call_joined = call_joined,
	.call_finished = call_finished,
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
