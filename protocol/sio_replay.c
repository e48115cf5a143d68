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
	r->pushed++;
	r->bytes += bytes;
}

void
sio_replay_trim(struct sio_replay *r, uint64_t mark)
{
	while (r->n > 0 && r->pushed - r->n < mark)
		drop_oldest(r);
	/* An idle socket gives its memory back. */
	if (r->n == 0 && r->cap > 8) {
		free(r->v);
		r->v = NULL;
		r->cap = r->head = 0;
	}
}

void
sio_replay_seen(struct sio_replay *r, uint64_t offset)
{
	long at = offset == 0 ? 0 : sio_replay_resume_at(r, offset);

	if (at > 0)
		sio_replay_trim(r, r->pushed - r->n + (uint64_t)at);
}

void
sio_replay_take(struct sio_replay *dst, struct sio_replay *src,
    size_t max_bytes)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct sio_replay_entry *e = sio_replay_at(src, i);

		sio_replay_push(dst, e->offset, e->out, e->bytes, max_bytes);
	}
	free(src->v);
	*src = (struct sio_replay)SIO_REPLAY_INIT(src->release);
}

long
sio_replay_resume_at(const struct sio_replay *r, uint64_t offset)
{
	if (offset == r->dropped)
		return 0;		/* it saw all that is gone, none held */
	/* From the newest: a client is usually not far behind. */
	for (size_t i = r->n; i > 0; i--)
		if (sio_replay_at(r, i - 1)->offset == offset)
			return (long)i;
	return -1;
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
