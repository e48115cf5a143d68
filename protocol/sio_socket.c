/*
 * sio_socket.c - a Socket.IO socket's links: to its connection (struct
 * client, one per Engine.IO session, a list of its sockets, one per
 * namespace) and to its namespace (the list of connected sockets that
 * broadcasts walk); the packets that only set those up (CONNECT and its
 * answer, CONNECT_ERROR, DISCONNECT); the end of a socket, which is where
 * the application hears of it.
 */
#include <stdlib.h>
#include <string.h>

#include "sio_internal.h"
#include "xmalloc.h"

struct sio_socket *
sio_client_socket(struct client *c, const char *nsp)
{
	struct sio_socket *s;

	for (s = c->sockets; s != NULL; s = s->cnext)
		if (strcmp(s->nsp->name, nsp) == 0)
			return s;
	return NULL;
}

void
sio_client_unlink(struct client *c, struct sio_socket *s)
{
	struct sio_socket **pp;

	for (pp = &c->sockets; *pp != NULL; pp = &(*pp)->cnext)
		if (*pp == s) {
			*pp = s->cnext;
			break;
		}
}

void
sio_acks_fail(struct sio_socket *s)
{
	struct pending_ack *pa;

	while ((pa = s->acks) != NULL) {
		s->acks = pa->next;
		if (pa->cb != NULL)
			pa->cb(s, NULL, NULL, pa->arg);
		free(pa);
	}
}

void
sio_send_simple(struct client *c, enum sio_type type, const char *nsp,
    const cJSON *data)
{
	struct buf b = BUF_INIT;

	if (c == NULL)
		return;			/* held: nobody to tell */
	sio_encode(&b, type, nsp, SIO_NO_ACK, 0, data);
	eio_send_text(c->eio, (const char *)b.data, b.len);
	buf_free(&b);
}

/* {sid} or, when sessions can be recovered, {sid, pid}. */
void
sio_answer_connect(struct sio_socket *s, struct client *c)
{
	cJSON *hs = cJSON_CreateObject();

	cJSON_AddStringToObject(hs, "sid", s->id);
	if (s->pid[0] != '\0')
		cJSON_AddStringToObject(hs, "pid", s->pid);
	sio_send_simple(c, SIO_CONNECT, s->nsp->name, hs);
	cJSON_Delete(hs);
}


void
sio_socket_link(struct sio_socket *s)
{
	struct sio_nsp *n = s->nsp;

	s->connected = 1;
	s->nprev = NULL;
	s->nnext = n->head;
	if (n->head)
		n->head->nprev = s;
	n->head = s;
	n->count++;
	n->srv->connections++;
	ev_timer_stop(n->srv->loop, &s->client->connect_timer);
}

void
sio_unhold(struct sio_socket *s)
{
	struct sio_server *srv = s->nsp->srv;

	if (!s->held)
		return;
	s->held = 0;
	ev_timer_stop(srv->loop, &s->hold_timer);
	srv->rstats.held--;
	free(s->held_reason);
	s->held_reason = NULL;
	if (s->recovered_by != NULL) {
		s->recovered_by->recover = NULL;
		s->recovered_by = NULL;
	}
}


void
sio_socket_remove(struct sio_socket *s, const char *reason)
{
	struct client *c = s->client;

	sio_unhold(s);
	if (s->pid[0] != '\0' && !s->pid_asked)	/* in by_pid */
		hashtab_remove(&s->nsp->srv->by_pid, &s->by_pid);
	if (s->recover != NULL) {
		s->recover->recovered_by = NULL;
		s->recover = NULL;
	}
	if (c != NULL)
		sio_client_unlink(c, s);
	if (s->connected) {
		if (s->nprev)
			s->nprev->nnext = s->nnext;
		else
			s->nsp->head = s->nnext;
		if (s->nnext)
			s->nnext->nprev = s->nprev;
		s->nsp->count--;
		s->nsp->srv->connections--;
	}
	/* sio_socket_connected() still tells the application whether it
	 * had accepted this socket. */
	if (s->nsp->ops.disconnect != NULL)
		s->nsp->ops.disconnect(s, reason, s->nsp->arg);
	s->connected = 0;
	sio_acks_fail(s);
	sio_replay_free(&s->replay);
	free(s);
}
