/*
 * events.c - the CoUp events a client sends (contract sections 4-6): each
 * is checked here (rate, shape, membership in the room or the study) and
 * then handed to its room's process, which decides who hears what.
 *
 * The shape of every payload is checkpoint one (checks.c, the same rules
 * a Redis peer's events are held to); what a client wrote travels on as
 * it wrote it (its text, not a re-printed tree), so nobody receives more
 * than was sent.  Every refusal has a stable code and goes to the sender
 * alone (replies.c), and a flood of them gets at most one `error` a
 * second per code.  Study-scoped joins first ask the CoUp API whether the
 * user is a member; the answer comes later, so such an event is held
 * (event_queue.h), and the socket's next events wait behind it: each
 * socket's events are handled in the order it sent them.
 *
 * What only repeats a state (video:speaking as the app sends it on every
 * animation frame, chat:typing) is absorbed: acknowledged, not relayed,
 * not counted against the rate limit; so is a status event from a socket
 * that just left its call (NOT_IN_ROOM, not counted either).
 */
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "api/coupapi.h"
#include "event_queue.h"
#include "ipc.h"
#include "json.h"
#include "events.h"
#include "log.h"
#include "peers.h"
#include "ratelimit.h"
#include "replies.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"
#include "turn.h"
#include "xmalloc.h"


/* One event being handled. */
struct ctx {
	struct client	*c;
	struct gateway	*gw;
	const struct sio_event *ev;	/* as it came (kept by hold()) */
	const char	*name;
	cJSON		*p;		/* the payload object */
	const char	*raw;		/* its text, as the client wrote it */
	size_t		 raw_len;
	const struct sio_bins *bins;	/* its attachments, or NULL */
	long long	 ack;		/* ack id, or -1 */
	char		 msg_id[BOUND_MESSAGE_ID + 1];	/* chat: ours */
};



/* ---------------------------------------------------------------- replies */

/*
 * A refusal: the `error` event (at most one a second per code: a refused
 * flood must not become a flood of banners in the app), chat's
 * message-sent {success:false} for a chat:send-message (contract section
 * 6, as the old server did), and the ack, always.
 */
static void
refuse(struct ctx *x, const char *code, const char *message)
{
	struct client *c = x->c;

	client_error(c, code, message);
	if (strcmp(x->name, "chat:send-message") == 0) {
		cJSON *sent = cJSON_CreateObject();

		cJSON_AddFalseToObject(sent, "success");
		cJSON_AddStringToObject(sent, "error", message);
		sio_emit(c->sock, "chat:message-sent", sent, NULL);
		cJSON_Delete(sent);
	}
	reply_ack_refused(c->sock, x->ack, code, message);
	log_debug("socket %s: %s refused: %s (%s)", sio_socket_id(c->sock),
	    x->name, code, message);
}

static void
succeed(struct ctx *x, const char *key, const char *value)
{
	reply_ack_ok(x->c->sock, x->ack, key, value);
}

static void
bad_request(struct ctx *x, const char *message)
{
	refuse(x, ERR_BAD_REQUEST, message);
}

/* ---------------------------------------------------------------- fields */

/* Fields checks.c has already found well-formed. */
static void
field_id(struct ctx *x, const char *field, check_id_t out)
{
	if (check_id(x->p, field, out, NULL, 0) < 0)
		out[0] = '\0';
}

static int
field_true(struct ctx *x, const char *field)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x->p, field));
}

/* "msg_<ms>_<socketId>", with "_<n>" when this socket already used that
 * millisecond. */
static void
message_id(struct ctx *x, const char *prefix)
{
	struct client *c = x->c;
	long long ms = timestamp_now_ms();

	if (ms == c->last_id_ms) {
		snprintf(x->msg_id, sizeof(x->msg_id), "%s_%lld_%s_%u", prefix,
		    ms, sio_socket_id(c->sock), ++c->id_seq);
		return;
	}
	c->last_id_ms = ms;
	c->id_seq = 0;
	snprintf(x->msg_id, sizeof(x->msg_id), "%s_%lld_%s", prefix, ms,
	    sio_socket_id(c->sock));
}

/* ---------------------------------------------------------------- held */

/*
 * An event waiting for the CoUp API or the cluster: what the client sent
 * (event_queue.h) and the message id chosen for it.  While it waits, the
 * socket's next events wait behind it; its client may be gone by the time
 * the answer comes.
 */
struct held {
	struct held_event	 saved;
	char			 msg_id[BOUND_MESSAGE_ID + 1];
	/* While resumed: */
	struct sio_event	 ev;
	struct sio_bins		 bins;
	const uint8_t		*data[BOUND_ATTACHMENTS];
	size_t			 len[BOUND_ATTACHMENTS];
};

static void
hold(struct held *h, const struct ctx *x)
{
	held_save(&h->saved, x->gw, x->c->conn, x->ev);
	memcpy(h->msg_id, x->msg_id, sizeof(h->msg_id));
	equeue_hold(x->c);
}

static int	ctx_of(struct ctx *, struct client *, const struct sio_event *,
		    unsigned first);

/* The event again: 0 (resumed_end when done), or -1 when its client has
 * gone. */
static int
resume(struct held *h, struct ctx *x)
{
	struct client *c;

	if (held_load(&h->saved, &h->ev, &h->bins, h->data, h->len, &c) < 0)
		return -1;
	/* (It was checked before it was held: it is a well-formed event.) */
	if (ctx_of(x, c, &h->ev, 1) < 0)
		fatalx("events: a held event is not one any more");
	x->name = cJSON_GetArrayItem(h->ev.args, 0)->valuestring;
	memcpy(x->msg_id, h->msg_id, sizeof(x->msg_id));
	return 0;
}

static void
resumed_end(struct held *h)
{
	held_unload(&h->ev);
}

/* Done with it: the socket's next events may go. */
static void
held_free(struct held *h)
{
	struct gateway *gw = h->saved.gw;
	uint64_t conn = h->saved.conn;

	held_clear(&h->saved);
	equeue_release(gw, conn);
}

/* ---------------------------------------------------------------- rooms */

static struct membership *
in_room(struct client *c, const char *prefix, const char *id)
{
	char name[BOUND_ROOM_NAME + 1];
	struct room *r;

	snprintf(name, sizeof(name), "%s%s", prefix, id);
	if ((r = room_find(c->gw, name)) == NULL)
		return NULL;
	return room_membership(r, c);
}

/* The sender's video room must be video:<roomId>. */
static struct membership *
my_video_room(struct ctx *x)
{
	check_id_t id;

	field_id(x, "roomId", id);
	if (x->c->video == NULL || strcmp(x->c->video->room->id, id) != 0) {
		refuse(x, ERR_NOT_IN_ROOM, MSG_NOT_IN_VIDEO);
		return NULL;
	}
	return x->c->video;
}

/* Hand the event to the room's process; 0, or -1 having refused it. */
static int
forward(struct ctx *x, struct room *r, int event, int guest)
{
	if (room_event(r, x->c, event, guest, x->msg_id, x->raw, x->raw_len,
	    x->bins) < 0) {
		refuse(x, ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
		return -1;
	}
	peers_event(x->gw, r->name, x->c, event, guest, x->msg_id, x->p,
	    x->raw, x->raw_len, x->bins);
	return 0;
}

/* USER_ROOMS_MAX: a join that would put the socket, or its user, in one
 * room too many is refused. */
static int
may_join(struct ctx *x, const char *name)
{
	if (rooms_user_may_join(x->c, name))
		return 1;
	log_info("socket %s: user %s is in USER_ROOMS_MAX (%lld) rooms; "
	    "the join of %s is refused", sio_socket_id(x->c->sock),
	    x->c->user_id, config_int(&x->gw->cfg, CFG_USER_ROOMS_MAX), name);
	refuse(x, ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
	return 0;
}

/* ---------------------------------------------------------------- checks */

/* What to do once the API said whether the user is a member. */
typedef void (*after_check)(struct ctx *, const char *study_id);

struct check {
	struct pending_check	 pc;
	struct held		 h;
	check_id_t		 study;
	after_check		 then;
};

static void
check_free(struct check *ck)
{
	held_free(&ck->h);
	free(ck);
}

/* The client has gone: its checks go without a word. */
static void
check_drop(struct check *ck)
{
	held_clear(&ck->h.saved);
	free(ck);
}

static void
check_done(void *arg, enum coupapi_member answer)
{
	struct check *ck = arg;
	struct client *c = ck->pc.client;
	struct pending_check **pp;
	struct ctx x;

	for (pp = &c->checks; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &ck->pc) {
			*pp = ck->pc.next;
			break;
		}
	if (resume(&ck->h, &x) < 0) {
		check_free(ck);
		return;
	}
	switch (answer) {
	case COUPAPI_MEMBER_YES:
		ck->then(&x, ck->study);
		break;
	case COUPAPI_MEMBER_NO:
		refuse(&x, ERR_NOT_MEMBER, MSG_NOT_MEMBER);
		break;
	case COUPAPI_MEMBER_FAILED:
		if (c->gw->development) {
			log_warnx("membership of user %s in study %s could not "
			    "be checked; allowed (development mode)",
			    c->user_id, ck->study);
			ck->then(&x, ck->study);
		} else
			refuse(&x, ERR_CHECK_FAILED, MSG_CHECK_FAIL);
		break;
	}
	resumed_end(&ck->h);
	check_free(ck);
}

/* Ask whether the sender is a member of study, then go on with `then`. */
static void
check_member(struct ctx *x, const char *study, after_check then)
{
	struct check *ck = xcalloc(1, sizeof(*ck));

	hold(&ck->h, x);
	snprintf(ck->study, sizeof(ck->study), "%s", study);
	ck->then = then;
	ck->pc.client = x->c;
	ck->pc.ctx = ck;
	ck->pc.next = x->c->checks;
	x->c->checks = &ck->pc;
	ck->pc.req = coupapi_check_member(x->gw->api, study, x->c->user_id,
	    check_done, ck);
}

void
events_client_gone(struct client *c)
{
	struct pending_check *pc;

	while ((pc = c->checks) != NULL) {
		c->checks = pc->next;
		coupapi_cancel(pc->req);
		check_drop(pc->ctx);
	}
	equeue_clear(c);
}

/* ---------------------------------------------------------------- joins */

/*
 * A join is acknowledged once the room's process has the member (so the
 * ack comes after video:room-state or presence:study-joined), or refused
 * if the process cannot be had.  The client may be gone by then.
 */
struct join_wait {
	struct gateway	*gw;
	uint64_t	 conn;
	long long	 ack;
	char		 key[16];		/* "roomId" | "studyId" */
	check_id_t	 id;
};

static void
join_done(void *arg, int processed)
{
	struct join_wait *w = arg;
	struct client *c = client_find(w->gw, w->conn);

	/* The socket's next events waited for this one to be done. */
	equeue_release(w->gw, w->conn);
	if (c != NULL) {
		/* A refusal's error event came with room_unavailable(), or
		 * with the drop of a join its room's process died on. */
		if (processed > 0)
			reply_ack_ok(c->sock, w->ack, w->key, w->id);
		else
			reply_ack_refused(c->sock, w->ack, processed < 0 ?
			    ERR_INTERNAL : ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
	}
	free(w);
}

static void
join(struct ctx *x, struct room *r, const char *key, const char *id)
{
	struct join_wait *w = xcalloc(1, sizeof(*w));

	w->gw = x->gw;
	w->conn = x->c->conn;
	w->ack = x->ack;
	snprintf(w->key, sizeof(w->key), "%s", key);
	snprintf(w->id, sizeof(w->id), "%s", id);
	equeue_hold(x->c);
	if (room_join(r, x->c, join_done, w) < 0) {
		free(w);
		equeue_release(x->gw, x->c->conn);
		refuse(x, ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
	}
}

/* ---------------------------------------------------------------- cluster */

/*
 * Multi-server mode: a join is first admitted by the cluster (capacity is
 * cluster-wide, and the room must know the members on other gateways
 * before the joiner's room-state is built).
 */
struct admission {
	struct held	 h;
	check_id_t	 id;
	void		(*then)(struct ctx *, const char *id);
};

static void
admitted(void *arg, enum peers_admit result)
{
	struct admission *a = arg;
	struct ctx x;

	if (resume(&a->h, &x) == 0) {
		if (result == PEERS_FULL)
			refuse(&x, ERR_ROOM_FULL, MSG_ROOM_FULL);
		else
			a->then(&x, a->id);
		resumed_end(&a->h);
	}
	held_free(&a->h);
	free(a);
}

static void
admit(struct ctx *x, const char *room, unsigned max, const char *id,
    void (*then)(struct ctx *, const char *))
{
	struct admission *a = xcalloc(1, sizeof(*a));

	hold(&a->h, x);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->then = then;
	peers_admit(x->gw, x->c, room, max, admitted, a);
}

/* ---------------------------------------------------------------- video */

/* Into video:<id>, leaving the socket's old video room first. */
static void
enter_video(struct ctx *x, const char *id)
{
	char name[BOUND_ROOM_NAME + 1];
	struct room *r;

	snprintf(name, sizeof(name), "video:%s", id);
	r = room_find(x->gw, name);
	if (r != NULL && room_membership(r, x->c) != NULL) {
		succeed(x, "roomId", id);	/* already there */
		return;
	}
	/* One video room per socket: leave the old one first. */
	if (x->c->video != NULL)
		room_leave(x->c->video, IPC_LEAVE_MOVED);
	if (!may_join(x, name))
		return;
	join(x, room_get(x->gw, name), "roomId", id);
}

static void
join_video(struct ctx *x, const char *study)
{
	char name[BOUND_ROOM_NAME + 1];
	check_id_t id;
	struct room *r;
	unsigned max = (unsigned)config_int(&x->gw->cfg, CFG_VIDEO_ROOM_MAX);

	field_id(x, "roomId", id);
	snprintf(name, sizeof(name), "video:%s", id);
	r = room_find(x->gw, name);
	if (r != NULL && room_membership(r, x->c) != NULL) {
		succeed(x, "roomId", id);	/* already there */
		return;
	}
	if ((r != NULL ? r->count : 0) + peers_remote_count(x->gw, name) >= max) {
		refuse(x, ERR_ROOM_FULL, MSG_ROOM_FULL);
		return;
	}
	if (!rooms_may_open(x->gw, name)) {
		refuse(x, ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
		return;
	}
	/* (Leaving the old video room frees a place for the new one.) */
	if (x->c->video == NULL && !may_join(x, name))
		return;
	if (peers_active(x->gw))
		admit(x, name, max, id, enter_video);
	else
		enter_video(x, id);
}

/*
 * The study a call belongs to, by the app's naming: "study-<studyId>"
 * then "-<suffix>" (the app's calls are "study-<studyId>-main").  The
 * suffix is what follows the last '-', so each roomId names exactly one
 * study: "study-s1-main" is study s1's, never study "s1-main"'s.  Other
 * roomIds belong to no study: 1 when room and study disagree.
 */
static int
room_of_other_study(const char *room, const char *study)
{
	const char *rest, *dash;
	size_t n;

	if (strncmp(room, "study-", 6) != 0)
		return 0;
	rest = room + 6;
	dash = strrchr(rest, '-');
	n = dash != NULL ? (size_t)(dash - rest) : strlen(rest);
	return strlen(study) != n || strncmp(rest, study, n) != 0;
}

static void
on_join_room(struct ctx *x)
{
	check_id_t study, room;

	field_id(x, "studyId", study);
	field_id(x, "roomId", room);
	if (room_of_other_study(room, study)) {
		refuse(x, ERR_NOT_MEMBER, MSG_NOT_MEMBER);
		return;
	}
	check_member(x, study, join_video);
}

static void
on_leave_room(struct ctx *x)
{
	struct membership *m = my_video_room(x);

	if (m == NULL)
		return;
	room_leave(m, IPC_LEAVE_LEFT);
	succeed(x, NULL, NULL);
}

/*
 * A relay to a socket of this gateway, written from here rather than
 * through the room's process when that process holds nothing of the room
 * (all it was sent has been handled and what it sent back is written):
 * the recipient then still hears everything in the order it happened
 * (a user-joined before the newcomer's offer).  It saves two IPC hops and
 * a parse and an encode per relay, the bulk of a call's signaling.  The
 * packet is the room process's, {"from": sender, <field>: as sent}, with
 * the sender's own bytes for the field.
 */
static int
relay_here(struct ctx *x, int event, const char *field,
    struct client *target)
{
	struct json_span v;
	struct buf b = BUF_INIT;
	int rc;

	if (!child_quiet(x->c->video->room->child) ||
	    json_member(x->raw, x->raw_len, field, &v) < 0)
		return -1;
	/* With attachments a BINARY_EVENT, the same ones in the same order:
	 * the field's placeholders still say which. */
	if (x->bins != NULL && x->bins->n > 0)
		buf_printf(&b, "5%d-", x->bins->n);
	else
		buf_append_byte(&b, '2');
	buf_printf(&b, "[\"%s\",{\"from\":\"%s\",\"%s\":",
	    ipc_event_name(event), sio_socket_id(x->c->sock), field);
	buf_append(&b, v.p, v.len);
	buf_append_str(&b, "}]");
	rc = sio_send_packet(target->sock, b.data, b.len, x->bins);
	buf_free(&b);
	return rc < 0 ? -1 : 0;
}

static void
relay(struct ctx *x, int event, const char *field)
{
	check_id_t to;
	struct client *target;

	field_id(x, "to", to);
	target = client_by_socket(x->gw, to);
	if (x->c->video != NULL && target == NULL &&
	    peers_has_member(x->gw, x->c->video->room->name, to)) {
		/* On another gateway: its own room process delivers it. */
		if (forward(x, x->c->video->room, event, 0) == 0)
			succeed(x, NULL, NULL);
		return;
	}
	if (x->c->video == NULL || target == NULL || target->video == NULL ||
	    target->video->room != x->c->video->room) {
		refuse(x, ERR_NOT_IN_ROOM, MSG_NO_RECIPIENT);
		return;
	}
	if (relay_here(x, event, field, target) == 0 ||
	    forward(x, x->c->video->room, event, 0) == 0)
		succeed(x, NULL, NULL);
}

static void on_offer(struct ctx *x) { relay(x, IPC_EV_VIDEO_OFFER, "offer"); }
static void on_answer(struct ctx *x) { relay(x, IPC_EV_VIDEO_ANSWER, "answer"); }
static void on_ice(struct ctx *x)
{
	relay(x, IPC_EV_VIDEO_ICE_CANDIDATE, "candidate");
}

/* A status event: store the flag (for replays) and pass it on. */
static void
media_flag(struct ctx *x, int event, const char *field, uint8_t flag)
{
	struct membership *m = my_video_room(x);
	int on;

	if (m == NULL)
		return;
	if (field != NULL)
		on = field_true(x, field);
	else
		on = event == IPC_EV_VIDEO_SCREEN_SHARE_START;
	if (flag != 0) {
		if (on)
			m->flags |= flag;
		else
			m->flags &= (uint8_t)~flag;
	}
	if (forward(x, m->room, event, 0) == 0)
		succeed(x, NULL, NULL);
}

static void
on_toggle_audio(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_TOGGLE_AUDIO, "isMuted", IPC_M_MUTED);
}

static void
on_toggle_video(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_TOGGLE_VIDEO, "isVideoOff", IPC_M_VIDEO_OFF);
}

static void
on_share_start(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_SCREEN_SHARE_START, NULL, IPC_M_SHARING);
}

static void
on_share_stop(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_SCREEN_SHARE_STOP, NULL, IPC_M_SHARING);
}

static void
on_speaking(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_SPEAKING, "speaking", IPC_M_SPEAKING);
}

/* ---------------------------------------------------------------- chat */

static void
video_chat(struct ctx *x, int event, const char *prefix)
{
	struct membership *m = my_video_room(x);

	if (m == NULL)
		return;
	message_id(x, prefix);
	if (forward(x, m->room, event, 0) == 0)
		succeed(x, "messageId", x->msg_id);
}

static void on_video_message(struct ctx *x)
{
	video_chat(x, IPC_EV_CHAT_VIDEO_MESSAGE, "vmsg");
}

static void on_video_file(struct ctx *x)
{
	video_chat(x, IPC_EV_CHAT_VIDEO_FILE, "vfile");
}

/* Deliver a study event, the sender a member or (checked) a guest. */
static void
study_deliver(struct ctx *x, const char *study)
{
	char name[BOUND_ROOM_NAME + 1];
	struct room *r;
	int event = ipc_event_by_name(x->name);
	int guest;

	snprintf(name, sizeof(name), "study:%s", study);
	r = room_find(x->gw, name);
	guest = r == NULL || room_membership(r, x->c) == NULL;
	/* Nobody is in the study room here: nobody here to tell (but
	 * maybe on other gateways). */
	if (r != NULL && r->count > 0 && forward(x, r, event, guest) < 0)
		return;
	if (r == NULL || r->count == 0)
		peers_event(x->gw, name, x->c, event, guest, x->msg_id,
		    x->p, x->raw, x->raw_len, x->bins);
	if (event == IPC_EV_CHAT_SEND_MESSAGE) {
		cJSON *sent = cJSON_CreateObject();

		cJSON_AddTrueToObject(sent, "success");
		cJSON_AddStringToObject(sent, "messageId", x->msg_id);
		sio_emit(x->c->sock, "chat:message-sent", sent, NULL);
		cJSON_Delete(sent);
		succeed(x, "messageId", x->msg_id);
	} else if (event == IPC_EV_CHAT_FILE_UPLOADED)
		succeed(x, "messageId", x->msg_id);
	else
		succeed(x, NULL, NULL);
}

/* A study event: members go straight on, others after a check. */
static void
study_event(struct ctx *x)
{
	check_id_t study;

	field_id(x, "studyId", study);
	if (in_room(x->c, "study:", study) != NULL)
		study_deliver(x, study);
	else
		check_member(x, study, study_deliver);
}

static void
on_send_message(struct ctx *x)
{
	message_id(x, "msg");
	study_event(x);
}

static void
on_file_uploaded(struct ctx *x)
{
	message_id(x, "file");
	study_event(x);
}

static void
on_typing(struct ctx *x)
{
	check_id_t study;
	struct membership *m;

	field_id(x, "studyId", study);
	if ((m = in_room(x->c, "study:", study)) != NULL)
		m->typing = (uint8_t)field_true(x, "isTyping");
	study_event(x);
}

static void
on_mark_read(struct ctx *x)
{
	succeed(x, NULL, NULL);		/* accepted, no effect (as before) */
}

/* ---------------------------------------------------------------- presence */

/* Admitted by the cluster: in, unless another tab of ours got there. */
static void
enter_study(struct ctx *x, const char *study)
{
	char name[BOUND_ROOM_NAME + 1];
	struct room *r;

	snprintf(name, sizeof(name), "study:%s", study);
	r = room_find(x->gw, name);
	if (r != NULL && room_membership(r, x->c) != NULL)
		succeed(x, "studyId", study);
	else if (may_join(x, name))
		join(x, room_get(x->gw, name), "studyId", study);
}

static void
join_study(struct ctx *x, const char *study)
{
	char name[BOUND_ROOM_NAME + 1];
	struct room *r;

	snprintf(name, sizeof(name), "study:%s", study);
	r = room_find(x->gw, name);
	if (r != NULL && room_membership(r, x->c) != NULL)
		succeed(x, "studyId", study);
	else if (!rooms_may_open(x->gw, name))
		refuse(x, ERR_ROOM_UNAVAILABLE, MSG_JOIN_FAIL);
	else if (!may_join(x, name))
		return;
	else if (peers_active(x->gw))
		admit(x, name, 0, study, enter_study);
	else
		enter_study(x, study);
}

static void
on_join_study(struct ctx *x)
{
	check_id_t study;

	field_id(x, "studyId", study);
	check_member(x, study, join_study);
}

static void
on_leave_study(struct ctx *x)
{
	check_id_t study;
	struct membership *m;

	field_id(x, "studyId", study);
	if ((m = in_room(x->c, "study:", study)) == NULL) {
		refuse(x, ERR_NOT_IN_ROOM, MSG_NOT_IN_STUDY);
		return;
	}
	room_leave(m, IPC_LEAVE_LEFT);
	succeed(x, NULL, NULL);
}

/* Fresh TURN credentials (a long call, an ICE restart): the ack is
 * {ok: true, iceServers: [...]}, an empty list without TURN. */
static void
on_get_ice_servers(struct ctx *x)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddTrueToObject(o, "ok");
	cJSON_AddItemToObject(o, "iceServers",
	    turn_ice_servers(x->c->user_id));
	reply_ack(x->c->sock, x->ack, o);
}

static void
on_status_change(struct ctx *x)
{
	struct membership *m;

	for (m = x->c->rooms; m != NULL; m = m->cnext)
		if (m->room->kind == ROOM_STUDY &&
		    forward(x, m->room, IPC_EV_PRESENCE_STATUS_CHANGE, 0) < 0)
			return;
	succeed(x, NULL, NULL);
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
	const char	*name;
	void		(*fn)(struct ctx *);
} handlers[] = {
	{ "video:join-room", on_join_room },
	{ "video:leave-room", on_leave_room },
	{ "video:offer", on_offer },
	{ "video:answer", on_answer },
	{ "video:ice-candidate", on_ice },
	{ "video:toggle-audio", on_toggle_audio },
	{ "video:toggle-video", on_toggle_video },
	{ "video:screen-share-start", on_share_start },
	{ "video:screen-share-stop", on_share_stop },
	{ "video:speaking", on_speaking },
	{ "video:get-ice-servers", on_get_ice_servers },
	{ "chat:send-message", on_send_message },
	{ "chat:video-message", on_video_message },
	{ "chat:video-file", on_video_file },
	{ "chat:file-uploaded", on_file_uploaded },
	{ "chat:typing", on_typing },
	{ "chat:mark-read", on_mark_read },
	{ "presence:join-study", on_join_study },
	{ "presence:leave-study", on_leave_study },
	{ "presence:status-change", on_status_change },
};

/*
 * RATE_LIMIT_EVENTS a second per connection (ratelimit.h).  Returns 0 to
 * go on, -1 refused, -2 the connection was over the limit for too long
 * and has been closed.
 */
static int
rate_check(struct ctx *x)
{
	struct client *c = x->c;
	double rate = (double)config_int(&x->gw->cfg, CFG_RATE_LIMIT_EVENTS);

	switch (rate_take(&c->rate, ev_now(x->gw->loop), rate)) {
	case RATE_OK:
		return 0;
	case RATE_CLOSE:
		x->gw->stats.rate_limited++;
		log_info("socket %s: user %s over the event rate limit for "
		    "%.0f s; disconnecting", sio_socket_id(c->sock), c->user_id,
		    RATE_GRACE_SECS);
		sio_close_connection(c->sock, "rate limit");
		return -2;
	case RATE_REFUSED:
	default:
		x->gw->stats.rate_limited++;
		refuse(x, ERR_RATE_LIMITED, MSG_RATE_LIMITED);
		return -1;
	}
}

/*
 * The event's context: its payload (args[first]) and the text the client
 * wrote for it (element first of the packet's JSON).  -1 when the payload
 * is not an object.
 */
static int
ctx_of(struct ctx *x, struct client *c, const struct sio_event *ev,
    unsigned first)
{
	struct json_span span;

	memset(x, 0, sizeof(*x));
	x->c = c;
	x->gw = c->gw;
	x->ev = ev;
	x->name = ev->name;
	x->ack = ev->ack_id;
	x->bins = ev->bins != NULL && ev->bins->n > 0 ? ev->bins : NULL;
	x->p = cJSON_GetArrayItem(ev->args, (int)first);
	/* Element 0 of the JSON is the name, whatever args hold. */
	if (!cJSON_IsObject(x->p) ||
	    json_element(ev->json, ev->json_len, 1, &span) < 0) {
		x->p = NULL;
		return -1;
	}
	x->raw = span.p;
	x->raw_len = span.len;
	return 0;
}

/* The status events of a call: what a socket that left it still sends
 * for a moment (the app's speaking detector runs on). */
static int
is_call_status(const char *name)
{
	return strcmp(name, "video:speaking") == 0 ||
	    strcmp(name, "video:toggle-audio") == 0 ||
	    strcmp(name, "video:toggle-video") == 0 ||
	    strcmp(name, "video:screen-share-start") == 0 ||
	    strcmp(name, "video:screen-share-stop") == 0;
}

/*
 * A repeat of the state the sender is in already changes nothing: the
 * app sends video:speaking {speaking:true} on every animation frame while
 * its user talks (60-144 a second), and chat:typing as keys are pressed.
 * Such an event is acknowledged and goes no further: room traffic follows
 * changes, not the display's frame rate.
 */
static int
repeats_state(struct ctx *x)
{
	struct membership *m;
	check_id_t id;

	if (strcmp(x->name, "video:speaking") == 0) {
		field_id(x, "roomId", id);
		m = x->c->video;
		return m != NULL && strcmp(m->room->id, id) == 0 &&
		    ((m->flags & IPC_M_SPEAKING) != 0) ==
		    field_true(x, "speaking");
	}
	if (strcmp(x->name, "chat:typing") == 0) {
		field_id(x, "studyId", id);
		m = in_room(x->c, "study:", id);
		return m != NULL && m->typing == field_true(x, "isTyping");
	}
	return 0;
}

/* One event, in its turn (events_dispatch, or the socket's queue). */
static void
dispatch_now(struct client *c, const struct sio_event *ev)
{
	struct ctx x;
	char why[160];
	size_t i;
	int shaped, valid = 0;
	check_id_t id;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].name, ev->name) == 0)
			break;
	if (i == sizeof(handlers) / sizeof(handlers[0])) {
		c->gw->stats.events_ignored++;
		log_debug("socket %s: unknown event %s ignored",
		    sio_socket_id(c->sock), ev->name);
		return;
	}
	shaped = ctx_of(&x, c, ev, 0) == 0;
	if (shaped && x.raw_len > BOUND_PAYLOAD)
		/* What a room process's channel carries (MAX_PAYLOAD is held
		 * to it at start-up; this is where it counts). */
		snprintf(why, sizeof(why), "the payload is larger than %d "
		    "bytes", BOUND_PAYLOAD);
	else if (shaped)
		valid = check_payload(ev->name, x.p,
		    (size_t)config_int(&c->gw->cfg, CFG_CHAT_MAX_LENGTH), why,
		    sizeof(why)) == 0;
	else
		snprintf(why, sizeof(why), "the payload must be an object");
	/* Free of the rate limit: repeats of a state, and status events of
	 * a socket that has just left its call. */
	if (valid && repeats_state(&x)) {
		c->gw->stats.events_absorbed++;
		succeed(&x, NULL, NULL);
		return;
	}
	if (valid && is_call_status(ev->name)) {
		field_id(&x, "roomId", id);
		if (c->video == NULL || strcmp(c->video->room->id, id) != 0) {
			refuse(&x, ERR_NOT_IN_ROOM, MSG_NOT_IN_VIDEO);
			return;
		}
	}
	if (rate_check(&x) < 0)
		return;
	if (!valid) {
		bad_request(&x, why);
		return;
	}
	handlers[i].fn(&x);
}

void
events_dispatch(struct client *c, const struct sio_event *ev)
{
	struct ctx x;

	c->gw->stats.events++;
	if (!equeue_must_wait(c)) {
		dispatch_now(c, ev);
		return;
	}
	/* One of its events is in flight: this one waits its turn. */
	if (equeue_push(c, ev) == 0)
		return;
	ctx_of(&x, c, ev, 0);
	x.gw->stats.rate_limited++;
	refuse(&x, ERR_RATE_LIMITED, MSG_QUEUE_FULL);
}

void
events_init(struct gateway *gw)
{
	equeue_init(gw, dispatch_now);
}
