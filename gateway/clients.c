/*
 * clients.c - authenticated sockets.
 *
 * Each socket that passed authentication becomes a struct client with a
 * connection id, the number room processes know it by (socket ids are
 * the clients' business; a number is cheap to carry and compare).  Two
 * indexes find a client: by connection id (a room process addressing a
 * packet) and by socket id (a relay's `to`).
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "hash.h"
#include "keymap.h"
#include "events.h"
#include "log.h"
#include "replies.h"
#include "rooms.h"
#include "sio_server.h"

#define CLIENT_BUCKETS	16384	/* power of two */

struct by_socket {
	struct by_socket	*next;
	struct client		*client;
};

static struct client *by_conn[CLIENT_BUCKETS];
static struct by_socket *by_sid[CLIENT_BUCKETS];
static uint64_t next_conn = 1;
static unsigned nclients;
/* user id -> struct user, while the user has a connection here. */
static struct keymap *users;

static unsigned
sid_hash(const char *s)
{
	return hash_str(s) & (CLIENT_BUCKETS - 1);
}

struct client *
client_find(struct gateway *gw, uint64_t conn)
{
	struct client *c;

	for (c = by_conn[conn & (CLIENT_BUCKETS - 1)]; c != NULL; c = c->hnext)
		if (c->conn == conn)
			return c;
	return NULL;
}

struct client *
client_by_socket(struct gateway *gw, const char *socket_id)
{
	struct by_socket *e;

	for (e = by_sid[sid_hash(socket_id)]; e != NULL; e = e->next)
		if (strcmp(sio_socket_id(e->client->sock), socket_id) == 0)
			return e->client;
	return NULL;
}

struct client *
client_of(struct sio_socket *s)
{
	return sio_socket_connected(s) ? sio_socket_data(s) : NULL;
}

unsigned
clients_count(struct gateway *gw)
{
	return nclients;
}

/* ---------------------------------------------------------------- users */

static struct user *
user_get(const char *id)
{
	size_t n = strlen(id);
	struct user *u;

	if (users == NULL)
		users = keymap_new();
	if ((u = keymap_get(users, id, n)) == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL ||
		    (u->id = strdup(id)) == NULL)
			fatal("calloc");
		keymap_put(users, id, n, u);
	}
	u->nclients++;
	return u;
}

static void
user_put(struct user *u)
{
	if (--u->nclients > 0)
		return;
	keymap_remove(users, u->id, strlen(u->id));
	free(u->rooms);
	free(u->id);
	free(u);
}

int
user_in_room(const struct user *u, const struct room *r)
{
	for (unsigned i = 0; i < u->nrooms; i++)
		if (u->rooms[i].room == r)
			return 1;
	return 0;
}

/*
 * The distinct rooms a user's connections are in, each with how many of
 * them: kept as they join and leave, so USER_ROOMS_MAX is checked without
 * walking the user's connections.  Few entries (at most USER_ROOMS_MAX):
 * a plain array.
 */
void
user_room_ref(struct user *u, struct room *r, int delta)
{
	unsigned i;

	for (i = 0; i < u->nrooms && u->rooms[i].room != r; i++)
		;
	if (delta > 0) {
		if (i == u->nrooms) {
			if (u->nrooms == u->cap) {
				u->cap = u->cap ? u->cap * 2 : 4;
				u->rooms = realloc(u->rooms,
				    sizeof(*u->rooms) * u->cap);
				if (u->rooms == NULL)
					fatal("realloc");
			}
			u->rooms[u->nrooms].room = r;
			u->rooms[u->nrooms++].refs = 0;
		}
		u->rooms[i].refs++;
	} else if (i < u->nrooms && --u->rooms[i].refs == 0)
		u->rooms[i] = u->rooms[--u->nrooms];
}

/* ---------------------------------------------------------------- clients */

/* The contract's codes, for the error throttle. */
static const char *const codes[CLIENT_ERROR_CODES] = {
	"BAD_REQUEST", "NOT_MEMBER", "MEMBERSHIP_CHECK_FAILED", "NOT_IN_ROOM",
	"ROOM_FULL", "RATE_LIMITED", "ROOM_UNAVAILABLE", "INTERNAL",
};

/*
 * The `error` event, at most one a second per code (contract section 5):
 * a refused flood must not become a flood of banners in the app.  The
 * acks, which answer a request each, are not held back.
 */
void
client_error(struct client *c, const char *code, const char *message)
{
	double now = ev_now(c->gw->loop);
	unsigned i;

	for (i = 0; i < CLIENT_ERROR_CODES && strcmp(codes[i], code) != 0; i++)
		;
	if (i < CLIENT_ERROR_CODES && c->error_at[i] != 0 &&
	    now - c->error_at[i] < 1.0) {
		c->gw->stats.errors_quiet++;
		return;
	}
	if (i < CLIENT_ERROR_CODES)
		c->error_at[i] = now;
	reply_error(c->gw, c->sock, code, message);
}

void
client_accepted(struct gateway *gw, struct sio_socket *s, const cJSON *user)
{
	struct client *c = calloc(1, sizeof(*c));
	struct by_socket *e = calloc(1, sizeof(*e));
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
	unsigned b;

	if (c == NULL || e == NULL)
		fatal("calloc");
	c->gw = gw;
	c->sock = s;
	c->conn = next_conn++;
	c->user = cJSON_Duplicate(user, 1);
	c->user_json = cJSON_PrintUnformatted(user);
	c->user_id = strdup(cJSON_IsString(id) ? id->valuestring : "");
	if (c->user == NULL || c->user_json == NULL || c->user_id == NULL)
		fatal("client_accepted");
	c->owner = user_get(c->user_id);
	c->rate = (struct rate_bucket)RATE_BUCKET_INIT;
	b = c->conn & (CLIENT_BUCKETS - 1);
	c->hnext = by_conn[b];
	by_conn[b] = c;
	sio_socket_set_data(s, c);
	sio_accept(s);
	e->client = c;
	b = sid_hash(sio_socket_id(s));
	e->next = by_sid[b];
	by_sid[b] = e;
	nclients++;
	log_debug("socket %s: user %s connected (conn %llu)",
	    sio_socket_id(s), c->user_id, (unsigned long long)c->conn);
}

void
client_gone(struct client *c, const char *reason)
{
	struct client **pp;
	struct by_socket **ep, *e;

	log_debug("socket %s: user %s gone (%s)", sio_socket_id(c->sock),
	    c->user_id, reason);
	events_client_gone(c);
	while (c->rooms != NULL)
		room_leave(c->rooms, IPC_LEAVE_DISCONNECT);
	for (pp = &by_conn[c->conn & (CLIENT_BUCKETS - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	for (ep = &by_sid[sid_hash(sio_socket_id(c->sock))]; (e = *ep) != NULL;
	    ep = &e->next)
		if (e->client == c) {
			*ep = e->next;
			free(e);
			break;
		}
	nclients--;
	user_put(c->owner);
	sio_socket_set_data(c->sock, NULL);
	cJSON_Delete(c->user);
	cJSON_free(c->user_json);
	free(c->user_id);
	free(c);
}

void
clients_foreach(struct gateway *gw, void (*fn)(struct client *, void *),
    void *arg)
{
	for (unsigned b = 0; b < CLIENT_BUCKETS; b++) {
		struct client *c, *next;

		/* fn may make the client go (kick). */
		for (c = by_conn[b]; c != NULL; c = next) {
			next = c->hnext;
			fn(c, arg);
		}
	}
}
