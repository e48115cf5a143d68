/*
 * redis_link.c - one connection to Redis on the gateway's libev loop
 * (see redis_link.h).
 *
 * hiredis 0.14 has no timeouts, so every command is remembered in the
 * order it was sent (Redis answers in that order) with the time it left;
 * a watchdog closes a link whose oldest command waits longer than the
 * timeout, or that does not connect in time.  A closed link hands every
 * command in flight a NULL reply, so callers have one failure path.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "log.h"
#include "redis_link.h"
#include "xmalloc.h"

/* A command in flight. */
struct pcmd {
	struct pcmd		*next;
	struct redis_link	*link;
	redis_reply_cb		 cb;
	void			*arg;
	double			 sent;
};

struct redis_link {
	struct ev_loop		*loop;
	redisAsyncContext	*ac;
	int			 up;
	char			*name;		/* "command", "pub/sub" */
	double			 timeout;
	double			 opened;	/* when connecting began */
	ev_timer		 watchdog;
	struct pcmd		*head, *tail;
	struct redis_link_cbs	 cbs;
	void			*arg;
	redis_reply_cb		 sub_cb;
	void			*sub_arg;
	/* from the URL */
	char			*host;		/* or NULL for a socket */
	int			 port;
	char			*path;
	char			*user, *password;
	int			 db;
	char			 where[300];
};

/* ---------------------------------------------------------------- URL */

static int
parse_url(struct redis_link *l, const char *url, char *err, size_t errlen)
{
	const char *p, *at, *slash, *colon;
	char *hostport = NULL;

	l->port = 6379;
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p == '\0') {
			snprintf(err, errlen, "REDIS_URL: no socket path");
			return -1;
		}
		l->path = xstrdup(p);
		snprintf(l->where, sizeof(l->where), "unix:%s", l->path);
		return 0;
	}
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "REDIS_URL: rediss:// needs TLS, which "
		    "this build's hiredis (0.14) does not have; use redis:// "
		    "(through a TLS tunnel if need be)");
		return -1;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		snprintf(err, errlen, "REDIS_URL: not a redis:// or unix: URL");
		return -1;
	}
	p = url + 8;
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (at != NULL && (slash == NULL || at < slash)) {
		const char *c = memchr(p, ':', (size_t)(at - p));

		if (c != NULL) {
			if (c > p)
				l->user = xstrndup(p, (size_t)(c - p));
			l->password = xstrndup(c + 1, (size_t)(at - c - 1));
		} else
			l->password = xstrndup(p, (size_t)(at - p));
		p = at + 1;
	}
	hostport = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
	if (hostport[0] == '[') {		/* [::1]:6379 */
		char *close = strchr(hostport, ']');

		if (close == NULL)
			goto bad;
		*close = '\0';
		l->host = xstrdup(hostport + 1);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(hostport, ':');
		l->host = colon ? xstrndup(hostport, (size_t)(colon - hostport)) :
		    xstrdup(hostport);
	}
	if (colon != NULL) {
		char *end;
		long v = strtol(colon + 1, &end, 10);

		if (*end != '\0' || v < 1 || v > 65535)
			goto bad;
		l->port = (int)v;
	}
	if (l->host[0] == '\0')
		goto bad;
	if (slash != NULL && slash[1] != '\0') {
		char *end;
		long v = strtol(slash + 1, &end, 10);

		if (*end != '\0' || v < 0 || v > 1000000)
			goto bad;
		l->db = (int)v;
	}
	snprintf(l->where, sizeof(l->where), "%s:%d", l->host, l->port);
	free(hostport);
	return 0;
bad:
	free(hostport);
	snprintf(err, errlen, "REDIS_URL: cannot read host, port or database");
	return -1;
}

static void
url_free(struct redis_link *l)
{
	free(l->host);
	free(l->path);
	free(l->user);
	free(l->password);
}

int
redis_url_check(const char *url, char *err, size_t errlen)
{
	struct redis_link l;
	int rc;

	memset(&l, 0, sizeof(l));
	rc = parse_url(&l, url, err, errlen);
	url_free(&l);
	return rc;
}

/* ---------------------------------------------------------------- link */

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_link *l = w->data;
	double now = ev_now(loop);
	char why[96];

	if (l->ac == NULL)
		return;
	if (!l->up && now - l->opened > l->timeout)
		snprintf(why, sizeof(why), "no connection within %.1f s",
		    l->timeout);
	else if (l->up && l->head != NULL && now - l->head->sent > l->timeout)
		snprintf(why, sizeof(why), "no reply within %.1f s",
		    l->timeout);
	else
		return;
	redis_link_close(l);
	if (l->cbs.down != NULL)
		l->cbs.down(l, why, l->arg);
}

struct redis_link *
redis_link_new(struct ev_loop *loop, const char *url, const char *name,
    double timeout, const struct redis_link_cbs *cbs, void *arg)
{
	struct redis_link *l = xcalloc(1, sizeof(*l));
	char err[256];

	l->name = xstrdup(name);
	if (parse_url(l, url, err, sizeof(err)) < 0)
		fatalx("%s", err);
	l->loop = loop;
	l->timeout = timeout;
	l->cbs = *cbs;
	l->arg = arg;
	ev_init(&l->watchdog, on_watchdog);
	l->watchdog.data = l;
	return l;
}

void
redis_link_free(struct redis_link *l)
{
	if (l == NULL)
		return;
	redis_link_close(l);
	url_free(l);
	free(l->name);
	free(l);
}

static void
on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct pcmd *pc = privdata;
	struct redis_link *l = pc->link;

	/* In order: this is the head (a closed link drains them all). */
	if (l->head == pc) {
		l->head = pc->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	if (pc->cb != NULL)
		pc->cb(l, r, pc->arg);
	free(pc);
}

static void
on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_link *l = privdata;

	if (l->sub_cb != NULL)
		l->sub_cb(l, r, l->sub_arg);
}

static void
on_auth(struct redis_link *l, struct redisReply *r, void *arg)
{
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		log_warnx("redis %s (%s): %s refused: %s", l->where, l->name,
		    arg == NULL ? "AUTH" : "SELECT", r->str);
		redis_link_close(l);
		if (l->cbs.down != NULL)
			l->cbs.down(l, "AUTH or SELECT refused", l->arg);
	}
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_link *l = ac->data;

	if (l == NULL || l->ac != ac)
		return;
	if (status != REDIS_OK) {
		char why[160];

		/* hiredis frees the context after this callback. */
		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		l->ac = NULL;
		ev_timer_stop(l->loop, &l->watchdog);
		if (l->cbs.down != NULL)
			l->cbs.down(l, why, l->arg);
		return;
	}
	l->up = 1;
	if (l->cbs.up != NULL)
		l->cbs.up(l, l->arg);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_link *l = ac->data;
	char why[160];

	/* Also called for our own redisAsyncFree (l->ac is NULL by then). */
	if (l == NULL || l->ac != ac)
		return;
	snprintf(why, sizeof(why), "connection lost%s%s",
	    ac->errstr[0] ? ": " : "", ac->errstr);
	l->ac = NULL;
	l->up = 0;
	ev_timer_stop(l->loop, &l->watchdog);
	if (l->cbs.down != NULL)
		l->cbs.down(l, why, l->arg);
}

static int
send_argv(struct redis_link *l, redis_reply_cb cb, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	struct pcmd *pc = xcalloc(1, sizeof(*pc));

	pc->link = l;
	pc->cb = cb;
	pc->arg = arg;
	pc->sent = ev_now(l->loop);
	if (redisAsyncCommandArgv(l->ac, on_reply, pc, argc, argv, argvlen) !=
	    REDIS_OK) {
		free(pc);
		return -1;
	}
	if (l->tail != NULL)
		l->tail->next = pc;
	else
		l->head = pc;
	l->tail = pc;
	return 0;
}

void
redis_link_open(struct redis_link *l)
{
	redisAsyncContext *ac;

	if (l->ac != NULL)
		return;
	ac = l->path ? redisAsyncConnectUnix(l->path) :
	    redisAsyncConnect(l->host, l->port);
	if (ac == NULL)
		fatal("redisAsyncConnect");
	if (ac->err) {
		char why[160];

		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		redisAsyncFree(ac);
		if (l->cbs.down != NULL)
			l->cbs.down(l, why, l->arg);
		return;
	}
	ac->data = l;
	l->ac = ac;
	l->up = 0;
	l->opened = ev_now(l->loop);
	redisLibevAttach(l->loop, ac);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* Queued by hiredis until the connection is made. */
	if (l->password != NULL) {
		const char *argv[3] = { "AUTH", NULL, NULL };
		size_t len[3] = { 4, 0, 0 };
		int n = 1;

		if (l->user != NULL) {
			argv[n] = l->user;
			len[n++] = strlen(l->user);
		}
		argv[n] = l->password;
		len[n++] = strlen(l->password);
		send_argv(l, on_auth, NULL, n, argv, len);
	}
	if (l->db != 0) {
		char db[16];
		const char *argv[2] = { "SELECT", db };
		size_t len[2] = { 6, 0 };

		len[1] = (size_t)snprintf(db, sizeof(db), "%d", l->db);
		send_argv(l, on_auth, l, 2, argv, len);
	}
	ev_timer_set(&l->watchdog, l->timeout / 4, l->timeout / 4);
	ev_timer_start(l->loop, &l->watchdog);
}

void
redis_link_close(struct redis_link *l)
{
	redisAsyncContext *ac = l->ac;

	ev_timer_stop(l->loop, &l->watchdog);
	l->up = 0;
	if (ac == NULL)
		return;
	l->ac = NULL;
	/* Every callback in flight runs now, with a NULL reply (deferred by
	 * hiredis when we are inside one of its callbacks). */
	redisAsyncFree(ac);
}

int
redis_link_is_up(const struct redis_link *l)
{
	return l->up && l->ac != NULL;
}

int
redis_link_cmd(struct redis_link *l, redis_reply_cb cb, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	if (!redis_link_is_up(l))
		return -1;
	return send_argv(l, cb, arg, argc, argv, argvlen);
}

int
redis_link_subscribe(struct redis_link *l, redis_reply_cb cb, void *arg,
    const char *channel)
{
	if (!redis_link_is_up(l))
		return -1;
	l->sub_cb = cb;
	l->sub_arg = arg;
	return redisAsyncCommand(l->ac, on_sub_reply, l, "SUBSCRIBE %s",
	    channel) == REDIS_OK ? 0 : -1;
}

int
redis_link_unsubscribe(struct redis_link *l, const char *channel)
{
	if (!redis_link_is_up(l))
		return -1;
	return redisAsyncCommand(l->ac, NULL, NULL, "UNSUBSCRIBE %s",
	    channel) == REDIS_OK ? 0 : -1;
}

const char *
redis_link_where(const struct redis_link *l)
{
	return l->where;
}
