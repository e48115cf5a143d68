/*
 * spares.c - room processes started ahead of need.
 *
 * ROOM_SPARES processes are started before any room wants them
 * ("coup-roomd --spare"): a new room, or a room whose process died, takes
 * one that has already said HELLO, so its first join waits for no fork,
 * exec or dynamic linking; the pool is topped up a few milliseconds later.
 * A spare learns its room from ROOM_OPEN like any process and then shows
 * the room's name in ps(1).  A pool whose processes keep dying at start
 * (a broken install) pauses instead of becoming a fork loop.
 */
#include "ipc.h"
#include "log.h"
#include "spares.h"
#include "supervisor_int.h"
#include "timestamp.h"

/*
 * A taken spare is replaced this long after: the room that took it is
 * still answering its first join, and a new process's exec and dynamic
 * linking would compete with it for the CPU.
 */
#define SPARE_REFILL_DELAY	0.005

static void	spares_refill(struct supervisor *, double after);

static struct child *
spare_take(struct supervisor *s)
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

/*
 * The process of spare `sp` becomes `c`'s: its channel, its pid (and the
 * watcher that reaps it), and from now its life counts as c's.
 */
static void
spare_adopt(struct child *c, struct child *sp)
{
	struct supervisor *s = c->sup;

	ev_child_stop(s->loop, &sp->reaper);
	ev_timer_stop(s->loop, &sp->timer);
	c->pid = sp->pid;
	c->chan = sp->chan;
	ipc_chan_set_arg(c->chan, c);
	c->spawned_at = timestamp_mono();
	c->state = C_READY;
	ev_child_set(&c->reaper, c->pid, 0);
	ev_child_start(s->loop, &c->reaper);
	sp->pid = 0;
	sp->chan = NULL;
	s->st.spares--;
	s->st.processes++;
	s->st.spares_used++;
	child_free(sp);
	log_debug("room %s: took spare process %d", c->name, (int)c->pid);
	spares_refill(s, SPARE_REFILL_DELAY);
}

static void
spares_refill(struct supervisor *s, double after)
{
	if (ev_is_active(&s->refill) &&
	    ev_timer_remaining(s->loop, &s->refill) <= after)
		return;
	ev_timer_stop(s->loop, &s->refill);
	ev_timer_set(&s->refill, after, 0.);
	ev_timer_start(s->loop, &s->refill);
}

static void
spare_new(struct supervisor *s)
{
	struct child *c = child_new(s, "(spare)", &s->spares);

	c->spare = 1;
	spawn(c);
}

/* As many spares as wanted (ROOM_SPARES; none while draining). */
static void
on_refill(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct supervisor *s = w->data;
	unsigned want = s->spares_want, have = 0;
	struct child *c, *next;

	if (want > 0 && ev_now(loop) < s->spares_paused_until) {
		spares_refill(s, s->spares_paused_until - ev_now(loop));
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

void
supervisor_set_spares(struct supervisor *s, unsigned n)
{
	s->spares_want = n;
	spares_refill(s, 0);
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
		spares_refill(s, 0);
		return;
	}
	if (++s->spare_fails < ROOM_START_ATTEMPTS) {
		spares_refill(s, 0.25 * s->spare_fails);
		return;
	}
	log_warnx("spare room processes failed to start %d times in a row; "
	    "none for %.0f s (rooms start their own meanwhile)",
	    s->spare_fails, ROOM_COOLDOWN_SECS);
	s->spare_fails = 0;
	s->spares_paused_until = ev_now(s->loop) + ROOM_COOLDOWN_SECS;
	spares_refill(s, ROOM_COOLDOWN_SECS);
}

static const struct spare_pool pool = {
	.take = spare_take,
	.adopt = spare_adopt,
	.died = spare_died,
	.retry = spares_refill,
};

void
spares_attach(struct supervisor *s, unsigned n)
{
	s->pool = &pool;
	s->spares_want = n;
	/* The first spares start once the loop runs (after daemonizing). */
	ev_init(&s->refill, on_refill);
	s->refill.data = s;
	spares_refill(s, 0);
}
