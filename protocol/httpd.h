/*
 * httpd.h - libwebsockets on the application's libev loop.
 *
 * One port serves three things: the Engine.IO path (long-polling requests
 * and WebSocket upgrades, handed to eio_server), a few plain HTTP routes
 * registered by the application (/health, /metrics), and CORS for both.
 * This file owns every lws callback; the layers above see HTTP requests as
 * struct httpd_req and never touch lws's HTTP machinery themselves.
 */
#ifndef COUP_HTTPD_H
#define COUP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "buf.h"

struct httpd;
struct eio_server;
struct lws;

enum httpd_method {
	HTTPD_GET,
	HTTPD_POST,
	HTTPD_OPTIONS,
	HTTPD_HEAD,
	HTTPD_OTHER,
};

#define HTTPD_MAX_ARGS		8
#define HTTPD_MAX_HEADERS	6

/* One HTTP transaction, from its headers to the last byte of its answer. */
struct httpd_req {
	struct httpd		*srv;
	struct lws		*wsi;		/* NULL once the client left */
	enum httpd_method	 method;
	char			 path[256];
	char			*args[HTTPD_MAX_ARGS];	/* "name=value" */
	int			 nargs;
	char			 origin[256];	/* "" when absent */
	char			 accept[128];
	int			 binary_body;	/* application/octet-stream */
	struct buf		 body;
	int			 too_large;	/* body over max_body */

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
	char			 args_store[1024];
};

struct httpd_opts {
	const char	*host;		/* NULL or "" = all interfaces */
	int		 port;
	const char	*engine_path;	/* "/socket.io/" */
	size_t		 max_body;	/* largest POST body on engine_path */
	const char	*allowed_origins; /* comma list, "*" = any */
	/* Also allow a WebSocket whose Origin is this server itself (the
	 * Origin's host:port is the request's Host): for pages we serve. */
	int		 allow_same_origin;
};

typedef void (*httpd_handler)(struct httpd_req *, void *arg);

struct httpd	*httpd_new(struct ev_loop *, const struct httpd_opts *,
		    struct eio_server *);
void		 httpd_free(struct httpd *);
/* Answer GET path (exact match, query ignored) with handler. */
void		 httpd_route(struct httpd *, const char *path, httpd_handler,
		    void *arg);
/* Answer GET `prefix` and every path below it ("prefix/..."). */
void		 httpd_route_prefix(struct httpd *, const char *prefix,
		    httpd_handler, void *arg);
/* Replace the CORS list (SIGHUP may change it). */
void		 httpd_set_origins(struct httpd *, const char *comma_list);
/* Is this Origin allowed?  An empty origin (no header) always is. */
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

/* For eio_server: the session behind this WebSocket is gone; close it
 * (with a close frame carrying `code`) at its next writeable moment. */
void		 httpd_ws_close(struct lws *, int code);

#endif
