/*
 * namespace.c - the CoUp namespace "/": who may connect, and what their
 * events do.
 *
 * For now a CONNECT needs a userId (contract section 2, rule 1); verifying
 * it against the CoUp API and the room events arrive with the room
 * processes.  Unknown events are ignored and logged at debug level, as the
 * contract asks.
 */
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "sio_server.h"

/* A userId is a non-empty string or a number (contract section 2). */
static int
has_user_id(const cJSON *auth)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(auth, "userId");

	if (cJSON_IsString(id))
		return id->valuestring[0] != '\0';
	return cJSON_IsNumber(id);
}

static void
on_connect(struct sio_socket *s, const cJSON *auth, void *arg)
{
	struct gateway *gw = arg;

	if (!has_user_id(auth)) {
		gw->stats.connects_refused++;
		log_debug("socket %s: refused, no userId", sio_socket_id(s));
		sio_refuse_message(s, "Authentication required: userId missing");
		return;
	}
	gw->stats.connects++;
	sio_accept(s);
}

static void
on_event(struct sio_socket *s, const char *name, cJSON *args,
    const struct sio_bins *bins, long long ack_id, void *arg)
{
	struct gateway *gw = arg;

	gw->stats.events++;
	gw->stats.events_ignored++;
	log_debug("socket %s: event %s ignored (unknown)", sio_socket_id(s),
	    name);
}

static void
on_disconnect(struct sio_socket *s, const char *reason, void *arg)
{
	log_debug("socket %s: disconnected (%s)", sio_socket_id(s), reason);
}

void
namespace_register(struct gateway *gw)
{
	static const struct sio_nsp_ops ops = {
		on_connect, on_event, on_disconnect,
	};

	gw->nsp = sio_namespace(gw->sio, "/", &ops, gw);
}
