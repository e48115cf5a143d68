/*
 * fuzz_sio.c - libFuzzer target for the Socket.IO codec.
 *
 * The input is one text packet.  A refused packet must come back with a
 * reason and no payload; an accepted one must have sane fields, and
 * encoding it must give a packet that decodes to the same fields and
 * encodes to the same bytes again (so the payload survives too).  Any
 * broken promise aborts, which libFuzzer reports as a crash.  Built with
 * replay_main.c, the same code replays the seed corpus under `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sio_packet.h"

static void
check_sane(const struct sio_packet *p)
{
	size_t nsplen = strnlen(p->nsp, sizeof(p->nsp));

	CHECK(p->type >= SIO_CONNECT && p->type <= SIO_BINARY_ACK);
	CHECK(nsplen >= 1 && nsplen <= SIO_MAX_NSP_LEN && p->nsp[0] == '/');
	CHECK(strchr(p->nsp, ',') == NULL);
	CHECK(p->id == SIO_NO_ACK || (p->id >= 0 && p->id <= SIO_MAX_ACK_ID));
	if (p->type == SIO_BINARY_EVENT || p->type == SIO_BINARY_ACK)
		CHECK(p->attachments >= 1 &&
		    p->attachments <= SIO_MAX_ATTACHMENTS);
	else
		CHECK(p->attachments == 0);
	switch (p->type) {
	case SIO_CONNECT:
		CHECK(p->data == NULL || cJSON_IsObject(p->data));
		break;
	case SIO_DISCONNECT:
		CHECK(p->data == NULL);
		break;
	case SIO_CONNECT_ERROR:
		CHECK(cJSON_IsObject(p->data) || cJSON_IsString(p->data));
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		CHECK(cJSON_IsArray(p->data) && cJSON_IsString(p->data->child));
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		CHECK(cJSON_IsArray(p->data));
		break;
	}
}

static void
encode(struct buf *b, const struct sio_packet *p)
{
	sio_encode(b, p->type, p->nsp, p->id, p->attachments, p->data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sio_packet p, q;
	struct buf b1 = BUF_INIT, b2 = BUF_INIT;
	const char *why = NULL;

	if (sio_decode((const char *)data, size, &p, &why) != 0) {
		CHECK(why != NULL && p.data == NULL);
		return 0;
	}
	CHECK(why == NULL);
	check_sane(&p);

	encode(&b1, &p);
	CHECK(sio_decode((const char *)b1.data, b1.len, &q, &why) == 0);
	CHECK(q.type == p.type && q.attachments == p.attachments &&
	    q.id == p.id && strcmp(q.nsp, p.nsp) == 0);
	CHECK((q.data == NULL) == (p.data == NULL));
	encode(&b2, &q);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);

	sio_packet_clear(&q);
	sio_packet_clear(&p);
	buf_free(&b1);
	buf_free(&b2);
	return 0;
}
