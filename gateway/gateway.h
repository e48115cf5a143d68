/*
 * gateway.h - state shared by the files of coup-gateway.
 *
 * One struct gateway per process, built by main.c: the loop, the
 * configuration, the protocol servers, the CoUp API client, the room
 * supervisor, the peers' hooks (multi-server mode), and the figures
 * /metrics reports.  The functions of each file are in its own header.
 */
#ifndef COUP_GATEWAY_H
#define COUP_GATEWAY_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "config.h"
#include "runfile.h"

struct control;
struct coupapi;
struct peer_hooks;
struct httpd;
struct sio_server;
struct sio_nsp;
struct sio_socket;
struct supervisor;

struct gateway_stats {
	unsigned long long	 events;		/* events received */
	unsigned long long	 events_ignored;	/* unknown names */
	unsigned long long	 errors;		/* error replies sent */
	unsigned long long	 connects;		/* accepted */
	unsigned long long	 connects_refused;
	unsigned long long	 rate_limited;
	unsigned long long	 events_absorbed;	/* repeats of a state */
	unsigned long long	 errors_quiet;		/* errors not sent: 1/s */
};

struct gateway {
	struct ev_loop		*loop;
	struct config		 cfg;
	int			 development;	/* NODE_ENV=development */
	struct httpd		*httpd;
	struct sio_server	*sio;
	struct sio_nsp		*nsp;		/* "/" */
	struct coupapi		*api;
	struct supervisor	*supervisor;	/* the room processes */
	struct {
		const struct peer_hooks	*hooks;	/* peers.h; NULL: alone */
		void			*ctx;
	}			 peers;
	double			 started;	/* monotonic seconds */
	struct gateway_stats	 stats;
	struct control		*control;
	int			 draining;
	int			 syslog;	/* daemonized: logs go there */
	double			 drain_secs;
	double			 started_drain;
	ev_timer		 drain_timer;
	int			 run_dir;	/* RUN_DIR, held open; -1: none */
	struct runfile		 pid_file;	/* path NULL: none */
	char			**argv;		/* for reloads */
	int			 argc;
};

#endif
