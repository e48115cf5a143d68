/*
 * main.c - coup-roomd: one room's process, started by coup-gateway.
 *
 * It finds its end of the IPC socketpair on IPC_CHILD_FD, says HELLO with
 * its protocol version, learns its room from ROOM_OPEN, then turns JOIN,
 * LEAVE and EVENT messages into SEND messages ("this packet to these
 * connections").  It never touches the network.  It trusts its gateway: a
 * malformed message is fatal here.  It exits when the gateway goes away
 * (EOF on the channel) or says EXIT.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bounds.h"
#include "ipc.h"
#include "json.h"
#include "ipc_msg.h"
#include "log.h"
#include "room.h"
#include "xmalloc.h"

/* What may wait for the gateway to read; a gateway this far behind is
 * stuck, and the room cannot help it. */
#define ROOMD_SENDQ_MAX		(64u * 1024 * 1024)

static struct room room;
/* The last gateway message handled, and the last one we reported. */
static uint32_t processed, reported;
/*
 * A spare (started ahead of need, "--spare") learns its room only from
 * ROOM_OPEN and then puts the room's name where ps(1) and /proc/PID/cmdline
 * look: the bytes of its own arguments, which the gateway padded for it.
 */
static char *title_at;
static size_t title_space;
/*
 * Fault injection for the tests of what the gateway does when a room
 * process dies on a message or at start: COUP_ROOMD_FAULT=abort-on:TEXT
 * makes this process abort on an event whose payload contains TEXT, or
 * when its room's name does.  Unset in any real deployment (coup-roomd(8),
 * ENVIRONMENT).
 */
static const char *fault_text;

static void
set_title(const char *name)
{
	size_t n = strlen(name);

	if (title_at == NULL || title_space == 0)
		return;
	if (n >= title_space)
		n = title_space - 1;	/* a clipped name beats none */
	memcpy(title_at, name, n);
	memset(title_at + n, '\0', title_space - n);
}

static void
free_member(struct member *m)
{
	free(m->socket_id);
	free(m->user_id);
	free(m->status);
	cJSON_Delete(m->user);
	free(m);
}

static char *
dup_str(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static cJSON *
parse_json(const char *s, size_t n, const char *what)
{
	cJSON *j = cJSON_ParseWithLength(s, n);

	if (j == NULL)
		fatalx("gateway sent malformed JSON in %s", what);
	return j;
}

static void
on_room_open(const struct ipc_msg *msg)
{
	struct ipc_room_open o;
	const char *name;
	size_t n;

	if (ipc_get_room_open(msg->body, msg->len, &o) < 0 ||
	    o.log_level > LOG_LEVEL_DEBUG)
		fatalx("malformed ROOM_OPEN");
	name = o.room.p;
	n = o.room.len;
	log_set_level(o.log_level);
	if (fault_text != NULL && memmem(name, n, fault_text,
	    strlen(fault_text)) != NULL) {
		log_warnx("COUP_ROOMD_FAULT: aborting on the room, as asked");
		abort();
	}
	free(room.name);
	room.name = dup_str(name, n);
	room.id = strchr(room.name, ':') ? strchr(room.name, ':') + 1 :
	    room.name;
	room.kind = strncmp(room.name, "video:", 6) == 0 ? ROOM_VIDEO :
	    ROOM_STUDY;
	if (title_at != NULL) {
		char procname[128];

		snprintf(procname, sizeof(procname), "room %s", room.name);
		log_set_procname(procname);
		set_title(room.name);
		title_at = NULL;	/* one room per process */
	}
	log_debug("serving %s", room.name);
}

static char *
dup_ipc_str(struct ipc_str s)
{
	return dup_str(s.p, s.len);
}

static void
on_join(const struct ipc_msg *msg)
{
	struct ipc_join j;
	struct member *m;

	if (ipc_get_join(msg->body, msg->len, &j) < 0)
		fatalx("malformed JOIN");
	if (room_find(&room, j.conn) != NULL)
		fatalx("JOIN of connection %llu twice",
		    (unsigned long long)j.conn);
	m = xcalloc(1, sizeof(*m));
	m->conn = j.conn;
	m->flags = j.flags;
	m->joined_at = j.joined_at;
	m->socket_id = dup_ipc_str(j.socket_id);
	m->user_id = dup_ipc_str(j.user_id);
	m->user = parse_json(j.user.p, j.user.len, "JOIN");
	m->next = room.members;
	room.members = m;
	room.count++;
	if (room.kind == ROOM_VIDEO)
		video_join(&room, m, m->flags & IPC_M_REPLAY, j.ice.len > 0 ?
		    parse_json(j.ice.p, j.ice.len, "JOIN's ICE servers") : NULL);
	else
		presence_join(&room, m, m->flags & IPC_M_REPLAY);
}

static void
on_leave(const struct ipc_msg *msg)
{
	struct ipc_leave l;
	struct member **pp, *m;

	if (ipc_get_leave(msg->body, msg->len, &l) < 0)
		fatalx("malformed LEAVE");
	for (pp = &room.members; (m = *pp) != NULL; pp = &m->next)
		if (m->conn == l.conn)
			break;
	if (m == NULL)
		return;		/* raced with a restart: nothing to undo */
	*pp = m->next;
	room.count--;
	if (room.kind == ROOM_VIDEO)
		video_leave(&room, m);
	else
		presence_leave(&room, m);
	free_member(m);
}

/* A member's connection id changes (its session moved between this
 * gateway's clients and its mirror of another gateway's): nothing else. */
static void
on_reconn(const struct ipc_msg *msg)
{
	struct ipc_reconn rc;
	struct member *m;

	if (ipc_get_reconn(msg->body, msg->len, &rc) < 0)
		fatalx("malformed RECONN");
	if (room_find(&room, rc.to) != NULL)
		fatalx("RECONN to connection %llu, a member already",
		    (unsigned long long)rc.to);
	if ((m = room_find(&room, rc.from)) == NULL)
		return;		/* raced with a restart: it has the new one */
	m->conn = rc.to;
}

static void
fault_check(const struct event *e)
{
	if (fault_text != NULL && memmem(e->raw, e->raw_len, fault_text,
	    strlen(fault_text)) != NULL) {
		log_warnx("COUP_ROOMD_FAULT: aborting on an event, as asked");
		abort();
	}
}

static void
on_event(const struct ipc_msg *msg)
{
	struct ipc_event_msg in;
	struct sender s;
	struct event e;
	cJSON *guest_user = NULL;
	char *msg_id;

	if (ipc_get_event(msg->body, msg->len, &in) < 0)
		fatalx("malformed EVENT");
	memset(&s, 0, sizeof(s));
	s.conn = in.conn;
	if (in.flags & IPC_E_GUEST) {
		s.socket_id = dup_ipc_str(in.socket_id);
		s.user_id = dup_ipc_str(in.user_id);
		s.user = guest_user = parse_json(in.user.p, in.user.len,
		    "EVENT guest");
	} else {
		s.member = room_find(&room, s.conn);
		if (s.member == NULL)
			return;	/* left in the meantime: the event dies too */
		s.socket_id = s.member->socket_id;
		s.user_id = s.member->user_id;
		s.user = s.member->user;
	}
	e.kind = in.event;
	e.raw = in.payload.p;
	e.raw_len = in.payload.len;
	e.p = parse_json(in.payload.p, in.payload.len, "EVENT");
	e.msg_id = msg_id = dup_ipc_str(in.msg_id);
	e.bins = &in.bins;
	fault_check(&e);
	switch (e.kind) {
	case IPC_EV_CHAT_SEND_MESSAGE:
	case IPC_EV_CHAT_VIDEO_MESSAGE:
	case IPC_EV_CHAT_VIDEO_FILE:
	case IPC_EV_CHAT_FILE_UPLOADED:
	case IPC_EV_CHAT_TYPING:
		chat_event(&room, &s, &e);
		break;
	case IPC_EV_PRESENCE_STATUS_CHANGE:
		presence_event(&room, &s, &e);
		break;
	default:
		video_event(&room, &s, &e);
		break;
	}
	cJSON_Delete(e.p);
	free(msg_id);
	if (in.flags & IPC_E_GUEST) {
		free((char *)s.socket_id);
		free((char *)s.user_id);
		cJSON_Delete(guest_user);
	}
}

/*
 * Once per loop iteration, after everything read in it was handled, tell
 * the gateway how far we got: it keeps what we have not handled, to give
 * it to our successor if we die.
 */
static void
report_processed(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct buf b = BUF_INIT;

	if (processed == reported || room.chan == NULL)
		return;
	ipc_put_processed(&b, &(struct ipc_processed){ processed });
	if (ipc_send(room.chan, IPC_PROCESSED, b.data, b.len) < 0)
		fatalx("the gateway is not reading");
	reported = processed;
	buf_free(&b);
}

static void
on_message(struct ipc_chan *chan, const struct ipc_msg *msg, void *arg)
{
	struct ipc_log_level l;

	processed = msg->seq;
	switch (msg->type) {
	case IPC_ROOM_OPEN:
		on_room_open(msg);
		break;
	case IPC_JOIN:
		on_join(msg);
		break;
	case IPC_LEAVE:
		on_leave(msg);
		break;
	case IPC_EVENT:
		on_event(msg);
		break;
	case IPC_RECONN:
		on_reconn(msg);
		break;
	case IPC_LOG_LEVEL:
		if (ipc_get_log_level(msg->body, msg->len, &l) < 0 ||
		    l.level > LOG_LEVEL_DEBUG)
			fatalx("malformed LOG_LEVEL");
		log_set_level(l.level);
		log_debug("log level set by the gateway");
		break;
	case IPC_EXIT:
		if (ipc_get_exit(msg->body, msg->len) < 0)
			fatalx("malformed EXIT");
		log_debug("told to exit");
		ev_break(EV_DEFAULT, EVBREAK_ALL);
		break;
	default:
		fatalx("unexpected %s from the gateway",
		    ipc_type_name(msg->type));
	}
}

static void
on_error(struct ipc_chan *chan, const char *why, void *arg)
{
	if (why == NULL) {
		log_debug("gateway went away");
		exit(0);
	}
	fatalx("bad message from the gateway: %s", why);
}

/*
 * A room needs no privilege at all: no children, no other user's
 * rights.  Started by root (a gateway that has not dropped its own
 * privileges yet, or a developer's quick start), become nobody.  Nothing
 * here is fatal: a room that cannot drop still serves its room.
 */
static void
drop_privileges(void)
{
	struct passwd *pw;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_NO_NEW_PRIVS)");
#if !defined(__SANITIZE_ADDRESS__)
	/* (LeakSanitizer needs a thread of its own at exit.)  No file-size
	 * limit: stderr may be the gateway's log file. */
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_NPROC, &none) < 0)
		log_warn("setrlimit(RLIMIT_NPROC)");
#endif
	if (geteuid() != 0)
		return;
	if ((pw = getpwnam("nobody")) == NULL) {
		log_warnx("no user \"nobody\"; the room keeps root's rights");
		return;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		log_warn("cannot become nobody");
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static const struct ipc_callbacks cbs = { on_message, on_error };
	struct ev_loop *loop = EV_DEFAULT;
	struct buf hello = BUF_INIT;
	char procname[128];
	ev_signal sigterm, sigint;
	ev_prepare reporter;
	int flags;

	const char *name = NULL;
	int spare = 0, use_syslog = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--syslog") == 0)
			use_syslog = 1;
		else if (strcmp(argv[i], "--spare") == 0)
			spare = 1;
		else if (argv[i][0] == '-')
			bad = 1;		/* --help too */
		else if (name == NULL)
			name = argv[i];
		/* else: a spare's title space (blanks) */
	}
	if (spare)
		name = NULL;		/* the blanks are no room */
	if (bad || (name == NULL && !spare)) {
		fprintf(stderr, "usage: coup-roomd ROOM [--syslog]\n"
		    "       coup-roomd --spare [--syslog] [TITLE-SPACE]\n"
		    "(started by coup-gateway, with its channel on descriptor "
		    "%d)\n", IPC_CHILD_FD);
		return 2;
	}
	if (spare) {
		/* argv[1] .. the end of the last argument: one block. */
		title_at = argv[1];
		title_space = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) +
		    1 - argv[1]);
	}
	if ((fault_text = getenv("COUP_ROOMD_FAULT")) != NULL) {
		if (strncmp(fault_text, "abort-on:", 9) == 0 &&
		    fault_text[9] != '\0')
			fault_text += 9;
		else
			fault_text = NULL;
	}
	snprintf(procname, sizeof(procname), "room %s", spare ? "(spare)" :
	    name);
	log_init(procname, LOG_LEVEL_INFO);
	json_use_xmalloc();
	if (use_syslog)
		log_to_syslog(1);	/* a daemon's room: no stderr to speak of */
	/* Belt and braces: EOF on the channel already tells us. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	if ((flags = fcntl(IPC_CHILD_FD, F_GETFL)) < 0 ||
	    fcntl(IPC_CHILD_FD, F_SETFL, flags | O_NONBLOCK) < 0)
		fatal("no IPC channel on descriptor %d", IPC_CHILD_FD);
	drop_privileges();

	room.chan = ipc_chan_new(loop, IPC_CHILD_FD, ROOMD_SENDQ_MAX, &cbs,
	    NULL);
	ipc_put_hello(&hello, &(struct ipc_hello){ IPC_VERSION,
	    (uint32_t)getpid() });
	if (ipc_send(room.chan, IPC_HELLO, hello.data, hello.len) < 0)
		fatalx("cannot greet the gateway");
	buf_free(&hello);

	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_prepare_init(&reporter, report_processed);
	ev_prepare_start(loop, &reporter);
	ev_unref(loop);		/* it must not keep the loop alive alone */
	ev_run(loop, 0);
	log_debug("exiting with %u members", room.count);
	return 0;
}
