/*
 * coupapi.c - the gateway's questions to the CoUp Next.js API: "who is this
 * user?" (POST /api/auth/verify, contract section 2) and "is this user a
 * member of that study?" (POST /api/studies/<id>/check-member, section 3).
 *
 * Each question goes through three stages:
 *  1. the cache: OK verifications for AUTH_CACHE_TTL seconds, membership
 *     answers (yes and no) for MEMBER_CACHE_TTL; failures are never kept;
 *  2. the calls in flight: the same question asked again while the first
 *     is on its way waits for the same answer instead of a second call,
 *     so a reconnect storm does not become a storm on the API;
 *  3. a new HTTP call through http_client.c.
 * Every asker holds its own struct coupapi_req and may cancel alone; a call
 * whose askers all left finishes anyway when its answer can fill a cache.
 *
 * Answers are handed over only from the loop: cache hits and answers known
 * without a call go to a "ready" queue that a zero-second timer empties,
 * so no callback ever runs inside coupapi_verify() or _check_member().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "buf.h"
#include "coupapi.h"
#include "http_client.h"
#include "keymap.h"
#include "log.h"
#include "random_id.h"
#include "siphash.h"
#include "timestamp.h"
#include "xmalloc.h"

/* Larger answers are not an answer the API gives: count as unreachable. */
#define COUPAPI_MAX_RESPONSE	(256 * 1024)
/* Entries per cache; when full, the oldest goes. */
#define COUPAPI_CACHE_MAX	10000
/* Keys longer than this are not worth keeping (no real id is that long). */
#define COUPAPI_CACHE_KEY_MAX	4096
/*
 * A longer token cannot reach the API in a header: Node's HTTP server
 * refuses more than 16 KB of headers, common proxies 8 KB per line.  The
 * API would answer 4xx, so such a token is refused without asking.
 */
#define COUPAPI_TOKEN_MAX	8192
/* One "unreachable" warning per this many seconds; the rest are counted. */
#define COUPAPI_WARN_INTERVAL	10.0

#define VERIFY_PATH		"/api/auth/verify"
#define SESSION_PATH		"/api/auth/me"

enum kind {
	KIND_AUTH,
	KIND_MEMBER,
};

TAILQ_HEAD(reqlist, coupapi_req);
TAILQ_HEAD(calllist, call);

struct coupapi_req {
	struct coupapi		*api;
	enum kind		 kind;
	coupapi_auth_cb		 auth_cb;
	coupapi_member_cb	 member_cb;
	void			*arg;
	struct call		*call;	/* waiting for it; NULL once ready */
	int			 result;
	cJSON			*user;	/* KIND_AUTH, OK */
	TAILQ_ENTRY(coupapi_req) entry;	/* call->waiters or api->ready */
};

/* One HTTP call and everyone waiting for its answer. */
struct call {
	struct coupapi		*api;
	enum kind		 kind;
	char			*key;
	size_t			 keylen;
	int			 in_flight_map;	/* others may still join */
	char			*path;		/* for the log */
	char			*user_id;	/* asked about */
	struct http_req		*http;
	struct reqlist		 waiters;
	TAILQ_ENTRY(call)	 entry;
};

/* A cached answer. */
struct centry {
	double			 expires;	/* timestamp_mono() */
	int			 result;
	cJSON			*user;
};

struct coupapi {
	struct ev_loop		*loop;
	char			*base_url;	/* without trailing slashes */
	int			 timeout_ms;
	int			 auth_ttl;
	int			 member_ttl;
	struct http_client	*http;
	struct keymap		*in_flight;	/* key -> struct call */
	struct calllist		 calls;		/* all of them */
	struct keymap		*auth_cache;	/* key -> struct centry */
	struct keymap		*member_cache;
	struct reqlist		 ready;
	ev_timer		 defer;
	double			 last_warn;
	unsigned long		 warns_suppressed;
	struct coupapi_stats	 stats;
	uint64_t		 skey[4];	/* session_key()'s */
};

/* ------------------------------------------------------------- helpers */

/* cJSON allocates through xmalloc (xmalloc_json_hooks()): no NULL. */
static cJSON *
dup_json(const cJSON *j)
{
	return j != NULL ? cJSON_Duplicate(j, 1) : NULL;
}

/*
 * JavaScript's Number.prototype.toString() for a finite non-zero v, from
 * the shortest digits that read back as v (ECMA-262, Number::toString).
 */
static void
js_number(double v, char *out, size_t size)
{
	char sci[40], digits[24], *p = out, *end = out + size - 1;
	int k = 0, n, prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	/* sci is "-d.ddde+XX": collect the digits and the exponent. */
	for (const char *q = sci; *q != 'e' && *q != '\0'; q++)
		if (*q >= '0' && *q <= '9')
			digits[k++] = *q;
	digits[k] = '\0';
	n = atoi(strchr(sci, 'e') + 1) + 1;	/* where the point goes */
#define PUT(c)	do { if (p < end) *p++ = (c); } while (0)
	if (v < 0)
		PUT('-');
	if (k <= n && n <= 21) {
		for (int i = 0; i < k; i++)
			PUT(digits[i]);
		for (int i = k; i < n; i++)
			PUT('0');
	} else if (0 < n && n <= 21) {
		for (int i = 0; i < k; i++) {
			if (i == n)
				PUT('.');
			PUT(digits[i]);
		}
	} else if (-6 < n && n <= 0) {
		PUT('0');
		PUT('.');
		for (int i = n; i < 0; i++)
			PUT('0');
		for (int i = 0; i < k; i++)
			PUT(digits[i]);
	} else {
		PUT(digits[0]);
		if (k > 1)
			PUT('.');
		for (int i = 1; i < k; i++)
			PUT(digits[i]);
		p += snprintf(p, (size_t)(end - p) + 1, "e%+d", n - 1);
	}
#undef PUT
	*p = '\0';
}

void
coupapi_number_id(double v, char out[COUPAPI_NUMBER_LEN])
{
	if (!isfinite(v)) {
		/* JSON cannot carry these; say what JavaScript would. */
		snprintf(out, COUPAPI_NUMBER_LEN, "%s",
		    isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (v == 0) {
		snprintf(out, COUPAPI_NUMBER_LEN, "0");	/* -0 too */
		return;
	}
	js_number(v, out, COUPAPI_NUMBER_LEN);
}

/*
 * One path segment: RFC 3986 unreserved characters stay, every other
 * byte becomes %XX, and so does '.', which is unreserved but makes "."
 * and ".." segments that any URL library (and libcurl) would resolve:
 * studyId ".." must not turn /api/studies/../check-member into
 * /api/check-member.
 */
static void
append_path_segment(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '~') {
			buf_append_byte(b, c);
		} else {
			buf_append_byte(b, '%');
			buf_append_byte(b, (uint8_t)hex[c >> 4]);
			buf_append_byte(b, (uint8_t)hex[c & 15]);
		}
	}
}

/*
 * Keys: user ids and study ids are C strings, so a NUL separates the
 * parts without ambiguity; 't' or 'n' says whether a token follows, so
 * "no token" and "empty token" never share an answer.
 */
static void
auth_key(struct buf *b, const char *user_id, const char *token)
{
	buf_append(b, user_id, strlen(user_id) + 1);
	if (token != NULL) {
		buf_append_byte(b, 't');
		buf_append_str(b, token);
	} else
		buf_append_byte(b, 'n');
}

static void
member_key(struct buf *b, const char *study_id, const char *user_id)
{
	buf_append(b, study_id, strlen(study_id) + 1);
	buf_append_str(b, user_id);
}

static int
token_sendable(const char *token)
{
	size_t n = 0;

	for (; token[n] != '\0'; n++)
		if ((unsigned char)token[n] < 0x20 || token[n] == 0x7f)
			return 0;
	return n <= COUPAPI_TOKEN_MAX;
}

static void
warn_failure(struct coupapi *api, const char *path, const char *why)
{
	double now = timestamp_mono();

	if (api->last_warn > 0 && now - api->last_warn < COUPAPI_WARN_INTERVAL) {
		api->warns_suppressed++;
		return;
	}
	if (api->warns_suppressed > 0)
		log_warnx("CoUp API call failed: POST %s%.256s: %s "
		    "(%lu more failures since the last warning)",
		    api->base_url, path, why, api->warns_suppressed);
	else
		log_warnx("CoUp API call failed: POST %s%.256s: %s",
		    api->base_url, path, why);
	api->last_warn = now;
	api->warns_suppressed = 0;
}

/* --------------------------------------------------------------- caches */

static void
centry_free(void *p)
{
	struct centry *e = p;

	if (e == NULL)
		return;
	cJSON_Delete(e->user);
	free(e);
}

static void
cache_clear(struct keymap **m)
{
	keymap_free(*m, centry_free);
	*m = keymap_new();
}

static struct centry *
cache_get(struct keymap *m, const struct buf *key)
{
	struct centry *e = keymap_get(m, key->data, key->len);

	if (e != NULL && e->expires <= timestamp_mono()) {
		centry_free(keymap_remove(m, key->data, key->len));
		return NULL;
	}
	return e;
}

static void
cache_put(struct keymap *m, const char *key, size_t len, int ttl,
    int result, const cJSON *user)
{
	double now = timestamp_mono();
	struct centry *e;

	if (ttl <= 0 || len > COUPAPI_CACHE_KEY_MAX)
		return;
	centry_free(keymap_remove(m, key, len));
	/* With one TTL the oldest entries expire first: drop those, and
	 * the oldest of all when the cache is full. */
	while ((e = keymap_oldest(m)) != NULL &&
	    (e->expires <= now || keymap_count(m) >= COUPAPI_CACHE_MAX))
		centry_free(keymap_remove_oldest(m));
	e = xcalloc(1, sizeof(*e));
	e->expires = now + ttl;
	e->result = result;
	e->user = dup_json(user);
	keymap_put(m, key, len, e);
}

/* ----------------------------------------------------- handing answers */

static void
req_free(struct coupapi_req *r)
{
	cJSON_Delete(r->user);
	free(r);
}

static void
deliver_ready(struct coupapi *api)
{
	struct coupapi_req *r;

	/* A callback may ask again (appending here) or cancel a request
	 * still queued (unlinking it): take one at a time from the head. */
	while ((r = TAILQ_FIRST(&api->ready)) != NULL) {
		TAILQ_REMOVE(&api->ready, r, entry);
		if (r->kind == KIND_AUTH)
			r->auth_cb(r->arg, (enum coupapi_auth)r->result,
			    r->result == COUPAPI_AUTH_OK ? r->user : NULL);
		else
			r->member_cb(r->arg, (enum coupapi_member)r->result);
		req_free(r);
	}
}

static void
on_defer(struct ev_loop *loop, ev_timer *w, int revents)
{
	deliver_ready(w->data);
}

/* An answer known without a call: handed over on the next loop turn. */
static void
ready_later(struct coupapi_req *r, int result, const cJSON *user)
{
	struct coupapi *api = r->api;

	r->call = NULL;
	r->result = result;
	r->user = dup_json(user);
	TAILQ_INSERT_TAIL(&api->ready, r, entry);
	if (!ev_is_active(&api->defer)) {
		ev_timer_set(&api->defer, 0., 0.);
		ev_timer_start(api->loop, &api->defer);
	}
}

static struct coupapi_req *
req_new(struct coupapi *api, enum kind kind, void *arg)
{
	struct coupapi_req *r = xcalloc(1, sizeof(*r));

	r->api = api;
	r->kind = kind;
	r->arg = arg;
	return r;
}

/* ---------------------------------------------------------------- calls */

static void
call_leave_map(struct call *c)
{
	if (c->in_flight_map) {
		keymap_remove(c->api->in_flight, c->key, c->keylen);
		c->in_flight_map = 0;
	}
}

/* Frees the call and its remaining waiters (whose callbacks do not run). */
static void
call_free(struct call *c)
{
	struct coupapi_req *r;

	call_leave_map(c);
	TAILQ_REMOVE(&c->api->calls, c, entry);
	if (c->http != NULL)
		http_cancel(c->http);
	while ((r = TAILQ_FIRST(&c->waiters)) != NULL) {
		TAILQ_REMOVE(&c->waiters, r, entry);
		req_free(r);
	}
	free(c->key);
	free(c->path);
	free(c->user_id);
	free(c);
}

/*
 * What a verify answer means (contract section 2).  On OK, *userp is the
 * session's user: {id, name, email, avatar} from the answer, the id as a
 * string, and null for what the answer leaves out.
 */
static enum coupapi_auth
verify_outcome(const struct http_result *res, const char *user_id,
    cJSON **userp, const char **why)
{
	const char *fields[] = { "name", "email", "avatar" };
	cJSON *root, *out;
	const cJSON *user, *status, *id, *v;
	char num[COUPAPI_NUMBER_LEN];

	*userp = NULL;
	if (!res->answered) {
		*why = res->error;
		return COUPAPI_AUTH_UNREACHABLE;
	}
	if (res->status < 200 || res->status > 299)
		return COUPAPI_AUTH_REJECTED;
	if ((root = cJSON_ParseWithLength(res->body, res->len)) == NULL) {
		*why = "the answer is not JSON";
		return COUPAPI_AUTH_UNREACHABLE;
	}
	user = cJSON_GetObjectItemCaseSensitive(root, "user");
	status = cJSON_GetObjectItemCaseSensitive(user, "status");
	if (!cJSON_IsObject(user) || !cJSON_IsString(status) ||
	    strcmp(status->valuestring, "ACTIVE") != 0) {
		cJSON_Delete(root);
		return COUPAPI_AUTH_INACTIVE;
	}
	out = cJSON_CreateObject();
	id = cJSON_GetObjectItemCaseSensitive(user, "id");
	if (cJSON_IsString(id) && id->valuestring[0] != '\0')
		cJSON_AddStringToObject(out, "id", id->valuestring);
	else if (cJSON_IsNumber(id)) {
		coupapi_number_id(id->valuedouble, num);
		cJSON_AddStringToObject(out, "id", num);
	} else {
		/* An ACTIVE user without a usable id: it is the one we asked
		 * about. */
		cJSON_AddStringToObject(out, "id", user_id);
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(user, fields[i]);
		if (v != NULL)
			cJSON_AddItemToObject(out, fields[i], dup_json(v));
		else
			cJSON_AddNullToObject(out, fields[i]);
	}
	cJSON_Delete(root);
	*userp = out;
	return COUPAPI_AUTH_OK;
}

static enum coupapi_member
member_outcome(const struct http_result *res, const char **why)
{
	static char status[32];

	if (!res->answered) {
		*why = res->error;
		return COUPAPI_MEMBER_FAILED;
	}
	if (res->status >= 200 && res->status <= 299)
		return COUPAPI_MEMBER_YES;
	if (res->status >= 400 && res->status <= 499)
		return COUPAPI_MEMBER_NO;
	snprintf(status, sizeof(status), "HTTP %ld", res->status);
	*why = status;
	return COUPAPI_MEMBER_FAILED;
}

static void
on_call_done(void *arg, const struct http_result *res)
{
	struct call *c = arg;
	struct coupapi *api = c->api;
	struct coupapi_req *r;
	const char *why = NULL;
	cJSON *user = NULL;
	int result;

	c->http = NULL;		/* http_client frees it after we return */
	if (res->answered)
		log_debug("CoUp API: POST %.256s -> %ld (%.0f ms)", c->path,
		    res->status, res->seconds * 1000);
	else
		log_debug("CoUp API: POST %.256s -> no answer (%.0f ms): %s",
		    c->path, res->seconds * 1000, res->error);
	if (c->kind == KIND_AUTH) {
		api->stats.auth_latency_sum += res->seconds;
		api->stats.auth_latency_count++;
		result = verify_outcome(res, c->user_id, &user, &why);
		if (result == COUPAPI_AUTH_UNREACHABLE) {
			api->stats.auth_failures++;
			warn_failure(api, c->path, why);
		} else if (result == COUPAPI_AUTH_OK)
			cache_put(api->auth_cache, c->key, c->keylen,
			    api->auth_ttl, result, user);
	} else {
		result = member_outcome(res, &why);
		if (result == COUPAPI_MEMBER_FAILED) {
			api->stats.member_failures++;
			warn_failure(api, c->path, why);
		} else
			cache_put(api->member_cache, c->key, c->keylen,
			    api->member_ttl, result, NULL);
	}
	/* Everyone waiting gets the answer, in the order they asked. */
	while ((r = TAILQ_FIRST(&c->waiters)) != NULL) {
		TAILQ_REMOVE(&c->waiters, r, entry);
		r->call = NULL;
		r->result = result;
		r->user = dup_json(user);
		TAILQ_INSERT_TAIL(&api->ready, r, entry);
	}
	cJSON_Delete(user);
	call_free(c);
	deliver_ready(api);
}

/*
 * Join the call in flight for key, or start one.  Returns 0 when the
 * request could not be made at all (the caller answers r itself).
 */
static int
join_or_call(struct coupapi *api, struct coupapi_req *r,
    const struct buf *key, const char *path, const char *user_id,
    const char *token, const char *cookie)
{
	struct call *c = keymap_get(api->in_flight, key->data, key->len);
	struct buf url = BUF_INIT;
	cJSON *body;
	char *json;

	if (c != NULL) {
		if (r->kind == KIND_AUTH)
			api->stats.auth_shared++;
		r->call = c;
		TAILQ_INSERT_TAIL(&c->waiters, r, entry);
		return 1;
	}

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "userId", user_id);
	json = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	buf_printf(&url, "%s%s", api->base_url, path);
	buf_append_byte(&url, '\0');

	c = xcalloc(1, sizeof(*c));
	c->api = api;
	c->kind = r->kind;
	TAILQ_INIT(&c->waiters);
	c->http = cookie != NULL ? http_get_with_cookie(api->http,
	    (const char *)url.data, cookie, api->timeout_ms, on_call_done, c) :
	    http_post_json(api->http, (const char *)url.data, token, json,
	    api->timeout_ms, on_call_done, c);
	cJSON_free(json);
	buf_free(&url);
	if (r->kind == KIND_AUTH)
		api->stats.auth_calls++;
	else
		api->stats.member_calls++;
	if (c->http == NULL) {
		free(c);
		return 0;
	}
	c->key = xmalloc(key->len ? key->len : 1);
	memcpy(c->key, key->data, key->len);
	c->keylen = key->len;
	c->path = xstrdup(path);
	c->user_id = xstrdup(user_id);
	keymap_put(api->in_flight, c->key, c->keylen, c);
	c->in_flight_map = 1;
	TAILQ_INSERT_TAIL(&api->calls, c, entry);
	r->call = c;
	TAILQ_INSERT_TAIL(&c->waiters, r, entry);
	return 1;
}

/* ------------------------------------------------------------ questions */

struct coupapi_req *
coupapi_verify(struct coupapi *api, const char *user_id, const char *token,
    coupapi_auth_cb cb, void *arg)
{
	struct coupapi_req *r = req_new(api, KIND_AUTH, arg);
	struct buf key = BUF_INIT;
	struct centry *e;

	r->auth_cb = cb;
	if (token != NULL && !token_sendable(token)) {
		log_debug("CoUp API: token of user %.128s cannot be sent in a "
		    "header; refused without asking", user_id);
		ready_later(r, COUPAPI_AUTH_REJECTED, NULL);
		return r;
	}
	auth_key(&key, user_id, token);
	if (api->auth_ttl > 0 &&
	    (e = cache_get(api->auth_cache, &key)) != NULL) {
		api->stats.auth_cache_hits++;
		log_debug("CoUp API: user %.128s verified (cached)", user_id);
		ready_later(r, e->result, e->user);
	} else if (!join_or_call(api, r, &key, VERIFY_PATH, user_id, token,
	    NULL)) {
		api->stats.auth_failures++;
		ready_later(r, COUPAPI_AUTH_UNREACHABLE, NULL);
	}
	buf_free(&key);
	return r;
}

/*
 * A session's cache key: a control character first (no user id has one,
 * so it never meets auth_key's), then 128 bits of keyed hashes of the
 * cookie: the cookie itself is never kept.
 */
static void
session_key(struct coupapi *api, struct buf *b, const char *cookie)
{
	uint64_t h[2];

	h[0] = siphash24(api->skey[0], api->skey[1], cookie, strlen(cookie));
	h[1] = siphash24(api->skey[2], api->skey[3], cookie, strlen(cookie));
	buf_append_byte(b, 0x01);
	buf_append(b, h, sizeof(h));
}

struct coupapi_req *
coupapi_session(struct coupapi *api, const char *cookie, coupapi_auth_cb cb,
    void *arg)
{
	struct coupapi_req *r = req_new(api, KIND_AUTH, arg);
	struct buf key = BUF_INIT;
	struct centry *e;

	r->auth_cb = cb;
	session_key(api, &key, cookie);
	if (api->auth_ttl > 0 &&
	    (e = cache_get(api->auth_cache, &key)) != NULL) {
		api->stats.auth_cache_hits++;
		log_debug("CoUp API: a session's user known (cached)");
		ready_later(r, e->result, e->user);
	} else if (!join_or_call(api, r, &key, SESSION_PATH, "", NULL,
	    cookie)) {
		api->stats.auth_failures++;
		ready_later(r, COUPAPI_AUTH_UNREACHABLE, NULL);
	}
	buf_free(&key);
	return r;
}

struct coupapi_req *
coupapi_check_member(struct coupapi *api, const char *study_id,
    const char *user_id, coupapi_member_cb cb, void *arg)
{
	struct coupapi_req *r = req_new(api, KIND_MEMBER, arg);
	struct buf key = BUF_INIT, path = BUF_INIT;
	struct centry *e;

	r->member_cb = cb;
	member_key(&key, study_id, user_id);
	if (api->member_ttl > 0 &&
	    (e = cache_get(api->member_cache, &key)) != NULL) {
		api->stats.member_cache_hits++;
		ready_later(r, e->result, NULL);
		buf_free(&key);
		return r;
	}
	buf_append_str(&path, "/api/studies/");
	append_path_segment(&path, study_id);
	buf_append_str(&path, "/check-member");
	buf_append_byte(&path, '\0');
	if (!join_or_call(api, r, &key, (const char *)path.data, user_id,
	    NULL, NULL)) {
		api->stats.member_failures++;
		ready_later(r, COUPAPI_MEMBER_FAILED, NULL);
	}
	buf_free(&path);
	buf_free(&key);
	return r;
}

/* Not for a request whose callback has run: the handle is gone then. */
void
coupapi_cancel(struct coupapi_req *r)
{
	struct call *c;

	if (r == NULL)
		return;
	if ((c = r->call) == NULL) {
		TAILQ_REMOVE(&r->api->ready, r, entry);
		req_free(r);
		return;
	}
	TAILQ_REMOVE(&c->waiters, r, entry);
	req_free(r);
	/* Nobody waits any more: keep the call only if its answer can go
	 * into a cache, for the next one who asks. */
	if (TAILQ_EMPTY(&c->waiters) &&
	    (c->kind == KIND_AUTH ? c->api->auth_ttl : c->api->member_ttl) <= 0)
		call_free(c);
}

/* ------------------------------------------------------------- lifetime */

static void
set_base_url(struct coupapi *api, const char *url)
{
	size_t n = strlen(url);

	/* "http://host:3000/" and "http://host:3000" mean the same API. */
	while (n > 0 && url[n - 1] == '/')
		n--;
	free(api->base_url);
	api->base_url = xstrndup(url, n);
}

struct coupapi *
coupapi_new(struct ev_loop *loop, const struct coupapi_opts *opts)
{
	struct coupapi *api = xcalloc(1, sizeof(*api));

	api->loop = loop;
	set_base_url(api, opts->base_url);
	api->timeout_ms = opts->timeout_ms;
	api->auth_ttl = opts->auth_cache_ttl;
	api->member_ttl = opts->member_cache_ttl;
	api->http = http_client_new(loop, COUPAPI_MAX_RESPONSE);
	api->in_flight = keymap_new();
	api->auth_cache = keymap_new();
	api->member_cache = keymap_new();
	for (int i = 0; i < 4; i++)
		api->skey[i] = random_u64(64);
	TAILQ_INIT(&api->calls);
	TAILQ_INIT(&api->ready);
	ev_timer_init(&api->defer, on_defer, 0., 0.);
	api->defer.data = api;
	return api;
}

void
coupapi_free(struct coupapi *api)
{
	struct coupapi_req *r;
	struct call *c;

	if (api == NULL)
		return;
	while ((c = TAILQ_FIRST(&api->calls)) != NULL)
		call_free(c);
	while ((r = TAILQ_FIRST(&api->ready)) != NULL) {
		TAILQ_REMOVE(&api->ready, r, entry);
		req_free(r);
	}
	ev_timer_stop(api->loop, &api->defer);
	http_client_free(api->http);
	keymap_free(api->in_flight, NULL);
	keymap_free(api->auth_cache, centry_free);
	keymap_free(api->member_cache, centry_free);
	free(api->base_url);
	free(api);
}

void
coupapi_set_base_url(struct coupapi *api, const char *url)
{
	struct call *c;

	size_t n;

	if (url == NULL)
		return;
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == strlen(api->base_url) && strncmp(url, api->base_url, n) == 0)
		return;
	set_base_url(api, url);
	/* Calls to the old API finish for those waiting on them, but no one
	 * new joins them, and the old API's answers are forgotten. */
	TAILQ_FOREACH(c, &api->calls, entry)
		call_leave_map(c);
	cache_clear(&api->auth_cache);
	cache_clear(&api->member_cache);
}

void
coupapi_set_opts(struct coupapi *api, const struct coupapi_opts *opts)
{
	coupapi_set_base_url(api, opts->base_url);
	api->timeout_ms = opts->timeout_ms;
	/* A shorter TTL must not leave older, longer-lived answers behind. */
	if (opts->auth_cache_ttl < api->auth_ttl)
		cache_clear(&api->auth_cache);
	if (opts->member_cache_ttl < api->member_ttl)
		cache_clear(&api->member_cache);
	api->auth_ttl = opts->auth_cache_ttl;
	api->member_ttl = opts->member_cache_ttl;
}

const struct coupapi_stats *
coupapi_stats(const struct coupapi *api)
{
	return &api->stats;
}
