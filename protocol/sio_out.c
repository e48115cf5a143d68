/*
 * sio_out.c - packets encoded once (struct sio_out): an EVENT or ACK
 * made from cJSON, or a packet encoded elsewhere (a room process's) sent
 * as it is.  With connection state recovery on, every EVENT without an
 * ack id gets the server's next offset as its last argument; a
 * pre-encoded one has it spliced in before its closing bracket.
 * Reference counted: each replay buffer that keeps a packet holds one.
 */
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <stdio.h>

#include "sio_internal.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------- encoding */

static struct eio_msg *
msg_from(const void *data, size_t len, int binary)
{
	struct eio_msg *m = eio_msg_new(binary, len);

	memcpy(eio_msg_payload(m), data, len);
	return m;
}

static struct sio_out *
out_alloc(int nb)
{
	struct sio_out *o = xmalloc(sizeof(*o) + sizeof(o->bins[0]) * nb);

	o->refs = 1;
	o->offset = 0;
	o->bytes = 0;
	o->nbins = nb;
	return o;
}

static void
out_bins(struct sio_out *o, const struct sio_bins *bins)
{
	for (int i = 0; i < o->nbins; i++) {
		o->bins[i] = msg_from(bins->data[i], bins->len[i], 1);
		o->bytes += bins->len[i];
	}
}

/* The next offset of this server, as the client will send it back;
 * returns the length of its text. */
static size_t
next_offset(struct sio_server *srv, uint64_t *off, char text[24])
{
	*off = ++srv->next_offset;
	return (size_t)snprintf(text, 24, "%" PRIu64, *off);
}

static struct sio_out *
out_new(const char *nsp, enum sio_type type, long long id, const cJSON *data,
    const struct sio_bins *bins)
{
	int nb = bins ? bins->n : 0;
	struct sio_out *o = out_alloc(nb);
	struct buf b = BUF_INIT;

	if (nb > 0)
		type = type == SIO_ACK ? SIO_BINARY_ACK : SIO_BINARY_EVENT;
	sio_encode(&b, type, nsp, id, nb, data);
	o->text = msg_from(b.data, b.len, 0);
	o->bytes = b.len;
	buf_free(&b);
	out_bins(o, bins);
	return o;
}

/* [name, ...args] without copying args: cJSON references. */
static cJSON *
event_array(const char *name, const cJSON *args)
{
	cJSON *arr = cJSON_CreateArray();
	const cJSON *it;

	cJSON_AddItemToArray(arr, cJSON_CreateString(name));
	if (args != NULL && cJSON_IsArray(args))
		cJSON_ArrayForEach(it, args)
			cJSON_AddItemReferenceToArray(arr, (cJSON *)it);
	else if (args != NULL)
		cJSON_AddItemReferenceToArray(arr, (cJSON *)args);
	return arr;
}

struct sio_out *
sio_out_event(const struct sio_nsp *nsp, const char *name, const cJSON *args,
    const struct sio_bins *bins, long long ack_id)
{
	cJSON *arr = event_array(name, args);
	struct sio_out *o;
	uint64_t off = 0;
	char text[24];

	/* An event with no ack carries its offset when sessions can be
	 * recovered (the client keeps the last one it saw). */
	if (ack_id < 0 && nsp->srv->recovery_window > 0) {
		(void)next_offset(nsp->srv, &off, text);
		cJSON_AddItemToArray(arr, cJSON_CreateString(text));
	}
	o = out_new(nsp->name, SIO_EVENT, ack_id, arr, bins);
	o->offset = off;
	cJSON_Delete(arr);
	return o;
}

struct sio_out *
sio_out_ack(const struct sio_nsp *nsp, long long ack_id, const cJSON *args,
    const struct sio_bins *bins)
{
	cJSON *arr = NULL;
	struct sio_out *o;

	if (args == NULL || !cJSON_IsArray(args)) {
		arr = cJSON_CreateArray();
		if (args != NULL)
			cJSON_AddItemReferenceToArray(arr, (cJSON *)args);
	}
	o = out_new(nsp->name, SIO_ACK, ack_id, arr ? arr : args, bins);
	cJSON_Delete(arr);
	return o;
}

/*
 * Whether an encoded packet is an EVENT of namespace "/" with no ack id
 * ("2[...]", "5<n>-[...]"): those get an offset.  Returns the length of
 * the text before the closing bracket, or 0.
 */
static size_t
takes_offset(const char *p, size_t len)
{
	size_t i = 1;

	if (len < 3 || p[len - 1] != ']')
		return 0;
	if (p[0] == '5') {
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == 1 || i >= len || p[i] != '-')
			return 0;
		i++;
	} else if (p[0] != '2')
		return 0;
	return p[i] == '[' ? len - 1 : 0;
}

struct sio_out *
sio_out_packet(const struct sio_nsp *nsp, const void *packet, size_t len,
    const struct sio_bins *bins)
{
	struct sio_out *o = out_alloc(bins ? bins->n : 0);
	size_t head, n;
	char text[24];

	if (nsp->srv->recovery_window > 0 &&
	    (head = takes_offset(packet, len)) > 0) {
		uint8_t *p;

		/* Written straight into the message: [..., "<offset>"] */
		n = next_offset(nsp->srv, &o->offset, text);
		o->bytes = head + n + 4;
		o->text = eio_msg_new(0, o->bytes);
		p = eio_msg_payload(o->text);
		memcpy(p, packet, head);
		memcpy(p + head, ",\"", 2);
		memcpy(p + head + 2, text, n);
		memcpy(p + head + 2 + n, "\"]", 2);
	} else {
		o->text = msg_from(packet, len, 0);
		o->bytes = len;
	}
	out_bins(o, bins);
	return o;
}

struct sio_out *
sio_out_copy(const void *packet, size_t len, const struct sio_bins *bins)
{
	struct sio_out *o = out_alloc(bins ? bins->n : 0);

	o->text = msg_from(packet, len, 0);
	o->bytes = len;
	out_bins(o, bins);
	return o;
}

struct sio_out *
sio_out_ref(struct sio_out *o)
{
	o->refs++;
	return o;
}

void
sio_out_release(void *o)
{
	sio_out_free(o);
}

void
sio_out_free(struct sio_out *o)
{
	if (o == NULL || --o->refs > 0)
		return;
	eio_msg_unref(o->text);
	for (int i = 0; i < o->nbins; i++)
		eio_msg_unref(o->bins[i]);
	free(o);
}
