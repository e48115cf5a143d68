/*
 * event_queue.h - a socket's events kept for later (event_queue.c).
 *
 * An event that waits for the CoUp API (a membership check) or the
 * cluster (an admission) is held: a copy of what the client sent, found
 * again by its connection id when the answer comes.  While one of a
 * socket's events is in flight, its next ones are queued behind it, so a
 * socket's events are handled in the order it sent them (a join then a
 * leave is a join then a leave), and other sockets never wait.
 */
#ifndef COUP_EVENT_QUEUE_H
#define COUP_EVENT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "sio_server.h"

struct client;
struct gateway;

/* A client's events in flight and waiting (in struct client). */
struct equeue {
	struct held_event	*head, *tail;
	unsigned		 count;
	size_t			 bytes;
	unsigned		 busy;		/* its events in flight */
	int			 scheduled;	/* a drain is due */
};

/* What the client sent, copied: the packet's JSON text and attachments. */
struct held_event {
	struct held_event	*next;		/* in a queue */
	struct gateway		*gw;
	uint64_t		 conn;
	char			*json;		/* [name, args...] */
	size_t			 json_len;
	long long		 ack;
	int			 nbins;
	uint8_t			**bin;
	size_t			*binlen;
};

/* The event, copied. */
void	held_save(struct held_event *, struct gateway *, uint64_t conn,
	    const struct sio_event *);
/*
 * The event again, parsed anew from the copy: 0 with ev (and *c) set,
 * or -1 when its client has gone.  ev->args is the whole array, name
 * first; the attachments go in the caller's bins, data and len
 * (BOUND_ATTACHMENTS each).  held_unload() frees what ev holds.
 */
int	held_load(struct held_event *, struct sio_event *ev,
	    struct sio_bins *, const uint8_t **data, size_t *len,
	    struct client **c);
void	held_unload(struct sio_event *);
void	held_clear(struct held_event *);
/* Bytes the copy holds. */
size_t	held_size(const struct held_event *);

/* The socket's order.  dispatch handles one event (events.c). */
void	equeue_init(struct gateway *,
	    void (*dispatch)(struct client *, const struct sio_event *));
/* Must an event of the client wait (one in flight, or some queued)? */
int	equeue_must_wait(const struct client *);
/* Queue it: 0, or -1 when the socket's queue is full (the caller
 * refuses the event). */
int	equeue_push(struct client *, const struct sio_event *);
/* One more, or one less, of its events in flight; when none is left,
 * what waits is handled (from the loop, not from inside the caller). */
void	equeue_hold(struct client *);
void	equeue_release(struct gateway *, uint64_t conn);
/* The client is going: what waits goes with it. */
void	equeue_clear(struct client *);

#endif
