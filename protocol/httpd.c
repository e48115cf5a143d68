/*
 * httpd.c - libwebsockets on the application's libev loop: every lws
 * callback of the server lives here.
 *
 * Plain HTTP requests become struct httpd_req: requests on the Engine.IO
 * path go to eio_server once their body is in, others to the routes the
 * application registered.  Answers are written from the WRITEABLE callback
 * in slices, so a large long-polling payload never blocks the loop.
 * WebSocket upgrades on the Engine.IO path are checked here (query, Origin)
 * and then handed to eio_server frame by frame.
 *
 * No lws timer matters to us (they fire late on libev, see the stack
 * notes): every application timeout is an ev_timer in eio_server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "eio_server.h"
#include "httpd.h"
#include "log.h"

/* Bytes written per WRITEABLE callback for HTTP answers. */
#define HTTPD_WRITE_SLICE	(32 * 1024)
/* Frames larger than this arrive in several RECEIVE callbacks; small keeps
 * the per-connection buffer (and so RSS per idle WebSocket) small. */
#define HTTPD_WS_RX_BUFFER	1024
/* lws's own limit on a parked request; we answer long before it. */
#define HTTPD_PARK_SECS		3600

struct route {
	struct route	*next;
	char		*path;
	int		 prefix;	/* also every "path/..." */
	httpd_handler	 fn;
	void		*arg;
};

struct httpd {
	struct lws_context	*ctx;
	struct eio_server	*eio;
	char			*engine_path;	/* "/socket.io/" */
	size_t			 engine_len;	/* without trailing '/' */
	size_t			 max_body;
	char			**origins;
	int			 norigins;
	int			 any_origin;
	int			 same_origin;	/* allow_same_origin */
	struct route		*routes;
};

/* Per-connection storage that lws allocates for every wsi. */
struct conn {
	struct httpd_req	*req;		/* HTTP transaction in progress */
	struct eio_session	*sess;		/* WebSocket: its session */
	uint16_t		 close_code;	/* WebSocket: close when set */
	uint8_t			 established;
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
	if ((copy = strdup(list)) == NULL)
		fatal("strdup");
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
		h->origins = realloc(h->origins,
		    sizeof(*h->origins) * (h->norigins + 1));
		if (h->origins == NULL ||
		    (h->origins[h->norigins] = strdup(tok)) == NULL)
			fatal("realloc");
		h->norigins++;
	}
	free(copy);
}

int
httpd_origin_allowed(const struct httpd *h, const char *origin)
{
	if (origin == NULL || *origin == '\0' || h->any_origin)
		return 1;
	for (int i = 0; i < h->norigins; i++)
		if (strcasecmp(h->origins[i], origin) == 0)
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- requests */

const char *
httpd_arg(const struct httpd_req *req, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < req->nargs; i++)
		if (strncmp(req->args[i], name, n) == 0 &&
		    req->args[i][n] == '=')
			return req->args[i] + n + 1;
	return NULL;
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

static void
copy_header(struct lws *wsi, enum lws_token_indexes tok, char *dst, size_t n)
{
	if (lws_hdr_copy(wsi, dst, (int)n, tok) < 0)
		dst[0] = '\0';
}

static void
read_args(struct lws *wsi, struct httpd_req *req)
{
	size_t used = 0;

	for (int i = 0; i < HTTPD_MAX_ARGS; i++) {
		size_t room = sizeof(req->args_store) - used;
		int n;

		if (room < 2)
			break;
		n = lws_hdr_copy_fragment(wsi, req->args_store + used,
		    (int)room, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		req->args[req->nargs++] = req->args_store + used;
		used += (size_t)n + 1;
	}
}

static struct httpd_req *
req_new(struct httpd *h, struct lws *wsi, const char *path)
{
	struct httpd_req *req;
	char ctype[64];

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("calloc");
	req->srv = h;
	req->wsi = wsi;
	req->method = method_of(wsi);
	snprintf(req->path, sizeof(req->path), "%s", path ? path : "/");
	read_args(wsi, req);
	copy_header(wsi, WSI_TOKEN_ORIGIN, req->origin, sizeof(req->origin));
	copy_header(wsi, WSI_TOKEN_HTTP_ACCEPT, req->accept,
	    sizeof(req->accept));
	copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype, sizeof(ctype));
	req->binary_body = strncasecmp(ctype, "application/octet-stream",
	    24) == 0;
	/* Say so when we will close after answering: a client that pools
	 * connections would otherwise reuse this one and see it hang up. */
	char conn[64];
	copy_header(wsi, WSI_TOKEN_CONNECTION, conn, sizeof(conn));
	if (strcasestr(conn, "close") != NULL ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP1_0) > 0)
		req->close_after = 1;
	return req;
}

static void
req_free(struct httpd_req *req)
{
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
	 * answers a parked GET within ping_interval. */
	if (req->wsi != NULL)
		lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT,
		    HTTPD_PARK_SECS);
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
	if (req->origin[0] == '\0' || !httpd_origin_allowed(h, req->origin))
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
	uint8_t *slice = malloc(LWS_PRE + n);

	if (slice == NULL)
		fatal("malloc");
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
		if (close_after)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
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

	if (req->method == HTTPD_OPTIONS) {
		httpd_respond(req, 204, "text/plain", NULL, 0);
		return 0;
	}
	if (path_is_engine(h, req->path)) {
		if (req->method != HTTPD_POST) {
			eio_http_request(h->eio, req);
			return 0;
		}
		if (lws_hdr_total_length(wsi,
		    WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
			req->close_after = 1;
			answer_simple(req, 411, "Length Required");
			return 0;
		}
		char cl[32];
		copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl));
		if (cl[0] == '\0' || strtoull(cl, NULL, 10) == 0) {
			/* No body is coming: lws will not call us again. */
			eio_http_request(h->eio, req);
			return 0;
		}
		if (strtoull(cl, NULL, 10) > h->max_body) {
			/* Refused before a byte of the body is read; the
			 * session learns of it from eio_http_request. */
			req->close_after = 1;
			req->too_large = 1;
			eio_http_request(h->eio, req);
			return 0;
		}
		eio_http_post_begin(h->eio, req);
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
		eio_http_request(h->eio, req);
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

/* Copy the value of query argument `name` ("sid") into out ("" if none). */
static void
url_arg(struct lws *wsi, const char *name, char *out, size_t n)
{
	char buf[128], key[32];
	const char *v;

	snprintf(key, sizeof(key), "%s=", name);
	/* lws copies "name=value" into buf and points past the '='; it stops
	 * at the first argument longer than buf, so buf has room to spare. */
	v = lws_get_urlarg_by_name(wsi, key, buf, sizeof(buf));
	snprintf(out, n, "%s", v ? v : "");
}

/*
 * Is `origin` this server, as the client reached it ("http://" or
 * "https://" then exactly the Host header)?  A page we served ourselves
 * is not a cross-site one, whatever ALLOWED_ORIGINS says.
 */
static int
origin_is_host(struct lws *wsi, const char *origin)
{
	char host[256];
	const char *rest;

	copy_header(wsi, WSI_TOKEN_HOST, host, sizeof(host));
	if (host[0] == '\0')
		return 0;
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return 0;
	return strcasecmp(rest, host) == 0;
}

static int
on_confirm_upgrade(struct httpd *h, struct lws *wsi, const char *proto)
{
	char path[256], origin[256], eio[16], transport[16], sid[64];
	int status;

	if (proto == NULL || strcmp(proto, "websocket") != 0)
		return refuse_upgrade(wsi, 400);
	copy_header(wsi, WSI_TOKEN_GET_URI, path, sizeof(path));
	if (!path_is_engine(h, path))
		return refuse_upgrade(wsi, 404);
	copy_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
	if (!httpd_origin_allowed(h, origin) &&
	    !(h->same_origin && origin_is_host(wsi, origin))) {
		log_info("websocket from Origin %s refused (not in "
		    "ALLOWED_ORIGINS)", origin);
		return refuse_upgrade(wsi, 403);
	}
	url_arg(wsi, "EIO", eio, sizeof(eio));
	url_arg(wsi, "transport", transport, sizeof(transport));
	url_arg(wsi, "sid", sid, sizeof(sid));
	status = eio_ws_check(h->eio, eio, transport, sid[0] ? sid : NULL);
	return status ? refuse_upgrade(wsi, status) : 0;
}

static int
on_ws_established(struct httpd *h, struct lws *wsi, struct conn *c)
{
	char sid[64], peer[64] = "";

	url_arg(wsi, "sid", sid, sizeof(sid));
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	c->established = 1;
	c->sess = eio_ws_open(h->eio, wsi, sid[0] ? sid : NULL, peer);
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
		if (c->req != NULL && !c->req->answered)
			eio_http_request(h->eio, c->req);
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
		eio_ws_receive(c->sess, wsi, in, len, lws_frame_is_binary(wsi),
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
		return eio_ws_writeable(c->sess, wsi);
	case LWS_CALLBACK_CLOSED:
		/* Also fires for refused upgrades: only established ones
		 * ever had a session. */
		if (c->established && c->sess != NULL)
			eio_ws_closed(c->sess, wsi);
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

struct httpd *
httpd_new(struct ev_loop *loop, const struct httpd_opts *o,
    struct eio_server *eio)
{
	struct lws_context_creation_info info;
	struct httpd *h;
	void *loops[1] = { loop };
	size_t n;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("calloc");
	h->eio = eio;
	h->max_body = o->max_body;
	if ((h->engine_path = strdup(o->engine_path)) == NULL)
		fatal("strdup");
	n = strlen(h->engine_path);
	while (n > 1 && h->engine_path[n - 1] == '/')
		n--;
	h->engine_len = n;
	httpd_set_origins(h, o->allowed_origins);
	h->same_origin = o->allow_same_origin;

	/* lws's NOTICE level is very chatty: errors only unless debugging. */
	lws_set_log_level(LLL_ERR | (log_level_current >= LOG_LEVEL_DEBUG ?
	    LLL_WARN : 0), lws_log_to_ours);

	memset(&info, 0, sizeof(info));
	info.port = o->port;
	info.iface = (o->host && *o->host) ? o->host : NULL;
	info.protocols = httpd_protocols;
	info.options = LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = loops;
	info.user = h;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	info.max_http_header_data = 4096;
	info.keepalive_timeout = 60;
	info.timeout_secs = 30;
	info.server_string = "coup-signaling";
	h->ctx = lws_create_context(&info);
	if (h->ctx == NULL) {
		log_warnx("cannot listen on %s:%d (see the lws line above; is "
		    "the port in use, or the libwebsockets-evlib-ev package "
		    "missing?)", info.iface ? info.iface : "*", o->port);
		httpd_set_origins(h, NULL);
		free(h->engine_path);
		free(h);
		return NULL;
	}
	return h;
}

static void
add_route(struct httpd *h, const char *path, int prefix, httpd_handler fn,
    void *arg)
{
	struct route *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->path = strdup(path)) == NULL)
		fatal("calloc");
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
	struct route *r, *next;

	if (h == NULL)
		return;
	lws_context_destroy(h->ctx);
	for (r = h->routes; r != NULL; r = next) {
		next = r->next;
		free(r->path);
		free(r);
	}
	httpd_set_origins(h, NULL);
	free(h->engine_path);
	free(h);
}
