/*
 * presence.c - who is online in a study (study:<studyId>), per user and
 * not per tab (contract section 6, "Presence"): user-online when a user's
 * first connection joins, user-offline when the last one leaves.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"
#include "room.h"
#include "xmalloc.h"

/* Other members (connections) of the same user. */
static unsigned
tabs_of(struct room *r, const struct member *m)
{
	struct member *o;
	unsigned n = 0;

	for (o = r->members; o != NULL; o = o->next)
		if (o != m && strcmp(o->user_id, m->user_id) == 0)
			n++;
	return n;
}

static cJSON *
user_event(const struct member *m)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "userId", m->user_id);
	cJSON_AddItemToObject(o, "user", user_copy(m->user));
	add_timestamp(o);
	return o;
}

/* The users online, one entry each, oldest first. */
static cJSON *
online_users(struct room *r, unsigned *count)
{
	cJSON *list = cJSON_CreateArray();
	struct member *m, *o;

	*count = 0;
	for (m = r->members; m != NULL; m = m->next) {
		/* Keep the oldest connection of each user. */
		for (o = m->next; o != NULL; o = o->next)
			if (strcmp(o->user_id, m->user_id) == 0)
				break;
		if (o != NULL)
			continue;
		cJSON *u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "userId", m->user_id);
		cJSON_AddItemToObject(u, "user", user_copy(m->user));
		cJSON_AddStringToObject(u, "status",
		    m->status ? m->status : "online");
		cJSON_InsertItemInArray(list, 0, u);
		(*count)++;
	}
	return list;
}

void
presence_join(struct room *r, struct member *m, int replay)
{
	cJSON *joined;
	unsigned count;

	if (replay)
		return;
	if (tabs_of(r, m) == 0)
		room_broadcast(r, m->conn, "presence:user-online",
		    user_event(m));
	joined = cJSON_CreateObject();
	cJSON_AddStringToObject(joined, "studyId", r->id);
	cJSON *users = online_users(r, &count);
	cJSON_AddNumberToObject(joined, "onlineCount", count);
	cJSON_AddItemToObject(joined, "users", users);
	room_send(r, &m->conn, 1, "presence:study-joined", joined);
}

void
presence_leave(struct room *r, struct member *m)
{
	/* m is already out of the member list. */
	if (tabs_of(r, m) == 0)
		room_broadcast(r, 0, "presence:user-offline", user_event(m));
}

void
presence_event(struct room *r, const struct sender *s, const struct event *e)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(e->p, "status");
	struct member *m;
	cJSON *o;

	if (e->kind != IPC_EV_PRESENCE_STATUS_CHANGE || s->member == NULL ||
	    !cJSON_IsString(status))
		return;
	/* The status is the user's, whichever tab set it. */
	for (m = r->members; m != NULL; m = m->next)
		if (strcmp(m->user_id, s->user_id) == 0) {
			free(m->status);
			m->status = xstrdup(status->valuestring);
		}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "userId", s->user_id);
	cJSON_AddItemToObject(o, "user", user_copy(s->user));
	cJSON_AddStringToObject(o, "status", status->valuestring);
	room_broadcast(r, s->conn, "presence:user-status-changed", o);
}
