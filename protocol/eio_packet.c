/*
 * eio_packet.c - the Engine.IO v4 packet codec (no I/O, no state).
 *
 * Decoding follows engine.io-parser: a text packet is a type digit '0'-'6'
 * and data, a WebSocket binary frame is a MESSAGE as is, and a polling
 * payload is packets joined by 0x1e where "b" + base64 is a binary MESSAGE.
 * Anything else is malformed; the caller then closes the session.  Two
 * differences, both stricter: "b" is understood only in polling payloads
 * (engine.io-parser takes it in a WebSocket text frame too, which no client
 * sends), and base64 must be canonical (Node's Buffer.from() skips junk).
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "eio_packet.h"
#include "log.h"

static const char *const type_names[] = {
	"open", "close", "ping", "pong", "message", "upgrade", "noop",
};

const char *
eio_type_name(int type)
{
	if (type < EIO_OPEN || type > EIO_NOOP)
		return "?";
	return type_names[type];
}

/* A text packet: type digit plus data. */
static int
decode_text(const uint8_t *p, size_t len, struct eio_packet *out)
{
	if (len == 0 || p[0] < '0' || p[0] > '0' + EIO_NOOP)
		return -1;
	out->type = (enum eio_type)(p[0] - '0');
	out->binary = 0;
	out->len = len - 1;
	out->data = out->len ? p + 1 : NULL;
	return 0;
}

int
eio_decode_frame(const uint8_t *buf, size_t len, int is_binary,
    struct eio_packet *out)
{
	if (is_binary) {
		out->type = EIO_MESSAGE;
		out->binary = 1;
		out->len = len;
		out->data = len ? buf : NULL;
		return 0;
	}
	return decode_text(buf, len, out);
}

/*
 * Check a base64 run without modifying it.  The first pass over a payload
 * must leave the body intact: decoded bytes may contain 0x1e, after which
 * the body could no longer be split.  base64_decode() checks each group of
 * four on its own, so whole groups go through a small scratch buffer; only
 * padding ending a chunk that is not the last would slip through, and the
 * short result of such a chunk gives it away.
 */
static int
base64_valid(const char *s, size_t len)
{
	uint8_t	 scratch[3 * 64];
	size_t	 n;
	long	 got;

	if (len % 4 != 0)
		return 0;
	while (len > 0) {
		n = len < 4 * 64 ? len : 4 * 64;
		if ((got = base64_decode(scratch, s, n)) < 0)
			return 0;
		if (n < len && (size_t)got != n / 4 * 3)
			return 0;
		s += n;
		len -= n;
	}
	return 1;
}

/* One packet of a payload, as the first pass checks it: 0 or -1. */
static int
payload_packet_check(const uint8_t *p, size_t len)
{
	struct eio_packet pkt;

	if (len > 0 && p[0] == 'b')
		return base64_valid((const char *)p + 1, len - 1) ? 0 : -1;
	return decode_text(p, len, &pkt);
}

int
eio_decode_payload(uint8_t *buf, size_t len,
    int (*cb)(void *arg, const struct eio_packet *), void *arg)
{
	struct eio_packet pkt;
	uint8_t	*p, *sep, *end = buf + len;
	size_t	 n;
	long	 dlen;
	int	 rc;

	if (len == 0)
		return -1;	/* an empty body is one empty packet */

	/*
	 * First pass: every packet, including an empty one between two
	 * separators or after a trailing separator, must be well formed.
	 */
	for (p = buf;; p = sep + 1) {
		sep = memchr(p, EIO_SEPARATOR, (size_t)(end - p));
		n = (size_t)((sep ? sep : end) - p);
		if (payload_packet_check(p, n) != 0)
			return -1;
		if (sep == NULL)
			break;
	}

	/*
	 * Second pass: decode and deliver.  A packet's base64 is decoded only
	 * once its end has been found, so the separator search never sees
	 * decoded bytes; the decoded data lands over its own base64 text.
	 */
	for (p = buf;; p = sep + 1) {
		sep = memchr(p, EIO_SEPARATOR, (size_t)(end - p));
		n = (size_t)((sep ? sep : end) - p);
		if (p[0] == 'b') {
			dlen = base64_decode(p + 1, (const char *)p + 1, n - 1);
			if (dlen < 0)
				fatalx("eio_decode_payload: base64 changed");
			pkt.type = EIO_MESSAGE;
			pkt.binary = 1;
			pkt.len = (size_t)dlen;
			pkt.data = dlen ? p + 1 : NULL;
		} else if (decode_text(p, n, &pkt) != 0)
			fatalx("eio_decode_payload: packet changed");
		if ((rc = cb(arg, &pkt)) != 0)
			return rc;
		if (sep == NULL)
			break;
	}
	return 0;
}

size_t
eio_polling_len(const struct eio_packet *pkt)
{
	if (pkt->binary) {
		/* Only reachable by a bug: no such buffer fits in memory. */
		if (pkt->len > (SIZE_MAX - 1) / 4 * 3 - 2)
			fatalx("eio_polling_len: %zu bytes", pkt->len);
		return 1 + BASE64_ENCODED_LEN(pkt->len);
	}
	return 1 + pkt->len;
}

void
eio_encode_polling(struct buf *b, const struct eio_packet *pkt)
{
	char	*end;

	if (pkt->binary) {
		end = (char *)buf_reserve(b, eio_polling_len(pkt));
		*end = 'b';
		base64_encode(end + 1, pkt->data, pkt->len);
		b->len += eio_polling_len(pkt);
		return;
	}
	if (pkt->type < EIO_OPEN || pkt->type > EIO_NOOP)
		fatalx("eio_encode_polling: bad packet type %d",
		    (int)pkt->type);
	buf_append_byte(b, (uint8_t)('0' + pkt->type));
	buf_append(b, pkt->data, pkt->len);
}
