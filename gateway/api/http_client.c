/*
 * http_client.c - libcurl's multi interface driven by the libev loop.
 *
 * curl asks, through CURLMOPT_SOCKETFUNCTION, for each of its sockets to be
 * watched for reading and/or writing: we keep one ev_io per socket and hand
 * it back to curl with curl_multi_assign(), so the next call for that
 * socket finds it without a lookup.  CURLMOPT_TIMERFUNCTION asks for one
 * timeout: one ev_timer.  When either fires we call
 * curl_multi_socket_action() and then collect the finished transfers from
 * curl_multi_info_read().  Callbacks to our users run only from there,
 * never from inside a curl callback (curl forbids adding or removing
 * handles from those) and never from inside http_post_json().
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "http_client.h"
#include "log.h"
#include "timestamp.h"
#include "xmalloc.h"

/*
 * Connections to one API host at once.  A reconnect storm of distinct
 * users must not open thousands of sockets to the API; requests beyond
 * wait in curl's queue, and that wait counts in their timeout.
 */
#define HTTP_MAX_HOST_CONNECTIONS	64

struct sockwatch {
	ev_io			 io;
	struct http_client	*hc;
	struct sockwatch	*prev, *next;
};

struct http_req {
	struct http_client	*hc;
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 resp;
	int			 too_big;
	double			 started;
	http_done_cb		 cb;
	void			*arg;
	struct http_req		*prev, *next;
	char			 errbuf[CURL_ERROR_SIZE];
};

struct http_client {
	struct ev_loop		*loop;
	CURLM			*multi;
	ev_timer		 timer;
	size_t			 max_response;
	struct http_req		*reqs;		/* in flight */
	struct sockwatch	*watches;	/* sockets curl asked for */
};

static int curl_ready;

/* --------------------------------------------------------- the loop glue */

static void	collect_done(struct http_client *);

static void
on_socket_ready(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sockwatch *sw = w->data;
	struct http_client *hc = sw->hc;
	int action = 0, running;

	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* sw may be freed inside this call (CURL_POLL_REMOVE); use w->fd
	 * now and hc, not sw, afterwards. */
	curl_multi_socket_action(hc->multi, w->fd, action, &running);
	collect_done(hc);
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_client *hc = w->data;
	int running;

	curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_done(hc);
}

static void
sockwatch_free(struct http_client *hc, struct sockwatch *sw)
{
	ev_io_stop(hc->loop, &sw->io);
	if (sw->prev)
		sw->prev->next = sw->next;
	else
		hc->watches = sw->next;
	if (sw->next)
		sw->next->prev = sw->prev;
	free(sw);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what, or stop watching it. */
static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct http_client *hc = userp;
	struct sockwatch *sw = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (sw != NULL) {
			sockwatch_free(hc, sw);
			curl_multi_assign(hc->multi, s, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EV_WRITE;
	if (sw == NULL) {
		sw = xcalloc(1, sizeof(*sw));
		sw->hc = hc;
		ev_io_init(&sw->io, on_socket_ready, s, events);
		sw->io.data = sw;
		sw->next = hc->watches;
		if (hc->watches)
			hc->watches->prev = sw;
		hc->watches = sw;
		curl_multi_assign(hc->multi, s, sw);
	} else {
		ev_io_stop(hc->loop, &sw->io);
		ev_io_set(&sw->io, s, events);
	}
	if (events)
		ev_io_start(hc->loop, &sw->io);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timeout for the whole multi handle. */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *hc = userp;

	ev_timer_stop(hc->loop, &hc->timer);
	if (timeout_ms >= 0) {
		/* 0 means "as soon as possible": the next loop iteration, not
		 * now, since we are inside a curl call. */
		ev_timer_set(&hc->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(hc->loop, &hc->timer);
	}
	return 0;
}

/* Room processes are forked from the gateway: keep API sockets out. */
static int
curl_sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	return CURL_SOCKOPT_OK;
}

/* -------------------------------------------------------------- requests */

static void
req_unlink(struct http_req *r)
{
	struct http_client *hc = r->hc;

	if (r->prev)
		r->prev->next = r->next;
	else
		hc->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void
req_free(struct http_req *r)
{
	curl_multi_remove_handle(r->hc->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	buf_free(&r->resp);
	free(r);
}

static size_t
curl_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_req *r = userp;
	size_t n = size * nmemb;

	if (n > r->hc->max_response - r->resp.len) {
		/* Returning less than n makes curl stop with a write error. */
		r->too_big = 1;
		return 0;
	}
	buf_append(&r->resp, data, n);
	return n;
}

static void
finish(struct http_client *hc, struct http_req *r, CURLcode code)
{
	struct http_result res;
	char why[96];

	memset(&res, 0, sizeof(res));
	res.seconds = timestamp_mono() - r->started;
	if (code == CURLE_OK) {
		res.answered = 1;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
	} else if (r->too_big || code == CURLE_FILESIZE_EXCEEDED) {
		snprintf(why, sizeof(why), "answer larger than %zu bytes",
		    hc->max_response);
		res.error = why;
	} else
		res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
	buf_append_byte(&r->resp, '\0');
	res.body = (const char *)r->resp.data;
	res.len = r->resp.len - 1;
	req_unlink(r);
	r->cb(r->arg, &res);
	req_free(r);
}

static void
collect_done(struct http_client *hc)
{
	struct http_req *r;
	CURLMsg *msg;
	int left;

	/* A callback may start or cancel requests: curl_multi_remove_handle
	 * drops a cancelled transfer's message, so the queue stays sound. */
	while ((msg = curl_multi_info_read(hc->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
		if (r != NULL)
			finish(hc, r, msg->data.result);
	}
}

/* Anything below a space, and DEL, could end or split a header line. */
static int
header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *h)
{
	struct curl_slist *l = curl_slist_append(list, h);

	if (l == NULL)
		fatalx("curl_slist_append: out of memory");
	return l;
}

/*
 * One request: body NULL for a GET; headers (NULL, or NULL-terminated)
 * more header lines, already checked for control characters.
 */
static struct http_req *
request(struct http_client *hc, const char *url, const char *const *headers,
    const char *body, int timeout_ms, http_done_cb cb, void *arg)
{
	struct http_req *r;
	CURLMcode mc;

	r = xcalloc(1, sizeof(*r));
	r->hc = hc;
	r->cb = cb;
	r->arg = arg;
	if ((r->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");

	/* An empty Expect: stops curl from waiting for "100 Continue". */
	r->headers = add_header(r->headers, "Expect:");
	if (body != NULL)
		r->headers = add_header(r->headers,
		    "Content-Type: application/json");
	r->headers = add_header(r->headers, "Accept: application/json");
	for (int i = 0; headers != NULL && headers[i] != NULL; i++)
		r->headers = add_header(r->headers, headers[i]);

	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	/* The path is ours, segment by segment (coupapi.c encodes ids):
	 * sent as it is, never "normalized". */
	curl_easy_setopt(r->easy, CURLOPT_PATH_AS_IS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	if (body != NULL) {
		/* COPYPOSTFIELDS: curl keeps its own copy of the body. */
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
		curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body);
	} else
		curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, curl_write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)hc->max_response);
	curl_easy_setopt(r->easy, CURLOPT_SOCKOPTFUNCTION, curl_sockopt_cb);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);

	r->started = timestamp_mono();
	if ((mc = curl_multi_add_handle(hc->multi, r->easy)) != CURLM_OK) {
		log_warnx("http: cannot start a request to %s: %s", url,
		    curl_multi_strerror(mc));
		curl_easy_cleanup(r->easy);
		curl_slist_free_all(r->headers);
		free(r);
		return NULL;
	}
	r->next = hc->reqs;
	if (hc->reqs)
		hc->reqs->prev = r;
	hc->reqs = r;
	return r;
}

struct http_req *
http_post_json(struct http_client *hc, const char *url, const char *bearer,
    const char *body, int timeout_ms, http_done_cb cb, void *arg)
{
	struct http_req *r;
	char *auth = NULL;

	if (bearer != NULL && !header_safe(bearer)) {
		log_debug("http: bearer token with control characters, "
		    "not sent");
		return NULL;
	}
	if (bearer != NULL)
		auth = xasprintf("Authorization: Bearer %s", bearer);
	r = request(hc, url, (const char *const[]){ auth, NULL }, body,
	    timeout_ms, cb, arg);
	free(auth);
	return r;
}

struct http_req *
http_get_with_cookie(struct http_client *hc, const char *url,
    const char *cookie, int timeout_ms, http_done_cb cb, void *arg)
{
	struct http_req *r;
	char *hdr;

	if (!header_safe(cookie)) {
		log_debug("http: cookie with control characters, not sent");
		return NULL;
	}
	hdr = xasprintf("Cookie: %s", cookie);
	r = request(hc, url, (const char *const[]){ hdr, NULL }, NULL,
	    timeout_ms, cb, arg);
	/* It was a credential: not left in freed memory. */
	explicit_bzero(hdr, strlen(hdr));
	free(hdr);
	return r;
}

struct http_req *
http_post_with_headers(struct http_client *hc, const char *url,
    const char *const *headers, const char *body, int timeout_ms,
    http_done_cb cb, void *arg)
{
	for (int i = 0; headers[i] != NULL; i++)
		if (!header_safe(headers[i]))
			return NULL;
	return request(hc, url, headers, body, timeout_ms, cb, arg);
}

void
http_cancel(struct http_req *r)
{
	if (r == NULL)
		return;
	req_unlink(r);
	req_free(r);
}

/* ------------------------------------------------------------- lifetime */

struct http_client *
http_client_new(struct ev_loop *loop, size_t max_response)
{
	struct http_client *hc;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			fatalx("curl_global_init failed");
		curl_ready = 1;
	}
	hc = xcalloc(1, sizeof(*hc));
	hc->loop = loop;
	hc->max_response = max_response;
	if ((hc->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	ev_timer_init(&hc->timer, on_timeout, 0., 0.);
	hc->timer.data = hc;
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)HTTP_MAX_HOST_CONNECTIONS);
	return hc;
}

void
http_client_free(struct http_client *hc)
{
	struct http_req *r;

	if (hc == NULL)
		return;
	while ((r = hc->reqs) != NULL) {
		req_unlink(r);
		req_free(r);
	}
	curl_multi_cleanup(hc->multi);
	/* Watchers curl did not take back while cleaning up. */
	while (hc->watches != NULL)
		sockwatch_free(hc, hc->watches);
	ev_timer_stop(hc->loop, &hc->timer);
	free(hc);
}
