/*
 * sio_server.c - Socket.IO v5 over eio_server.
 *
 * One struct client per Engine.IO session holds that connection's sockets
 * (one per namespace it joined), the connect timeout, and a binary packet
 * being reassembled from its attachments.  Namespaces keep a list of their
 * connected sockets for broadcasts.
 *
 * Any packet we cannot make sense of closes the whole connection, as the
 * reference server does: a client that speaks garbage is not trusted with
 * the rest of its session.
 */
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "eio_packet.h"
#include "hash.h"
#include "hashtab.h"
#include "log.h"
#include "random_id.h"
#include "ratelimit.h"
#include "sio_packet.h"
#include "sio_replay.h"
#include "sio_server.h"
#include "xmalloc.h"

struct pending_ack {
	struct pending_ack	*next;
	long long		 id;
	sio_ack_cb		 cb;
	void			*arg;
};

struct client;

struct sio_socket {
	struct client		*client;	/* NULL while held */
	struct sio_nsp		*nsp;
	struct sio_socket	*cnext;		/* in client */
	struct sio_socket	*nprev, *nnext;	/* in nsp, when connected */
	char			 id[SIO_ID_LEN + 1];
	uint8_t			 connected;
	struct pending_ack	*acks;
	long long		 next_ack;
	void			*data;
	/* Connection state recovery (with a recovery window only). */
	char			 pid[SIO_PID_LEN + 1];	/* "" until accepted */
	struct sio_replay	 replay;	/* what it was sent lately */
	uint8_t			 held;		/* its connection was lost */
	uint8_t			 overflowed;	/* held, and missed too much */
	char			*held_reason;	/* the loss, for the end */
	ev_timer		 hold_timer;
	struct hnode		 by_pid;	/* srv->by_pid, once it has one */
	/* A CONNECT asking for a held session: that one, and the client's
	 * last offset (bad_offset: one we could not read). */
	struct sio_socket	*recover;
	struct sio_socket	*recovered_by;	/* on the held one */
	uint64_t		 offset;
	uint8_t			 bad_offset;
};

struct sio_nsp {
	struct sio_nsp		*next;
	struct sio_server	*srv;
	char			*name;
	struct sio_nsp_ops	 ops;
	void			*arg;
	struct sio_socket	*head;
	unsigned		 count;
};

struct client {
	struct sio_server	*srv;
	struct eio_session	*eio;
	struct sio_socket	*sockets;
	ev_timer		 connect_timer;
	struct sio_packet	*partial;	/* binary packet waiting */
	struct buf		*bins;
	int			 nbins;
	size_t			 bins_bytes;	/* of the packet, so far */
	struct rate_bucket	 connects;	/* CONNECT, DISCONNECT */
};

struct sio_server {
	struct ev_loop		*loop;
	struct eio_server	*eio;
	struct sio_nsp		*nsps;
	double			 connect_timeout;
	double			 connect_rate;
	size_t			 max_payload;	/* attachments, in all */
	unsigned		 connections;
	/* Connection state recovery: off when window is 0. */
	double			 recovery_window;	/* seconds */
	size_t			 recovery_bytes;	/* per session */
	double			 replay_keep;	/* seconds: delivered after */
	uint64_t		 next_offset;
	struct hashtab		 by_pid;	/* sockets with a pid */
	struct sio_recovery_stats rstats;
};

struct sio_out {
	unsigned		 refs;
	uint64_t		 offset;	/* 0: none */
	size_t			 bytes;
	struct eio_msg		*text;
	int			 nbins;
	struct eio_msg		*bins[];
};

/* ---------------------------------------------------------------- encoding */

static struct eio_msg *
msg_from(const void *data, size_t len, int binary)
{
	struct eio_msg *m = eio_msg_new(binary, len);

	memcpy(eio_msg_payload(m), data, len);
	return m;
}

static struct sio_out *
out_alloc(int nb)
{
	struct sio_out *o = xmalloc(sizeof(*o) + sizeof(o->bins[0]) * nb);

	o->refs = 1;
	o->offset = 0;
	o->bytes = 0;
	o->nbins = nb;
	return o;
}

static void
out_bins(struct sio_out *o, const struct sio_bins *bins)
{
	for (int i = 0; i < o->nbins; i++) {
		o->bins[i] = msg_from(bins->data[i], bins->len[i], 1);
		o->bytes += bins->len[i];
	}
}

/* The next offset of this server, as the client will send it back. */
static uint64_t
next_offset(struct sio_server *srv, char text[24])
{
	uint64_t off = ++srv->next_offset;

	snprintf(text, 24, "%" PRIu64, off);
	return off;
}

static struct sio_out *
out_new(const char *nsp, enum sio_type type, long long id, const cJSON *data,
    const struct sio_bins *bins)
{
	int nb = bins ? bins->n : 0;
	struct sio_out *o = out_alloc(nb);
	struct buf b = BUF_INIT;

	if (nb > 0)
		type = type == SIO_ACK ? SIO_BINARY_ACK : SIO_BINARY_EVENT;
	sio_encode(&b, type, nsp, id, nb, data);
	o->text = msg_from(b.data, b.len, 0);
	o->bytes = b.len;
	buf_free(&b);
	out_bins(o, bins);
	return o;
}

/* [name, ...args] without copying args: cJSON references. */
static cJSON *
event_array(const char *name, const cJSON *args)
{
	cJSON *arr = cJSON_CreateArray();
	const cJSON *it;

	cJSON_AddItemToArray(arr, cJSON_CreateString(name));
	if (args != NULL && cJSON_IsArray(args))
		cJSON_ArrayForEach(it, args)
			cJSON_AddItemReferenceToArray(arr, (cJSON *)it);
	else if (args != NULL)
		cJSON_AddItemReferenceToArray(arr, (cJSON *)args);
	return arr;
}

struct sio_out *
sio_out_event(const struct sio_nsp *nsp, const char *name, const cJSON *args,
    const struct sio_bins *bins, long long ack_id)
{
	cJSON *arr = event_array(name, args);
	struct sio_out *o;
	uint64_t off = 0;
	char text[24];

	/* An event with no ack carries its offset when sessions can be
	 * recovered (the client keeps the last one it saw). */
	if (ack_id < 0 && nsp->srv->recovery_window > 0) {
		off = next_offset(nsp->srv, text);
		cJSON_AddItemToArray(arr, cJSON_CreateString(text));
	}
	o = out_new(nsp->name, SIO_EVENT, ack_id, arr, bins);
	o->offset = off;
	cJSON_Delete(arr);
	return o;
}

struct sio_out *
sio_out_ack(const struct sio_nsp *nsp, long long ack_id, const cJSON *args,
    const struct sio_bins *bins)
{
	cJSON *arr = NULL;
	struct sio_out *o;

	if (args == NULL || !cJSON_IsArray(args)) {
		arr = cJSON_CreateArray();
		if (args != NULL)
			cJSON_AddItemReferenceToArray(arr, (cJSON *)args);
	}
	o = out_new(nsp->name, SIO_ACK, ack_id, arr ? arr : args, bins);
	cJSON_Delete(arr);
	return o;
}

/*
 * Whether an encoded packet is an EVENT of namespace "/" with no ack id
 * ("2[...]", "5<n>-[...]"): those get an offset.  Returns the length of
 * the text before the closing bracket, or 0.
 */
static size_t
takes_offset(const char *p, size_t len)
{
	size_t i = 1;

	if (len < 3 || p[len - 1] != ']')
		return 0;
	if (p[0] == '5') {
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == 1 || i >= len || p[i] != '-')
			return 0;
		i++;
	} else if (p[0] != '2')
		return 0;
	return p[i] == '[' ? len - 1 : 0;
}

struct sio_out *
sio_out_packet(const struct sio_nsp *nsp, const void *packet, size_t len,
    const struct sio_bins *bins)
{
	struct sio_out *o = out_alloc(bins ? bins->n : 0);
	size_t head;
	char text[24];

	if (nsp->srv->recovery_window > 0 &&
	    (head = takes_offset(packet, len)) > 0) {
		struct buf b = BUF_INIT;

		o->offset = next_offset(nsp->srv, text);
		buf_append(&b, packet, head);
		buf_printf(&b, ",\"%s\"]", text);
		o->text = msg_from(b.data, b.len, 0);
		o->bytes = b.len;
		buf_free(&b);
	} else {
		o->text = msg_from(packet, len, 0);
		o->bytes = len;
	}
	out_bins(o, bins);
	return o;
}

struct sio_out *
sio_out_ref(struct sio_out *o)
{
	o->refs++;
	return o;
}

/* The replay buffer's way to let a packet go. */
static void
release_out(void *o)
{
	sio_out_free(o);
}

void
sio_out_free(struct sio_out *o)
{
	if (o == NULL || --o->refs > 0)
		return;
	eio_msg_unref(o->text);
	for (int i = 0; i < o->nbins; i++)
		eio_msg_unref(o->bins[i]);
	free(o);
}

static void	hold_end_soon(struct sio_socket *);

int
sio_send(struct sio_socket *s, struct sio_out *o)
{
	struct sio_server *srv = s->nsp->srv;
	struct eio_session *e;

	if (o->offset != 0 && srv->recovery_window > 0) {
		uint64_t dropped = s->replay.dropped;

		if (!s->held)
			sio_replay_expire(&s->replay,
			    ev_now(srv->loop) - srv->replay_keep);
		sio_replay_push(&s->replay, o->offset, sio_out_ref(o),
		    o->bytes, ev_now(srv->loop), srv->recovery_bytes);
		/* Held, and something it never saw had to go: it cannot be
		 * recovered; it leaves (not from inside a send). */
		if (s->held && s->replay.dropped != dropped && !s->overflowed) {
			s->overflowed = 1;
			hold_end_soon(s);
		}
	}
	if (s->held)
		return 0;		/* kept for when it comes back */
	e = s->client->eio;
	if (eio_send(e, o->text) < 0)
		return -1;
	for (int i = 0; i < o->nbins; i++)
		if (eio_send(e, o->bins[i]) < 0)
			return -1;
	return 0;
}

int
sio_send_packet(struct sio_socket *s, const void *packet, size_t len,
    const struct sio_bins *bins)
{
	struct sio_out *o;
	int rc;

	if ((bins == NULL || bins->n == 0) && !s->held &&
	    s->nsp->srv->recovery_window == 0)
		return eio_send_text(s->client->eio, packet, len);
	o = sio_out_packet(s->nsp, packet, len, bins);
	rc = sio_send(s, o);
	sio_out_free(o);
	return rc;
}

static void
send_simple(struct client *c, enum sio_type type, const char *nsp,
    const cJSON *data)
{
	struct buf b = BUF_INIT;

	if (c == NULL)
		return;			/* held: nobody to tell */
	sio_encode(&b, type, nsp, SIO_NO_ACK, 0, data);
	eio_send_text(c->eio, (const char *)b.data, b.len);
	buf_free(&b);
}

int
sio_emit(struct sio_socket *s, const char *name, const cJSON *args,
    const struct sio_bins *bins)
{
	struct sio_out *o = sio_out_event(s->nsp, name, args, bins, SIO_NO_ACK);
	int rc = sio_send(s, o);

	sio_out_free(o);
	return rc;
}

int
sio_ack(struct sio_socket *s, long long id, const cJSON *args,
    const struct sio_bins *bins)
{
	struct sio_out *o = sio_out_ack(s->nsp, id, args, bins);
	int rc = sio_send(s, o);

	sio_out_free(o);
	return rc;
}

int
sio_emit_with_ack(struct sio_socket *s, const char *name, const cJSON *args,
    const struct sio_bins *bins, sio_ack_cb cb, void *arg)
{
	struct pending_ack *pa;
	struct sio_out *o;
	int rc;

	pa = xcalloc(1, sizeof(*pa));
	pa->id = s->next_ack++;
	pa->cb = cb;
	pa->arg = arg;
	pa->next = s->acks;
	s->acks = pa;
	o = sio_out_event(s->nsp, name, args, bins, pa->id);
	rc = sio_send(s, o);
	sio_out_free(o);
	return rc;
}

/* ---------------------------------------------------------------- sockets */

static struct sio_socket *
client_socket(struct client *c, const char *nsp)
{
	struct sio_socket *s;

	for (s = c->sockets; s != NULL; s = s->cnext)
		if (strcmp(s->nsp->name, nsp) == 0)
			return s;
	return NULL;
}

static void
client_unlink(struct client *c, struct sio_socket *s)
{
	struct sio_socket **pp;

	for (pp = &c->sockets; *pp != NULL; pp = &(*pp)->cnext)
		if (*pp == s) {
			*pp = s->cnext;
			break;
		}
}

/* The answers the socket's own emits were waiting for will not come. */
static void
acks_fail(struct sio_socket *s)
{
	struct pending_ack *pa;

	while ((pa = s->acks) != NULL) {
		s->acks = pa->next;
		if (pa->cb != NULL)
			pa->cb(s, NULL, NULL, pa->arg);
		free(pa);
	}
}

static void
unhold(struct sio_socket *s)
{
	struct sio_server *srv = s->nsp->srv;

	if (!s->held)
		return;
	s->held = 0;
	ev_timer_stop(srv->loop, &s->hold_timer);
	srv->rstats.held--;
	free(s->held_reason);
	s->held_reason = NULL;
	if (s->recovered_by != NULL) {
		s->recovered_by->recover = NULL;
		s->recovered_by = NULL;
	}
}

/* Unlink, tell the application, free. */
static void
socket_remove(struct sio_socket *s, const char *reason)
{
	struct client *c = s->client;

	unhold(s);
	if (s->pid[0] != '\0')
		hashtab_remove(&s->nsp->srv->by_pid, &s->by_pid);
	if (s->recover != NULL) {
		s->recover->recovered_by = NULL;
		s->recover = NULL;
	}
	if (c != NULL)
		client_unlink(c, s);
	if (s->connected) {
		if (s->nprev)
			s->nprev->nnext = s->nnext;
		else
			s->nsp->head = s->nnext;
		if (s->nnext)
			s->nnext->nprev = s->nprev;
		s->nsp->count--;
		s->nsp->srv->connections--;
	}
	/* sio_socket_connected() still tells the application whether it
	 * had accepted this socket. */
	if (s->nsp->ops.disconnect != NULL)
		s->nsp->ops.disconnect(s, reason, s->nsp->arg);
	s->connected = 0;
	acks_fail(s);
	sio_replay_free(&s->replay);
	free(s);
}

/* ---------------------------------------------------- connection recovery */

static void
on_hold_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sio_socket *s = w->data;
	struct sio_server *srv = s->nsp->srv;
	char reason[64];

	(void)loop;
	(void)revents;
	if (s->overflowed)
		srv->rstats.overflowed++;
	else
		srv->rstats.expired++;
	log_info("sio %s: %s; its session is not recovered, it leaves",
	    s->id, s->overflowed ? "missed more than RECOVERY_BUFFER_BYTES "
	    "while away" : "not back within RECOVERY_WINDOW_MS");
	snprintf(reason, sizeof(reason), "%s",
	    s->held_reason ? s->held_reason : "transport close");
	socket_remove(s, reason);
}

static void
hold_end_soon(struct sio_socket *s)
{
	struct ev_loop *loop = s->nsp->srv->loop;

	ev_timer_stop(loop, &s->hold_timer);
	ev_timer_set(&s->hold_timer, 0., 0.);
	ev_timer_start(loop, &s->hold_timer);
}

/* Its connection was lost: keep it, in its namespace, for the window. */
static void
socket_hold(struct sio_socket *s, const char *reason)
{
	struct sio_server *srv = s->nsp->srv;

	client_unlink(s->client, s);
	s->client = NULL;
	s->held = 1;
	s->overflowed = 0;
	s->held_reason = xstrdup(reason);
	acks_fail(s);
	ev_timer_init(&s->hold_timer, on_hold_expired, srv->recovery_window,
	    0.);
	s->hold_timer.data = s;
	ev_timer_start(srv->loop, &s->hold_timer);
	srv->rstats.held++;
	log_info("sio %s: connection lost (%s); held for %.0f ms", s->id,
	    reason, srv->recovery_window * 1000);
}

static struct sio_socket *
pid_find(struct sio_server *srv, const char *pid)
{
	struct hnode *n;
	uint64_t h = hash_str(pid);

	for (n = hashtab_chain(&srv->by_pid, h); n != NULL; n = n->next) {
		struct sio_socket *s = hashtab_entry(n, struct sio_socket,
		    by_pid);

		if (n->hash == h && strcmp(s->pid, pid) == 0)
			return s;
	}
	return NULL;
}

/*
 * A CONNECT's {pid, offset}: the session it asks for, if any.  Held, or
 * still live here: a client that reconnects knows its connection is dead
 * before we may (a long-poll whose connection broke, a WebSocket whose
 * peer vanished without a word); its old connection is let go once the
 * application has checked it is the same user (sio_recover).
 */
static void
recovery_asked(struct sio_socket *s, const cJSON *data)
{
	struct sio_server *srv = s->nsp->srv;
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(data, "pid");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(data, "offset");
	struct sio_socket *held;
	char *end;

	if (srv->recovery_window == 0 || !cJSON_IsString(pid))
		return;
	if (strlen(pid->valuestring) != SIO_PID_LEN ||
	    (held = pid_find(srv, pid->valuestring)) == NULL ||
	    held->nsp != s->nsp || held->recovered_by != NULL) {
		srv->rstats.refused_unknown++;
		log_info("sio: a reconnection with an unknown or expired "
		    "session; a new session");
		return;
	}
	s->recover = held;
	held->recovered_by = s;
	s->offset = 0;
	if (off == NULL || cJSON_IsNull(off))
		return;
	if (!cJSON_IsString(off) || off->valuestring[0] < '0' ||
	    off->valuestring[0] > '9' || strlen(off->valuestring) > 20) {
		s->bad_offset = 1;
		return;
	}
	errno = 0;
	s->offset = strtoull(off->valuestring, &end, 10);
	if (*end != '\0' || errno != 0)
		s->bad_offset = 1;
}

struct sio_socket *
sio_socket_recovering(const struct sio_socket *s)
{
	return s->recover;
}

int
sio_socket_held(const struct sio_socket *s)
{
	return s->held;
}

static void answer_connect(struct sio_socket *, struct client *);

struct sio_socket *
sio_recover(struct sio_socket *s)
{
	struct sio_server *srv = s->nsp->srv;
	struct sio_socket *held = s->recover;
	struct client *c = s->client;
	long at;

	if (held == NULL)
		return NULL;
	at = s->bad_offset ? -1 : sio_replay_resume_at(&held->replay,
	    s->offset);
	if (at < 0 || held->overflowed) {
		srv->rstats.refused_offset++;
		log_info("sio %s: back, but missed what is no longer kept; "
		    "its session is not recovered", held->id);
		/* The old session ends now, as a disconnect; the client
		 * starts afresh on this one. */
		socket_remove(held, held->held_reason ? held->held_reason :
		    "transport close");
		return NULL;
	}
	/* The held socket takes the new one's place on this connection. */
	s->recover = NULL;
	held->recovered_by = NULL;
	client_unlink(c, s);
	if (!held->held && held->client != NULL) {
		/* Still on its old connection: that one is dead to its
		 * client; what was queued there is in the replay buffer. */
		struct client *old = held->client;

		client_unlink(old, held);
		held->client = NULL;
		acks_fail(held);
		eio_close(old->eio, "transport close");
	}
	unhold(held);
	held->client = c;
	held->cnext = c->sockets;
	c->sockets = held;
	ev_timer_stop(srv->loop, &c->connect_timer);
	free(s);
	srv->rstats.recovered++;
	answer_connect(held, c);
	for (size_t i = (size_t)at; i < held->replay.n; i++) {
		const struct sio_out *o = sio_replay_at(&held->replay,
		    i)->out;

		if (eio_send(c->eio, o->text) < 0)
			break;
		for (int b = 0; b < o->nbins; b++)
			(void)eio_send(c->eio, o->bins[b]);
	}
	log_info("sio %s: recovered, %zu missed packets sent again", held->id,
	    held->replay.n - (size_t)at);
	return held;
}

const struct sio_recovery_stats *
sio_server_recovery_stats(const struct sio_server *srv)
{
	return &srv->rstats;
}

void
sio_drop_held(struct sio_server *srv, const char *reason)
{
	struct hnode *n, *next;

	hashtab_foreach(&srv->by_pid, n, next) {
		struct sio_socket *s = hashtab_entry(n, struct sio_socket,
		    by_pid);

		if (s->held)
			socket_remove(s, reason);
	}
}

void
sio_accept(struct sio_socket *s)
{
	struct client *c = s->client;
	struct sio_nsp *n = s->nsp;

	if (s->connected)
		return;
	s->connected = 1;
	s->nprev = NULL;
	s->nnext = n->head;
	if (n->head)
		n->head->nprev = s;
	n->head = s;
	n->count++;
	c->srv->connections++;
	ev_timer_stop(c->srv->loop, &c->connect_timer);
	if (s->recover != NULL) {
		/* The application did not give it its old session (another
		 * user's pid, say): that one stays held, this one is new. */
		c->srv->rstats.refused_user++;
		s->recover->recovered_by = NULL;
		s->recover = NULL;
	}
	if (c->srv->recovery_window > 0) {
		random_id(s->pid, SIO_PID_LEN);
		hashtab_insert(&c->srv->by_pid, &s->by_pid, hash_str(s->pid));
	}
	answer_connect(s, c);
}

/* {sid} or, when sessions can be recovered, {sid, pid}. */
static void
answer_connect(struct sio_socket *s, struct client *c)
{
	cJSON *hs = cJSON_CreateObject();

	cJSON_AddStringToObject(hs, "sid", s->id);
	if (s->pid[0] != '\0')
		cJSON_AddStringToObject(hs, "pid", s->pid);
	send_simple(c, SIO_CONNECT, s->nsp->name, hs);
	cJSON_Delete(hs);
}

void
sio_refuse(struct sio_socket *s, const cJSON *data)
{
	send_simple(s->client, SIO_CONNECT_ERROR, s->nsp->name, data);
	socket_remove(s, "connect refused");
}

void
sio_refuse_message(struct sio_socket *s, const char *message)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "message", message);
	sio_refuse(s, d);
	cJSON_Delete(d);
}

void
sio_disconnect(struct sio_socket *s)
{
	send_simple(s->client, SIO_DISCONNECT, s->nsp->name, NULL);
	socket_remove(s, "server namespace disconnect");
}

void
sio_close_connection(struct sio_socket *s, const char *reason)
{
	if (s->held)
		socket_remove(s, reason);	/* nothing else to close */
	else
		eio_close(s->client->eio, reason);
}

/* ---------------------------------------------------------------- incoming */

static void
protocol_error(struct client *c, const char *why)
{
	log_debug("sio %s: %s; closing", eio_session_sid(c->eio), why);
	eio_close(c->eio, "parse error");
}

static struct sio_nsp *
nsp_find(struct sio_server *srv, const char *name)
{
	struct sio_nsp *n;

	for (n = srv->nsps; n != NULL; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void
on_connect(struct client *c, struct sio_packet *p)
{
	struct sio_nsp *n = nsp_find(c->srv, p->nsp);
	struct sio_socket *s;

	if (n == NULL) {
		cJSON *d = cJSON_CreateObject();

		cJSON_AddStringToObject(d, "message", "Invalid namespace");
		send_simple(c, SIO_CONNECT_ERROR, p->nsp, d);
		cJSON_Delete(d);
		return;
	}
	if (client_socket(c, p->nsp) != NULL) {
		log_debug("sio %s: second CONNECT to %s ignored",
		    eio_session_sid(c->eio), p->nsp);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->client = c;
	s->nsp = n;
	s->replay = (struct sio_replay)SIO_REPLAY_INIT(release_out);
	random_id(s->id, SIO_ID_LEN);
	s->cnext = c->sockets;
	c->sockets = s;
	recovery_asked(s, p->data);
	if (n->ops.connect != NULL)
		n->ops.connect(s, p->data, n->arg);
	else
		sio_accept(s);
}

static void
deliver(struct client *c, struct sio_packet *p, const struct sio_bins *bins)
{
	struct sio_socket *s = client_socket(c, p->nsp);

	if (s == NULL || !s->connected) {
		protocol_error(c, "packet for a namespace not joined");
		return;
	}
	if (p->type == SIO_EVENT || p->type == SIO_BINARY_EVENT) {
		cJSON *name = cJSON_DetachItemFromArray(p->data, 0);
		struct sio_event ev = {
			name->valuestring, p->data, p->text, p->text_len,
			bins, p->id,
		};

		if (s->nsp->ops.event != NULL)
			s->nsp->ops.event(s, &ev, s->nsp->arg);
		cJSON_Delete(name);
		return;
	}
	/* ACK / BINARY_ACK: find who asked. */
	for (struct pending_ack **pp = &s->acks; *pp != NULL;
	    pp = &(*pp)->next) {
		struct pending_ack *pa = *pp;

		if (pa->id != p->id)
			continue;
		*pp = pa->next;
		if (pa->cb != NULL)
			pa->cb(s, p->data, bins, pa->arg);
		free(pa);
		return;
	}
	log_debug("sio %s: ack %lld matches no request",
	    eio_session_sid(c->eio), p->id);
}

static void
partial_clear(struct client *c)
{
	if (c->partial != NULL) {
		sio_packet_clear(c->partial);
		free(c->partial);
		c->partial = NULL;
	}
	for (int i = 0; i < c->nbins; i++)
		buf_free(&c->bins[i]);
	free(c->bins);
	c->bins = NULL;
	c->nbins = 0;
}

static void
deliver_partial(struct client *c)
{
	const uint8_t *data[SIO_MAX_ATTACHMENTS];
	size_t len[SIO_MAX_ATTACHMENTS];
	struct sio_packet *p = c->partial;
	struct buf *bufs = c->bins;
	int n = c->nbins;
	struct sio_bins bins = { n, data, len };

	/* Take the packet out of the client first: the application may close
	 * the connection (and free c) while handling it. */
	c->partial = NULL;
	c->bins = NULL;
	c->nbins = 0;
	for (int i = 0; i < n; i++) {
		data[i] = bufs[i].data ? bufs[i].data : (const uint8_t *)"";
		len[i] = bufs[i].len;
	}
	deliver(c, p, &bins);
	sio_packet_clear(p);
	free(p);
	for (int i = 0; i < n; i++)
		buf_free(&bufs[i]);
	free(bufs);
}

/*
 * CONNECT and DISCONNECT count against their own bucket, as events do
 * against theirs: each CONNECT may cost an authentication (a call to the
 * application's API), so a loop of them must not run free.  Beyond the
 * limit a CONNECT is refused without asking anyone; a connection that
 * keeps at it is closed.  0 to go on, 1 when over the limit, 2 when the
 * connection was closed (and c freed).
 */
static int
connect_limited(struct client *c, const struct sio_packet *p)
{
	struct sio_server *srv = c->srv;
	cJSON *d;

	if (srv->connect_rate <= 0)
		return 0;
	switch (rate_take(&c->connects, ev_now(srv->loop), srv->connect_rate)) {
	case RATE_OK:
		return 0;
	case RATE_CLOSE:
		log_info("sio %s: over the CONNECT rate limit for %.0f s; "
		    "closing", eio_session_sid(c->eio), RATE_GRACE_SECS);
		eio_close(c->eio, "rate limit");
		return 2;
	case RATE_REFUSED:
	default:
		if (p->type == SIO_CONNECT &&
		    client_socket(c, p->nsp) == NULL &&
		    nsp_find(srv, p->nsp) != NULL) {
			d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "message",
			    "Too many connection attempts; slow down");
			send_simple(c, SIO_CONNECT_ERROR, p->nsp, d);
			cJSON_Delete(d);
		}
		return 1;
	}
}

static void
on_text(struct client *c, const uint8_t *data, size_t len)
{
	struct sio_packet p;
	struct sio_socket *s;
	const char *why = NULL;

	if (c->partial != NULL) {
		protocol_error(c, "text packet while attachments were due");
		return;
	}
	if (sio_decode((const char *)data, len, &p, &why) < 0) {
		protocol_error(c, why ? why : "malformed packet");
		return;
	}
	switch (p.type) {
	case SIO_CONNECT:
	case SIO_DISCONNECT:
		/* Both count; a DISCONNECT (a client leaving) is never
		 * refused, a CONNECT over the limit is. */
		switch (connect_limited(c, &p)) {
		case 2:
			sio_packet_clear(&p);
			return;		/* closed: c is gone */
		case 1:
			if (p.type == SIO_CONNECT)
				goto done;
			break;
		}
		if (p.type == SIO_CONNECT)
			on_connect(c, &p);
		else if ((s = client_socket(c, p.nsp)) != NULL)
			socket_remove(s, "client namespace disconnect");
		break;
	case SIO_EVENT:
	case SIO_ACK:
		deliver(c, &p, NULL);
		break;
	case SIO_BINARY_EVENT:
	case SIO_BINARY_ACK:
		/* Nothing is buffered for a namespace the session has not
		 * joined (one that has not authenticated, say): it is a
		 * protocol error now, not once its attachments are in. */
		if ((s = client_socket(c, p.nsp)) == NULL || !s->connected) {
			protocol_error(c, "binary packet for a namespace not "
			    "joined");
			break;
		}
		if (p.attachments == 0) {
			deliver(c, &p, NULL);
			break;
		}
		c->partial = xmalloc(sizeof(*c->partial));
		c->bins = xcalloc((size_t)p.attachments, sizeof(*c->bins));
		*c->partial = p;
		c->bins_bytes = len;	/* the packet itself counts */
		return;		/* the packet now belongs to c->partial */
	default:
		protocol_error(c, "CONNECT_ERROR from a client");
		break;
	}
done:
	sio_packet_clear(&p);
}

static void
on_binary(struct client *c, const uint8_t *data, size_t len)
{
	if (c->partial == NULL) {
		protocol_error(c, "binary message without a packet");
		return;
	}
	/* One packet is MAX_PAYLOAD in all, its attachments included. */
	if (len > c->srv->max_payload - c->bins_bytes) {
		log_info("sio %s: attachments over MAX_PAYLOAD (%zu bytes); "
		    "closing", eio_session_sid(c->eio), c->srv->max_payload);
		eio_close(c->eio, "payload too large");
		return;
	}
	c->bins_bytes += len;
	buf_append(&c->bins[c->nbins++], data, len);
	if (c->nbins == c->partial->attachments)
		deliver_partial(c);
}

/* ---------------------------------------------------------------- engine */

static void
connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	log_debug("sio %s: no namespace joined in time",
	    eio_session_sid(c->eio));
	eio_close(c->eio, "connect timeout");
}

static void
engine_open(void *arg, struct eio_session *e)
{
	struct sio_server *srv = arg;
	struct client *c;

	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->eio = e;
	c->connects = (struct rate_bucket)RATE_BUCKET_INIT;
	ev_timer_init(&c->connect_timer, connect_timeout, srv->connect_timeout,
	    0.);
	c->connect_timer.data = c;
	ev_timer_start(srv->loop, &c->connect_timer);
	eio_session_set_data(e, c);
}

static void
engine_message(void *arg, struct eio_session *e, const uint8_t *data,
    size_t len, int binary)
{
	struct client *c = eio_session_data(e);

	if (c == NULL)
		return;
	if (binary)
		on_binary(c, data, len);
	else
		on_text(c, data, len);
}

static void
engine_close(void *arg, struct eio_session *e, const char *reason)
{
	struct client *c = eio_session_data(e);

	if (c == NULL)
		return;
	ev_timer_stop(c->srv->loop, &c->connect_timer);
	while (c->sockets != NULL) {
		struct sio_socket *s = c->sockets;

		/* Lost, not left: kept for the client to come back. */
		if (eio_session_lost(e) && c->srv->recovery_window > 0 &&
		    s->connected && s->pid[0] != '\0')
			socket_hold(s, reason);
		else
			socket_remove(s, reason);
	}
	partial_clear(c);
	eio_session_set_data(e, NULL);
	free(c);
}

/* ---------------------------------------------------------------- server */

struct sio_server *
sio_server_new(struct ev_loop *loop, const struct eio_opts *o,
    const struct sio_opts *so)
{
	static const struct eio_callbacks cbs = {
		engine_open, engine_message, engine_close,
	};
	struct sio_server *srv;

	srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->connect_timeout = so->connect_timeout_ms / 1000.0;
	srv->connect_rate = so->connect_rate;
	srv->max_payload = o->max_payload;
	srv->recovery_window = so->recovery_window_ms / 1000.0;
	srv->recovery_bytes = so->recovery_buffer_bytes;
	/* A packet sent this long ago on a live connection was read: a ping
	 * went after it and its pong came back, or the session would have
	 * timed out. */
	srv->replay_keep = 2.0 * (o->ping_interval_ms + o->ping_timeout_ms) /
	    1000.0;
	srv->eio = eio_server_new(loop, o, &cbs, srv);
	return srv;
}

void
sio_server_free(struct sio_server *srv)
{
	struct sio_nsp *n, *next;

	if (srv == NULL)
		return;
	eio_server_free(srv->eio);
	sio_drop_held(srv, "server shutting down");
	hashtab_free(&srv->by_pid);
	for (n = srv->nsps; n != NULL; n = next) {
		next = n->next;
		free(n->name);
		free(n);
	}
	free(srv);
}

struct eio_server *
sio_server_engine(struct sio_server *srv)
{
	return srv->eio;
}

struct sio_nsp *
sio_namespace(struct sio_server *srv, const char *name,
    const struct sio_nsp_ops *ops, void *arg)
{
	struct sio_nsp *n;

	n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	n->srv = srv;
	n->ops = *ops;
	n->arg = arg;
	n->next = srv->nsps;
	srv->nsps = n;
	return n;
}

unsigned
sio_nsp_count(const struct sio_nsp *n)
{
	return n->count;
}

void
sio_nsp_foreach(struct sio_nsp *n, void (*fn)(struct sio_socket *, void *),
    void *arg)
{
	struct sio_socket *s, *next;

	/* fn may remove the socket it is given, not others. */
	for (s = n->head; s != NULL; s = next) {
		next = s->nnext;
		fn(s, arg);
	}
}

unsigned
sio_server_connections(const struct sio_server *srv)
{
	return srv->connections;
}

/* ---------------------------------------------------------------- accessors */

const char *
sio_socket_id(const struct sio_socket *s)
{
	return s->id;
}

struct sio_nsp *
sio_socket_nsp(const struct sio_socket *s)
{
	return s->nsp;
}

struct eio_session *
sio_socket_engine(const struct sio_socket *s)
{
	return s->client != NULL ? s->client->eio : NULL;
}

int
sio_socket_connected(const struct sio_socket *s)
{
	return s->connected;
}

void *
sio_socket_data(const struct sio_socket *s)
{
	return s->data;
}

void
sio_socket_set_data(struct sio_socket *s, void *data)
{
	s->data = data;
}
