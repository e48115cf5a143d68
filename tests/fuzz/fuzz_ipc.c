/*
 * fuzz_ipc.c - libFuzzer target for the receive side of the room channel.
 *
 * The input is a run of datagrams, each a 2-byte little-endian length and
 * that many bytes (the last one takes whatever is left), fed in order to
 * one ipc_assemble, as a room process or the gateway would receive them.
 * Every whole message that comes out is read field by field as ipc.h lays
 * out its type, re-encoded with ipc_put_*, and must give back exactly the
 * bytes it was read from; it is then framed again with ipc_frame and must
 * reassemble to itself.  A refused datagram must come with a reason.  Any
 * broken promise aborts, which libFuzzer reports as a crash.  Built with
 * replay_main.c, the same code replays the seed corpus under `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "ipc.h"

/* Limits a real reader would apply to each string (any will do here). */
#define ID_MAX		128
#define USER_MAX	(64 * 1024)

/* One field read and written back, so the copy can be compared. */
static void
str(struct ipc_reader *r, struct buf *out, size_t max)
{
	const char *s;
	size_t len;

	s = ipc_get_str(r, &len, max);
	if (s == NULL) {
		CHECK(r->bad && len == 0);
		return;
	}
	CHECK(len <= max);
	ipc_put_str(out, s, len);
}

static void
u8(struct ipc_reader *r, struct buf *out)
{
	ipc_put_u8(out, ipc_get_u8(r));
}

static void
u16(struct ipc_reader *r, struct buf *out)
{
	ipc_put_u16(out, ipc_get_u16(r));
}

static uint32_t
u32(struct ipc_reader *r, struct buf *out)
{
	uint32_t v = ipc_get_u32(r);

	ipc_put_u32(out, v);
	return v;
}

static void
u64(struct ipc_reader *r, struct buf *out)
{
	ipc_put_u64(out, ipc_get_u64(r));
}

static void
rest(struct ipc_reader *r, struct buf *out)
{
	const uint8_t *p;
	size_t len;

	p = ipc_get_rest(r, &len);
	CHECK(r->bad ? p == NULL : p != NULL);
	buf_append(out, p, len);
	CHECK(r->left == 0);
}

/* Read a body as its type says; out gets the fields re-encoded. */
static void
read_body(const struct ipc_msg *m, struct ipc_reader *r, struct buf *out)
{
	uint32_t i, n;
	uint8_t flags;

	switch (m->type) {
	case IPC_HELLO:
		u32(r, out);			/* version */
		u32(r, out);			/* pid */
		break;
	case IPC_ROOM_OPEN:
		str(r, out, ID_MAX);		/* room */
		u32(r, out);			/* video_max */
		u32(r, out);			/* chat_max_len */
		u8(r, out);			/* log level */
		break;
	case IPC_JOIN:
		u64(r, out);			/* conn */
		str(r, out, ID_MAX);		/* socket_id */
		str(r, out, ID_MAX);		/* user_id */
		str(r, out, USER_MAX);		/* user */
		u8(r, out);			/* member flags */
		u64(r, out);			/* joined_at */
		break;
	case IPC_LEAVE:
		u64(r, out);			/* conn */
		u8(r, out);			/* reason */
		break;
	case IPC_EVENT:
		u64(r, out);			/* conn */
		u16(r, out);			/* event */
		flags = ipc_get_u8(r);
		ipc_put_u8(out, flags);
		if (flags & IPC_E_GUEST) {
			str(r, out, ID_MAX);	/* socket_id */
			str(r, out, ID_MAX);	/* user_id */
			str(r, out, USER_MAX);	/* user */
		}
		str(r, out, IPC_MSG_MAX);	/* payload */
		break;
	case IPC_SEND:
		n = u32(r, out);
		/* n comes from outside: the reader stops us at the end. */
		for (i = 0; i < n && !r->bad; i++)
			u64(r, out);		/* conn[i] */
		rest(r, out);			/* the packet */
		break;
	case IPC_EXIT:
		break;
	case IPC_PROCESSED:
		u32(r, out);			/* seq */
		break;
	case IPC_LOG_LEVEL:
		u8(r, out);			/* level */
		break;
	default:
		abort();	/* ipc_assemble let an unknown type through */
	}
}

/* The copy of a message made by the second assembler. */
struct copy {
	int		 n;
	struct ipc_msg	 msg;
	struct buf	 body;
};

static void
copy_cb(const struct ipc_msg *m, void *arg)
{
	struct copy *c = arg;

	c->n++;
	c->msg = *m;
	buf_reset(&c->body);
	buf_append(&c->body, m->body, m->len);
}

static void
message_cb(const struct ipc_msg *m, void *arg)
{
	struct ipc_assembler again = { BUF_INIT, 0, 0, 0 };
	struct copy c = { 0, { 0, 0, NULL, 0 }, BUF_INIT };
	struct ipc_reader r;
	struct buf out = BUF_INIT, frames = BUF_INIT;
	const char *why;
	size_t used, off, dlen;

	(void)arg;
	CHECK(m->type >= IPC_HELLO && m->type < IPC_TYPE_MAX);
	CHECK(m->len <= IPC_MSG_MAX);
	CHECK(m->body != NULL);
	CHECK(strcmp(ipc_type_name(m->type), "?") != 0);

	ipc_reader_init(&r, m->body, m->len);
	read_body(m, &r, &out);
	CHECK(r.left <= m->len);
	if (r.bad)
		CHECK(r.left == 0);
	else {
		/* What was read, written again, is what was there. */
		used = m->len - r.left;
		CHECK(r.p == m->body + used);
		CHECK(out.len == used);
		CHECK(used == 0 || memcmp(out.data, m->body, used) == 0);
	}

	/* Framed as ipc_send would, it reassembles to the same message. */
	CHECK(ipc_frame(&frames, m->type, m->seq, m->body, m->len) ==
	    ipc_frame_size(m->len));
	CHECK(frames.len == ipc_frame_size(m->len));
	for (off = 0; off < frames.len; off += dlen) {
		CHECK(frames.len - off >= sizeof(struct ipc_hdr));
		dlen = sizeof(struct ipc_hdr) + (frames.data[off + 4] |
		    (size_t)frames.data[off + 5] << 8 |
		    (size_t)frames.data[off + 6] << 16);
		CHECK(dlen <= sizeof(struct ipc_hdr) + IPC_FRAG_MAX);
		CHECK(ipc_assemble(&again, frames.data + off, dlen, copy_cb, &c,
		    &why) == 0 && why == NULL);
		/* Only the last datagram completes the message. */
		CHECK(c.n == (off + dlen == frames.len));
	}
	CHECK(c.msg.type == m->type && c.msg.seq == m->seq &&
	    c.msg.len == m->len);
	CHECK(m->len == 0 || memcmp(c.body.data, m->body, m->len) == 0);
	CHECK(!again.partial);

	ipc_assembler_clear(&again);
	buf_free(&c.body);
	buf_free(&out);
	buf_free(&frames);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_assembler a = { BUF_INIT, 0, 0, 0 };
	const char *why;
	uint8_t *d;
	size_t len;
	int rc;

	while (size >= 2) {
		len = (size_t)data[0] | (size_t)data[1] << 8;
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* An exactly sized copy, so ASan sees any overread. */
		if ((d = malloc(len ? len : 1)) == NULL)
			abort();
		memcpy(d, data, len);
		rc = ipc_assemble(&a, d, len, message_cb, NULL, &why);
		CHECK(rc == 0 || rc == -1);
		CHECK(rc == 0 ? why == NULL : why != NULL && *why != '\0');
		/* A refusal leaves nothing half-assembled behind. */
		if (rc == -1)
			CHECK(!a.partial);
		CHECK(a.body.len <= IPC_MSG_MAX);
		free(d);
		data += len;
		size -= len;
	}
	ipc_assembler_clear(&a);
	return 0;
}
