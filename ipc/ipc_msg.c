/*
 * ipc_msg.c - JOIN, LEAVE and EVENT bodies: the one encoder and the one
 * decoder of each (layouts in ipc.h), holding every string to bounds.h.
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "xmalloc.h"

struct ipc_str
ipc_str(const char *s)
{
	struct ipc_str v = { s != NULL ? s : "", s != NULL ? strlen(s) : 0 };

	return v;
}

static void
put(struct buf *b, struct ipc_str s)
{
	ipc_put_str(b, s.p, s.len);
}

static int
get(struct ipc_reader *r, struct ipc_str *s, size_t max)
{
	s->p = ipc_get_str(r, &s->len, max);
	return s->p == NULL ? -1 : 0;
}

/* Every byte read, none left over, no read past the end. */
static int
done(const struct ipc_reader *r)
{
	return r->bad || r->left != 0 ? -1 : 0;
}

static int
sender_fits(struct ipc_str sid, struct ipc_str uid, struct ipc_str user)
{
	return sid.len <= BOUND_SOCKET_ID && uid.len <= BOUND_USER_ID &&
	    user.len <= BOUND_USER_JSON;
}

int
ipc_put_hello(struct buf *b, const struct ipc_hello *h)
{
	ipc_put_u32(b, h->version);
	ipc_put_u32(b, h->pid);
	return 0;
}

int
ipc_get_hello(const void *body, size_t len, struct ipc_hello *h)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	h->version = ipc_get_u32(&r);
	h->pid = ipc_get_u32(&r);
	return done(&r);
}

int
ipc_put_room_open(struct buf *b, const struct ipc_room_open *o)
{
	if (o->room.len > BOUND_ROOM_NAME)
		return -1;
	put(b, o->room);
	ipc_put_u8(b, o->log_level);
	return 0;
}

int
ipc_get_room_open(const void *body, size_t len, struct ipc_room_open *o)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	if (get(&r, &o->room, BOUND_ROOM_NAME) < 0)
		return -1;
	o->log_level = ipc_get_u8(&r);
	return done(&r);
}

int
ipc_put_processed(struct buf *b, const struct ipc_processed *p)
{
	ipc_put_u32(b, p->seq);
	return 0;
}

int
ipc_get_processed(const void *body, size_t len, struct ipc_processed *p)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	p->seq = ipc_get_u32(&r);
	return done(&r);
}

int
ipc_put_log_level(struct buf *b, const struct ipc_log_level *l)
{
	ipc_put_u8(b, l->level);
	return 0;
}

int
ipc_get_log_level(const void *body, size_t len, struct ipc_log_level *l)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	l->level = ipc_get_u8(&r);
	return done(&r);
}

int
ipc_get_exit(const void *body, size_t len)
{
	return len == 0 ? 0 : -1;
}

int
ipc_put_join(struct buf *b, const struct ipc_join *j)
{
	if (!sender_fits(j->socket_id, j->user_id, j->user))
		return -1;
	ipc_put_u64(b, j->conn);
	put(b, j->socket_id);
	put(b, j->user_id);
	put(b, j->user);
	if (j->ice.len > BOUND_ICE_JSON)
		return -1;
	ipc_put_u8(b, j->flags);
	ipc_put_u64(b, (uint64_t)j->joined_at);
	put(b, j->ice);
	return 0;
}

int
ipc_get_join(const void *body, size_t len, struct ipc_join *j)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	j->conn = ipc_get_u64(&r);
	if (get(&r, &j->socket_id, BOUND_SOCKET_ID) < 0 ||
	    get(&r, &j->user_id, BOUND_USER_ID) < 0 ||
	    get(&r, &j->user, BOUND_USER_JSON) < 0)
		return -1;
	j->flags = ipc_get_u8(&r);
	j->joined_at = (int64_t)ipc_get_u64(&r);
	if (get(&r, &j->ice, BOUND_ICE_JSON) < 0)
		return -1;
	return done(&r);
}

int
ipc_put_leave(struct buf *b, const struct ipc_leave *l)
{
	ipc_put_u64(b, l->conn);
	ipc_put_u8(b, l->reason);
	return 0;
}

int
ipc_get_leave(const void *body, size_t len, struct ipc_leave *l)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	l->conn = ipc_get_u64(&r);
	l->reason = ipc_get_u8(&r);
	return done(&r);
}

int
ipc_put_reconn(struct buf *b, const struct ipc_reconn *m)
{
	ipc_put_u64(b, m->from);
	ipc_put_u64(b, m->to);
	return 0;
}

int
ipc_get_reconn(const void *body, size_t len, struct ipc_reconn *m)
{
	struct ipc_reader r;

	ipc_reader_init(&r, body, len);
	m->from = ipc_get_u64(&r);
	m->to = ipc_get_u64(&r);
	return done(&r);
}

/* The attachments and what they go with: BOUND_PAYLOAD in all. */
static int
bins_fit(const struct ipc_bins *bins, size_t with)
{
	size_t total = with;

	if (bins->n > BOUND_ATTACHMENTS)
		return 0;
	for (unsigned i = 0; i < bins->n; i++) {
		if (bins->bin[i].len > BOUND_PAYLOAD - total)
			return 0;
		total += bins->bin[i].len;
	}
	return 1;
}

static void
put_bins(struct buf *b, const struct ipc_bins *bins)
{
	ipc_put_u16(b, bins->n);
	for (unsigned i = 0; i < bins->n; i++)
		put(b, bins->bin[i]);
}

static int
get_bins(struct ipc_reader *r, struct ipc_bins *bins, size_t with)
{
	bins->n = ipc_get_u16(r);
	if (r->bad || bins->n > BOUND_ATTACHMENTS)
		return -1;
	for (unsigned i = 0; i < bins->n; i++)
		if (get(r, &bins->bin[i], BOUND_PAYLOAD) < 0)
			return -1;
	return bins_fit(bins, with) ? 0 : -1;
}

int
ipc_put_event(struct buf *b, const struct ipc_event_msg *e)
{
	int guest = (e->flags & IPC_E_GUEST) != 0;

	if ((guest && !sender_fits(e->socket_id, e->user_id, e->user)) ||
	    e->msg_id.len > BOUND_MESSAGE_ID || e->payload.len > BOUND_PAYLOAD ||
	    !bins_fit(&e->bins, e->payload.len))
		return -1;
	ipc_put_u64(b, e->conn);
	ipc_put_u16(b, e->event);
	ipc_put_u8(b, e->flags);
	if (guest) {
		put(b, e->socket_id);
		put(b, e->user_id);
		put(b, e->user);
	}
	put(b, e->msg_id);
	put(b, e->payload);
	put_bins(b, &e->bins);
	return 0;
}

int
ipc_get_event(const void *body, size_t len, struct ipc_event_msg *e)
{
	struct ipc_reader r;

	memset(e, 0, sizeof(*e));
	ipc_reader_init(&r, body, len);
	e->conn = ipc_get_u64(&r);
	e->event = ipc_get_u16(&r);
	e->flags = ipc_get_u8(&r);
	if ((e->flags & IPC_E_GUEST) &&
	    (get(&r, &e->socket_id, BOUND_SOCKET_ID) < 0 ||
	    get(&r, &e->user_id, BOUND_USER_ID) < 0 ||
	    get(&r, &e->user, BOUND_USER_JSON) < 0))
		return -1;
	if (get(&r, &e->msg_id, BOUND_MESSAGE_ID) < 0 ||
	    get(&r, &e->payload, BOUND_PAYLOAD) < 0 ||
	    get_bins(&r, &e->bins, e->payload.len) < 0)
		return -1;
	if (e->event == 0 || e->event >= IPC_EV_MAX)
		return -1;
	return done(&r);
}

int
ipc_put_send(struct buf *b, const uint64_t *conns, uint32_t n,
    const struct ipc_bins *bins, struct ipc_str packet)
{
	if (!bins_fit(bins, packet.len) ||
	    (size_t)n > (IPC_MSG_MAX - packet.len) / 8)
		return -1;
	ipc_put_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		ipc_put_u64(b, conns[i]);
	put_bins(b, bins);
	/* The packet runs to the end of the body. */
	buf_append(b, packet.p, packet.len);
	return 0;
}

int
ipc_get_send(const void *body, size_t len, struct ipc_send_msg *s)
{
	struct ipc_reader r;
	size_t n;

	ipc_reader_init(&r, body, len);
	s->n = ipc_get_u32(&r);
	if (r.bad || s->n == 0 || s->n > r.left / 8)
		return -1;
	s->conns = r.p;
	r.p += (size_t)s->n * 8;
	r.left -= (size_t)s->n * 8;
	if (get_bins(&r, &s->bins, 0) < 0)
		return -1;
	s->packet.p = (const char *)ipc_get_rest(&r, &n);
	s->packet.len = n;
	return s->packet.p == NULL || !bins_fit(&s->bins, n) ? -1 : 0;
}

uint64_t
ipc_send_conn(const struct ipc_send_msg *s, uint32_t i)
{
	struct ipc_reader r;

	ipc_reader_init(&r, s->conns + (size_t)i * 8, 8);
	return ipc_get_u64(&r);
}

int
ipc_get_body(uint16_t type, const void *body, size_t len, union ipc_body *u)
{
	switch (type) {
	case IPC_HELLO:
		return ipc_get_hello(body, len, &u->hello);
	case IPC_ROOM_OPEN:
		return ipc_get_room_open(body, len, &u->room_open);
	case IPC_JOIN:
		return ipc_get_join(body, len, &u->join);
	case IPC_LEAVE:
		return ipc_get_leave(body, len, &u->leave);
	case IPC_EVENT:
		return ipc_get_event(body, len, &u->event);
	case IPC_SEND:
		return ipc_get_send(body, len, &u->send);
	case IPC_EXIT:
		return ipc_get_exit(body, len);
	case IPC_PROCESSED:
		return ipc_get_processed(body, len, &u->processed);
	case IPC_LOG_LEVEL:
		return ipc_get_log_level(body, len, &u->log_level);
	case IPC_RECONN:
		return ipc_get_reconn(body, len, &u->reconn);
	default:
		return -1;
	}
}

int
ipc_put_body(struct buf *b, uint16_t type, const union ipc_body *u)
{
	switch (type) {
	case IPC_HELLO:
		return ipc_put_hello(b, &u->hello);
	case IPC_ROOM_OPEN:
		return ipc_put_room_open(b, &u->room_open);
	case IPC_JOIN:
		return ipc_put_join(b, &u->join);
	case IPC_LEAVE:
		return ipc_put_leave(b, &u->leave);
	case IPC_EVENT:
		return ipc_put_event(b, &u->event);
	case IPC_SEND: {
		/* The conns as they came: re-read, then written the same. */
		uint64_t *conns = xcalloc(u->send.n + 1, sizeof(*conns));
		int rc;

		for (uint32_t i = 0; i < u->send.n; i++)
			conns[i] = ipc_send_conn(&u->send, i);
		rc = ipc_put_send(b, conns, u->send.n, &u->send.bins,
		    u->send.packet);
		free(conns);
		return rc;
	}
	case IPC_EXIT:
		return 0;
	case IPC_PROCESSED:
		return ipc_put_processed(b, &u->processed);
	case IPC_LOG_LEVEL:
		return ipc_put_log_level(b, &u->log_level);
	case IPC_RECONN:
		return ipc_put_reconn(b, &u->reconn);
	default:
		return -1;
	}
}
