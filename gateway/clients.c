/*
 * clients.c - authenticated sockets.
 *
 * Each socket that passed authentication becomes a struct client with a
 * connection id, the number room processes know it by (socket ids are
 * the clients' business; a number is cheap to carry and compare).  Two
 * indexes (hashtab.h, the node in the client) find a client: by
 * connection id (a room process addressing a packet) and by socket id (a
 * relay's `to`).
 */
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "hash.h"
#include "hashtab.h"
#include "keymap.h"
#include "log.h"
#include "peers.h"
#include "replies.h"
#include "rooms.h"
#include "sio_server.h"
#include "xmalloc.h"

/* Both keyed by ids the server made (hashtab.h). */
static struct hashtab by_conn = HASHTAB_INIT;
static struct hashtab by_sid = HASHTAB_INIT;
static uint64_t next_conn = 1;
static unsigned nclients;
/* user id -> struct user, while the user has a connection here. */
static struct keymap *users;

static uint64_t
sid_hash(const char *s)
{
	return hash_u64(hash_str(s));
}

struct client *
client_find(struct gateway *gw, uint64_t conn)
{
	uint64_t h = hash_u64(conn);

	for (struct hnode *n = hashtab_chain(&by_conn, h); n; n = n->next) {
		struct client *c = hashtab_entry(n, struct client, by_conn);

		if (c->conn == conn)
			return c;
	}
	return NULL;
}

struct client *
client_by_socket(struct gateway *gw, const char *socket_id)
{
	uint64_t h = sid_hash(socket_id);

	for (struct hnode *n = hashtab_chain(&by_sid, h); n; n = n->next) {
		struct client *c = hashtab_entry(n, struct client, by_sid);

		if (n->hash == h && strcmp(sio_socket_id(c->sock),
		    socket_id) == 0)
			return c;
	}
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
		u = xcalloc(1, sizeof(*u));
		u->id = xstrdup(id);
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
				u->rooms = xreallocarray(u->rooms, u->cap,
				    sizeof(*u->rooms));
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
static const char *const codes[CLIENT_ERROR_CODES] = ERR_CODES;

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

/* A new struct client for socket s of user (not accepted yet). */
static struct client *
client_make(struct gateway *gw, struct sio_socket *s, const cJSON *user)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
	struct client *c = xcalloc(1, sizeof(*c));

	c->gw = gw;
	c->sock = s;
	c->conn = next_conn++;
	c->user = cJSON_Duplicate(user, 1);	/* xmalloc's hooks: not NULL */
	c->user_json = cJSON_PrintUnformatted(user);
	c->user_id = xstrdup(cJSON_IsString(id) ? id->valuestring : "");
	c->owner = user_get(c->user_id);
	c->rate = (struct rate_bucket)RATE_BUCKET_INIT;
	hashtab_insert(&by_conn, &c->by_conn, hash_u64(c->conn));
	sio_socket_set_data(s, c);
	return c;
}

static void
client_indexed(struct client *c)
{
	hashtab_insert(&by_sid, &c->by_sid, sid_hash(sio_socket_id(c->sock)));
	nclients++;
}

void
client_accepted(struct gateway *gw, struct sio_socket *s, const cJSON *user)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
	struct sio_socket *held = sio_socket_recovering(s);
	struct client *c;
	const char *pid;
	uint64_t offset;

	/* Back after a lost connection: its session is its own only if the
	 * verified user is the session's (a pid is no credential). */
	if (held != NULL && (c = sio_socket_data(held)) != NULL &&
	    cJSON_IsString(id) && strcmp(c->user_id, id->valuestring) == 0 &&
	    sio_recover(s) != NULL) {
		log_info("socket %s: user %s back; session recovered",
		    sio_socket_id(c->sock), c->user_id);
		return;
	}
	/* A session of another gateway's, perhaps: the peers look. */
	if (held == NULL && (pid = sio_socket_pid_asked(s, &offset)) != NULL &&
	    peers_take_over(gw, s, user, pid, offset))
		return;
	client_new(gw, s, user);
}

void
client_new(struct gateway *gw, struct sio_socket *s, const cJSON *user)
{
	struct client *c = client_make(gw, s, user);

	sio_accept(s);
	client_indexed(c);
	if (sio_socket_pid(s) != NULL)
		peers_accepted(gw, c);	/* (an adopted one's peers know) */
	log_debug("socket %s: user %s connected (conn %llu)",
	    sio_socket_id(s), c->user_id, (unsigned long long)c->conn);
}

struct client *
client_adopted(struct gateway *gw, struct sio_socket *s, const cJSON *user,
    const char *sid, const char *pid)
{
	struct client *c;

	if (client_by_socket(gw, sid) != NULL ||
	    sio_adopt(s, sid, pid) < 0)
		return NULL;
	c = client_make(gw, s, user);
	client_indexed(c);
	log_info("socket %s: user %s's session is moving here from another "
	    "gateway", sid, c->user_id);
	return c;
}

void
client_gone(struct client *c, const char *reason)
{
	log_debug("socket %s: user %s gone (%s)", sio_socket_id(c->sock),
	    c->user_id, reason);
	if (c->rooms != NULL || c->checks != NULL)
		fatalx("client_gone: socket %s still in rooms or checks",
		    sio_socket_id(c->sock));
	peers_gone(c->gw, c);
	hashtab_remove(&by_conn, &c->by_conn);
	hashtab_remove(&by_sid, &c->by_sid);
	nclients--;
	user_put(c->owner);
	sio_socket_set_data(c->sock, NULL);
	cJSON_Delete(c->user);
	cJSON_free(c->user_json);
	free(c->user_id);
	free(c);
}

struct each {
	void	(*fn)(struct client *, void *);
	void	*arg;
};

static void
each_one(struct hnode *n, void *arg)
{
	struct each *e = arg;

	e->fn(hashtab_entry(n, struct client, by_conn), e->arg);
}

void
clients_foreach(struct gateway *gw, void (*fn)(struct client *, void *),
    void *arg)
{
	struct each e = { fn, arg };

	/* fn may make the client go (kick): that one only. */
	hashtab_walk(&by_conn, each_one, &e);
}
