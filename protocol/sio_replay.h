/*
 * sio_replay.h - what a socket was sent lately, kept so that a client whose
 * connection was lost can be given what it missed (connection state
 * recovery, sio_recovery.c).
 *
 * Every EVENT the server sends without an ack id carries an offset (a
 * number, the packet's, shared by all its recipients) as its last
 * argument; the client reports the last offset it saw when it reconnects.
 * The buffer holds references to the packets (struct sio_out, encoded
 * once for everyone; here opaque, let go through the buffer's release
 * function), in the order they were sent, bounded by their bytes: the
 * oldest go first.  Offsets identify packets and need not grow along the
 * buffer: a session taken over from another gateway holds that gateway's
 * packets before ours.  Pure data; no I/O.
 */
#ifndef COUP_SIO_REPLAY_H
#define COUP_SIO_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct sio_replay_entry {
	uint64_t	 offset;
	void		*out;		/* a reference */
	size_t		 bytes;
};

struct sio_replay {
	struct sio_replay_entry	*v;		/* a ring of cap entries */
	size_t			 head, n, cap;
	size_t			 bytes;		/* of the n entries */
	uint64_t		 pushed;	/* entries ever kept */
	/* The offset of the newest entry no longer held (0: none dropped
	 * yet).  A client that last saw it resumes at the oldest held. */
	uint64_t		 dropped;
	void			(*release)(void *);	/* an entry's out */
};

#define SIO_REPLAY_INIT(release)	{ NULL, 0, 0, 0, 0, 0, 0, (release) }

/* Keep out (the caller's reference, now the buffer's); the oldest
 * entries go until the buffer holds at most max_bytes.  An entry larger
 * than max_bytes on its own is not kept (it counts as dropped, and is
 * released). */
void	sio_replay_push(struct sio_replay *, uint64_t offset, void *out,
	    size_t bytes, size_t max_bytes);
/* Forget the entries kept before the buffer had `mark` in all (a
 * sio_replay.pushed of earlier): the client has them for sure (it
 * answered a ping sent after them; see sio_recovery.c). */
void	sio_replay_trim(struct sio_replay *, uint64_t mark);
/* Forget the entries up to and including the one with offset `offset`
 * (what a client says it has seen); nothing if none has it. */
void	sio_replay_seen(struct sio_replay *, uint64_t offset);
/* Move every entry of src, oldest first, to the end of dst (src is left
 * empty). */
void	sio_replay_take(struct sio_replay *dst, struct sio_replay *src,
	    size_t max_bytes);
/*
 * Where a client that last saw `offset` (0: none since its session began)
 * resumes: the index of the first entry it has not seen, n if it has seen
 * them all, -1 if it missed something no longer held or the offset is not
 * one this buffer knows.
 */
long	sio_replay_resume_at(const struct sio_replay *, uint64_t offset);
/* The i-th entry, oldest first. */
const struct sio_replay_entry *sio_replay_at(const struct sio_replay *,
	    size_t i);
void	sio_replay_free(struct sio_replay *);

#endif
