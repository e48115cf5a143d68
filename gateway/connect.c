/*
 * connect.c - who may connect: the CONNECT rules of contract section 2.
 *
 * A CONNECT must carry a userId (a non-empty string, or a number, which
 * becomes its decimal string) and may carry a token.  The CoUp API is asked
 * through coupapi.c: about the claimed user (AUTH_SOURCE verify), or about
 * the session cookie the handshake carried (session: the claim, if any,
 * must be the session's user); its verdict becomes an accepted client or a
 * CONNECT_ERROR whose message is the old server's, word for word, since
 * the web app shows them.  When the API cannot be reached, production
 * refuses and development lets the user in under a made-up profile, as
 * the old server did, so a newcomer can run the server without the app.
 *
 * While the API is being asked, the socket's data pointer holds our
 * struct pending; it is cleared before the socket is accepted or refused,
 * so whoever owns the pointer next finds it empty.
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "buf.h"
#include "checks.h"
#include "clients.h"
#include "config.h"
#include "connect.h"
#include "eio_server.h"
#include "api/coupapi.h"
#include "gateway.h"
#include "log.h"
#include "peers.h"
#include "replies.h"
#include "sio_server.h"
#include "xmalloc.h"

struct pending {
	struct gateway		*gw;
	struct sio_socket	*s;
	struct coupapi_req	*req;
	int			 by_session;	/* AUTH_SOURCE: the cookie's */
	char			 user_id[];	/* claimed ("" : none) */
};

static void
refuse(struct gateway *gw, struct sio_socket *s, const char *message)
{
	gw->stats.connects_refused++;
	log_debug("socket %s: refused: %s", sio_socket_id(s), message);
	sio_refuse_message(s, message);
}

/*
 * The user the API answered (or development mode made up), held to the
 * bounds every room process relies on: its id was checked (it is the one
 * asked about, or the API's when usable), over-long fields are dropped.
 */
static void
accept_user(struct gateway *gw, struct sio_socket *s, const cJSON *user,
    const char *asked)
{
	cJSON *u = cJSON_Duplicate(user, 1);	/* xmalloc's hooks */
	const cJSON *id;

	id = cJSON_GetObjectItemCaseSensitive(u, "id");
	if (!cJSON_IsString(id) ||
	    check_id_text(id->valuestring, BOUND_USER_ID) < 0) {
		log_warnx("socket %s: the CoUp API's id for user %.128s is not "
		    "usable; the user is %.128s", sio_socket_id(s), asked,
		    asked);
		cJSON_ReplaceItemInObjectCaseSensitive(u, "id",
		    cJSON_CreateString(asked));
	}
	check_api_user(u);
	gw->stats.connects++;
	log_debug("socket %s: user %.128s connected", sio_socket_id(s),
	    cJSON_GetObjectItemCaseSensitive(u, "id")->valuestring);
	client_accepted(gw, s, u);
	cJSON_Delete(u);
}

/* The profile development mode gives a user it could not verify. */
static cJSON *
unverified_user(const char *user_id)
{
	cJSON *u = cJSON_CreateObject();
	struct buf name = BUF_INIT;

	buf_printf(&name, "User %s", user_id);
	buf_append_byte(&name, '\0');
	cJSON_AddStringToObject(u, "id", user_id);
	cJSON_AddStringToObject(u, "name", (char *)name.data);
	cJSON_AddNullToObject(u, "email");
	cJSON_AddNullToObject(u, "avatar");
	buf_free(&name);
	return u;
}

/*
 * A session's user is who connects: the claim, if the client made one,
 * must be that user (who knows a user id is not that user).
 */
static int
session_is_claim(struct sio_socket *s, const cJSON *user, const char *claim)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");

	if (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
	    check_id_text(id->valuestring, BOUND_USER_ID) < 0) {
		log_warnx("socket %s: the CoUp API's session has no usable "
		    "user id; refused", sio_socket_id(s));
		return 0;
	}
	if (claim[0] != '\0' && strcmp(claim, id->valuestring) != 0) {
		log_info("socket %s: the session of user %.128s claims to be "
		    "user %.128s; refused", sio_socket_id(s), id->valuestring,
		    claim);
		return 0;
	}
	return 1;
}

static void
on_verified(void *arg, enum coupapi_auth outcome, const cJSON *user)
{
	struct pending *p = arg;
	struct gateway *gw = p->gw;
	struct sio_socket *s = p->s;
	cJSON *guest;

	sio_socket_set_data(s, NULL);
	p->req = NULL;
	if (outcome == COUPAPI_AUTH_OK && p->by_session &&
	    !session_is_claim(s, user, p->user_id)) {
		refuse(gw, s, MSG_REJECTED);
		free(p);
		return;
	}
	switch (outcome) {
	case COUPAPI_AUTH_OK:
		accept_user(gw, s, user, p->by_session ?
		    cJSON_GetObjectItemCaseSensitive(user, "id")->valuestring :
		    p->user_id);
		break;
	case COUPAPI_AUTH_REJECTED:
		refuse(gw, s, MSG_REJECTED);
		break;
	case COUPAPI_AUTH_INACTIVE:
		refuse(gw, s, MSG_INACTIVE);
		break;
	case COUPAPI_AUTH_UNREACHABLE:
	default:
		if (!gw->development || p->user_id[0] == '\0') {
			refuse(gw, s, MSG_UNREACHABLE);
			break;
		}
		log_warnx("socket %s: CoUp API unreachable; development mode "
		    "lets user %.128s in unverified", sio_socket_id(s),
		    p->user_id);
		guest = unverified_user(p->user_id);
		accept_user(gw, s, guest, p->user_id);
		cJSON_Delete(guest);
		break;
	}
	free(p);
}

void
connect_start(struct gateway *gw, struct sio_socket *s, const cJSON *auth)
{
	const cJSON *id = NULL, *tok = NULL;
	const char *token = NULL;
	char num[COUPAPI_NUMBER_LEN];
	const char *user_id = NULL;
	const char *source = config_str(&gw->cfg, CFG_AUTH_SOURCE);
	const char *cookie;
	struct eio_session *engine;
	struct pending *p;
	size_t n;
	int by_session;

	if (cJSON_IsObject(auth)) {
		id = cJSON_GetObjectItemCaseSensitive(auth, "userId");
		tok = cJSON_GetObjectItemCaseSensitive(auth, "token");
	}
	if (cJSON_IsString(id) && id->valuestring[0] != '\0')
		user_id = id->valuestring;
	else if (cJSON_IsNumber(id)) {
		coupapi_number_id(id->valuedouble, num);
		user_id = num;
	}
	engine = sio_socket_engine(s);
	cookie = engine != NULL ? eio_session_cookie(engine) : NULL;
	by_session = strcmp(source, "session") == 0 ||
	    (strcmp(source, "session-or-verify") == 0 && cookie != NULL);
	if (user_id == NULL && !by_session) {
		refuse(gw, s, MSG_NO_USER_ID);
		return;
	}
	if (by_session && cookie == NULL) {
		log_info("socket %s: no session cookie (AUTH_SOURCE session); "
		    "refused", sio_socket_id(s));
		refuse(gw, s, MSG_REJECTED);
		return;
	}
	if (user_id == NULL)
		user_id = "";
	/* Bounded here, once: the id goes to the API, into every room the
	 * user joins, into logs and Redis. */
	if (user_id[0] != '\0' && check_id_text(user_id, BOUND_USER_ID) < 0) {
		refuse(gw, s, MSG_BAD_USER_ID);
		return;
	}
	/* The old server sent a Bearer header only for a non-empty token.
	 * It goes into a header line: no control characters (a CR LF would
	 * add headers of the client's choosing to our API call). */
	if (cJSON_IsString(tok) && tok->valuestring[0] != '\0') {
		token = tok->valuestring;
		if (check_id_text(token, BOUND_TOKEN) < 0) {
			refuse(gw, s, MSG_BAD_TOKEN);
			return;
		}
	}

	n = strlen(user_id);
	p = xmalloc(sizeof(*p) + n + 1);
	p->gw = gw;
	p->s = s;
	p->by_session = by_session;
	memcpy(p->user_id, user_id, n + 1);
	sio_socket_set_data(s, p);
	if (by_session) {
		log_debug("socket %s: asking the CoUp API whose session this "
		    "is%s%.128s", sio_socket_id(s), *user_id ? "; it claims "
		    "user " : "", user_id);
		p->req = coupapi_session(gw->api, cookie, on_verified, p);
		/* Used: the cookie is kept no longer (curl has its copy
		 * for the call). */
		eio_session_forget_cookie(engine);
		return;
	}
	log_debug("socket %s: verifying user %.128s%s", sio_socket_id(s),
	    user_id, token ? " (with a token)" : "");
	/* The callback never runs inside this call, so p->req is set
	 * before anyone can look at it. */
	p->req = coupapi_verify(gw->api, user_id, token, on_verified, p);
}

void
connect_cancel(struct gateway *gw, struct sio_socket *s)
{
	struct pending *p = sio_socket_data(s);

	peers_socket_gone(gw, s);
	if (p == NULL)
		return;
	sio_socket_set_data(s, NULL);
	log_debug("socket %s: gone while user %.128s was being verified",
	    sio_socket_id(s), p->user_id);
	coupapi_cancel(p->req);
	free(p);
}
