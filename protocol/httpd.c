/*
 * httpd.c - libwebsockets on the application's libev loop: the listening
 * sockets and every lws callback of the server live here.
 *
 * We accept connections ourselves and hand each to lws: lws's own listener
 * spins when accept() fails for lack of descriptors (it leaves the socket
 * readable and returns), and it only counts its own.  Out of descriptors,
 * we turn new connections away with a reserve descriptor and pause
 * accepting a moment, and say so once in a while.
 *
 * Plain HTTP requests become struct httpd_req: requests on the Engine.IO
 * path go to the transport (struct httpd_transport: eio_server's) once
 * their body is in, others to the routes the application registered.  Answers are written from the WRITEABLE callback
 * in slices, so a large long-polling payload never blocks the loop.
 * WebSocket upgrades on the Engine.IO path are checked here (query, Origin)
 * and then handed to the transport frame by frame; httpd never calls
 * eio_server.c by name, so the layer above stays above.
 *
 * lws's timers fire late on libev (see the stack notes), so every timeout
 * that matters is an ev_timer: the request deadline here (a request's
 * headers and body must be in within request_timeout_ms), the rest in
 * eio_server.  lws's own are a backstop behind ours.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "httpd.h"
#include "log.h"
#include "xmalloc.h"

/* Bytes written per WRITEABLE callback for HTTP answers. */
#define HTTPD_WRITE_SLICE	(32 * 1024)
/* Frames larger than this arrive in several RECEIVE callbacks; small keeps
 * the per-connection buffer (and so RSS per idle WebSocket) small. */
#define HTTPD_WS_RX_BUFFER	1024
/* lws's own limit on a parked request; we answer long before it. */
#define HTTPD_PARK_SECS		3600
/* Bytes of headers lws keeps for a request, request line included, as
 * most servers do: a browser sends the site's cookies along.  lws closes
 * a request with more, unanswered.  Held only while a request is read. */
#define HTTPD_HEADER_DATA	8192
/* lws's own timeouts come this much after ours, as a backstop. */
#define HTTPD_LWS_SLACK_SECS	5
/* Listening sockets at most: HOST may have several addresses. */
#define HTTPD_MAX_LISTENERS	8
/* Connections accepted per wakeup of a listening socket, so that a flood
 * of new ones does not starve those we serve. */
#define HTTPD_ACCEPT_BATCH	64
/* Out of descriptors: connections turned away (accepted with the reserve
 * descriptor and closed at once) per round, and the pause between rounds
 * that keeps the loop from spinning on a readable listening socket. */
#define HTTPD_SHED_BATCH	32
#define HTTPD_ACCEPT_PAUSE	0.1	/* s */
/* At most one warning about turned-away connections per this long. */
#define HTTPD_REPORT_SECS	10.0
/* Characters of a refused Origin that the log shows. */
#define HTTPD_LOG_ORIGIN	80

struct route {
	struct route	*next;
	char		*path;
	int		 prefix;	/* also every "path/..." */
	httpd_handler	 fn;
	void		*arg;
};

struct httpd {
	struct ev_loop		*loop;
	struct lws_context	*ctx;
	struct lws_vhost	*vhost;
	const struct httpd_transport *tr;	/* on the Engine.IO path */
	void			*srv;
	char			*engine_path;	/* "/socket.io/" */
	size_t			 engine_len;	/* without trailing '/' */
	size_t			 max_body;
	double			 request_timeout;	/* s */
	char			**origins;
	int			 norigins;
	int			 any_origin;
	int			 same_origin;	/* allow_same_origin */
	struct route		*routes;

	ev_io			 listeners[HTTPD_MAX_LISTENERS];
	int			 nlisteners;
	int			 reserve_fd;	/* /dev/null, given up to shed */
	ev_timer		 accept_pause;	/* accepting stopped meanwhile */
	ev_timer		 report;	/* running while in trouble */
	unsigned long long	 turned_away;	/* since the last report */
	unsigned		 pauses;	/* since the last report */
	int			 trouble;	/* errno of the last failure */

	struct httpd_req	*aborted;	/* httpd_abort, to close */
	ev_timer		 abort_now;
};

/* Per-connection storage that lws allocates for every wsi. */
struct conn {
	struct httpd_req	*req;		/* HTTP transaction in progress */
	void			*sess;		/* WebSocket: its session */
	uint16_t		 close_code;	/* WebSocket: close when set */
	uint8_t			 established;
	uint8_t			 peer_closed;	/* the client sent a close frame */
};

/*
 * What we keep for every connection from accept to close, as lws's opaque
 * user data (struct conn only exists once a request's headers are in).
 */
struct link {
	struct httpd		*h;
	struct lws		*wsi;
	ev_timer		 deadline;	/* for the request to come */
};

static struct httpd *httpd_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---------------------------------------------------------------- origins */

void
httpd_set_origins(struct httpd *h, const char *list)
{
	char *copy, *tok, *save = NULL;

	for (int i = 0; i < h->norigins; i++)
		free(h->origins[i]);
	free(h->origins);
	h->origins = NULL;
	h->norigins = 0;
	h->any_origin = 0;
	if (list == NULL)
		return;
	copy = xstrdup(list);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		size_t n = strlen(tok);
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t' ||
		    tok[n - 1] == '/'))
			tok[--n] = '\0';
		if (n == 0)
			continue;
		if (strcmp(tok, "*") == 0) {
			h->any_origin = 1;
			continue;
		}
		h->origins = xreallocarray(h->origins, h->norigins + 1,
		    sizeof(*h->origins));
		h->origins[h->norigins] = xstrdup(tok);
		h->norigins++;
	}
	free(copy);
}

int
httpd_origin_allowed(const struct httpd *h, const char *origin)
{
	if (origin == NULL || *origin == '\0')
		return 1;
	if (strlen(origin) > HTTPD_ORIGIN_MAX)
		return 0;
	if (h->any_origin)
		return 1;
	for (int i = 0; i < h->norigins; i++)
		if (strcasecmp(h->origins[i], origin) == 0)
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- requests */

/*
 * Header `tok` as a string of its own (free it), NULL when the request has
 * none.  Whole whatever its length, never cut to fit a buffer: a header
 * that does not fit must not read as one that is not there.
 */
static char *
header_dup(struct lws *wsi, enum lws_token_indexes tok)
{
	int len = lws_hdr_total_length(wsi, tok);
	char *s;

	if (len <= 0)
		return NULL;
	s = xmalloc((size_t)len + 1);
	/* Cannot fail with room for all of it; if it did, "" is a value
	 * that no check allows (and still not an absent header). */
	if (lws_hdr_copy(wsi, s, len + 1, tok) < 0)
		s[0] = '\0';
	return s;
}

/* The query's arguments, each whole (lws splits them at '&'). */
static void
query_read(struct lws *wsi, struct httpd_query *q)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	size_t used = 0, room;

	memset(q, 0, sizeof(*q));
	if (total <= 0)
		return;
	/* Each argument and its NUL: the total counts one separator between
	 * two arguments, so total + 1 holds them all. */
	room = (size_t)total + 1;
	q->store = xmalloc(room);
	for (int i = 0; used < room; i++) {
		int n = lws_hdr_copy_fragment(wsi, q->store + used,
		    (int)(room - used), WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0)
			break;
		q->v = xreallocarray(q->v, q->n + 1, sizeof(*q->v));
		q->v[q->n++] = q->store + used;
		used += (size_t)n + 1;
	}
}

static const char *
query_get(const struct httpd_query *q, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < q->n; i++)
		if (strncmp(q->v[i], name, n) == 0 && q->v[i][n] == '=')
			return q->v[i] + n + 1;
	return NULL;
}

static void
query_free(struct httpd_query *q)
{
	free(q->v);
	free(q->store);
	memset(q, 0, sizeof(*q));
}

const char *
httpd_arg(const struct httpd_req *req, const char *name)
{
	return query_get(&req->query, name);
}

static enum httpd_method
method_of(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
		return HTTPD_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
		return HTTPD_POST;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
		return HTTPD_OPTIONS;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
		return HTTPD_HEAD;
	return HTTPD_OTHER;
}

static struct httpd_req *
req_new(struct httpd *h, struct lws *wsi, const char *path)
{
	struct httpd_req *req;
	char *ctype, *conn;

	req = xcalloc(1, sizeof(*req));
	req->path = xstrdup(path ? path : "/");
	req->srv = h;
	req->wsi = wsi;
	req->method = method_of(wsi);
	query_read(wsi, &req->query);
	req->origin = header_dup(wsi, WSI_TOKEN_ORIGIN);
	req->accept = header_dup(wsi, WSI_TOKEN_HTTP_ACCEPT);
	req->cookie = header_dup(wsi, WSI_TOKEN_HTTP_COOKIE);
	ctype = header_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
	req->binary_body = ctype != NULL &&
	    strncasecmp(ctype, "application/octet-stream", 24) == 0;
	free(ctype);
	/* Say so when we will close after answering: a client that pools
	 * connections would otherwise reuse this one and see it hang up. */
	conn = header_dup(wsi, WSI_TOKEN_CONNECTION);
	if ((conn != NULL && strcasestr(conn, "close") != NULL) ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP1_0) > 0)
		req->close_after = 1;
	free(conn);
	return req;
}

static void
req_free(struct httpd_req *req)
{
	free(req->path);
	query_free(&req->query);
	free(req->origin);
	free(req->cookie);
	free(req->accept);
	buf_free(&req->body);
	buf_free(&req->resp);
	free(req);
}

void
httpd_park(struct httpd_req *req, void (*gone)(struct httpd_req *, void *),
    void *arg)
{
	req->gone = gone;
	req->gone_arg = arg;
	/* lws would drop an HTTP transaction after 5 s; our own heartbeat
	 * answers a parked GET within ping_interval, and the request
	 * deadline ends a POST whose body does not come. */
	if (req->wsi != NULL)
		lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT,
		    HTTPD_PARK_SECS);
}

/*
 * Close a connection now, with its callbacks (on libev lws closes the
 * socket at once, it does not linger half-closed).  Never from inside an
 * lws callback: only from our own watchers.
 */
static void
conn_kill(struct lws *wsi)
{
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

void
httpd_abort(struct httpd_req *req)
{
	struct httpd *h = req->srv;

	req->gone = NULL;
	if (req->aborted)
		return;
	req->aborted = 1;
	req->next = h->aborted;
	h->aborted = req;
	/* Our caller may be inside an lws callback (of another connection):
	 * close it from the loop, before it next waits. */
	if (!ev_is_active(&h->abort_now)) {
		ev_timer_set(&h->abort_now, 0., 0.);
		ev_timer_start(h->loop, &h->abort_now);
	}
}

static void
abort_pending(struct httpd *h)
{
	struct httpd_req *req;

	while ((req = h->aborted) != NULL) {
		h->aborted = req->next;
		if (req->wsi != NULL) {
			struct lws *wsi = req->wsi;
			struct conn *c = lws_wsi_user(wsi);

			/* Its callbacks must not see the req again. */
			if (c != NULL && c->req == req)
				c->req = NULL;
			req->wsi = NULL;
			log_debug("http: closing a request nobody waits for");
			conn_kill(wsi);
		}
		req_free(req);
	}
}

static void
on_abort_now(struct ev_loop *loop, ev_timer *w, int revents)
{
	abort_pending(w->data);
}

/* ---------------------------------------------------------------- deadline */

/*
 * A connection has request_timeout from its opening, or from the end of
 * its previous answer, to bring a whole request: its headers, and a POST's
 * body too.  lws's own timeouts do not do it: theirs fire late on libev,
 * and the body's restarts with every chunk, so a body sent a byte at a time
 * never ends.  A WebSocket or a parked GET has arrived: no deadline.
 */
static void
on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = w->data;

	log_debug("http: no whole request within %.0f ms; closing",
	    l->h->request_timeout * 1000);
	conn_kill(l->wsi);	/* frees l (LWS_CALLBACK_WSI_DESTROY) */
}

static void
deadline_start(struct lws *wsi)
{
	struct link *l = lws_get_opaque_user_data(wsi);

	if (l == NULL)
		return;
	ev_timer_stop(l->h->loop, &l->deadline);
	ev_timer_set(&l->deadline, l->h->request_timeout, 0.);
	ev_timer_start(l->h->loop, &l->deadline);
}

static void
deadline_stop(struct lws *wsi)
{
	struct link *l = lws_get_opaque_user_data(wsi);

	if (l != NULL)
		ev_timer_stop(l->h->loop, &l->deadline);
}

static void
link_free(struct lws *wsi)
{
	struct link *l = lws_get_opaque_user_data(wsi);

	if (l == NULL)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	ev_timer_stop(l->h->loop, &l->deadline);
	free(l);
}

void
httpd_respond(struct httpd_req *req, int status, const char *content_type,
    const void *body, size_t len)
{
	if (req->answered)
		return;
	req->answered = 1;
	req->gone = NULL;
	req->status = status;
	req->content_type = content_type;
	buf_reset(&req->resp);
	if (len > 0)
		buf_append(&req->resp, body, len);
	if (req->wsi == NULL) {
		req_free(req);
		return;
	}
	lws_callback_on_writable(req->wsi);
}

static int
add_header(struct lws *wsi, const char *name, const char *value,
    unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	    (const unsigned char *)value, (int)strlen(value), p, end);
}

static int
add_cors(struct httpd *h, struct httpd_req *req, unsigned char **p,
    unsigned char *end)
{
	/* An over-long Origin is never allowed: no CORS headers. */
	if (req->origin == NULL || req->origin[0] == '\0' ||
	    !httpd_origin_allowed(h, req->origin))
		return 0;
	if (add_header(req->wsi, "access-control-allow-origin:", req->origin,
	    p, end) ||
	    add_header(req->wsi, "access-control-allow-credentials:", "true",
	    p, end) ||
	    add_header(req->wsi, "vary:", "Origin", p, end))
		return -1;
	if (req->method == HTTPD_OPTIONS) {
		char hdrs[256];

		if (lws_hdr_custom_copy(req->wsi, hdrs, sizeof(hdrs),
		    "access-control-request-headers:", 31) < 0)
			snprintf(hdrs, sizeof(hdrs), "content-type");
		if (add_header(req->wsi, "access-control-allow-methods:",
		    "GET, POST, OPTIONS", p, end) ||
		    add_header(req->wsi, "access-control-allow-headers:", hdrs,
		    p, end) ||
		    add_header(req->wsi, "access-control-max-age:", "600",
		    p, end))
			return -1;
	}
	return 0;
}

int
httpd_add_header(struct httpd_req *req, const char *name, const char *value)
{
	if (req->nhdrs >= HTTPD_MAX_HEADERS)
		return -1;
	req->hdrs[req->nhdrs][0] = name;
	req->hdrs[req->nhdrs][1] = value;
	req->nhdrs++;
	return 0;
}

static int
add_extra_headers(struct httpd_req *req, unsigned char **p,
    unsigned char *end)
{
	for (int i = 0; i < req->nhdrs; i++)
		if (add_header(req->wsi, req->hdrs[i][0], req->hdrs[i][1], p,
		    end))
			return -1;
	return 0;
}

/* Write the next slice of an answer; returns -1 to close the connection. */
static int
write_answer(struct httpd *h, struct lws *wsi, struct conn *c)
{
	struct httpd_req *req = c->req;
	unsigned char hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof(hdr) - 1;

	if (req == NULL || !req->answered)
		return 0;
	if (!req->headers_sent) {
		if (lws_add_http_common_headers(wsi, (unsigned)req->status,
		    req->content_type ? req->content_type : "text/plain",
		    req->resp.len, &p, end) ||
		    add_cors(h, req, &p, end) ||
		    add_header(wsi, "cache-control:", "no-store", &p, end) ||
		    add_extra_headers(req, &p, end) ||
		    (req->close_after &&
		     add_header(wsi, "connection:", "close", &p, end)) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		req->headers_sent = 1;
		if (req->resp.len == 0 || req->method == HTTPD_HEAD)
			goto done;
		lws_callback_on_writable(wsi);
		return 0;
	}

	size_t left = req->resp.len - req->resp_off;
	size_t n = left > HTTPD_WRITE_SLICE ? HTTPD_WRITE_SLICE : left;
	int final = n == left;
	/* lws wants LWS_PRE writable bytes before what it sends. */
	uint8_t *slice = xmalloc(LWS_PRE + n);

	memcpy(slice + LWS_PRE, req->resp.data + req->resp_off, n);
	int w = lws_write(wsi, slice + LWS_PRE, n,
	    final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
	free(slice);
	if (w < 0)
		return -1;
	req->resp_off += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
done:
	{
		int close_after = req->close_after;

		req_free(req);
		c->req = NULL;
		if (close_after || lws_http_transaction_completed(wsi))
			return -1;
		deadline_start(wsi);	/* for the next request */
		return 0;
	}
}

static int
path_is_engine(struct httpd *h, const char *path)
{
	return strncmp(path, h->engine_path, h->engine_len) == 0 &&
	    (path[h->engine_len] == '\0' || path[h->engine_len] == '/');
}

static void
answer_simple(struct httpd_req *req, int status, const char *msg)
{
	httpd_respond(req, status, "text/plain; charset=utf-8", msg,
	    strlen(msg));
}

/* Headers of a new request are in. */
static int
on_http(struct httpd *h, struct lws *wsi, struct conn *c, const char *path)
{
	struct httpd_req *req;
	struct route *r;

	if (c->req != NULL) {	/* pipelined while busy: refuse */
		log_debug("http: request while another is pending");
		return -1;
	}
	req = c->req = req_new(h, wsi, path);
	/* Its headers are in: it has arrived, unless a body is to come (a
	 * POST's deadline ends with its body). */
	if (req->method != HTTPD_POST)
		deadline_stop(wsi);

	if (req->method == HTTPD_OPTIONS) {
		httpd_respond(req, 204, "text/plain", NULL, 0);
		return 0;
	}
	if (path_is_engine(h, req->path)) {
		if (req->method != HTTPD_POST) {
			h->tr->request(h->srv, req);
			return 0;
		}
		if (lws_hdr_total_length(wsi,
		    WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
			req->close_after = 1;
			answer_simple(req, 411, "Length Required");
			return 0;
		}
		char *cl = header_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
		unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;

		free(cl);
		if (clen == 0) {
			/* No body is coming: lws will not call us again. */
			h->tr->request(h->srv, req);
			return 0;
		}
		if (clen > h->max_body) {
			/* Refused before a byte of the body is read; the
			 * session learns of it from the transport's request. */
			req->close_after = 1;
			req->too_large = 1;
			h->tr->request(h->srv, req);
			return 0;
		}
		h->tr->post_begin(h->srv, req);
		return 0;	/* the body follows */
	}
	for (r = h->routes; r != NULL; r = r->next) {
		size_t n = strlen(r->path);

		if (strcmp(r->path, req->path) == 0 || (r->prefix &&
		    strncmp(r->path, req->path, n) == 0 &&
		    req->path[n] == '/'))
			break;
	}
	if (r == NULL) {
		answer_simple(req, 404, "Not Found");
		return 0;
	}
	if (req->method != HTTPD_GET && req->method != HTTPD_HEAD) {
		answer_simple(req, 405, "Method Not Allowed");
		return 0;
	}
	r->fn(req, r->arg);
	return 0;
}

static int
on_http_body(struct httpd *h, struct conn *c, const void *in, size_t len)
{
	struct httpd_req *req = c->req;

	if (req == NULL || req->answered)
		return 0;
	if (req->body.len + len > h->max_body) {
		req->close_after = 1;
		req->too_large = 1;
		buf_free(&req->body);
		h->tr->request(h->srv, req);
		return -1;
	}
	buf_append(&req->body, in, len);
	return 0;
}

static void
on_http_closed(struct conn *c)
{
	struct httpd_req *req = c->req;

	if (req == NULL)
		return;
	c->req = NULL;
	req->wsi = NULL;
	if (req->aborted)
		return;		/* abort_pending frees it */
	if (req->answered) {
		req_free(req);
		return;
	}
	if (req->gone != NULL) {
		void (*gone)(struct httpd_req *, void *) = req->gone;

		req->gone = NULL;
		gone(req, req->gone_arg);	/* owner forgets it */
	}
	req_free(req);
}

/* ---------------------------------------------------------------- websocket */

/* Answer a refused upgrade with an HTTP status; returns what lws wants. */
static int
refuse_upgrade(struct lws *wsi, int status)
{
	if (lws_return_http_status(wsi, (unsigned)status, NULL))
		return -1;
	return 1;
}

/*
 * Is `origin` this server, as the client reached it ("http://" or
 * "https://" then exactly the Host header)?  A page we served ourselves
 * is not a cross-site one, whatever ALLOWED_ORIGINS says.
 */
static int
origin_is_host(struct lws *wsi, const char *origin)
{
	char *host = header_dup(wsi, WSI_TOKEN_HOST);
	const char *rest;
	int same;

	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		rest = NULL;
	same = host != NULL && host[0] != '\0' && rest != NULL &&
	    strlen(rest) <= HTTPD_ORIGIN_MAX && strcasecmp(rest, host) == 0;
	free(host);
	return same;
}

/* A WebSocket's Origin, present or not; whatever its length. */
static int
upgrade_origin_allowed(struct httpd *h, struct lws *wsi)
{
	char *origin = header_dup(wsi, WSI_TOKEN_ORIGIN);
	size_t n;

	if (origin == NULL)
		return 1;	/* not a browser: no Origin to check */
	if (origin[0] != '\0' && (httpd_origin_allowed(h, origin) ||
	    (h->same_origin && origin_is_host(wsi, origin)))) {
		free(origin);
		return 1;
	}
	if ((n = strlen(origin)) > HTTPD_LOG_ORIGIN)
		log_info("websocket from Origin %.*s... (%zu bytes) refused "
		    "(not in ALLOWED_ORIGINS)", HTTPD_LOG_ORIGIN, origin, n);
	else
		log_info("websocket from Origin %s refused (not in "
		    "ALLOWED_ORIGINS)", origin);
	free(origin);
	return 0;
}

static int
on_confirm_upgrade(struct httpd *h, struct lws *wsi, const char *proto)
{
	struct httpd_query q;
	const char *sid;
	char *path;
	int status;

	if (proto == NULL || strcmp(proto, "websocket") != 0)
		return refuse_upgrade(wsi, 400);
	path = header_dup(wsi, WSI_TOKEN_GET_URI);
	status = path == NULL || !path_is_engine(h, path);
	free(path);
	if (status)
		return refuse_upgrade(wsi, 404);
	if (!upgrade_origin_allowed(h, wsi))
		return refuse_upgrade(wsi, 403);
	query_read(wsi, &q);
	sid = query_get(&q, "sid");
	status = h->tr->ws_check(h->srv, query_get(&q, "EIO"),
	    query_get(&q, "transport"), sid && *sid ? sid : NULL);
	query_free(&q);
	return status ? refuse_upgrade(wsi, status) : 0;
}

static int
on_ws_established(struct httpd *h, struct lws *wsi, struct conn *c)
{
	struct httpd_query q;
	const char *sid;
	char peer[64] = "", *cookie;

	deadline_stop(wsi);
	query_read(wsi, &q);
	sid = query_get(&q, "sid");
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	c->established = 1;
	cookie = header_dup(wsi, WSI_TOKEN_HTTP_COOKIE);
	c->sess = h->tr->ws_open(h->srv, wsi, sid && *sid ? sid : NULL, peer,
	    cookie);
	free(cookie);
	query_free(&q);
	if (c->sess == NULL) {
		/* The session exists but cannot take this socket (it already
		 * has one): finish the handshake and close it cleanly, as the
		 * reference server does. */
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		lws_callback_on_writable(wsi);
	}
	return 0;
}

void
httpd_ws_close(struct lws *wsi, int code)
{
	struct conn *c = lws_wsi_user(wsi);

	if (c == NULL)
		return;
	c->sess = NULL;
	c->close_code = (uint16_t)(code ? code : LWS_CLOSE_STATUS_NORMAL);
	lws_callback_on_writable(wsi);
}

/* ---------------------------------------------------------------- callback */

static int
httpd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct httpd *h = httpd_of(wsi);
	struct conn *c = user;

	/* The last callback of every connection, storage or not. */
	if (reason == LWS_CALLBACK_WSI_DESTROY) {
		link_free(wsi);
		return 0;
	}
	/* lws calls some reasons (closing a connection that never bound our
	 * protocol, for one) without per-connection storage. */
	if (c == NULL)
		return reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE ?
		    on_confirm_upgrade(h, wsi, in) : 0;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(h, wsi, c, in);
	case LWS_CALLBACK_HTTP_BODY:
		return on_http_body(h, c, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		deadline_stop(wsi);
		if (c->req != NULL && !c->req->answered)
			h->tr->request(h->srv, c->req);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_answer(h, wsi, c);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/* Either ends our transaction if it is still open; the
		 * storage may not outlive a dropped protocol. */
		on_http_closed(c);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return on_confirm_upgrade(h, wsi, in);
	case LWS_CALLBACK_ESTABLISHED:
		return on_ws_established(h, wsi, c);
	case LWS_CALLBACK_RECEIVE:
		if (c->sess == NULL)
			return c->close_code ? -1 : 0;
		h->tr->ws_receive(c->sess, wsi, in, len, lws_frame_is_binary(wsi),
		    lws_is_first_fragment(wsi),
		    lws_is_final_fragment(wsi) &&
		    lws_remaining_packet_payload(wsi) == 0);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->sess == NULL) {
			if (c->close_code) {
				lws_close_reason(wsi, c->close_code, NULL, 0);
				return -1;
			}
			return 0;
		}
		return h->tr->ws_writeable(c->sess, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		c->peer_closed = 1;
		return 0;
	case LWS_CALLBACK_CLOSED:
		/* Also fires for refused upgrades: only established ones
		 * ever had a session. */
		if (c->established && c->sess != NULL)
			h->tr->ws_closed(c->sess, wsi, c->peer_closed);
		c->sess = NULL;
		c->established = 0;
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols httpd_protocols[] = {
	{ "coup", httpd_callback, sizeof(struct conn), HTTPD_WS_RX_BUFFER,
	  0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---------------------------------------------------------------- accepting */

static void
listeners_run(struct httpd *h, int on)
{
	for (int i = 0; i < h->nlisteners; i++)
		if (on)
			ev_io_start(h->loop, &h->listeners[i]);
		else
			ev_io_stop(h->loop, &h->listeners[i]);
}

static void
reserve_take(struct httpd *h)
{
	if (h->reserve_fd < 0 &&
	    (h->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		log_debug("http: no reserve descriptor: %s", strerror(errno));
}

/* In trouble, say how it went, at most once per HTTPD_REPORT_SECS. */
static void
on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpd *h = w->data;

	if (h->turned_away == 0 && h->pauses == 0) {
		log_info("http: accepting new connections again");
		ev_timer_stop(loop, w);
		return;
	}
	log_warnx("http: %llu new connections turned away, accepting paused "
	    "%u times, in the last %.0f s (%s)", h->turned_away, h->pauses,
	    HTTPD_REPORT_SECS, h->trouble ? strerror(h->trouble) :
	    "lws's connection table is full");
	h->turned_away = 0;
	h->pauses = 0;
}

/* New connections cannot be served: err, or 0 when lws would not take one. */
static void
trouble(struct httpd *h, int err)
{
	h->trouble = err;
	if (ev_is_active(&h->report))
		return;
	log_warnx("http: cannot take new connections (%s): turning them away "
	    "until there are descriptors again; next report in %.0f s",
	    err ? strerror(err) : "lws's connection table is full",
	    HTTPD_REPORT_SECS);
	ev_timer_set(&h->report, HTTPD_REPORT_SECS, HTTPD_REPORT_SECS);
	ev_timer_start(h->loop, &h->report);
}

/*
 * Out of descriptors, new connections wait in the listening sockets'
 * queues and keep them readable.  Give up the reserve descriptor to accept
 * a few and close them at once: their clients learn it now, and may try
 * another server, instead of waiting for a timeout.
 */
static void
shed(struct httpd *h, int lfd)
{
	int fd;

	if (h->reserve_fd < 0)
		return;
	close(h->reserve_fd);
	h->reserve_fd = -1;
	for (int i = 0; i < HTTPD_SHED_BATCH; i++) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			break;
		close(fd);
		h->turned_away++;
	}
	reserve_take(h);
}

/* Then stop accepting a moment, lest the loop spin on a readable socket. */
static void
accept_pause(struct httpd *h)
{
	listeners_run(h, 0);
	h->pauses++;
	ev_timer_set(&h->accept_pause, HTTPD_ACCEPT_PAUSE, 0.);
	ev_timer_start(h->loop, &h->accept_pause);
}

static void
on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpd *h = w->data;

	reserve_take(h);
	listeners_run(h, 1);
}

/* Hand an accepted socket to lws; -1 if lws would not take it. */
static int
adopt(struct httpd *h, int fd)
{
	lws_sock_file_fd_type desc;
	struct lws *wsi;
	struct link *l;
	int one = 1;

	/* As lws's own listener did: small frames go out at once. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("http: TCP_NODELAY: %s", strerror(errno));
	desc.sockfd = fd;
	wsi = lws_adopt_descriptor_vhost(h->vhost, LWS_ADOPT_SOCKET |
	    LWS_ADOPT_HTTP, desc, NULL, NULL);
	if (wsi == NULL)
		return -1;	/* lws has closed fd */
	l = xcalloc(1, sizeof(*l));
	l->h = h;
	l->wsi = wsi;
	ev_timer_init(&l->deadline, on_deadline, h->request_timeout, 0.);
	l->deadline.data = l;
	ev_timer_start(h->loop, &l->deadline);
	lws_set_opaque_user_data(wsi, l);
	return 0;
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct httpd *h = w->data;

	for (int i = 0; i < HTTPD_ACCEPT_BATCH; i++) {
		int fd = accept4(w->fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		int err = errno;

		if (fd >= 0) {
			if (adopt(h, fd) == 0)
				continue;
			h->turned_away++;
			trouble(h, 0);
			accept_pause(h);
			return;
		}
		switch (err) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return;
		case EINTR:
		case ECONNABORTED:
		case EPERM:
		case EPROTO:
		case ENOPROTOOPT:
		case EOPNOTSUPP:
		case ENETDOWN:
		case ENETUNREACH:
		case EHOSTDOWN:
		case EHOSTUNREACH:
		case ENONET:
			continue;	/* that one is gone; the next may do */
		case EMFILE:
		case ENFILE:
			trouble(h, err);
			shed(h, w->fd);
			accept_pause(h);
			return;
		default:		/* ENOBUFS, ENOMEM: wait, shed nothing */
			trouble(h, err);
			accept_pause(h);
			return;
		}
	}
}

/* ---------------------------------------------------------------- listening */

/* "[::1]:4000" or "127.0.0.1:4000", for the log. */
static void
addr_text(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, n, "?");
	else
		snprintf(out, n, sa->sa_family == AF_INET6 ? "[%s]:%s" :
		    "%s:%s", host, serv);
}

/* One listening socket; -1 with errno set if it cannot be. */
static int
listen_on(struct httpd *h, const struct sockaddr *sa, socklen_t len)
{
	char where[NI_MAXHOST + NI_MAXSERV + 4];
	int fd, one = 1, zero = 0, err;

	addr_text(sa, len, where, sizeof(where));
	if (h->nlisteners == HTTPD_MAX_LISTENERS) {
		log_warnx("http: not listening on %s: %d addresses at most",
		    where, HTTPD_MAX_LISTENERS);
		return 0;
	}
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* SO_REUSEADDR: a restart binds at once, whatever lingers in
	 * TIME_WAIT.  IPV6_V6ONLY off: "::" takes IPv4 too, whatever the
	 * system's default. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
	    bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	log_debug("http: listening on %s", where);
	ev_io_init(&h->listeners[h->nlisteners], on_accept, fd, EV_READ);
	h->listeners[h->nlisteners].data = h;
	ev_io_start(h->loop, &h->listeners[h->nlisteners]);
	h->nlisteners++;
	return 0;
}

/* This machine has no such address (a name's IPv6 one without IPv6). */
static int
not_here(int err)
{
	return err == EAFNOSUPPORT || err == EADDRNOTAVAIL;
}

/*
 * Each address of a name or interface that this machine has; -1 with
 * errno set if one fails otherwise, or if none is here.
 */
static int
listen_each(struct httpd *h, const struct sockaddr *sa, socklen_t len,
    int *done, int *err)
{
	if (listen_on(h, sa, len) == 0) {
		(*done)++;
		return 0;
	}
	*err = errno;
	return not_here(errno) ? 0 : -1;
}

static int
listen_interface(struct httpd *h, const char *name, int port, int *found)
{
	struct ifaddrs *ifs, *ifa;
	int done = 0, err = EADDRNOTAVAIL, rc = 0;

	*found = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (ifa = ifs; ifa != NULL && rc == 0; ifa = ifa->ifa_next) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (ifa->ifa_addr == NULL || strcmp(ifa->ifa_name, name) != 0)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET) {
			len = sizeof(struct sockaddr_in);
			memcpy(&ss, ifa->ifa_addr, len);
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			len = sizeof(struct sockaddr_in6);
			memcpy(&ss, ifa->ifa_addr, len);
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		} else
			continue;
		*found = 1;
		rc = listen_each(h, (struct sockaddr *)&ss, len, &done, &err);
	}
	freeifaddrs(ifs);
	if (*found && (rc < 0 || done == 0)) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * HOST: empty for every interface (IPv6 and IPv4 on one socket); else an
 * address, the name of an interface (each of its addresses, as lws's own
 * listener took one), or a host name (each of its addresses).
 */
static int
listen_host(struct httpd *h, const char *host, int port, char *why,
    size_t whylen)
{
	struct addrinfo hints, *res, *ai, *prev;
	char serv[16];
	int rc, found, done = 0, err = EADDRNOTAVAIL;

	if (host == NULL || *host == '\0') {
		struct sockaddr_in6 any6;
		struct sockaddr_in any4;

		memset(&any6, 0, sizeof(any6));
		any6.sin6_family = AF_INET6;
		any6.sin6_addr = in6addr_any;
		any6.sin6_port = htons(port);
		memset(&any4, 0, sizeof(any4));
		any4.sin_family = AF_INET;
		any4.sin_addr.s_addr = htonl(INADDR_ANY);
		any4.sin_port = htons(port);
		if (listen_on(h, (struct sockaddr *)&any6, sizeof(any6)) == 0 ||
		    (not_here(errno) && listen_on(h, (struct sockaddr *)&any4,
		    sizeof(any4)) == 0))
			return 0;
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	snprintf(serv, sizeof(serv), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		if (listen_interface(h, host, port, &found) < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			return -1;
		}
		if (found)
			return 0;
		hints.ai_flags &= ~AI_NUMERICHOST;
		if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
			snprintf(why, whylen, "not an address, an interface "
			    "or a known host name (%s)", gai_strerror(rc));
			return -1;
		}
	}
	rc = 0;
	for (ai = res; ai != NULL && rc == 0; ai = ai->ai_next) {
		for (prev = res; prev != ai; prev = prev->ai_next)
			if (prev->ai_addrlen == ai->ai_addrlen &&
			    memcmp(prev->ai_addr, ai->ai_addr,
			    ai->ai_addrlen) == 0)
				break;
		if (prev == ai)		/* not seen before */
			rc = listen_each(h, ai->ai_addr, ai->ai_addrlen, &done,
			    &err);
	}
	freeaddrinfo(res);
	if (rc < 0 || done == 0) {
		snprintf(why, whylen, "%s", strerror(err));
		return -1;
	}
	return 0;
}

static void
listeners_close(struct httpd *h)
{
	listeners_run(h, 0);
	for (int i = 0; i < h->nlisteners; i++)
		close(h->listeners[i].fd);
	h->nlisteners = 0;
}

/* ---------------------------------------------------------------- setup */

static void
lws_log_to_ours(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warnx("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

static void
httpd_destroy(struct httpd *h)
{
	struct route *r, *next;

	ev_timer_stop(h->loop, &h->accept_pause);
	ev_timer_stop(h->loop, &h->report);
	listeners_close(h);
	abort_pending(h);
	ev_timer_stop(h->loop, &h->abort_now);
	if (h->ctx != NULL)
		lws_context_destroy(h->ctx);
	if (h->reserve_fd >= 0)
		close(h->reserve_fd);
	for (r = h->routes; r != NULL; r = next) {
		next = r->next;
		free(r->path);
		free(r);
	}
	httpd_set_origins(h, NULL);
	free(h->engine_path);
	free(h);
}

struct httpd *
httpd_new(struct ev_loop *loop, const struct httpd_opts *o,
    const struct httpd_transport *tr, void *srv)
{
	struct lws_context_creation_info info;
	struct httpd *h;
	void *loops[1] = { loop };
	char why[256];
	size_t n;

	h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->tr = tr;
	h->srv = srv;
	h->max_body = o->max_body;
	h->request_timeout = o->request_timeout_ms / 1000.0;
	h->reserve_fd = -1;
	h->engine_path = xstrdup(o->engine_path);
	n = strlen(h->engine_path);
	while (n > 1 && h->engine_path[n - 1] == '/')
		n--;
	h->engine_len = n;
	httpd_set_origins(h, o->allowed_origins);
	h->same_origin = o->allow_same_origin;
	ev_init(&h->accept_pause, on_accept_pause);
	h->accept_pause.data = h;
	ev_init(&h->report, on_report);
	h->report.data = h;
	ev_init(&h->abort_now, on_abort_now);
	h->abort_now.data = h;

	if (listen_host(h, o->host, o->port, why, sizeof(why)) < 0) {
		log_warnx("cannot listen on %s:%d: %s",
		    o->host && *o->host ? o->host : "*", o->port, why);
		httpd_destroy(h);
		return NULL;
	}
	reserve_take(h);

	/* lws's NOTICE level is very chatty: errors only unless debugging. */
	lws_set_log_level(LLL_ERR | (log_level_current >= LOG_LEVEL_DEBUG ?
	    LLL_WARN : 0), lws_log_to_ours);

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;	/* we accept */
	info.protocols = httpd_protocols;
	info.options = LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = loops;
	info.user = h;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	info.max_http_header_data = HTTPD_HEADER_DATA;
	info.keepalive_timeout = 60;
	/* Ours decide (the request deadline); lws's come later, if ever. */
	info.timeout_secs = (unsigned)(o->request_timeout_ms + 999) / 1000 +
	    HTTPD_LWS_SLACK_SECS;
	info.timeout_secs_ah_idle = info.timeout_secs;
	info.server_string = "coup-signaling";
	h->ctx = lws_create_context(&info);
	if (h->ctx == NULL ||
	    (h->vhost = lws_get_vhost_by_name(h->ctx, "default")) == NULL) {
		log_warnx("cannot start libwebsockets (see the lws line above; "
		    "is the libwebsockets-evlib-ev package missing?)");
		httpd_destroy(h);
		return NULL;
	}
	return h;
}

static void
add_route(struct httpd *h, const char *path, int prefix, httpd_handler fn,
    void *arg)
{
	struct route *r;

	r = xcalloc(1, sizeof(*r));
	r->path = xstrdup(path);
	r->prefix = prefix;
	r->fn = fn;
	r->arg = arg;
	r->next = h->routes;
	h->routes = r;
}

void
httpd_route(struct httpd *h, const char *path, httpd_handler fn, void *arg)
{
	add_route(h, path, 0, fn, arg);
}

void
httpd_route_prefix(struct httpd *h, const char *prefix, httpd_handler fn,
    void *arg)
{
	add_route(h, prefix, 1, fn, arg);
}

void
httpd_free(struct httpd *h)
{
	if (h != NULL)
		httpd_destroy(h);
}
