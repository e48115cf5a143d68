/*
 * deliveryq.h - what goes to one room process, and what it has yet to
 * confirm (deliveryq.c): functions over plain data, no I/O, so that the
 * rules are unit-tested alone.
 *
 * A message waits in `pending` until it can be sent, then in `unacked`
 * until the process reports it PROCESSED.  When a process dies, its
 * successor is sent, in order: its room, its members again (silent
 * replays), what the old one had in hand, what had not gone yet; and it
 * is on probation: one message in hand at a time until all of that is
 * confirmed, so that another death names the message it died on.  A
 * message in hand at DQ_POISON_TRIES deaths is poison: it is dropped.
 */
#ifndef COUP_DELIVERYQ_H
#define COUP_DELIVERYQ_H

#include <stddef.h>
#include <stdint.h>

/* Deaths with a message in hand that make it poison: the first may be
 * anyone's (a kill -9, a batch in flight), the second, on probation, is
 * that message's alone. */
#define DQ_POISON_TRIES	2

/* processed: 1 handled, 0 never will be (the room went), -1 dropped as
 * poison. */
typedef void	(*dq_done_cb)(void *arg, int processed);

struct dq_msg {
	struct dq_msg	*next;
	uint16_t	 type;		/* enum ipc_type */
	uint8_t		 replay;	/* a JOIN made up for a successor */
	uint8_t		 resent;	/* to a successor, on probation */
	uint8_t		 tries;		/* deaths it was in hand at */
	uint32_t	 seq;		/* once sent */
	uint64_t	 conn;		/* JOIN, LEAVE, EVENT: whose */
	dq_done_cb	 done;
	void		*done_arg;
	size_t		 len;
	uint8_t		 body[];
};

struct dq_list {
	struct dq_msg	*head, *tail;
	size_t		 bytes;
};

/* A member whose replay was in hand at a death, and how many. */
struct dq_suspect {
	uint64_t	 conn;
	uint8_t		 tries;
};

struct dq {
	struct dq_list		 pending;	/* not yet sent */
	struct dq_list		 unacked;	/* sent, not yet PROCESSED */
	int			 probation;
	struct dq_suspect	*suspects;
	unsigned		 nsuspects, cap;
};

/* A message (the body copied); done (may be NULL) learns its fate. */
struct dq_msg	*dq_msg_new(uint16_t type, const void *body, size_t len,
		    dq_done_cb, void *arg);
void		 dq_msg_free(struct dq_msg *, int processed);

void		 dq_push(struct dq_list *, struct dq_msg *);
struct dq_msg	*dq_pop(struct dq_list *);
/* Every message goes, whoever waits told it never will be handled. */
void		 dq_clear(struct dq_list *);
void		 dq_free(struct dq *);

/* Nothing waits, nothing in hand. */
int		 dq_quiet(const struct dq *);

/*
 * The next message that may go to the process now (still pending), or
 * NULL: none waits, or one is in hand while on probation.
 */
struct dq_msg	*dq_next(struct dq *);
/* It went, with this seq: in hand until PROCESSED (EXIT and LOG_LEVEL,
 * never resent, are done with). */
void		 dq_sent(struct dq *, uint32_t seq);
/* The process handled everything up to seq.  Returns 1 when that ended
 * its probation. */
int		 dq_processed(struct dq *, uint32_t seq);

/*
 * The process died: what it had in hand is blamed.  Poison (in hand at
 * DQ_POISON_TRIES deaths) moves to *poison for the caller to report and
 * free; a replay's count is kept for its successor's replay (dq_tries).
 */
void		 dq_blame(struct dq *, struct dq_list *poison);
/* The count to give a member's new replay JOIN. */
uint8_t		 dq_tries(const struct dq *, uint64_t conn);
/* Is a JOIN of conn (not a replay) waiting to be sent again? */
int		 dq_join_queued(const struct dq *, uint64_t conn);

/*
 * For the successor: room_open first, then replays (consumed), then what
 * the old process had in hand and what had not gone (old ROOM_OPENs and
 * replays dropped), all of it resent on probation.
 */
void		 dq_rebuild(struct dq *, struct dq_msg *room_open,
		    struct dq_list *replays);

#endif
