/*
 * control.c - the control socket coupctl(8) talks to (protocol in
 * control.h): who may connect, reading one request line, answering it.
 * The line is parsed and checked by control_parse() (control_req.c);
 * the handlers here get only what passed there.
 *
 * The socket file is mode 0660 and its group CONTROL_GROUP, so the file
 * system already keeps strangers out; the peer's credentials are checked
 * again on every connection all the same.  It is made (runfile.c) as the
 * user the gateway starts as, before it becomes RUN_USER, without
 * following a link anyone else could have put in its place.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "autoconfig.h"
#include "control_req.h"
#include "lifecycle.h"
#include "peers.h"
#include "control.h"
#include "eio_server.h"
#include "gateway.h"
#include "ipc.h"
#include "figures.h"
#include "log.h"
#include "replies.h"
#include "rooms.h"
#include "runfile.h"
#include "sio_server.h"
#include "timestamp.h"
#include "xmalloc.h"

struct ctl_conn {
	struct control	*ctl;
	struct ctl_conn	*next;
	int		 fd;
	ev_io		 io;
	ev_timer	 idle;		/* a client that says nothing goes */
	struct buf	 in;
	struct buf	 out;
	size_t		 off;
};

/*
 * accept() failing for want of descriptors leaves the client in the queue
 * and the socket readable: accepting pauses this long, lest the loop spin,
 * and the failure is logged at most once per CONTROL_WARN_SECS.
 */
#define CONTROL_ACCEPT_PAUSE	0.5
#define CONTROL_WARN_SECS	10.0

struct control {
	struct gateway	*gw;
	int		 fd;
	ev_io		 io;
	ev_timer	 pause;		/* accepting again when it fires */
	double		 warned;	/* when accept's failure was logged */
	struct runfile	 file;		/* the socket's */
	gid_t		 group;
	struct ctl_conn	*conns;
};

/* ---------------------------------------------------------------- answers */

static cJSON *
ok_answer(cJSON *data)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddTrueToObject(a, "ok");
	cJSON_AddItemToObject(a, "data", data ? data : cJSON_CreateNull());
	return a;
}

static cJSON *
err_answer(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static cJSON *
err_answer(const char *code, const char *fmt, ...)
{
	cJSON *a = cJSON_CreateObject();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddFalseToObject(a, "ok");
	cJSON_AddStringToObject(a, "error", msg);
	cJSON_AddStringToObject(a, "code", code);
	return a;
}

/* "websocket", "polling", or "held" while its connection is lost and its
 * session kept for it (RECOVERY_WINDOW_MS). */
static const char *
transport_of(const struct client *c)
{
	return sio_socket_held(c->sock) ? "held" :
	    eio_session_transport(sio_socket_engine(c->sock));
}

/* ---------------------------------------------------------------- commands */

static cJSON *
cmd_status(struct gateway *gw, const struct control_req *req)
{
	struct supervisor_stats st;
	cJSON *d = cJSON_CreateObject(), *mem;
	long long rss = figures_self_rss(ev_now(gw->loop));

	supervisor_stats(gw->supervisor, &st);
	cJSON_AddStringToObject(d, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(d, "pid", getpid());
	cJSON_AddNumberToObject(d, "uptime",
	    (long long)(timestamp_mono() - gw->started));
	cJSON_AddStringToObject(d, "mode", config_str(&gw->cfg, CFG_NODE_ENV));
	cJSON_AddStringToObject(d, "logLevel",
	    config_str(&gw->cfg, CFG_LOG_LEVEL));
	cJSON_AddBoolToObject(d, "draining", gw->draining);
	cJSON_AddNumberToObject(d, "connections",
	    sio_server_connections(gw->sio));
	cJSON_AddNumberToObject(d, "sessions",
	    eio_server_count(sio_server_engine(gw->sio)));
	cJSON_AddNumberToObject(d, "rooms", rooms_count(gw));
	cJSON_AddNumberToObject(d, "roomProcesses", st.processes);
	cJSON_AddNumberToObject(d, "roomRestarts", (double)st.restarts);
	cJSON_AddNumberToObject(d, "roomSpares", st.spares);
	mem = cJSON_AddObjectToObject(d, "memory");
	cJSON_AddNumberToObject(mem, "gateway", (double)rss);
	cJSON_AddNumberToObject(mem, "rooms", (double)st.rss_bytes);
	cJSON_AddNumberToObject(mem, "spares", (double)st.spare_rss_bytes);
	return ok_answer(d);
}

static void
room_row(struct room *r, void *arg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddNumberToObject(o, "members", r->count);
	cJSON_AddNumberToObject(o, "pid", child_pid(r->child));
	cJSON_AddNumberToObject(o, "rss", (double)child_rss(r->child));
	cJSON_AddNumberToObject(o, "restarts", child_restarts(r->child));
	cJSON_AddItemToArray(arg, o);
}

static cJSON *
cmd_rooms(struct gateway *gw, const struct control_req *req)
{
	cJSON *list = cJSON_CreateArray();

	rooms_foreach(gw, room_row, list);
	return ok_answer(list);
}

static const char *
user_name(const struct client *c)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(c->user, "name");

	return cJSON_IsString(n) ? n->valuestring : "";
}

static cJSON *
cmd_room(struct gateway *gw, const struct control_req *req)
{
	struct room *r;
	cJSON *d, *list;

	if ((r = room_find(gw, req->arg)) == NULL)
		return err_answer("NOT_FOUND", "no room %s", req->arg);
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "name", r->name);
	cJSON_AddNumberToObject(d, "pid", child_pid(r->child));
	list = cJSON_AddArrayToObject(d, "members");
	for (unsigned i = 0; i < r->count; i++) {
		struct membership *m = r->members[i];
		struct client *c = m->client;
		cJSON *o = cJSON_CreateObject();
		char ts[TIMESTAMP_ISO_LEN];

		cJSON_AddStringToObject(o, "socketId", sio_socket_id(c->sock));
		cJSON_AddStringToObject(o, "userId", c->user_id);
		cJSON_AddStringToObject(o, "name", user_name(c));
		cJSON_AddStringToObject(o, "transport", transport_of(c));
		cJSON_AddBoolToObject(o, "isMuted", m->flags & IPC_M_MUTED);
		cJSON_AddBoolToObject(o, "isVideoOff",
		    m->flags & IPC_M_VIDEO_OFF);
		cJSON_AddBoolToObject(o, "isSharingScreen",
		    m->flags & IPC_M_SHARING);
		timestamp_iso_from_ms(ts, m->joined_at);
		cJSON_AddStringToObject(o, "joinedAt", ts);
		cJSON_AddItemToArray(list, o);
	}
	return ok_answer(d);
}

struct user_walk {
	const char	*user_id;
	cJSON		*list;
	int		 kick;
};

static void
user_conn(struct client *c, void *arg)
{
	struct user_walk *w = arg;
	cJSON *o, *rooms;

	if (strcmp(c->user_id, w->user_id) != 0)
		return;
	if (w->kick) {
		w->kick++;
		sio_close_connection(c->sock, "kicked by an administrator");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "socketId", sio_socket_id(c->sock));
	cJSON_AddStringToObject(o, "transport", transport_of(c));
	cJSON_AddStringToObject(o, "peer", sio_socket_held(c->sock) ? "-" :
	    eio_session_peer(sio_socket_engine(c->sock)));
	rooms = cJSON_AddArrayToObject(o, "rooms");
	for (struct membership *m = c->rooms; m != NULL; m = m->cnext)
		cJSON_AddItemToArray(rooms, cJSON_CreateString(m->room->name));
	cJSON_AddItemToArray(w->list, o);
}

static cJSON *
cmd_user(struct gateway *gw, const struct control_req *req)
{
	struct user_walk w = { NULL, NULL, 0 };
	cJSON *d;

	w.user_id = req->arg;
	w.list = cJSON_CreateArray();
	clients_foreach(gw, user_conn, &w);
	if (cJSON_GetArraySize(w.list) == 0) {
		cJSON_Delete(w.list);
		return err_answer("NOT_FOUND", "user %s is not connected",
		    req->arg);
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "userId", req->arg);
	cJSON_AddItemToObject(d, "connections", w.list);
	return ok_answer(d);
}

static cJSON *
cmd_kick(struct gateway *gw, const struct control_req *req)
{
	cJSON *d;
	int n;

	if (req->by_user) {
		struct user_walk w = { req->arg, NULL, 1 };

		clients_foreach(gw, user_conn, &w);
		n = w.kick - 1;
		if (n == 0)
			return err_answer("NOT_FOUND", "user %s is not "
			    "connected", req->arg);
	} else {
		struct client *c = client_by_socket(gw, req->arg);

		if (c == NULL)
			return err_answer("NOT_FOUND", "no socket %s",
			    req->arg);
		sio_close_connection(c->sock, "kicked by an administrator");
		n = 1;
	}
	log_info("control: kicked %d connection%s", n, n == 1 ? "" : "s");
	d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "kicked", n);
	return ok_answer(d);
}

static cJSON *
cmd_close_room(struct gateway *gw, const struct control_req *req)
{
	struct room *r;
	cJSON *d;
	unsigned n;

	if ((r = room_find(gw, req->arg)) == NULL)
		return err_answer("NOT_FOUND", "no room %s", req->arg);
	n = r->count;
	/* Last first: room_leave() moves the last member into the hole. */
	while (r->count > 0) {
		struct membership *m = r->members[r->count - 1];

		reply_error(gw, m->client->sock, ERR_NOT_IN_ROOM,
		    MSG_ROOM_CLOSED);
		room_leave(m, IPC_LEAVE_KICKED);	/* may free r at 0 */
		if (room_find(gw, req->arg) != r)
			break;
	}
	log_info("control: closed room %s (%u members removed)", req->arg,
	    n);
	d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "removed", n);
	return ok_answer(d);
}

static cJSON *
cmd_restart_room(struct gateway *gw, const struct control_req *req)
{
	struct room *r;
	cJSON *d;
	pid_t pid;

	if ((r = room_find(gw, req->arg)) == NULL)
		return err_answer("NOT_FOUND", "no room %s", req->arg);
	if ((pid = child_pid(r->child)) <= 0)
		return err_answer("FAILED", "room %s has no running process",
		    req->arg);
	child_restart(r->child);
	d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "pid", pid);
	return ok_answer(d);
}

static cJSON *
cmd_log_level(struct gateway *gw, const struct control_req *req)
{
	char err[256];
	cJSON *d;

	/* control_parse() checked the name; the table has the last word. */
	if (config_set(&gw->cfg, CFG_LOG_LEVEL, req->arg, CONFIG_SRC_CLI, err,
	    sizeof(err)) < 0)
		return err_answer("BAD_REQUEST", "%s", err);
	log_set_level(req->level);
	supervisor_set_log_level(gw->supervisor, log_level_current);
	log_info("control: log level is now %s", req->arg);
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "level", req->arg);
	return ok_answer(d);
}

static cJSON *
cmd_reload(struct gateway *gw, const struct control_req *req)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *changed = cJSON_AddArrayToObject(d, "changed");
	cJSON *restart = cJSON_AddArrayToObject(d, "restartNeeded");
	char err[512];

	if (gateway_reload(gw, changed, restart, err, sizeof(err)) < 0) {
		cJSON_Delete(d);
		return err_answer("FAILED", "%s", err);
	}
	return ok_answer(d);
}

static cJSON *
cmd_drain(struct gateway *gw, const struct control_req *req)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddTrueToObject(d, "draining");
	cJSON_AddNumberToObject(d, "sessions",
	    eio_server_count(sio_server_engine(gw->sio)));
	/* Answer first; the drain closes everything after this callback. */
	return ok_answer(d);
}

static cJSON *
cmd_show_config(struct gateway *gw, const struct control_req *req)
{
	static const char *const src[] = {
		"default", "file", "environment", "command line",
	};
	cJSON *d = cJSON_CreateObject(), *list;

	list = cJSON_AddArrayToObject(d, "config");
	for (int k = 0; k < CFG__COUNT; k++) {
		cJSON *o = cJSON_CreateObject();
		const char *v = config_str(&gw->cfg, k);

		cJSON_AddStringToObject(o, "key", config_defs[k].name);
		/* Passwords in URLs stay here. */
		if (v != NULL && strstr(v, "://") != NULL &&
		    strchr(strstr(v, "://"), '@') != NULL)
			v = "(set; contains credentials)";
		else if (v != NULL && *v != '\0' && config_is_secret(k))
			v = "(set)";
		cJSON_AddStringToObject(o, "value", v ? v : "");
		cJSON_AddStringToObject(o, "source", src[gw->cfg.v[k].src]);
		cJSON_AddBoolToObject(o, "reloadable",
		    config_defs[k].reloadable);
		cJSON_AddItemToArray(list, o);
	}
	return ok_answer(d);
}

/* Multi-server mode: the nodes and rooms of the cluster. */
static cJSON *
cmd_cluster(struct gateway *gw, const struct control_req *req)
{
	cJSON *d = peers_status(gw);

	if (d == NULL)
		return err_answer("FAILED", "this gateway runs alone "
		    "(REDIS_URL is unset)");
	return ok_answer(d);
}

/* Indexed by enum control_cmd; control_req.c has the names. */
static cJSON *(*const handlers[CONTROL__COUNT])(struct gateway *,
    const struct control_req *) = {
	[CONTROL_STATUS] = cmd_status,
	[CONTROL_ROOMS] = cmd_rooms,
	[CONTROL_ROOM] = cmd_room,
	[CONTROL_USER] = cmd_user,
	[CONTROL_KICK] = cmd_kick,
	[CONTROL_CLOSE_ROOM] = cmd_close_room,
	[CONTROL_RESTART_ROOM] = cmd_restart_room,
	[CONTROL_LOG_LEVEL] = cmd_log_level,
	[CONTROL_RELOAD] = cmd_reload,
	[CONTROL_DRAIN] = cmd_drain,
	[CONTROL_SHOW_CONFIG] = cmd_show_config,
	[CONTROL_CLUSTER] = cmd_cluster,
};

static cJSON *
execute(struct gateway *gw, const char *line, size_t len, int *drain)
{
	struct control_req req;
	char err[256];

	if (control_parse(line, len, &req, err, sizeof(err)) == -1)
		return err_answer(req.code, "%s", err);
	log_debug("control: %s", control_cmd_name(req.cmd));
	*drain = req.cmd == CONTROL_DRAIN;
	return handlers[req.cmd](gw, &req);
}

/* ---------------------------------------------------------------- I/O */

static void
conn_free(struct ctl_conn *cc)
{
	struct ctl_conn **pp;

	for (pp = &cc->ctl->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cc) {
			*pp = cc->next;
			break;
		}
	ev_io_stop(cc->ctl->gw->loop, &cc->io);
	ev_timer_stop(cc->ctl->gw->loop, &cc->idle);
	close(cc->fd);
	buf_free(&cc->in);
	buf_free(&cc->out);
	free(cc);
}

static void
conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *cc = w->data;
	struct gateway *gw = cc->ctl->gw;
	cJSON *answer;
	uint8_t *nl;
	ssize_t n;
	char *text;
	int drain = 0;

	if (cc->out.len > 0 || (revents & EV_WRITE)) {
		n = write(cc->fd, cc->out.data + cc->off, cc->out.len - cc->off);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_free(cc);
			return;
		}
		if (n > 0)
			cc->off += (size_t)n;
		if (cc->off == cc->out.len)
			conn_free(cc);
		return;
	}
	buf_reserve(&cc->in, 1024);
	n = read(cc->fd, cc->in.data + cc->in.len, 1024);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(cc);
		return;
	}
	cc->in.len += (size_t)n;
	nl = memchr(cc->in.data, '\n', cc->in.len);
	if (nl == NULL && cc->in.len <= CONTROL_REQUEST_MAX)
		return;
	/* Without a newline the line is already too long: refused. */
	answer = execute(gw, (char *)cc->in.data, nl != NULL ?
	    (size_t)(nl - cc->in.data) : cc->in.len, &drain);
	ev_timer_stop(loop, &cc->idle);
	text = cJSON_PrintUnformatted(answer);

	cJSON_Delete(answer);
	buf_append_str(&cc->out, text);
	buf_append_byte(&cc->out, '\n');
	cJSON_free(text);
	ev_io_stop(loop, &cc->io);
	ev_io_set(&cc->io, cc->fd, EV_WRITE);
	ev_io_start(loop, &cc->io);
	if (drain)
		gateway_drain(gw, "coupctl drain");
}

static void
conn_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_free(w->data);
}

/* Root, our own user, or a member of the socket's group. */
static int
peer_allowed(struct control *ctl, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct passwd *pw;
	gid_t groups[64];
	int ng = 64;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	if (cr.uid == 0 || cr.uid == geteuid() || cr.gid == ctl->group)
		return 1;
	if ((pw = getpwuid(cr.uid)) == NULL ||
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
		return 0;
	for (int i = 0; i < ng; i++)
		if (groups[i] == ctl->group)
			return 1;
	return 0;
}

static void
accept_again(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *ctl = w->data;

	ev_io_start(loop, &ctl->io);
}

static void
accept_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	struct ctl_conn *cc;
	int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR || errno == ECONNABORTED)
			return;
		if (ev_now(loop) - ctl->warned >= CONTROL_WARN_SECS) {
			log_warn("control: accept");
			ctl->warned = ev_now(loop);
		}
		ev_io_stop(loop, w);
		ev_timer_set(&ctl->pause, CONTROL_ACCEPT_PAUSE, 0.);
		ev_timer_start(loop, &ctl->pause);
		return;
	}
	if (!peer_allowed(ctl, fd)) {
		static const char no[] = "{\"ok\":false,\"error\":\"permission "
		    "denied\",\"code\":\"FORBIDDEN\"}\n";

		log_warnx("control: refused a client without permission");
		if (write(fd, no, sizeof(no) - 1) < 0)
			log_debug("control: write: %s", strerror(errno));
		close(fd);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->ctl = ctl;
	cc->fd = fd;
	ev_io_init(&cc->io, conn_io, fd, EV_READ);
	cc->io.data = cc;
	ev_io_start(loop, &cc->io);
	ev_timer_init(&cc->idle, conn_idle, CONTROL_IDLE_SECS, 0.);
	cc->idle.data = cc;
	ev_timer_start(loop, &cc->idle);
	cc->next = ctl->conns;
	ctl->conns = cc;
}

int
control_start(struct gateway *gw)
{
	const char *conf = config_str(&gw->cfg, CFG_CONTROL_SOCKET);
	const char *group = config_str(&gw->cfg, CFG_CONTROL_GROUP);
	const char *user = config_str(&gw->cfg, CFG_RUN_USER);
	struct sockaddr_un sun;
	struct control *ctl;
	struct passwd *pw;
	struct group *gr;
	char err[PATH_MAX + 256];

	if (strcmp(conf, "off") == 0)
		return 0;
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->gw = gw;
	ctl->fd = -1;
	ctl->group = getegid();
	if (*group != '\0') {
		if ((gr = getgrnam(group)) == NULL)
			log_warnx("control socket: no group %s (CONTROL_GROUP)",
			    group);
		else
			ctl->group = gr->gr_gid;
	} else if (*user != '\0' && (pw = getpwnam(user)) != NULL)
		ctl->group = pw->pw_gid;
	if (*conf == '\0' && gw->run_dir < 0) {
		log_warnx("no control socket without the run directory %s "
		    "(set RUN_DIR or CONTROL_SOCKET)",
		    config_str(&gw->cfg, CFG_RUN_DIR));
		goto fail;
	}
	if (runfile_init(&ctl->file, "control socket", conf, gw->run_dir,
	    config_str(&gw->cfg, CFG_RUN_DIR), "coup-gateway.sock", err,
	    sizeof(err)) < 0) {
		log_warnx("%s; no control socket for this gateway "
		    "(CONTROL_SOCKET must be in a directory only root can "
		    "change, or a sticky one)", err);
		goto fail;
	}
	if (strlen(ctl->file.path) >= sizeof(sun.sun_path)) {
		/* coupctl finds it by its path. */
		log_warnx("control socket %s: longer than a socket's address "
		    "may be (%zu bytes); none for this gateway (set RUN_DIR or "
		    "CONTROL_SOCKET)", ctl->file.path, sizeof(sun.sun_path) - 1);
		goto fail;
	}
	if (runfile_socket_in_use(&ctl->file)) {
		/* Another gateway answers there: its socket, not ours. */
		log_warnx("control socket %s is in use by another gateway; "
		    "none for this one (set RUN_DIR or CONTROL_SOCKET)",
		    ctl->file.path);
		goto fail;
	}
	/* Owned by the user we are now (root), not RUN_USER: the listening
	 * descriptor serves RUN_USER without it, and an owner could chmod
	 * the socket open to all. */
	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    runfile_bind(&ctl->file, ctl->fd, ctl->group) < 0 ||
	    listen(ctl->fd, 16) < 0) {
		log_warn("control socket %s", ctl->file.path);
		goto fail;
	}
	ev_io_init(&ctl->io, accept_io, ctl->fd, EV_READ);
	ctl->io.data = ctl;
	ev_io_start(gw->loop, &ctl->io);
	ev_init(&ctl->pause, accept_again);
	ctl->pause.data = ctl;
	ctl->warned = -CONTROL_WARN_SECS;
	gw->control = ctl;
	log_info("control socket %s", ctl->file.path);
	return 0;

fail:
	if (ctl->fd >= 0)
		close(ctl->fd);
	runfile_close(&ctl->file);
	free(ctl);
	return -1;
}

void
control_stop(struct gateway *gw)
{
	struct control *ctl = gw->control;

	if (ctl == NULL)
		return;
	while (ctl->conns != NULL)
		conn_free(ctl->conns);
	ev_io_stop(gw->loop, &ctl->io);
	ev_timer_stop(gw->loop, &ctl->pause);
	close(ctl->fd);
	runfile_close(&ctl->file);
	free(ctl);
	gw->control = NULL;
}
