/*
 * chat.c - messages, files and typing (contract section 6, "Chat").
 *
 * The gateway has checked the payload, the sender's right to write here
 * (a member, or a study member who has not joined the room: a guest) and
 * chosen the message id; this file stamps and delivers.  What the sender
 * wrote (the message, its type, the file) is carried on as written.
 */
#include <string.h>

#include "ipc.h"
#include "room.h"

/* id, <room field>, userId, user: the head of every chat message. */
static cJSON *
message_head(struct room *r, const struct sender *s, const struct event *e,
    const char *room_field)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", e->msg_id);
	cJSON_AddStringToObject(o, room_field, r->id);
	cJSON_AddStringToObject(o, "userId", s->user_id);
	cJSON_AddItemToObject(o, "user", user_copy(s->user));
	return o;
}

/* The message's type: as sent, or "text" when none (or empty) was. */
static cJSON *
message_type(const struct event *e)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(e->p, "type");

	if (!cJSON_IsString(t) || t->valuestring[0] == '\0')
		return cJSON_CreateString("text");
	return event_field(e, "type");
}

void
chat_event(struct room *r, const struct sender *s, const struct event *e)
{
	cJSON *o;

	switch (e->kind) {
	case IPC_EV_CHAT_SEND_MESSAGE:
		o = message_head(r, s, e, "studyId");
		cJSON_AddItemToObject(o, "message", event_field(e, "message"));
		cJSON_AddItemToObject(o, "type", message_type(e));
		add_timestamp(o);
		cJSON_AddStringToObject(o, "socketId", s->socket_id);
		room_broadcast(r, 0, "chat:message-received", o);
		return;
	case IPC_EV_CHAT_FILE_UPLOADED:
		o = message_head(r, s, e, "studyId");
		cJSON_AddStringToObject(o, "type", "file");
		cJSON_AddItemToObject(o, "file", event_field(e, "file"));
		add_timestamp(o);
		room_broadcast_bins(r, 0, "chat:message-received", o, e->bins);
		return;
	case IPC_EV_CHAT_TYPING:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "userId", s->user_id);
		cJSON_AddItemToObject(o, "user", user_copy(s->user));
		cJSON_AddItemToObject(o, "isTyping", event_field(e, "isTyping"));
		room_broadcast(r, s->conn, "chat:user-typing", o);
		return;
	case IPC_EV_CHAT_VIDEO_MESSAGE:
		o = message_head(r, s, e, "roomId");
		cJSON_AddItemToObject(o, "message", event_field(e, "message"));
		add_timestamp(o);
		cJSON_AddStringToObject(o, "socketId", s->socket_id);
		room_broadcast(r, 0, "chat:video-message-received", o);
		return;
	case IPC_EV_CHAT_VIDEO_FILE:
		o = message_head(r, s, e, "roomId");
		cJSON_AddStringToObject(o, "type", "file");
		cJSON_AddItemToObject(o, "file", event_field(e, "file"));
		add_timestamp(o);
		cJSON_AddStringToObject(o, "socketId", s->socket_id);
		room_broadcast_bins(r, 0, "chat:video-file-received", o,
		    e->bins);
		return;
	default:
		return;
	}
}
