/*
 * peers.c - the core's side of peers.h: each call goes to the registered
 * observer's hook, or does nothing when none is registered (one server).
 */
#include "gateway.h"
#include "peers.h"

void
peers_register(struct gateway *gw, const struct peer_hooks *h, void *ctx)
{
	gw->peers.hooks = h;
	gw->peers.ctx = ctx;
}

int
peers_active(const struct gateway *gw)
{
	return gw->peers.hooks != NULL;
}

/* Callers ask peers_active() first; without peers the join is local. */
void
peers_admit(struct gateway *gw, struct client *c, const char *room,
    unsigned max, peers_admit_cb cb, void *arg)
{
	if (gw->peers.hooks == NULL)
		cb(arg, PEERS_LOCAL);
	else
		gw->peers.hooks->admit(gw->peers.ctx, c, room, max, cb, arg);
}

unsigned
peers_remote_count(struct gateway *gw, const char *room)
{
	return gw->peers.hooks ?
	    gw->peers.hooks->remote_count(gw->peers.ctx, room) : 0;
}

int
peers_has_member(struct gateway *gw, const char *room, const char *sid)
{
	return gw->peers.hooks ?
	    gw->peers.hooks->has_member(gw->peers.ctx, room, sid) : 0;
}

int
peers_has_user(struct gateway *gw, const char *room, const char *user_id)
{
	return gw->peers.hooks ?
	    gw->peers.hooks->has_user(gw->peers.ctx, room, user_id) : 0;
}

void
peers_event(struct gateway *gw, const char *room, struct client *c,
    int event, int guest, const char *msg_id, const cJSON *payload,
    const char *raw, size_t raw_len, const struct sio_bins *bins)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->event(gw->peers.ctx, room, c, event, guest,
		    msg_id, payload, raw, raw_len, bins);
}

void
peers_member_joined(struct gateway *gw, struct membership *m)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->member_joined(gw->peers.ctx, m);
}

void
peers_member_left(struct gateway *gw, struct room *r, struct client *c,
    int reason)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->member_left(gw->peers.ctx, r, c, reason);
}

void
peers_replay(struct gateway *gw, struct room *r, peers_push_cb push,
    void *arg)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->replay(gw->peers.ctx, r, push, arg);
}

cJSON *
peers_status(struct gateway *gw)
{
	return gw->peers.hooks ? gw->peers.hooks->status(gw->peers.ctx) :
	    NULL;
}

void
peers_prometheus(struct gateway *gw, struct buf *b)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->prometheus(gw->peers.ctx, b);
}

void
peers_accepted(struct gateway *gw, struct client *c)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->accepted(gw->peers.ctx, c);
}

void
peers_gone(struct gateway *gw, struct client *c)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->gone(gw->peers.ctx, c);
}

void
peers_socket_gone(struct gateway *gw, struct sio_socket *s)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->socket_gone(gw->peers.ctx, s);
}

int
peers_take_over(struct gateway *gw, struct sio_socket *s, const cJSON *user,
    const char *pid, uint64_t offset)
{
	return gw->peers.hooks != NULL && gw->peers.hooks->take_over(
	    gw->peers.ctx, s, user, pid, offset);
}

void
peers_call_joined(struct gateway *gw, const char *room, unsigned members)
{
	if (gw->peers.hooks != NULL)
		gw->peers.hooks->call_joined(gw->peers.ctx, room, members);
}

int
peers_call_finished(struct gateway *gw, const char *room, peers_call_cb cb,
    void *arg)
{
	return gw->peers.hooks == NULL ? -1 :
	    gw->peers.hooks->call_finished(gw->peers.ctx, room, cb, arg);
}

void
peers_stop(struct gateway *gw)
{
	const struct peer_hooks *h = gw->peers.hooks;

	if (h == NULL)
		return;
	h->stop(gw->peers.ctx);
	gw->peers.hooks = NULL;
	gw->peers.ctx = NULL;
}
