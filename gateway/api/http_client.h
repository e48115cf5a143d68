/*
 * http_client.h - outgoing HTTP requests on the gateway's libev loop,
 * through libcurl's multi interface: curl tells us which sockets and which
 * timeout to watch, libev tells curl when they are ready.  No threads, no
 * blocking call.  Only what coupapi.c needs: a POST of a JSON body with an
 * optional bearer token, a timeout, and a cap on the size of the answer.
 */
#ifndef COUP_HTTP_CLIENT_H
#define COUP_HTTP_CLIENT_H

#include <stddef.h>

#include <ev.h>

struct http_client;
struct http_req;

struct http_result {
	int		 answered;	/* a complete HTTP answer within the cap */
	long		 status;	/* HTTP status when answered */
	const char	*body;		/* NUL-terminated; "" when none */
	size_t		 len;
	const char	*error;		/* why not answered (for the log) */
	double		 seconds;	/* from the call to the end */
};

/* res is only valid during the call; the request is freed after it. */
typedef void	(*http_done_cb)(void *arg, const struct http_result *res);

/* Answers larger than max_response bytes count as not answered. */
struct http_client *http_client_new(struct ev_loop *, size_t max_response);
/* Aborts every request in flight; their callbacks do not run. */
void		 http_client_free(struct http_client *);

/*
 * POST body to url with Content-Type: application/json and, when bearer
 * is not NULL, Authorization: Bearer <bearer>.  timeout_ms bounds the
 * connection and the whole request.  The callback always runs later, from
 * the loop.  Returns NULL (and logs why) when the request cannot be made
 * at all, e.g. a bearer with control characters that would split the
 * header.
 */
struct http_req	*http_post_json(struct http_client *, const char *url,
		    const char *bearer, const char *body, int timeout_ms,
		    http_done_cb, void *arg);
/* GET url with Cookie: <cookie> (a credential: never logged). */
struct http_req	*http_get_with_cookie(struct http_client *, const char *url,
		    const char *cookie, int timeout_ms, http_done_cb, void *arg);
/* POST a JSON body with more header lines (NULL-terminated; NULL is
 * returned if one holds a control character). */
struct http_req	*http_post_with_headers(struct http_client *, const char *url,
		    const char *const *headers, const char *body,
		    int timeout_ms, http_done_cb, void *arg);
/* Aborts the request; its callback will not run. */
void		 http_cancel(struct http_req *);

#endif
