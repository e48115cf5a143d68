/*
 * cluster_node.c - multi-server mode: this gateway as one node of a
 * cluster that shares rooms through Redis: the Redis session, the node's
 * heartbeat, dead nodes, the status.  It knows nothing of rooms: what
 * comes in for them goes to the listener cluster.c gave cl_start()
 * (cluster_rooms.c's functions), and cluster_rooms.c sends through
 * cl_eval(), cl_publish() and cl_subscribe().
 *
 * Two connections per gateway, whatever the number of rooms or users: one
 * for commands, one for pub/sub (a subscribed connection takes no other
 * command).  They make one session: if either fails, both are closed and
 * reopened with growing delays, and once both are back and subscribed the
 * node writes its whole state again (Redis may have restarted empty) and
 * reads the others'.  Local rooms never wait for Redis: while it is away
 * they go on with the members they know.
 *
 * Every CLUSTER_NODE_TIMEOUT_MS / 3 the node beats: its key
 * coup:node:<id> (a hash of what coupctl cluster shows) is rewritten with
 * that expiry, and its id scored with Redis's clock in coup:nodes.  The
 * same tick looks for nodes whose key has expired: whichever live node
 * sees one first removes its members from every room it was in and
 * publishes their departures, atomically (a Lua script), so a node killed
 * with -9 leaves its calls within the timeout plus one tick.
 *
 * Multi-key work is done in Lua scripts (the .lua files in lua/) so that
 * each change and the message announcing it are one step in Redis: no
 * other node can see the one without the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "autoconfig.h"
#include "buf.h"
#include "cluster_node.h"
#include "gateway.h"
#include "log.h"
#include "lua_scripts.h"
#include "random_id.h"
#include "rooms.h"
#include "timestamp.h"
#include "xmalloc.h"

struct cluster cl;

/* Session state beyond struct cluster. */
static int subscribing;		/* SUBSCRIBEs sent, confirmations awaited */
static unsigned sub_pending;
static int registered;		/* our heartbeat key was there last time */
static double backoff;
static double down_since;	/* 0 while up */
static double last_down_log;
static char down_why[160];
static ev_timer retry_timer, tick_timer;
static cJSON *overview;		/* the cluster as the last tick saw it */
static double overview_at;

/* ---------------------------------------------------------------- commands */

/*
 * No limit on argc here: every script takes a fixed few arguments, and
 * what grows with a room travels as one JSON argument (lua_resync).
 */
int
cl_eval(const char *script, int nkeys, int argc, const char **argv,
    redis_reply_cb cb, void *arg)
{
	const char **av;
	size_t *len;
	char nk[16];
	int rc;

	if (!cl.ready)
		return -1;
	av = xcalloc(argc + 3, sizeof(*av));
	len = xcalloc(argc + 3, sizeof(*len));
	snprintf(nk, sizeof(nk), "%d", nkeys);
	av[0] = "EVAL";
	av[1] = script;
	av[2] = nk;
	for (int i = 0; i < argc; i++)
		av[3 + i] = argv[i];
	for (int i = 0; i < argc + 3; i++)
		len[i] = strlen(av[i]);
	rc = redis_link_cmd(cl.cmd, cb, arg, argc + 3, av, len);
	free(av);
	free(len);
	return rc;
}

int
cl_publish(const char *channel, const char *msg)
{
	const char *av[3] = { "PUBLISH", channel, msg };
	size_t len[3] = { 7, strlen(channel), strlen(msg) };

	if (!cl.ready)
		return -1;
	cl.st.published++;
	return redis_link_cmd(cl.cmd, NULL, NULL, 3, av, len);
}

/* ---------------------------------------------------------------- session */

static void	session_down(const char *why);

static void
on_pubsub(struct redis_link *l, struct redisReply *r, void *arg)
{
	const char *kind, *ch;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return;
	kind = r->element[0]->str;
	ch = r->element[1]->str;
	if (strcmp(kind, "message") == 0 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		if (strcmp(ch, cl.inbox) == 0)
			cl.up->inbox(r->element[2]->str, r->element[2]->len);
		else
			cl.up->message(ch, r->element[2]->str,
			    r->element[2]->len);
		return;
	}
	if (strcmp(kind, "subscribe") != 0)
		return;
	if (strcmp(ch, cl.inbox) != 0)
		cl.up->subscribed(ch);
	if (subscribing && --sub_pending == 0) {
		/* Everything we listen to is in place: now write and read. */
		subscribing = 0;
		cl.ready = 1;
		cl.up_since = ev_now(cl.gw->loop);
		backoff = 0;
		if (down_since > 0)
			log_info("redis %s: back after %.1f s; resynchronising "
			    "%u rooms", redis_link_where(cl.cmd),
			    ev_now(cl.gw->loop) - down_since, cl.up->rooms());
		else
			log_info("redis %s: connected; node %s",
			    redis_link_where(cl.cmd), cl.id);
		down_since = 0;
		cl.up->ready();
		ev_invoke(cl.gw->loop, &tick_timer, EV_TIMER);
	}
}

int
cl_subscribe(const char *channel)
{
	if (!redis_link_is_up(cl.sub) || !redis_link_is_up(cl.cmd))
		return -1;
	if (redis_link_subscribe(cl.sub, on_pubsub, NULL, channel) < 0)
		return -1;
	if (subscribing)
		sub_pending++;
	return 0;
}

static void
on_link_up(struct redis_link *l, void *arg)
{
	if (!redis_link_is_up(cl.cmd) || !redis_link_is_up(cl.sub) ||
	    cl.ready || subscribing)
		return;
	subscribing = 1;
	sub_pending = 0;
	cl_subscribe(cl.inbox);
	cl.up->subscribe_all();
}

static void
on_link_down(struct redis_link *l, const char *why, void *arg)
{
	session_down(why);
}

static void
session_down(const char *why)
{
	double now = ev_now(cl.gw->loop);
	double max_backoff = cl.node_timeout / 2 < 5.0 ? cl.node_timeout / 2 :
	    5.0;
	int was_up = cl.ready || subscribing;

	cl.ready = 0;
	subscribing = 0;
	registered = 0;
	redis_link_close(cl.cmd);
	redis_link_close(cl.sub);
	cl.up->down();
	if (down_since == 0) {
		down_since = now;
		last_down_log = now;
		snprintf(down_why, sizeof(down_why), "%s", why);
		log_warnx("redis %s: %s; rooms go on with the members this "
		    "gateway knows, reconnecting", redis_link_where(cl.cmd),
		    why);
	} else if (now - last_down_log >= 30.0) {
		last_down_log = now;
		snprintf(down_why, sizeof(down_why), "%s", why);
		log_warnx("redis %s: still unreachable after %.0f s (%s)",
		    redis_link_where(cl.cmd), now - down_since, why);
	} else
		log_debug("redis %s: %s", redis_link_where(cl.cmd), why);
	(void)was_up;
	if (ev_is_active(&retry_timer))
		return;
	backoff = backoff == 0 ? 0.25 : backoff * 2;
	if (backoff > max_backoff)
		backoff = max_backoff;
	ev_timer_set(&retry_timer, backoff, 0.);
	ev_timer_start(cl.gw->loop, &retry_timer);
}

void
cl_session_failed(const char *why)
{
	if (cl.ready || subscribing)
		session_down(why);
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (cl.ready || subscribing)
		return;
	cl.st.reconnects++;
	redis_link_open(cl.cmd);
	redis_link_open(cl.sub);
}

/* ---------------------------------------------------------------- tick */

static void
on_heartbeat(struct redis_link *l, struct redisReply *r, void *arg)
{
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		return;
	if (r->integer == 0 && registered) {
		/* Declared dead (we were too slow) or Redis lost its data
		 * under us: the others have dropped our members. */
		log_warnx("cluster: this node's heartbeat key had expired; "
		    "writing its %u rooms again", cl.up->rooms());
		cl.up->ready();
	}
	registered = 1;
}

static void
on_reaped(struct redis_link *l, struct redisReply *r, void *arg)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING) {
			cl.st.reaped++;
			log_warnx("cluster: node %s stopped beating; its "
			    "members have been removed from its rooms",
			    r->element[i]->str);
		}
}

static void
on_overview(struct redis_link *l, struct redisReply *r, void *arg)
{
	cJSON *o;

	if (r == NULL || r->type != REDIS_REPLY_STRING)
		return;
	if ((o = cJSON_ParseWithLength(r->str, r->len)) == NULL)
		return;
	cJSON_Delete(overview);
	overview = o;
	overview_at = ev_now(cl.gw->loop);
}

static void
heartbeat(void)
{
	char key[256], ttl[32], port[16], pid[16], started[32], conns[16],
	    rooms[16], remote[16];
	const char *host = config_str(&cl.gw->cfg, CFG_HOST);
	const char *av[] = {
		CL_NODES, key, cl.id, ttl,
		"host", host && *host ? host : "*",
		"port", port, "pid", pid, "started", started,
		"connections", conns, "rooms", rooms, "remote", remote,
		"version", PACKAGE_VERSION,
	};
	const char *none[] = { "" };

	snprintf(key, sizeof(key), CL_NODE_KEY "%s", cl.id);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)(cl.node_timeout * 1000));
	snprintf(port, sizeof(port), "%lld", config_int(&cl.gw->cfg, CFG_PORT));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(started, sizeof(started), "%lld", timestamp_now_ms() -
	    (long long)((timestamp_mono() - cl.gw->started) * 1000));
	snprintf(conns, sizeof(conns), "%u", clients_count(cl.gw));
	snprintf(rooms, sizeof(rooms), "%u", rooms_count(cl.gw));
	snprintf(remote, sizeof(remote), "%u", cl.up->remote());
	cl_eval(lua_heartbeat, 2, (int)(sizeof(av) / sizeof(av[0])), av,
	    on_heartbeat, NULL);
	cl_eval(lua_reap, 0, 1, none, on_reaped, NULL);
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (!cl.ready)
		return;
	heartbeat();
	cl.up->tick();
	cl_eval(lua_overview, 0, 0, NULL, on_overview, NULL);
}

/* ---------------------------------------------------------------- API */

void
cl_start(struct gateway *gw, const char *url, const struct cl_listener *up)
{
	static const struct redis_link_cbs cbs = { on_link_up, on_link_down };
	char host[64], rnd[9], err[256];

	if (redis_url_check(url, err, sizeof(err)) < 0)
		fatalx("%s", err);
	cl.gw = gw;
	cl.up = up;
	cl.timeout = config_int(&gw->cfg, CFG_REDIS_TIMEOUT_MS) / 1000.0;
	cl.node_timeout = config_int(&gw->cfg, CFG_CLUSTER_NODE_TIMEOUT_MS) /
	    1000.0;
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "gateway");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)	/* ids go into Lua and JSON as is */
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			*p = '-';
	random_id(rnd, 8);
	for (char *p = rnd; *p; p++)
		if (*p == '_')
			*p = 'x';
	snprintf(cl.id, sizeof(cl.id), "%s-%lld-%s", host,
	    config_int(&gw->cfg, CFG_PORT), rnd);
	snprintf(cl.inbox, sizeof(cl.inbox), CL_NODE_CHAN "%s", cl.id);
	cl.cmd = redis_link_new(gw->loop, url, "command", cl.timeout, &cbs,
	    NULL);
	cl.sub = redis_link_new(gw->loop, url, "pub/sub", cl.timeout, &cbs,
	    NULL);
	ev_init(&retry_timer, on_retry);
	ev_timer_init(&tick_timer, on_tick, cl.node_timeout / 3,
	    cl.node_timeout / 3);
	ev_timer_start(gw->loop, &tick_timer);
	log_info("multi-server mode: node %s, Redis %s, nodes time out "
	    "after %.1f s", cl.id, redis_link_where(cl.cmd), cl.node_timeout);
	redis_link_open(cl.cmd);
	redis_link_open(cl.sub);
}

/*
 * Leaving for good: one blocking call (bounded by REDIS_TIMEOUT_MS) that
 * removes our members and our node at once, so the others need not wait
 * for our heartbeat to expire.  Then nothing more goes to Redis.
 */
void
cl_leave(void)
{
	redisContext *c = NULL;
	struct redis_link *probe = cl.cmd;

	if (cl.ready) {
		struct timeval tv;
		const char *where = redis_link_where(probe);
		char host[300];
		int port = 6379;
		char *colon;

		tv.tv_sec = (long)cl.timeout;
		tv.tv_usec = (long)((cl.timeout - (double)tv.tv_sec) * 1e6);
		if (strncmp(where, "unix:", 5) == 0)
			c = redisConnectUnixWithTimeout(where + 5, tv);
		else {
			snprintf(host, sizeof(host), "%s", where);
			if ((colon = strrchr(host, ':')) != NULL) {
				*colon = '\0';
				port = atoi(colon + 1);
			}
			c = redisConnectWithTimeout(host, port, tv);
		}
	}
	redis_link_close(cl.cmd);
	redis_link_close(cl.sub);
	if (c != NULL && c->err == 0) {
		redisReply *r;

		redisSetTimeout(c, (struct timeval){ (long)cl.timeout + 1, 0 });
		r = redisCommand(c, "EVAL %s 0 %s", lua_reap, cl.id);
		if (r == NULL)
			log_warnx("redis: could not leave the cluster: %s",
			    c->errstr);
		else
			log_info("cluster: node %s left", cl.id);
		freeReplyObject(r);
	}
	if (c != NULL)
		redisFree(c);
	cl.ready = 0;
}

void
cl_free(void)
{
	struct gateway *gw = cl.gw;

	ev_timer_stop(gw->loop, &retry_timer);
	ev_timer_stop(gw->loop, &tick_timer);
	redis_link_free(cl.cmd);
	redis_link_free(cl.sub);
	cJSON_Delete(overview);
	overview = NULL;
}

cJSON *
cl_status(void *ctx)
{
	cJSON *d, *redis, *local, *st;
	double now;

	now = ev_now(cl.gw->loop);
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "node", cl.id);
	redis = cJSON_AddObjectToObject(d, "redis");
	cJSON_AddStringToObject(redis, "address", redis_link_where(cl.cmd));
	cJSON_AddBoolToObject(redis, "connected", cl.ready);
	if (cl.ready)
		cJSON_AddNumberToObject(redis, "upSeconds",
		    (double)(long long)(now - cl.up_since));
	else {
		cJSON_AddNumberToObject(redis, "downSeconds", down_since > 0 ?
		    (double)(long long)(now - down_since) : 0);
		if (down_since > 0)
			cJSON_AddStringToObject(redis, "error", down_why);
	}
	cJSON_AddNumberToObject(d, "nodeTimeoutMs",
	    (double)(long long)(cl.node_timeout * 1000));
	local = cJSON_AddObjectToObject(d, "local");
	cJSON_AddNumberToObject(local, "rooms", cl.up->rooms());
	cJSON_AddNumberToObject(local, "members", cl.up->members());
	cJSON_AddNumberToObject(local, "remoteMembers", cl.up->remote());
	st = cJSON_AddObjectToObject(d, "counters");
	cJSON_AddNumberToObject(st, "published", (double)cl.st.published);
	cJSON_AddNumberToObject(st, "received", (double)cl.st.received);
	cJSON_AddNumberToObject(st, "dropped", (double)cl.st.dropped);
	cJSON_AddNumberToObject(st, "reconnects", (double)cl.st.reconnects);
	cJSON_AddNumberToObject(st, "reaped", (double)cl.st.reaped);
	cJSON_AddNumberToObject(st, "resyncs", (double)cl.st.resyncs);
	if (overview != NULL) {
		const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(overview,
		    "nodes");
		const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(overview,
		    "rooms");

		/* Lua's cjson writes an empty table as {}. */
		cJSON_AddItemToObject(d, "nodes", cJSON_IsArray(nodes) ?
		    cJSON_Duplicate(nodes, 1) : cJSON_CreateArray());
		cJSON_AddItemToObject(d, "rooms", cJSON_IsArray(rooms) ?
		    cJSON_Duplicate(rooms, 1) : cJSON_CreateArray());
		cJSON_AddItemToObject(d, "now", cJSON_Duplicate(
		    cJSON_GetObjectItemCaseSensitive(overview, "now"), 1));
		cJSON_AddNumberToObject(d, "seenSecondsAgo",
		    (double)(long long)(now - overview_at));
	} else {
		cJSON_AddItemToObject(d, "nodes", cJSON_CreateArray());
		cJSON_AddItemToObject(d, "rooms", cJSON_CreateArray());
	}
	return d;
}

static void
prom(struct buf *b, const char *name, const char *type, const char *help,
    double value)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help,
	    name, type, name, value);
}

void
cl_prometheus(void *ctx, struct buf *b)
{
	unsigned alive = 0;
	const cJSON *nodes, *n;

	nodes = overview ? cJSON_GetObjectItemCaseSensitive(overview,
	    "nodes") : NULL;
	cJSON_ArrayForEach(n, nodes)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "alive")))
			alive++;
	prom(b, "coup_cluster_redis_up", "gauge", "1 when the Redis session "
	    "is up and in step.", cl.ready);
	prom(b, "coup_cluster_nodes", "gauge", "Live gateways in the cluster, "
	    "as of the last heartbeat.", alive);
	prom(b, "coup_cluster_rooms", "gauge", "Rooms this gateway shares with "
	    "the cluster.", cl.up->rooms());
	prom(b, "coup_cluster_remote_members", "gauge", "Members on other "
	    "gateways of the rooms this gateway has members in.",
	    cl.up->remote());
	prom(b, "coup_cluster_messages_published_total", "counter", "Messages "
	    "this gateway published.", (double)cl.st.published);
	prom(b, "coup_cluster_messages_received_total", "counter", "Messages "
	    "received from other gateways.", (double)cl.st.received);
	prom(b, "coup_cluster_events_dropped_total", "counter", "Events not "
	    "sent to other gateways because Redis was away.",
	    (double)cl.st.dropped);
	prom(b, "coup_cluster_reconnects_total", "counter", "Attempts to "
	    "reconnect to Redis.", (double)cl.st.reconnects);
	prom(b, "coup_cluster_nodes_reaped_total", "counter", "Dead gateways "
	    "this one cleaned up after.", (double)cl.st.reaped);
}
