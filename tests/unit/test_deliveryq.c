/*
 * test_deliveryq.c - the delivery queue of a room process, alone: what
 * may be sent when, what PROCESSED frees, what a successor is sent after
 * a death (and in which order), probation, and the blame that drops a
 * message that processes die on, and only that one.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "deliveryq.h"
#include "ipc.h"
#include "log.h"
#include "tap.h"

/* What the done callbacks said, by message tag. */
static int outcome[16];

static void
done(void *arg, int processed)
{
	outcome[(intptr_t)arg] = processed == 0 ? 2 : processed;
}

/* A JOIN, LEAVE or EVENT of connection conn, tagged for `done`. */
static struct dq_msg *
msg(uint16_t type, uint64_t conn, int tag)
{
	struct buf b = BUF_INIT;
	struct dq_msg *m;

	ipc_put_u64(&b, conn);
	m = dq_msg_new(type, b.data, b.len, done, (void *)(intptr_t)tag);
	buf_free(&b);
	return m;
}

/* Send whatever may go now; the seqs given count from *seq. */
static int
send_all(struct dq *q, uint32_t *seq)
{
	int n = 0;

	while (dq_next(q) != NULL) {
		dq_sent(q, ++*seq);
		n++;
	}
	return n;
}

/* The types and conns of the pending list, as "JOIN:1 EVENT:2". */
static const char *
pending(const struct dq *q)
{
	static char out[256];
	size_t n = 0;

	out[0] = '\0';
	for (const struct dq_msg *m = q->pending.head; m != NULL && n < 200;
	    m = m->next)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%llu%s",
		    n ? " " : "", ipc_type_name(m->type),
		    (unsigned long long)m->conn, m->replay ? "r" : "");
	return out;
}

static void
test_send_and_ack(void)
{
	struct dq q = { 0 };
	uint32_t seq = 0;

	memset(outcome, 0, sizeof(outcome));
	dq_push(&q.pending, msg(IPC_JOIN, 1, 1));
	dq_push(&q.pending, msg(IPC_EVENT, 1, 2));
	ok(!dq_quiet(&q), "two pending: not quiet");
	is_int(send_all(&q, &seq), 2, "not on probation: both go at once");
	ok(q.pending.head == NULL && q.unacked.head != NULL, "both in hand");
	is_int(dq_processed(&q, 1), 0, "PROCESSED 1 (no probation to end)");
	is_int(outcome[1], 1, "  the JOIN is done");
	is_int(outcome[2], 0, "  the EVENT not yet");
	dq_processed(&q, 2);
	is_int(outcome[2], 1, "PROCESSED 2: the EVENT is done");
	ok(dq_quiet(&q), "quiet");
	dq_push(&q.pending, msg(IPC_EVENT, 3, 3));
	dq_free(&q);
	is_int(outcome[3], 2, "freed: a pending one learns it never will be");
}

static void
test_poison(void)
{
	struct dq q = { 0 };
	struct dq_list poison = { NULL, NULL, 0 }, replays = { NULL, NULL, 0 };
	uint32_t seq = 0;
	struct dq_msg *m;

	memset(outcome, 0, sizeof(outcome));
	dq_push(&q.pending, msg(IPC_ROOM_OPEN, 0, 0));
	dq_push(&q.pending, msg(IPC_JOIN, 1, 1));
	dq_push(&q.pending, msg(IPC_EVENT, 1, 2));	/* the poison */
	dq_push(&q.pending, msg(IPC_EVENT, 1, 3));
	send_all(&q, &seq);
	dq_processed(&q, 2);			/* ROOM_OPEN, JOIN handled */
	/* Death 1: the EVENTs were in hand. */
	dq_blame(&q, &poison);
	ok(poison.head == NULL, "death 1: nothing is poison yet");
	dq_push(&replays, msg(IPC_JOIN, 1, 4));
	dq_rebuild(&q, msg(IPC_ROOM_OPEN, 0, 0), &replays);
	is_str(pending(&q), "ROOM_OPEN:0 JOIN:1r EVENT:1 EVENT:1",
	    "the successor: its room, the member, what was in hand");
	ok(q.probation, "  on probation");
	/* On probation: one in hand at a time. */
	is_int(send_all(&q, &seq), 1, "probation: one goes");
	dq_processed(&q, seq);
	is_int(send_all(&q, &seq), 1, "  the next once it is confirmed");
	dq_processed(&q, seq);			/* the replay */
	is_int(send_all(&q, &seq), 1, "  the poison goes alone");
	/* Death 2, on it. */
	dq_blame(&q, &poison);
	ok((m = dq_pop(&poison)) != NULL && m->type == IPC_EVENT &&
	    m->tries == DQ_POISON_TRIES, "death 2: the EVENT is poison");
	ok(dq_pop(&poison) == NULL, "  and only it");
	dq_msg_free(m, -1);
	is_int(outcome[2], -1, "  its sender learns it was dropped");
	dq_rebuild(&q, msg(IPC_ROOM_OPEN, 0, 0), &replays);
	is_str(pending(&q), "ROOM_OPEN:0 EVENT:1",
	    "the next successor: the innocent EVENT is still to come");
	send_all(&q, &seq);
	dq_processed(&q, seq);
	send_all(&q, &seq);
	is_int(dq_processed(&q, seq), 1, "all confirmed: probation ends");
	is_int(outcome[3], 1, "the innocent EVENT was delivered");
	dq_free(&q);
}

static void
test_room_open_not_blamed(void)
{
	struct dq q = { 0 };
	struct dq_list poison = { NULL, NULL, 0 }, none = { NULL, NULL, 0 };
	uint32_t seq = 0;

	memset(outcome, 0, sizeof(outcome));
	dq_push(&q.pending, msg(IPC_ROOM_OPEN, 0, 0));
	dq_push(&q.pending, msg(IPC_JOIN, 7, 1));
	for (int death = 0; death < 4; death++) {
		send_all(&q, &seq);
		dq_blame(&q, &poison);
		ok(poison.head == NULL, "a process dying on its room blames no "
		    "member's JOIN");
		dq_rebuild(&q, msg(IPC_ROOM_OPEN, 0, 0), &none);
	}
	is_str(pending(&q), "ROOM_OPEN:0 JOIN:7", "the JOIN still waits");
	ok(dq_join_queued(&q, 7), "dq_join_queued sees it");
	dq_free(&q);
	is_int(outcome[1], 2, "freed: the JOIN never was handled");
}

static void
test_replay_blame(void)
{
	struct dq q = { 0 };
	struct dq_list poison = { NULL, NULL, 0 }, replays = { NULL, NULL, 0 };
	uint32_t seq = 0;
	struct dq_msg *m;

	/* A member whose replay kills the process: its count goes with it
	 * from one made-up replay to the next. */
	for (int death = 0; death < 2; death++) {
		dq_push(&replays, msg(IPC_JOIN, 9, 0));
		dq_rebuild(&q, msg(IPC_ROOM_OPEN, 0, 0), &replays);
		send_all(&q, &seq);
		dq_processed(&q, seq);		/* ROOM_OPEN */
		send_all(&q, &seq);		/* the replay */
		dq_blame(&q, &poison);
		if (death == 0) {
			ok(poison.head == NULL, "replay blamed once");
			is_int(dq_tries(&q, 9), 1, "  its member counted");
		}
	}
	ok((m = dq_pop(&poison)) != NULL && m->replay && m->conn == 9,
	    "replay blamed twice: poison");
	dq_msg_free(m, -1);
	dq_free(&q);
}

int
main(void)
{
	log_init("test_deliveryq", LOG_LEVEL_WARN);
	test_send_and_ack();
	test_poison();
	test_room_open_not_blamed();
	test_replay_blame();
	return tap_done();
}
