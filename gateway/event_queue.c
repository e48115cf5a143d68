/*
 * event_queue.c - a socket's events kept for later: held ones (waiting for
 * the CoUp API or the cluster) and queued ones (behind a held one), so
 * that each socket's events are handled in the order it sent them.
 *
 * What is kept is what the client sent (the packet's JSON text, which
 * parsed once, and its attachments); the event is parsed anew when its
 * turn comes, and its client found again by connection id, since it may
 * have gone meanwhile.  A socket's queue is bounded (bytes as its send
 * queue, events as its rate limit's burst); what is queued is handled
 * from the loop once nothing of the socket is in flight, never from
 * inside the callback that ended the last one.
 */
#include <stdlib.h>
#include <string.h>

#include "event_queue.h"
#include "log.h"
#include "ratelimit.h"
#include "rooms.h"
#include "xmalloc.h"

static struct {
	struct gateway	*gw;
	void		(*dispatch)(struct client *, const struct sio_event *);
	ev_timer	 timer;		/* drains, the next iteration */
	uint64_t	*conns;		/* clients to drain */
	size_t		 n, cap;
} eq;

/* ---------------------------------------------------------------- copies */

void
held_save(struct held_event *h, struct gateway *gw, uint64_t conn,
    const struct sio_event *ev)
{
	int nb = ev->bins != NULL ? ev->bins->n : 0;

	memset(h, 0, sizeof(*h));
	h->gw = gw;
	h->conn = conn;
	h->ack = ev->ack_id;
	h->json_len = ev->json_len;
	h->json = xmalloc(ev->json_len + 1);
	memcpy(h->json, ev->json, ev->json_len);
	h->json[ev->json_len] = '\0';
	if (nb == 0)
		return;
	h->nbins = nb;
	h->bin = xcalloc((size_t)nb, sizeof(*h->bin));
	h->binlen = xcalloc((size_t)nb, sizeof(*h->binlen));
	for (int i = 0; i < nb; i++) {
		h->binlen[i] = ev->bins->len[i];
		h->bin[i] = xmalloc(h->binlen[i] + 1);
		memcpy(h->bin[i], ev->bins->data[i], h->binlen[i]);
	}
}

size_t
held_size(const struct held_event *h)
{
	size_t n = h->json_len;

	for (int i = 0; i < h->nbins; i++)
		n += h->binlen[i];
	return n;
}

int
held_load(struct held_event *h, struct sio_event *ev, struct sio_bins *bins,
    const uint8_t **data, size_t *len, struct client **cp)
{
	struct client *c = client_find(h->gw, h->conn);
	cJSON *args, *name;

	if (c == NULL)
		return -1;
	/* Text that parsed once (softened by json.h): it parses again. */
	if ((args = cJSON_ParseWithLength(h->json, h->json_len)) == NULL ||
	    (name = cJSON_GetArrayItem(args, 0)) == NULL ||
	    !cJSON_IsString(name))
		fatalx("event_queue: a kept event no longer parses");
	memset(ev, 0, sizeof(*ev));
	ev->name = name->valuestring;	/* stays in args until unload */
	ev->args = args;		/* [name, ...]: see held_unload */
	ev->json = h->json;
	ev->json_len = h->json_len;
	ev->ack_id = h->ack;
	for (int i = 0; i < h->nbins; i++) {
		data[i] = h->bin[i];
		len[i] = h->binlen[i];
	}
	bins->n = h->nbins;
	bins->data = data;
	bins->len = len;
	ev->bins = h->nbins > 0 ? bins : NULL;
	*cp = c;
	return 0;
}

void
held_unload(struct sio_event *ev)
{
	cJSON_Delete(ev->args);
	ev->args = NULL;
}

void
held_clear(struct held_event *h)
{
	for (int i = 0; i < h->nbins; i++)
		free(h->bin[i]);
	free(h->bin);
	free(h->binlen);
	free(h->json);
	h->json = NULL;
	h->nbins = 0;
}

/* ---------------------------------------------------------------- order */

int
equeue_must_wait(const struct client *c)
{
	return c->eq.busy > 0 || c->eq.head != NULL;
}

int
equeue_push(struct client *c, const struct sio_event *ev)
{
	size_t max_bytes = (size_t)config_int(&c->gw->cfg, CFG_SEND_QUEUE_MAX);
	unsigned max_count = RATE_BURST *
	    (unsigned)config_int(&c->gw->cfg, CFG_RATE_LIMIT_EVENTS);
	struct held_event *h;

	if (c->eq.count >= max_count ||
	    c->eq.bytes + ev->json_len > max_bytes)
		return -1;
	h = xmalloc(sizeof(*h));
	held_save(h, c->gw, c->conn, ev);
	h->next = NULL;
	if (c->eq.tail != NULL)
		c->eq.tail->next = h;
	else
		c->eq.head = h;
	c->eq.tail = h;
	c->eq.count++;
	c->eq.bytes += held_size(h);
	return 0;
}

static struct held_event *
pop(struct client *c)
{
	struct held_event *h = c->eq.head;

	if (h == NULL)
		return NULL;
	if ((c->eq.head = h->next) == NULL)
		c->eq.tail = NULL;
	c->eq.count--;
	c->eq.bytes -= held_size(h);
	return h;
}

void
equeue_clear(struct client *c)
{
	struct held_event *h;

	while ((h = pop(c)) != NULL) {
		held_clear(h);
		free(h);
	}
}

void
equeue_hold(struct client *c)
{
	c->eq.busy++;
}

/* Handle what waits for one client, until one of its events goes into
 * flight again (or the client goes). */
static void
drain(uint64_t conn)
{
	const uint8_t *data[BOUND_ATTACHMENTS];
	size_t len[BOUND_ATTACHMENTS];
	struct sio_bins bins;
	struct client *c;

	while ((c = client_find(eq.gw, conn)) != NULL && c->eq.busy == 0 &&
	    c->eq.head != NULL) {
		struct held_event *h = pop(c);
		struct sio_event ev;
		struct client *owner;
		cJSON *name;

		if (held_load(h, &ev, &bins, data, len, &owner) == 0) {
			/* dispatch wants the args after the name. */
			name = cJSON_DetachItemFromArray(ev.args, 0);
			ev.name = name->valuestring;
			eq.dispatch(owner, &ev);
			cJSON_Delete(name);
			held_unload(&ev);
		}
		held_clear(h);
		free(h);
	}
	if (c != NULL)
		c->eq.scheduled = 0;
}

static void
on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Drains may schedule more (a client whose next event is held and
	 * done at once): take the list first. */
	uint64_t *conns = eq.conns;
	size_t n = eq.n;

	eq.conns = NULL;
	eq.n = eq.cap = 0;
	for (size_t i = 0; i < n; i++)
		drain(conns[i]);
	free(conns);
}

void
equeue_release(struct gateway *gw, uint64_t conn)
{
	struct client *c = client_find(gw, conn);

	if (c == NULL || c->eq.busy == 0)
		return;
	if (--c->eq.busy > 0 || c->eq.head == NULL || c->eq.scheduled)
		return;
	if (eq.n == eq.cap) {
		eq.cap = eq.cap ? eq.cap * 2 : 16;
		eq.conns = xreallocarray(eq.conns, eq.cap, sizeof(*eq.conns));
	}
	eq.conns[eq.n++] = conn;
	c->eq.scheduled = 1;
	if (!ev_is_active(&eq.timer)) {
		ev_timer_set(&eq.timer, 0., 0.);
		ev_timer_start(gw->loop, &eq.timer);
	}
}

void
equeue_init(struct gateway *gw,
    void (*dispatch)(struct client *, const struct sio_event *))
{
	eq.gw = gw;
	eq.dispatch = dispatch;
	ev_init(&eq.timer, on_drain);
}
