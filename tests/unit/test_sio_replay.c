/*
 * test_sio_replay.c - the per-socket buffer of recent packets that
 * connection state recovery replays: where a client resumes from its last
 * offset, what the byte bound and the age bound drop, and that every
 * reference taken is given back exactly once.
 */
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "sio_replay.h"
#include "tap.h"

static int held[64];	/* references each fake packet has */

static void
release(void *p)
{
	held[(intptr_t)p]--;
}

static void
push(struct sio_replay *r, int id, size_t bytes, size_t max)
{
	held[id]++;
	sio_replay_push(r, (uint64_t)id, (void *)(intptr_t)id, bytes, max);
}

static int
refs(void)
{
	int n = 0;

	for (int i = 0; i < 64; i++)
		n += held[i];
	return n;
}

static void
test_resume(void)
{
	struct sio_replay r = SIO_REPLAY_INIT(release);

	is_int(sio_replay_resume_at(&r, 0), 0, "empty: a client that saw "
	    "nothing resumes at 0");
	for (int i = 1; i <= 10; i++)
		push(&r, i * 2, 10, 1000);	/* offsets 2, 4, ... 20 */
	is_int((long)r.n, 10, "ten kept");
	is_int(sio_replay_resume_at(&r, 0), 0, "no offset yet: everything");
	is_int(sio_replay_resume_at(&r, 2), 1, "after the first");
	is_int(sio_replay_resume_at(&r, 12), 6, "after the sixth");
	is_int(sio_replay_resume_at(&r, 20), 10, "saw them all: nothing to "
	    "send");
	is_int(sio_replay_resume_at(&r, 7), -1, "an offset never sent");
	is_int(sio_replay_resume_at(&r, 99), -1, "an offset from the future");
	sio_replay_free(&r);
	is_int(refs(), 0, "freed: every reference given back");
}

static void
test_bounds(void)
{
	struct sio_replay r = SIO_REPLAY_INIT(release);

	for (int i = 1; i <= 10; i++)
		push(&r, i, 100, 500);
	is_int((long)r.n, 5, "500 bytes hold five of 100");
	is_int((long)r.bytes, 500, "  and count them");
	is_int(sio_replay_at(&r, 0)->offset, 6, "  the newest five");
	is_int((long)r.dropped, 5, "  the last one dropped is 5");
	is_int(sio_replay_resume_at(&r, 5), 0, "a client that saw 5 resumes "
	    "at the oldest kept");
	is_int(sio_replay_resume_at(&r, 4), -1, "one that saw only 4 missed "
	    "what is gone");
	is_int(sio_replay_resume_at(&r, 0), -1, "one that saw nothing too");
	is_int(refs(), 5, "dropped ones released");

	sio_replay_seen(&r, 8);
	is_int((long)r.n, 2, "seen up to 8: two left");
	is_int((long)r.dropped, 8, "  the last one gone is 8");
	is_int(sio_replay_resume_at(&r, 8), 0, "a client at 8 resumes there");

	push(&r, 20, 600, 500);
	is_int((long)r.n, 0, "a packet over the bound on its own: nothing "
	    "kept");
	is_int((long)r.dropped, 20, "  and it counts as dropped");
	is_int(sio_replay_resume_at(&r, 10), -1, "  so an older offset "
	    "cannot resume");
	is_int(refs(), 0, "  every reference released");

	for (int i = 21; i <= 60; i++)
		push(&r, i, 1, 1000);	/* the ring grows, wraps */
	sio_replay_seen(&r, 44);
	for (int i = 61; i <= 63; i++)
		push(&r, i, 1, 1000);
	is_int((long)r.n, 19, "after growing and wrapping, 19 kept");
	is_int(sio_replay_at(&r, 0)->offset, 45, "  oldest first");
	is_int(sio_replay_at(&r, 18)->offset, 63, "  newest last");
	is_int(sio_replay_resume_at(&r, 50), 6, "  found across the wrap");
	sio_replay_free(&r);
	is_int(refs(), 0, "freed: every reference given back");
}

/* A ping's mark: what was kept before it goes at its pong, not after. */
static void
test_marks(void)
{
	struct sio_replay r = SIO_REPLAY_INIT(release);
	uint64_t mark;

	for (int i = 1; i <= 4; i++)
		push(&r, 10 + i, 10, 1000);
	mark = r.pushed;			/* a ping goes now */
	push(&r, 15, 10, 1000);
	push(&r, 16, 10, 1000);
	sio_replay_trim(&r, mark);		/* its pong */
	is_int((long)r.n, 2, "the pong forgets what was sent before its ping");
	is_int((long)sio_replay_at(&r, 0)->offset, 15, "  and keeps what came after");
	is_int((long)r.dropped, 14, "  the last one gone is 14");
	sio_replay_trim(&r, mark);
	is_int((long)r.n, 2, "the same mark again forgets nothing more");

	/* Another gateway's offsets, then ours: they need not grow. */
	sio_replay_free(&r);
	push(&r, 50, 10, 1000);
	push(&r, 51, 10, 1000);
	push(&r, 17, 10, 1000);
	push(&r, 18, 10, 1000);
	is_int(sio_replay_resume_at(&r, 51), 2, "offsets that do not grow: "
	    "found by identity");
	is_int(sio_replay_resume_at(&r, 17), 3, "  ours after theirs");
	is_int(sio_replay_resume_at(&r, 60), -1, "  an unknown one is not");
	sio_replay_seen(&r, 51);
	is_int((long)r.n, 2, "seen up to 51: ours are left");
	sio_replay_seen(&r, 4);
	is_int((long)r.n, 2, "seen an offset it does not hold: nothing goes");
	sio_replay_free(&r);
	is_int(refs(), 0, "every reference given back");
}

int
main(void)
{
	log_init("test_sio_replay", LOG_LEVEL_WARN);
	test_resume();
	test_bounds();
	test_marks();
	return tap_done();
}
