/*
 * room.c - members of the room and the one way out: room_send() encodes a
 * Socket.IO EVENT packet once and hands it, with its recipients, to the
 * gateway in a single IPC_SEND message.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"
#include "room.h"
#include "sio_packet.h"
#include "timestamp.h"

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
	uint64_t *conns = malloc(sizeof(*conns) * (r->count + 1));
	struct member *m;
	size_t n = 0;

	if (conns == NULL)
		fatal("malloc");
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
	struct buf body = BUF_INIT;
	cJSON *arr;

	if (n == 0) {
		cJSON_Delete(payload);
		return;
	}
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateString(event));
	cJSON_AddItemToArray(arr, payload);
	ipc_put_u32(&body, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		ipc_put_u64(&body, conns[i]);
	/* The packet text runs to the end of the body. */
	sio_encode(&body, SIO_EVENT, "/", SIO_NO_ACK, 0, arr);
	cJSON_Delete(arr);
	if (ipc_send(r->chan, IPC_SEND, body.data, body.len) < 0)
		fatalx("the gateway is not reading (%zu bytes queued)",
		    ipc_queued(r->chan));
	buf_free(&body);
}

void
room_broadcast(struct room *r, uint64_t except, const char *event,
    cJSON *payload)
{
	uint64_t *conns;
	size_t n = room_recipients(r, except, &conns);

	room_send(r, conns, n, event, payload);
	free(conns);
}

cJSON *
user_copy(const cJSON *user)
{
	cJSON *u = user ? cJSON_Duplicate(user, 1) : cJSON_CreateNull();

	if (u == NULL)
		fatal("cJSON_Duplicate");
	return u;
}

void
add_timestamp(cJSON *obj)
{
	char ts[TIMESTAMP_ISO_LEN];

	timestamp_iso(ts);
	cJSON_AddStringToObject(obj, "timestamp", ts);
}
