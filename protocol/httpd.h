/*
 * httpd.h - libwebsockets on the application's libev loop.
 *
 * One port serves three things: the Engine.IO path (long-polling requests
 * and WebSocket upgrades, handed to eio_server), a few plain HTTP routes
 * registered by the application (/health, /metrics), and CORS for both.
 * This file owns every lws callback; the layers above see HTTP requests as
 * struct httpd_req and never touch lws's HTTP machinery themselves.
 *
 * It also owns the listening sockets: lws only ever sees connections we
 * accepted, so that running out of descriptors sheds new clients instead
 * of spinning, and every connection gets a deadline for its request on the
 * application's loop.
 */
#ifndef COUP_HTTPD_H
#define COUP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "buf.h"

struct httpd;
struct lws;

enum httpd_method {
	HTTPD_GET,
	HTTPD_POST,
	HTTPD_OPTIONS,
	HTTPD_HEAD,
	HTTPD_OTHER,
};

#define HTTPD_MAX_HEADERS	6
/* Longest Origin that may be allowed: a scheme, a DNS name (253 at most)
 * and a port fit with room to spare.  A longer one is refused. */
#define HTTPD_ORIGIN_MAX	512

/* A query's arguments, each "name=value" and whole whatever its length. */
struct httpd_query {
	char			**v;
	int			 n;
	char			*store;
};

/*
 * One HTTP transaction, from its headers to the last byte of its answer.
 * The strings are the request's own copies, whole whatever their length
 * (lws keeps at most a few KB of headers), NULL when the header is absent.
 */
struct httpd_req {
	struct httpd		*srv;
	struct lws		*wsi;		/* NULL once the client left */
	struct httpd_req	*next;		/* httpd's list of aborted ones */
	enum httpd_method	 method;
	char			*path;
	struct httpd_query	 query;
	char			*origin;	/* NULL when absent */
	char			*accept;	/* NULL when absent */
	char			*cookie;	/* NULL when absent */
	int			 binary_body;	/* application/octet-stream */
	struct buf		 body;
	int			 too_large;	/* body over max_body */
	int			 aborted;	/* httpd_abort: closing */

	/* Parked: answered later (a long-poll GET).  `gone` runs if the
	 * client disconnects first; the owner must then forget the req. */
	void			(*gone)(struct httpd_req *, void *);
	void			*gone_arg;

	/* The answer, written from LWS_CALLBACK_HTTP_WRITEABLE. */
	int			 answered;
	int			 status;
	const char		*content_type;
	struct buf		 resp;
	size_t			 resp_off;
	int			 headers_sent;
	int			 close_after;
	/* Extra answer headers ("name:", value), strings that outlive the
	 * request (httpd_add_header). */
	const char		*hdrs[HTTPD_MAX_HEADERS][2];
	int			 nhdrs;
};

struct httpd_opts {
	/* NULL or "" = all interfaces (IPv6 and IPv4); else an address, an
	 * interface's name or a host name (each of its addresses). */
	const char	*host;
	int		 port;
	int		 request_timeout_ms; /* headers and body must be in by then */
	const char	*engine_path;	/* "/socket.io/" */
	size_t		 max_body;	/* largest POST body on engine_path */
	const char	*allowed_origins; /* comma list, "*" = any */
	/* Also allow a WebSocket whose Origin is this server itself (the
	 * Origin's host:port is the request's Host): for pages we serve. */
	int		 allow_same_origin;
};

typedef void (*httpd_handler)(struct httpd_req *, void *arg);

/*
 * The transport served on the Engine.IO path (eio_server_transport()
 * gives Engine.IO's): httpd hands it the requests and WebSockets there
 * through these, knowing nothing of Engine.IO, and it answers with
 * httpd_respond() and the rest of this header.  srv is the ctx given to
 * httpd_new(); sess what ws_open() returned.
 */
struct httpd_transport {
	/* A GET or (complete) POST on the path. */
	void	 (*request)(void *srv, struct httpd_req *);
	/* A POST whose body is still to come. */
	void	 (*post_begin)(void *srv, struct httpd_req *);
	/* A WebSocket upgrade asks to join: 0 to allow, else an HTTP
	 * status. */
	int	 (*ws_check)(void *srv, const char *eio, const char *transport,
		    const char *sid);
	/* The upgrade happened: its session (NULL: close the socket).
	 * cookie: the upgrade's Cookie header (NULL: none), for the call. */
	void	*(*ws_open)(void *srv, struct lws *, const char *sid,
		    const char *peer, const char *cookie);
	void	 (*ws_receive)(void *sess, struct lws *, const void *, size_t,
		    int binary, int first, int final);
	/* Write what is queued; -1 to have the WebSocket closed. */
	int	 (*ws_writeable)(void *sess, struct lws *);
	/* The WebSocket is gone; by_peer: the client sent a close frame (a
	 * page closed or navigated away), else the connection was lost. */
	void	 (*ws_closed)(void *sess, struct lws *, int by_peer);
};

struct httpd	*httpd_new(struct ev_loop *, const struct httpd_opts *,
		    const struct httpd_transport *, void *srv);
void		 httpd_free(struct httpd *);
/* Answer GET path (exact match, query ignored) with handler. */
void		 httpd_route(struct httpd *, const char *path, httpd_handler,
		    void *arg);
/* Answer GET `prefix` and every path below it ("prefix/..."). */
void		 httpd_route_prefix(struct httpd *, const char *prefix,
		    httpd_handler, void *arg);
/* Replace the CORS list (SIGHUP may change it). */
void		 httpd_set_origins(struct httpd *, const char *comma_list);
/* Is this Origin allowed?  An empty origin (no header) always is; one
 * longer than HTTPD_ORIGIN_MAX never is. */
int		 httpd_origin_allowed(const struct httpd *, const char *origin);

/* Query argument value, or NULL. */
const char	*httpd_arg(const struct httpd_req *, const char *name);
/* Queue the whole answer; the req is freed once it has been written. */
void		 httpd_respond(struct httpd_req *, int status,
		    const char *content_type, const void *body, size_t len);
/* One more header for the answer; name ends with ':'.  Both strings must
 * live until the request is freed (static ones do).  -1 when full. */
int		 httpd_add_header(struct httpd_req *, const char *name,
		    const char *value);
/* Leave the request unanswered for now (see `gone`). */
void		 httpd_park(struct httpd_req *, void (*gone)(struct httpd_req *,
		    void *), void *arg);
/* Never answer it: close its connection at once (a POST whose session is
 * gone while its body is still coming).  `gone` does not run; the req is
 * freed by httpd. */
void		 httpd_abort(struct httpd_req *);

/* For eio_server: the session behind this WebSocket is gone; close it
 * (with a close frame carrying `code`) at its next writeable moment. */
void		 httpd_ws_close(struct lws *, int code);

#endif
