/*
 * test_ipc.c - the gateway <-> room process channel: the body codec, the
 * receive-side checks of ipc_assemble (each malformed case, reassembly,
 * bad fragments in the middle of a message), the framing of ipc_frame, and
 * the channel itself over a real SOCK_SEQPACKET socketpair driven by libev:
 * small and 1 MB messages both ways, the send queue bound, EOF, a
 * malformed datagram written by hand, send errors, and callbacks that free
 * their own channel.  Expected bytes are written out by hand, not
 * computed with the code under test.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <ev.h>

#include "buf.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "log.h"
#include "tap.h"

/* ------------------------------------------------------------ helpers */

static int
bytes_eq(const void *got, size_t glen, const void *want, size_t wlen)
{
	return glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0);
}

/* A datagram written field by field, independently of ipc.c. */
static void
dgram(struct buf *b, uint16_t type, uint16_t flags, uint32_t len,
    uint32_t seq, uint32_t reserved, const void *body, size_t blen)
{
	uint8_t h[16] = {
		type & 0xff, type >> 8, flags & 0xff, flags >> 8,
		len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >> 24,
		seq & 0xff, (seq >> 8) & 0xff, (seq >> 16) & 0xff, seq >> 24,
		reserved & 0xff, (reserved >> 8) & 0xff,
		(reserved >> 16) & 0xff, reserved >> 24,
	};

	buf_reset(b);
	buf_append(b, h, sizeof(h));
	buf_append(b, body, blen);
}

/* A body of n bytes that differs at every offset (mod 251) and by seed. */
static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	size_t i;

	if (p == NULL)
		fatal("malloc");
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i + seed) % 251);
	return p;
}

/* ------------------------------------------------------------ codec */

static void
test_put(void)
{
	struct buf b = BUF_INIT;
	static const uint8_t want[] = {
		0xab,
		0x34, 0x12,
		0x78, 0x56, 0x34, 0x12,
		0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,
		0x03, 0x00, 0x00, 0x00, 'a', 'b', 'c',
		0x00, 0x00, 0x00, 0x00,
	};

	ipc_put_u8(&b, 0xab);
	ipc_put_u16(&b, 0x1234);
	ipc_put_u32(&b, 0x12345678);
	ipc_put_u64(&b, 0x0123456789abcdefULL);
	ipc_put_str(&b, "abcdef", 3);
	ipc_put_str(&b, NULL, 0);
	ok(bytes_eq(b.data, b.len, want, sizeof(want)),
	    "put: u8 u16 u32 u64 str and empty str, packed little-endian");
	buf_free(&b);
}

static void
test_get(void)
{
	static const uint8_t body[] = {
		0xab,
		0x34, 0x12,
		0x78, 0x56, 0x34, 0x12,
		0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,
		0x03, 0x00, 0x00, 0x00, 'a', 'b', 'c',
		0x00, 0x00, 0x00, 0x00,
		'x', 'y',
	};
	struct ipc_reader r;
	const uint8_t *rest;
	const char *s;
	size_t len;

	ipc_reader_init(&r, body, sizeof(body));
	is_int(ipc_get_u8(&r), 0xab, "get u8");
	is_int(ipc_get_u16(&r), 0x1234, "get u16");
	is_int(ipc_get_u32(&r), 0x12345678, "get u32");
	ok(ipc_get_u64(&r) == 0x0123456789abcdefULL, "get u64");
	s = ipc_get_str(&r, &len, 3);
	ok(s != NULL && bytes_eq(s, len, "abc", 3),
	    "get str exactly as long as max");
	s = ipc_get_str(&r, &len, 0);
	ok(s != NULL && len == 0, "get empty str: not NULL, length 0");
	rest = ipc_get_rest(&r, &len);
	ok(rest != NULL && bytes_eq(rest, len, "xy", 2), "get rest");
	is_int(r.left, 0, "... nothing left");
	rest = ipc_get_rest(&r, &len);
	ok(rest != NULL && len == 0, "rest of an exhausted body is empty");
	is_int(r.bad, 0, "reader not bad after exact reads");

	/* Overruns: every width one byte short. */
	ipc_reader_init(&r, body, 0);
	is_int(ipc_get_u8(&r), 0, "u8 from nothing gives 0");
	is_int(r.bad, 1, "... and marks the reader bad");

	ipc_reader_init(&r, body, 1);
	is_int(ipc_get_u16(&r), 0, "u16 from 1 byte gives 0");
	is_int(r.bad, 1, "... bad");
	ipc_reader_init(&r, body, 3);
	is_int(ipc_get_u32(&r), 0, "u32 from 3 bytes gives 0");
	is_int(r.bad, 1, "... bad");
	ipc_reader_init(&r, body, 7);
	ok(ipc_get_u64(&r) == 0, "u64 from 7 bytes gives 0");
	is_int(r.bad, 1, "... bad");

	/* Once bad, always bad, even where bytes would remain. */
	ipc_reader_init(&r, body, 2);
	(void)ipc_get_u32(&r);
	is_int(ipc_get_u8(&r), 0, "u8 after an overrun gives 0");
	ok(ipc_get_rest(&r, &len) == NULL && len == 0,
	    "rest after an overrun is NULL");
	is_int(r.bad, 1, "reader stays bad");

	/* Strings: length beyond the body, beyond max, length cut short. */
	{
		static const uint8_t longer[] = { 5, 0, 0, 0, 'a', 'b' };
		static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
		static const uint8_t cut[] = { 1, 0, 0 };

		ipc_reader_init(&r, longer, sizeof(longer));
		s = ipc_get_str(&r, &len, 100);
		ok(s == NULL && len == 0 && r.bad,
		    "str longer than the body is bad");
		ipc_reader_init(&r, longer, sizeof(longer));
		s = ipc_get_str(&r, &len, 4);
		ok(s == NULL && len == 0 && r.bad,
		    "str longer than max is bad");
		ipc_reader_init(&r, huge, sizeof(huge));
		s = ipc_get_str(&r, &len, SIZE_MAX);
		ok(s == NULL && r.bad, "str of length 2^32-1 is bad");
		ipc_reader_init(&r, cut, sizeof(cut));
		s = ipc_get_str(&r, &len, 100);
		ok(s == NULL && r.bad, "str with a cut length is bad");
	}

	ipc_reader_init(&r, NULL, 0);
	rest = ipc_get_rest(&r, &len);
	ok(rest != NULL && len == 0 && !r.bad,
	    "a NULL body reads as empty");
}

static void
test_names(void)
{
	is_str(ipc_type_name(IPC_HELLO), "HELLO", "type name HELLO");
	is_str(ipc_type_name(IPC_ROOM_OPEN), "ROOM_OPEN", "type name ROOM_OPEN");
	is_str(ipc_type_name(IPC_PROCESSED), "PROCESSED", "type name PROCESSED");
	is_str(ipc_type_name(0), "?", "type name 0");
	is_str(ipc_type_name(IPC_TYPE_MAX), "?", "type name IPC_TYPE_MAX");
	is_str(ipc_type_name(-1), "?", "type name -1");

	is_str(ipc_event_name(IPC_EV_VIDEO_OFFER), "video:offer", "event 1");
	is_str(ipc_event_name(IPC_EV_VIDEO_ICE_CANDIDATE),
	    "video:ice-candidate", "event ice-candidate");
	is_str(ipc_event_name(IPC_EV_VIDEO_SCREEN_SHARE_STOP),
	    "video:screen-share-stop", "event screen-share-stop");
	is_str(ipc_event_name(IPC_EV_CHAT_FILE_UPLOADED),
	    "chat:file-uploaded", "event file-uploaded");
	is_str(ipc_event_name(IPC_EV_PRESENCE_STATUS_CHANGE),
	    "presence:status-change", "event status-change");
	ok(ipc_event_name(0) == NULL, "event 0 has no name");
	ok(ipc_event_name(IPC_EV_MAX) == NULL, "IPC_EV_MAX has no name");

	is_int(ipc_event_by_name("video:offer"), 1, "by name video:offer");
	is_int(ipc_event_by_name("video:answer"), 2, "by name video:answer");
	is_int(ipc_event_by_name("video:speaking"), 8, "by name video:speaking");
	is_int(ipc_event_by_name("chat:send-message"), 9,
	    "by name chat:send-message");
	is_int(ipc_event_by_name("chat:typing"), 13, "by name chat:typing");
	is_int(ipc_event_by_name("presence:status-change"), 14,
	    "by name presence:status-change");
	is_int(ipc_event_by_name("video:join"), 0, "video:join is not a room event");
	is_int(ipc_event_by_name("video:offer "), 0, "no prefix matches");
	is_int(ipc_event_by_name(""), 0, "empty name");
	is_int(ipc_event_by_name(NULL), 0, "NULL name");
}

/* ------------------------------------------------------------ assemble */

struct got {
	int		 n;
	uint16_t	 type;
	uint32_t	 seq;
	struct buf	 body;		/* copy of the last message's body */
	struct ipc_assembler *clear_me;	/* cleared from inside the callback */
};

static void
got_cb(const struct ipc_msg *m, void *arg)
{
	struct got *g = arg;

	g->n++;
	g->type = m->type;
	g->seq = m->seq;
	buf_reset(&g->body);
	buf_append(&g->body, m->body, m->len);
	if (g->clear_me != NULL)
		ipc_assembler_clear(g->clear_me);
}

/* Feed one datagram from d; returns ipc_assemble's result. */
static int
feed(struct ipc_assembler *a, struct buf *d, struct got *g, const char **why)
{
	return ipc_assemble(a, d->data, d->len, got_cb, g, why);
}

static void
test_assemble_malformed(void)
{
	struct ipc_assembler a = { BUF_INIT, 0, 0, 0 };
	struct got g = { 0 };
	struct buf d = BUF_INIT;
	const char *why;
	uint8_t *big = pattern(IPC_FRAG_MAX + 1, 0);

	dgram(&d, IPC_HELLO, 0, 0, 1, 0, NULL, 0);
	is_int(ipc_assemble(&a, d.data, 0, got_cb, &g, &why), -1,
	    "empty datagram refused");
	is_str(why, "datagram shorter than its header", "... why");
	is_int(ipc_assemble(&a, d.data, 15, got_cb, &g, &why), -1,
	    "15-byte datagram refused");
	is_str(why, "datagram shorter than its header", "... why");

	dgram(&d, IPC_HELLO, 0, 5, 1, 0, "abcd", 4);
	is_int(feed(&a, &d, &g, &why), -1, "len 5 with 4 bytes refused");
	is_str(why, "header length disagrees with the datagram", "... why");
	dgram(&d, IPC_HELLO, 0, 3, 1, 0, "abcd", 4);
	is_int(feed(&a, &d, &g, &why), -1, "len 3 with 4 bytes refused");
	is_str(why, "header length disagrees with the datagram", "... why");
	dgram(&d, IPC_HELLO, 0, 0xffffffff, 1, 0, "abcd", 4);
	is_int(feed(&a, &d, &g, &why), -1, "len 2^32-1 refused");

	dgram(&d, IPC_SEND, 0, IPC_FRAG_MAX + 1, 1, 0, big, IPC_FRAG_MAX + 1);
	is_int(feed(&a, &d, &g, &why), -1, "fragment of IPC_FRAG_MAX+1 refused");
	is_str(why, "fragment longer than IPC_FRAG_MAX", "... why");

	dgram(&d, 0, 0, 0, 1, 0, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "type 0 refused");
	is_str(why, "unknown message type", "... why");
	dgram(&d, IPC_TYPE_MAX, 0, 0, 1, 0, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "type IPC_TYPE_MAX refused");
	is_str(why, "unknown message type", "... why");
	dgram(&d, 0xffff, 0, 0, 1, 0, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "type 0xffff refused");

	dgram(&d, IPC_EXIT, 0, 0, 1, 1, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "reserved 1 refused");
	is_str(why, "reserved header field not zero", "... why");
	dgram(&d, IPC_EXIT, 0, 0, 1, 0x80000000, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "reserved high bit refused");

	dgram(&d, IPC_EXIT, 0x0002, 0, 1, 0, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "flag 0x0002 refused");
	is_str(why, "unknown header flags", "... why");
	dgram(&d, IPC_EXIT, 0x8001, 1, 1, 0, "x", 1);
	is_int(feed(&a, &d, &g, &why), -1, "flags 0x8001 refused");

	dgram(&d, IPC_SEND, IPC_F_MORE, 0, 1, 0, NULL, 0);
	is_int(feed(&a, &d, &g, &why), -1, "empty fragment with MORE refused");
	is_str(why, "empty fragment", "... why");

	/* A fragment of another type, then of another seq. */
	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 7, 0, "abc", 3);
	is_int(feed(&a, &d, &g, &why), 0, "first fragment taken");
	ok(a.partial, "... and the message is partial");
	dgram(&d, IPC_EVENT, 0, 3, 7, 0, "def", 3);
	is_int(feed(&a, &d, &g, &why), -1, "next fragment of another type refused");
	is_str(why, "fragment does not continue the message", "... why");
	ok(!a.partial, "... and the partial message is dropped");

	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 7, 0, "abc", 3);
	is_int(feed(&a, &d, &g, &why), 0, "first fragment again");
	dgram(&d, IPC_SEND, 0, 3, 8, 0, "def", 3);
	is_int(feed(&a, &d, &g, &why), -1, "next fragment of another seq refused");
	is_str(why, "fragment does not continue the message", "... why");

	is_int(g.n, 0, "no message came out of any of that");

	/* Right after refusals, a good message comes through whole. */
	dgram(&d, IPC_PROCESSED, 0, 4, 9, 0, "\x2a\0\0\0", 4);
	is_int(feed(&a, &d, &g, &why), 0, "good message after refusals");
	ok(why == NULL, "... why is NULL");
	ok(g.n == 1 && g.type == IPC_PROCESSED && g.seq == 9 &&
	    bytes_eq(g.body.data, g.body.len, "\x2a\0\0\0", 4),
	    "... delivered intact");

	ipc_assembler_clear(&a);
	buf_free(&g.body);
	buf_free(&d);
	free(big);
}

static void
test_assemble_sizes(void)
{
	struct ipc_assembler a = { BUF_INIT, 0, 0, 0 };
	struct got g = { 0 };
	struct buf d = BUF_INIT;
	const char *why;
	uint8_t *frag = pattern(IPC_FRAG_MAX, 3);
	int i, rc;

	/* 170 full fragments and one of 32768 bytes: exactly 8 MiB. */
	for (i = 0, rc = 0; i < 170 && rc == 0; i++) {
		dgram(&d, IPC_SEND, IPC_F_MORE, IPC_FRAG_MAX, 5, 0, frag,
		    IPC_FRAG_MAX);
		rc = feed(&a, &d, &g, &why);
	}
	is_int(rc, 0, "170 fragments of IPC_FRAG_MAX taken");
	dgram(&d, IPC_SEND, 0, 32768, 5, 0, frag, 32768);
	is_int(feed(&a, &d, &g, &why), 0, "last fragment to exactly IPC_MSG_MAX");
	ok(g.n == 1 && g.body.len == 8388608 && g.seq == 5,
	    "... one message of 8388608 bytes");
	ok(g.body.len == 8388608 &&
	    memcmp(g.body.data + 169 * IPC_FRAG_MAX, frag, IPC_FRAG_MAX) == 0 &&
	    memcmp(g.body.data + 170 * IPC_FRAG_MAX, frag, 32768) == 0,
	    "... with the fragments in order");

	for (i = 0, rc = 0; i < 170 && rc == 0; i++) {
		dgram(&d, IPC_SEND, IPC_F_MORE, IPC_FRAG_MAX, 6, 0, frag,
		    IPC_FRAG_MAX);
		rc = feed(&a, &d, &g, &why);
	}
	dgram(&d, IPC_SEND, 0, 32769, 6, 0, frag, 32769);
	is_int(feed(&a, &d, &g, &why), -1, "one byte over IPC_MSG_MAX refused");
	is_str(why, "message longer than IPC_MSG_MAX", "... why");
	is_int(g.n, 1, "... and not delivered");

	for (i = 0, rc = 0; i < 171 && rc == 0; i++) {
		dgram(&d, IPC_SEND, IPC_F_MORE, IPC_FRAG_MAX, 7, 0, frag,
		    IPC_FRAG_MAX);
		rc = feed(&a, &d, &g, &why);
	}
	is_int(rc, -1, "an endless MORE chain is cut at IPC_MSG_MAX");
	is_int(i, 171, "... on the 171st fragment");

	ipc_assembler_clear(&a);
	buf_free(&g.body);
	buf_free(&d);
	free(frag);
}

static void
test_assemble_good(void)
{
	struct ipc_assembler a = { BUF_INIT, 0, 0, 0 };
	struct got g = { 0 };
	struct buf d = BUF_INIT;
	const char *why;

	dgram(&d, IPC_EXIT, 0, 0, 1, 0, NULL, 0);
	is_int(feed(&a, &d, &g, &why), 0, "empty EXIT");
	ok(g.n == 1 && g.type == IPC_EXIT && g.seq == 1 && g.body.len == 0,
	    "... delivered with an empty body");

	dgram(&d, IPC_HELLO, 0, 8, 2, 0, "\x01\0\0\0\x39\x30\0\0", 8);
	is_int(feed(&a, &d, &g, &why), 0, "one-datagram HELLO");
	ok(g.n == 2 && g.type == IPC_HELLO && g.seq == 2 &&
	    bytes_eq(g.body.data, g.body.len, "\x01\0\0\0\x39\x30\0\0", 8),
	    "... delivered");

	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 3, 0, "abc", 3);
	is_int(feed(&a, &d, &g, &why), 0, "fragment 1 of 3");
	dgram(&d, IPC_SEND, IPC_F_MORE, 2, 3, 0, "de", 2);
	is_int(feed(&a, &d, &g, &why), 0, "fragment 2 of 3");
	is_int(g.n, 2, "... nothing delivered yet");
	dgram(&d, IPC_SEND, 0, 4, 3, 0, "fghi", 4);
	is_int(feed(&a, &d, &g, &why), 0, "fragment 3 of 3");
	ok(g.n == 3 && g.type == IPC_SEND && g.seq == 3 &&
	    bytes_eq(g.body.data, g.body.len, "abcdefghi", 9),
	    "three fragments reassembled");
	ok(!a.partial, "... assembler idle again");

	/* A bad datagram in the middle of a message drops what came before. */
	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 4, 0, "OLD", 3);
	feed(&a, &d, &g, &why);
	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 4, 1, "BAD", 3);
	is_int(feed(&a, &d, &g, &why), -1, "bad fragment mid-message refused");
	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 5, 0, "new", 3);
	is_int(feed(&a, &d, &g, &why), 0, "a new message starts");
	dgram(&d, IPC_SEND, 0, 3, 5, 0, "end", 3);
	is_int(feed(&a, &d, &g, &why), 0, "... and ends");
	ok(g.n == 4 && g.seq == 5 &&
	    bytes_eq(g.body.data, g.body.len, "newend", 6),
	    "... without bytes of the dropped one");

	/* The callback may clear the assembler it was called from. */
	g.clear_me = &a;
	dgram(&d, IPC_SEND, IPC_F_MORE, 3, 6, 0, "abc", 3);
	feed(&a, &d, &g, &why);
	dgram(&d, IPC_SEND, 0, 3, 6, 0, "def", 3);
	is_int(feed(&a, &d, &g, &why), 0, "callback clearing its assembler");
	ok(g.n == 5 && bytes_eq(g.body.data, g.body.len, "abcdef", 6) &&
	    a.body.data == NULL, "... got the body, assembler cleared");

	ipc_assembler_clear(&a);
	buf_free(&g.body);
	buf_free(&d);
}

static void
test_frame(void)
{
	struct ipc_assembler a = { BUF_INIT, 0, 0, 0 };
	struct got g = { 0 };
	struct buf f = BUF_INIT;
	static const uint8_t want[] = {
		0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 'a', 'b',
	};
	size_t n, off, len = 1000000, dlen;
	uint8_t *body = pattern(len, 11);
	const char *why;
	int frags, rc;

	is_int(ipc_frame_size(0), 16, "frame size of an empty body");
	is_int(ipc_frame_size(1), 17, "frame size of 1 byte");
	is_int(ipc_frame_size(49152), 49168, "frame size of IPC_FRAG_MAX");
	is_int(ipc_frame_size(49153), 49185, "frame size of IPC_FRAG_MAX+1");

	n = ipc_frame(&f, IPC_JOIN, 7, "ab", 2);
	ok(n == 18 && bytes_eq(f.data, f.len, want, sizeof(want)),
	    "frame of a 2-byte JOIN, seq 7");
	buf_reset(&f);
	n = ipc_frame(&f, IPC_EXIT, 1, NULL, 0);
	ok(n == 16 && bytes_eq(f.data, f.len,
	    "\x07\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 16),
	    "frame of an empty EXIT");

	/* 1000000 = 20 * 49152 + 16960: 21 datagrams. */
	buf_reset(&f);
	n = ipc_frame(&f, IPC_SEND, 42, body, len);
	is_int(n, 1000000 + 21 * 16, "1 MB framed into 21 datagrams");
	for (off = 0, frags = 0, rc = 0; off < f.len && rc == 0; frags++) {
		dlen = 16 + (f.data[off + 4] | f.data[off + 5] << 8 |
		    f.data[off + 6] << 16);
		rc = ipc_assemble(&a, f.data + off, dlen, got_cb, &g, &why);
		off += dlen;
	}
	ok(rc == 0 && frags == 21 && off == f.len, "... fed as 21 datagrams");
	ok(f.data[2] == 1 && f.data[n - 16960 - 16 + 2] == 0,
	    "... MORE on the first, not on the last");
	ok(g.n == 1 && g.seq == 42 && g.type == IPC_SEND &&
	    bytes_eq(g.body.data, g.body.len, body, len),
	    "... reassembled to the same body");

	ipc_assembler_clear(&a);
	buf_free(&g.body);
	buf_free(&f);
	free(body);
}

/* ------------------------------------------------------------ channel */

#define MAX_SEEN	512

/* What one end of a channel saw. */
struct end {
	struct ipc_chan	*c;
	int		 n;
	uint16_t	 type[MAX_SEEN];
	uint32_t	 seq[MAX_SEEN];
	size_t		 len[MAX_SEEN];
	struct buf	 last;		/* body of the last message */
	int		 errors;
	int		 eof;
	char		 why[128];
	int		 free_on_msg;	/* ipc_chan_free from the callback */
	int		 free_on_err;
	int		 send_on_msg;	/* reply with an EXIT from the callback */
};

static void
end_msg(struct ipc_chan *c, const struct ipc_msg *m, void *arg)
{
	struct end *e = arg;

	if (e->n < MAX_SEEN) {
		e->type[e->n] = m->type;
		e->seq[e->n] = m->seq;
		e->len[e->n] = m->len;
	}
	e->n++;
	buf_reset(&e->last);
	buf_append(&e->last, m->body, m->len);
	if (e->send_on_msg)
		ipc_send(c, IPC_EXIT, NULL, 0);
	if (e->free_on_msg) {
		ipc_chan_free(c);
		e->c = NULL;
	}
}

static void
end_err(struct ipc_chan *c, const char *why, void *arg)
{
	struct end *e = arg;

	e->errors++;
	if (why == NULL)
		e->eof = 1;
	else
		snprintf(e->why, sizeof(e->why), "%s", why);
	if (e->free_on_err) {
		ipc_chan_free(c);
		e->c = NULL;
	}
}

static const struct ipc_callbacks end_cbs = { end_msg, end_err };

static void
end_open(struct end *e, struct ev_loop *loop, int fd, size_t sendq_max)
{
	memset(e, 0, sizeof(*e));
	e->c = ipc_chan_new(loop, fd, sendq_max, &end_cbs, e);
}

static void
end_close(struct end *e)
{
	ipc_chan_free(e->c);
	e->c = NULL;
	buf_free(&e->last);
}

static int timed_out;

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	timed_out = 1;
}

/*
 * Run the loop until done(arg) or 10 seconds pass (then 0): a bug must
 * fail a test, not hang it.
 */
static int
run_until(struct ev_loop *loop, int (*done)(void *), void *arg)
{
	ev_timer t;

	timed_out = 0;
	ev_timer_init(&t, timeout_cb, 10., 0.);
	ev_timer_start(loop, &t);
	while (!done(arg) && !timed_out)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return !timed_out;
}

/* Run a few idle iterations, for "nothing else happens" checks. */
static void
run_a_little(struct ev_loop *loop)
{
	int i;

	for (i = 0; i < 5; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

struct want {
	struct end	*e;
	int		 n;
};

static int
has_n(void *arg)
{
	struct want *w = arg;

	return w->e->n >= w->n;
}

static int
has_error(void *arg)
{
	return ((struct end *)arg)->errors > 0;
}

struct two {
	struct end	*a, *b;
	int		 na, nb;
};

static int
both_have(void *arg)
{
	struct two *t = arg;

	return t->a->n >= t->na && t->b->n >= t->nb;
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) != 0)
		fatal("socketpair");
}

static void
test_chan_small(struct ev_loop *loop)
{
	struct end a, b;
	struct buf body = BUF_INIT;
	struct two t = { &a, &b, 3, 1 };
	int sv[2];

	pair(sv);
	end_open(&a, loop, sv[0], 1 << 20);
	end_open(&b, loop, sv[1], 1 << 20);
	is_int(ipc_fd(a.c), sv[0], "ipc_fd gives the descriptor back");

	ipc_put_u32(&body, IPC_VERSION);
	ipc_put_u32(&body, 4242);
	is_int(ipc_send(b.c, IPC_HELLO, body.data, body.len), 1,
	    "child's first message has seq 1");
	buf_reset(&body);
	ipc_put_str(&body, "video:abc", 9);
	ipc_put_u32(&body, 6);
	ipc_put_u32(&body, 2000);
	ipc_put_u8(&body, LOG_LEVEL_INFO);
	is_int(ipc_send(a.c, IPC_ROOM_OPEN, body.data, body.len), 1,
	    "gateway's first message has seq 1 too");
	is_int(ipc_send(b.c, IPC_PROCESSED, "\x01\0\0\0", 4), 2, "seq 2");
	is_int(ipc_send(b.c, IPC_EXIT, NULL, 0), 3, "seq 3, empty body");
	is_int(ipc_queued(b.c), 0, "an idle socket takes small messages at once");

	ok(run_until(loop, both_have, &t), "messages arrive both ways");
	ok(a.n == 3 && a.type[0] == IPC_HELLO && a.seq[0] == 1 &&
	    a.type[1] == IPC_PROCESSED && a.seq[1] == 2 &&
	    a.type[2] == IPC_EXIT && a.seq[2] == 3 && a.len[2] == 0,
	    "gateway side: HELLO, PROCESSED, EXIT in order");
	ok(b.n == 1 && b.type[0] == IPC_ROOM_OPEN && b.seq[0] == 1 &&
	    bytes_eq(b.last.data, b.last.len,
	    "\x09\0\0\0video:abc\x06\0\0\0\xd0\x07\0\0\x02", 22),
	    "child side: ROOM_OPEN with its body");

	/* A reply sent from inside a message callback. */
	b.send_on_msg = 1;
	ipc_send(a.c, IPC_LEAVE, "\x01\0\0\0\0\0\0\0\x01", 9);
	t.na = 4;
	t.nb = 2;
	ok(run_until(loop, both_have, &t), "reply from inside a callback");
	ok(a.type[3] == IPC_EXIT && a.seq[3] == 4 && b.seq[1] == 2,
	    "... numbered on");
	ok(a.errors == 0 && b.errors == 0, "no errors");

	is_int(ipc_send(a.c, 0, NULL, 0), -1, "sending type 0 refused");
	is_int(ipc_send(a.c, IPC_TYPE_MAX, NULL, 0), -1,
	    "sending IPC_TYPE_MAX refused");
	is_int(ipc_send(a.c, IPC_SEND, NULL, (size_t)IPC_MSG_MAX + 1), -1,
	    "sending more than IPC_MSG_MAX refused");
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), 3,
	    "... without using up a seq");

	end_close(&a);
	end_close(&b);
	buf_free(&body);
}

static void
test_chan_big(struct ev_loop *loop)
{
	struct end a, b;
	struct two t = { &a, &b, 2, 2 };
	size_t mb = 1 << 20;
	uint8_t *pa = pattern(mb, 1), *pb = pattern(mb, 2);
	int sv[2];

	pair(sv);
	end_open(&a, loop, sv[0], 4 << 20);
	end_open(&b, loop, sv[1], 4 << 20);

	is_int(ipc_send(a.c, IPC_EVENT, pa, mb), 1, "1 MB gateway -> child");
	is_int(ipc_send(b.c, IPC_SEND, pb, mb), 1, "1 MB child -> gateway");
	ok(ipc_queued(a.c) > 0 && ipc_queued(b.c) > 0,
	    "... neither fits in the socket at once");
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), 2, "small one after it");
	is_int(ipc_send(b.c, IPC_PROCESSED, "\x01\0\0\0", 4), 2,
	    "small one after it, other way");

	ok(run_until(loop, both_have, &t), "both pairs arrive");
	ok(b.type[0] == IPC_EVENT && b.seq[0] == 1 && b.len[0] == mb &&
	    b.type[1] == IPC_EXIT && b.seq[1] == 2,
	    "child: the 1 MB EVENT, then EXIT");
	ok(a.type[0] == IPC_SEND && a.seq[0] == 1 && a.len[0] == mb &&
	    a.type[1] == IPC_PROCESSED && a.seq[1] == 2,
	    "gateway: the 1 MB SEND, then PROCESSED");
	is_int(ipc_queued(a.c) + ipc_queued(b.c), 0, "queues drained");

	/* Bodies checked byte for byte: send one more each way, alone. */
	ipc_send(a.c, IPC_EVENT, pa, mb);
	ipc_send(b.c, IPC_SEND, pb, mb);
	t.na = t.nb = 3;
	ok(run_until(loop, both_have, &t), "second 1 MB pair arrives");
	ok(bytes_eq(b.last.data, b.last.len, pa, mb), "... child's intact");
	ok(bytes_eq(a.last.data, a.last.len, pb, mb), "... gateway's intact");
	ok(a.errors == 0 && b.errors == 0, "no errors");

	end_close(&a);
	end_close(&b);
	free(pa);
	free(pb);
}

static void
test_chan_sendq(struct ev_loop *loop)
{
	struct end a, b;
	struct want w = { &b, 0 };
	size_t msg = 32 * 1024, max = 256 * 1024, before;
	uint8_t *body = pattern(msg, 5);
	long long seq, last = 0;
	int sv[2], i, seqs_ok;

	pair(sv);
	end_open(&a, loop, sv[0], max);
	/* sv[1] is not read yet: the socket fills, then the queue. */
	for (i = 0; i < 200; i++) {
		if ((seq = ipc_send(a.c, IPC_SEND, body, msg)) == -1)
			break;
		last = seq;
	}
	ok(i < 200, "a peer that does not read makes ipc_send fail");
	is_int(last, i, "... after numbering every accepted message");
	ok(ipc_queued(a.c) <= max &&
	    ipc_queued(a.c) + ipc_frame_size(msg) > max,
	    "... exactly when the next message would not fit");
	/*
	 * Each message is one datagram of 16 + 32768 bytes, and none is
	 * half in the socket: the queue holds 7 (229488 bytes; an 8th would
	 * make 262272 > 262144).
	 */
	before = ipc_queued(a.c);
	is_int(before, 229488, "... with 7 messages queued");
	is_int(ipc_send(a.c, IPC_SEND, body, msg), -1, "refused again");
	is_int(ipc_queued(a.c), before, "... and nothing was queued");
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), last + 1,
	    "a message that fits is still taken");
	is_int(ipc_queued(a.c), 229504, "... queued whole");
	last++;
	is_int(ipc_send(a.c, IPC_SEND, body, max), -1,
	    "a message bigger than sendq_max is refused");

	/* Now the peer reads: every accepted message arrives, in order. */
	end_open(&b, loop, sv[1], max);
	w.n = (int)last;
	ok(run_until(loop, has_n, &w), "all accepted messages arrive");
	for (i = 0, seqs_ok = 1; i < b.n && i < MAX_SEEN; i++)
		if (b.seq[i] != (uint32_t)i + 1)
			seqs_ok = 0;
	ok(seqs_ok && b.n == last, "... numbered 1..n without gaps");
	is_int(ipc_queued(a.c), 0, "sender's queue empty");
	is_int(ipc_send(a.c, IPC_SEND, body, msg), last + 1,
	    "sending works again, numbered on");

	end_close(&a);
	end_close(&b);
	free(body);
}

static void
test_chan_eof(struct ev_loop *loop)
{
	struct end a, b;
	int sv[2];

	pair(sv);
	end_open(&a, loop, sv[0], 1 << 20);
	end_open(&b, loop, sv[1], 1 << 20);
	ipc_send(b.c, IPC_HELLO, "\x01\0\0\0\x02\0\0\0", 8);
	ipc_send(b.c, IPC_PROCESSED, "\x05\0\0\0", 4);
	end_close(&b);

	ok(run_until(loop, has_error, &a), "peer closed: error callback");
	ok(a.n == 2 && a.seq[1] == 2,
	    "... after the messages it sent before closing");
	ok(a.eof && a.errors == 1, "... with why NULL, once");
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), -1,
	    "ipc_send after the error fails");
	run_a_little(loop);
	is_int(a.errors, 1, "no second error");
	end_close(&a);

	/* Sending to a peer that is gone: EPIPE is no signal and no
	 * immediate callback; the EOF comes from the loop. */
	pair(sv);
	end_open(&a, loop, sv[0], 1 << 20);
	close(sv[1]);
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), -1, "send to a closed peer fails");
	is_int(a.errors, 0, "... without a callback from inside ipc_send");
	ok(run_until(loop, has_error, &a) && a.eof,
	    "... the loop then reports EOF");
	end_close(&a);

	/* And from its own error callback the channel may be freed. */
	pair(sv);
	end_open(&a, loop, sv[0], 1 << 20);
	a.free_on_err = 1;
	close(sv[1]);
	ok(run_until(loop, has_error, &a) && a.eof && a.c == NULL,
	    "channel freed from its error callback");
	run_a_little(loop);
	is_int(a.errors, 1, "... nothing after that");
	end_close(&a);
}

/* Write one datagram by hand on fd; sv[0]'s channel must refuse it. */
static void
check_refused(struct ev_loop *loop, const void *d, size_t len,
    const char *want_why, const char *what)
{
	struct end a;
	int sv[2];

	pair(sv);
	end_open(&a, loop, sv[0], 1 << 20);
	/* A good message first: it is delivered before the bad one. */
	if (send(sv[1], "\x07\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 16, 0) != 16 ||
	    send(sv[1], d, len, 0) != (ssize_t)len)
		fatal("send");
	ok(run_until(loop, has_error, &a) && a.n == 1 && a.errors == 1 &&
	    !a.eof, what);
	is_str(a.why, want_why, "... why");
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), -1, "... and sending stops");
	end_close(&a);
	close(sv[1]);
}

static void
test_chan_malformed(struct ev_loop *loop)
{
	size_t n = 16 + IPC_FRAG_MAX + 1;
	uint8_t *big = calloc(1, n);

	if (big == NULL)
		fatal("calloc");
	check_refused(loop, "\x01\0\0\0\0\0\0\0\x01\0", 10,
	    "datagram shorter than its header", "10-byte datagram");
	check_refused(loop, "\x63\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0", 16,
	    "unknown message type", "type 99");
	check_refused(loop, "\x07\0\0\0\x05\0\0\0\x02\0\0\0\0\0\0\0", 16,
	    "header length disagrees with the datagram", "len 5 in 16 bytes");
	/* Header claiming a legal 1-fragment body, datagram a byte longer
	 * than any legal one: caught as truncated before the header. */
	big[0] = IPC_SEND;
	big[4] = 0x00; big[5] = 0xc0;	/* 49152 */
	check_refused(loop, big, n, "datagram longer than IPC_FRAG_MAX",
	    "datagram of 16+IPC_FRAG_MAX+1 bytes");
	/* Far bigger than the receive buffer: MSG_TRUNC. */
	free(big);
	if ((big = calloc(1, 100000)) == NULL)
		fatal("calloc");
	check_refused(loop, big, 100000, "datagram longer than IPC_FRAG_MAX",
	    "datagram of 100000 bytes");
	free(big);
}

static void
test_chan_free_in_cb(struct ev_loop *loop)
{
	struct end a, b;
	int sv[2];

	pair(sv);
	end_open(&a, loop, sv[0], 1 << 20);
	end_open(&b, loop, sv[1], 1 << 20);
	a.free_on_msg = 1;
	ipc_send(b.c, IPC_HELLO, "\x01\0\0\0\x02\0\0\0", 8);
	ipc_send(b.c, IPC_EXIT, NULL, 0);
	ipc_send(b.c, IPC_EXIT, NULL, 0);

	ok(run_until(loop, has_error, &b),
	    "channel freed from its message callback: the peer sees EOF");
	ok(b.eof, "... a clean EOF");
	is_int(a.n, 1, "... and the freed channel delivered nothing more");
	is_int(a.errors, 0, "... nor an error");
	end_close(&a);
	end_close(&b);

	/* Freed in the middle of a multi-fragment read burst. */
	pair(sv);
	end_open(&a, loop, sv[0], 4 << 20);
	end_open(&b, loop, sv[1], 4 << 20);
	{
		uint8_t *p = pattern(300000, 9);

		a.free_on_msg = 1;
		ipc_send(b.c, IPC_SEND, p, 300000);
		ipc_send(b.c, IPC_SEND, p, 300000);
		ok(run_until(loop, has_error, &b) && a.n == 1 &&
		    a.len[0] == 300000, "freed after a reassembled message");
		free(p);
	}
	end_close(&a);
	end_close(&b);
}

static void
test_chan_send_error(struct ev_loop *loop)
{
	struct end a, b;
	uint8_t *p = pattern(IPC_FRAG_MAX, 4);
	int sv[2], small = 2048;

	/* A send buffer smaller than one fragment: EMSGSIZE, a hard error. */
	pair(sv);
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)))
		fatal("setsockopt");
	end_open(&a, loop, sv[0], 1 << 20);
	end_open(&b, loop, sv[1], 1 << 20);
	is_int(ipc_send(a.c, IPC_SEND, p, IPC_FRAG_MAX), -1,
	    "a send error fails ipc_send");
	is_int(a.errors, 0, "... with no callback inside ipc_send");
	ok(run_until(loop, has_error, &a), "... the loop reports it");
	is_str(a.why, "send: Message too long", "... why");
	is_int(ipc_send(a.c, IPC_EXIT, NULL, 0), -1, "... and sending stops");
	end_close(&a);
	end_close(&b);
	free(p);
}

/* JOIN, LEAVE and EVENT: what is encoded decodes the same; bounds and
 * leftover bytes are refused. */
static void
test_messages(void)
{
	struct buf b = BUF_INIT;
	struct ipc_join j = {
		7, ipc_str("sid0123456789abcdef0"), ipc_str("u1"),
		ipc_str("{\"id\":\"u1\"}"), IPC_M_MUTED, 1700000000000LL,
		ipc_str("[{\"urls\":[\"stun:h:3478\"]}]"),
	}, jj;
	struct ipc_leave l = { 9, IPC_LEAVE_KICKED }, ll;
	struct ipc_event_msg e = {
		.conn = 5, .event = IPC_EV_CHAT_SEND_MESSAGE,
		.flags = IPC_E_GUEST, .socket_id = ipc_str("s"),
		.user_id = ipc_str("u"), .user = ipc_str("{}"),
		.msg_id = ipc_str("msg_1_s"), .payload = ipc_str("{\"a\":1e14}"),
	}, ee;
	char big[BOUND_USER_ID + 2];

	is_int(ipc_put_join(&b, &j), 0, "JOIN encodes");
	is_int(ipc_get_join(b.data, b.len, &jj), 0, "  and decodes");
	ok(jj.conn == 7 && jj.flags == IPC_M_MUTED &&
	    jj.joined_at == 1700000000000LL && jj.user_id.len == 2 &&
	    memcmp(jj.user.p, "{\"id\":\"u1\"}", jj.user.len) == 0 &&
	    jj.ice.len == j.ice.len && memcmp(jj.ice.p, j.ice.p, j.ice.len) == 0,
	    "  the same fields, the ICE servers too");
	buf_append_byte(&b, 0);
	is_int(ipc_get_join(b.data, b.len, &jj), -1, "a byte left over fails");
	is_int(ipc_get_join(b.data, b.len - 2, &jj), -1, "a short body fails");
	buf_reset(&b);
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	j.user_id = ipc_str(big);
	is_int(ipc_put_join(&b, &j), -1, "a userId over BOUND_USER_ID is "
	    "not encoded");
	is_int(b.len, 0, "  nothing appended");
	/* A hand-made body with that userId: the decoder refuses it too. */
	ipc_put_u64(&b, 1);
	ipc_put_str(&b, "s", 1);
	ipc_put_str(&b, big, strlen(big));
	ipc_put_str(&b, "{}", 2);
	ipc_put_u8(&b, 0);
	ipc_put_u64(&b, 0);
	is_int(ipc_get_join(b.data, b.len, &jj), -1, "  nor decoded");
	buf_reset(&b);

	is_int(ipc_put_leave(&b, &l), 0, "LEAVE encodes");
	is_int(ipc_get_leave(b.data, b.len, &ll), 0, "  and decodes");
	ok(ll.conn == 9 && ll.reason == IPC_LEAVE_KICKED, "  the same fields");
	buf_reset(&b);

	is_int(ipc_put_event(&b, &e), 0, "EVENT (a guest's) encodes");
	is_int(ipc_get_event(b.data, b.len, &ee), 0, "  and decodes");
	ok(ee.conn == 5 && ee.event == IPC_EV_CHAT_SEND_MESSAGE &&
	    ee.socket_id.len == 1 && ee.msg_id.len == 7 &&
	    ee.payload.len == 10 && memcmp(ee.payload.p, "{\"a\":1e14}", 10) ==
	    0, "  the same fields, the payload byte for byte");
	buf_reset(&b);
	e.flags = 0;
	e.event = IPC_EV_MAX;
	is_int(ipc_put_event(&b, &e), 0, "an EVENT of no known kind encodes");
	is_int(ipc_get_event(b.data, b.len, &ee), -1, "  but does not decode");
	buf_free(&b);
}

/* Every other type: encoded, decoded by type, encoded again the same. */
static void
test_every_body(void)
{
	static const uint64_t conns[2] = { 11, 12 };
	struct ipc_bins bins = { 1, { { "\x00\x01", 2 } } };
	union ipc_body in, out;
	struct buf a = BUF_INIT, b = BUF_INIT;
	const struct {
		uint16_t	 type;
		const char	*name;
	} types[] = {
		{ IPC_HELLO, "HELLO" }, { IPC_ROOM_OPEN, "ROOM_OPEN" },
		{ IPC_SEND, "SEND" }, { IPC_EXIT, "EXIT" },
		{ IPC_PROCESSED, "PROCESSED" }, { IPC_LOG_LEVEL, "LOG_LEVEL" },
		{ IPC_RECONN, "RECONN" },
	};
	char what[64];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(&in, 0, sizeof(in));
		buf_reset(&a);
		buf_reset(&b);
		switch (types[i].type) {
		case IPC_HELLO:
			in.hello = (struct ipc_hello){ IPC_VERSION, 4321 };
			break;
		case IPC_ROOM_OPEN:
			in.room_open = (struct ipc_room_open){
			    ipc_str("video:study-1-main"), 3 };
			break;
		case IPC_PROCESSED:
			in.processed.seq = 77;
			break;
		case IPC_LOG_LEVEL:
			in.log_level.level = 2;
			break;
		case IPC_RECONN:
			in.reconn = (struct ipc_reconn){ 7, UINT64_C(1) << 62 };
			break;
		}
		if (types[i].type == IPC_SEND)
			is_int(ipc_put_send(&a, conns, 2, &bins,
			    ipc_str("51-[\"e\",{\"_placeholder\":true,\"num\":0}]")),
			    0, "SEND encodes");
		else
			is_int(ipc_put_body(&a, types[i].type, &in), 0,
			    types[i].name);
		snprintf(what, sizeof(what), "%s decodes", types[i].name);
		is_int(ipc_get_body(types[i].type, a.data, a.len, &out), 0, what);
		snprintf(what, sizeof(what), "%s encodes back the same",
		    types[i].name);
		ok(ipc_put_body(&b, types[i].type, &out) == 0 &&
		    b.len == a.len && (a.len == 0 ||
		    memcmp(a.data, b.data, a.len) == 0), what);
		if (types[i].type == IPC_SEND) {
			is_int(out.send.n, 2, "  its connections");
			ok(ipc_send_conn(&out.send, 1) == 12, "  the second one");
			is_int(out.send.bins.n, 1, "  its attachment");
			continue;	/* its packet runs to the end */
		}
		buf_append_byte(&a, 0);
		snprintf(what, sizeof(what), "%s with a byte left over fails",
		    types[i].name);
		is_int(ipc_get_body(types[i].type, a.data, a.len, &out), -1,
		    what);
	}
	buf_free(&a);
	buf_free(&b);
}

int
main(void)
{
	struct ev_loop *loop;

	log_init("test_ipc", LOG_LEVEL_WARN);
	test_put();
	test_get();
	test_names();
	test_assemble_malformed();
	test_assemble_sizes();
	test_assemble_good();
	test_frame();
	test_messages();
	test_every_body();

	if ((loop = ev_loop_new(0)) == NULL)
		fatalx("ev_loop_new");
	test_chan_small(loop);
	test_chan_big(loop);
	test_chan_sendq(loop);
	test_chan_eof(loop);
	test_chan_malformed(loop);
	test_chan_free_in_cb(loop);
	test_chan_send_error(loop);
	ev_loop_destroy(loop);
	return tap_done();
}
