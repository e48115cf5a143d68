/*
 * events.c - the CoUp events a client sends (contract sections 4-6): each
 * is checked here (shape, rate, membership in the room or the study) and
 * then handed to its room's process, which decides who hears what.
 *
 * Every refusal has a stable code and goes to the sender alone, as the
 * event "error" {message, code} and, when the client asked for an ack,
 * as the ack {ok:false, code, message}; a success acks {ok:true, ...}.
 * Study-scoped joins first ask the CoUp API whether the user is a member;
 * the answer comes later, so such an event waits in a struct check.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "coupapi.h"
#include "ipc.h"
#include "log.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"

#define ID_MAX		128	/* longest roomId, studyId, socket id */
#define STATUS_MAX	32	/* presence status (contract section 6) */
#define RATE_BURST	3	/* bursts of three times the rate */
#define RATE_GRACE_SECS	10.0	/* over the limit this long: disconnect */

#define MSG_NOT_MEMBER	"접근 권한이 없습니다."
#define MSG_CHECK_FAIL	"멤버십 확인에 실패했습니다."
#define MSG_JOIN_FAIL	"방 입장에 실패했습니다."

/* One event being handled. */
struct ctx {
	struct client	*c;
	struct gateway	*gw;
	const char	*name;
	cJSON		*p;		/* the payload object */
	long long	 ack;		/* ack id, or -1 */
};

/* ---------------------------------------------------------------- replies */

static void
ack_with(struct ctx *x, cJSON *obj)
{
	cJSON *args;

	if (x->ack < 0) {
		cJSON_Delete(obj);
		return;
	}
	args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, obj);
	sio_ack(x->c->sock, x->ack, args, NULL);
	cJSON_Delete(args);
}

static void
refuse(struct ctx *x, const char *code, const char *message)
{
	cJSON *err = cJSON_CreateObject(), *a;

	x->gw->stats.errors++;
	cJSON_AddStringToObject(err, "message", message);
	cJSON_AddStringToObject(err, "code", code);
	sio_emit(x->c->sock, "error", err, NULL);
	cJSON_Delete(err);
	a = cJSON_CreateObject();
	cJSON_AddFalseToObject(a, "ok");
	cJSON_AddStringToObject(a, "code", code);
	cJSON_AddStringToObject(a, "message", message);
	ack_with(x, a);
	log_debug("socket %s: %s refused: %s (%s)", sio_socket_id(x->c->sock),
	    x->name, code, message);
}

/* {ok:true} plus, optionally, one string field. */
static void
succeed(struct ctx *x, const char *key, const char *value)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddTrueToObject(a, "ok");
	if (key != NULL)
		cJSON_AddStringToObject(a, key, value);
	ack_with(x, a);
}

static void
bad_request(struct ctx *x, const char *message)
{
	refuse(x, "BAD_REQUEST", message);
}

/* ---------------------------------------------------------------- fields */

/*
 * An id field: a non-empty string of at most ID_MAX bytes, or an integer
 * (the app's ids are strings; numbers are written as decimals).
 */
static int
get_id(struct ctx *x, const char *field, char out[ID_MAX + 1])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->p, field);
	char msg[96];

	if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
	    strlen(v->valuestring) <= ID_MAX) {
		strcpy(out, v->valuestring);
		return 0;
	}
	if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)
	    v->valuedouble) {
		snprintf(out, ID_MAX + 1, "%lld", (long long)v->valuedouble);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s must be a non-empty string of at most "
	    "%d characters", field, ID_MAX);
	bad_request(x, msg);
	return -1;
}

static int
get_bool(struct ctx *x, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->p, field);
	char msg[64];

	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	snprintf(msg, sizeof(msg), "%s must be true or false", field);
	bad_request(x, msg);
	return -1;
}

/* Characters, as the contract counts them: code points of UTF-8. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static const char *
get_text(struct ctx *x, const char *field, size_t max_chars, int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->p, field);
	char msg[96];

	if (v == NULL && !required)
		return "";
	if (!cJSON_IsString(v)) {
		snprintf(msg, sizeof(msg), "%s must be a string", field);
		bad_request(x, msg);
		return NULL;
	}
	if (utf8_chars(v->valuestring) > max_chars) {
		snprintf(msg, sizeof(msg), "%s is longer than %zu characters",
		    field, max_chars);
		bad_request(x, msg);
		return NULL;
	}
	return v->valuestring;
}

static int
has_field(struct ctx *x, const char *field)
{
	char msg[64];

	if (cJSON_GetObjectItemCaseSensitive(x->p, field) != NULL)
		return 1;
	snprintf(msg, sizeof(msg), "%s is missing", field);
	bad_request(x, msg);
	return 0;
}

static size_t
chat_max(struct ctx *x)
{
	return (size_t)config_int(&x->gw->cfg, CFG_CHAT_MAX_LENGTH);
}

/* "msg_<ms>_<socketId>", with "_<n>" when this socket already used that
 * millisecond. */
static void
message_id(struct ctx *x, const char *prefix, char *out, size_t n)
{
	struct client *c = x->c;
	long long ms = timestamp_now_ms();

	if (ms == c->last_id_ms) {
		snprintf(out, n, "%s_%lld_%s_%u", prefix, ms,
		    sio_socket_id(c->sock), ++c->id_seq);
		return;
	}
	c->last_id_ms = ms;
	c->id_seq = 0;
	snprintf(out, n, "%s_%lld_%s", prefix, ms, sio_socket_id(c->sock));
}

/* ---------------------------------------------------------------- rooms */

static struct membership *
in_room(struct client *c, const char *prefix, const char *id)
{
	char name[ID_MAX + 16];
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
	char id[ID_MAX + 1];

	if (get_id(x, "roomId", id) < 0)
		return NULL;
	if (x->c->video == NULL || strcmp(x->c->video->room->id, id) != 0) {
		refuse(x, "NOT_IN_ROOM", "You are not in that video room");
		return NULL;
	}
	return x->c->video;
}

/* Hand the event to the room's process; 0, or -1 having refused it. */
static int
forward(struct ctx *x, struct room *r, int event, int guest)
{
	if (room_event(r, x->c, event, guest, x->p) < 0) {
		refuse(x, "ROOM_UNAVAILABLE", MSG_JOIN_FAIL);
		return -1;
	}
	cluster_event(x->gw, r->name, x->c, event, guest, x->p);
	return 0;
}

/* ---------------------------------------------------------------- checks */

/* What to do once the API said whether the user is a member. */
typedef void (*after_check)(struct ctx *, const char *study_id);

struct check {
	struct pending_check	 pc;
	struct ctx		 x;
	char			 study[ID_MAX + 1];
	char			*name;
	after_check		 then;
};

static void
check_done(void *arg, enum coupapi_member answer)
{
	struct check *ck = arg;
	struct client *c = ck->x.c;
	struct pending_check **pp;

	for (pp = &c->checks; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &ck->pc) {
			*pp = ck->pc.next;
			break;
		}
	switch (answer) {
	case COUPAPI_MEMBER_YES:
		ck->then(&ck->x, ck->study);
		break;
	case COUPAPI_MEMBER_NO:
		refuse(&ck->x, "NOT_MEMBER", MSG_NOT_MEMBER);
		break;
	case COUPAPI_MEMBER_FAILED:
		if (c->gw->development) {
			log_warnx("membership of user %s in study %s could not "
			    "be checked; allowed (development mode)",
			    c->user_id, ck->study);
			ck->then(&ck->x, ck->study);
		} else
			refuse(&ck->x, "MEMBERSHIP_CHECK_FAILED",
			    MSG_CHECK_FAIL);
		break;
	}
	cJSON_Delete(ck->x.p);
	free(ck->name);
	free(ck);
}

/* Ask whether the sender is a member of study, then go on with `then`. */
static void
check_member(struct ctx *x, const char *study, after_check then)
{
	struct check *ck = calloc(1, sizeof(*ck));

	if (ck == NULL || (ck->name = strdup(x->name)) == NULL)
		fatal("calloc");
	ck->x = *x;
	ck->x.name = ck->name;
	ck->x.p = cJSON_Duplicate(x->p, 1);
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
		struct check *ck = pc->ctx;

		c->checks = pc->next;
		coupapi_cancel(pc->req);
		cJSON_Delete(ck->x.p);
		free(ck->name);
		free(ck);
	}
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
	char		 id[ID_MAX + 1];
};

static void
join_done(void *arg, int processed)
{
	struct join_wait *w = arg;
	struct client *c = client_find(w->gw, w->conn);

	if (c != NULL) {
		struct ctx x = { c, w->gw, "join", NULL, w->ack };

		if (processed)
			succeed(&x, w->key, w->id);
		else if (x.ack >= 0) {
			cJSON *a = cJSON_CreateObject();

			/* The error event came with room_unavailable(). */
			cJSON_AddFalseToObject(a, "ok");
			cJSON_AddStringToObject(a, "code", "ROOM_UNAVAILABLE");
			cJSON_AddStringToObject(a, "message", MSG_JOIN_FAIL);
			ack_with(&x, a);
		}
	}
	free(w);
}

static void
join(struct ctx *x, struct room *r, const char *key, const char *id)
{
	struct join_wait *w = calloc(1, sizeof(*w));

	if (w == NULL)
		fatal("calloc");
	w->gw = x->gw;
	w->conn = x->c->conn;
	w->ack = x->ack;
	snprintf(w->key, sizeof(w->key), "%s", key);
	snprintf(w->id, sizeof(w->id), "%s", id);
	if (room_join(r, x->c, join_done, w) < 0) {
		free(w);
		refuse(x, "ROOM_UNAVAILABLE", MSG_JOIN_FAIL);
	}
}

/* ---------------------------------------------------------------- cluster */

/*
 * Multi-server mode: a join is first admitted by the cluster (capacity is
 * cluster-wide, and the room must know the members on other gateways
 * before the joiner's room-state is built).  The client may be gone by
 * the time the answer comes.
 */
struct admission {
	struct gateway	*gw;
	uint64_t	 conn;
	long long	 ack;
	char		*name;
	cJSON		*p;
	char		 id[ID_MAX + 1];
	void		(*then)(struct ctx *, const char *id);
};

static void
admitted(void *arg, int result)
{
	struct admission *a = arg;
	struct client *c = client_find(a->gw, a->conn);

	if (c != NULL) {
		struct ctx x = { c, a->gw, a->name, a->p, a->ack };

		if (result == CLUSTER_FULL)
			refuse(&x, "ROOM_FULL", "The video room is full");
		else
			a->then(&x, a->id);
	}
	cJSON_Delete(a->p);
	free(a->name);
	free(a);
}

static void
admit(struct ctx *x, const char *room, unsigned max, const char *id,
    void (*then)(struct ctx *, const char *))
{
	struct admission *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->name = strdup(x->name)) == NULL ||
	    (a->p = cJSON_Duplicate(x->p, 1)) == NULL)
		fatal("calloc");
	a->gw = x->gw;
	a->conn = x->c->conn;
	a->ack = x->ack;
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->then = then;
	cluster_admit(x->gw, x->c, room, max, admitted, a);
}

/* ---------------------------------------------------------------- video */

/* Into video:<id>, leaving the socket's old video room first. */
static void
enter_video(struct ctx *x, const char *id)
{
	char name[ID_MAX + 8];
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
	join(x, room_get(x->gw, name), "roomId", id);
}

static void
join_video(struct ctx *x, const char *study)
{
	char id[ID_MAX + 1], name[ID_MAX + 8];
	struct room *r;
	unsigned max = (unsigned)config_int(&x->gw->cfg, CFG_VIDEO_ROOM_MAX);

	if (get_id(x, "roomId", id) < 0)
		return;
	snprintf(name, sizeof(name), "video:%s", id);
	r = room_find(x->gw, name);
	if (r != NULL && room_membership(r, x->c) != NULL) {
		succeed(x, "roomId", id);	/* already there */
		return;
	}
	if ((r != NULL ? r->count : 0) + cluster_remote_count(name) >= max) {
		refuse(x, "ROOM_FULL", "The video room is full");
		return;
	}
	if (!rooms_may_open(x->gw, name)) {
		refuse(x, "ROOM_UNAVAILABLE", MSG_JOIN_FAIL);
		return;
	}
	if (cluster_active())
		admit(x, name, max, id, enter_video);
	else
		enter_video(x, id);
}

static void
ev_join_room(struct ctx *x)
{
	char study[ID_MAX + 1], room[ID_MAX + 1], prefix[ID_MAX + 16];
	size_t n;

	if (get_id(x, "studyId", study) < 0 || get_id(x, "roomId", room) < 0)
		return;
	/* The app names a study's call "study-<studyId>-...": such a room
	 * belongs to that study, whatever studyId the client claims. */
	if (strncmp(room, "study-", 6) == 0) {
		n = (size_t)snprintf(prefix, sizeof(prefix), "study-%s", study);
		if (strncmp(room, prefix, n) != 0 ||
		    (room[n] != '\0' && room[n] != '-')) {
			refuse(x, "NOT_MEMBER", MSG_NOT_MEMBER);
			return;
		}
	}
	check_member(x, study, join_video);
}

static void
ev_leave_room(struct ctx *x)
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
 * packet is the room process's: {"from": sender, <field>: as sent}.
 */
static int
relay_here(struct ctx *x, int event, const char *field,
    struct client *target)
{
	cJSON *out;
	int rc;

	if (!child_quiet(x->c->video->room->child))
		return -1;
	out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "from", sio_socket_id(x->c->sock));
	cJSON_AddItemReferenceToObject(out, field,
	    cJSON_GetObjectItemCaseSensitive(x->p, field));
	rc = sio_emit(target->sock, ipc_event_name(event), out, NULL);
	cJSON_Delete(out);
	return rc < 0 ? -1 : 0;
}

static void
relay(struct ctx *x, int event, const char *field)
{
	char to[ID_MAX + 1];
	struct client *target;

	if (get_id(x, "to", to) < 0 || !has_field(x, field))
		return;
	target = client_by_socket(x->gw, to);
	if (x->c->video != NULL && target == NULL &&
	    cluster_has_member(x->c->video->room->name, to)) {
		/* On another gateway: its own room process delivers it. */
		if (forward(x, x->c->video->room, event, 0) == 0)
			succeed(x, NULL, NULL);
		return;
	}
	if (x->c->video == NULL || target == NULL || target->video == NULL ||
	    target->video->room != x->c->video->room) {
		refuse(x, "NOT_IN_ROOM", "The recipient is not in your video "
		    "room");
		return;
	}
	if (relay_here(x, event, field, target) == 0 ||
	    forward(x, x->c->video->room, event, 0) == 0)
		succeed(x, NULL, NULL);
}

static void ev_offer(struct ctx *x) { relay(x, IPC_EV_VIDEO_OFFER, "offer"); }
static void ev_answer(struct ctx *x) { relay(x, IPC_EV_VIDEO_ANSWER, "answer"); }
static void ev_ice(struct ctx *x)
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
	if (field != NULL) {
		if ((on = get_bool(x, field)) < 0)
			return;
	} else
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
ev_toggle_audio(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_TOGGLE_AUDIO, "isMuted", IPC_M_MUTED);
}

static void
ev_toggle_video(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_TOGGLE_VIDEO, "isVideoOff", IPC_M_VIDEO_OFF);
}

static void
ev_share_start(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_SCREEN_SHARE_START, NULL, IPC_M_SHARING);
}

static void
ev_share_stop(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_SCREEN_SHARE_STOP, NULL, IPC_M_SHARING);
}

static void
ev_speaking(struct ctx *x)
{
	media_flag(x, IPC_EV_VIDEO_SPEAKING, "speaking", 0);
}

/* ---------------------------------------------------------------- chat */

static void
video_chat(struct ctx *x, int event, const char *prefix)
{
	struct membership *m = my_video_room(x);
	char id[ID_MAX + 64];

	if (m == NULL)
		return;
	if (event == IPC_EV_CHAT_VIDEO_MESSAGE) {
		if (get_text(x, "message", chat_max(x), 1) == NULL)
			return;
	} else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(x->p,
	    "file"))) {
		bad_request(x, "file must be an object");
		return;
	}
	message_id(x, prefix, id, sizeof(id));
	cJSON_DeleteItemFromObjectCaseSensitive(x->p, "id");
	cJSON_AddStringToObject(x->p, "id", id);
	if (forward(x, m->room, event, 0) == 0)
		succeed(x, "messageId", id);
}

static void ev_video_message(struct ctx *x)
{
	video_chat(x, IPC_EV_CHAT_VIDEO_MESSAGE, "vmsg");
}

static void ev_video_file(struct ctx *x)
{
	video_chat(x, IPC_EV_CHAT_VIDEO_FILE, "vfile");
}

static int
event_of(const char *name)
{
	return ipc_event_by_name(name);
}

/* Deliver a study event, the sender a member or (checked) a guest. */
static void
study_deliver(struct ctx *x, const char *study)
{
	char name[ID_MAX + 8];
	struct room *r;
	int event = event_of(x->name);
	int guest;

	snprintf(name, sizeof(name), "study:%s", study);
	r = room_find(x->gw, name);
	guest = r == NULL || room_membership(r, x->c) == NULL;
	/* Nobody is in the study room here: nobody here to tell (but
	 * maybe on other gateways). */
	if (r != NULL && r->count > 0 && forward(x, r, event, guest) < 0)
		return;
	if (r == NULL || r->count == 0)
		cluster_event(x->gw, name, x->c, event, guest, x->p);
	if (event == IPC_EV_CHAT_SEND_MESSAGE) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(x->p, "id");
		cJSON *sent = cJSON_CreateObject();

		cJSON_AddTrueToObject(sent, "success");
		cJSON_AddStringToObject(sent, "messageId", id->valuestring);
		sio_emit(x->c->sock, "chat:message-sent", sent, NULL);
		cJSON_Delete(sent);
		succeed(x, "messageId", id->valuestring);
	} else if (event == IPC_EV_CHAT_FILE_UPLOADED) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(x->p, "id");

		succeed(x, "messageId", id->valuestring);
	} else
		succeed(x, NULL, NULL);
}

/* A study event: members go straight on, others after a check. */
static void
study_event(struct ctx *x, const char *study)
{
	if (in_room(x->c, "study:", study) != NULL)
		study_deliver(x, study);
	else
		check_member(x, study, study_deliver);
}

static void
ev_send_message(struct ctx *x)
{
	char study[ID_MAX + 1], id[ID_MAX + 64];
	const char *type;

	if (get_id(x, "studyId", study) < 0 ||
	    get_text(x, "message", chat_max(x), 1) == NULL ||
	    (type = get_text(x, "type", STATUS_MAX, 0)) == NULL)
		return;
	if (*type == '\0') {
		cJSON_DeleteItemFromObjectCaseSensitive(x->p, "type");
		cJSON_AddStringToObject(x->p, "type", "text");
	}
	message_id(x, "msg", id, sizeof(id));
	cJSON_DeleteItemFromObjectCaseSensitive(x->p, "id");
	cJSON_AddStringToObject(x->p, "id", id);
	study_event(x, study);
}

static void
ev_file_uploaded(struct ctx *x)
{
	char study[ID_MAX + 1], id[ID_MAX + 64];

	if (get_id(x, "studyId", study) < 0)
		return;
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(x->p, "file"))) {
		bad_request(x, "file must be an object");
		return;
	}
	message_id(x, "file", id, sizeof(id));
	cJSON_DeleteItemFromObjectCaseSensitive(x->p, "id");
	cJSON_AddStringToObject(x->p, "id", id);
	study_event(x, study);
}

static void
ev_typing(struct ctx *x)
{
	char study[ID_MAX + 1];

	if (get_id(x, "studyId", study) < 0 || get_bool(x, "isTyping") < 0)
		return;
	study_event(x, study);
}

static void
ev_mark_read(struct ctx *x)
{
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(x->p,
	    "messageIds"))) {
		bad_request(x, "messageIds must be an array");
		return;
	}
	succeed(x, NULL, NULL);		/* accepted, no effect (as before) */
}

/* ---------------------------------------------------------------- presence */

/* Admitted by the cluster: in, unless another tab of ours got there. */
static void
enter_study(struct ctx *x, const char *study)
{
	char name[ID_MAX + 8];
	struct room *r;

	snprintf(name, sizeof(name), "study:%s", study);
	r = room_get(x->gw, name);
	if (room_membership(r, x->c) != NULL)
		succeed(x, "studyId", study);
	else
		join(x, r, "studyId", study);
}

static void
join_study(struct ctx *x, const char *study)
{
	char name[ID_MAX + 8];
	struct room *r;

	snprintf(name, sizeof(name), "study:%s", study);
	r = room_find(x->gw, name);
	if (r != NULL && room_membership(r, x->c) != NULL)
		succeed(x, "studyId", study);
	else if (!rooms_may_open(x->gw, name))
		refuse(x, "ROOM_UNAVAILABLE", MSG_JOIN_FAIL);
	else if (cluster_active())
		admit(x, name, 0, study, enter_study);
	else
		join(x, room_get(x->gw, name), "studyId", study);
}

static void
ev_join_study(struct ctx *x)
{
	char study[ID_MAX + 1];

	if (get_id(x, "studyId", study) < 0)
		return;
	check_member(x, study, join_study);
}

static void
ev_leave_study(struct ctx *x)
{
	char study[ID_MAX + 1];
	struct membership *m;

	if (get_id(x, "studyId", study) < 0)
		return;
	if ((m = in_room(x->c, "study:", study)) == NULL) {
		refuse(x, "NOT_IN_ROOM", "You are not in that study");
		return;
	}
	room_leave(m, IPC_LEAVE_LEFT);
	succeed(x, NULL, NULL);
}

static void
ev_status_change(struct ctx *x)
{
	struct membership *m;

	if (get_text(x, "status", STATUS_MAX, 1) == NULL)
		return;
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
	{ "video:join-room", ev_join_room },
	{ "video:leave-room", ev_leave_room },
	{ "video:offer", ev_offer },
	{ "video:answer", ev_answer },
	{ "video:ice-candidate", ev_ice },
	{ "video:toggle-audio", ev_toggle_audio },
	{ "video:toggle-video", ev_toggle_video },
	{ "video:screen-share-start", ev_share_start },
	{ "video:screen-share-stop", ev_share_stop },
	{ "video:speaking", ev_speaking },
	{ "chat:send-message", ev_send_message },
	{ "chat:video-message", ev_video_message },
	{ "chat:video-file", ev_video_file },
	{ "chat:file-uploaded", ev_file_uploaded },
	{ "chat:typing", ev_typing },
	{ "chat:mark-read", ev_mark_read },
	{ "presence:join-study", ev_join_study },
	{ "presence:leave-study", ev_leave_study },
	{ "presence:status-change", ev_status_change },
};

/*
 * A token bucket per connection: RATE_LIMIT_EVENTS a second, bursts of
 * RATE_BURST times that.  Returns 0 to go on, -1 refused, -2 the
 * connection was over the limit for too long and has been closed.
 */
static int
rate_check(struct ctx *x)
{
	struct client *c = x->c;
	double rate = (double)config_int(&x->gw->cfg, CFG_RATE_LIMIT_EVENTS);
	double cap = rate * RATE_BURST, now = ev_now(x->gw->loop);

	if (c->tokens < 0) {
		c->tokens = cap;
		c->refilled = now;
	}
	c->tokens += (now - c->refilled) * rate;
	if (c->tokens > cap)
		c->tokens = cap;
	c->refilled = now;
	if (c->tokens >= 1) {
		c->tokens -= 1;
		return 0;
	}
	x->gw->stats.rate_limited++;
	/* Over the limit: refused events without a quiet second between
	 * them (a flood gets some events through as the bucket refills, and
	 * is still a flood). */
	if (c->over_since == 0 || now - c->last_refused > 1.0)
		c->over_since = now;
	c->last_refused = now;
	if (now - c->over_since > RATE_GRACE_SECS) {
		log_info("socket %s: user %s over the event rate limit for "
		    "%.0f s; disconnecting", sio_socket_id(c->sock), c->user_id,
		    RATE_GRACE_SECS);
		sio_close_connection(c->sock, "rate limit");
		return -2;
	}
	refuse(x, "RATE_LIMITED", "Too many events; slow down");
	return -1;
}

void
events_dispatch(struct client *c, const char *name, cJSON *args,
    const struct sio_bins *bins, long long ack_id)
{
	struct ctx x = { c, c->gw, name, NULL, ack_id };
	size_t i;

	c->gw->stats.events++;
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].name, name) == 0)
			break;
	if (i == sizeof(handlers) / sizeof(handlers[0])) {
		c->gw->stats.events_ignored++;
		log_debug("socket %s: unknown event %s ignored",
		    sio_socket_id(c->sock), name);
		return;
	}
	if (rate_check(&x) < 0)
		return;
	x.p = cJSON_GetArrayItem(args, 0);
	if (!cJSON_IsObject(x.p)) {
		x.p = NULL;
		bad_request(&x, "the payload must be an object");
		return;
	}
	if (bins != NULL && bins->n > 0) {
		bad_request(&x, "binary attachments are not accepted here");
		return;
	}
	handlers[i].fn(&x);
}
