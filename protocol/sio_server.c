/*
 * sio_server.c - Socket.IO v5 over eio_server: incoming packets (decode,
 * CONNECT to a namespace, events and acks to the application, binary
 * attachments reassembled), the engine's callbacks, sending, and the
 * server and its namespaces.  The rest is in the files sio_internal.h
 * lists.
 *
 * Any packet we cannot make sense of closes the whole connection, as the
 * reference server does: a client that speaks garbage is not trusted with
 * the rest of its session.
 */
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"
#include "log.h"
#include "random_id.h"
#include "sio_internal.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------- sending */

int
sio_send(struct sio_socket *s, struct sio_out *o)
{
	struct eio_session *e;

	if (o->offset != 0 && s->nsp->srv->recovery_window > 0)
		sio_recovery_keep(s, o);
	if (s->held || s->deferred)
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

	if ((bins == NULL || bins->n == 0) && !s->held && !s->deferred &&
	    s->nsp->srv->recovery_window == 0)
		return eio_send_text(s->client->eio, packet, len);
	o = sio_out_packet(s->nsp, packet, len, bins);
	rc = sio_send(s, o);
	sio_out_free(o);
	return rc;
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


void
sio_accept(struct sio_socket *s)
{
	struct client *c = s->client;

	if (s->connected)
		return;
	sio_socket_link(s);
	sio_recovery_accepted(s);
	sio_answer_connect(s, c);
}


void
sio_refuse(struct sio_socket *s, const cJSON *data)
{
	sio_send_simple(s->client, SIO_CONNECT_ERROR, s->nsp->name, data);
	sio_socket_remove(s, "connect refused");
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
	sio_send_simple(s->client, SIO_DISCONNECT, s->nsp->name, NULL);
	sio_socket_remove(s, "server namespace disconnect");
}

void
sio_close_connection(struct sio_socket *s, const char *reason)
{
	if (s->held)
		sio_socket_remove(s, reason);	/* nothing else to close */
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
		sio_send_simple(c, SIO_CONNECT_ERROR, p->nsp, d);
		cJSON_Delete(d);
		return;
	}
	if (sio_client_socket(c, p->nsp) != NULL) {
		log_debug("sio %s: second CONNECT to %s ignored",
		    eio_session_sid(c->eio), p->nsp);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->client = c;
	s->nsp = n;
	s->replay = (struct sio_replay)SIO_REPLAY_INIT(sio_out_release);
	random_id(s->id, SIO_ID_LEN);
	s->cnext = c->sockets;
	c->sockets = s;
	sio_recovery_asked(s, p->data);
	if (n->ops.connect != NULL)
		n->ops.connect(s, p->data, n->arg);
	else
		sio_accept(s);
}

static void
deliver(struct client *c, struct sio_packet *p, const struct sio_bins *bins)
{
	struct sio_socket *s = sio_client_socket(c, p->nsp);

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
		    sio_client_socket(c, p->nsp) == NULL &&
		    nsp_find(srv, p->nsp) != NULL) {
			d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "message",
			    "Too many connection attempts; slow down");
			sio_send_simple(c, SIO_CONNECT_ERROR, p->nsp, d);
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
		else if ((s = sio_client_socket(c, p.nsp)) != NULL)
			sio_socket_remove(s, "client namespace disconnect");
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
		if ((s = sio_client_socket(c, p.nsp)) == NULL || !s->connected) {
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
		    s->connected && s->pid[0] != '\0' && !s->deferred)
			sio_recovery_hold(s, reason);
		else
			sio_socket_remove(s, reason);
	}
	partial_clear(c);
	eio_session_set_data(e, NULL);
	free(c);
}

static void
engine_heartbeat(void *arg, struct eio_session *e, int pong)
{
	struct client *c = eio_session_data(e);

	if (c == NULL || c->srv->recovery_window == 0)
		return;
	if (pong)
		sio_recovery_pong(c);
	else
		sio_recovery_ping(c);
}

/* ---------------------------------------------------------------- server */

struct sio_server *
sio_server_new(struct ev_loop *loop, const struct eio_opts *o,
    const struct sio_opts *so)
{
	static const struct eio_callbacks cbs = {
		engine_open, engine_message, engine_close, engine_heartbeat,
	};
	struct sio_server *srv;

	srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->connect_timeout = so->connect_timeout_ms / 1000.0;
	srv->connect_rate = so->connect_rate;
	srv->max_payload = o->max_payload;
	srv->recovery_window = so->recovery_window_ms / 1000.0;
	srv->recovery_bytes = so->recovery_buffer_bytes;
	/* Offsets of different gateways must not meet in one session's
	 * buffer (a session taken over holds the old gateway's packets and
	 * ours): each starts at a random place among 2^48. */
	srv->next_offset = random_u64(48);
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
