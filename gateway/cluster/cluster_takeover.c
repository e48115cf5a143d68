/*
 * cluster_takeover.c - sessions that move between gateways: connection
 * state recovery across a cluster (README.md, "Network blips").
 *
 * Every session with a pid is written to Redis (coup:pid:<pid>: its
 * socket id, user and node).  A client that comes back to another gateway
 * (its own was drained or died) presents its pid there; that gateway, once
 * the client has authenticated as the session's user:
 *
 *   1. finds the session and its rooms (takeover_find.lua);
 *   2. listens to every one of those rooms (their channels), so that it
 *      hears everything published after the move;
 *   3. gives the client's socket the session's socket id and pid (its
 *      CONNECT unanswered yet) and moves the session (takeover.lua): each
 *      room's record says this node, each room's channel hears a "join"
 *      with "moved" (the other gateways update their mirror, the old one
 *      hands its member over), this node's inbox gets each room's
 *      snapshot, then the old node's inbox a "handover";
 *   4. makes the client each room's member as it was, from the snapshots,
 *      without a word to anyone (cluster_rooms.c, croom_adopt);
 *   5. waits for the old gateway's "replay", what it had sent the client
 *      after the client's last offset (or, if that gateway is dead, for
 *      REDIS_TIMEOUT_MS), then answers the CONNECT with the session's ids
 *      and sends that, then what came here meanwhile.
 *
 * The old gateway, on its "handover", sends that replay and lets the
 * session go without telling anyone: its rooms are the new gateway's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "base64.h"
#include "bounds.h"
#include "buf.h"
#include "checks.h"
#include "clients.h"
#include "cluster_node.h"
#include "cluster_rooms.h"
#include "cluster_takeover.h"
#include "config.h"
#include "gateway.h"
#include "json.h"
#include "log.h"
#include "lua_scripts.h"
#include "sio_packet.h"
#include "sio_server.h"
#include "xmalloc.h"

/* Rooms a session may bring (each a record in Redis: a bound of its own,
 * whatever USER_ROOMS_MAX says on either gateway). */
#define TAKEOVER_ROOMS_MAX	64

enum step {
	FINDING,	/* takeover_find.lua sent */
	LISTENING,	/* subscribing to its rooms */
	MOVING,		/* takeover.lua sent; snapshots coming */
	WAITING,	/* every room adopted: the old gateway's replay */
};

struct takeover {
	struct takeover		*next;
	unsigned		 req;
	enum step		 step;
	struct sio_socket	*sock;
	struct client		*c;		/* from MOVING on */
	cJSON			*user;
	char			 pid[SIO_PID_LEN + 1];
	char			 offset[24];
	char			*sid, *from;
	char			*rooms[TAKEOVER_ROOMS_MAX];
	unsigned		 nrooms;
	unsigned		 adopted;	/* snapshots seen */
	int			 moved;		/* rooms moved; -1: not known */
	cJSON			*replay;	/* came before the script's answer */
	ev_timer		 timer;
};

static struct takeover *takeovers;
static unsigned next_req = 1;
static struct takeover_stats st;

/* ---------------------------------------------------------------- list */

static struct takeover *
by_req(unsigned req)
{
	for (struct takeover *t = takeovers; t != NULL; t = t->next)
		if (t->req == req)
			return t;
	return NULL;
}

static void
t_free(struct takeover *t)
{
	struct takeover **pp;

	for (pp = &takeovers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	ev_timer_stop(cl.gw->loop, &t->timer);
	for (unsigned i = 0; i < t->nrooms; i++) {
		croom_forget(t->rooms[i]);	/* those that came to nothing */
		free(t->rooms[i]);
	}
	cJSON_Delete(t->user);
	cJSON_Delete(t->replay);
	free(t->sid);
	free(t->from);
	free(t);
}

/* Nothing to take over after all: the client starts afresh here. */
static void
t_new_session(struct takeover *t, const char *why)
{
	struct sio_socket *s = t->sock;
	cJSON *user = t->user;

	log_info("cluster: a reconnection's session is not taken over (%s); "
	    "a new session", why);
	st.refused++;
	t->user = NULL;
	t_free(t);
	client_new(cl.gw, s, user);
	cJSON_Delete(user);
}

/* Adopted, and then it went wrong: its client must start afresh. */
static void
t_abandon(struct takeover *t, const char *why)
{
	struct sio_socket *s = t->sock;

	log_warnx("cluster: socket %s: taking its session over failed (%s); "
	    "closing it, its client starts afresh", t->sid, why);
	st.failed++;
	t_free(t);
	sio_close_connection(s, "session take-over failed");
}

/* ---------------------------------------------------------------- finish */

/*
 * The old gateway's packets: [{"s": text, "b": [base64, ...]}, ...], each
 * an event as our own are ("2[...]" or "5<n>-[...]" with its n
 * attachments), in all no more than RECOVERY_BUFFER_BYTES: a peer is
 * trusted no more than a client.  Returns how many are in pk (decoded in
 * place in the tree), or -1.
 */
static long
replay_packets(cJSON *list, struct sio_adopted *pk, const uint8_t **bins,
    size_t *blen, size_t maxpk, size_t maxbins)
{
	size_t max = (size_t)config_int(&cl.gw->cfg, CFG_RECOVERY_BUFFER_BYTES);
	size_t total = 0, nb = 0;
	long n = 0;
	cJSON *p;

	if (!cJSON_IsArray(list))
		return -1;
	cJSON_ArrayForEach(p, list) {
		cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "s");
		cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "b"), *v;
		struct sio_packet sp;
		const char *why = NULL;
		size_t len;
		int want;

		if ((size_t)n == maxpk || !cJSON_IsString(text))
			return -1;
		len = strlen(text->valuestring);
		if (len > max - total || sio_decode(text->valuestring, len,
		    &sp, &why) < 0)
			return -1;
		want = sp.attachments;
		if ((sp.type != SIO_EVENT && sp.type != SIO_BINARY_EVENT) ||
		    strcmp(sp.nsp, "/") != 0 || sp.id >= 0) {
			sio_packet_clear(&sp);
			return -1;
		}
		sio_packet_clear(&sp);
		total += len;
		pk[n] = (struct sio_adopted){ text->valuestring, len, 0,
		    bins + nb, blen + nb };
		if (b != NULL && !cJSON_IsArray(b))
			return -1;
		cJSON_ArrayForEach(v, b) {
			long d;

			if (nb == maxbins || !cJSON_IsString(v) ||
			    (d = base64_decode((uint8_t *)v->valuestring,
			    v->valuestring, strlen(v->valuestring))) < 0 ||
			    (size_t)d > max - total)
				return -1;
			total += (size_t)d;
			bins[nb] = (const uint8_t *)v->valuestring;
			blen[nb++] = (size_t)d;
			pk[n].nbins++;
		}
		if (pk[n].nbins != want)
			return -1;
		n++;
	}
	return n;
}

static void
t_finish(struct takeover *t, cJSON *replay)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(replay, "p");
	/* Sized by what came (replay_packets() bounds it by bytes). */
	size_t maxpk = (size_t)cJSON_GetArraySize(list) + 1;
	struct sio_adopted *pk = xcalloc(maxpk, sizeof(*pk));
	size_t maxbins = maxpk * BOUND_ATTACHMENTS;
	const uint8_t **bins = xcalloc(maxbins, sizeof(*bins));
	size_t *blen = xcalloc(maxbins, sizeof(*blen));
	long n = 0;

	if (replay != NULL && (n = replay_packets(list, pk, bins, blen,
	    maxpk, maxbins)) < 0) {
		log_warnx("cluster: socket %s: the replay from %s is not one; "
		    "recovered without what it missed there", t->sid, t->from);
		n = 0;
	}
	if (replay == NULL)
		log_warnx("cluster: socket %s: no replay from %s within "
		    "REDIS_TIMEOUT_MS (gone?); recovered without what it "
		    "missed there", t->sid, t->from);
	sio_adopt_finish(t->sock, pk, (size_t)n);
	log_info("cluster: socket %s of user %s taken over from %s: %u "
	    "rooms, %ld missed packets", t->sid, t->c->user_id, t->from,
	    t->adopted, n);
	st.taken++;
	free(pk);
	free(bins);
	free(blen);
	t_free(t);
}

static void
t_check(struct takeover *t)
{
	if (t->step != MOVING || t->moved < 0 ||
	    t->adopted < (unsigned)t->moved)
		return;
	t->step = WAITING;
	if (t->replay != NULL) {
		cJSON *r = t->replay;

		t->replay = NULL;
		t_finish(t, r);
		cJSON_Delete(r);
	}
	/* else the replay, or the timer (running since FINDING) */
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct takeover *t = w->data;

	(void)loop;
	(void)revents;
	if (t->step == WAITING)
		t_finish(t, NULL);
	else if (t->c != NULL)
		t_abandon(t, "Redis did not answer in time");
	else
		t_new_session(t, "Redis did not answer in time");
}

/* ---------------------------------------------------------------- steps */

static void
on_moved(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct takeover *t = by_req((unsigned)(uintptr_t)arg);

	(void)l;
	if (t == NULL || t->step != MOVING)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		t_abandon(t, r != NULL && r->type == REDIS_REPLY_ERROR ?
		    r->str : "the session moved on meanwhile");
		return;
	}
	t->moved = (int)r->elements;
	t_check(t);
}

static void
t_move(struct takeover *t)
{
	char req[16];
	const char *av[8];
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(t->user, "id");

	for (unsigned i = 0; i < t->nrooms; i++)
		if (!croom_listen(t->rooms[i]))
			return;		/* takeover_subscribed() comes back */
	t->c = client_adopted(cl.gw, t->sock, t->user, t->sid, t->pid);
	if (t->c == NULL) {
		t_new_session(t, "its socket id is in use here");
		return;
	}
	t->step = MOVING;
	snprintf(req, sizeof(req), "%u", t->req);
	av[0] = t->pid;
	av[1] = t->sid;
	av[2] = t->from;
	av[3] = cl.id;
	av[4] = id->valuestring;
	av[5] = cl.inbox;
	av[6] = req;
	av[7] = t->offset;
	if (cl_eval(lua_takeover, 0, 8, av, on_moved,
	    (void *)(uintptr_t)t->req) < 0)
		t_abandon(t, "Redis is away");
}

/* A room name as our own rooms are named: video:<id> or study:<id>. */
static int
room_name_ok(const char *name)
{
	return strlen(name) <= BOUND_ROOM_NAME &&
	    (strncmp(name, "video:", 6) == 0 ||
	    strncmp(name, "study:", 6) == 0) && name[6] != '\0' &&
	    check_id_text(name + 6, BOUND_ID) == 0;
}

static void
on_found(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct takeover *t = by_req((unsigned)(uintptr_t)arg);
	const cJSON *sid, *node, *rooms, *v;
	cJSON *o;

	(void)l;
	if (t == NULL || t->step != FINDING)
		return;
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		t_new_session(t, r != NULL && r->type == REDIS_REPLY_ERROR ?
		    r->str : "no such session elsewhere");
		return;
	}
	o = json_parse_strict(r->str, r->len, NULL);
	sid = cJSON_GetObjectItemCaseSensitive(o, "sid");
	node = cJSON_GetObjectItemCaseSensitive(o, "node");
	rooms = cJSON_GetObjectItemCaseSensitive(o, "rooms");
	if (!cJSON_IsString(sid) || strlen(sid->valuestring) != SIO_ID_LEN ||
	    check_id_text(sid->valuestring, BOUND_SOCKET_ID) < 0 ||
	    !cJSON_IsString(node) ||
	    check_id_text(node->valuestring, BOUND_NODE_ID) < 0 ||
	    !(cJSON_IsArray(rooms) || cJSON_IsObject(rooms)) ||
	    cJSON_GetArraySize(rooms) > TAKEOVER_ROOMS_MAX) {
		cJSON_Delete(o);
		t_new_session(t, "its record in Redis is not one");
		return;
	}
	t->sid = xstrdup(sid->valuestring);
	t->from = xstrdup(node->valuestring);
	cJSON_ArrayForEach(v, rooms) {
		if (!cJSON_IsString(v) || !room_name_ok(v->valuestring)) {
			cJSON_Delete(o);
			t_new_session(t, "a room of its record is not one");
			return;
		}
		t->rooms[t->nrooms++] = xstrdup(v->valuestring);
	}
	cJSON_Delete(o);
	t->step = LISTENING;
	t_move(t);
}

int
takeover_start(void *ctx, struct sio_socket *s, const cJSON *user,
    const char *pid, uint64_t offset)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
	struct takeover *t;
	const char *av[3];

	(void)ctx;
	if (!cl.ready || !cJSON_IsString(id))
		return 0;
	t = xcalloc(1, sizeof(*t));
	t->req = next_req++;
	if (next_req == 0)
		next_req = 1;
	t->sock = s;
	t->user = cJSON_Duplicate(user, 1);
	t->moved = -1;
	memcpy(t->pid, pid, SIO_PID_LEN);
	snprintf(t->offset, sizeof(t->offset), "%llu",
	    (unsigned long long)offset);
	ev_timer_init(&t->timer, on_timeout, cl.timeout * 3, 0.);
	t->timer.data = t;
	av[0] = t->pid;
	av[1] = id->valuestring;
	av[2] = cl.id;
	if (cl_eval(lua_takeover_find, 0, 3, av, on_found,
	    (void *)(uintptr_t)t->req) < 0) {
		cJSON_Delete(t->user);
		free(t);
		return 0;
	}
	t->next = takeovers;
	takeovers = t;
	ev_timer_start(cl.gw->loop, &t->timer);
	st.asked++;
	return 1;
}

void
takeover_subscribed(void)
{
	struct takeover *t, *next;

	for (t = takeovers; t != NULL; t = next) {
		next = t->next;
		if (t->step == LISTENING)
			t_move(t);
	}
}

/* ---------------------------------------------------------------- old node */

struct collect {
	cJSON	*list;
};

static void
collect_one(void *arg, const char *text, size_t len, int nbins,
    const uint8_t **bins, const size_t *blen)
{
	struct collect *co = arg;
	cJSON *p = cJSON_CreateObject(), *b;
	char *s = xstrndup(text, len);

	cJSON_AddStringToObject(p, "s", s);
	free(s);
	b = cJSON_AddArrayToObject(p, "b");
	for (int i = 0; i < nbins; i++) {
		char *enc = xmalloc(BASE64_ENCODED_LEN(blen[i]) + 1);

		base64_encode(enc, bins[i], blen[i]);
		enc[BASE64_ENCODED_LEN(blen[i])] = '\0';
		cJSON_AddItemToArray(b, cJSON_CreateString(enc));
		free(enc);
	}
	cJSON_AddItemToArray(co->list, p);
}

/* A handover asked of us, while Redis confirms it. */
struct handover {
	char			*sid, *node, *offset;
};

static void
handover_free(struct handover *h)
{
	free(h->sid);
	free(h->node);
	free(h->offset);
	free(h);
}

/* Send node what the client of our session sid missed after `offset`,
 * then let the session go. */
static void
hand_over(struct client *c, const struct handover *h)
{
	struct collect co;
	cJSON *reply;
	char *chan, *msg, *end;
	unsigned long long offset = strtoull(h->offset, &end, 10);
	long n = -1;

	reply = cJSON_CreateObject();
	cJSON_AddStringToObject(reply, "t", "replay");
	cJSON_AddStringToObject(reply, "node", cl.id);
	cJSON_AddStringToObject(reply, "sid", h->sid);
	co.list = cJSON_AddArrayToObject(reply, "p");
	if (*end == '\0')
		n = sio_socket_missed(c->sock, offset, collect_one, &co);
	if (n < 0)
		log_warnx("cluster: socket %s: taken over by %s, but what it "
		    "missed after offset %s is no longer kept here", h->sid,
		    h->node, h->offset);
	msg = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	chan = xasprintf("%s%s", CL_NODE_CHAN, h->node);
	if (cl_publish(chan, msg) == 0)
		cl.st.published++;
	free(chan);
	cJSON_free(msg);
	log_info("cluster: socket %s of user %s taken over by %s; %ld missed "
	    "packets sent there", h->sid, c->user_id, h->node, n < 0 ? 0 : n);
	st.handed++;
	/* Its rooms are the other node's already (cluster_rooms.c,
	 * handed_over); any left leave as a disconnect would. */
	sio_close_connection(c->sock, "taken over by another gateway");
}

/* Redis's word on the session: is it the asking node's now?  (A message
 * on our inbox is no proof: anyone on Redis can publish one.) */
static void
on_handover_checked(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct handover *h = arg;
	struct client *c = client_by_socket(cl.gw, h->sid);
	const cJSON *sid, *node;
	cJSON *rec = NULL;

	(void)l;
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		rec = json_parse_strict(r->str, r->len, NULL);
	sid = cJSON_GetObjectItemCaseSensitive(rec, "sid");
	node = cJSON_GetObjectItemCaseSensitive(rec, "node");
	if (c != NULL && cJSON_IsString(sid) && cJSON_IsString(node) &&
	    strcmp(sid->valuestring, h->sid) == 0 &&
	    strcmp(node->valuestring, h->node) == 0)
		hand_over(c, h);
	else if (c != NULL)
		log_warnx("cluster: a handover of socket %s to %s that Redis "
		    "does not confirm; ignored", h->sid, h->node);
	cJSON_Delete(rec);
	handover_free(h);
}

static void
on_handover(const cJSON *o)
{
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(o, "node");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "sid");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(o, "offset");
	struct handover *h;
	struct client *c;
	const char *pid, *av[2];
	char *key;
	size_t len[2];

	if (!cJSON_IsString(node) ||
	    check_id_text(node->valuestring, BOUND_NODE_ID) < 0 ||
	    !cJSON_IsString(sid) || !cJSON_IsString(off) ||
	    strlen(off->valuestring) > 20 ||
	    (c = client_by_socket(cl.gw, sid->valuestring)) == NULL ||
	    (pid = sio_socket_pid(c->sock)) == NULL)
		return;
	h = xcalloc(1, sizeof(*h));
	h->sid = xstrdup(sid->valuestring);
	h->node = xstrdup(node->valuestring);
	h->offset = xstrdup(off->valuestring);
	key = xasprintf("%s%s", CL_PID_KEY, pid);
	av[0] = "GET";
	av[1] = key;
	len[0] = 3;
	len[1] = strlen(key);
	if (redis_link_cmd(cl.cmd, on_handover_checked, h, 2, av, len) < 0)
		handover_free(h);
	free(key);
}

/* ---------------------------------------------------------------- inbox */

int
takeover_inbox(const char *msg, size_t len)
{
	cJSON *o;
	const cJSON *type, *req, *room, *sid, *node;
	struct takeover *t;
	int mine = 0;

	/* Cheap first: most of the inbox is the rooms' snapshots. */
	if (memmem(msg, len, "\"t\":\"snap\"", 10) == NULL &&
	    memmem(msg, len, "\"t\":\"handover\"", 14) == NULL &&
	    memmem(msg, len, "\"t\":\"replay\"", 12) == NULL)
		return 0;
	if ((o = json_parse_strict(msg, len, NULL)) == NULL)
		return 0;
	type = cJSON_GetObjectItemCaseSensitive(o, "t");
	req = cJSON_GetObjectItemCaseSensitive(o, "req");
	room = cJSON_GetObjectItemCaseSensitive(o, "room");
	sid = cJSON_GetObjectItemCaseSensitive(o, "sid");
	node = cJSON_GetObjectItemCaseSensitive(o, "node");
	if (!cJSON_IsString(type))
		;
	else if (strcmp(type->valuestring, "snap") == 0 &&
	    cJSON_IsNumber(req) && req->valuedouble >= 1 &&
	    req->valuedouble < 4294967296.0 &&
	    (t = by_req((unsigned)req->valuedouble)) != NULL) {
		mine = 1;
		if (t->step == MOVING && cJSON_IsString(room)) {
			if (croom_adopt(room->valuestring, t->c,
			    cJSON_GetObjectItemCaseSensitive(o, "m"),
			    cJSON_GetObjectItemCaseSensitive(o, "alive")) < 0)
				log_warnx("cluster: socket %s: not a member of "
				    "%.200s after all", t->sid,
				    room->valuestring);
			t->adopted++;
			t_check(t);
		}
	} else if (strcmp(type->valuestring, "handover") == 0) {
		mine = 1;
		on_handover(o);
	} else if (strcmp(type->valuestring, "replay") == 0 &&
	    cJSON_IsString(sid) && cJSON_IsString(node)) {
		mine = 1;
		for (t = takeovers; t != NULL; t = t->next)
			if (t->sid != NULL && strcmp(t->sid, sid->valuestring)
			    == 0 && strcmp(t->from, node->valuestring) == 0 &&
			    (t->step == MOVING || t->step == WAITING))
				break;
		if (t != NULL && t->step == WAITING)
			t_finish(t, o);
		else if (t != NULL && t->replay == NULL)
			t->replay = cJSON_Duplicate(o, 1);
	}
	cJSON_Delete(o);
	return mine;
}

/* ---------------------------------------------------------------- hooks */

void
takeover_accepted(void *ctx, struct client *c)
{
	const char *pid = sio_socket_pid(c->sock);
	cJSON *rec;
	char *text;
	const char *av[3];

	(void)ctx;
	if (pid == NULL || !cl.ready)
		return;
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "sid", sio_socket_id(c->sock));
	cJSON_AddStringToObject(rec, "userId", c->user_id);
	cJSON_AddStringToObject(rec, "node", cl.id);
	text = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	av[0] = pid;
	av[1] = text;
	av[2] = cl.id;
	(void)cl_eval(lua_pidset, 0, 3, av, NULL, NULL);
	cJSON_free(text);
}

void
takeover_gone(void *ctx, struct client *c)
{
	const char *pid = sio_socket_pid(c->sock);
	const char *av[2];
	struct takeover *t;

	(void)ctx;
	for (t = takeovers; t != NULL; t = t->next)
		if (t->c == c) {
			t_free(t);	/* its client went meanwhile */
			break;
		}
	if (pid == NULL || !cl.ready)
		return;
	av[0] = pid;
	av[1] = cl.id;
	(void)cl_eval(lua_piddel, 0, 2, av, NULL, NULL);
}

void
takeover_socket_gone(void *ctx, struct sio_socket *s)
{
	struct takeover *t;

	(void)ctx;
	for (t = takeovers; t != NULL; t = t->next)
		if (t->sock == s && t->c == NULL) {
			t_free(t);
			break;
		}
}

const struct takeover_stats *
takeover_stats(void)
{
	return &st;
}

void
takeover_stop(void)
{
	while (takeovers != NULL)
		t_free(takeovers);
}
