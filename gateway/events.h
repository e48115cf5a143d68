/*
 * events.h - the CoUp events a client sends (events.c): checked, rate
 * limited, in order per socket, then on to their rooms.
 */
#ifndef COUP_EVENTS_H
#define COUP_EVENTS_H

struct client;
struct gateway;
struct sio_event;

void	events_dispatch(struct client *, const struct sio_event *);
/* At start-up (the socket queues' drain). */
void	events_init(struct gateway *);
/* Cancel what is in flight for a client that is going away. */
void	events_client_gone(struct client *);

#endif
