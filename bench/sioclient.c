/*
 * sioclient.c - the Socket.IO client side of coup-bench (see sioclient.h).
 *
 * Only what a CoUp client needs over WebSocket: the Engine.IO open,
 * ping/pong, and Socket.IO CONNECT, CONNECT_ERROR, EVENT, ACK and
 * DISCONNECT on namespace "/". No binary packets, no polling.
 */
#include "sioclient.h"
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>

/* A client that stops reading must not grow the generator without bound. */
#define QUEUE_MAX	4096

struct sioc_frame {
	struct sioc_frame	*next;
	size_t			 len;
	unsigned char		 buf[];	/* LWS_PRE bytes, then the payload */
};

struct sioc_counters sioc_count;

static struct lws_context *ctx;
static const struct sioc_ops *ops;
/*
 * The servers: one, or several gateways of one cluster (--url A,B): client
 * idx goes to server idx % nservers, so neighbours (a relay's pair, a
 * room's members) sit on different gateways.
 */
#define SERVERS_MAX	16
static struct server {
	char	 host[64];
	int	 port;
	char	 path[256];
} servers[SERVERS_MAX];
static int nservers;
static int nsources;
static char (*sources)[20];

static int callback(struct lws *, enum lws_callback_reasons, void *, void *,
    size_t);

/*
 * No lws "validity" timer (its idle ping / hangup): Engine.IO has its own
 * heartbeat, and lws keeps these timers in one sorted list, re-inserted
 * on every frame received, a walk over every client each time (42% of the
 * generator's time at 15,000 clients). A zero hangup turns it off.
 */
static const lws_retry_bo_t no_validity = {
	.secs_since_valid_ping = 0,
	.secs_since_valid_hangup = 0,
};

static const struct lws_protocols protocols[] = {
	{ "coup-bench", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws logs through here: count errors, print a few (20,000 failing
 * connections would otherwise print 20,000 lines). */
static void
lws_log(int level, const char *line)
{
	sioc_count.lws_errors++;
	if (sioc_count.lws_errors <= 5 || opt.verbose)
		fprintf(stderr, "coup-bench: lws: %s", line);
	(void)level;
}

static int
parse_url(const char *url, struct server *sv)
{
	const char *p = url, *hs, *he;
	char prefix[128] = "/socket.io";
	char *host = sv->host;
	struct in_addr a;
	size_t n;

	if (strncmp(p, "http://", 7) == 0 || strncmp(p, "ws://", 5) == 0)
		p = strchr(p, '/') + 2;
	else if (strstr(p, "://")) {
		fprintf(stderr, "coup-bench: %s: only http:// or ws:// "
		    "(no TLS)\n", url);
		return -1;
	}
	hs = p;
	he = hs + strcspn(hs, ":/");
	n = (size_t)(he - hs);
	if (n == 0 || n >= sizeof(sv->host)) {
		fprintf(stderr, "coup-bench: %s: no host\n", url);
		return -1;
	}
	memcpy(host, hs, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	/* Loopback only: this tool floods whatever it is pointed at. */
	if (inet_pton(AF_INET, host, &a) != 1 ||
	    (ntohl(a.s_addr) >> 24) != 127) {
		fprintf(stderr, "coup-bench: %s: the host must be an address "
		    "in 127.0.0.0/8 (or localhost)\n", url);
		return -1;
	}
	sv->port = 80;
	p = he;
	if (*p == ':') {
		char *end;
		long v = strtol(p + 1, &end, 10);

		if (end == p + 1 || v <= 0 || v > 65535) {
			fprintf(stderr, "coup-bench: %s: bad port\n", url);
			return -1;
		}
		sv->port = (int)v;
		p = end;
	}
	/* A path other than "/" replaces the Socket.IO prefix. */
	if (*p == '/' && p[1] != '\0') {
		n = strcspn(p, "?");
		while (n > 1 && p[n - 1] == '/')
			n--;
		if (n >= sizeof(prefix))
			return -1;
		memcpy(prefix, p, n);
		prefix[n] = '\0';
	}
	snprintf(sv->path, sizeof(sv->path), "%s/?EIO=4&transport=websocket",
	    prefix);
	return 0;
}

/* "URL[,URL...]" */
static int
parse_urls(const char *list)
{
	char one[512];
	const char *p = list;

	nservers = 0;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (nservers == SERVERS_MAX || n == 0 || n >= sizeof(one)) {
			fprintf(stderr, "coup-bench: --url: 1 to %d URLs, "
			    "comma-separated\n", SERVERS_MAX);
			return -1;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		if (parse_url(one, &servers[nservers]) < 0)
			return -1;
		nservers++;
		p += n;
		if (*p == ',')
			p++;
	}
	return nservers > 0 ? 0 : -1;
}

const char *
sioc_source_addr(int idx)
{
	return nsources > 0 ? sources[idx % nsources] : NULL;
}

int
sioc_init(struct ev_loop *l, const char *url, int max_clients, int nsrc,
    const struct sioc_ops *o)
{
	struct lws_context_creation_info info;
	void *loops[1] = { l };
	int i;

	if (parse_urls(url) < 0)
		return -1;
	ops = o;
	if (nsrc > 0) {
		/* 127.1.0.1, 127.1.0.2, ...: skip .0 and .255 in the last
		 * byte so no address looks like a network or broadcast. */
		if (nsrc > 254 * 256)
			nsrc = 254 * 256;
		if ((sources = calloc((size_t)nsrc, sizeof(*sources))) == NULL)
			return -1;
		for (i = 0; i < nsrc; i++)
			snprintf(sources[i], sizeof(sources[i]),
			    "127.1.%d.%d", i / 254, i % 254 + 1);
		nsources = nsrc;
	}
	lws_set_log_level(opt.verbose ? (LLL_ERR | LLL_WARN) : LLL_ERR,
	    lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = loops;
	/* No fd_limit_per_thread: lws then sizes its descriptor table from
	 * the open-file limit (raised by main) and finds a socket's wsi by
	 * index; with the option set it searches the table linearly on every
	 * event, which at 15,000 clients took a quarter of the time. */
	(void)max_clients;
	info.timeout_secs = 60;
	info.connect_timeout_secs = 30;
	ctx = lws_create_context(&info);
	if (ctx == NULL) {
		fprintf(stderr, "coup-bench: lws_create_context failed (is "
		    "libwebsockets-evlib-ev installed?)\n");
		return -1;
	}
	return 0;
}

void
sioc_fini(void)
{
	if (ctx)
		lws_context_destroy(ctx);
	ctx = NULL;
	free(sources);
	sources = NULL;
	nsources = 0;
}

static void
free_queue(struct sioc *c)
{
	struct sioc_frame *f, *next;

	for (f = c->qh; f; f = next) {
		next = f->next;
		free(f);
	}
	c->qh = c->qt = NULL;
	c->qlen = 0;
}

/* The client is gone: tell the scenario once. */
static void
gone(struct sioc *c, const char *why)
{
	if (c->state == SIOC_CLOSED)
		return;
	c->state = SIOC_CLOSED;
	c->wsi = NULL;
	free_queue(c);
	free(c->rx);
	c->rx = NULL;
	c->rxlen = c->rxcap = 0;
	if (ops->closed)
		ops->closed(c, why);
}

static int
enqueue(struct sioc *c, const char *s, size_t n)
{
	struct sioc_frame *f;

	if (c->wsi == NULL || c->state == SIOC_CLOSED ||
	    c->state == SIOC_CLOSING)
		return -1;
	if (c->qlen >= QUEUE_MAX) {
		sioc_count.dropped_sends++;
		return -1;
	}
	if ((f = malloc(sizeof(*f) + LWS_PRE + n)) == NULL)
		return -1;
	f->next = NULL;
	f->len = n;
	memcpy(f->buf + LWS_PRE, s, n);
	if (c->qt)
		c->qt->next = f;
	else
		c->qh = f;
	c->qt = f;
	c->qlen++;
	lws_callback_on_writable(c->wsi);
	return 0;
}

int
sioc_connect(struct sioc *c)
{
	struct lws_client_connect_info ci;
	const struct server *sv = &servers[c->idx % nservers];

	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = sv->host;
	ci.port = sv->port;
	ci.path = sv->path;
	ci.host = sv->host;
	ci.origin = NULL;	/* no Origin: allowed, like a non-browser */
	ci.protocol = NULL;
	ci.local_protocol_name = "coup-bench";
	ci.userdata = c;	/* so callbacks get c as `user` */
	ci.pwsi = &c->wsi;
	ci.iface = sioc_source_addr(c->idx);
	ci.retry_and_idle_policy = &no_validity;
	c->state = SIOC_CONNECTING;
	c->was_ready = 0;
	c->sid[0] = '\0';
	c->next_ack = 1;
	c->t_start = now_ns();
	c->t_ready = 0;
	if (lws_client_connect_via_info(&ci) == NULL) {
		/* lws may already have reported the error through the
		 * callback; gone() happens once either way. */
		gone(c, "connect failed");
		return -1;
	}
	return 0;
}

int
sioc_emit(struct sioc *c, const char *name, const char *payload, long ack)
{
	char small[1024], *buf = small;
	size_t need = strlen(name) + strlen(payload) + 48;
	int n, rc;

	if (c->state != SIOC_READY)
		return -1;
	if (need > sizeof(small) && (buf = malloc(need)) == NULL)
		return -1;
	if (ack >= 0)
		n = snprintf(buf, need, "42%ld[\"%s\",%s]", ack, name, payload);
	else
		n = snprintf(buf, need, "42[\"%s\",%s]", name, payload);
	rc = enqueue(c, buf, (size_t)n);
	if (buf != small)
		free(buf);
	return rc;
}

void
sioc_close(struct sioc *c)
{
	if (c->wsi == NULL || c->state == SIOC_CLOSED ||
	    c->state == SIOC_CLOSING)
		return;
	c->state = SIOC_CLOSING;
	lws_callback_on_writable(c->wsi);
}

/* Handles one complete Engine.IO packet; -1 closes the connection. */
static int
handle(struct sioc *c, const char *m, size_t n)
{
	char auth[160];
	const char *p, *end = m + n;
	long id;

	if (n == 0)
		return -1;
	switch (m[0]) {
	case '0':	/* Engine.IO open: authenticate */
		if (c->state != SIOC_CONNECTING)
			return 0;
		snprintf(auth, sizeof(auth),
		    "40{\"userId\":\"bench-%d\",\"token\":\"bench-token\"}",
		    c->idx);
		c->state = SIOC_AUTH;
		return enqueue(c, auth, strlen(auth));
	case '1':	/* Engine.IO close */
		return -1;
	case '2':	/* ping */
		sioc_count.pings++;
		return enqueue(c, "3", 1) < 0 ? -1 : 0;
	case '4':
		break;
	default:
		return 0;
	}
	if (n < 2)
		return 0;
	p = m + 2;
	switch (m[1]) {
	case '0':	/* CONNECT: 40{"sid":"..."} */
		if (c->state != SIOC_AUTH)
			return 0;
		{
			const char *s = strstr(p, "\"sid\":\"");
			size_t l;

			if (s) {
				s += 7;
				l = strcspn(s, "\"");
				if (l >= sizeof(c->sid))
					l = sizeof(c->sid) - 1;
				memcpy(c->sid, s, l);
				c->sid[l] = '\0';
			}
		}
		c->state = SIOC_READY;
		c->was_ready = 1;
		c->t_ready = now_ns();
		if (ops->ready)
			ops->ready(c);
		return 0;
	case '4':	/* CONNECT_ERROR */
		if (ops->refused)
			ops->refused(c, p, (size_t)(end - p));
		return -1;
	case '1':	/* DISCONNECT */
		return -1;
	case '2':	/* EVENT, maybe with an ack id the server wants back */
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (ops->event && p < end)
			ops->event(c, p, (size_t)(end - p));
		return 0;
	case '3':	/* ACK */
		id = 0;
		while (p < end && *p >= '0' && *p <= '9')
			id = id * 10 + (*p++ - '0');
		if (ops->ack)
			ops->ack(c, id, p, (size_t)(end - p));
		return 0;
	default:
		return 0;
	}
}

static int
receive(struct sioc *c, struct lws *wsi, const char *in, size_t len)
{
	int whole = lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) &&
	    lws_remaining_packet_payload(wsi) == 0;
	int rc;

	sioc_count.frames_in++;
	if (whole && c->rxlen == 0)
		return handle(c, in, len);
	/* A message in pieces: gather it (bounded by the server's own
	 * maxPayload, 1 MB by default; more is a broken server). */
	if (c->rxlen + len + 1 > (size_t)4 << 20)
		return -1;
	if (c->rxlen + len + 1 > c->rxcap) {
		size_t cap = c->rxcap ? c->rxcap : 4096;
		char *nb;

		while (cap < c->rxlen + len + 1)
			cap *= 2;
		if ((nb = realloc(c->rx, cap)) == NULL)
			return -1;
		c->rx = nb;
		c->rxcap = cap;
	}
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	c->rx[c->rxlen] = '\0';
	rc = handle(c, c->rx, c->rxlen);
	c->rxlen = 0;
	return rc;
}

static int
writeable(struct sioc *c, struct lws *wsi)
{
	struct sioc_frame *f = c->qh;
	int n;

	if (f) {
		c->qh = f->next;
		if (c->qh == NULL)
			c->qt = NULL;
		c->qlen--;
		n = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
		free(f);
		if (n < 0)
			return -1;
		sioc_count.frames_out++;
		if (c->qh) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (c->state == SIOC_CLOSING) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct sioc *c = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c)
			gone(c, in ? (const char *)in : "connection error");
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c == NULL || c->state == SIOC_CLOSED)
			return -1;
		return receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c == NULL || c->state == SIOC_CLOSED)
			return -1;
		return writeable(c, wsi);
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c)
			gone(c, "closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c)
			gone(c, "destroyed");
		return 0;
	default:
		return 0;
	}
}
