/*
 * sioclient.h - many Socket.IO v5 clients (Engine.IO v4, WebSocket only)
 * on one libwebsockets context on the application's libev loop.
 *
 * Each client authenticates with 40{"userId","token"} on namespace "/",
 * answers pings, and hands events and acks to the scenario through
 * struct sioc_ops. Sending is queued and written from lws's writeable
 * callback, one frame per call.
 */
#ifndef COUP_BENCH_SIOCLIENT_H
#define COUP_BENCH_SIOCLIENT_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct lws;
struct sioc_frame;

enum sioc_state {
	SIOC_NEW,		/* not started */
	SIOC_CONNECTING,	/* TCP / WebSocket handshake / Engine.IO open */
	SIOC_AUTH,		/* 40{auth} sent, awaiting 40 or 44 */
	SIOC_READY,		/* in namespace "/" */
	SIOC_CLOSING,		/* close requested */
	SIOC_CLOSED		/* gone (whatever the reason) */
};

struct sioc {
	struct lws		*wsi;
	enum sioc_state		 state;
	int			 idx;		/* user id bench-<idx>, source */
	int			 was_ready;
	char			 sid[48];	/* Socket.IO socket id */
	struct sioc_frame	*qh, *qt;	/* frames waiting to be written */
	unsigned		 qlen;
	char			*rx;		/* a message arriving in fragments */
	size_t			 rxlen, rxcap;
	long			 next_ack;
	uint64_t		 t_start, t_ready;	/* ns */
	void			*user;		/* the scenario's */
};

struct sioc_ops {
	void	(*ready)(struct sioc *);
	void	(*refused)(struct sioc *, const char *json, size_t len);
	/* json: the event's array, ["name", ...]. */
	void	(*event)(struct sioc *, const char *json, size_t len);
	void	(*ack)(struct sioc *, long id, const char *json, size_t len);
	/* Called once, whether it failed to connect or closed later. */
	void	(*closed)(struct sioc *, const char *why);
};

struct sioc_counters {
	uint64_t	frames_out, frames_in;
	uint64_t	pings;		/* pings answered */
	uint64_t	dropped_sends;	/* sends refused: queue over its bound */
	uint64_t	lws_errors;
};
extern struct sioc_counters sioc_count;

/* url: http://HOST:PORT[/prefix] (or ws://), HOST within 127.0.0.0/8 or
 * localhost. sources > 0 binds client i to source address number
 * i % sources (127.1.x.y). */
int	 sioc_init(struct ev_loop *, const char *url, int max_clients,
	    int sources, const struct sioc_ops *);
void	 sioc_fini(void);
const char *sioc_source_addr(int idx);	/* NULL without --sources */

int	 sioc_connect(struct sioc *);
/* Emits 42[<ack>]["name",payload]; ack < 0 for none. payload is JSON. */
int	 sioc_emit(struct sioc *, const char *name, const char *payload,
	    long ack);
void	 sioc_close(struct sioc *);

#endif
