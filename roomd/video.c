/*
 * video.c - a call (video:<roomId>): who is in it, their media flags, the
 * WebRTC relays between two members, and the status events (contract
 * section 6, "Video").  The gateway has checked every payload and that
 * the sender is a member; this file decides who hears what.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "room.h"
#include "timestamp.h"

static cJSON *
participant(const struct member *m)
{
	cJSON *p = cJSON_CreateObject();
	char ts[TIMESTAMP_ISO_LEN];

	cJSON_AddStringToObject(p, "socketId", m->socket_id);
	cJSON_AddStringToObject(p, "userId", m->user_id);
	cJSON_AddItemToObject(p, "user", user_copy(m->user));
	cJSON_AddBoolToObject(p, "isMuted", m->flags & IPC_M_MUTED);
	cJSON_AddBoolToObject(p, "isVideoOff", m->flags & IPC_M_VIDEO_OFF);
	cJSON_AddBoolToObject(p, "isSharingScreen", m->flags & IPC_M_SHARING);
	timestamp_iso_from_ms(ts, m->joined_at);
	cJSON_AddStringToObject(p, "joinedAt", ts);
	return p;
}

/* {socketId, userId} of a member, the head of most video events. */
static cJSON *
who(const char *socket_id, const char *user_id)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "socketId", socket_id);
	cJSON_AddStringToObject(o, "userId", user_id);
	return o;
}

void
video_join(struct room *r, struct member *m, int replay, cJSON *ice)
{
	cJSON *state, *list, *joined;
	struct member *o;

	if (replay) {
		cJSON_Delete(ice);
		return;		/* back after a restart: nothing happened */
	}
	state = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(state, "participants");
	if (ice != NULL)
		cJSON_AddItemToObject(state, "iceServers", ice);
	/* Oldest first, as members joined. */
	for (o = r->members; o != NULL; o = o->next)
		if (o != m)
			cJSON_InsertItemInArray(list, 0, participant(o));
	room_send(r, &m->conn, 1, "video:room-state", state);
	/* Speaking is said only when it changes: tell the newcomer who
	 * speaks now, as it would have heard had it been here. */
	for (o = r->members; o != NULL; o = o->next)
		if (o != m && (o->flags & IPC_M_SPEAKING)) {
			cJSON *sp = who(o->socket_id, o->user_id);

			cJSON_AddTrueToObject(sp, "speaking");
			room_send(r, &m->conn, 1, "video:user-speaking", sp);
		}

	joined = who(m->socket_id, m->user_id);
	cJSON_AddItemToObject(joined, "user", user_copy(m->user));
	room_broadcast(r, m->conn, "video:user-joined", joined);
}

void
video_leave(struct room *r, struct member *m)
{
	room_broadcast(r, m->conn, "video:user-left",
	    who(m->socket_id, m->user_id));
}

/* video:offer / answer / ice-candidate: to `to` alone, if it is here,
 * {from, <field>: as the sender wrote it}. */
static void
relay(struct room *r, const struct sender *s, const char *event,
    const char *field, const struct event *e)
{
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(e->p, "to");
	struct member *target;
	cJSON *out;

	if (!cJSON_IsString(to) ||
	    (target = room_find_socket(r, to->valuestring)) == NULL)
		return;		/* left meanwhile */
	out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "from", s->socket_id);
	cJSON_AddItemToObject(out, field, event_field(e, field));
	room_send_bins(r, &target->conn, 1, event, out, e->bins);
}

static void
set_flag(struct member *m, uint8_t flag, int on)
{
	if (on)
		m->flags |= flag;
	else
		m->flags &= (uint8_t)~flag;
}

static int
bool_field(const cJSON *payload, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(payload, name));
}

void
video_event(struct room *r, const struct sender *s, const struct event *e)
{
	const cJSON *payload = e->p;
	struct member *m = s->member;
	cJSON *out;
	int on;

	if (m == NULL)
		return;		/* video events come from members only */
	switch (e->kind) {
	case IPC_EV_VIDEO_OFFER:
		relay(r, s, "video:offer", "offer", e);
		return;
	case IPC_EV_VIDEO_ANSWER:
		relay(r, s, "video:answer", "answer", e);
		return;
	case IPC_EV_VIDEO_ICE_CANDIDATE:
		relay(r, s, "video:ice-candidate", "candidate", e);
		return;
	case IPC_EV_VIDEO_TOGGLE_AUDIO:
		on = bool_field(payload, "isMuted");
		set_flag(m, IPC_M_MUTED, on);
		out = who(m->socket_id, m->user_id);
		cJSON_AddBoolToObject(out, "isMuted", on);
		room_broadcast(r, m->conn, "video:peer-audio-changed", out);
		return;
	case IPC_EV_VIDEO_TOGGLE_VIDEO:
		on = bool_field(payload, "isVideoOff");
		set_flag(m, IPC_M_VIDEO_OFF, on);
		out = who(m->socket_id, m->user_id);
		cJSON_AddBoolToObject(out, "isVideoOff", on);
		room_broadcast(r, m->conn, "video:peer-video-changed", out);
		return;
	case IPC_EV_VIDEO_SCREEN_SHARE_START:
	case IPC_EV_VIDEO_SCREEN_SHARE_STOP:
		on = e->kind == IPC_EV_VIDEO_SCREEN_SHARE_START;
		set_flag(m, IPC_M_SHARING, on);
		out = who(m->socket_id, m->user_id);
		cJSON_AddBoolToObject(out, "isSharing", on);
		room_broadcast(r, m->conn, "video:peer-screen-share", out);
		room_broadcast(r, m->conn, on ? "video:screen-share-started" :
		    "video:screen-share-stopped", who(m->socket_id,
		    m->user_id));
		return;
	case IPC_EV_VIDEO_SPEAKING:
		on = bool_field(payload, "speaking");
		set_flag(m, IPC_M_SPEAKING, on);
		out = who(m->socket_id, m->user_id);
		cJSON_AddBoolToObject(out, "speaking", on);
		room_broadcast(r, m->conn, "video:user-speaking", out);
		return;
	default:
		return;
	}
}
