/*
 * sio_packet.h - the Socket.IO v5 packet codec (no I/O, no state).
 *
 * Text form: <type>[<attachments>-][<namespace>,][<ack id>][<JSON>]
 * Binary attachments travel as separate Engine.IO binary messages after the
 * packet and are referenced by {"_placeholder":true,"num":N} in the JSON.
 */
#ifndef COUP_SIO_PACKET_H
#define COUP_SIO_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bounds.h"
#include "buf.h"

enum sio_type {
	SIO_CONNECT = 0,
	SIO_DISCONNECT,
	SIO_EVENT,
	SIO_ACK,
	SIO_CONNECT_ERROR,
	SIO_BINARY_EVENT,
	SIO_BINARY_ACK,
};

#define SIO_NO_ACK		(-1LL)
/* Largest attachment count and ack id we accept; beyond is malformed. */
#define SIO_MAX_ATTACHMENTS	BOUND_ATTACHMENTS
#define SIO_MAX_ACK_ID		9007199254740991LL	/* 2^53 - 1 */
#define SIO_MAX_NSP_LEN		256

struct sio_packet {
	enum sio_type	 type;
	int		 attachments;	/* BINARY_*: count announced */
	char		 nsp[SIO_MAX_NSP_LEN + 1]; /* "/" when absent */
	long long	 id;		/* ack id, or SIO_NO_ACK */
	cJSON		*data;		/* parsed payload, or NULL */
	/* The payload's text as data was parsed from it (json.h: softened,
	 * NUL-terminated), or NULL: what a relay hands on as written. */
	char		*text;
	size_t		 text_len;
};

/*
 * Decode one text packet.  Validates the payload for the type as
 * socket.io-parser does: CONNECT carries an object or nothing; DISCONNECT
 * nothing; CONNECT_ERROR an object or string; EVENT/BINARY_EVENT a
 * non-empty array whose first element is a string and not a reserved name
 * ("connect", "disconnect", ...); ACK/BINARY_ACK an array.
 * Binary types announce 1..SIO_MAX_ATTACHMENTS attachments, and every
 * placeholder must have 0 <= num < attachments.
 * Returns 0 (caller frees with sio_packet_clear) or -1 with *why set to a
 * static string.
 */
int	sio_decode(const char *buf, size_t len, struct sio_packet *,
	    const char **why);
void	sio_packet_clear(struct sio_packet *);

/*
 * Encode a packet header and its JSON payload (data may be NULL).  The
 * namespace is written only when it is not "/".  id < 0 means no ack id.
 */
void	sio_encode(struct buf *, enum sio_type, const char *nsp, long long id,
	    int attachments, const cJSON *data);

/*
 * Check every placeholder object in data: "num" must be an integer with
 * 0 <= num < attachments (as socket.io-parser requires).  Returns 0 or -1;
 * also -1 for a tree nested deeper than cJSON parses (CJSON_NESTING_LIMIT).
 */
int	sio_check_placeholders(const cJSON *data, int attachments);

#endif
