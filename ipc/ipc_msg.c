/*
 * ipc_msg.c - JOIN, LEAVE and EVENT bodies: the one encoder and the one
 * decoder of each (layouts in ipc.h), holding every string to bounds.h.
 */
#include <string.h>

#include "bounds.h"
#include "ipc.h"
#include "ipc_msg.h"

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
ipc_put_join(struct buf *b, const struct ipc_join *j)
{
	if (!sender_fits(j->socket_id, j->user_id, j->user))
		return -1;
	ipc_put_u64(b, j->conn);
	put(b, j->socket_id);
	put(b, j->user_id);
	put(b, j->user);
	ipc_put_u8(b, j->flags);
	ipc_put_u64(b, (uint64_t)j->joined_at);
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
