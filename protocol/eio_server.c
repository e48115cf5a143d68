/*
 * eio_server.c - Engine.IO v4 sessions: handshake, long-polling, WebSocket,
 * the polling-to-WebSocket upgrade, heartbeats and bounded send queues.
 *
 * Reading order: session lifetime (new, close, free), the send queue, the
 * heartbeat, incoming packets, then the two transports.  httpd.c calls the
 * transport hooks at the bottom; the layer above sees eio_callbacks.
 *
 * Long-polling answers are batched: sending only marks the session dirty,
 * and an ev_prepare watcher (run once per loop iteration, after every
 * callback) writes one payload per parked GET.  So a burst of packets
 * costs one HTTP answer, not one each.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "base64.h"
#include "bounds.h"
#include "cookie.h"
#include "eio_packet.h"
#include "eio_server.h"
#include "hash.h"
#include "hashtab.h"
#include "httpd.h"
#include "log.h"
#include "random_id.h"
#include "xmalloc.h"

enum transport { T_POLLING, T_WEBSOCKET };
enum hb_state { HB_WAIT_PING, HB_WAIT_PONG };

struct eio_session {
	struct eio_server	*srv;
	struct hnode		 node;		/* in the sid table */
	struct eio_session	*dnext;		/* dirty list */
	char			 sid[EIO_SID_LEN + 1];
	char			 peer[48];
	uint8_t			 transport;
	uint8_t			 closed;
	uint8_t			 lost;		/* not closed on purpose */
	/* The handshake's cookies of o.cookie_names, until the layer above
	 * has used them (eio_session_forget_cookie). */
	char			*cookie;
	uint8_t			 dirty;
	uint8_t			 doomed;	/* close at next flush */
	uint8_t			 hb;
	uint8_t			 probing;	/* ws attached, not upgraded */
	uint8_t			 probe_pong;	/* "3probe" to write */
	uint8_t			 ws_rx_binary;
	unsigned		 refs;
	struct httpd_req	*get;		/* parked long-poll GET */
	struct httpd_req	*post;		/* POST being handled */
	struct lws		*ws;
	struct buf		 ws_rx;		/* frame being assembled */
	struct eio_msg		**q;		/* ring of queued packets */
	unsigned		 qhead, qlen, qcap;
	size_t			 qbytes;
	ev_timer		 hb_timer;
	double			 hb_due;	/* when the timer is due */
	void			*data;		/* the layer above's */
};

/* Sessions a polling client closed itself, remembered briefly (see
 * tombstone_take). */
#define TOMBSTONES	64
#define TOMBSTONE_SECS	2.0

struct tombstone {
	char		 sid[EIO_SID_LEN + 1];
	double		 until;
};

struct eio_server {
	struct ev_loop		*loop;
	struct eio_opts		 o;
	struct eio_callbacks	 cb;
	void			*cb_arg;
	struct hashtab		 sessions;	/* by sid */
	unsigned		 count;
	struct eio_session	*dirty;
	ev_prepare		 flush_watcher;
	struct tombstone	 tombs[TOMBSTONES];
	unsigned		 ntomb;
	int			 refuse_new;	/* draining */
};

static void	session_unref(struct eio_session *);
static void	post_gone(struct httpd_req *, void *);
static void	dispatch(struct eio_session *, const struct eio_packet *);
static void	respond_get(struct eio_session *, const char *forced);

/* ---------------------------------------------------------------- messages */

struct eio_msg *
eio_msg_new(int binary, size_t len)
{
	struct eio_msg *m = xmalloc(sizeof(*m) + LWS_PRE + 1 + len);

	m->refs = 1;
	m->type = EIO_MESSAGE;
	m->binary = (uint8_t)(binary != 0);
	m->len = len;
	m->mem[LWS_PRE] = '0' + EIO_MESSAGE;
	return m;
}

static struct eio_msg *
msg_control(enum eio_type type, const char *data)
{
	size_t len = data ? strlen(data) : 0;
	struct eio_msg *m = eio_msg_new(0, len);

	m->type = (uint8_t)type;
	m->mem[LWS_PRE] = (uint8_t)('0' + type);
	if (len)
		memcpy(m->mem + LWS_PRE + 1, data, len);
	return m;
}

uint8_t *
eio_msg_payload(struct eio_msg *m)
{
	return m->mem + LWS_PRE + 1;
}

void
eio_msg_ref(struct eio_msg *m)
{
	m->refs++;
}

void
eio_msg_unref(struct eio_msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

/* ---------------------------------------------------------------- sessions */

/* Session ids are ours (random), so a plain hash will do. */
static uint64_t
sid_hash(const char *sid)
{
	return hash_u64(hash_str(sid));
}

static struct eio_session *
session_find(struct eio_server *s, const char *sid)
{
	uint64_t h;

	if (sid == NULL || strlen(sid) != EIO_SID_LEN)
		return NULL;
	h = sid_hash(sid);
	for (struct hnode *n = hashtab_chain(&s->sessions, h); n; n = n->next) {
		struct eio_session *se = hashtab_entry(n, struct eio_session,
		    node);

		if (n->hash == h && strcmp(se->sid, sid) == 0)
			return se;
	}
	return NULL;
}


static void	hb_fire(struct ev_loop *, ev_timer *, int);

static struct eio_session *
session_new(struct eio_server *s, enum transport t, const char *peer)
{
	struct eio_session *se;

	se = xcalloc(1, sizeof(*se));
	se->srv = s;
	se->transport = (uint8_t)t;
	se->refs = 1;
	snprintf(se->peer, sizeof(se->peer), "%s", peer ? peer : "?");
	do
		random_id(se->sid, EIO_SID_LEN);
	while (session_find(s, se->sid) != NULL);
	hashtab_insert(&s->sessions, &se->node, sid_hash(se->sid));
	s->count++;
	ev_init(&se->hb_timer, hb_fire);
	se->hb_timer.data = se;
	se->hb = HB_WAIT_PING;
	se->hb_due = ev_now(s->loop) + s->o.ping_interval_ms / 1000.0;
	ev_timer_set(&se->hb_timer, s->o.ping_interval_ms / 1000.0, 0.);
	ev_timer_start(s->loop, &se->hb_timer);
	log_debug("eio %s: open over %s from %s", se->sid,
	    t == T_POLLING ? "polling" : "websocket", se->peer);
	return se;
}

static void
session_unhash(struct eio_session *se)
{
	hashtab_remove(&se->srv->sessions, &se->node);
	se->srv->count--;
}

static void
queue_clear(struct eio_session *se)
{
	while (se->qlen > 0) {
		eio_msg_unref(se->q[se->qhead]);
		se->qhead = (se->qhead + 1) % se->qcap;
		se->qlen--;
	}
	free(se->q);
	se->q = NULL;
	se->qcap = se->qhead = 0;
	se->qbytes = 0;
}

static void
session_unref(struct eio_session *se)
{
	if (--se->refs > 0)
		return;
	queue_clear(se);
	buf_free(&se->ws_rx);
	eio_session_forget_cookie(se);
	free(se);
}

/*
 * Close a session: the parked GET gets `get_answer` ("1" when we close, "6"
 * when the client asked), the WebSocket a close frame, the layer above its
 * close callback.  Safe to call from inside any callback of this session.
 */
static void
session_close(struct eio_session *se, const char *reason, const char *get_answer)
{
	struct eio_server *s = se->srv;

	if (se->closed)
		return;
	se->closed = 1;
	log_debug("eio %s: closed (%s)", se->sid, reason);
	ev_timer_stop(s->loop, &se->hb_timer);
	session_unhash(se);
	if (se->get != NULL)
		respond_get(se, get_answer);
	if (se->post != NULL && se->post->gone == post_gone) {
		/* A POST whose body is still coming: nobody will read it now,
		 * and its connection holds a descriptor until the client
		 * gives up.  Close it. */
		httpd_abort(se->post);
		se->post = NULL;
		se->refs--;
	}
	if (se->ws != NULL) {
		httpd_ws_close(se->ws, strcmp(reason, "payload too large") == 0
		    ? LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE
		    : LWS_CLOSE_STATUS_NORMAL);
		se->ws = NULL;
	}
	if (s->cb.close != NULL)
		s->cb.close(s->cb_arg, se, reason);
	se->data = NULL;
	queue_clear(se);
	session_unref(se);
}

/* The connection went away without a close: the client did not mean to
 * leave (sio_server.c may hold its sockets for it to come back). */
static void
session_lost(struct eio_session *se, const char *reason)
{
	se->lost = 1;
	session_close(se, reason, "1");
}

void
eio_close(struct eio_session *se, const char *reason)
{
	session_close(se, reason ? reason : "server close", "1");
}

/* ---------------------------------------------------------------- sending */

/* Have flush_dirty() look at the session after the current callbacks. */
static void
schedule(struct eio_session *se)
{
	if (se->dirty)
		return;
	se->dirty = 1;
	se->refs++;
	se->dnext = se->srv->dirty;
	se->srv->dirty = se;
}

static void
mark_dirty(struct eio_session *se)
{
	if (se->get != NULL)
		schedule(se);
}

static void
kick_writer(struct eio_session *se)
{
	if (se->transport == T_WEBSOCKET && se->ws != NULL)
		lws_callback_on_writable(se->ws);
	else
		mark_dirty(se);
}

static int
queue_push(struct eio_session *se, struct eio_msg *m)
{
	if (se->closed || se->doomed)
		return -1;
	if (se->qbytes + m->len + 1 > se->srv->o.send_queue_max) {
		log_info("eio %s: %zu bytes queued for %s and it is not "
		    "reading; dropped (SEND_QUEUE_MAX)", se->sid, se->qbytes,
		    se->peer);
		/* Closed from flush_dirty(), never under a caller that may be
		 * walking a list of sessions to broadcast. */
		se->doomed = 1;
		schedule(se);
		return -1;
	}
	if (se->qlen == se->qcap) {
		unsigned ncap = se->qcap ? se->qcap * 2 : 4;
		struct eio_msg **nq = xmalloc(sizeof(*nq) * ncap);

		for (unsigned i = 0; i < se->qlen; i++)
			nq[i] = se->q[(se->qhead + i) % se->qcap];
		free(se->q);
		se->q = nq;
		se->qcap = ncap;
		se->qhead = 0;
	}
	se->q[(se->qhead + se->qlen) % se->qcap] = m;
	se->qlen++;
	se->qbytes += m->len + 1;
	eio_msg_ref(m);
	kick_writer(se);
	return 0;
}

static struct eio_msg *
queue_pop(struct eio_session *se)
{
	struct eio_msg *m;

	if (se->qlen == 0)
		return NULL;
	m = se->q[se->qhead];
	se->qhead = (se->qhead + 1) % se->qcap;
	se->qlen--;
	se->qbytes -= m->len + 1;
	return m;
}

int
eio_send(struct eio_session *se, struct eio_msg *m)
{
	return queue_push(se, m);
}

int
eio_send_text(struct eio_session *se, const char *text, size_t len)
{
	struct eio_msg *m = eio_msg_new(0, len);
	int rc;

	memcpy(eio_msg_payload(m), text, len);
	rc = queue_push(se, m);
	eio_msg_unref(m);
	return rc;
}

static void
send_control(struct eio_session *se, enum eio_type type, const char *data)
{
	struct eio_msg *m = msg_control(type, data);

	queue_push(se, m);
	eio_msg_unref(m);
}

/* ---------------------------------------------------------------- heartbeat */

/*
 * Deadlines count from when the previous one was due, not from when its
 * callback happened to run, so a busy loop does not stretch a client's
 * allowance: the pong is due ping_interval + ping_timeout after the last
 * one, to the millisecond.
 */
static void
hb_arm(struct eio_session *se, double after)
{
	struct ev_loop *loop = se->srv->loop;
	double wait;

	se->hb_due += after;
	wait = se->hb_due - ev_now(loop);
	ev_timer_stop(loop, &se->hb_timer);
	ev_timer_set(&se->hb_timer, wait > 0 ? wait : 0., 0.);
	ev_timer_start(loop, &se->hb_timer);
}

static void
hb_fire(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct eio_session *se = w->data;

	if (se->hb == HB_WAIT_PONG) {
		log_debug("eio %s: no pong within %d ms", se->sid,
		    se->srv->o.ping_timeout_ms);
		session_lost(se, "ping timeout");
		return;
	}
	se->hb = HB_WAIT_PONG;
	hb_arm(se, se->srv->o.ping_timeout_ms / 1000.0);
	send_control(se, EIO_PING, NULL);
	if (se->srv->cb.heartbeat != NULL)
		se->srv->cb.heartbeat(se->srv->cb_arg, se, 0);
}

static void
hb_pong(struct eio_session *se)
{
	struct ev_loop *loop = se->srv->loop;

	if (se->hb != HB_WAIT_PONG)
		return;
	se->hb = HB_WAIT_PING;
	se->hb_due = ev_now(loop);
	hb_arm(se, se->srv->o.ping_interval_ms / 1000.0);
	if (se->srv->cb.heartbeat != NULL)
		se->srv->cb.heartbeat(se->srv->cb_arg, se, 1);
}

/*
 * A request can arrive in the same loop iteration in which the pong
 * deadline passed, before the timer's callback runs: it is late all the
 * same.  Returns 1 if the session was closed.
 */
static int
hb_expired(struct eio_session *se)
{
	if (se->hb != HB_WAIT_PONG || ev_time() < se->hb_due)
		return 0;
	log_debug("eio %s: no pong within %d ms", se->sid,
	    se->srv->o.ping_timeout_ms);
	session_lost(se, "ping timeout");
	return 1;
}

/* ---------------------------------------------------------------- incoming */

/*
 * A polling client sends its close packet in a POST while its GET may
 * still be on the way on another connection; when the POST wins the race,
 * that GET should end like a parked one would have (noop), not with an
 * error.  So the sid is remembered for a moment, for one GET.
 */
static void
tombstone_add(struct eio_server *s, const char *sid)
{
	struct tombstone *t = &s->tombs[s->ntomb++ % TOMBSTONES];

	memcpy(t->sid, sid, sizeof(t->sid));
	t->until = ev_now(s->loop) + TOMBSTONE_SECS;
}

static int
tombstone_take(struct eio_server *s, const char *sid)
{
	for (unsigned i = 0; i < TOMBSTONES; i++) {
		struct tombstone *t = &s->tombs[i];

		if (t->until > ev_now(s->loop) && strcmp(t->sid, sid) == 0) {
			t->until = 0;
			return 1;
		}
	}
	return 0;
}

static void
dispatch(struct eio_session *se, const struct eio_packet *p)
{
	struct eio_server *s = se->srv;

	if (se->closed)
		return;
	switch (p->type) {
	case EIO_PONG:
		hb_pong(se);
		break;
	case EIO_MESSAGE:
		if (s->cb.message != NULL)
			s->cb.message(s->cb_arg, se, p->data, p->len,
			    p->binary);
		break;
	case EIO_CLOSE:
		/* The client asked: a parked GET ends with a noop. */
		if (se->transport == T_POLLING && se->get == NULL)
			tombstone_add(s, se->sid);
		session_close(se, "transport close", "6");
		break;
	case EIO_NOOP:
		break;
	default:
		/* open, upgrade or ping from a client are not legal here. */
		log_debug("eio %s: unexpected %s packet", se->sid,
		    eio_type_name(p->type));
		session_close(se, "parse error", "1");
		break;
	}
}

static int
dispatch_cb(void *arg, const struct eio_packet *p)
{
	struct eio_session *se = arg;

	dispatch(se, p);
	return se->closed ? 1 : 0;
}

/* ---------------------------------------------------------------- polling */

static void
handshake_json(struct eio_server *s, struct eio_session *se, int upgrades,
    char *out, size_t n)
{
	snprintf(out, n, "{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%d,"
	    "\"pingTimeout\":%d,\"maxPayload\":%zu}", se->sid,
	    upgrades ? "\"websocket\"" : "", s->o.ping_interval_ms,
	    s->o.ping_timeout_ms, s->o.max_payload);
}

static void
get_gone(struct httpd_req *req, void *arg)
{
	struct eio_session *se = arg;

	if (se->get == req)
		se->get = NULL;
	/* A client that drops its poll may be back with a new one; the
	 * heartbeat decides when it is really gone. */
}

/* Answer the parked GET with `forced` or with everything queued. */
static void
respond_get(struct eio_session *se, const char *forced)
{
	struct httpd_req *req = se->get;
	struct buf out = BUF_INIT;
	struct eio_msg *m;
	int first = 1;

	if (req == NULL)
		return;
	se->get = NULL;
	if (forced != NULL) {
		httpd_respond(req, 200, "text/plain; charset=UTF-8", forced,
		    strlen(forced));
		return;
	}
	while ((m = queue_pop(se)) != NULL) {
		struct eio_packet p = {
			.type = m->type, .binary = m->binary,
			.data = m->mem + LWS_PRE + 1, .len = m->len,
		};

		if (!first)
			buf_append_byte(&out, EIO_SEPARATOR);
		first = 0;
		eio_encode_polling(&out, &p);
		eio_msg_unref(m);
	}
	httpd_respond(req, 200, "text/plain; charset=UTF-8", out.data, out.len);
	buf_free(&out);
}

static void
flush_dirty(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct eio_server *s = w->data;
	struct eio_session *se;

	while ((se = s->dirty) != NULL) {
		s->dirty = se->dnext;
		se->dirty = 0;
		if (se->doomed)
			session_close(se, "send queue overflow", "1");
		else if (!se->closed && se->get != NULL && se->qlen > 0 &&
		    se->transport == T_POLLING)
			respond_get(se, se->probing ? "6" : NULL);
		session_unref(se);
	}
}

static void
bad_request(struct httpd_req *req, int code, const char *msg)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}",
	    code, msg);

	httpd_respond(req, 400, "application/json", body, (size_t)n);
}

/* Of the handshake's Cookie header, only what the layer above asked for
 * (o.cookie_names): nothing else of it is kept. */
static void
keep_cookie(struct eio_server *s, struct eio_session *se, const char *header)
{
	if (s->o.cookie_names != NULL && header != NULL)
		se->cookie = cookie_filter(header, s->o.cookie_names,
		    BOUND_COOKIE);
}

static void
polling_handshake(struct eio_server *s, struct httpd_req *req)
{
	struct eio_session *se;
	char json[256], body[260];
	char peer[48] = "?";

	if (req->method != HTTPD_GET) {
		bad_request(req, 2, "Bad handshake method");
		return;
	}
	if (s->refuse_new) {
		httpd_respond(req, 503, "text/plain", "Shutting down", 13);
		return;
	}
	if (s->count >= s->o.max_sessions) {
		log_warnx("refusing a new session: %u open (MAX_CONNECTIONS)",
		    s->count);
		httpd_respond(req, 503, "text/plain", "Server full", 11);
		return;
	}
	if (req->wsi != NULL)
		lws_get_peer_simple(req->wsi, peer, sizeof(peer));
	se = session_new(s, T_POLLING, peer);
	keep_cookie(s, se, req->cookie);
	handshake_json(s, se, 1, json, sizeof(json));
	int n = snprintf(body, sizeof(body), "0%s", json);
	httpd_respond(req, 200, "text/plain; charset=UTF-8", body, (size_t)n);
	if (s->cb.open != NULL)
		s->cb.open(s->cb_arg, se);
}

static void
polling_get(struct eio_session *se, struct httpd_req *req)
{
	if (se->get != NULL) {
		/* Two polls at once break ordering: the spec closes. */
		log_debug("eio %s: overlapping GET", se->sid);
		bad_request(req, 3, "Bad request");
		session_close(se, "transport error", "1");
		return;
	}
	se->get = req;
	httpd_park(req, get_gone, se);
	if (se->probing && se->ws != NULL) {
		/* Upgrading: end polling cleanly. */
		respond_get(se, "6");
		return;
	}
	if (se->qlen > 0)
		mark_dirty(se);
}

static void
post_gone(struct httpd_req *req, void *arg)
{
	struct eio_session *se = arg;

	if (se->post == req)
		se->post = NULL;
	session_unref(se);
}

/*
 * A POST's headers are in and its body is on the way.  It is the session's
 * one active POST from now until its body is complete: a second one in the
 * meantime would reorder the client's packets, so the spec closes.
 */
static void
eio_http_post_begin(void *srv, struct httpd_req *req)
{
	struct eio_server *s = srv;
	struct eio_session *se = session_find(s, httpd_arg(req, "sid"));
	const char *eio = httpd_arg(req, "EIO");
	const char *transport = httpd_arg(req, "transport");

	if (se == NULL || se->transport != T_POLLING || eio == NULL ||
	    strcmp(eio, "4") != 0 || transport == NULL ||
	    strcmp(transport, "polling") != 0)
		return;		/* eio_http_request answers it at the end */
	if (se->post != NULL) {
		log_debug("eio %s: overlapping POST", se->sid);
		req->close_after = 1;	/* its body is still coming */
		bad_request(req, 3, "Bad request");
		session_close(se, "transport error", "1");
		return;
	}
	se->post = req;
	se->refs++;
	httpd_park(req, post_gone, se);
}

static void
polling_post(struct eio_session *se, struct httpd_req *req)
{
	if (se->post == req) {
		/* Its body is complete: no longer parked, and the hash table
		 * still holds the session, so this unref cannot free it. */
		req->gone = NULL;
		se->post = NULL;
		session_unref(se);
	}
	if (req->too_large) {
		log_info("eio %s: POST over MAX_PAYLOAD (%zu bytes) from %s; "
		    "closing", se->sid, se->srv->o.max_payload, se->peer);
		httpd_respond(req, 413, "text/plain", "Payload Too Large", 17);
		session_close(se, "payload too large", "1");
		return;
	}
	if (se->post != NULL) {
		bad_request(req, 3, "Bad request");
		session_close(se, "transport error", "1");
		return;
	}
	se->post = req;
	se->refs++;
	if (eio_decode_payload(req->body.data, req->body.len, dispatch_cb,
	    se) < 0) {
		log_debug("eio %s: malformed polling payload", se->sid);
		bad_request(req, 3, "Bad request");
		session_close(se, "parse error", "1");
	} else
		httpd_respond(req, 200, "text/html", "ok", 2);
	se->post = NULL;
	session_unref(se);
}

static void
eio_http_request(void *srv, struct httpd_req *req)
{
	struct eio_server *s = srv;
	const char *eio = httpd_arg(req, "EIO");
	const char *transport = httpd_arg(req, "transport");
	const char *sid = httpd_arg(req, "sid");
	struct eio_session *se;

	if (eio == NULL || strcmp(eio, "4") != 0) {
		bad_request(req, 5, "Unsupported protocol version");
		return;
	}
	if (transport == NULL || strcmp(transport, "polling") != 0) {
		bad_request(req, 0, "Transport unknown");
		return;
	}
	if (sid == NULL) {
		polling_handshake(s, req);
		return;
	}
	se = session_find(s, sid);
	if (se != NULL && hb_expired(se))
		se = NULL;
	if (se == NULL && req->method == HTTPD_GET &&
	    tombstone_take(s, sid)) {
		httpd_respond(req, 200, "text/plain; charset=UTF-8", "6", 1);
		return;
	}
	if (se == NULL || se->transport != T_POLLING) {
		/* Unknown, closed, or already upgraded to WebSocket. */
		bad_request(req, 1, "Session ID unknown");
		return;
	}
	if (req->method == HTTPD_GET)
		polling_get(se, req);
	else if (req->method == HTTPD_POST)
		polling_post(se, req);
	else
		bad_request(req, 2, "Bad request method");
}

/* ---------------------------------------------------------------- websocket */

static int
eio_ws_check(void *srv, const char *eio, const char *transport,
    const char *sid)
{
	struct eio_server *s = srv;

	if (eio == NULL || strcmp(eio, "4") != 0)
		return 400;
	if (transport == NULL || strcmp(transport, "websocket") != 0)
		return 400;
	if (sid == NULL)
		return s->refuse_new || s->count >= s->o.max_sessions ? 503 : 0;
	/* An unknown sid is refused here; a known one that cannot take a
	 * WebSocket (it has one already) is closed after the handshake. */
	return session_find(s, sid) == NULL ? 400 : 0;
}

static void *
eio_ws_open(void *srv, struct lws *wsi, const char *sid, const char *peer,
    const char *cookie)
{
	struct eio_server *s = srv;
	struct eio_session *se;
	char json[256];

	if (sid != NULL) {
		se = session_find(s, sid);
		if (se == NULL || se->transport != T_POLLING || se->ws != NULL)
			return NULL;
		se->ws = wsi;
		log_debug("eio %s: websocket probe attached", se->sid);
		return se;
	}
	if (s->count >= s->o.max_sessions)
		return NULL;
	se = session_new(s, T_WEBSOCKET, peer);
	se->ws = wsi;
	keep_cookie(s, se, cookie);
	handshake_json(s, se, 0, json, sizeof(json));
	send_control(se, EIO_OPEN, json);
	if (s->cb.open != NULL)
		s->cb.open(s->cb_arg, se);
	return se;
}

/* A whole frame on a WebSocket that is still only a probe. */
static void
probe_frame(struct eio_session *se, const struct eio_packet *p)
{
	if (p->type == EIO_PING && p->len == 5 &&
	    memcmp(p->data, "probe", 5) == 0) {
		se->probing = 1;
		se->probe_pong = 1;
		lws_callback_on_writable(se->ws);
		if (se->get != NULL)
			respond_get(se, "6");
		return;
	}
	if (p->type == EIO_UPGRADE && se->probing) {
		log_debug("eio %s: upgraded to websocket", se->sid);
		se->probing = 0;
		se->transport = T_WEBSOCKET;
		if (se->get != NULL)
			respond_get(se, "6");
		if (se->qlen > 0 || se->probe_pong)
			lws_callback_on_writable(se->ws);
		return;
	}
	if (p->type == EIO_NOOP)
		return;
	log_debug("eio %s: unexpected %s on websocket probe", se->sid,
	    eio_type_name(p->type));
	httpd_ws_close(se->ws, LWS_CLOSE_STATUS_PROTOCOL_ERR);
	se->ws = NULL;
	se->probing = 0;
}

static void
eio_ws_receive(void *sess, struct lws *wsi, const void *in, size_t len,
    int binary, int first, int final)
{
	struct eio_session *se = sess;
	struct eio_packet p;

	if (se->closed || se->ws != wsi)
		return;
	if (first) {
		buf_reset(&se->ws_rx);
		se->ws_rx_binary = (uint8_t)(binary != 0);
	}
	if (se->ws_rx.len + len > se->srv->o.max_payload) {
		log_info("eio %s: WebSocket message over MAX_PAYLOAD (%zu "
		    "bytes) from %s; closing", se->sid, se->srv->o.max_payload,
		    se->peer);
		buf_free(&se->ws_rx);
		if (se->transport == T_WEBSOCKET)
			session_close(se, "payload too large", "1");
		else {
			httpd_ws_close(se->ws,
			    LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
			se->ws = NULL;
			se->probing = 0;
		}
		return;
	}
	buf_append(&se->ws_rx, in, len);
	if (!final)
		return;

	se->refs++;
	if (eio_decode_frame(se->ws_rx.data, se->ws_rx.len, se->ws_rx_binary,
	    &p) < 0) {
		log_debug("eio %s: malformed websocket frame", se->sid);
		session_close(se, "parse error", "1");
	} else if (se->transport == T_POLLING)
		probe_frame(se, &p);
	else
		dispatch(se, &p);
	if (!se->closed && se->ws_rx.cap > 4096)
		buf_free(&se->ws_rx);	/* do not keep a big buffer idle */
	else
		buf_reset(&se->ws_rx);
	session_unref(se);
}

static int
eio_ws_writeable(void *sess, struct lws *wsi)
{
	struct eio_session *se = sess;
	struct eio_msg *m;
	int n;

	if (se->closed || se->ws != wsi)
		return 0;
	if (se->probe_pong) {
		uint8_t pong[LWS_PRE + 6];

		memcpy(pong + LWS_PRE, "3probe", 6);
		se->probe_pong = 0;
		if (lws_write(wsi, pong + LWS_PRE, 6, LWS_WRITE_TEXT) < 6)
			return -1;
		if (se->transport == T_WEBSOCKET && se->qlen > 0)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (se->transport != T_WEBSOCKET || (m = queue_pop(se)) == NULL)
		return 0;
	if (m->binary)
		n = lws_write(wsi, m->mem + LWS_PRE + 1, m->len,
		    LWS_WRITE_BINARY);
	else
		n = lws_write(wsi, m->mem + LWS_PRE, m->len + 1,
		    LWS_WRITE_TEXT);
	eio_msg_unref(m);
	if (n < 0) {
		session_lost(se, "transport error");
		return -1;
	}
	if (se->qlen > 0)
		lws_callback_on_writable(wsi);
	return 0;
}

static void
eio_ws_closed(void *sess, struct lws *wsi, int by_peer)
{
	struct eio_session *se = sess;

	if (se->closed || se->ws != wsi)
		return;
	se->ws = NULL;
	if (se->transport == T_POLLING) {
		/* A probe that never completed: polling goes on. */
		se->probing = 0;
		se->probe_pong = 0;
		return;
	}
	if (by_peer)
		session_close(se, "transport close", "1");
	else
		session_lost(se, "transport close");
}

const struct httpd_transport *
eio_server_transport(void)
{
	static const struct httpd_transport t = {
		eio_http_request, eio_http_post_begin, eio_ws_check,
		eio_ws_open, eio_ws_receive, eio_ws_writeable, eio_ws_closed,
	};

	return &t;
}

/* ---------------------------------------------------------------- server */

struct eio_server *
eio_server_new(struct ev_loop *loop, const struct eio_opts *o,
    const struct eio_callbacks *cb, void *arg)
{
	struct eio_server *s;

	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->o = *o;
	s->cb = *cb;
	s->cb_arg = arg;
	ev_prepare_init(&s->flush_watcher, flush_dirty);
	s->flush_watcher.data = s;
	ev_prepare_start(loop, &s->flush_watcher);
	/* The prepare watcher must not keep the loop alive on its own. */
	ev_unref(loop);
	return s;
}

struct close_all {
	const char	*reason;
	int		 lost;
};

static void
close_one(struct hnode *n, void *arg)
{
	struct close_all *ca = arg;
	struct eio_session *se = hashtab_entry(n, struct eio_session, node);

	se->lost = (uint8_t)ca->lost;
	session_close(se, ca->reason, "1");
}

void
eio_server_close_all(struct eio_server *s, const char *reason)
{
	struct close_all ca = { reason, 0 };

	/* Each close takes its own session out of the table, no other. */
	hashtab_walk(&s->sessions, close_one, &ca);
}

void
eio_server_lose_all(struct eio_server *s, const char *reason)
{
	struct close_all ca = { reason, 1 };

	hashtab_walk(&s->sessions, close_one, &ca);
}

void
eio_server_free(struct eio_server *s)
{
	if (s == NULL)
		return;
	eio_server_close_all(s, "server shutdown");
	flush_dirty(s->loop, &s->flush_watcher, 0);
	ev_ref(s->loop);
	ev_prepare_stop(s->loop, &s->flush_watcher);
	hashtab_free(&s->sessions);
	free(s);
}

void
eio_server_refuse_new(struct eio_server *s, int on)
{
	s->refuse_new = on;
}

unsigned
eio_server_count(const struct eio_server *s)
{
	return s->count;
}

/* ---------------------------------------------------------------- accessors */

const char *
eio_session_sid(const struct eio_session *se)
{
	return se->sid;
}

const char *
eio_session_transport(const struct eio_session *se)
{
	return se->transport == T_WEBSOCKET ? "websocket" : "polling";
}

const char *
eio_session_cookie(const struct eio_session *se)
{
	return se->cookie;
}

void
eio_session_forget_cookie(struct eio_session *se)
{
	if (se->cookie != NULL) {
		/* Not left in freed memory either. */
		explicit_bzero(se->cookie, strlen(se->cookie));
		free(se->cookie);
		se->cookie = NULL;
	}
}

int
eio_session_lost(const struct eio_session *se)
{
	return se->lost;
}

const char *
eio_session_peer(const struct eio_session *se)
{
	return se->peer;
}

void *
eio_session_data(const struct eio_session *se)
{
	return se->data;
}

void
eio_session_set_data(struct eio_session *se, void *data)
{
	se->data = data;
}
