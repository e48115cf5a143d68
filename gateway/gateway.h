/*
 * gateway.h - state shared by the files of coup-gateway.
 *
 * One struct gateway per process, built by main.c: the loop, the
 * configuration, the protocol servers, and the figures /metrics reports.
 */
#ifndef COUP_GATEWAY_H
#define COUP_GATEWAY_H

#include <ev.h>

#include "config.h"

struct httpd;
struct sio_server;
struct sio_nsp;

struct gateway_stats {
	unsigned long long	 events;		/* events received */
	unsigned long long	 events_ignored;	/* unknown names */
	unsigned long long	 connects;		/* accepted */
	unsigned long long	 connects_refused;
};

struct gateway {
	struct ev_loop		*loop;
	struct config		 cfg;
	struct httpd		*httpd;
	struct sio_server	*sio;
	struct sio_nsp		*nsp;		/* "/" */
	double			 started;	/* monotonic seconds */
	struct gateway_stats	 stats;
};

/* endpoints.c: /health, /metrics, /metrics/prometheus. */
void	endpoints_register(struct gateway *);
/* namespace.c: the CoUp namespace "/". */
void	namespace_register(struct gateway *);

#endif
