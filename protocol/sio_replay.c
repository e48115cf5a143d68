/*
 * sio_replay.c - the per-socket buffer of recent packets (sio_replay.h).
 */
#include <stdlib.h>

#include "sio_replay.h"
#include "xmalloc.h"

static void
drop_oldest(struct sio_replay *r)
{
	struct sio_replay_entry *e = &r->v[r->head];

	r->dropped = e->offset;
	r->bytes -= e->bytes;
	r->release(e->out);
	r->head = (r->head + 1) % r->cap;
	r->n--;
}

void
sio_replay_push(struct sio_replay *r, uint64_t offset, void *out,
    size_t bytes, size_t max_bytes)
{
	struct sio_replay_entry *e;

	if (bytes > max_bytes) {
		while (r->n > 0)
			drop_oldest(r);
		r->dropped = offset;
		r->release(out);
		return;
	}
	while (r->n > 0 && r->bytes + bytes > max_bytes)
		drop_oldest(r);
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 8;
		struct sio_replay_entry *v = xcalloc(ncap, sizeof(*v));

		/* Unrolled oldest first, so the ring starts at 0 again. */
		for (size_t i = 0; i < r->n; i++)
			v[i] = r->v[(r->head + i) % r->cap];
		free(r->v);
		r->v = v;
		r->cap = ncap;
		r->head = 0;
	}
	e = &r->v[(r->head + r->n) % r->cap];
	e->offset = offset;
	e->out = out;
	e->bytes = bytes;
	r->n++;
	r->bytes += bytes;
}

void
sio_replay_trim(struct sio_replay *r, uint64_t upto)
{
	while (r->n > 0 && r->v[r->head].offset <= upto)
		drop_oldest(r);
	/* An idle socket gives its memory back. */
	if (r->n == 0 && r->cap > 8) {
		free(r->v);
		r->v = NULL;
		r->cap = r->head = 0;
	}
}

long
sio_replay_resume_at(const struct sio_replay *r, uint64_t offset)
{
	/* Offsets grow along the ring, so the client's is found by search. */
	size_t lo = 0, hi = r->n;

	if (offset == r->dropped)
		return 0;		/* it saw all that is gone, none held */
	if (offset < r->dropped)
		return -1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sio_replay_at(r, mid)->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->n && sio_replay_at(r, lo)->offset == offset)
		return (long)lo + 1;
	return -1;
}

uint64_t
sio_replay_newest(const struct sio_replay *r)
{
	return r->n > 0 ? sio_replay_at(r, r->n - 1)->offset : 0;
}

const struct sio_replay_entry *
sio_replay_at(const struct sio_replay *r, size_t i)
{
	return &r->v[(r->head + i) % r->cap];
}

void
sio_replay_free(struct sio_replay *r)
{
	while (r->n > 0)
		drop_oldest(r);
	free(r->v);
	*r = (struct sio_replay)SIO_REPLAY_INIT(r->release);
}
