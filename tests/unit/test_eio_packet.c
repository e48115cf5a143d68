/*
 * test_eio_packet.c - the Engine.IO packet codec: WebSocket frames, polling
 * payloads (separators, "b" + base64, the check-everything-first rule) and
 * polling encoding, with expected values worked out from the v4 spec.
 */
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"
#include "tap.h"

/* A string literal and its length in bytes, NULs and all. */
#define L(lit)	(lit), (sizeof(lit) - 1)

/* What a payload walk saw, one entry per packet. */
#define MAX_SEEN 1100
struct seen {
	int	 n;
	int	 stop_at;		/* cb returns 7 for this packet */
	struct {
		int	 type, binary;
		char	 data[64];
		size_t	 len;
	} p[MAX_SEEN];
};

static int
collect(void *arg, const struct eio_packet *pkt)
{
	struct seen *s = arg;

	if (s->n < MAX_SEEN) {
		s->p[s->n].type = pkt->type;
		s->p[s->n].binary = pkt->binary;
		s->p[s->n].len = pkt->len;
		memset(s->p[s->n].data, 0, sizeof(s->p[s->n].data));
		if (pkt->len > 0)
			memcpy(s->p[s->n].data, pkt->data,
			    pkt->len < 63 ? pkt->len : 63);
	}
	s->n++;
	return s->n == s->stop_at ? 7 : 0;
}

/* Walk a payload given as len bytes, on a heap copy so that ASan sees any
 * read past the end. */
static int
walk(const char *body, size_t len, struct seen *s)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, body, len);
	s->n = 0;
	rc = eio_decode_payload(copy, len, collect, s);
	free(copy);
	return rc;
}

/* A malformed payload: -1, the callback never called, the body intact. */
static void
bad_payload(const char *body, size_t len, const char *what)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct seen s = { 0 };
	int rc;

	memcpy(copy, body, len);
	rc = eio_decode_payload(copy, len, collect, &s);
	is_int(rc, -1, what);
	ok(s.n == 0 && memcmp(copy, body, len) == 0,
	    "... no callback and the body is untouched");
	free(copy);
}

static void
test_type_names(void)
{
	is_str(eio_type_name(EIO_OPEN), "open", "name of 0");
	is_str(eio_type_name(EIO_CLOSE), "close", "name of 1");
	is_str(eio_type_name(EIO_PING), "ping", "name of 2");
	is_str(eio_type_name(EIO_PONG), "pong", "name of 3");
	is_str(eio_type_name(EIO_MESSAGE), "message", "name of 4");
	is_str(eio_type_name(EIO_UPGRADE), "upgrade", "name of 5");
	is_str(eio_type_name(EIO_NOOP), "noop", "name of 6");
	is_str(eio_type_name(7), "?", "name of 7");
	is_str(eio_type_name(-1), "?", "name of -1");
}

/* A text frame that must decode to type t with the given data. */
static void
frame_ok(const char *frame, size_t len, int t, const char *data,
    size_t dlen, const char *what)
{
	struct eio_packet p;
	uint8_t *copy = malloc(len);

	memcpy(copy, frame, len);
	is_int(eio_decode_frame(copy, len, 0, &p), 0, what);
	is_int(p.type, t, "... type");
	is_int(p.binary, 0, "... text");
	is_int(p.len, dlen, "... data length");
	ok(dlen == 0 || (p.data == copy + 1 && memcmp(p.data, data, dlen) == 0),
	    "... data points after the type digit");
	free(copy);
}

static void
frame_bad(const char *frame, size_t len, const char *what)
{
	struct eio_packet p;

	is_int(eio_decode_frame((const uint8_t *)frame, len, 0, &p), -1, what);
}

static void
test_frames(void)
{
	struct eio_packet p;
	const uint8_t raw[] = { 0x01, 0x02, 0x03, 0x04 };
	const char *open =
	    "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
	    "\"pingInterval\":25000,\"pingTimeout\":20000,"
	    "\"maxPayload\":1000000}";

	frame_ok(open, strlen(open), EIO_OPEN, open + 1, strlen(open) - 1,
	    "text frame: open with handshake");
	frame_ok(L("1"), EIO_CLOSE, "", 0, "text frame: close");
	frame_ok(L("2"), EIO_PING, "", 0, "text frame: ping");
	frame_ok(L("2probe"), EIO_PING, "probe", 5, "text frame: 2probe");
	frame_ok(L("3probe"), EIO_PONG, "probe", 5, "text frame: 3probe");
	frame_ok(L("4hello"), EIO_MESSAGE, "hello", 5, "text frame: 4hello");
	frame_ok(L("42[\"hey\",\"Jude\"]"), EIO_MESSAGE, "2[\"hey\",\"Jude\"]",
	    15, "text frame: socket.io event");
	frame_ok(L("5"), EIO_UPGRADE, "", 0, "text frame: upgrade");
	frame_ok(L("6"), EIO_NOOP, "", 0, "text frame: noop");
	frame_ok(L("4a\0b"), EIO_MESSAGE, "a\0b", 3,
	    "text frame: NUL in data is data");
	frame_ok(L("4a\x1e" "b"), EIO_MESSAGE, "a\x1e" "b", 3,
	    "text frame: 0x1e is data on WebSocket");

	is_int(eio_decode_frame((const uint8_t *)"1", 1, 0, &p), 0,
	    "empty data");
	ok(p.data == NULL && p.len == 0, "... gives data NULL, len 0");

	frame_bad(L(""), "text frame: empty");
	frame_bad(L("7"), "text frame: type 7");
	frame_bad(L("8x"), "text frame: type 8");
	frame_bad(L("9"), "text frame: type 9");
	frame_bad(L("/"), "text frame: '/' (just below '0')");
	frame_bad(L(":"), "text frame: ':' (just above '9')");
	frame_bad(L("a4"), "text frame: letter");
	frame_bad(L("bAQIDBA=="), "text frame: 'b' is only for polling");
	frame_bad(L(" 4hello"), "text frame: leading space");
	frame_bad(L("\x00" "4"), "text frame: leading NUL");
	frame_bad(L("\x1e" "4"), "text frame: leading separator");
	frame_bad(L("\xb4"), "text frame: high byte");

	is_int(eio_decode_frame(raw, sizeof(raw), 1, &p), 0, "binary frame");
	ok(p.type == EIO_MESSAGE && p.binary == 1, "... is a binary message");
	ok(p.data == raw && p.len == 4, "... with the raw bytes");
	is_int(eio_decode_frame((const uint8_t *)"4hi", 3, 1, &p), 0,
	    "binary frame starting with '4'");
	ok(p.type == EIO_MESSAGE && p.binary && p.len == 3,
	    "... is raw data, not a type digit");
	is_int(eio_decode_frame(NULL, 0, 1, &p), 0, "empty binary frame");
	ok(p.binary && p.len == 0 && p.data == NULL, "... is an empty message");
}

static void
test_payloads(void)
{
	static struct seen s;
	static char big[3000];
	size_t i;

	/* The spec's example. */
	is_int(walk(L("4hello\x1e" "2\x1e" "4world"), &s), 0,
	    "payload: 4hello 2 4world");
	is_int(s.n, 3, "... three packets");
	ok(s.p[0].type == EIO_MESSAGE && !s.p[0].binary && s.p[0].len == 5 &&
	    strcmp(s.p[0].data, "hello") == 0, "... 1: message hello");
	ok(s.p[1].type == EIO_PING && s.p[1].len == 0, "... 2: ping");
	ok(s.p[2].type == EIO_MESSAGE && s.p[2].len == 5 &&
	    strcmp(s.p[2].data, "world") == 0, "... 3: message world");

	is_int(walk(L("4hello\x1e" "bAQIDBA=="), &s), 0,
	    "payload: text then binary");
	is_int(s.n, 2, "... two packets");
	ok(s.p[1].type == EIO_MESSAGE && s.p[1].binary == 1 &&
	    s.p[1].len == 4 && memcmp(s.p[1].data, "\1\2\3\4", 4) == 0,
	    "... binary 01 02 03 04");

	is_int(walk(L("2"), &s), 0, "payload: one packet");
	ok(s.n == 1 && s.p[0].type == EIO_PING, "... ping");
	is_int(walk(L("40"), &s), 0, "payload: socket.io CONNECT");
	ok(s.n == 1 && s.p[0].len == 1 && s.p[0].data[0] == '0', "... data 0");
	is_int(walk(L("42[\"hello\"]\x1e" "42[\"world\"]"), &s), 0,
	    "payload: two events (spec sample session)");
	ok(s.n == 2 && strcmp(s.p[1].data, "2[\"world\"]") == 0,
	    "... second event intact");

	is_int(walk(L("b"), &s), 0, "payload: 'b' alone");
	ok(s.n == 1 && s.p[0].binary && s.p[0].len == 0,
	    "... is an empty binary message");
	is_int(walk(L("b\x1e" "4a"), &s), 0, "payload: empty binary then text");
	ok(s.n == 2 && s.p[1].len == 1 && s.p[1].data[0] == 'a',
	    "... text after it intact");

	/* Decoded binary containing 0x1e must not confuse the split. */
	is_int(walk(L("bHh4e\x1e" "4x\x1e" "bHh4e"), &s), 0,
	    "payload: binary data holding separators");
	is_int(s.n, 3, "... three packets");
	ok(s.p[0].len == 3 && memcmp(s.p[0].data, "\x1e\x1e\x1e", 3) == 0 &&
	    s.p[1].type == EIO_MESSAGE && s.p[1].data[0] == 'x' &&
	    s.p[2].len == 3 && memcmp(s.p[2].data, "\x1e\x1e\x1e", 3) == 0,
	    "... each decoded right");

	is_int(walk(L("4a\0b\x1e" "6"), &s), 0, "payload: NUL inside text");
	ok(s.n == 2 && s.p[0].len == 3 && s.p[1].type == EIO_NOOP,
	    "... kept as data");

	/* Many packets. */
	for (i = 0; i < 1000; i++) {
		big[2 * i] = '2';
		big[2 * i + 1] = '\x1e';
	}
	is_int(walk(big, 1999, &s), 0, "payload: 1000 pings");
	is_int(s.n, 1000, "... 1000 callbacks");

	/* Base64 longer than one 256-character scratch chunk. */
	big[0] = 'b';
	memset(big + 1, 'A', 400);
	is_int(walk(big, 401, &s), 0, "payload: 400 base64 characters");
	ok(s.n == 1 && s.p[0].len == 300 && s.p[0].data[0] == 0,
	    "... 300 zero bytes");
	memcpy(big + 1 + 396, "AA==", 4);
	is_int(walk(big, 401, &s), 0, "payload: long base64 ending in ==");
	ok(s.n == 1 && s.p[0].len == 298, "... 298 bytes");

	/* The callback stops the walk. */
	s.stop_at = 2;
	is_int(walk(L("2\x1e" "3\x1e" "4"), &s), 7,
	    "payload: callback's non-zero is returned");
	is_int(s.n, 2, "... and no more packets are delivered");
	s.stop_at = 0;
}

static void
test_bad_payloads(void)
{
	static char big[600];

	bad_payload(L(""), "payload: empty body");
	bad_payload(L("\x1e"), "payload: separator alone");
	bad_payload(L("4a\x1e"), "payload: trailing separator");
	bad_payload(L("\x1e" "4a"), "payload: leading separator");
	bad_payload(L("4a\x1e\x1e" "4b"),
	    "payload: empty packet between separators");
	bad_payload(L("4a\x1e" "7"), "payload: type 7 after a good packet");
	bad_payload(L("9"), "payload: type 9");
	bad_payload(L("x\x1e" "4a"), "payload: bad type first");
	bad_payload(L("4a\x1e" "bAQI"), "payload: base64 of bad length");
	bad_payload(L("bA==="), "payload: three padding characters");
	bad_payload(L("b!!!!"), "payload: base64 with bad characters");
	bad_payload(L("bAQIDBA="), "payload: base64 7 characters");
	bad_payload(L("bAQ==AAA"), "payload: padding inside base64");
	bad_payload(L("bZh=="), "payload: non-canonical padding bits");
	bad_payload(L("bAQIDBA==\x1e"),
	    "payload: binary then trailing separator");
	bad_payload(L("bAQIDBA==\x1e" "4ok\x1e" "bAQ"),
	    "payload: bad binary after good packets");
	bad_payload(L("B AQID"), "payload: capital B is not binary");
	bad_payload(L("4hello\x1e" "b AQIDBA=="),
	    "payload: space before base64");

	/*
	 * Padding at the end of the first 256-character chunk of a longer
	 * run (the case the chunked check must catch).
	 */
	big[0] = 'b';
	memset(big + 1, 'A', 296);
	memcpy(big + 1 + 252, "AA==", 4);
	bad_payload(big, 297,
	    "payload: padding ending the first 256 characters");
	memset(big + 1, 'A', 296);
	memcpy(big + 1 + 256, "AA==", 4);
	bad_payload(big, 297, "payload: padding starting the second chunk");
}

/* Encode one packet after "x" and compare with the hand-written bytes. */
static void
enc(int type, int binary, const char *data, size_t len, const char *want,
    size_t wantlen, const char *what)
{
	struct buf b = BUF_INIT;
	struct eio_packet p;

	p.type = (enum eio_type)type;
	p.binary = binary;
	p.data = (const uint8_t *)data;
	p.len = len;
	buf_append_str(&b, "x");
	eio_encode_polling(&b, &p);
	ok(b.len == 1 + wantlen && b.data[0] == 'x' &&
	    memcmp(b.data + 1, want, wantlen) == 0, what);
	is_int(eio_polling_len(&p), wantlen, "... eio_polling_len agrees");
	buf_free(&b);
}

static void
test_encode(void)
{
	enc(EIO_OPEN, 0, "{\"sid\":\"a\"}", 11, "0{\"sid\":\"a\"}", 12,
	    "encode open");
	enc(EIO_CLOSE, 0, NULL, 0, "1", 1, "encode close, data NULL");
	enc(EIO_PING, 0, "", 0, "2", 1, "encode ping");
	enc(EIO_PONG, 0, "probe", 5, "3probe", 6, "encode pong probe");
	enc(EIO_MESSAGE, 0, "hello", 5, "4hello", 6, "encode message");
	enc(EIO_UPGRADE, 0, NULL, 0, "5", 1, "encode upgrade");
	enc(EIO_NOOP, 0, NULL, 0, "6", 1, "encode noop");
	enc(EIO_MESSAGE, 1, "\1\2\3\4", 4, "bAQIDBA==", 9,
	    "encode binary 01 02 03 04");
	enc(EIO_MESSAGE, 1, NULL, 0, "b", 1, "encode empty binary");
	enc(EIO_MESSAGE, 1, "\x1e\x1e\x1e", 3, "bHh4e", 5,
	    "encode binary separators as base64");
	enc(EIO_MESSAGE, 1, "foobar", 6, "bZm9vYmFy", 9,
	    "encode binary foobar");
	enc(EIO_MESSAGE, 0, "a\0b", 3, "4a\0b", 4, "encode text with a NUL");
}

int
main(void)
{
	test_type_names();
	test_frames();
	test_payloads();
	test_bad_payloads();
	test_encode();
	return tap_done();
}
