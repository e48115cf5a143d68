/*
 * connect.h - authentication of a CONNECT (contract section 2; connect.c).
 */
#ifndef COUP_CONNECT_H
#define COUP_CONNECT_H

#include <cjson/cJSON.h>

struct gateway;
struct sio_socket;

/* Ends, now or later, with client_accepted() or a refusal
 * (sio_refuse_message).  While it is pending the socket's data pointer
 * belongs to connect.c. */
void	connect_start(struct gateway *, struct sio_socket *, const cJSON *auth);
/* The socket went away while its CONNECT was pending. */
void	connect_cancel(struct gateway *, struct sio_socket *);

#endif
