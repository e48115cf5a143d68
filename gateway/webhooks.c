/*
 * webhooks.c - what happened in the calls, told to the CoUp app
 * (WEBHOOK_URL): room_started, room_finished (with its duration and peak
 * participants), participant_joined, participant_left (with the reason:
 * left, disconnected, kicked, expired) for video rooms; study_online and
 * study_offline per user for studies.
 *
 * A watcher (watchers.h), registered from main.c when WEBHOOK_URL is set.
 * Each event is one JSON POST, signed: X-CoUp-Signature: t=<unix
 * seconds>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<body>")>, so the app
 * can check who sent it and refuse an old one played again.  They go one
 * at a time, in the order they happened, from the gateway's loop (libcurl
 * multi: never blocking); one the app does not take (not 2xx, down, slow)
 * is tried again after 1, 2, 4 ... 60 s, the others waiting behind it;
 * at most WEBHOOK_QUEUE_MAX wait, the oldest dropped first (counted).
 *
 * In multi-server mode each event is sent by the gateway that owns the
 * change: the member's for participant events, the user's first (or
 * last) connection's for study events; a room is
 * started by the gateway of its first member when no other gateway has
 * members there, and finished by the one whose last member leaves it
 * with none left elsewhere (as the cluster sees it at that moment).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/http_client.h"
#include "clients.h"
#include "config.h"
#include "gateway.h"
#include "ipc.h"
#include "keymap.h"
#include "log.h"
#include "peers.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"
#include "watchers.h"
#include "webhooks.h"
#include "xmalloc.h"

#define BACKOFF_MIN	1.0	/* seconds */
#define BACKOFF_MAX	60.0

struct hook {
	struct hook	*next;
	char		*id;
	char		*event;
	char		*body;
};

/* A call in progress, as this gateway saw it start (started 0: it did
 * not); at its finish, the room_finished being made. */
struct call {
	long long	 started;	/* ms */
	unsigned	 peak;
	cJSON		*room;		/* about(r), at the finish */
};

static struct {
	struct gateway		*gw;
	struct http_client	*http;
	char			*url;
	char			*secret;
	size_t			 max;
	struct hook		*head, *tail;
	size_t			 n;
	struct http_req		*inflight;
	double			 backoff;
	ev_timer		 retry;
	struct keymap		*calls;		/* room name -> struct call */
	unsigned long long	 seq;
	struct webhook_stats	 st;
} wh;

static void	send_head(void);

/* ---------------------------------------------------------------- queue */

static void
hook_free(struct hook *h)
{
	free(h->id);
	free(h->event);
	free(h->body);
	free(h);
}

static void
pop_head(void)
{
	struct hook *h = wh.head;

	wh.head = h->next;
	if (wh.head == NULL)
		wh.tail = NULL;
	wh.n--;
	hook_free(h);
}

/* {id, event, createdAt, ...data}: data is taken. */
static void
enqueue(const char *event, cJSON *data)
{
	struct hook *h = xcalloc(1, sizeof(*h));
	char ts[TIMESTAMP_ISO_LEN];

	h->id = xasprintf("wh_%lld_%llu", timestamp_now_ms(), ++wh.seq);
	h->event = xstrdup(event);
	timestamp_iso_from_ms(ts, timestamp_now_ms());
	cJSON_AddStringToObject(data, "id", h->id);
	cJSON_AddStringToObject(data, "event", event);
	cJSON_AddStringToObject(data, "createdAt", ts);
	h->body = cJSON_PrintUnformatted(data);
	cJSON_Delete(data);
	if (wh.n == wh.max) {
		/* Full: the oldest goes, even one being tried (its answer,
		 * if it comes, is then for nobody). */
		if (wh.inflight != NULL) {
			http_cancel(wh.inflight);
			wh.inflight = NULL;
		}
		ev_timer_stop(wh.gw->loop, &wh.retry);
		pop_head();
		wh.st.dropped++;
		if (wh.st.dropped == 1 || wh.st.dropped % 1000 == 0)
			log_warnx("webhooks: %llu dropped so far: %s does not "
			    "take them and WEBHOOK_QUEUE_MAX (%zu) are waiting",
			    wh.st.dropped, wh.url, wh.max);
	}
	if (wh.tail != NULL)
		wh.tail->next = h;
	else
		wh.head = h;
	wh.tail = h;
	wh.n++;
	wh.st.queued++;
	if (wh.inflight == NULL && !ev_is_active(&wh.retry))
		send_head();
}

/* ---------------------------------------------------------------- sending */

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	send_head();
}

static void
on_sent(void *arg, const struct http_result *res)
{
	(void)arg;
	wh.inflight = NULL;
	if (res->answered && res->status >= 200 && res->status <= 299) {
		wh.st.sent++;
		wh.backoff = 0;
		pop_head();
		if (wh.head != NULL)
			send_head();
		return;
	}
	wh.st.failures++;
	wh.backoff = wh.backoff == 0 ? BACKOFF_MIN : wh.backoff * 2;
	if (wh.backoff > BACKOFF_MAX)
		wh.backoff = BACKOFF_MAX;
	if (res->answered)
		log_warnx("webhooks: %s answered %ld to %s; trying again in "
		    "%.0f s (%zu waiting)", wh.url, res->status,
		    wh.head->event, wh.backoff, wh.n);
	else
		log_warnx("webhooks: %s: %s; trying again in %.0f s (%zu "
		    "waiting)", wh.url, res->error, wh.backoff, wh.n);
	ev_timer_set(&wh.retry, wh.backoff, 0.);
	ev_timer_start(wh.gw->loop, &wh.retry);
}

/* hex HMAC-SHA256(secret, "<t>.<body>") */
static void
sign(char out[65], long long t, const char *body)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *msg = xasprintf("%lld.%s", t, body);

	if (HMAC(EVP_sha256(), wh.secret, (int)strlen(wh.secret),
	    (const unsigned char *)msg, strlen(msg), mac, &len) == NULL)
		len = 0;
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[2 * (len < 32 ? len : 32)] = '\0';
	free(msg);
}

static void
send_head(void)
{
	struct hook *h = wh.head;
	long long t = (long long)time(NULL);
	char mac[65], *sig, *ev, *id;
	int timeout = (int)config_int(&wh.gw->cfg, CFG_AUTH_TIMEOUT_MS);

	if (h == NULL || wh.inflight != NULL)
		return;
	sign(mac, t, h->body);
	sig = xasprintf("X-CoUp-Signature: t=%lld,v1=%s", t, mac);
	ev = xasprintf("X-CoUp-Event: %s", h->event);
	id = xasprintf("X-CoUp-Delivery: %s", h->id);
	wh.inflight = http_post_with_headers(wh.http, wh.url,
	    (const char *const[]){ sig, ev, id, NULL }, h->body, timeout,
	    on_sent, NULL);
	free(sig);
	free(ev);
	free(id);
	if (wh.inflight == NULL) {
		/* Cannot even be made: as if refused. */
		struct http_result res = { 0, 0, "", 0, "cannot send", 0 };

		on_sent(NULL, &res);
	}
}

/* ---------------------------------------------------------------- events */

static cJSON *
participant(const struct client *c)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "socketId", sio_socket_id(c->sock));
	cJSON_AddStringToObject(p, "userId", c->user_id);
	cJSON_AddItemToObject(p, "user", cJSON_Duplicate(c->user, 1));
	return p;
}

static cJSON *
about(const struct room *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "room", r->name);
	cJSON_AddStringToObject(o, r->kind == ROOM_VIDEO ? "roomId" :
	    "studyId", r->id);
	return o;
}

/* Members of the call now, here and elsewhere. */
static unsigned
members(struct room *r)
{
	return r->count + peers_remote_count(wh.gw, r->name);
}

static void
on_joined(void *ctx, struct membership *m, int first)
{
	struct room *r = m->room;
	struct client *c = m->client;
	size_t n = strlen(r->name);
	struct call *call;
	cJSON *o;

	(void)ctx;
	if (r->kind == ROOM_STUDY) {
		/* Online is the user's first connection in the study here
		 * and on every other gateway. */
		if (first && !peers_has_user(wh.gw, r->name, c->user_id)) {
			o = about(r);
			cJSON_AddStringToObject(o, "userId", c->user_id);
			cJSON_AddItemToObject(o, "user",
			    cJSON_Duplicate(c->user, 1));
			enqueue("study_online", o);
		}
		return;
	}
	if ((call = keymap_get(wh.calls, r->name, n)) == NULL &&
	    members(r) == 1) {
		call = xcalloc(1, sizeof(*call));
		call->started = timestamp_now_ms();
		keymap_put(wh.calls, r->name, n, call);
		enqueue("room_started", about(r));
	}
	if (call != NULL && members(r) > call->peak)
		call->peak = members(r);
	/* Shared, for whichever gateway finishes the call. */
	if (peers_active(wh.gw))
		peers_call_joined(wh.gw, r->name, members(r));
	o = about(r);
	cJSON_AddItemToObject(o, "participant", participant(c));
	cJSON_AddNumberToObject(o, "participants", members(r));
	enqueue("participant_joined", o);
}

/* The call's start and peak as the cluster had them (started 0: not
 * known there), with ours: room_finished. */
static void
on_call_info(void *arg, long long started, unsigned peak)
{
	struct call *call = arg;
	cJSON *o = call->room;

	if (wh.url == NULL) {		/* stopped meanwhile */
		cJSON_Delete(o);
		free(call);
		return;
	}
	if (started == 0 || (call->started != 0 && call->started < started))
		started = call->started;
	if (call->peak > peak)
		peak = call->peak;
	if (started != 0) {
		cJSON_AddNumberToObject(o, "durationMs",
		    (double)(timestamp_now_ms() - started));
		cJSON_AddNumberToObject(o, "peakParticipants", peak);
	}
	free(call);
	enqueue("room_finished", o);
}

static const char *
reason_name(int reason, const char *why)
{
	switch (reason) {
	case IPC_LEAVE_KICKED:
		return "kicked";
	case IPC_LEAVE_DISCONNECT:
		if (why != NULL && strncmp(why, "session expired", 15) == 0)
			return "expired";
		if (why != NULL && strncmp(why, "kicked", 6) == 0)
			return "kicked";
		return "disconnected";
	default:
		return "left";
	}
}

static void
on_left(void *ctx, struct room *r, struct client *c, int reason,
    const char *why, int last)
{
	size_t n = strlen(r->name);
	struct call *call;
	cJSON *o;

	(void)ctx;
	if (r->kind == ROOM_STUDY) {
		if (last && !peers_has_user(wh.gw, r->name, c->user_id)) {
			o = about(r);
			cJSON_AddStringToObject(o, "userId", c->user_id);
			cJSON_AddStringToObject(o, "reason",
			    reason_name(reason, why));
			enqueue("study_offline", o);
		}
		return;
	}
	o = about(r);
	cJSON_AddItemToObject(o, "participant", participant(c));
	cJSON_AddStringToObject(o, "reason", reason_name(reason, why));
	cJSON_AddNumberToObject(o, "participants", members(r));
	enqueue("participant_left", o);
	if (members(r) > 0)
		return;
	call = keymap_get(wh.calls, r->name, n);
	if (call != NULL)
		keymap_remove(wh.calls, r->name, n);
	else
		call = xcalloc(1, sizeof(*call));	/* started elsewhere */
	call->room = about(r);
	if (peers_active(wh.gw) &&
	    peers_call_finished(wh.gw, r->name, on_call_info, call) == 0)
		return;		/* on_call_info sends it */
	on_call_info(call, 0, 0);
}

/* ---------------------------------------------------------------- start */

static const struct watcher watcher = { on_joined, on_left, NULL };

void
webhooks_start(struct gateway *gw)
{
	const char *url = config_str(&gw->cfg, CFG_WEBHOOK_URL);

	if (url == NULL)
		return;
	wh.gw = gw;
	wh.url = xstrdup(url);
	wh.secret = xstrdup(config_str(&gw->cfg, CFG_WEBHOOK_SECRET));
	wh.max = (size_t)config_int(&gw->cfg, CFG_WEBHOOK_QUEUE_MAX);
	wh.http = http_client_new(gw->loop, 64 * 1024);
	wh.calls = keymap_new();
	ev_init(&wh.retry, on_retry);
	watchers_register(&watcher);
	if (*wh.secret == '\0')
		log_warnx("webhooks: WEBHOOK_SECRET is empty: the app cannot "
		    "tell our webhooks from anyone's");
	log_info("webhooks to %s", wh.url);
}

const struct webhook_stats *
webhooks_stats(void)
{
	return wh.url != NULL ? &wh.st : NULL;
}

size_t
webhooks_waiting(void)
{
	return wh.n;
}

void
webhooks_stop(void)
{
	if (wh.url == NULL)
		return;
	ev_timer_stop(wh.gw->loop, &wh.retry);
	http_client_free(wh.http);	/* the one in flight with it */
	wh.inflight = NULL;
	if (wh.n > 0)
		log_warnx("webhooks: %zu not sent at exit", wh.n);
	while (wh.head != NULL)
		pop_head();
	keymap_free(wh.calls, free);
	free(wh.url);
	if (wh.secret != NULL)
		explicit_bzero(wh.secret, strlen(wh.secret));
	free(wh.secret);
	memset(&wh, 0, sizeof(wh));
}
