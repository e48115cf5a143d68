/*
 * namespace.c - the CoUp namespace "/": the three moments of a socket.
 *
 * connect: authentication (connect.c), which ends in client_accepted()
 * (clients.c) or a refusal; event: events.c; disconnect: leave every
 * room, or cancel an authentication still in flight.
 */
#include "clients.h"
#include "connect.h"
#include "gateway.h"
#include "events.h"
#include "ipc.h"
#include "log.h"
#include "namespace.h"
#include "rooms.h"
#include "sio_server.h"

static void
on_connect(struct sio_socket *s, const cJSON *auth, void *arg)
{
	connect_start(arg, s, auth);
}

static void
on_event(struct sio_socket *s, const struct sio_event *ev, void *arg)
{
	struct client *c = client_of(s);

	if (c != NULL)
		events_dispatch(c, ev);
}

static void
on_disconnect(struct sio_socket *s, const char *reason, void *arg)
{
	struct client *c = client_of(s);

	if (c != NULL) {
		/* Top down: what it has in flight, its rooms, then itself. */
		events_client_gone(c);
		c->gone_why = reason;
		rooms_leave_all(c, IPC_LEAVE_DISCONNECT);
		c->gone_why = NULL;
		client_gone(c, reason);
	}
	else
		connect_cancel(arg, s);
}

void
namespace_register(struct gateway *gw)
{
	static const struct sio_nsp_ops ops = {
		on_connect, on_event, on_disconnect,
	};

	gw->nsp = sio_namespace(gw->sio, "/", &ops, gw);
}
