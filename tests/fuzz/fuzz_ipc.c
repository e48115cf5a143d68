/*
 * fuzz_ipc.c - libFuzzer target for the receive side of the room channel.
 *
 * The input is a run of datagrams, each a 2-byte little-endian length and
 * that many bytes (the last one takes whatever is left), fed in order to
 * one ipc_assemble, as a room process or the gateway would receive them.
 * Every whole message that comes out is read by its type's one decoder
 * (ipc_msg.c); a body the decoder takes, encoded again by its one encoder,
 * must give back exactly the bytes it was read from.  It is then framed
 * again with ipc_frame and must reassemble to itself.  A refused datagram must come with a reason.  Any
 * broken promise aborts, which libFuzzer reports as a crash.  Built with
 * replay_main.c, the same code replays the seed corpus under `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "ipc.h"
#include "ipc_msg.h"

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
	union ipc_body u;
	struct buf out = BUF_INIT, frames = BUF_INIT;
	const char *why;
	size_t off, dlen;

	(void)arg;
	CHECK(m->type >= IPC_HELLO && m->type < IPC_TYPE_MAX);
	CHECK(m->len <= IPC_MSG_MAX);
	CHECK(m->body != NULL);
	CHECK(strcmp(ipc_type_name(m->type), "?") != 0);

	/* The one decoder of its type; what it takes, the one encoder
	 * writes back byte for byte. */
	if (ipc_get_body(m->type, m->body, m->len, &u) == 0) {
		CHECK(ipc_put_body(&out, m->type, &u) == 0);
		CHECK(out.len == m->len);
		CHECK(m->len == 0 || memcmp(out.data, m->body, m->len) == 0);
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
