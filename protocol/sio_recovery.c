/*
 * sio_recovery.c - connection state recovery, socket.io 4.6's: a socket
 * whose connection was lost (eio_session_lost(): no close frame, no
 * DISCONNECT, a ping timeout) is held, still in its namespace and sent to
 * as ever, for the recovery window; a CONNECT that presents its pid (and
 * the last offset its client saw) takes it back once the application has
 * checked the user, and gets what it missed from the socket's replay
 * buffer (sio_replay.h), which keeps what the client may not have yet:
 * what was sent since the last pong, and all that was sent while held.
 */
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <stdio.h>

#include "hash.h"
#include "log.h"
#include "random_id.h"
#include "sio_internal.h"
#include "xmalloc.h"

/* ---------------------------------------------------- connection recovery */

static void
on_hold_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sio_socket *s = w->data;
	struct sio_server *srv = s->nsp->srv;
	char reason[128];

	(void)loop;
	(void)revents;
	if (s->overflowed)
		srv->rstats.overflowed++;
	else
		srv->rstats.expired++;
	log_info("sio %s: %s; its session is not recovered, it leaves",
	    s->id, s->overflowed ? "missed more than RECOVERY_BUFFER_BYTES "
	    "while away" : "not back within RECOVERY_WINDOW_MS");
	/* "session expired" first: the application tells it from a loss. */
	snprintf(reason, sizeof(reason), "session expired (%s)",
	    s->held_reason ? s->held_reason : "transport close");
	sio_socket_remove(s, reason);
}

static void
hold_end_soon(struct sio_socket *s)
{
	struct ev_loop *loop = s->nsp->srv->loop;

	ev_timer_stop(loop, &s->hold_timer);
	ev_timer_set(&s->hold_timer, 0., 0.);
	ev_timer_start(loop, &s->hold_timer);
}

/* Its connection was lost: keep it, in its namespace, for the window. */
void
sio_recovery_hold(struct sio_socket *s, const char *reason)
{
	struct sio_server *srv = s->nsp->srv;

	sio_client_unlink(s->client, s);
	s->client = NULL;
	s->held = 1;
	s->overflowed = 0;
	s->held_reason = xstrdup(reason);
	sio_acks_fail(s);
	ev_timer_init(&s->hold_timer, on_hold_expired, srv->recovery_window,
	    0.);
	s->hold_timer.data = s;
	ev_timer_start(srv->loop, &s->hold_timer);
	srv->rstats.held++;
	log_info("sio %s: connection lost (%s); held for %.0f ms", s->id,
	    reason, srv->recovery_window * 1000);
}

static struct sio_socket *
pid_find(struct sio_server *srv, const char *pid)
{
	struct hnode *n;
	uint64_t h = hash_str(pid);

	for (n = hashtab_chain(&srv->by_pid, h); n != NULL; n = n->next) {
		struct sio_socket *s = hashtab_entry(n, struct sio_socket,
		    by_pid);

		if (n->hash == h && strcmp(s->pid, pid) == 0)
			return s;
	}
	return NULL;
}

/*
 * A CONNECT's {pid, offset}: the session it asks for, if any.  Held, or
 * still live here: a client that reconnects knows its connection is dead
 * before we may (a long-poll whose connection broke, a WebSocket whose
 * peer vanished without a word); its old connection is let go once the
 * application has checked it is the same user (sio_recover).
 */
/* A pid as we make them: SIO_PID_LEN characters of random_id()'s. */
static int
pid_valid(const char *p)
{
	size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_");

	return n == SIO_PID_LEN && p[n] == '\0';
}

void
sio_recovery_asked(struct sio_socket *s, const cJSON *data)
{
	struct sio_server *srv = s->nsp->srv;
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(data, "pid");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(data, "offset");
	struct sio_socket *held;
	char *end;

	if (srv->recovery_window == 0 || !cJSON_IsString(pid))
		return;
	if (!pid_valid(pid->valuestring)) {
		srv->rstats.refused_unknown++;
		log_info("sio: a reconnection with a pid that is not one of "
		    "ours; a new session");
		return;
	}
	held = pid_find(srv, pid->valuestring);
	if (held != NULL && (held->nsp != s->nsp ||
	    held->recovered_by != NULL)) {
		srv->rstats.refused_unknown++;
		log_info("sio: a reconnection for a session being recovered "
		    "already; a new session");
		return;
	}
	if (held != NULL) {
		s->recover = held;
		held->recovered_by = s;
	} else {	/* another gateway's, perhaps */
		memcpy(s->pid, pid->valuestring, SIO_PID_LEN + 1);
		s->pid_asked = 1;
	}
	s->offset = 0;
	if (off == NULL || cJSON_IsNull(off))
		return;
	if (!cJSON_IsString(off) || off->valuestring[0] < '0' ||
	    off->valuestring[0] > '9' || strlen(off->valuestring) > 20) {
		s->bad_offset = 1;
		return;
	}
	errno = 0;
	s->offset = strtoull(off->valuestring, &end, 10);
	if (*end != '\0' || errno != 0)
		s->bad_offset = 1;
}

struct sio_socket *
sio_socket_recovering(const struct sio_socket *s)
{
	return s->recover;
}

int
sio_socket_held(const struct sio_socket *s)
{
	return s->held;
}

/* Send what a buffer holds, from its i-th entry, on c's connection. */
static void
send_kept(struct client *c, const struct sio_replay *r, size_t from)
{
	for (size_t i = from; i < r->n; i++) {
		const struct sio_out *o = sio_replay_at(r, i)->out;

		if (eio_send(c->eio, o->text) < 0)
			break;
		for (int b = 0; b < o->nbins; b++)
			(void)eio_send(c->eio, o->bins[b]);
	}
}

struct sio_socket *
sio_recover(struct sio_socket *s)
{
	struct sio_server *srv = s->nsp->srv;
	struct sio_socket *held = s->recover;
	struct client *c = s->client;
	long at;

	if (held == NULL)
		return NULL;
	at = s->bad_offset ? -1 : sio_replay_resume_at(&held->replay,
	    s->offset);
	if (at < 0 || held->overflowed) {
		srv->rstats.refused_offset++;
		log_info("sio %s: back, but missed what is no longer kept; "
		    "its session is not recovered", held->id);
		/* The old session ends now, as a disconnect; the client
		 * starts afresh on this one. */
		sio_socket_remove(held, held->held_reason ? held->held_reason :
		    "transport close");
		return NULL;
	}
	/* What the client says it has seen needs no keeping. */
	sio_replay_seen(&held->replay, s->offset);
	/* The held socket takes the new one's place on this connection. */
	s->recover = NULL;
	held->recovered_by = NULL;
	sio_client_unlink(c, s);
	if (!held->held && held->client != NULL) {
		/* Still on its old connection: that one is dead to its
		 * client; what was queued there is in the replay buffer. */
		struct client *old = held->client;

		sio_client_unlink(old, held);
		held->client = NULL;
		sio_acks_fail(held);
		eio_close(old->eio, "transport close");
	}
	sio_unhold(held);
	held->client = c;
	held->cnext = c->sockets;
	c->sockets = held;
	ev_timer_stop(srv->loop, &c->connect_timer);
	free(s);
	srv->rstats.recovered++;
	sio_answer_connect(held, c);
	send_kept(c, &held->replay, 0);
	log_info("sio %s: recovered, %zu missed packets sent again", held->id,
	    held->replay.n);
	return held;
}

const struct sio_recovery_stats *
sio_server_recovery_stats(const struct sio_server *srv)
{
	return &srv->rstats;
}

void
sio_drop_held(struct sio_server *srv, const char *reason)
{
	struct hnode *n, *next;

	hashtab_foreach(&srv->by_pid, n, next) {
		struct sio_socket *s = hashtab_entry(n, struct sio_socket,
		    by_pid);

		if (s->held)
			sio_socket_remove(s, reason);
	}
}

void
sio_recovery_accepted(struct sio_socket *s)
{
	struct sio_server *srv = s->nsp->srv;

	if (s->recover != NULL) {
		/* The application did not give it its old session (another
		 * user's pid, say): that one stays held, this one is new. */
		srv->rstats.refused_user++;
		s->recover->recovered_by = NULL;
		s->recover = NULL;
	} else if (s->pid_asked) {
		srv->rstats.refused_unknown++;
		log_info("sio: a reconnection with an unknown or expired "
		    "session; a new session");
	}
	s->pid_asked = 0;
	s->pid[0] = '\0';
	if (srv->recovery_window > 0) {
		random_id(s->pid, SIO_PID_LEN);
		hashtab_insert(&srv->by_pid, &s->by_pid, hash_str(s->pid));
	}
}

long
sio_socket_missed(const struct sio_socket *s, uint64_t offset,
    sio_missed_cb cb, void *arg)
{
	long at = sio_replay_resume_at(&s->replay, offset);

	if (at < 0)
		return -1;
	for (size_t i = (size_t)at; i < s->replay.n; i++) {
		const struct sio_out *o = sio_replay_at(&s->replay, i)->out;
		const uint8_t *bins[SIO_MAX_ATTACHMENTS];
		size_t blen[SIO_MAX_ATTACHMENTS];
		int nb = o->nbins < SIO_MAX_ATTACHMENTS ? o->nbins :
		    SIO_MAX_ATTACHMENTS;

		for (int b = 0; b < nb; b++) {
			bins[b] = eio_msg_payload(o->bins[b]);
			blen[b] = o->bins[b]->len;
		}
		cb(arg, (const char *)eio_msg_payload(o->text), o->text->len,
		    nb, bins, blen);
	}
	return (long)(s->replay.n - (size_t)at);
}

int
sio_socket_adopting(const struct sio_socket *s)
{
	return s->deferred;
}

const char *
sio_socket_pid(const struct sio_socket *s)
{
	return s->pid[0] != '\0' && !s->pid_asked ? s->pid : NULL;
}

const char *
sio_socket_pid_asked(const struct sio_socket *s, uint64_t *offset)
{
	if (!s->pid_asked || s->bad_offset)
		return NULL;
	*offset = s->offset;
	return s->pid;
}

int
sio_adopt(struct sio_socket *s, const char *sid, const char *pid)
{
	struct sio_server *srv = s->nsp->srv;
	struct client *c = s->client;

	if (s->connected || c == NULL || strlen(sid) != SIO_ID_LEN ||
	    !pid_valid(pid) || pid_find(srv, pid) != NULL)
		return -1;
	memcpy(s->id, sid, SIO_ID_LEN + 1);
	memcpy(s->pid, pid, SIO_PID_LEN + 1);
	s->pid_asked = 0;
	hashtab_insert(&srv->by_pid, &s->by_pid, hash_str(s->pid));
	s->deferred = 1;
	sio_socket_link(s);
	return 0;
}

/* The offset a pre-encoded event carries last: ...,"<digits>"] */
static uint64_t
packet_offset(const char *p, size_t len)
{
	size_t i;
	uint64_t v = 0;

	if (len < 5 || p[len - 1] != ']' || p[len - 2] != '"')
		return 0;
	for (i = len - 2; i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9'; i--)
		;
	if (i < 2 || i == len - 2 || len - 2 - i > 19 || p[i - 1] != '"' ||
	    p[i - 2] != ',')
		return 0;
	for (; i < len - 2; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

void
sio_adopt_finish(struct sio_socket *s, const struct sio_adopted *pk,
    size_t npk)
{
	struct sio_server *srv = s->nsp->srv;
	struct sio_replay queued = s->replay;

	if (!s->deferred)
		return;
	s->deferred = 0;
	sio_answer_connect(s, s->client);
	/* The old gateway's packets first, then what came here while the
	 * session was moving; all kept until a pong, as any. */
	s->replay = (struct sio_replay)SIO_REPLAY_INIT(queued.release);
	for (size_t i = 0; i < npk; i++) {
		struct sio_bins bins = { pk[i].nbins, pk[i].bins, pk[i].blen };
		struct sio_out *o = sio_out_copy(pk[i].text, pk[i].len, &bins);

		o->offset = packet_offset(pk[i].text, pk[i].len);
		if (o->offset != 0)
			sio_recovery_keep(s, o);
		if (eio_send(s->client->eio, o->text) == 0)
			for (int b = 0; b < o->nbins; b++)
				(void)eio_send(s->client->eio, o->bins[b]);
		sio_out_free(o);
	}
	send_kept(s->client, &queued, 0);
	sio_replay_take(&s->replay, &queued, srv->recovery_bytes);
	srv->rstats.recovered++;
	log_info("sio %s: taken over from another gateway; %zu packets from "
	    "it, %zu from here", s->id, npk, s->replay.n >= npk ?
	    s->replay.n - npk : 0);
}

void
sio_recovery_keep(struct sio_socket *s, struct sio_out *o)
{
	struct sio_server *srv = s->nsp->srv;
	uint64_t dropped = s->replay.dropped;

	sio_replay_push(&s->replay, o->offset, sio_out_ref(o), o->bytes,
	    srv->recovery_bytes);
	/* Held, and something it never saw had to go: it cannot be
	 * recovered; it leaves (not from inside a send). */
	if (s->held && s->replay.dropped != dropped && !s->overflowed) {
		s->overflowed = 1;
		hold_end_soon(s);
	}
}

/*
 * The replay buffer of a live socket holds only what may still be on the
 * way: a ping is queued behind everything sent before it, on the same
 * connection, so its pong says the client has all of that.  The buffer
 * of a socket that is not being sent to empties at its next pong.
 */
void
sio_recovery_ping(struct client *c)
{
	for (struct sio_socket *s = c->sockets; s != NULL; s = s->cnext)
		s->ping_mark = s->replay.pushed;
}

void
sio_recovery_pong(struct client *c)
{
	for (struct sio_socket *s = c->sockets; s != NULL; s = s->cnext)
		sio_replay_trim(&s->replay, s->ping_mark);
}
