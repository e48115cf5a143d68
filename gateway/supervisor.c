/*
 * supervisor.c - the room processes: start, watch, restart, retire.
 *
 * One coup-roomd per live room, started with fork + exec on the room's
 * first join, its end of a SOCK_SEQPACKET socketpair on IPC_CHILD_FD.
 * Until it says HELLO (and whenever it is being replaced) what the room
 * should hear waits in the child's pending queue, bounded, and goes out in
 * order once it is ready.  Messages sent to a running process are kept
 * until it reports them PROCESSED, so a process that dies does not take
 * unhandled events with it: its replacement gets the room's members again
 * (as silent replays, so nobody sees them leave and come back), then
 * everything it had not handled, then what arrived meanwhile.
 *
 * ROOM_SPARES processes are started ahead of need ("coup-roomd --spare"):
 * a new room, or a room whose process died, takes one that has already
 * said HELLO, so its first join waits for no fork, exec or dynamic
 * linking; the pool is topped up a few milliseconds later.  A spare
 * learns its room from ROOM_OPEN like any process and then shows the
 * room's name in ps(1).
 *
 * A process that dies soon after starting, again and again, is throttled
 * (growing delays) and after ROOM_START_ATTEMPTS tries its room is given
 * up: its members get ROOM_UNAVAILABLE, and joins are refused for a
 * while, instead of a crash loop.  We trust no child: a malformed message
 * or one that stops reading is killed; nothing it does can stop us.
 *
 * A message a process dies on must not kill its successors too: after a
 * death the successor is on probation, and gets what is resent one
 * message at a time (the next once the last is PROCESSED), so a second
 * death names the one message it died on.  A message that was in hand at
 * POISON_TRIES deaths is dropped, its sender told INTERNAL, and the room
 * lives on for everyone else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconfig.h"
#include "bounds.h"
#include "cluster.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "log.h"
#include "replies.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"

/* Bytes that may wait for a running child before it counts as stuck. */
#define CHILD_SENDQ_MAX		(16u * 1024 * 1024)
/* Bytes that may wait while a child is (re)starting. */
#define CHILD_PENDING_MAX	(16u * 1024 * 1024)
/* A child that has not said HELLO by then is stuck. */
#define CHILD_HELLO_SECS	5.0
/* Dying within this many seconds of starting counts as failing to start. */
#define CHILD_QUICK_DEATH_SECS	5.0
/* Tries before a room is given up, and how long joins are then refused. */
#define ROOM_START_ATTEMPTS	3
#define ROOM_COOLDOWN_SECS	10.0
/* Deaths with a message in hand (sent, not PROCESSED) that make it poison:
 * the first may be anyone's (a kill -9, a batch in flight), the second,
 * on probation, is that message's alone. */
#define POISON_TRIES		2
#define COOLDOWNS		32
/*
 * A taken spare is replaced this long after: the room that took it is
 * still answering its first join, and a new process's exec and dynamic
 * linking would compete with it for the CPU.
 */
#define SPARE_REFILL_DELAY	0.005
/* A spare's title space: a room's name, with room to spare. */
#define SPARE_TITLE_SPACE	(BOUND_ROOM_NAME + 26)

enum child_state {
	C_STARTING,	/* forked, waiting for HELLO */
	C_READY,
	C_WAITING,	/* dead, restart scheduled */
	C_RETIRING,	/* told to exit; the room is gone */
};

/* A message kept for (re)sending. */
struct qmsg {
	struct qmsg	*next;
	uint16_t	 type;
	uint8_t		 replay;	/* a JOIN we made up for a restart */
	uint8_t		 resent;	/* to a successor, on probation */
	uint8_t		 tries;		/* deaths it was in hand at */
	uint32_t	 seq;		/* once sent */
	uint64_t	 conn;		/* JOIN/LEAVE/EVENT: whose */
	child_done_cb	 done;		/* told once processed, or not */
	void		*done_arg;
	size_t		 len;
	uint8_t		 body[];
};

struct qlist {
	struct qmsg	*head, *tail;
	size_t		 bytes;
};

struct child {
	struct supervisor	*sup;
	struct room		*room;		/* NULL once retiring */
	char			*name;
	pid_t			 pid;
	struct ipc_chan		*chan;
	enum child_state	 state;
	struct qlist		 pending;	/* not yet sent */
	struct qlist		 unacked;	/* sent, not yet PROCESSED */
	ev_child		 reaper;
	int			 reaped;	/* waiting for EOF to finish */
	int			 status;	/* from waitpid */
	ev_timer		 timer;		/* HELLO timeout / restart */
	double			 spawned_at;
	int			 quick_deaths;
	unsigned		 restarts;
	int			 asked_restart;	/* an admin's, not a crash */
	int			 probation;	/* resending one at a time */
	int			 spare;		/* no room yet */
	struct child		*next;
};

struct cooldown {
	char		 name[BOUND_ROOM_NAME + 1];	/* the whole name */
	double		 until;
};

struct supervisor {
	struct gateway		*gw;
	char			*roomd;		/* binary */
	struct child		*children;
	struct child		*spares;	/* starting, ready or retiring */
	ev_timer		 refill;	/* tops the spares up */
	int			 spare_fails;	/* quick deaths in a row */
	double			 spares_paused_until;
	struct cooldown		 cool[COOLDOWNS];
	unsigned		 ncool;
	struct supervisor_stats	 st;
};

static void	spawn(struct child *);
static void	child_free(struct child *);
static void	child_died(struct child *);
static void	spare_died(struct child *);
static struct child *take_spare(struct supervisor *);
static void	schedule_refill(struct supervisor *, double);
static void	blame_unacked(struct child *);

/* ---------------------------------------------------------------- queues */

static struct qmsg *
qmsg_new(uint16_t type, const void *body, size_t len)
{
	struct qmsg *q = calloc(1, sizeof(*q) + len);

	if (q == NULL)
		fatal("calloc");
	q->type = type;
	q->len = len;
	memcpy(q->body, body, len);
	if ((type == IPC_JOIN || type == IPC_LEAVE || type == IPC_EVENT) &&
	    len >= 8) {
		struct ipc_reader r;

		ipc_reader_init(&r, body, len);
		q->conn = ipc_get_u64(&r);
	}
	return q;
}

static void
q_push(struct qlist *l, struct qmsg *q)
{
	q->next = NULL;
	if (l->tail)
		l->tail->next = q;
	else
		l->head = q;
	l->tail = q;
	l->bytes += q->len;
}

static struct qmsg *
q_pop(struct qlist *l)
{
	struct qmsg *q = l->head;

	if (q == NULL)
		return NULL;
	l->head = q->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->bytes -= q->len;
	return q;
}

static void
qmsg_free(struct qmsg *q, int processed)
{
	if (q->done != NULL)
		q->done(q->done_arg, processed);
	free(q);
}

/* Drop every message; whoever waits on one learns it was not handled. */
static void
q_clear(struct qlist *l)
{
	struct qmsg *q;

	while ((q = q_pop(l)) != NULL)
		qmsg_free(q, 0);
}

/* ---------------------------------------------------------------- bodies */

static void
room_open_body(struct child *c, struct buf *b)
{
	struct ipc_room_open o = { ipc_str(c->name), (uint8_t)log_level_current };

	if (ipc_put_room_open(b, &o) < 0)
		fatalx("room %s: a name over its bounds", c->name);
}

static int
queued_join(const struct qlist *l, uint64_t conn)
{
	for (const struct qmsg *q = l->head; q != NULL; q = q->next)
		if (q->type == IPC_JOIN && !q->replay && q->conn == conn)
			return 1;
	return 0;
}

/* Members on other gateways (multi-server mode), replayed likewise. */
struct replay_list {
	struct qlist	*fresh;
	struct qlist	*old;
};

static void
replay_remote(void *arg, uint64_t conn, const void *body, size_t len)
{
	struct replay_list *rl = arg;
	struct qmsg *q;

	if (queued_join(rl->old, conn))
		return;
	q = qmsg_new(IPC_JOIN, body, len);
	q->replay = 1;
	q_push(rl->fresh, q);
}

/*
 * What a new process must hear, in order: its room; the members it would
 * have known (whose JOIN is not itself waiting to be resent) as silent
 * replays; then every message the old one had not processed, then every
 * message not yet sent.
 */
static void
rebuild_pending(struct child *c)
{
	struct qlist old = { NULL, NULL, 0 }, fresh = { NULL, NULL, 0 };
	struct qmsg *q;
	struct buf b = BUF_INIT;

	/* old = unacked then pending, minus what we make up anew. */
	while ((q = q_pop(&c->unacked)) != NULL)
		q_push(&old, q);
	while ((q = q_pop(&c->pending)) != NULL)
		q_push(&old, q);

	room_open_body(c, &b);
	q_push(&fresh, qmsg_new(IPC_ROOM_OPEN, b.data, b.len));
	for (unsigned i = 0; c->room && i < c->room->count; i++) {
		struct membership *m = c->room->members[i];
		struct client *cl = m->client;

		if (queued_join(&old, cl->conn))
			continue;
		buf_reset(&b);
		room_join_body(&b, m, IPC_M_REPLAY);
		q = qmsg_new(IPC_JOIN, b.data, b.len);
		q->replay = 1;
		q->tries = m->replay_tries;	/* made anew, blamed the same */
		q_push(&fresh, q);
	}
	if (c->room != NULL) {
		struct replay_list rl = { &fresh, &old };

		cluster_replay(c->room, replay_remote, &rl);
	}
	buf_free(&b);
	while ((q = q_pop(&old)) != NULL) {
		if (q->type == IPC_ROOM_OPEN || q->replay)
			free(q);
		else
			q_push(&fresh, q);
	}
	/* All of it goes on probation (one at a time), what comes after not. */
	for (q = fresh.head; q != NULL; q = q->next)
		q->resent = 1;
	c->probation = 1;
	c->pending = fresh;
}

/*
 * Probation is over once everything resent has been PROCESSED: the
 * successor survived all its predecessor had in hand, so no member's
 * replay is suspect any longer.
 */
static void
probation_check(struct child *c)
{
	if (!c->probation || c->unacked.head != NULL ||
	    (c->pending.head != NULL && c->pending.head->resent))
		return;
	c->probation = 0;
	for (unsigned i = 0; c->room != NULL && i < c->room->count; i++)
		c->room->members[i]->replay_tries = 0;
	log_debug("room %s: process %d has caught up", c->name, (int)c->pid);
}

/* ---------------------------------------------------------------- sending */

/*
 * Nothing more goes to this process: what comes for the room waits for
 * its successor.  Once it is also reaped, its death is handled.
 */
static void
chan_gone(struct child *c)
{
	if (c->chan != NULL) {
		ipc_chan_free(c->chan);
		c->chan = NULL;
	}
	if (c->state == C_READY || c->state == C_STARTING)
		c->state = C_WAITING;
	if (c->reaped)
		child_died(c);
}

static void
kill_child(struct child *c, const char *why)
{
	if (c->pid <= 0)
		return;
	log_warnx("room %s: killing its process %d: %s", c->name, (int)c->pid,
	    why);
	c->sup->st.killed++;
	/* Reaped already (we were reading its last words): its pid may
	 * belong to someone else by now. */
	if (!c->reaped)
		kill(c->pid, SIGKILL);
	chan_gone(c);
}

/* Send one message now; keep it until PROCESSED.  -1: child stuck. */
static int
send_now(struct child *c, struct qmsg *q)
{
	long long seq;

	if (c->chan == NULL)
		return -1;
	seq = ipc_send(c->chan, q->type, q->body, q->len);
	if (seq < 0)
		return -1;
	q->seq = (uint32_t)seq;
	/* Never resent: a successor gets its room and level in ROOM_OPEN.
	 * ROOM_OPEN is kept until PROCESSED all the same (and dropped by a
	 * rebuild): on probation nothing follows it before then, so a
	 * process that dies on its room never blames a member's JOIN. */
	if (q->type == IPC_EXIT || q->type == IPC_LOG_LEVEL)
		qmsg_free(q, 1);
	else
		q_push(&c->unacked, q);
	return 0;
}

static void
flush_pending(struct child *c)
{
	struct qmsg *q;

	probation_check(c);
	while (c->state == C_READY && c->pending.head != NULL) {
		/* On probation one message is in hand at a time: a death
		 * then names the message it died on. */
		if (c->probation && c->unacked.head != NULL)
			return;
		q = q_pop(&c->pending);
		if (send_now(c, q) < 0) {
			/* Put it back first: the restart resends it. */
			q->next = c->pending.head;
			c->pending.head = q;
			if (c->pending.tail == NULL)
				c->pending.tail = q;
			c->pending.bytes += q->len;
			kill_child(c, "its channel is full or closed");
			return;
		}
	}
}

int
child_send(struct child *c, uint16_t type, const void *body, size_t len)
{
	return child_send_cb(c, type, body, len, NULL, NULL);
}

int
child_send_cb(struct child *c, uint16_t type, const void *body, size_t len,
    child_done_cb done, void *arg)
{
	struct qmsg *q;

	if (c == NULL || c->state == C_RETIRING)
		return -1;
	if (c->pending.bytes + len > CHILD_PENDING_MAX) {
		log_warnx("room %s: %zu bytes wait for its process; refusing "
		    "more", c->name, c->pending.bytes);
		return -1;
	}
	q = qmsg_new(type, body, len);
	q->done = done;
	q->done_arg = arg;
	/* Behind whatever waits (a process starting, or on probation). */
	q_push(&c->pending, q);
	flush_pending(c);
	return 0;
}

/* ---------------------------------------------------------------- receiving */

static void
on_processed(struct child *c, const struct ipc_msg *msg)
{
	struct ipc_processed p;
	struct qmsg *q;
	uint32_t upto;

	if (ipc_get_processed(msg->body, msg->len, &p) < 0) {
		kill_child(c, "malformed PROCESSED");
		return;
	}
	upto = p.seq;

	/* Sequence numbers only grow within one process's life. */
	while ((q = c->unacked.head) != NULL && q->seq <= upto)
		qmsg_free(q_pop(&c->unacked), 1);
	if (c->probation)
		flush_pending(c);	/* the next one */
}

/* "5<n>-[" with n the attachments that come with it. */
static int
binary_head_ok(const char *t, size_t len, unsigned n)
{
	char head[16];
	int k = snprintf(head, sizeof(head), "5%u-[", n);

	return k > 0 && (size_t)k <= len && memcmp(t, head, (size_t)k) == 0;
}

/* "Send this packet to these connections" (contract: encoded once). */
static int
on_send(struct child *c, const struct ipc_msg *msg)
{
	struct gateway *gw = c->sup->gw;
	const uint8_t *data[BOUND_ATTACHMENTS];
	size_t len[BOUND_ATTACHMENTS];
	struct sio_bins bins = { 0, data, len };
	struct ipc_send_msg s;
	struct sio_out *out;
	const char *t;

	if (ipc_get_send(msg->body, msg->len, &s) < 0)
		return -1;
	/* Only EVENTs on "/" may come from a room: "2[", or "5<n>-[" for
	 * one with n attachments, after Engine.IO's message type. */
	t = s.packet.p;
	if (s.bins.n == 0 ? (s.packet.len < 3 || t[0] != '2' || t[1] != '[') :
	    !binary_head_ok(t, s.packet.len, s.bins.n))
		return -1;
	bins.n = s.bins.n;
	for (unsigned i = 0; i < s.bins.n; i++) {
		data[i] = (const uint8_t *)s.bins.bin[i].p;
		len[i] = s.bins.bin[i].len;
	}
	out = sio_out_packet(s.packet.p, s.packet.len, &bins);
	for (uint32_t i = 0; i < s.n; i++) {
		struct client *cl = client_find(gw, ipc_send_conn(&s, i));

		/* Gone or moved on meanwhile: not the child's fault. */
		if (cl == NULL || c->room == NULL ||
		    room_membership(c->room, cl) == NULL)
			continue;
		sio_send(cl->sock, out);
	}
	sio_out_free(out);
	return 0;
}

static void
on_hello(struct child *c, const struct ipc_msg *msg)
{
	struct ipc_hello h;
	struct ipc_reader r;
	double ms;

	if (ipc_get_hello(msg->body, msg->len, &h) < 0 ||
	    h.version != IPC_VERSION || (pid_t)h.pid != c->pid) {
		/* Another version's HELLO may be longer: its version first. */
		ipc_reader_init(&r, msg->body, msg->len);
		kill_child(c, ipc_get_u32(&r) != IPC_VERSION ?
		    "it speaks another IPC version (a mixed install?)" :
		    "malformed HELLO");
		return;
	}
	ev_timer_stop(c->sup->gw->loop, &c->timer);
	c->state = C_READY;
	ms = (timestamp_mono() - c->spawned_at) * 1000;
	c->sup->st.start_ms_last = ms;
	if (ms > c->sup->st.start_ms_max)
		c->sup->st.start_ms_max = ms;
	log_debug("room %s: process %d ready in %.2f ms", c->name,
	    (int)c->pid, ms);
	flush_pending(c);
}

static void
on_message(struct ipc_chan *chan, const struct ipc_msg *msg, void *arg)
{
	struct child *c = arg;

	if (c->state == C_STARTING && msg->type != IPC_HELLO) {
		kill_child(c, "it did not start with HELLO");
		return;
	}
	switch (msg->type) {
	case IPC_HELLO:
		if (c->state == C_RETIRING)
			return;		/* told to exit before it greeted us */
		if (c->state != C_STARTING) {
			kill_child(c, "HELLO twice");
			return;
		}
		on_hello(c, msg);
		return;
	case IPC_SEND:
		if (on_send(c, msg) < 0)
			kill_child(c, "malformed SEND");
		return;
	case IPC_PROCESSED:
		on_processed(c, msg);
		return;
	default:
		kill_child(c, "unexpected message type");
		return;
	}
}

static void
on_chan_error(struct ipc_chan *chan, const char *why, void *arg)
{
	struct child *c = arg;

	if (why != NULL) {
		kill_child(c, why);
		return;
	}
	/* EOF: the process is going; the reaper tells us why. */
	chan_gone(c);
}

/* ---------------------------------------------------------------- life */

static int
cooling(struct supervisor *s, const char *name)
{
	double now = ev_now(s->gw->loop);

	for (unsigned i = 0; i < COOLDOWNS; i++)
		if (s->cool[i].until > now && strcmp(s->cool[i].name,
		    name) == 0)
			return 1;
	return 0;
}

static void
give_up(struct child *c)
{
	struct supervisor *s = c->sup;
	struct cooldown *cd = &s->cool[s->ncool++ % COOLDOWNS];

	log_warnx("room %s: its process failed to start %d times; the room "
	    "is unavailable for %.0f s", c->name, c->quick_deaths,
	    ROOM_COOLDOWN_SECS);
	snprintf(cd->name, sizeof(cd->name), "%s", c->name);
	cd->until = ev_now(s->gw->loop) + ROOM_COOLDOWN_SECS;
	/* Members learn it (the `error`), then joins still waiting (their
	 * acks), as for any refusal. */
	if (c->room != NULL)
		room_tell(c->room, "ROOM_UNAVAILABLE", MSG_JOIN_FAIL);
	q_clear(&c->unacked);
	q_clear(&c->pending);
	if (c->room != NULL)
		room_unavailable(c->room);	/* detaches and retires us */
}

static void
describe_status(int status, char *out, size_t n)
{
	if (WIFEXITED(status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, n, "killed by signal %d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(out, n, "status 0x%x", status);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct child *c = w->data;

	if (c->state == C_STARTING)
		kill_child(c, "no HELLO in time");
	else if (c->state == C_WAITING)
		spawn(c);
	else if (c->state == C_RETIRING && c->pid > 0) {
		log_warnx("room %s: process %d did not exit when told; "
		    "killing it", c->name, (int)c->pid);
		kill(c->pid, SIGKILL);
	}
}

/*
 * The process is gone and everything it wrote has been read (a dead
 * process's last messages are still in the socket: they are delivered).
 */
static void
child_died(struct child *c)
{
	struct supervisor *s = c->sup;
	struct ev_loop *loop = s->gw->loop;
	char why[128];
	double lived = timestamp_mono() - c->spawned_at;
	pid_t pid = c->pid;

	ev_timer_stop(loop, &c->timer);
	if (c->spare) {
		spare_died(c);
		return;
	}
	describe_status(c->status, why, sizeof(why));
	if (c->chan != NULL) {
		ipc_chan_free(c->chan);
		c->chan = NULL;
	}
	c->pid = 0;
	c->reaped = 0;
	s->st.processes--;
	if (c->state == C_RETIRING || c->room == NULL) {
		log_debug("room %s: process %s", c->name, why);
		child_free(c);
		return;
	}
	s->st.deaths++;
	log_warnx("room %s: its process %d %s after %.1f s; restarting it "
	    "with its %u members", c->name, (int)pid, why, lived,
	    c->room->count);
	if (!c->asked_restart)
		blame_unacked(c);
	if (c->asked_restart)
		c->asked_restart = 0;	/* not a failure to start */
	else if (lived < CHILD_QUICK_DEATH_SECS)
		c->quick_deaths++;
	else
		c->quick_deaths = 0;
	if (c->quick_deaths >= ROOM_START_ATTEMPTS) {
		give_up(c);
		return;
	}
	rebuild_pending(c);
	c->state = C_WAITING;
	s->st.restarts++;
	c->restarts++;
	/* At once the first time; then 0.25 s, 0.5 s, ... */
	double delay = c->quick_deaths <= 1 ? 0 :
	    0.25 * (1 << (c->quick_deaths - 2));
	ev_timer_set(&c->timer, delay, 0.);
	ev_timer_start(loop, &c->timer);
}

/*
 * A message that was in hand at POISON_TRIES deaths killed them: it goes,
 * and whoever sent it learns it failed.  A join's member leaves the room
 * (the others never heard of it from this process); an event's sender
 * gets INTERNAL.
 */
static void
drop_poison(struct child *c, struct qmsg *q)
{
	struct gateway *gw = c->sup->gw;
	struct client *cl = client_find(gw, q->conn);
	struct membership *m = cl != NULL && c->room != NULL ?
	    room_membership(c->room, cl) : NULL;

	c->sup->st.poisoned++;
	log_warnx("room %s: its process died on the same %s%s %d times; "
	    "dropped (from user %s), the room goes on", c->name,
	    q->replay ? "replayed " : "", ipc_type_name(q->type), q->tries,
	    cl != NULL ? cl->user_id : "?");
	int join = q->type == IPC_JOIN;

	if (cl != NULL && (q->type == IPC_EVENT || join))
		client_error(cl, "INTERNAL", MSG_JOIN_FAIL);
	qmsg_free(q, -1);
	if (join && m != NULL)
		room_leave(m, IPC_LEAVE_KICKED);
}

/* What the dead process had in hand: blamed, poison dropped. */
static void
blame_unacked(struct child *c)
{
	struct qlist keep = { NULL, NULL, 0 };
	struct qmsg *q;

	while ((q = q_pop(&c->unacked)) != NULL) {
		/* Dying on its room is failing to start (throttled as such). */
		if (q->type == IPC_ROOM_OPEN)
			q_push(&keep, q);
		else if (++q->tries < POISON_TRIES) {
			if (q->replay && c->room != NULL) {
				struct client *cl = client_find(c->sup->gw,
				    q->conn);
				struct membership *m = cl ?
				    room_membership(c->room, cl) : NULL;

				if (m != NULL)
					m->replay_tries = q->tries;
			}
			q_push(&keep, q);
		} else
			drop_poison(c, q);
	}
	/* (A member's leave may have queued a LEAVE meanwhile.) */
	while ((q = q_pop(&c->unacked)) != NULL)
		q_push(&keep, q);
	c->unacked = keep;
}

static void
on_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
	struct child *c = w->data;

	ev_child_stop(loop, w);
	c->status = w->rstatus;
	c->reaped = 1;
	/* Read what it said before dying first; EOF then finishes. */
	if (c->chan == NULL)
		child_died(c);
}

/*
 * The process of spare `sp` becomes `c`'s: its channel, its pid (and the
 * watcher that reaps it), and from now its life counts as c's.
 */
static void
adopt_spare(struct child *c, struct child *sp)
{
	struct supervisor *s = c->sup;
	struct ev_loop *loop = s->gw->loop;

	ev_child_stop(loop, &sp->reaper);
	ev_timer_stop(loop, &sp->timer);
	c->pid = sp->pid;
	c->chan = sp->chan;
	ipc_chan_set_arg(c->chan, c);
	c->spawned_at = timestamp_mono();
	c->state = C_READY;
	ev_child_set(&c->reaper, c->pid, 0);
	ev_child_start(loop, &c->reaper);
	sp->pid = 0;
	sp->chan = NULL;
	s->st.spares--;
	s->st.processes++;
	s->st.spares_used++;
	child_free(sp);
	log_debug("room %s: took spare process %d", c->name, (int)c->pid);
	flush_pending(c);
	schedule_refill(s, SPARE_REFILL_DELAY);
}

/* fork + exec without copying our page tables (posix_spawn's vfork). */
static pid_t
spawn_roomd(struct child *c, int fd)
{
	struct supervisor *s = c->sup;
	static char title_space[SPARE_TITLE_SPACE + 1];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[5];
	int argc = 0, err;
	pid_t pid = -1;

	if (title_space[0] == '\0')
		memset(title_space, ' ', SPARE_TITLE_SPACE);
	argv[argc++] = "coup-roomd";
	argv[argc++] = c->spare ? "--spare" : c->name;
	if (s->gw->syslog)
		argv[argc++] = "--syslog";
	if (c->spare)
		argv[argc++] = title_space;	/* becomes the room's name */
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Its own process group: a ^C on the gateway's terminal is for the
	 * gateway, which then lets its rooms go.  Its stderr is ours:
	 * /dev/null once we are a daemon. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	if ((err = posix_spawn_file_actions_adddup2(&fa, fd,
	    IPC_CHILD_FD)) == 0 &&
	    (err = posix_spawn_file_actions_addclosefrom_np(&fa,
	    IPC_CHILD_FD + 1)) == 0)
		err = posix_spawn(&pid, s->roomd, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return pid;
}

static void
spawn(struct child *c)
{
	struct supervisor *s = c->sup;
	struct ev_loop *loop = s->gw->loop;
	static const struct ipc_callbacks cbs = { on_message, on_chan_error };
	struct child *sp;
	int sv[2];
	pid_t pid;

	if (!c->spare && (sp = take_spare(s)) != NULL) {
		adopt_spare(c, sp);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("room %s: socketpair", c->name);
		goto retry;
	}
	c->spawned_at = timestamp_mono();
	if ((pid = spawn_roomd(c, sv[1])) < 0) {
		log_warn("room %s: cannot start %s", c->name, s->roomd);
		close(sv[0]);
		close(sv[1]);
		goto retry;
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	c->pid = pid;
	c->chan = ipc_chan_new(loop, sv[0], CHILD_SENDQ_MAX, &cbs, c);
	c->state = C_STARTING;
	if (c->spare)
		s->st.spares++;
	else
		s->st.processes++;
	s->st.started++;
	ev_child_set(&c->reaper, pid, 0);
	ev_child_start(loop, &c->reaper);
	ev_timer_set(&c->timer, CHILD_HELLO_SECS, 0.);
	ev_timer_start(loop, &c->timer);
	log_debug("room %s: started process %d", c->name, (int)pid);
	return;
retry:
	if (c->spare) {
		/* No room waits for it: let the pool try again later. */
		child_free(c);
		schedule_refill(s, 1.0);
		return;
	}
	/* Out of descriptors or processes: try again shortly. */
	c->state = C_WAITING;
	ev_timer_set(&c->timer, 1.0, 0.);
	ev_timer_start(loop, &c->timer);
}

/* A child with no process yet, named `name`, at the head of `list`. */
static struct child *
child_new(struct supervisor *s, const char *name, struct child **list)
{
	struct child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->name = strdup(name)) == NULL)
		fatal("calloc");
	c->sup = s;
	ev_init(&c->timer, on_timer);
	c->timer.data = c;
	ev_init(&c->reaper, on_reaped);
	c->reaper.data = c;
	c->next = *list;
	*list = c;
	return c;
}

struct child *
child_start(struct supervisor *s, struct room *room)
{
	struct child *c;
	struct buf b = BUF_INIT;

	if (cooling(s, room->name))
		return NULL;
	c = child_new(s, room->name, &s->children);
	c->room = room;
	room_open_body(c, &b);
	q_push(&c->pending, qmsg_new(IPC_ROOM_OPEN, b.data, b.len));
	buf_free(&b);
	spawn(c);
	return c;
}

static void
child_free(struct child *c)
{
	struct child **pp;

	for (pp = c->spare ? &c->sup->spares : &c->sup->children; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_timer_stop(c->sup->gw->loop, &c->timer);
	if (c->chan != NULL)
		ipc_chan_free(c->chan);
	q_clear(&c->pending);
	q_clear(&c->unacked);
	free(c->name);
	free(c);
}

void
child_retire(struct child *c)
{
	struct ev_loop *loop = c->sup->gw->loop;

	c->room = NULL;
	q_clear(&c->pending);
	q_clear(&c->unacked);
	if (c->pid <= 0) {
		child_free(c);
		return;
	}
	c->state = C_RETIRING;
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, CHILD_HELLO_SECS, 0.);
	ev_timer_start(loop, &c->timer);
	/* EXIT if it can hear it; the channel closing says the same. */
	if (c->chan != NULL)
		ipc_send(c->chan, IPC_EXIT, NULL, 0);
}

void
child_restart(struct child *c)
{
	if (c->pid > 0) {
		c->asked_restart = 1;
		kill_child(c, "restart asked for");
	}
}

pid_t
child_pid(const struct child *c)
{
	return c ? c->pid : 0;
}

unsigned
child_restarts(const struct child *c)
{
	return c ? c->restarts : 0;
}

static long long	rss_of(pid_t);

long long
child_rss(const struct child *c)
{
	return c && c->pid > 0 ? rss_of(c->pid) : 0;
}

int
child_quiet(const struct child *c)
{
	return c != NULL && c->state == C_READY && c->pending.head == NULL &&
	    c->unacked.head == NULL && ipc_queued(c->chan) == 0;
}

int
child_available(const struct child *c)
{
	return c != NULL && c->state != C_RETIRING;
}

/* ---------------------------------------------------------------- spares */

static struct child *
take_spare(struct supervisor *s)
{
	struct child **pp, *c;

	for (pp = &s->spares; (c = *pp) != NULL; pp = &c->next)
		if (c->state == C_READY && c->chan != NULL && !c->reaped) {
			*pp = c->next;
			c->next = NULL;
			c->spare = 0;	/* out of the pool: child_free's list */
			return c;
		}
	return NULL;
}

static void
schedule_refill(struct supervisor *s, double after)
{
	struct ev_loop *loop = s->gw->loop;

	if (ev_is_active(&s->refill) &&
	    ev_timer_remaining(loop, &s->refill) <= after)
		return;
	ev_timer_stop(loop, &s->refill);
	ev_timer_set(&s->refill, after, 0.);
	ev_timer_start(loop, &s->refill);
}

static void
spare_new(struct supervisor *s)
{
	struct child *c = child_new(s, "(spare)", &s->spares);

	c->spare = 1;
	spawn(c);
}

/* As many spares as ROOM_SPARES says (none while draining). */
static void
refill_spares(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct supervisor *s = w->data;
	unsigned want = s->gw->draining ? 0 :
	    (unsigned)config_int(&s->gw->cfg, CFG_ROOM_SPARES);
	unsigned have = 0;
	struct child *c, *next;

	if (want > 0 && ev_now(loop) < s->spares_paused_until) {
		schedule_refill(s, s->spares_paused_until - ev_now(loop));
		return;
	}
	for (c = s->spares; c != NULL; c = next) {
		next = c->next;
		if (c->state == C_RETIRING)
			continue;
		if (have < want)
			have++;
		else
			child_retire(c);	/* may free it */
	}
	while (have++ < want)
		spare_new(s);
}

/*
 * An admin changed the log level: every room process follows (one being
 * started or restarted gets it after its ROOM_OPEN; a spare still
 * starting gets it in its ROOM_OPEN).
 */
void
supervisor_set_log_level(struct supervisor *s, int level)
{
	struct ipc_log_level l = { (uint8_t)level };
	struct buf b = BUF_INIT;

	ipc_put_log_level(&b, &l);
	for (struct child *c = s->children; c != NULL; c = c->next)
		(void)child_send(c, IPC_LOG_LEVEL, b.data, b.len);
	for (struct child *c = s->spares; c != NULL; c = c->next)
		if (c->state == C_READY && c->chan != NULL)
			(void)ipc_send(c->chan, IPC_LOG_LEVEL, b.data, b.len);
	buf_free(&b);
}

void
supervisor_adjust_spares(struct supervisor *s)
{
	schedule_refill(s, 0);
}

/*
 * A spare that dies had nobody in it: no room to restart, but a pool
 * whose processes die at once (a broken install) must not become a fork
 * loop, so such deaths pause the pool.
 */
static void
spare_died(struct child *c)
{
	struct supervisor *s = c->sup;
	double lived = timestamp_mono() - c->spawned_at;
	char why[128];

	describe_status(c->status, why, sizeof(why));
	s->st.spares--;
	if (c->state == C_RETIRING) {
		log_debug("spare room process %d %s", (int)c->pid, why);
		c->pid = 0;
		child_free(c);
		return;
	}
	log_warnx("spare room process %d %s after %.1f s", (int)c->pid, why,
	    lived);
	c->pid = 0;
	s->st.deaths++;
	child_free(c);
	if (lived >= CHILD_QUICK_DEATH_SECS) {
		s->spare_fails = 0;
		schedule_refill(s, 0);
		return;
	}
	if (++s->spare_fails < ROOM_START_ATTEMPTS) {
		schedule_refill(s, 0.25 * s->spare_fails);
		return;
	}
	log_warnx("spare room processes failed to start %d times in a row; "
	    "none for %.0f s (rooms start their own meanwhile)",
	    s->spare_fails, ROOM_COOLDOWN_SECS);
	s->spare_fails = 0;
	s->spares_paused_until = ev_now(s->gw->loop) + ROOM_COOLDOWN_SECS;
	schedule_refill(s, ROOM_COOLDOWN_SECS);
}

/* ---------------------------------------------------------------- setup */

/* ROOMD_PATH, else next to our own binary (a build tree), else libexec. */
static char *
find_roomd(struct gateway *gw)
{
	const char *conf = config_str(&gw->cfg, CFG_ROOMD_PATH);
	char self[PATH_MAX], *slash, *path;
	ssize_t n;

	if (conf != NULL && *conf != '\0')
		path = strdup(conf);
	else if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0 &&
	    (self[n] = '\0', slash = strrchr(self, '/')) != NULL &&
	    (snprintf(slash + 1, sizeof(self) - (size_t)(slash + 1 - self),
	    "coup-roomd"), access(self, X_OK) == 0))
		path = strdup(self);
	else
		path = strdup(LIBEXECDIR "/coup-roomd");
	if (path == NULL)
		fatal("strdup");
	if (access(path, X_OK) != 0)
		log_warn("room processes: %s is not executable; rooms will be "
		    "unavailable (set ROOMD_PATH)", path);
	else
		log_info("room processes: %s", path);
	return path;
}

struct supervisor *
supervisor_new(struct gateway *gw)
{
	struct supervisor *s = calloc(1, sizeof(*s));

	if (s == NULL)
		fatal("calloc");
	s->gw = gw;
	s->roomd = find_roomd(gw);
	/* The first spares start once the loop runs (after daemonizing). */
	ev_init(&s->refill, refill_spares);
	s->refill.data = s;
	schedule_refill(s, 0);
	return s;
}

void
supervisor_free(struct supervisor *s)
{
	struct child *c;

	if (s == NULL)
		return;
	ev_timer_stop(s->gw->loop, &s->refill);
	while ((c = s->spares) != NULL || (c = s->children) != NULL) {
		if (c->pid > 0) {
			kill(c->pid, SIGTERM);
			ev_child_stop(s->gw->loop, &c->reaper);
		}
		child_free(c);
	}
	free(s->roomd);
	free(s);
}

static long long
rss_of(pid_t pid)
{
	char path[64];
	long long pages = 0, resident = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%lld %lld", &pages, &resident) != 2)
		resident = 0;
	fclose(fp);
	return resident * sysconf(_SC_PAGESIZE);
}

void
supervisor_stats(struct supervisor *s, struct supervisor_stats *out)
{
	*out = s->st;
	out->rss_bytes = 0;
	out->spare_rss_bytes = 0;
	for (struct child *c = s->children; c != NULL; c = c->next)
		if (c->pid > 0)
			out->rss_bytes += rss_of(c->pid);
	out->spares_ready = 0;
	for (struct child *c = s->spares; c != NULL; c = c->next) {
		if (c->pid > 0)
			out->spare_rss_bytes += rss_of(c->pid);
		if (c->state == C_READY)
			out->spares_ready++;
	}
}
