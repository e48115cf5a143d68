/*
 * gateway.h - state shared by the files of coup-gateway.
 *
 * One struct gateway per process, built by main.c: the loop, the
 * configuration, the protocol servers, the CoUp API client, the room
 * supervisor, the peers' hooks (multi-server mode), and the figures
 * /metrics reports.
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

/*
 * lifecycle.c: re-read the configuration (SIGHUP, coupctl reload) and apply
 * what may change at run time.  changed and restart (JSON arrays, may be
 * NULL) get the keys applied and the keys that need a restart.  -1 with
 * err set if the new configuration is invalid (nothing is applied).
 */
int	gateway_reload(struct gateway *, cJSON *changed, cJSON *restart,
	    char *err, size_t errlen);
/* SIGTERM, coupctl drain: stop taking clients, let everyone go, exit
 * within DRAIN_TIMEOUT_MS. */
void	gateway_drain(struct gateway *, const char *why);
/* The CoUp API client's options, from the configuration. */
struct coupapi_opts;
void	gateway_api_opts(const struct config *, struct coupapi_opts *);

/* endpoints.c: /health, /metrics, /metrics/prometheus. */
void	endpoints_register(struct gateway *);
/* demo.c: the demo page at /demo (DEMO, DEMO_DIR).  demo_enabled() is
 * known before the HTTP server starts: the page's WebSocket comes from
 * our own origin, which must then be allowed. */
int	demo_enabled(const struct gateway *);
void	demo_register(struct gateway *);
void	demo_free(void);
/* namespace.c: the CoUp namespace "/". */
void	namespace_register(struct gateway *);

/*
 * connect.c: authentication of a CONNECT (contract section 2).  Ends, now
 * or later, with client_accepted() or a refusal (sio_refuse_message).
 * While it is pending the socket's data pointer belongs to connect.c.
 */
void	connect_start(struct gateway *, struct sio_socket *, const cJSON *auth);
/* The socket went away while its CONNECT was pending. */
void	connect_cancel(struct gateway *, struct sio_socket *);

/* clients.c: an authenticated socket; user is {id,name,email,avatar}
 * (copied).  Accepts the socket. */
void	client_accepted(struct gateway *, struct sio_socket *,
	    const cJSON *user);

#endif
