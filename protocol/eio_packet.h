/*
 * eio_packet.h - the Engine.IO v4 packet codec (no I/O, no state).
 *
 * A packet is a type digit followed by data; on WebSocket one packet is one
 * frame (a binary frame is a message packet with raw bytes), on long-polling
 * a payload joins packets with the record separator 0x1e and carries binary
 * packets as "b" + base64.
 */
#ifndef COUP_EIO_PACKET_H
#define COUP_EIO_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define EIO_SEPARATOR	0x1e

enum eio_type {
	EIO_OPEN = 0,
	EIO_CLOSE,
	EIO_PING,
	EIO_PONG,
	EIO_MESSAGE,
	EIO_UPGRADE,
	EIO_NOOP,
};

struct eio_packet {
	enum eio_type	 type;
	int		 binary;	/* data is raw bytes (always MESSAGE) */
	const uint8_t	*data;		/* after the type digit; may be NULL */
	size_t		 len;
};

/*
 * One WebSocket frame.  A text frame must start with a type digit 0-6; a
 * binary frame is a MESSAGE with raw data.  Returns 0, or -1 if malformed.
 * `out->data` points into buf.
 */
int	eio_decode_frame(const uint8_t *buf, size_t len, int is_binary,
	    struct eio_packet *out);

/*
 * A long-polling payload (a POST body).  Base64 is decoded in place, so buf
 * is modified.  Calls cb once per packet, in order; cb returning non-zero
 * stops the walk and is returned.  Returns 0, or -1 if any packet is
 * malformed (then cb has not been called at all: the body is checked first).
 */
int	eio_decode_payload(uint8_t *buf, size_t len,
	    int (*cb)(void *arg, const struct eio_packet *), void *arg);

/* Append one packet as a polling payload would carry it (no separator). */
void	eio_encode_polling(struct buf *, const struct eio_packet *);
/* Bytes eio_encode_polling() would append. */
size_t	eio_polling_len(const struct eio_packet *);

/* "open", "close", ... ; "?" if out of range. */
const char *eio_type_name(int);

#endif
