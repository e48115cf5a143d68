/*
 * ipc.c - the gateway <-> coup-roomd channel (see ipc.h for the contract).
 *
 * Three layers, each usable without the next: the body codec (ipc_put_*,
 * ipc_get_*), the pure receive side (ipc_assemble: one datagram in,
 * whole messages out, everything checked) and the channel, which moves
 * datagrams over a non-blocking SOCK_SEQPACKET socket driven by libev.
 *
 * On the wire a datagram is a 16-byte header (type u16, flags u16, len
 * u32, seq u32, reserved u32; all little-endian) and len body bytes.  The
 * header is encoded field by field rather than copied as a struct, so the
 * format does not depend on the compiler's layout or the host's byte order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ipc.h"
#include "log.h"
#include "xmalloc.h"

#define HDR_LEN		16
_Static_assert(sizeof(struct ipc_hdr) == HDR_LEN,
    "struct ipc_hdr is the 16-byte wire header");

/* Datagrams handled per read wakeup, so one busy peer cannot starve others. */
#define READ_BATCH	64
/*
 * Buffers that grew past this for one large message are given back once
 * the message is done: a room process should not hold megabytes for an SDP
 * offer it forwarded minutes ago.
 */
#define KEEP_CAP	(4 * IPC_FRAG_MAX)

/* ------------------------------------------------------------ the codec */

static void
le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

void
ipc_put_u8(struct buf *b, uint8_t v)
{
	buf_append_byte(b, v);
}

void
ipc_put_u16(struct buf *b, uint16_t v)
{
	le16(buf_reserve(b, 2), v);
	b->len += 2;
}

void
ipc_put_u32(struct buf *b, uint32_t v)
{
	le32(buf_reserve(b, 4), v);
	b->len += 4;
}

void
ipc_put_u64(struct buf *b, uint64_t v)
{
	uint8_t *p = buf_reserve(b, 8);

	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
	b->len += 8;
}

void
ipc_put_str(struct buf *b, const char *s, size_t len)
{
	/* No body may exceed IPC_MSG_MAX, so a longer string is a bug here. */
	if (len > UINT32_MAX)
		fatalx("ipc_put_str: %zu bytes", len);
	ipc_put_u32(b, (uint32_t)len);
	buf_append(b, s, len);
}

void
ipc_reader_init(struct ipc_reader *r, const void *data, size_t len)
{
	/* Never NULL, so a valid empty string or rest is never NULL either. */
	static const uint8_t empty[1];

	r->p = data != NULL ? data : empty;
	r->left = data != NULL ? len : 0;
	r->bad = 0;
}

/*
 * The next n bytes, or NULL (and the reader marked bad for good) when
 * fewer are left.  Once bad, every later read fails too, so a caller may
 * read a whole body and check `bad` once at the end.
 */
static const uint8_t *
take(struct ipc_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		r->left = 0;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t
ipc_get_u8(struct ipc_reader *r)
{
	const uint8_t *p = take(r, 1);

	return p != NULL ? p[0] : 0;
}

uint16_t
ipc_get_u16(struct ipc_reader *r)
{
	const uint8_t *p = take(r, 2);

	return p != NULL ? rd16(p) : 0;
}

uint32_t
ipc_get_u32(struct ipc_reader *r)
{
	const uint8_t *p = take(r, 4);

	return p != NULL ? rd32(p) : 0;
}

uint64_t
ipc_get_u64(struct ipc_reader *r)
{
	const uint8_t *p = take(r, 8);

	return p != NULL ? (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32 : 0;
}

const char *
ipc_get_str(struct ipc_reader *r, size_t *lenp, size_t max)
{
	const uint8_t *p;
	uint32_t n;

	*lenp = 0;
	n = ipc_get_u32(r);
	if (!r->bad && n > max) {
		r->bad = 1;
		r->left = 0;
	}
	if ((p = take(r, n)) == NULL)
		return NULL;
	*lenp = n;
	return (const char *)p;
}

const uint8_t *
ipc_get_rest(struct ipc_reader *r, size_t *lenp)
{
	const uint8_t *p;

	*lenp = 0;
	if (r->bad)
		return NULL;
	p = r->p;
	*lenp = r->left;
	r->p += r->left;
	r->left = 0;
	return p;
}

/* ------------------------------------------------- framing, both sides */

/* Datagrams one body travels in: an empty body still needs one. */
static size_t
frag_count(size_t len)
{
	return len == 0 ? 1 : (len + IPC_FRAG_MAX - 1) / IPC_FRAG_MAX;
}

size_t
ipc_frame_size(size_t len)
{
	return len + frag_count(len) * HDR_LEN;
}

size_t
ipc_frame(struct buf *b, uint16_t type, uint32_t seq, const void *body,
    size_t len)
{
	const uint8_t *src = body;
	size_t total = ipc_frame_size(len), off = 0, n;
	uint8_t *p;

	buf_reserve(b, total);
	do {
		n = len - off < IPC_FRAG_MAX ? len - off : IPC_FRAG_MAX;
		p = b->data + b->len;
		le16(p, type);
		le16(p + 2, off + n < len ? IPC_F_MORE : 0);
		le32(p + 4, (uint32_t)n);
		le32(p + 8, seq);
		le32(p + 12, 0);
		if (n > 0)
			memcpy(p + HDR_LEN, src + off, n);
		b->len += HDR_LEN + n;
		off += n;
	} while (off < len);
	return total;
}

int
ipc_assemble(struct ipc_assembler *a, const uint8_t *dgram, size_t len,
    void (*cb)(const struct ipc_msg *, void *), void *arg, const char **why)
{
	struct ipc_msg msg;
	uint16_t type, flags;
	uint32_t blen, seq, reserved;

	*why = NULL;
	if (len < HDR_LEN) {
		*why = "datagram shorter than its header";
		goto bad;
	}
	type = rd16(dgram);
	flags = rd16(dgram + 2);
	blen = rd32(dgram + 4);
	seq = rd32(dgram + 8);
	reserved = rd32(dgram + 12);

	if (blen != len - HDR_LEN)
		*why = "header length disagrees with the datagram";
	else if (blen > IPC_FRAG_MAX)
		*why = "fragment longer than IPC_FRAG_MAX";
	else if (type == 0 || type >= IPC_TYPE_MAX)
		*why = "unknown message type";
	else if (reserved != 0)
		*why = "reserved header field not zero";
	else if (flags & ~IPC_F_MORE)
		*why = "unknown header flags";
	else if ((flags & IPC_F_MORE) && blen == 0)
		/* A sender never makes one; endless ones would be a spin. */
		*why = "empty fragment";
	else if (a->partial && (type != a->type || seq != a->seq))
		*why = "fragment does not continue the message";
	else if (a->partial && blen > IPC_MSG_MAX - a->body.len)
		*why = "message longer than IPC_MSG_MAX";
	if (*why != NULL)
		goto bad;

	if (flags & IPC_F_MORE) {
		if (!a->partial) {
			buf_reset(&a->body);
			a->type = type;
			a->seq = seq;
			a->partial = 1;
		}
		buf_append(&a->body, dgram + HDR_LEN, blen);
		return 0;
	}

	msg.type = type;
	msg.seq = seq;
	if (a->partial) {
		buf_append(&a->body, dgram + HDR_LEN, blen);
		msg.body = a->body.data;
		msg.len = a->body.len;
	} else {
		/* One datagram, the common case: no copy. */
		msg.body = dgram + HDR_LEN;
		msg.len = blen;
	}
	/*
	 * Done with the assembler before the call, so that cb may clear or
	 * free it (body stays valid: resetting keeps the memory).
	 */
	a->partial = 0;
	buf_reset(&a->body);
	cb(&msg, arg);
	return 0;

bad:
	a->partial = 0;
	buf_reset(&a->body);
	return -1;
}

void
ipc_assembler_clear(struct ipc_assembler *a)
{
	buf_free(&a->body);
	a->type = 0;
	a->seq = 0;
	a->partial = 0;
}

/* ---------------------------------------------------------- the channel */

struct ipc_chan {
	struct ev_loop		*loop;
	int			 fd;
	ev_io			 rio;
	ev_io			 wio;
	ev_timer		 later;		/* reports an error ipc_send found */
	struct ipc_callbacks	 cb;
	void			*arg;

	size_t			 sendq_max;
	struct buf		 sendq;		/* whole datagrams, back to back */
	size_t			 sendq_off;	/* first unsent byte in sendq */
	uint32_t		 send_seq;	/* last seq given out */

	struct ipc_assembler	 in;
	uint8_t			*rbuf;		/* HDR_LEN + IPC_FRAG_MAX + 1 */

	int			 failed;	/* error reported: no more I/O */
	int			 wdead;		/* writes impossible (EPIPE...) */
	int			 busy;		/* inside a callback */
	int			 freed;		/* ipc_chan_free during a callback */
	char			 why[128];
};

#define RBUF_LEN	(HDR_LEN + IPC_FRAG_MAX + 1)

static void	chan_read_cb(struct ev_loop *, ev_io *, int);
static void	chan_write_cb(struct ev_loop *, ev_io *, int);
static void	chan_later_cb(struct ev_loop *, ev_timer *, int);

struct ipc_chan *
ipc_chan_new(struct ev_loop *loop, int fd, size_t sendq_max,
    const struct ipc_callbacks *cb, void *arg)
{
	struct ipc_chan *c;
	socklen_t optlen;
	int type;

	/* A stream socket would silently merge datagrams: refuse it early. */
	optlen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0 ||
	    type != SOCK_SEQPACKET)
		fatalx("ipc_chan_new: fd %d is not a SOCK_SEQPACKET socket", fd);

	c = xcalloc(1, sizeof(*c));
	c->rbuf = xmalloc(RBUF_LEN);
	c->loop = loop;
	c->fd = fd;
	c->cb = *cb;
	c->arg = arg;
	c->sendq_max = sendq_max;
	ev_io_init(&c->rio, chan_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, chan_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->later, chan_later_cb, 0., 0.);
	c->rio.data = c;
	c->wio.data = c;
	c->later.data = c;
	ev_io_start(loop, &c->rio);
	return c;
}

static void
chan_destroy(struct ipc_chan *c)
{
	ipc_assembler_clear(&c->in);
	buf_free(&c->sendq);
	free(c->rbuf);
	free(c);
}

void
ipc_chan_set_arg(struct ipc_chan *c, void *arg)
{
	c->arg = arg;
}

void
ipc_chan_free(struct ipc_chan *c)
{
	if (c == NULL || c->freed)
		return;
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->later);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->freed = 1;
	/* Inside a callback: the watcher that called it frees (gone()). */
	if (c->busy == 0)
		chan_destroy(c);
}

/*
 * After a callback: 1 if the owner freed the channel, which the outermost
 * of our frames (busy back to 0) then really destroys.
 */
static int
gone(struct ipc_chan *c)
{
	if (!c->freed)
		return 0;
	if (c->busy == 0)
		chan_destroy(c);
	return 1;
}

static void
drop_sendq(struct ipc_chan *c)
{
	buf_free(&c->sendq);
	c->sendq_off = 0;
	ev_io_stop(c->loop, &c->wio);
}

/* Stop all I/O and tell the owner; the caller then checks gone(). */
static void
chan_fail(struct ipc_chan *c, const char *why)
{
	c->failed = 1;
	ev_io_stop(c->loop, &c->rio);
	ev_timer_stop(c->loop, &c->later);
	drop_sendq(c);
	if (why != NULL)
		log_debug("ipc fd %d: %s", c->fd, why);
	c->busy++;
	c->cb.error(c, why, c->arg);
	c->busy--;
}

/*
 * Send queued datagrams until the socket is full.  Returns 0, or -1 with
 * c->why set on an error that ends the channel.  A peer that is gone
 * (EPIPE) is not an error here: its last messages may still be waiting
 * for us to read, and the read side reports the EOF after them.
 */
static int
flush(struct ipc_chan *c)
{
	const uint8_t *p;
	size_t dlen;
	ssize_t n;

	while (c->sendq_off < c->sendq.len) {
		p = c->sendq.data + c->sendq_off;
		dlen = HDR_LEN + rd32(p + 4);
		n = send(c->fd, p, dlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EPIPE || errno == ECONNRESET) {
				c->wdead = 1;
				drop_sendq(c);
				return 0;
			}
			snprintf(c->why, sizeof(c->why), "send: %s",
			    strerror(errno));
			c->wdead = 1;
			drop_sendq(c);
			return -1;
		}
		if ((size_t)n != dlen) {
			/* Cannot happen on SOCK_SEQPACKET; if it does, the
			 * peer has half a datagram and the stream is lost. */
			snprintf(c->why, sizeof(c->why), "short send");
			c->wdead = 1;
			drop_sendq(c);
			return -1;
		}
		c->sendq_off += dlen;
	}

	if (c->sendq_off == c->sendq.len) {
		if (c->sendq.cap > KEEP_CAP)
			buf_free(&c->sendq);
		else
			buf_reset(&c->sendq);
		c->sendq_off = 0;
		ev_io_stop(c->loop, &c->wio);
		return 0;
	}
	/* Move the rest to the front once most of the buffer is sent. */
	if (c->sendq_off >= c->sendq.len - c->sendq_off) {
		memmove(c->sendq.data, c->sendq.data + c->sendq_off,
		    c->sendq.len - c->sendq_off);
		c->sendq.len -= c->sendq_off;
		c->sendq_off = 0;
	}
	ev_io_start(c->loop, &c->wio);
	return 0;
}

long long
ipc_send(struct ipc_chan *c, uint16_t type, const void *body, size_t len)
{
	size_t need, queued;
	int was_idle;

	if (c->failed || c->freed || c->wdead)
		return -1;
	if (type == 0 || type >= IPC_TYPE_MAX || len > IPC_MSG_MAX) {
		log_warnx("ipc_send: refusing type %u with %zu bytes",
		    (unsigned)type, len);
		return -1;
	}
	/*
	 * Room for the whole message, as if the socket took none of it: a
	 * message is either accepted whole or refused with nothing queued.
	 */
	need = ipc_frame_size(len);
	queued = ipc_queued(c);
	if (queued > c->sendq_max || need > c->sendq_max - queued)
		return -1;

	if (++c->send_seq == 0)
		c->send_seq = 1;
	was_idle = queued == 0;
	ipc_frame(&c->sendq, type, c->send_seq, body, len);
	/* With datagrams already waiting, order says the write watcher goes
	 * first; it is running. */
	if (was_idle) {
		if (flush(c) == -1) {
			/*
			 * Not reported from here: the owner is in the middle
			 * of something and may not expect its error callback
			 * (which may free the channel).  A timer due now
			 * reports it on the next loop iteration (a fed
			 * event would wait for the loop's next wakeup).
			 */
			ev_timer_start(c->loop, &c->later);
			return -1;
		}
		if (c->wdead)
			return -1;
	}
	return c->send_seq;
}

size_t
ipc_queued(const struct ipc_chan *c)
{
	return c->sendq.len - c->sendq_off;
}

int
ipc_fd(const struct ipc_chan *c)
{
	return c->fd;
}

static void
deliver(const struct ipc_msg *msg, void *arg)
{
	struct ipc_chan *c = arg;

	c->cb.message(c, msg, c->arg);
}

static void
chan_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_chan *c = w->data;
	struct iovec iov;
	struct msghdr mh;
	const char *why;
	ssize_t n;
	int i, rc;

	for (i = 0; i < READ_BATCH; i++) {
		iov.iov_base = c->rbuf;
		iov.iov_len = RBUF_LEN;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ECONNRESET)
				why = NULL;	/* the peer went away */
			else {
				snprintf(c->why, sizeof(c->why), "recv: %s",
				    strerror(errno));
				why = c->why;
			}
			chan_fail(c, why);
			gone(c);
			return;
		}
		if (n == 0) {
			/* EOF; or a zero-length datagram, which no sender of
			 * ours makes: ending the channel is right for both. */
			chan_fail(c, NULL);
			gone(c);
			return;
		}
		/* The buffer has one byte more than any valid datagram. */
		if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > RBUF_LEN - 1) {
			chan_fail(c, "datagram longer than IPC_FRAG_MAX");
			gone(c);
			return;
		}

		c->busy++;
		rc = ipc_assemble(&c->in, c->rbuf, (size_t)n, deliver, c, &why);
		c->busy--;
		if (gone(c))
			return;
		if (rc == -1) {
			chan_fail(c, why);
			gone(c);
			return;
		}
		if (!c->in.partial && c->in.body.cap > KEEP_CAP)
			buf_free(&c->in.body);
	}
}

static void
chan_later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc_chan *c = w->data;

	if (c->failed)
		return;
	chan_fail(c, c->why);
	gone(c);
}

static void
chan_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_chan *c = w->data;

	if (flush(c) == -1) {
		chan_fail(c, c->why);
		gone(c);
	}
}

/* ---------------------------------------------------------------- names */

static const char *const type_names[IPC_TYPE_MAX] = {
	[IPC_HELLO] = "HELLO",
	[IPC_ROOM_OPEN] = "ROOM_OPEN",
	[IPC_JOIN] = "JOIN",
	[IPC_LEAVE] = "LEAVE",
	[IPC_EVENT] = "EVENT",
	[IPC_SEND] = "SEND",
	[IPC_EXIT] = "EXIT",
	[IPC_PROCESSED] = "PROCESSED",
	[IPC_LOG_LEVEL] = "LOG_LEVEL",
	[IPC_RECONN] = "RECONN",
};

/* The event names clients emit, exactly as the Node.js server knew them. */
static const char *const event_names[IPC_EV_MAX] = {
	[IPC_EV_VIDEO_OFFER] = "video:offer",
	[IPC_EV_VIDEO_ANSWER] = "video:answer",
	[IPC_EV_VIDEO_ICE_CANDIDATE] = "video:ice-candidate",
	[IPC_EV_VIDEO_TOGGLE_AUDIO] = "video:toggle-audio",
	[IPC_EV_VIDEO_TOGGLE_VIDEO] = "video:toggle-video",
	[IPC_EV_VIDEO_SCREEN_SHARE_START] = "video:screen-share-start",
	[IPC_EV_VIDEO_SCREEN_SHARE_STOP] = "video:screen-share-stop",
	[IPC_EV_VIDEO_SPEAKING] = "video:speaking",
	[IPC_EV_CHAT_SEND_MESSAGE] = "chat:send-message",
	[IPC_EV_CHAT_VIDEO_MESSAGE] = "chat:video-message",
	[IPC_EV_CHAT_VIDEO_FILE] = "chat:video-file",
	[IPC_EV_CHAT_FILE_UPLOADED] = "chat:file-uploaded",
	[IPC_EV_CHAT_TYPING] = "chat:typing",
	[IPC_EV_PRESENCE_STATUS_CHANGE] = "presence:status-change",
};

const char *
ipc_type_name(int type)
{
	if (type <= 0 || type >= IPC_TYPE_MAX)
		return "?";
	return type_names[type];
}

const char *
ipc_event_name(int ev)
{
	if (ev <= 0 || ev >= IPC_EV_MAX)
		return NULL;
	return event_names[ev];
}

int
ipc_event_by_name(const char *name)
{
	int ev;

	if (name == NULL)
		return 0;
	for (ev = 1; ev < IPC_EV_MAX; ev++)
		if (strcmp(event_names[ev], name) == 0)
			return ev;
	return 0;
}
