/*
 * supervisor.c - the life of a room's process: start, HELLO, watch, reap,
 * restart, throttle, retire (see supervisor.h).
 *
 * One coup-roomd per live room, started with posix_spawn on the room's
 * first join (or taken from the spares, spares.c), its end of a
 * SOCK_SEQPACKET socketpair on IPC_CHILD_FD.  What goes to it is its
 * delivery queue's (deliveryq.c): kept until it reports PROCESSED, so a
 * process that dies does not take unhandled events with it; its successor
 * gets the room's members again (as silent replays, so nobody sees them
 * leave and come back: the owner's replay callback gives them), then
 * everything it had not handled, then what arrived meanwhile, on
 * probation, one message in hand at a time; a message it dies on again
 * is dropped (the owner's dropped callback tells its sender).
 *
 * A process that dies soon after starting, again and again, is throttled
 * (growing delays) and after ROOM_START_ATTEMPTS tries its room is given
 * up (the owner's gave_up callback), and new processes for it are refused
 * for a while, instead of a crash loop.  We trust no child: a malformed
 * message or one that stops reading is killed; nothing it does can stop
 * us.  This file calls nothing above it: the owner is an opaque pointer.
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
#include "figures.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "log.h"
#include "supervisor_int.h"
#include "timestamp.h"
#include "xmalloc.h"

/* Bytes that may wait for a running child before it counts as stuck. */
#define CHILD_SENDQ_MAX		(16u * 1024 * 1024)
/* Bytes that may wait while a child is (re)starting. */
#define CHILD_PENDING_MAX	(16u * 1024 * 1024)
/* A child that has not said HELLO by then is stuck. */
#define CHILD_HELLO_SECS	5.0
/* A spare's title space: a room's name, with room to spare. */
#define SPARE_TITLE_SPACE	(BOUND_ROOM_NAME + 26)

static void	child_died(struct child *);

/* ---------------------------------------------------------------- bodies */

static struct dq_msg *
room_open_msg(struct child *c)
{
	struct ipc_room_open o = { ipc_str(c->name), (uint8_t)log_level_current };
	struct buf b = BUF_INIT;
	struct dq_msg *m;

	if (ipc_put_room_open(&b, &o) < 0)
		fatalx("room %s: a name over its bounds", c->name);
	m = dq_msg_new(IPC_ROOM_OPEN, b.data, b.len, NULL, NULL);
	buf_free(&b);
	return m;
}

/* A member's replay for the successor (unless its own JOIN is to be
 * resent anyway). */
struct replays {
	struct child	*c;
	struct dq_list	 list;
};

static void
push_replay(void *arg, uint64_t conn, const void *body, size_t len)
{
	struct replays *rp = arg;

	if (!dq_join_queued(&rp->c->q, conn))
		dq_push(&rp->list, dq_msg_new(IPC_JOIN, body, len, NULL, NULL));
}

/* What a new process must hear (deliveryq.h: dq_rebuild). */
static void
rebuild(struct child *c)
{
	struct replays rp = { c, { NULL, NULL, 0 } };

	if (c->room != NULL)
		c->sup->ops.replay(c->room, push_replay, &rp);
	dq_rebuild(&c->q, room_open_msg(c), &rp.list);
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

/* Send what may go now. */
static void
flush(struct child *c)
{
	struct dq_msg *m;
	long long seq;

	while (c->state == C_READY && (m = dq_next(&c->q)) != NULL) {
		if (c->chan == NULL ||
		    (seq = ipc_send(c->chan, m->type, m->body, m->len)) < 0) {
			/* It stays pending: the restart resends it. */
			kill_child(c, "its channel is full or closed");
			return;
		}
		dq_sent(&c->q, (uint32_t)seq);
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
	if (c == NULL || c->state == C_RETIRING)
		return -1;
	if (c->q.pending.bytes + len > CHILD_PENDING_MAX) {
		log_warnx("room %s: %zu bytes wait for its process; refusing "
		    "more", c->name, c->q.pending.bytes);
		return -1;
	}
	/* Behind whatever waits (a process starting, or on probation). */
	dq_push(&c->q.pending, dq_msg_new(type, body, len, done, arg));
	flush(c);
	return 0;
}

/* ---------------------------------------------------------------- receiving */

static void
on_processed(struct child *c, const struct ipc_msg *msg)
{
	struct ipc_processed p;

	if (ipc_get_processed(msg->body, msg->len, &p) < 0) {
		kill_child(c, "malformed PROCESSED");
		return;
	}
	if (dq_processed(&c->q, p.seq))
		log_debug("room %s: process %d has caught up", c->name,
		    (int)c->pid);
	flush(c);		/* on probation, the next one */
}

/* "5<n>-[" with n the attachments that come with it. */
static int
binary_head_ok(const char *t, size_t len, unsigned n)
{
	char head[16];
	int k = snprintf(head, sizeof(head), "5%u-[", n);

	return k > 0 && (size_t)k <= len && memcmp(t, head, (size_t)k) == 0;
}

/* "Send this packet to these connections": checked, then the owner's. */
static int
on_send(struct child *c, const struct ipc_msg *msg)
{
	struct ipc_send_msg s;
	const char *t;

	if (ipc_get_send(msg->body, msg->len, &s) < 0)
		return -1;
	/* Only EVENTs on "/" may come from a room: "2[", or "5<n>-[" for
	 * one with n attachments, after Engine.IO's message type. */
	t = s.packet.p;
	if (s.bins.n == 0 ? (s.packet.len < 3 || t[0] != '2' || t[1] != '[') :
	    !binary_head_ok(t, s.packet.len, s.bins.n))
		return -1;
	if (c->room != NULL)
		c->sup->ops.deliver(c->room, &s);
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
	ev_timer_stop(c->sup->loop, &c->timer);
	c->state = C_READY;
	ms = (timestamp_mono() - c->spawned_at) * 1000;
	c->sup->st.start_ms_last = ms;
	if (ms > c->sup->st.start_ms_max)
		c->sup->st.start_ms_max = ms;
	log_debug("room %s: process %d ready in %.2f ms", c->name,
	    (int)c->pid, ms);
	flush(c);
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
	double now = ev_now(s->loop);

	for (unsigned i = 0; i < COOLDOWNS; i++)
		if (s->cool[i].until > now && strcmp(s->cool[i].name,
		    name) == 0)
			return 1;
	return 0;
}

/* The room goes (the owner's doing); so does this child, with it. */
static void
give_up(struct child *c)
{
	struct supervisor *s = c->sup;
	struct cooldown *cd = &s->cool[s->ncool++ % COOLDOWNS];

	log_warnx("room %s: its process failed to start %d times; the room "
	    "is unavailable for %.0f s", c->name, c->quick_deaths,
	    ROOM_COOLDOWN_SECS);
	snprintf(cd->name, sizeof(cd->name), "%s", c->name);
	cd->until = ev_now(s->loop) + ROOM_COOLDOWN_SECS;
	s->ops.gave_up(c->room);	/* retires (and frees) us */
}

void
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
 * What the dead process had in hand is blamed (deliveryq.c); a message it
 * died on twice goes, and the owner tells whoever sent it.
 */
static void
drop_poison(struct child *c)
{
	struct dq_list poison = { NULL, NULL, 0 };
	struct dq_msg *m;

	dq_blame(&c->q, &poison);
	while ((m = dq_pop(&poison)) != NULL) {
		uint16_t type = m->type;
		uint64_t conn = m->conn;

		c->sup->st.poisoned++;
		log_warnx("room %s: its process died on the same %s%s %d "
		    "times; dropped (from connection %llu), the room goes on",
		    c->name, m->replay ? "replayed " : "", ipc_type_name(type),
		    m->tries, (unsigned long long)conn);
		dq_msg_free(m, -1);
		if (c->room != NULL)
			c->sup->ops.dropped(c->room, type, conn);
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
	char why[128];
	double lived = timestamp_mono() - c->spawned_at, delay;
	pid_t pid = c->pid;

	ev_timer_stop(s->loop, &c->timer);
	if (c->spare) {
		s->pool->died(c);	/* only a pool makes spares */
		return;
	}
	describe_status(c->status, why, sizeof(why));
	if (c->chan != NULL) {
		ipc_chan_free(c->chan);
		c->chan = NULL;
	}
	c->pid = 0;
	c->reaped = 0;
	c->rss = 0;
	s->st.processes--;
	if (c->state == C_RETIRING || c->room == NULL) {
		log_debug("room %s: process %s", c->name, why);
		child_free(c);
		return;
	}
	s->st.deaths++;
	log_warnx("room %s: its process %d %s after %.1f s; restarting it "
	    "with its members", c->name, (int)pid, why, lived);
	if (!c->asked_restart)
		drop_poison(c);
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
	rebuild(c);
	c->state = C_WAITING;
	s->st.restarts++;
	c->restarts++;
	/* At once the first time; then 0.25 s, 0.5 s, ... */
	delay = c->quick_deaths <= 1 ? 0 : 0.25 * (1 << (c->quick_deaths - 2));
	ev_timer_set(&c->timer, delay, 0.);
	ev_timer_start(s->loop, &c->timer);
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

/* posix_spawn: fork + exec without copying our page tables (vfork). */
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
	if (s->syslog)
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

void
spawn(struct child *c)
{
	struct supervisor *s = c->sup;
	static const struct ipc_callbacks cbs = { on_message, on_chan_error };
	struct child *sp;
	int sv[2];
	pid_t pid;

	if (!c->spare && s->pool != NULL && (sp = s->pool->take(s)) != NULL) {
		s->pool->adopt(c, sp);
		flush(c);
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
	c->chan = ipc_chan_new(s->loop, sv[0], CHILD_SENDQ_MAX, &cbs, c);
	c->state = C_STARTING;
	if (c->spare)
		s->st.spares++;
	else
		s->st.processes++;
	s->st.started++;
	ev_child_set(&c->reaper, pid, 0);
	ev_child_start(s->loop, &c->reaper);
	ev_timer_set(&c->timer, CHILD_HELLO_SECS, 0.);
	ev_timer_start(s->loop, &c->timer);
	log_debug("room %s: started process %d", c->name, (int)pid);
	return;
retry:
	if (c->spare) {
		/* No room waits for it: let the pool try again later. */
		child_free(c);
		s->pool->retry(s, 1.0);
		return;
	}
	/* Out of descriptors or processes: try again shortly. */
	c->state = C_WAITING;
	ev_timer_set(&c->timer, 1.0, 0.);
	ev_timer_start(s->loop, &c->timer);
}

/* A child with no process yet, named `name`, at the head of `list`. */
struct child *
child_new(struct supervisor *s, const char *name, struct child **list)
{
	struct child *c;

	c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(name);
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
child_start(struct supervisor *s, const char *name, void *room)
{
	struct child *c;

	if (cooling(s, name))
		return NULL;
	c = child_new(s, name, &s->children);
	c->room = room;
	dq_push(&c->q.pending, room_open_msg(c));
	spawn(c);
	return c;
}

void
child_free(struct child *c)
{
	struct child **pp;

	for (pp = c->spare ? &c->sup->spares : &c->sup->children; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_timer_stop(c->sup->loop, &c->timer);
	if (c->chan != NULL)
		ipc_chan_free(c->chan);
	dq_free(&c->q);
	free(c->name);
	free(c);
}

void
child_retire(struct child *c)
{
	c->room = NULL;
	dq_free(&c->q);
	if (c->pid <= 0) {
		child_free(c);
		return;
	}
	c->state = C_RETIRING;
	ev_timer_stop(c->sup->loop, &c->timer);
	ev_timer_set(&c->timer, CHILD_HELLO_SECS, 0.);
	ev_timer_start(c->sup->loop, &c->timer);
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

/* A process not yet read (just started) is read once here, so that a
 * new room shows its memory at once; after that only the timer reads. */
long long
child_rss(struct child *c)
{
	if (c == NULL || c->pid <= 0)
		return 0;
	if (c->rss == 0)
		c->rss = figures_rss(c->pid);
	return c->rss;
}

/* One tick: read the slice of the processes whose turn it is. */
static void
figures_slice(struct child *list, unsigned slice, unsigned *i)
{
	for (struct child *c = list; c != NULL; c = c->next, (*i)++)
		if (*i % FIGURES_SLICES == slice && c->pid > 0)
			c->rss = figures_rss(c->pid);
}

static void
on_figures_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct supervisor *s = w->data;
	unsigned slice = s->figures_tick++ % FIGURES_SLICES, i = 0;

	(void)loop;
	(void)revents;
	figures_slice(s->children, slice, &i);
	figures_slice(s->spares, slice, &i);
}

int
child_quiet(const struct child *c)
{
	return c != NULL && c->state == C_READY && dq_quiet(&c->q) &&
	    ipc_queued(c->chan) == 0;
}

int
child_available(const struct child *c)
{
	return c != NULL && c->state != C_RETIRING;
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

/* ---------------------------------------------------------------- setup */

/* ROOMD_PATH, else next to our own binary (a build tree), else libexec. */
static char *
find_roomd(const char *conf)
{
	char self[PATH_MAX], *slash, *path;
	ssize_t n;

	if (conf != NULL && *conf != '\0')
		path = xstrdup(conf);
	else if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0 &&
	    (self[n] = '\0', slash = strrchr(self, '/')) != NULL &&
	    (snprintf(slash + 1, sizeof(self) - (size_t)(slash + 1 - self),
	    "coup-roomd"), access(self, X_OK) == 0))
		path = xstrdup(self);
	else
		path = xstrdup(LIBEXECDIR "/coup-roomd");
	if (access(path, X_OK) != 0)
		log_warn("room processes: %s is not executable; rooms will be "
		    "unavailable (set ROOMD_PATH)", path);
	else
		log_info("room processes: %s", path);
	return path;
}

struct supervisor *
supervisor_new(struct ev_loop *loop, const struct supervisor_opts *o,
    const struct supervisor_ops *ops)
{
	struct supervisor *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->ops = *ops;
	s->syslog = o->syslog;
	s->roomd = find_roomd(o->roomd_path);
	ev_timer_init(&s->figures, on_figures_tick,
	    FIGURES_REFRESH_SECS / FIGURES_SLICES,
	    FIGURES_REFRESH_SECS / FIGURES_SLICES);
	s->figures.data = s;
	ev_timer_start(loop, &s->figures);
	return s;
}

void
supervisor_free(struct supervisor *s)
{
	struct child *c;

	if (s == NULL)
		return;
	ev_timer_stop(s->loop, &s->refill);
	ev_timer_stop(s->loop, &s->figures);
	while ((c = s->spares) != NULL || (c = s->children) != NULL) {
		if (c->pid > 0) {
			kill(c->pid, SIGTERM);
			ev_child_stop(s->loop, &c->reaper);
		}
		child_free(c);
	}
	free(s->roomd);
	free(s);
}

void
supervisor_stats(struct supervisor *s, struct supervisor_stats *out)
{
	*out = s->st;
	out->rss_bytes = 0;
	out->spare_rss_bytes = 0;
	for (struct child *c = s->children; c != NULL; c = c->next)
		out->rss_bytes += child_rss(c);
	out->spares_ready = 0;
	for (struct child *c = s->spares; c != NULL; c = c->next) {
		out->spare_rss_bytes += child_rss(c);
		if (c->state == C_READY)
			out->spares_ready++;
	}
}
