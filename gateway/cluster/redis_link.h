/*
 * redis_link.h - one connection to Redis on the gateway's libev loop.
 *
 * hiredis 0.14's asynchronous API with its libev adapter, plus what that
 * version lacks: a connect timeout and a command timeout (a command whose
 * reply is late closes the link, which the owner treats as Redis gone),
 * the REDIS_URL forms (redis://[:password@]host[:port][/db], unix:PATH),
 * AUTH and SELECT.  A link does not reconnect by itself: its owner
 * (cluster.c) decides when, with backoff, because two links make one
 * session there.
 */
#ifndef COUP_REDIS_LINK_H
#define COUP_REDIS_LINK_H

#include <ev.h>

struct redis_link;
struct redisReply;

/* reply is NULL when the link closed before the answer came. */
typedef void	(*redis_reply_cb)(struct redis_link *, struct redisReply *,
		    void *arg);

struct redis_link_cbs {
	void	(*up)(struct redis_link *, void *arg);
	/* Closed (not by redis_link_close): why says what happened. */
	void	(*down)(struct redis_link *, const char *why, void *arg);
};

/* Check a REDIS_URL this build can use; -1 with err set if not. */
int		 redis_url_check(const char *url, char *err, size_t errlen);

struct redis_link *redis_link_new(struct ev_loop *, const char *url,
		    const char *name, double timeout_secs,
		    const struct redis_link_cbs *, void *arg);
void		 redis_link_free(struct redis_link *);
/* Start connecting (up or down follows); ignored if not closed. */
void		 redis_link_open(struct redis_link *);
/* Close now: commands in flight get a NULL reply; no down callback. */
void		 redis_link_close(struct redis_link *);
int		 redis_link_is_up(const struct redis_link *);
/*
 * A command, argv style (binary-safe); its reply goes to cb (may be NULL).
 * -1 when the link is not up (cb is not called then).
 */
int		 redis_link_cmd(struct redis_link *, redis_reply_cb cb,
		    void *arg, int argc, const char **argv,
		    const size_t *argvlen);
/* SUBSCRIBE / UNSUBSCRIBE one channel.  cb gets the confirmation and
 * every message of the channel (a 3-element array reply), and NULL when
 * the link closes. */
int		 redis_link_subscribe(struct redis_link *, redis_reply_cb cb,
		    void *arg, const char *channel);
int		 redis_link_unsubscribe(struct redis_link *, const char *channel);
/* Where it connects, for logs ("127.0.0.1:6379", password hidden). */
const char	*redis_link_where(const struct redis_link *);

#endif
