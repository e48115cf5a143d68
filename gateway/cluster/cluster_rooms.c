/*
 * cluster_rooms.c - rooms across gateways (multi-server mode).
 *
 * Redis holds each room's truth: the hash coup:room:<name>, one field per
 * member (socket id -> {node, socketId, userId, user, flags, joinedAt}),
 * written by the gateway the member is connected to.  A gateway with
 * local members in a room subscribes to the room's channel and keeps a
 * "remote member" for every member on another gateway; those are mirrored
 * into the room's local coup-roomd as members with connection ids no
 * client has, so the room process builds video:room-state, counts
 * presence per user and relays exactly as on one server, and the
 * gateway simply drops what it addresses to them.
 *
 * What a local member does (join, leave, an event) is published on the
 * room's channel as the room process's input, not its output: every
 * gateway feeds it to its own room process, which tells its own members.
 * That keeps "a crash in one room never affects another" per node, and
 * one packet per message whatever the number of recipients.
 *
 * Snapshots of a room are published by a script to the asking node's own
 * channel, on the same pub/sub connection as the room's messages, so a
 * snapshot sits at an exact place in the stream; a join is admitted (or
 * refused as full) by the script that adds the member, which also sends
 * the joiner's gateway the snapshot the joiner's room-state is built on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bounds.h"
#include "checks.h"
#include "clients.h"
#include "cluster_node.h"
#include "cluster_rooms.h"
#include "gateway.h"
#include "hashtab.h"
#include "siphash.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "json.h"
#include "base64.h"
#include "log.h"
#include "lua_scripts.h"
#include "peers.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"
#include "xmalloc.h"

/* Connection ids of remote members: far above any client's. */
#define GHOST_CONN_BASE	(UINT64_C(1) << 62)

/* A member on another gateway. */
struct ghost {
	struct ghost	*next;
	char		*sid, *node, *user_id, *user_json, *status;
	uint8_t		 flags;
	long long	 joined_at;
	uint64_t	 conn;
	int		 seen;
};

struct croom;

/* A join waiting for the cluster's word. */
struct admit {
	struct admit	*next;		/* the room's */
	struct hnode	 hnode;		/* admits, by req */
	struct croom	*cr;
	uint64_t	 conn;
	char		*sid, *member;
	unsigned	 max;
	unsigned	 req;
	int		 started;	/* past its first loop iteration */
	int		 sent;		/* its script went out */
	int		 written;	/* Redis has the member */
	peers_admit_cb	 cb;
	void		*arg;
	ev_timer	 timer;
};

/* A room this gateway has local members in (or is admitting one to). */
struct croom {
	struct hnode	 hnode;		/* crooms, by name */
	char		*name;
	char		*key, *chan;
	struct ghost	*ghosts;
	unsigned	 nghosts;
	unsigned	 nlocal;
	int		 sub;		/* 0 no, 1 asked, 2 subscribed */
	struct admit	*admits;
};

/* A leave that happened while Redis was away. */
struct outleave {
	struct outleave	*next;
	char		*room, *sid;
};

/* By name (chosen by clients: the keyed hash), and joins by number. */
static struct hashtab crooms = HASHTAB_INIT;
static struct hashtab admits = HASHTAB_INIT;
static uint64_t next_ghost = 1;
static unsigned next_req = 1;
static struct outleave *outbox;

static void	croom_release(struct croom *);
static void	admit_finish(struct admit *, int result);

/* ---------------------------------------------------------------- rooms */

#define CROOM(n)	hashtab_entry(n, struct croom, hnode)

static struct croom *
croom_find(const char *name)
{
	uint64_t h = hash_keyed_str(name);

	for (struct hnode *n = hashtab_chain(&crooms, h); n; n = n->next)
		if (n->hash == h && strcmp(CROOM(n)->name, name) == 0)
			return CROOM(n);
	return NULL;
}

static char *
str_cat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = xmalloc(na + nb + 1);

	memcpy(s, a, na);
	memcpy(s + na, b, nb + 1);
	return s;
}

static struct croom *
croom_get(const char *name)
{
	struct croom *cr = croom_find(name);

	if (cr != NULL)
		return cr;
	cr = xcalloc(1, sizeof(*cr));
	cr->name = xstrdup(name);
	cr->key = str_cat(CL_ROOM_KEY, name);
	cr->chan = str_cat(CL_ROOM_CHAN, name);
	hashtab_insert(&crooms, &cr->hnode, hash_keyed_str(name));
	if (cl.ready && cl_subscribe(cr->chan) == 0)
		cr->sub = 1;
	return cr;
}

static struct ghost *
ghost_find(struct croom *cr, const char *sid)
{
	for (struct ghost *g = cr->ghosts; g != NULL; g = g->next)
		if (strcmp(g->sid, sid) == 0)
			return g;
	return NULL;
}

static void
ghost_free(struct ghost *g)
{
	free(g->sid);
	free(g->node);
	free(g->user_id);
	cJSON_free(g->user_json);
	free(g->status);
	free(g);
}

/* ---------------------------------------------------------------- to roomd */

static struct room *
local_room(struct croom *cr)
{
	return room_find(cl.gw, cr->name);
}

static void
join_body(struct buf *b, const struct ghost *g, uint8_t extra)
{
	struct ipc_join j = {
		.conn = g->conn,
		.socket_id = ipc_str(g->sid),
		.user_id = ipc_str(g->user_id),
		.user = ipc_str(g->user_json),
		.flags = g->flags | extra,
		.joined_at = g->joined_at,
	};

	/* ghost_new() held the record to its bounds. */
	if (ipc_put_join(b, &j) < 0)
		fatalx("cluster: member %s is over its bounds", g->sid);
}

static void
push_join(struct room *r, const struct ghost *g, int silent)
{
	struct buf b = BUF_INIT;

	if (r == NULL)
		return;
	join_body(&b, g, silent ? IPC_M_REPLAY : 0);
	child_send(r->child, IPC_JOIN, b.data, b.len);
	buf_free(&b);
}

static void
push_leave(struct room *r, const struct ghost *g, int reason)
{
	struct buf b = BUF_INIT;

	if (r == NULL)
		return;
	ipc_put_leave(&b, &(struct ipc_leave){ g->conn, (uint8_t)reason });
	child_send(r->child, IPC_LEAVE, b.data, b.len);
	buf_free(&b);
}

/*
 * An event of a remote member g, or of a remote guest (sid, uid, user):
 * its payload's text and message id as checked (or made) here.
 */
static void
push_event(struct room *r, const struct ghost *g, const char *sid,
    const char *uid, const char *user, int event, const char *msg_id,
    const char *payload, size_t len, const struct ipc_bins *bins)
{
	struct buf b = BUF_INIT;
	struct ipc_event_msg e = {
		.conn = g ? g->conn : 0,
		.event = (uint16_t)event,
		.flags = g ? 0 : IPC_E_GUEST,
		.socket_id = ipc_str(sid),
		.user_id = ipc_str(uid),
		.user = ipc_str(user),
		.msg_id = ipc_str(msg_id),
		.payload = { payload, len },
	};

	if (r == NULL)
		return;
	if (bins != NULL)
		e.bins = *bins;
	if (ipc_put_event(&b, &e) == 0)
		child_send(r->child, IPC_EVENT, b.data, b.len);
	else
		log_warnx("cluster: an event for %s is over its bounds; "
		    "dropped", r->name);
	buf_free(&b);
}

/* An event we make up for a remote member (its flags, its status). */
static void
push_made_event(struct room *r, const struct ghost *g, int event, cJSON *p)
{
	char *text = cJSON_PrintUnformatted(p);

	push_event(r, g, NULL, NULL, NULL, event, NULL, text, strlen(text),
	    NULL);
	cJSON_free(text);
	cJSON_Delete(p);
}

/* ---------------------------------------------------------------- members */

static const char *
jstr(const cJSON *o, const char *k, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(v) || strlen(v->valuestring) > max)
		return NULL;
	return v->valuestring;
}

/* An id of a peer's record (socket, user, node): as a client's. */
static const char *
jid(const cJSON *o, const char *k, size_t max)
{
	const char *s = jstr(o, k, max);

	return s != NULL && check_id_text(s, max) == 0 ? s : NULL;
}

/* A presence status: as short as a client's must be. */
static const char *
jstatus(const cJSON *o)
{
	const char *s = jstr(o, "status", 4 * BOUND_STATUS_CHARS);

	return s != NULL && check_chars(s) <= BOUND_STATUS_CHARS ? s : NULL;
}

/*
 * A member record from Redis or a peer's message; NULL if it is not one.
 * A peer is checked like a client: every field to the same bounds, so
 * what it says can never reach a room process that would refuse it.
 */
static struct ghost *
ghost_new(const cJSON *m)
{
	const char *sid = jid(m, "socketId", BOUND_SOCKET_ID);
	const char *node = jid(m, "node", BOUND_NODE_ID);
	const char *uid = jid(m, "userId", BOUND_USER_ID);
	const char *status = jstatus(m);
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(m, "user");
	const cJSON *flags = cJSON_GetObjectItemCaseSensitive(m, "flags");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(m, "joinedAt");
	struct ghost *g;
	long long ms;

	if (sid == NULL || node == NULL || uid == NULL ||
	    check_user(user) < 0) {
		log_debug("cluster: a member record that is not one ignored");
		return NULL;
	}
	g = xcalloc(1, sizeof(*g));
	g->sid = xstrdup(sid);
	g->node = xstrdup(node);
	g->user_id = xstrdup(uid);
	g->user_json = cJSON_PrintUnformatted(user);	/* xmalloc's hooks */
	if (status != NULL)
		g->status = xstrdup(status);
	g->flags = cJSON_IsNumber(flags) ? (uint8_t)(flags->valueint &
	    (IPC_M_MUTED | IPC_M_VIDEO_OFF | IPC_M_SHARING)) : 0;
	g->joined_at = cJSON_IsNumber(at) && json_safe_integer(at->valuedouble,
	    &ms) == 0 ? ms : timestamp_now_ms();
	g->conn = GHOST_CONN_BASE + next_ghost++;
	return g;
}

static void
ghost_add(struct croom *cr, struct ghost *g, int silent)
{
	struct room *r = local_room(cr);
	cJSON *p;

	g->next = cr->ghosts;
	cr->ghosts = g;
	cr->nghosts++;
	push_join(r, g, silent);
	if (g->status != NULL && r != NULL && r->kind == ROOM_STUDY) {
		/* The room process learns a status from its event. */
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "status", g->status);
		push_made_event(r, g, IPC_EV_PRESENCE_STATUS_CHANGE, p);
	}
}

static void
ghost_remove(struct croom *cr, struct ghost *g, int reason)
{
	struct ghost **pp;

	for (pp = &cr->ghosts; *pp != NULL; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	cr->nghosts--;
	push_leave(local_room(cr), g, reason);
	ghost_free(g);
}

/* A media-flag event of remote member g: {roomId[, field: on]}. */
static void
push_flag(struct room *r, const struct ghost *g, int event,
    const char *field, int on)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "roomId", r->id);
	if (field != NULL)
		cJSON_AddBoolToObject(p, field, on);
	push_made_event(r, g, event, p);
}

/* A record says something new about a member we know: tell the room
 * process through the events that would have said it. */
static void
ghost_update(struct croom *cr, struct ghost *g, const cJSON *m, int tell)
{
	struct room *r = local_room(cr);
	const cJSON *flags = cJSON_GetObjectItemCaseSensitive(m, "flags");
	const char *status = jstatus(m);
	const char *node = jid(m, "node", BOUND_NODE_ID);
	uint8_t nf;
	cJSON *p;

	/* A session taken over by another node (takeover.lua). */
	if (node != NULL && strcmp(node, g->node) != 0) {
		free(g->node);
		g->node = xstrdup(node);
	}
	if (cJSON_IsNumber(flags)) {
		nf = (uint8_t)(flags->valueint & (IPC_M_MUTED |
		    IPC_M_VIDEO_OFF | IPC_M_SHARING));
		if (tell && r != NULL && r->kind == ROOM_VIDEO) {
			uint8_t diff = nf ^ g->flags;

			if (diff & IPC_M_MUTED)
				push_flag(r, g, IPC_EV_VIDEO_TOGGLE_AUDIO,
				    "isMuted", nf & IPC_M_MUTED);
			if (diff & IPC_M_VIDEO_OFF)
				push_flag(r, g, IPC_EV_VIDEO_TOGGLE_VIDEO,
				    "isVideoOff", nf & IPC_M_VIDEO_OFF);
			if (diff & IPC_M_SHARING)
				push_flag(r, g, (nf & IPC_M_SHARING) ?
				    IPC_EV_VIDEO_SCREEN_SHARE_START :
				    IPC_EV_VIDEO_SCREEN_SHARE_STOP, NULL, 0);
		}
		g->flags = nf;
	}
	if (status != NULL && (g->status == NULL ||
	    strcmp(status, g->status) != 0)) {
		free(g->status);
		g->status = xstrdup(status);
		if (tell && r != NULL && r->kind == ROOM_STUDY) {
			p = cJSON_CreateObject();
			cJSON_AddStringToObject(p, "status", status);
			push_made_event(r, g, IPC_EV_PRESENCE_STATUS_CHANGE,
			    p);
		}
	}
}

/* ---------------------------------------------------------------- local */

static char *
member_json(const struct client *c, const struct membership *m,
    const char *status)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(o, "node", cl.id);
	cJSON_AddStringToObject(o, "socketId", sio_socket_id(c->sock));
	cJSON_AddStringToObject(o, "userId", c->user_id);
	cJSON_AddItemToObject(o, "user", cJSON_Duplicate(c->user, 1));
	cJSON_AddNumberToObject(o, "flags", m ? m->flags : 0);
	cJSON_AddNumberToObject(o, "joinedAt", (double)(m ? m->joined_at :
	    timestamp_now_ms()));
	if (status != NULL)
		cJSON_AddStringToObject(o, "status", status);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* {"t":..., "node":us, ...} with the rest added by the caller. */
static cJSON *
message(const char *type)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "t", type);
	cJSON_AddStringToObject(o, "node", cl.id);
	return o;
}

static char *
print_free(cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return text;
}

static void
send_leave(const char *room, const char *sid, int reason)
{
	cJSON *o = message("leave");
	char *key = str_cat(CL_ROOM_KEY, room), *chan = str_cat(CL_ROOM_CHAN,
	    room), *msg, rs[8];
	const char *av[6];

	cJSON_AddStringToObject(o, "sid", sid);
	cJSON_AddNumberToObject(o, "reason", reason);
	msg = print_free(o);
	snprintf(rs, sizeof(rs), "%d", reason);
	av[0] = key;
	av[1] = CL_ROOMS;
	av[2] = sid;
	av[3] = chan;
	av[4] = msg;
	av[5] = room;
	if (cl_eval(lua_leave, 2, 6, av, NULL, NULL) == 0)
		cl.st.published++;
	else {
		struct outleave *o2 = xcalloc(1, sizeof(*o2));

		o2->room = xstrdup(room);
		o2->sid = xstrdup(sid);
		o2->next = outbox;
		outbox = o2;
	}
	free(key);
	free(chan);
	cJSON_free(msg);
}

static void
on_resync(struct redis_link *l, struct redisReply *r, void *arg)
{
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("redis: resynchronising a room failed: %s", r->str);
}

/*
 * Write all our members of the room, drop our stale ones, and ask for a
 * snapshot of the rest: one script, with the members as one JSON list
 * however many there are.
 */
static void
resync(struct croom *cr)
{
	struct room *r = local_room(cr);
	cJSON *list = cJSON_CreateArray();
	char nodekey[256], *members;
	const char *av[9];
	unsigned n = r ? r->count : 0;

	for (unsigned i = 0; i < n; i++) {
		struct membership *m = r->members[i];
		cJSON *pair = cJSON_CreateArray();
		char *text = member_json(m->client, m, NULL);

		cJSON_AddItemToArray(pair, cJSON_CreateString(
		    sio_socket_id(m->client->sock)));
		cJSON_AddItemToArray(pair, cJSON_CreateString(text));
		cJSON_AddItemToArray(list, pair);
		cJSON_free(text);
	}
	members = print_free(list);
	snprintf(nodekey, sizeof(nodekey), CL_NODE_KEY "%s:rooms", cl.id);
	av[0] = cr->key;
	av[1] = nodekey;
	av[2] = CL_ROOMS;
	av[3] = cl.id;
	av[4] = cr->name;
	av[5] = cr->chan;
	av[6] = cl.inbox;
	av[7] = "0";		/* no admit waits for this snapshot */
	av[8] = members;
	cl_eval(lua_resync, 3, 9, av, on_resync, NULL);
	cl.st.resyncs++;
	cJSON_free(members);
}

/* ---------------------------------------------------------------- admits */

static struct admit *
admit_by_req(unsigned req)
{
	uint64_t h = hash_u64(req);

	for (struct hnode *n = hashtab_chain(&admits, h); n; n = n->next) {
		struct admit *a = hashtab_entry(n, struct admit, hnode);

		if (a->req == req)
			return a;
	}
	return NULL;
}

static void
on_admit_reply(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct admit *a = admit_by_req((unsigned)(uintptr_t)arg);

	if (a == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warnx("redis: join script failed: %s", r->str);
		admit_finish(a, PEERS_LOCAL);
	} else if (r->integer == 0)
		admit_finish(a, PEERS_FULL);
	else
		a->written = 1;	/* the snapshot finishes it */
}

static void
admit_send(struct admit *a)
{
	struct croom *cr = a->cr;
	cJSON *o = message("join");
	char nodekey[256], max[16], req[16], *msg;
	const char *av[11];

	cJSON_AddItemToObject(o, "m", cJSON_Parse(a->member));
	msg = print_free(o);
	snprintf(nodekey, sizeof(nodekey), CL_NODE_KEY "%s:rooms", cl.id);
	snprintf(max, sizeof(max), "%u", a->max);
	snprintf(req, sizeof(req), "%u", a->req);
	av[0] = cr->key;
	av[1] = nodekey;
	av[2] = CL_ROOMS;
	av[3] = a->sid;
	av[4] = a->member;
	av[5] = max;
	av[6] = cr->chan;
	av[7] = msg;
	av[8] = cr->name;
	av[9] = cl.inbox;
	av[10] = req;
	if (cl_eval(lua_join, 3, 11, av, on_admit_reply,
	    (void *)(uintptr_t)a->req) < 0)
		admit_finish(a, PEERS_LOCAL);
	else {
		a->sent = 1;
		cl.st.published++;
	}
	cJSON_free(msg);
}

static void
on_admit_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct admit *a = w->data;
	unsigned req = a->req;

	/* Redis took too long: treat the session as broken (that fails this
	 * admit, and every other, as local). */
	cl_session_failed("a join got no answer in time");
	if ((a = admit_by_req(req)) != NULL)
		admit_finish(a, PEERS_LOCAL);
}

/* The deferred first step: cb is never called from inside croom_admit. */
static void
on_admit_start(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct admit *a = w->data;

	if (!cl.ready) {
		admit_finish(a, PEERS_LOCAL);
		return;
	}
	a->started = 1;
	ev_init(&a->timer, on_admit_timeout);
	a->timer.data = a;
	ev_timer_set(&a->timer, cl.timeout * 1.5, 0.);
	ev_timer_start(loop, &a->timer);
	if (a->cr->sub == 0 && cl_subscribe(a->cr->chan) == 0)
		a->cr->sub = 1;
	if (a->cr->sub == 2)
		admit_send(a);
	/* else: sent once the subscription is confirmed */
}

static void
admit_finish(struct admit *a, int result)
{
	struct croom *cr = a->cr;
	struct admit **pp;
	struct room *r = NULL;
	struct client *c;

	for (pp = &cr->admits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	hashtab_remove(&admits, &a->hnode);
	ev_timer_stop(cl.gw->loop, &a->timer);
	if (result != PEERS_FULL) {
		/* The room and what it must know before the joiner. */
		int had = local_room(cr) != NULL;

		r = room_get(cl.gw, cr->name);
		if (!had)
			for (struct ghost *g = cr->ghosts; g; g = g->next)
				push_join(r, g, 1);
	}
	a->cb(a->arg, result);
	c = client_find(cl.gw, a->conn);
	r = local_room(cr);
	if (a->written && (c == NULL || r == NULL ||
	    room_membership(r, c) == NULL))
		/* Gone, or not let in after all: take it back. */
		send_leave(cr->name, a->sid, IPC_LEAVE_DISCONNECT);
	if (r != NULL)
		room_idle_check(r);
	free(a->sid);
	cJSON_free(a->member);
	free(a);
	if (cr->nlocal == 0 && cr->admits == NULL)
		croom_release(cr);
}

/*
 * Run fn on every admit (of one room, or all when cr is NULL) found by
 * its number, since finishing one may free its room or others.
 */
static void
admits_each(struct croom *only, void (*fn)(struct admit *))
{
	unsigned *reqs = NULL, n = 0, cap = 0;
	struct hnode *h, *next;

	hashtab_foreach(&admits, h, next) {
		struct admit *a = hashtab_entry(h, struct admit, hnode);

		if (only != NULL && a->cr != only)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			reqs = xreallocarray(reqs, cap, sizeof(*reqs));
		}
		reqs[n++] = a->req;
	}
	for (unsigned i = 0; i < n; i++) {
		struct admit *a = admit_by_req(reqs[i]);

		if (a != NULL)
			fn(a);
	}
	free(reqs);
}

static void
admit_send_if_started(struct admit *a)
{
	if (a->started && !a->sent)
		admit_send(a);
}

static void
admit_fail_local(struct admit *a)
{
	admit_finish(a, PEERS_LOCAL);
}

/* Leaving the cluster: the join goes ahead here, and nothing is sent. */
static void
admit_drop(struct admit *a)
{
	struct admit **pp;

	for (pp = &a->cr->admits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	hashtab_remove(&admits, &a->hnode);
	ev_timer_stop(cl.gw->loop, &a->timer);
	a->cb(a->arg, PEERS_LOCAL);
	free(a->sid);
	cJSON_free(a->member);
	free(a);
}

void
croom_admit(void *ctx, struct client *c, const char *room, unsigned max,
    peers_admit_cb cb, void *arg)
{
	struct croom *cr = croom_get(room);
	struct admit *a = xcalloc(1, sizeof(*a));

	a->sid = xstrdup(sio_socket_id(c->sock));
	a->cr = cr;
	a->conn = c->conn;
	a->member = member_json(c, NULL, NULL);
	a->max = max;
	a->req = next_req++;
	if (next_req == 0)
		next_req = 1;
	a->cb = cb;
	a->arg = arg;
	a->next = cr->admits;
	cr->admits = a;
	hashtab_insert(&admits, &a->hnode, hash_u64(a->req));
	ev_timer_init(&a->timer, on_admit_start, 0., 0.);
	a->timer.data = a;
	ev_timer_start(cl.gw->loop, &a->timer);
}

/* ---------------------------------------------------------------- snapshots */

static int
in_list(const cJSON *list, const char *s)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, list)
		if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0)
			return 1;
	return 0;
}

/*
 * Make our remote members those of the snapshot.  One not in it is gone
 * if its node is alive (its node wrote everything it has); a node not
 * alive may be one that has not written its state again after Redis came
 * back empty, so its members are given the node timeout to reappear.
 */
static void
reconcile(struct croom *cr, const cJSON *members, const cJSON *alive,
    int force_silent)
{
	struct room *r = local_room(cr);
	int silent = force_silent || r == NULL || r->count == 0;
	double now = ev_now(cl.gw->loop);
	const cJSON *m;
	struct ghost *g, *next;

	for (g = cr->ghosts; g != NULL; g = g->next)
		g->seen = 0;
	cJSON_ArrayForEach(m, members) {
		const char *node = jid(m, "node", BOUND_NODE_ID);
		const char *sid = jid(m, "socketId", BOUND_SOCKET_ID);

		if (node == NULL || sid == NULL || strcmp(node, cl.id) == 0)
			continue;
		if ((g = ghost_find(cr, sid)) != NULL)
			ghost_update(cr, g, m, 1);
		else if ((g = ghost_new(m)) != NULL)
			ghost_add(cr, g, silent);
		if (g != NULL)
			g->seen = 1;
	}
	for (g = cr->ghosts; g != NULL; g = next) {
		next = g->next;
		if (!g->seen && (in_list(alive, g->node) ||
		    now - cl.up_since >= cl.node_timeout))
			ghost_remove(cr, g, IPC_LEAVE_DISCONNECT);
	}
}

void
croom_inbox(const char *msg, size_t len)
{
	cJSON *o = json_parse_strict(msg, len, NULL);
	const cJSON *t, *room, *req, *members, *alive;
	struct croom *cr;

	if (o == NULL)
		return;
	t = cJSON_GetObjectItemCaseSensitive(o, "t");
	room = cJSON_GetObjectItemCaseSensitive(o, "room");
	req = cJSON_GetObjectItemCaseSensitive(o, "req");
	members = cJSON_GetObjectItemCaseSensitive(o, "m");
	alive = cJSON_GetObjectItemCaseSensitive(o, "alive");
	if (cJSON_IsString(t) && strcmp(t->valuestring, "snap") == 0 &&
	    cJSON_IsString(room) && (cr = croom_find(room->valuestring)) !=
	    NULL) {
		reconcile(cr, members, alive, 0);
		if (cJSON_IsNumber(req) && req->valueint > 0) {
			struct admit *a = admit_by_req((unsigned)req->valueint);

			if (a != NULL && a->cr == cr) {
				a->written = 1;
				admit_finish(a, PEERS_ADMITTED);
			}
		}
	}
	cJSON_Delete(o);
}

/* ---------------------------------------------------------------- messages */

/*
 * A peer's attachments: base64 strings, held to a client's bounds (their
 * count, and the payload's size with them).  Decoded in place into the
 * message's own strings.  0, or -1 if they are not that.
 */
static int
peer_bins(cJSON *list, size_t payload_len, struct ipc_bins *bins)
{
	cJSON *v;
	size_t total = payload_len;
	long n;

	bins->n = 0;
	if (list == NULL)
		return 0;
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > BOUND_ATTACHMENTS)
		return -1;
	cJSON_ArrayForEach(v, list) {
		if (!cJSON_IsString(v) || (n = base64_decode((uint8_t *)
		    v->valuestring, v->valuestring, strlen(v->valuestring))) < 0 ||
		    (size_t)n > BOUND_PAYLOAD - total)
			return -1;
		total += (size_t)n;
		bins->bin[bins->n].p = v->valuestring;
		bins->bin[bins->n++].len = (size_t)n;
	}
	return 0;
}

/*
 * A peer's event for the room, checked as a client's would be (checks.c)
 * before its room process hears of it; the payload goes on as the peer's
 * text, which is its client's.
 */
static void
peer_event(struct croom *cr, cJSON *o, const char *text, size_t len)
{
	struct ipc_bins bins;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "from");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "p");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "m");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(from, "user");
	const char *e = jstr(o, "e", 64);
	const char *sid = jid(from, "socketId", BOUND_SOCKET_ID);
	const char *uid = jid(from, "userId", BOUND_USER_ID);
	const char *id = jstr(o, "id", BOUND_MESSAGE_ID);
	int event = e ? ipc_event_by_name(e) : 0;
	size_t chat_max = (size_t)config_int(&cl.gw->cfg, CFG_CHAT_MAX_LENGTH);
	struct json_span span;
	struct ghost *g;
	char why[160] = "";

	if (event <= 0 || sid == NULL || uid == NULL || check_user(user) < 0 ||
	    check_payload(e, p, chat_max, why, sizeof(why)) < 0 ||
	    json_member(text, len, "p", &span) < 0 ||
	    peer_bins(cJSON_GetObjectItemCaseSensitive(o, "bins"), span.len,
	    &bins) < 0) {
		log_debug("cluster: an event for %s refused%s%s", cr->name,
		    *why ? ": " : "", why);
		return;
	}
	/* (A peer of the previous version put the id in the payload.) */
	if (id == NULL && (id = jstr(p, "id", BOUND_MESSAGE_ID)) == NULL)
		id = "";
	g = ghost_find(cr, sid);
	if (g != NULL && cJSON_IsObject(m))
		ghost_update(cr, g, m, 0);
	if (g != NULL)
		push_event(local_room(cr), g, NULL, NULL, NULL, event, id,
		    span.p, span.len, &bins);
	else {
		char *uj = cJSON_PrintUnformatted(user);

		push_event(local_room(cr), NULL, sid, uid, uj, event, id,
		    span.p, span.len, &bins);
		cJSON_free(uj);
	}
}

/*
 * Another node took over the session of our member sid (takeover.lua):
 * from here on it is that node's, unheard by anyone.  In the room process
 * the member becomes our mirror of it, the same member under a new
 * connection id.  1 if that was it (cr may be released), 0 if the
 * message is not about one of ours.
 */
static int
handed_over(struct croom *cr, const cJSON *o, const char *sid,
    const cJSON *m)
{
	const char *moved = jid(o, "moved", BOUND_NODE_ID);
	struct room *r = local_room(cr);
	struct membership *mb;
	struct client *c;
	struct ghost *g;

	if (moved == NULL || strcmp(moved, cl.id) != 0 || r == NULL ||
	    (c = client_by_socket(cl.gw, sid)) == NULL ||
	    (mb = room_membership(r, c)) == NULL || (g = ghost_new(m)) == NULL)
		return 0;
	g->next = cr->ghosts;
	cr->ghosts = g;
	cr->nghosts++;
	room_handed_over(mb, g->conn);
	log_info("cluster: socket %s in %s is now %s's (taken over)", sid,
	    cr->name, g->node);
	if (cr->nlocal > 0)
		cr->nlocal--;
	if (cr->nlocal == 0 && cr->admits == NULL)
		croom_release(cr);
	return 1;
}

void
croom_message(const char *channel, const char *msg, size_t len)
{
	struct croom *cr;
	cJSON *o;
	const cJSON *t, *node;
	struct ghost *g;
	char *text;

	if (strncmp(channel, CL_ROOM_CHAN, strlen(CL_ROOM_CHAN)) != 0 ||
	    (cr = croom_find(channel + strlen(CL_ROOM_CHAN))) == NULL)
		return;
	/* As strict as a client's packet: a peer is checked like one. */
	if ((o = json_parse_strict(msg, len, &text)) == NULL) {
		log_debug("cluster: a message on %s that is not JSON ignored",
		    channel);
		return;
	}
	t = cJSON_GetObjectItemCaseSensitive(o, "t");
	node = cJSON_GetObjectItemCaseSensitive(o, "node");
	if (!cJSON_IsString(t) || !cJSON_IsString(node) ||
	    strcmp(node->valuestring, cl.id) == 0) {
		cJSON_Delete(o);
		free(text);
		return;		/* ours: our room process had it first */
	}
	cl.st.received++;
	if (strcmp(t->valuestring, "join") == 0) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "m");
		const char *sid = jid(m, "socketId", BOUND_SOCKET_ID);

		if (sid != NULL && (g = ghost_find(cr, sid)) != NULL)
			ghost_update(cr, g, m, 1);
		else if (sid != NULL && handed_over(cr, o, sid, m))
			;	/* cr may be gone */
		else if (sid != NULL && (g = ghost_new(m)) != NULL) {
			struct room *r = local_room(cr);

			ghost_add(cr, g, r == NULL || r->count == 0);
		}
	} else if (strcmp(t->valuestring, "leave") == 0) {
		const char *sid = jid(o, "sid", BOUND_SOCKET_ID);
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(o,
		    "reason");

		if (sid != NULL && (g = ghost_find(cr, sid)) != NULL)
			ghost_remove(cr, g, cJSON_IsNumber(reason) ?
			    reason->valueint & 0xff : IPC_LEAVE_DISCONNECT);
	} else if (strcmp(t->valuestring, "ev") == 0)
		peer_event(cr, o, text, len);
	cJSON_Delete(o);
	free(text);
}

/* ---------------------------------------------------------------- hooks */

void
croom_member_joined(void *ctx, struct membership *m)
{
	croom_get(m->room->name)->nlocal++;
}

void
croom_member_left(void *ctx, struct room *r, struct client *c, int reason)
{
	struct croom *cr;

	if ((cr = croom_find(r->name)) == NULL)
		return;
	send_leave(r->name, sio_socket_id(c->sock), reason);
	if (cr->nlocal > 0)
		cr->nlocal--;
	if (cr->nlocal == 0 && cr->admits == NULL)
		croom_release(cr);
}

/* No local member left: forget the room's remote members and stop
 * listening to it. */
static void
croom_release(struct croom *cr)
{
	struct ghost *g;
	char nodekey[256];

	while ((g = cr->ghosts) != NULL) {
		cr->ghosts = g->next;
		push_leave(local_room(cr), g, IPC_LEAVE_DISCONNECT);
		ghost_free(g);
	}
	if (cr->sub != 0)
		redis_link_unsubscribe(cl.sub, cr->chan);
	if (cl.ready) {
		const char *av[3] = { "SREM", nodekey, cr->name };
		size_t len[3];

		snprintf(nodekey, sizeof(nodekey), CL_NODE_KEY "%s:rooms",
		    cl.id);
		len[0] = 4;
		len[1] = strlen(nodekey);
		len[2] = strlen(cr->name);
		redis_link_cmd(cl.cmd, NULL, NULL, 3, av, len);
	}
	hashtab_remove(&crooms, &cr->hnode);
	free(cr->name);
	free(cr->key);
	free(cr->chan);
	free(cr);
}

void
croom_event(void *ctx, const char *room, struct client *c, int event,
    int guest, const char *msg_id, const cJSON *payload, const char *raw,
    size_t raw_len, const struct sio_bins *bins)
{
	struct croom *cr = croom_find(room);
	cJSON *o, *from;
	char *msg, *text;
	const char *name = ipc_event_name(event);
	int update = 0;

	if (name == NULL)
		return;
	switch (event) {
	case IPC_EV_VIDEO_TOGGLE_AUDIO:
	case IPC_EV_VIDEO_TOGGLE_VIDEO:
	case IPC_EV_VIDEO_SCREEN_SHARE_START:
	case IPC_EV_VIDEO_SCREEN_SHARE_STOP:
	case IPC_EV_PRESENCE_STATUS_CHANGE:
		/* State: Redis must have it even if nobody else is here
		 * yet, for whoever joins next. */
		update = !guest && cr != NULL;
		break;
	}
	/*
	 * Always published, even when we know of nobody elsewhere: a member
	 * who just joined on another gateway has its ack (and may be sent
	 * to) before its join reaches us.  Guests (study chat from outside
	 * the room) cannot know who is there at all.
	 */
	if (!guest && cr == NULL)
		return;
	if (event == IPC_EV_VIDEO_OFFER || event == IPC_EV_VIDEO_ANSWER ||
	    event == IPC_EV_VIDEO_ICE_CANDIDATE) {
		const cJSON *to = cJSON_GetObjectItemCaseSensitive(payload,
		    "to");

		if (cr == NULL || !cJSON_IsString(to) ||
		    ghost_find(cr, to->valuestring) == NULL)
			return;		/* for a local socket, done */
	}
	if (!cl.ready) {
		cl.st.dropped++;
		log_debug("redis away: %s in %s not sent to other gateways",
		    name, room);
		return;
	}
	o = message("ev");
	cJSON_AddStringToObject(o, "e", name);
	from = cJSON_AddObjectToObject(o, "from");
	cJSON_AddStringToObject(from, "socketId", sio_socket_id(c->sock));
	cJSON_AddStringToObject(from, "userId", c->user_id);
	cJSON_AddItemToObject(from, "user", cJSON_Duplicate(c->user, 1));
	if (msg_id != NULL && *msg_id != '\0')
		cJSON_AddStringToObject(o, "id", msg_id);
	/* The payload as the client wrote it: printed again it could grow
	 * (and be larger at every gateway than what was sent). */
	text = xmalloc(raw_len + 1);
	memcpy(text, raw, raw_len);
	text[raw_len] = '\0';
	cJSON_AddItemToObject(o, "p", cJSON_CreateRaw(text));
	free(text);
	if (bins != NULL && bins->n > 0) {
		cJSON *list = cJSON_AddArrayToObject(o, "bins");

		/* Pub/sub carries text: the attachments go as base64. */
		for (int i = 0; i < bins->n; i++) {
			char *b64 = xmalloc(BASE64_ENCODED_LEN(bins->len[i]) + 1);

			base64_encode(b64, bins->data[i], bins->len[i]);
			b64[BASE64_ENCODED_LEN(bins->len[i])] = '\0';
			cJSON_AddItemToArray(list, cJSON_CreateString(b64));
			free(b64);
		}
	}
	if (update) {
		struct room *r = room_find(cl.gw, room);
		struct membership *m = r ? room_membership(r, c) : NULL;
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(payload,
		    "status");
		char *mj = member_json(c, m, event ==
		    IPC_EV_PRESENCE_STATUS_CHANGE && cJSON_IsString(st) ?
		    st->valuestring : NULL);
		const char *av[5];

		cJSON_AddItemToObject(o, "m", cJSON_Parse(mj));
		msg = print_free(o);
		av[0] = cr->key;
		av[1] = sio_socket_id(c->sock);
		av[2] = mj;
		av[3] = cr->chan;
		av[4] = msg;
		if (cl_eval(lua_update, 1, 5, av, NULL, NULL) == 0)
			cl.st.published++;
		cJSON_free(mj);
	} else {
		char *chan = str_cat(CL_ROOM_CHAN, room);

		msg = print_free(o);
		cl_publish(chan, msg);
		free(chan);
	}
	cJSON_free(msg);
}

unsigned
croom_remote_count(void *ctx, const char *room)
{
	struct croom *cr;

	if ((cr = croom_find(room)) == NULL)
		return 0;
	return cr->nghosts;
}

int
croom_has_member(void *ctx, const char *room, const char *socket_id)
{
	struct croom *cr;

	if ((cr = croom_find(room)) == NULL)
		return 0;
	return ghost_find(cr, socket_id) != NULL;
}

int
croom_has_user(void *ctx, const char *room, const char *user_id)
{
	struct croom *cr;

	if ((cr = croom_find(room)) == NULL)
		return 0;
	for (struct ghost *g = cr->ghosts; g != NULL; g = g->next)
		if (strcmp(g->user_id, user_id) == 0)
			return 1;
	return 0;
}

void
croom_replay(void *ctx, struct room *r, peers_push_cb push, void *arg)
{
	struct croom *cr;
	struct buf b = BUF_INIT;

	if ((cr = croom_find(r->name)) == NULL)
		return;
	for (struct ghost *g = cr->ghosts; g != NULL; g = g->next) {
		buf_reset(&b);
		join_body(&b, g, IPC_M_REPLAY);
		push(arg, g->conn, b.data, b.len);
	}
	buf_free(&b);
}


/* ---------------------------------------------------------------- take-over */

int
croom_listen(const char *room)
{
	struct croom *cr = croom_get(room);

	if (cr->sub == 0 && cl_subscribe(cr->chan) == 0)
		cr->sub = 1;
	return cr->sub == 2;
}

void
croom_forget(const char *room)
{
	struct croom *cr = croom_find(room);

	if (cr != NULL && cr->nlocal == 0 && cr->admits == NULL)
		croom_release(cr);
}

int
croom_adopt(const char *room, struct client *c, const cJSON *members,
    const cJSON *alive)
{
	struct croom *cr = croom_find(room);
	const char *sid = sio_socket_id(c->sock);
	const cJSON *mine = NULL, *m, *flags, *at;
	const char *status;
	struct ghost *g, **pp;
	struct room *r;
	uint64_t from = 0;
	long long joined;

	if (cr == NULL)
		return -1;
	cJSON_ArrayForEach(m, members) {
		const char *s2 = jid(m, "socketId", BOUND_SOCKET_ID);
		const char *node = jid(m, "node", BOUND_NODE_ID);

		if (s2 != NULL && node != NULL && strcmp(s2, sid) == 0 &&
		    strcmp(node, cl.id) == 0)
			mine = m;
	}
	if (mine == NULL || (r = room_get(cl.gw, room)) == NULL)
		return -1;
	/* It stood for itself here as a mirror: the same member, ours. */
	for (pp = &cr->ghosts; (g = *pp) != NULL; pp = &g->next)
		if (strcmp(g->sid, sid) == 0) {
			*pp = g->next;
			cr->nghosts--;
			from = g->conn;
			ghost_free(g);
			break;
		}
	/* The others as the snapshot has them, none announced: the client
	 * knew them all. */
	reconcile(cr, members, alive, 1);
	flags = cJSON_GetObjectItemCaseSensitive(mine, "flags");
	at = cJSON_GetObjectItemCaseSensitive(mine, "joinedAt");
	if (!cJSON_IsNumber(at) || json_safe_integer(at->valuedouble,
	    &joined) < 0)
		joined = timestamp_now_ms();
	room_adopt(r, c, cJSON_IsNumber(flags) ? (uint8_t)flags->valueint : 0,
	    joined, from);
	/* A room new here learns the member's presence status as any
	 * status is learnt: from its event (heard by nobody here but it). */
	if (from == 0 && r->kind == ROOM_STUDY &&
	    (status = jstatus(mine)) != NULL) {
		cJSON *p = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(p, "status", status);
		text = print_free(p);
		(void)room_event(r, c, IPC_EV_PRESENCE_STATUS_CHANGE, 0, NULL,
		    text, strlen(text), NULL);
		cJSON_free(text);
	}
	return 0;
}

/* ---------------------------------------------------------------- session */

void
croom_subscribe_all(void)
{
	struct hnode *n, *next;

	hashtab_foreach(&crooms, n, next)
		if (cl_subscribe(CROOM(n)->chan) == 0)
			CROOM(n)->sub = 1;
}

void
croom_subscribed(const char *channel)
{
	struct croom *cr;

	if (strncmp(channel, CL_ROOM_CHAN, strlen(CL_ROOM_CHAN)) != 0 ||
	    (cr = croom_find(channel + strlen(CL_ROOM_CHAN))) == NULL)
		return;
	cr->sub = 2;
	if (!cl.ready)
		return;		/* croom_session_ready() sends them */
	admits_each(cr, admit_send_if_started);
}

void
croom_session_ready(void)
{
	struct outleave *o;
	struct hnode *n, *next;

	/* Leaves Redis missed first, then each room as it is now. */
	while ((o = outbox) != NULL) {
		outbox = o->next;
		send_leave(o->room, o->sid, IPC_LEAVE_DISCONNECT);
		free(o->room);
		free(o->sid);
		free(o);
	}
	hashtab_foreach(&crooms, n, next)
		if (CROOM(n)->nlocal > 0)
			resync(CROOM(n));
	admits_each(NULL, admit_send_if_started);
}

void
croom_session_down(void)
{
	struct hnode *n, *next;

	hashtab_foreach(&crooms, n, next)
		CROOM(n)->sub = 0;
	/* Joins in flight go ahead here; Redis learns of them from the
	 * resync. */
	admits_each(NULL, admit_fail_local);
}

void
croom_tick(void)
{
	char req[4] = "0";
	struct hnode *n, *next;

	hashtab_foreach(&crooms, n, next) {
		struct croom *cr = CROOM(n);
		const char *av[4] = { cr->key, cr->name, req, cl.inbox };

		if (cr->sub == 2 && cr->nlocal > 0)
			cl_eval(lua_snapshot, 1, 4, av, NULL, NULL);
	}
}

void
croom_stop(void)
{
	struct hnode *n, *next;

	/* Joins in flight first, found by number: their callbacks may move
	 * members, hence free other rooms. */
	admits_each(NULL, admit_drop);
	hashtab_foreach(&crooms, n, next) {
		CROOM(n)->nlocal = 0;
		croom_release(CROOM(n));
	}
	hashtab_free(&crooms);
	hashtab_free(&admits);
	while (outbox != NULL) {
		struct outleave *o = outbox;

		outbox = o->next;
		free(o->room);
		free(o->sid);
		free(o);
	}
}

unsigned
croom_count(void)
{
	return (unsigned)crooms.count;
}

unsigned
croom_remote_total(void)
{
	unsigned total = 0;
	struct hnode *n, *next;

	hashtab_foreach(&crooms, n, next)
		total += CROOM(n)->nghosts;
	return total;
}

unsigned
croom_local_total(void)
{
	unsigned total = 0;
	struct hnode *n, *next;

	hashtab_foreach(&crooms, n, next)
		total += CROOM(n)->nlocal;
	return total;
}
