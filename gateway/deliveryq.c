/*
 * deliveryq.c - the delivery queue of one room process (see deliveryq.h):
 * pending and unacknowledged messages, the successor's list after a
 * death, probation, and the blame that finds a poison message.
 */
#include <stdlib.h>
#include <string.h>

#include "deliveryq.h"
#include "ipc.h"
#include "log.h"
#include "xmalloc.h"

struct dq_msg *
dq_msg_new(uint16_t type, const void *body, size_t len, dq_done_cb done,
    void *arg)
{
	struct dq_msg *m = xcalloc(1, sizeof(*m) + len);

	m->type = type;
	m->len = len;
	m->done = done;
	m->done_arg = arg;
	if (len > 0)
		memcpy(m->body, body, len);
	/* Whose it is: the first field of JOIN, LEAVE and EVENT. */
	if ((type == IPC_JOIN || type == IPC_LEAVE || type == IPC_EVENT) &&
	    len >= 8) {
		struct ipc_reader r;

		ipc_reader_init(&r, body, len);
		m->conn = ipc_get_u64(&r);
	}
	return m;
}

void
dq_msg_free(struct dq_msg *m, int processed)
{
	if (m->done != NULL)
		m->done(m->done_arg, processed);
	free(m);
}

void
dq_push(struct dq_list *l, struct dq_msg *m)
{
	m->next = NULL;
	if (l->tail != NULL)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->bytes += m->len;
}

struct dq_msg *
dq_pop(struct dq_list *l)
{
	struct dq_msg *m = l->head;

	if (m == NULL)
		return NULL;
	if ((l->head = m->next) == NULL)
		l->tail = NULL;
	l->bytes -= m->len;
	return m;
}

void
dq_clear(struct dq_list *l)
{
	struct dq_msg *m;

	while ((m = dq_pop(l)) != NULL)
		dq_msg_free(m, 0);
}

void
dq_free(struct dq *q)
{
	dq_clear(&q->pending);
	dq_clear(&q->unacked);
	free(q->suspects);
	q->suspects = NULL;
	q->nsuspects = q->cap = 0;
	q->probation = 0;
}

int
dq_quiet(const struct dq *q)
{
	return q->pending.head == NULL && q->unacked.head == NULL;
}

/*
 * Probation is over once everything resent has been PROCESSED: the
 * successor survived all its predecessor had in hand, so no member's
 * replay is suspect any longer.
 */
static int
probation_check(struct dq *q)
{
	if (!q->probation || q->unacked.head != NULL ||
	    (q->pending.head != NULL && q->pending.head->resent))
		return 0;
	q->probation = 0;
	q->nsuspects = 0;
	return 1;
}

struct dq_msg *
dq_next(struct dq *q)
{
	probation_check(q);
	/* On probation one message is in hand at a time: a death then
	 * names the message it died on. */
	if (q->probation && q->unacked.head != NULL)
		return NULL;
	return q->pending.head;
}

void
dq_sent(struct dq *q, uint32_t seq)
{
	struct dq_msg *m = dq_pop(&q->pending);

	if (m == NULL)
		fatalx("dq_sent: nothing was pending");
	m->seq = seq;
	/* Never resent: a successor gets its room and level in ROOM_OPEN,
	 * and its members as they are now (RECONN is in that already).
	 * ROOM_OPEN is kept until PROCESSED all the same (and dropped by a
	 * rebuild): on probation nothing follows it before then, so a
	 * process that dies on its room never blames a member's JOIN. */
	if (m->type == IPC_EXIT || m->type == IPC_LOG_LEVEL ||
	    m->type == IPC_RECONN)
		dq_msg_free(m, 1);
	else
		dq_push(&q->unacked, m);
}

int
dq_processed(struct dq *q, uint32_t seq)
{
	struct dq_msg *m;

	/* Sequence numbers only grow within one process's life. */
	while ((m = q->unacked.head) != NULL && m->seq <= seq)
		dq_msg_free(dq_pop(&q->unacked), 1);
	return probation_check(q);
}

static void
suspect(struct dq *q, uint64_t conn, uint8_t tries)
{
	unsigned i;

	for (i = 0; i < q->nsuspects && q->suspects[i].conn != conn; i++)
		;
	if (i == q->nsuspects) {
		if (q->nsuspects == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 4;
			q->suspects = xreallocarray(q->suspects, q->cap,
			    sizeof(*q->suspects));
		}
		q->nsuspects++;
	}
	q->suspects[i].conn = conn;
	q->suspects[i].tries = tries;
}

uint8_t
dq_tries(const struct dq *q, uint64_t conn)
{
	for (unsigned i = 0; i < q->nsuspects; i++)
		if (q->suspects[i].conn == conn)
			return q->suspects[i].tries;
	return 0;
}

void
dq_blame(struct dq *q, struct dq_list *poison)
{
	struct dq_list keep = { NULL, NULL, 0 };
	struct dq_msg *m;

	while ((m = dq_pop(&q->unacked)) != NULL) {
		/* Dying on its room is failing to start (throttled as such). */
		if (m->type == IPC_ROOM_OPEN)
			dq_push(&keep, m);
		else if (++m->tries < DQ_POISON_TRIES) {
			/* A replay is made anew for the successor: the count
			 * goes with its member. */
			if (m->replay)
				suspect(q, m->conn, m->tries);
			dq_push(&keep, m);
		} else
			dq_push(poison, m);
	}
	q->unacked = keep;
}

static int
join_in(const struct dq_list *l, uint64_t conn)
{
	for (const struct dq_msg *m = l->head; m != NULL; m = m->next)
		if (m->type == IPC_JOIN && !m->replay && m->conn == conn)
			return 1;
	return 0;
}

int
dq_join_queued(const struct dq *q, uint64_t conn)
{
	return join_in(&q->unacked, conn) || join_in(&q->pending, conn);
}

void
dq_rebuild(struct dq *q, struct dq_msg *room_open, struct dq_list *replays)
{
	struct dq_list fresh = { NULL, NULL, 0 };
	struct dq_msg *m;

	dq_push(&fresh, room_open);
	while ((m = dq_pop(replays)) != NULL) {
		m->replay = 1;
		m->tries = dq_tries(q, m->conn);
		dq_push(&fresh, m);
	}
	/* What the old one had in hand, then what had not gone, minus what
	 * was made up for it. */
	while ((m = dq_pop(&q->unacked)) != NULL || (m = dq_pop(&q->pending)) !=
	    NULL) {
		if (m->type == IPC_ROOM_OPEN || m->replay)
			free(m);
		else
			dq_push(&fresh, m);
	}
	/* All of it goes on probation (one at a time), what comes after not. */
	for (m = fresh.head; m != NULL; m = m->next)
		m->resent = 1;
	q->probation = 1;
	q->pending = fresh;
}
