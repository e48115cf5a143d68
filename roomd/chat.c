/*
 * chat.c - messages, files and typing (contract section 6, "Chat").
 *
 * The gateway has checked the payload, the sender's right to write here
 * (a member, or a study member who has not joined the room: a guest) and
 * chosen the message id; this file stamps and delivers.
 */
#include <string.h>

#include "ipc.h"
#include "room.h"

/* Copy payload[name] into out (as null when absent). */
static void
copy_field(cJSON *out, const cJSON *payload, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, name);
	cJSON *c = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

	cJSON_AddItemToObject(out, name, c);
}

/* id, <room field>, userId, user: the head of every chat message. */
static cJSON *
message_head(struct room *r, const struct sender *s, const cJSON *payload,
    const char *room_field)
{
	cJSON *o = cJSON_CreateObject();

	copy_field(o, payload, "id");
	cJSON_AddStringToObject(o, room_field, r->id);
	cJSON_AddStringToObject(o, "userId", s->user_id);
	cJSON_AddItemToObject(o, "user", user_copy(s->user));
	return o;
}

void
chat_event(struct room *r, const struct sender *s, int event,
    cJSON *payload)
{
	cJSON *o;

	switch (event) {
	case IPC_EV_CHAT_SEND_MESSAGE:
		o = message_head(r, s, payload, "studyId");
		copy_field(o, payload, "message");
		copy_field(o, payload, "type");
		add_timestamp(o);
		cJSON_AddStringToObject(o, "socketId", s->socket_id);
		room_broadcast(r, 0, "chat:message-received", o);
		return;
	case IPC_EV_CHAT_FILE_UPLOADED:
		o = message_head(r, s, payload, "studyId");
		cJSON_AddStringToObject(o, "type", "file");
		copy_field(o, payload, "file");
		add_timestamp(o);
		room_broadcast(r, 0, "chat:message-received", o);
		return;
	case IPC_EV_CHAT_TYPING:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "userId", s->user_id);
		cJSON_AddItemToObject(o, "user", user_copy(s->user));
		copy_field(o, payload, "isTyping");
		room_broadcast(r, s->conn, "chat:user-typing", o);
		return;
	case IPC_EV_CHAT_VIDEO_MESSAGE:
		o = message_head(r, s, payload, "roomId");
		copy_field(o, payload, "message");
		add_timestamp(o);
		cJSON_AddStringToObject(o, "socketId", s->socket_id);
		room_broadcast(r, 0, "chat:video-message-received", o);
		return;
	case IPC_EV_CHAT_VIDEO_FILE:
		o = message_head(r, s, payload, "roomId");
		cJSON_AddStringToObject(o, "type", "file");
		copy_field(o, payload, "file");
		add_timestamp(o);
		cJSON_AddStringToObject(o, "socketId", s->socket_id);
		room_broadcast(r, 0, "chat:video-file-received", o);
		return;
	default:
		return;
	}
}
