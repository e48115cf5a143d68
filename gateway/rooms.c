/*
 * rooms.c - the routing table: which clients are in which room, and the
 * messages that keep each room's process in step with it.
 *
 * A room exists while it has members (and for ROOM_IDLE_TIMEOUT seconds
 * after the last one left, so a quick rejoin finds its process warm).
 * Membership lives here, not in the room process, because the gateway is
 * the one that must survive: when a room process dies its members are
 * still members, and supervisor.c replays them into the next one.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "ipc_msg.h"
#include "siphash.h"
#include "log.h"
#include "peers.h"
#include "replies.h"
#include "rooms.h"
#include "sio_server.h"
#include "spares.h"
#include "timestamp.h"
#include "turn.h"
#include "watchers.h"
#include "xmalloc.h"

/* Every room, by name: names are chosen by clients, hence the keyed
 * hash (hashtab.h). */
static struct hashtab by_name = HASHTAB_INIT;

struct room *
room_find(struct gateway *gw, const char *name)
{
	uint64_t h = hash_keyed_str(name);

	for (struct hnode *n = hashtab_chain(&by_name, h); n; n = n->next) {
		struct room *r = hashtab_entry(n, struct room, hnode);

		if (n->hash == h && strcmp(r->name, name) == 0)
			return r;
	}
	return NULL;
}

static void	room_free(struct room *);

/*
 * MAX_ROOMS bounds the rooms, hence the room processes: one member could
 * otherwise open room after room (each keeps a process for
 * ROOM_IDLE_TIMEOUT once empty) until the machine runs out of processes
 * for everyone.  At the cap, an empty room waiting out its idle time is
 * closed first; a join of a room that exists is never refused here.
 */
static void
close_one_idle(struct hnode *n, void *arg)
{
	struct room *r = hashtab_entry(n, struct room, hnode);
	int *closed = arg;

	if (!*closed && r->count == 0 && ev_is_active(&r->idle)) {
		log_debug("room %s: closed early, MAX_ROOMS reached", r->name);
		room_free(r);
		*closed = 1;
	}
}

int
rooms_may_open(struct gateway *gw, const char *name)
{
	static double warned = -1e9;
	unsigned max = (unsigned)config_int(&gw->cfg, CFG_MAX_ROOMS);
	int closed = 0;

	if (by_name.count < max || room_find(gw, name) != NULL)
		return 1;
	hashtab_walk(&by_name, close_one_idle, &closed);
	if (closed)
		return 1;
	if (ev_now(gw->loop) - warned >= 10) {
		warned = ev_now(gw->loop);
		log_warnx("rooms: MAX_ROOMS (%u) reached and none is empty; "
		    "joins of new rooms get ROOM_UNAVAILABLE", max);
	}
	return 0;
}

static void
on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct room *r = w->data;

	if (r->count == 0) {
		log_debug("room %s: idle, retiring its process", r->name);
		room_free(r);
	}
}

struct room *
room_get(struct gateway *gw, const char *name)
{
	struct room *r = room_find(gw, name);

	if (r != NULL)
		return r;
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	r->gw = gw;
	r->id = strchr(r->name, ':') + 1;
	r->kind = strncmp(name, "video:", 6) == 0 ? ROOM_VIDEO : ROOM_STUDY;
	ev_init(&r->idle, on_idle);
	r->idle.data = r;
	hashtab_insert(&by_name, &r->hnode, hash_keyed_str(name));
	r->child = child_start(gw->supervisor, r->name, r);
	return r;
}

static void
room_free(struct room *r)
{
	hashtab_remove(&by_name, &r->hnode);
	ev_timer_stop(r->gw->loop, &r->idle);
	if (r->child != NULL)
		child_retire(r->child);
	free(r->members);
	free(r->name);
	free(r);
}

struct membership *
room_membership(struct room *r, const struct client *c)
{
	struct membership *m;

	for (m = c->rooms; m != NULL; m = m->cnext)
		if (m->room == r)
			return m;
	return NULL;
}

/* The member's IPC_JOIN; for a first join of a video room, with the
 * joiner's ICE servers for its room-state. */
static void
join_body(struct buf *b, const struct membership *m, uint8_t extra,
    const char *ice)
{
	const struct client *c = m->client;
	struct ipc_join j = {
		.conn = c->conn,
		.socket_id = ipc_str(sio_socket_id(c->sock)),
		.user_id = ipc_str(c->user_id),
		.user = ipc_str(c->user_json),
		.flags = m->flags | extra,
		.joined_at = m->joined_at,
		.ice = ipc_str(ice),
	};

	/* connect.c held the user to its bounds, turn.c its servers. */
	if (ipc_put_join(b, &j) < 0)
		fatalx("room_join_body: user %s is over its bounds", c->user_id);
}

void
room_join_body(struct buf *b, const struct membership *m, uint8_t extra)
{
	join_body(b, m, extra, NULL);
}

/* Linked into the room's array and the client's list. */
static void
membership_link(struct room *r, struct client *c, struct membership *m)
{
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		r->members = xreallocarray(r->members, r->cap,
		    sizeof(*r->members));
	}
	m->idx = r->count;
	r->members[r->count++] = m;
	m->cnext = c->rooms;
	c->rooms = m;
	if (r->kind == ROOM_VIDEO)
		c->video = m;
	user_room_ref(c->owner, r, +1);
	ev_timer_stop(r->gw->loop, &r->idle);
}

/* Out of the room's array (swap with the last) and the client's list;
 * the room's idle timer starts when it is empty. */
static void
membership_unlink(struct membership *m)
{
	struct room *r = m->room;
	struct client *c = m->client;
	struct membership **pp;

	r->members[m->idx] = r->members[--r->count];
	r->members[m->idx]->idx = m->idx;
	for (pp = &c->rooms; *pp != NULL; pp = &(*pp)->cnext)
		if (*pp == m) {
			*pp = m->cnext;
			break;
		}
	if (c->video == m)
		c->video = NULL;
	user_room_ref(c->owner, r, -1);
}

static void
idle_if_empty(struct room *r)
{
	if (r->count == 0) {
		double secs = (double)config_int(&r->gw->cfg,
		    CFG_ROOM_IDLE_TIMEOUT);

		ev_timer_set(&r->idle, secs, 0.);
		ev_timer_start(r->gw->loop, &r->idle);
	}
}

static void
send_reconn(struct room *r, uint64_t from, uint64_t to)
{
	struct buf b = BUF_INIT;

	ipc_put_reconn(&b, &(struct ipc_reconn){ from, to });
	child_send(r->child, IPC_RECONN, b.data, b.len);
	buf_free(&b);
}

int
room_join(struct room *r, struct client *c, child_done_cb done, void *arg)
{
	struct membership *m;
	struct buf b = BUF_INIT;
	int rc, first;

	if (!child_available(r->child)) {
		/* Made for this join and never used: let it go. */
		if (r->count == 0) {
			ev_timer_set(&r->idle, 0., 0.);
			ev_timer_start(r->gw->loop, &r->idle);
		}
		return -1;
	}
	m = xcalloc(1, sizeof(*m));
	m->room = r;
	m->client = c;
	m->joined_at = timestamp_now_ms();
	if (r->kind == ROOM_VIDEO && turn_enabled()) {
		cJSON *servers = turn_ice_servers(c->user_id);
		char *ice = cJSON_PrintUnformatted(servers);

		cJSON_Delete(servers);
		join_body(&b, m, 0, ice);
		cJSON_free(ice);
	} else
		join_body(&b, m, 0, NULL);
	rc = child_send_cb(r->child, IPC_JOIN, b.data, b.len, done, arg);
	buf_free(&b);
	if (rc < 0) {
		free(m);
		return -1;
	}
	first = !user_in_room(c->owner, r);
	membership_link(r, c, m);
	peers_member_joined(r->gw, m);
	watchers_joined(m, first);
	return 0;
}

struct membership *
room_adopt(struct room *r, struct client *c, uint8_t flags,
    long long joined_at, uint64_t from)
{
	struct membership *m = xcalloc(1, sizeof(*m));
	struct buf b = BUF_INIT;

	m->room = r;
	m->client = c;
	m->flags = flags & (IPC_M_MUTED | IPC_M_VIDEO_OFF | IPC_M_SHARING);
	m->joined_at = joined_at;
	if (from != 0)
		send_reconn(r, from, c->conn);
	else {
		room_join_body(&b, m, IPC_M_REPLAY);
		child_send(r->child, IPC_JOIN, b.data, b.len);
		buf_free(&b);
	}
	membership_link(r, c, m);
	peers_member_joined(r->gw, m);
	return m;
}

void
room_handed_over(struct membership *m, uint64_t to)
{
	struct room *r = m->room;

	send_reconn(r, m->client->conn, to);
	membership_unlink(m);
	free(m);
	idle_if_empty(r);
}

/*
 * USER_ROOMS_MAX bounds the rooms one connection, and one user over all
 * of its connections, can be in: otherwise a single user could join study
 * after study until MAX_ROOMS is reached and every other user gets
 * ROOM_UNAVAILABLE.  A room the user is in already (another tab) costs
 * nothing more.
 */
int
rooms_user_may_join(const struct client *c, const char *name)
{
	unsigned max = (unsigned)config_int(&c->gw->cfg, CFG_USER_ROOMS_MAX);
	struct room *r = room_find(c->gw, name);
	unsigned n = 0;

	if (r != NULL && room_membership(r, c) != NULL)
		return 1;
	for (const struct membership *m = c->rooms; m != NULL; m = m->cnext)
		n++;
	if (n >= max)
		return 0;
	return (r != NULL && user_in_room(c->owner, r)) ||
	    c->owner->nrooms < max;
}

void
room_leave(struct membership *m, int reason)
{
	struct room *r = m->room;
	struct client *c = m->client;
	struct buf b = BUF_INIT;

	ipc_put_leave(&b, &(struct ipc_leave){ c->conn, (uint8_t)reason });
	child_send(r->child, IPC_LEAVE, b.data, b.len);
	buf_free(&b);

	membership_unlink(m);
	/* Watchers first: they count the room's members elsewhere, which the
	 * peers forget when this was the last one here. */
	watchers_left(r, c, reason, c->gone_why, !user_in_room(c->owner, r));
	peers_member_left(r->gw, r, c, reason);
	free(m);
	idle_if_empty(r);
}

int
room_event(struct room *r, struct client *c, int event, int guest,
    const char *msg_id, const char *payload, size_t len,
    const struct sio_bins *bins)
{
	struct buf b = BUF_INIT;
	struct ipc_event_msg e = {
		.conn = c->conn,
		.event = (uint16_t)event,
		.flags = guest ? IPC_E_GUEST : 0,
		.socket_id = ipc_str(sio_socket_id(c->sock)),
		.user_id = ipc_str(c->user_id),
		.user = ipc_str(c->user_json),
		.msg_id = ipc_str(msg_id),
		.payload = { payload, len },
	};
	int rc;

	for (int i = 0; bins != NULL && i < bins->n; i++) {
		e.bins.bin[i].p = (const char *)bins->data[i];
		e.bins.bin[i].len = bins->len[i];
	}
	e.bins.n = bins != NULL ? (uint16_t)bins->n : 0;
	/* The edge held everything to its bounds, so this cannot fail; if
	 * it did, the room must not be handed what it cannot take. */
	if (ipc_put_event(&b, &e) < 0) {
		log_warnx("room %s: an event of %zu bytes is over its bounds; "
		    "refused", r->name, len);
		buf_free(&b);
		return -1;
	}
	rc = child_send(r->child, IPC_EVENT, b.data, b.len);
	buf_free(&b);
	return rc;
}

void
rooms_leave_all(struct client *c, int reason)
{
	while (c->rooms != NULL)
		room_leave(c->rooms, reason);
}

void
room_tell(struct room *r, const char *code, const char *message)
{
	for (unsigned i = 0; i < r->count; i++)
		client_error(r->members[i]->client, code, message);
}

void
room_unavailable(struct room *r)
{
	while (r->count > 0)
		room_leave(r->members[r->count - 1], IPC_LEAVE_KICKED);
	room_free(r);
}

void
room_idle_check(struct room *r)
{
	if (r->count == 0 && !ev_is_active(&r->idle)) {
		ev_timer_set(&r->idle, (double)config_int(&r->gw->cfg,
		    CFG_ROOM_IDLE_TIMEOUT), 0.);
		ev_timer_start(r->gw->loop, &r->idle);
	}
}

struct foreach {
	void	(*fn)(struct room *, void *);
	void	*arg;
};

static void
foreach_one(struct hnode *n, void *arg)
{
	struct foreach *f = arg;

	f->fn(hashtab_entry(n, struct room, hnode), f->arg);
}

void
rooms_foreach(struct gateway *gw, void (*fn)(struct room *, void *),
    void *arg)
{
	struct foreach f = { fn, arg };

	hashtab_walk(&by_name, foreach_one, &f);
}

unsigned
rooms_count(struct gateway *gw)
{
	return (unsigned)by_name.count;
}

static void
retire_if_empty(struct hnode *n, void *arg)
{
	struct room *r = hashtab_entry(n, struct room, hnode);

	(void)arg;
	if (r->count == 0)
		room_free(r);
}

void
rooms_retire_empty(struct gateway *gw)
{
	hashtab_walk(&by_name, retire_if_empty, NULL);
}

/* ---------------------------------------------------------------- the
 * supervisor's callbacks: what the room processes' mechanism asks of the
 * routing table. */

/* A room's packet for some of its connections: those still members. */
static void
deliver(void *arg, const struct ipc_send_msg *s)
{
	struct room *r = arg;
	const uint8_t *data[BOUND_ATTACHMENTS];
	size_t len[BOUND_ATTACHMENTS];
	struct sio_bins bins = { s->bins.n, data, len };
	struct sio_out *out;

	for (unsigned i = 0; i < s->bins.n; i++) {
		data[i] = (const uint8_t *)s->bins.bin[i].p;
		len[i] = s->bins.bin[i].len;
	}
	out = sio_out_packet(r->gw->nsp, s->packet.p, s->packet.len, &bins);
	for (uint32_t i = 0; i < s->n; i++) {
		struct client *c = client_find(r->gw, ipc_send_conn(s, i));

		/* Gone or moved on meanwhile: not the process's fault. */
		if (c != NULL && room_membership(r, c) != NULL)
			sio_send(c->sock, out);
	}
	sio_out_free(out);
}

/* A new process for the room: every member, silently, local and on
 * other gateways. */
static void
replay(void *arg, void (*push)(void *, uint64_t, const void *, size_t),
    void *parg)
{
	struct room *r = arg;
	struct buf b = BUF_INIT;

	for (unsigned i = 0; i < r->count; i++) {
		buf_reset(&b);
		room_join_body(&b, r->members[i], IPC_M_REPLAY);
		push(parg, r->members[i]->client->conn, b.data, b.len);
	}
	buf_free(&b);
	peers_replay(r->gw, r, push, parg);
}

/* Its process keeps dying at start: members told, then dropped. */
static void
gave_up(void *arg)
{
	struct room *r = arg;

	room_tell(r, ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
	room_unavailable(r);
}

/* A message room processes died on was dropped: its sender learns it;
 * a join's member is out. */
static void
dropped(void *arg, uint16_t type, uint64_t conn)
{
	struct room *r = arg;
	struct client *c = client_find(r->gw, conn);
	struct membership *m;

	if (c == NULL || (type != IPC_EVENT && type != IPC_JOIN))
		return;
	log_warnx("room %s: a message of user %s that its process died on "
	    "was dropped", r->name, c->user_id);
	client_error(c, ERR_INTERNAL, MSG_JOIN_FAIL);
	if (type == IPC_JOIN && (m = room_membership(r, c)) != NULL)
		room_leave(m, IPC_LEAVE_KICKED);
}

void
rooms_init(struct gateway *gw)
{
	static const struct supervisor_ops ops = {
		deliver, replay, gave_up, dropped,
	};
	struct supervisor_opts o = {
		config_str(&gw->cfg, CFG_ROOMD_PATH), gw->syslog,
	};

	gw->supervisor = supervisor_new(gw->loop, &o, &ops);
	spares_attach(gw->supervisor,
	    (unsigned)config_int(&gw->cfg, CFG_ROOM_SPARES));
}

static void
empty_and_free(struct hnode *n, void *arg)
{
	struct room *r = hashtab_entry(n, struct room, hnode);

	(void)arg;
	while (r->count > 0)
		room_leave(r->members[r->count - 1], IPC_LEAVE_DISCONNECT);
	room_free(r);
}

void
rooms_shutdown(struct gateway *gw)
{
	hashtab_walk(&by_name, empty_and_free, NULL);
	hashtab_free(&by_name);
	supervisor_free(gw->supervisor);
	gw->supervisor = NULL;
}
