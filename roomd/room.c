/*
 * room.c - members of the room and the one way out: room_send() encodes a
 * Socket.IO EVENT packet once and hands it, with its recipients, to the
 * gateway in a single IPC_SEND message.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "ipc_msg.h"
#include "json.h"
#include "log.h"
#include "room.h"
#include "sio_packet.h"
#include "timestamp.h"
#include "xmalloc.h"

struct member *
room_find(struct room *r, uint64_t conn)
{
	struct member *m;

	for (m = r->members; m != NULL; m = m->next)
		if (m->conn == conn)
			return m;
	return NULL;
}

struct member *
room_find_socket(struct room *r, const char *socket_id)
{
	struct member *m;

	for (m = r->members; m != NULL; m = m->next)
		if (strcmp(m->socket_id, socket_id) == 0)
			return m;
	return NULL;
}

size_t
room_recipients(struct room *r, uint64_t except, uint64_t **out)
{
	uint64_t *conns = xmalloc(sizeof(*conns) * (r->count + 1));
	struct member *m;
	size_t n = 0;

	for (m = r->members; m != NULL; m = m->next)
		if (m->conn != except)
			conns[n++] = m->conn;
	*out = conns;
	return n;
}

void
room_send(struct room *r, const uint64_t *conns, size_t n, const char *event,
    cJSON *payload)
{
	room_send_bins(r, conns, n, event, payload, NULL);
}

void
room_send_bins(struct room *r, const uint64_t *conns, size_t n,
    const char *event, cJSON *payload, const struct ipc_bins *bins)
{
	static const struct ipc_bins none;
	struct buf pkt = BUF_INIT, body = BUF_INIT;
	size_t per, i, k, binbytes = 0;
	cJSON *arr;

	if (bins == NULL)
		bins = &none;
	for (unsigned j = 0; j < bins->n; j++)
		binbytes += bins->bin[j].len + 4;

	if (n == 0) {
		cJSON_Delete(payload);
		return;
	}
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateString(event));
	cJSON_AddItemToArray(arr, payload);
	/* Encoded once, for every recipient. */
	sio_encode(&pkt, bins->n > 0 ? SIO_BINARY_EVENT : SIO_EVENT, "/",
	    SIO_NO_ACK, bins->n, arr);
	cJSON_Delete(arr);
	/* The gateway bounds what it hands us (bounds.h), so a packet always
	 * fits with room to spare; a large room's recipients are split over
	 * as many messages as it takes. */
	if (pkt.len + binbytes + 6 + 8 > IPC_MSG_MAX) {
		log_warnx("%s of %zu bytes does not fit the channel; dropped",
		    event, pkt.len);
		buf_free(&pkt);
		return;
	}
	per = (IPC_MSG_MAX - 6 - binbytes - pkt.len) / 8;
	for (i = 0; i < n; i += k) {
		k = n - i < per ? n - i : per;
		buf_reset(&body);
		if (ipc_put_send(&body, conns + i, (uint32_t)k, bins,
		    (struct ipc_str){ (const char *)pkt.data, pkt.len }) < 0)
			fatalx("room_send: %s over its bounds", event);
		if (ipc_send(r->chan, IPC_SEND, body.data, body.len) < 0)
			fatalx("the gateway is not reading (%zu bytes queued)",
			    ipc_queued(r->chan));
	}
	buf_free(&body);
	buf_free(&pkt);
}

void
room_broadcast(struct room *r, uint64_t except, const char *event,
    cJSON *payload)
{
	room_broadcast_bins(r, except, event, payload, NULL);
}

void
room_broadcast_bins(struct room *r, uint64_t except, const char *event,
    cJSON *payload, const struct ipc_bins *bins)
{
	uint64_t *conns;
	size_t n = room_recipients(r, except, &conns);

	room_send_bins(r, conns, n, event, payload, bins);
	free(conns);
}

cJSON *
user_copy(const cJSON *user)
{
	return user ? cJSON_Duplicate(user, 1) : cJSON_CreateNull();
}

cJSON *
event_field(const struct event *e, const char *name)
{
	struct json_span v;
	cJSON *item;
	char *text;

	if (json_member(e->raw, e->raw_len, name, &v) < 0)
		return cJSON_CreateNull();
	/* cJSON copies raw text from a C string. */
	text = xmalloc(v.len + 1);
	memcpy(text, v.p, v.len);
	text[v.len] = '\0';
	item = cJSON_CreateRaw(text);
	free(text);
	return item;
}

void
add_timestamp(cJSON *obj)
{
	char ts[TIMESTAMP_ISO_LEN];

	timestamp_iso(ts);
	cJSON_AddStringToObject(obj, "timestamp", ts);
}
