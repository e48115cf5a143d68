/*
 * coupapi.h - the gateway's calls to the CoUp Next.js API, on libcurl's
 * multi interface driven by the gateway's libev loop (one loop, no
 * threads): user verification (contract section 2) and study membership
 * (section 3), each with a timeout, an optional cache, and one shared HTTP
 * call for concurrent identical questions.
 *
 * These functions report what the API said; what to do about it (refuse,
 * or let a user in during development) is the caller's policy.
 */
#ifndef COUP_COUPAPI_H
#define COUP_COUPAPI_H

#include <cjson/cJSON.h>
#include <ev.h>

struct coupapi;
struct coupapi_req;

struct coupapi_opts {
	const char	*base_url;		/* NEXTJS_URL */
	int		 timeout_ms;		/* AUTH_TIMEOUT_MS, both calls */
	int		 auth_cache_ttl;	/* seconds, 0 = no cache */
	int		 member_cache_ttl;	/* seconds, 0 = no cache */
};

enum coupapi_auth {
	COUPAPI_AUTH_OK,		/* 2xx with user.status "ACTIVE" */
	COUPAPI_AUTH_REJECTED,		/* non-2xx answer */
	COUPAPI_AUTH_INACTIVE,		/* 2xx without an ACTIVE user */
	COUPAPI_AUTH_UNREACHABLE,	/* down, timed out, or not JSON */
};

enum coupapi_member {
	COUPAPI_MEMBER_YES,		/* 2xx */
	COUPAPI_MEMBER_NO,		/* 4xx */
	COUPAPI_MEMBER_FAILED,		/* 5xx, timeout, unreachable */
};

/* user: {"id","name","email","avatar"} (valid during the call) on OK. */
typedef void	(*coupapi_auth_cb)(void *arg, enum coupapi_auth,
		    const cJSON *user);
typedef void	(*coupapi_member_cb)(void *arg, enum coupapi_member);

struct coupapi	*coupapi_new(struct ev_loop *, const struct coupapi_opts *);
/* Cancels every pending request (their callbacks do not run). */
void		 coupapi_free(struct coupapi *);
/* SIGHUP may change the URL; requests already sent finish as they are. */
void		 coupapi_set_base_url(struct coupapi *, const char *);
/* SIGHUP may change every option (URL, timeout, TTLs); the same rule. */
void		 coupapi_set_opts(struct coupapi *, const struct coupapi_opts *);

/*
 * POST {base}/api/auth/verify {"userId":id} (Authorization: Bearer token
 * when token is not NULL).  The callback always runs later, from the
 * loop, never from inside this call (a cache hit too), so callers need
 * not guard against re-entry.  Returns a handle for coupapi_cancel().
 */
struct coupapi_req *coupapi_verify(struct coupapi *, const char *user_id,
		    const char *token, coupapi_auth_cb, void *arg);
/*
 * GET {base}/api/auth/me with Cookie: cookie (a NextAuth session): the
 * session's user, as coupapi_verify's (no session: REJECTED).  The
 * cookie is sent nowhere else, never logged, and cached only as a keyed
 * hash.
 */
struct coupapi_req *coupapi_session(struct coupapi *, const char *cookie,
		    coupapi_auth_cb, void *arg);
/* POST {base}/api/studies/{study}/check-member {"userId":id}. */
struct coupapi_req *coupapi_check_member(struct coupapi *,
		    const char *study_id, const char *user_id,
		    coupapi_member_cb, void *arg);
/* The callback of this request will not run. */
void		 coupapi_cancel(struct coupapi_req *);

/* Figures for /metrics. */
struct coupapi_stats {
	unsigned long long	 auth_calls;	/* HTTP calls made */
	unsigned long long	 auth_cache_hits;
	unsigned long long	 auth_shared;	/* joined a call in flight */
	unsigned long long	 auth_failures;	/* unreachable/timeout */
	unsigned long long	 member_calls;
	unsigned long long	 member_cache_hits;
	unsigned long long	 member_failures;
	double			 auth_latency_sum;	/* seconds */
	unsigned long long	 auth_latency_count;
};
const struct coupapi_stats *coupapi_stats(const struct coupapi *);

/*
 * A JSON number as the id string JavaScript's String() gives for it: "42"
 * (never "42.0"), "1.5", "1e+21", "1e-7".  For a numeric userId, and for a
 * numeric user.id in the API's answer.
 */
#define COUPAPI_NUMBER_LEN	40
void		 coupapi_number_id(double, char out[COUPAPI_NUMBER_LEN]);

#endif
