/*
 * main.c - coup-gateway: start-up, signals and the event loop.
 *
 * Reads the configuration (command line > environment > file), raises the
 * open-file limit before libwebsockets sizes its tables, builds the
 * Socket.IO server on one libev loop, registers the CoUp namespace and the
 * HTTP endpoints, and runs until SIGINT or SIGTERM.  SIGHUP re-reads the
 * configuration and applies the keys that may change at run time.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "autoconfig.h"
#include "config.h"
#include "coupapi.h"
#include "gateway.h"
#include "httpd.h"
#include "log.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"

/* How long clients get to receive their close frames on shutdown. */
#define SHUTDOWN_GRACE_SECS	0.3

static int	 saved_argc;
static char	**saved_argv;

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_debug("open files limit %llu",
		    (unsigned long long)rl.rlim_cur);
}

static void
on_grace_over(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gateway *gw = w->data;
	static ev_timer grace;

	if (ev_is_active(&grace)) {
		ev_break(loop, EVBREAK_ALL);	/* second signal: now */
		return;
	}
	log_info("signal %d: closing %u sessions and stopping", w->signum,
	    eio_server_count(sio_server_engine(gw->sio)));
	eio_server_close_all(sio_server_engine(gw->sio), "server shutdown");
	ev_timer_init(&grace, on_grace_over, SHUTDOWN_GRACE_SECS, 0.);
	ev_timer_start(loop, &grace);
}

static void
api_opts(const struct config *cfg, struct coupapi_opts *ao)
{
	ao->base_url = config_str(cfg, CFG_NEXTJS_URL);
	ao->timeout_ms = (int)config_int(cfg, CFG_AUTH_TIMEOUT_MS);
	ao->auth_cache_ttl = (int)config_int(cfg, CFG_AUTH_CACHE_TTL);
	ao->member_cache_ttl = (int)config_int(cfg, CFG_MEMBER_CACHE_TTL);
}

static void
on_reload_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct gateway *gw = w->data;
	struct config fresh;
	struct config_cli cli;
	char err[512];

	if (config_load(&fresh, saved_argc, saved_argv, &cli, err,
	    sizeof(err)) < 0) {
		log_warnx("SIGHUP: configuration not reloaded: %s", err);
		config_free(&fresh);
		return;
	}
	for (int k = 0; k < CFG__COUNT; k++) {
		const char *a = config_str(&gw->cfg, k);
		const char *b = config_str(&fresh, k);

		if ((a == NULL) == (b == NULL) && (a == NULL ||
		    strcmp(a, b) == 0))
			continue;
		if (!config_defs[k].reloadable) {
			log_warnx("SIGHUP: %s changed but needs a restart",
			    config_defs[k].name);
			continue;
		}
		log_info("SIGHUP: %s is now %s", config_defs[k].name,
		    b ? b : "(unset)");
		config_set(&gw->cfg, k, b, fresh.v[k].src, err, sizeof(err));
	}
	log_set_level(log_level_from_name(config_str(&gw->cfg, CFG_LOG_LEVEL)));
	httpd_set_origins(gw->httpd, config_str(&gw->cfg, CFG_ALLOWED_ORIGINS));
	{
		struct coupapi_opts ao;

		api_opts(&gw->cfg, &ao);
		coupapi_set_opts(gw->api, &ao);
	}
	config_free(&fresh);
}

int
main(int argc, char **argv)
{
	struct gateway gw;
	struct config_cli cli;
	struct eio_opts eo;
	struct httpd_opts ho;
	struct coupapi_opts ao;
	ev_signal sigint, sigterm, sighup;
	char err[512];

	memset(&gw, 0, sizeof(gw));
	log_init("gateway", LOG_LEVEL_INFO);
	saved_argc = argc;
	saved_argv = argv;
	if (config_load(&gw.cfg, argc, argv, &cli, err, sizeof(err)) < 0) {
		fprintf(stderr, "coup-gateway: %s\n", err);
		fprintf(stderr, "Try 'coup-gateway --help'.\n");
		config_free(&gw.cfg);
		return 2;
	}
	if (cli.help || cli.version || cli.check_config) {
		if (cli.help)
			config_usage(stdout, "coup-gateway");
		else if (cli.version)
			printf("coup-gateway %s\n", PACKAGE_VERSION);
		else {
			config_dump(&gw.cfg, stdout);
			printf("configuration OK\n");
		}
		config_free(&gw.cfg);
		return 0;
	}
	log_set_level(log_level_from_name(config_str(&gw.cfg, CFG_LOG_LEVEL)));
	raise_nofile();

	gw.loop = EV_DEFAULT;
	gw.started = timestamp_mono();
	gw.development = strcmp(config_str(&gw.cfg, CFG_NODE_ENV),
	    "development") == 0;
	api_opts(&gw.cfg, &ao);
	gw.api = coupapi_new(gw.loop, &ao);
	rooms_init(&gw);
	eo.ping_interval_ms = (int)config_int(&gw.cfg, CFG_PING_INTERVAL_MS);
	eo.ping_timeout_ms = (int)config_int(&gw.cfg, CFG_PING_TIMEOUT_MS);
	eo.max_payload = (size_t)config_int(&gw.cfg, CFG_MAX_PAYLOAD);
	eo.send_queue_max = (size_t)config_int(&gw.cfg, CFG_SEND_QUEUE_MAX);
	eo.max_sessions = (unsigned)config_int(&gw.cfg, CFG_MAX_CONNECTIONS);
	gw.sio = sio_server_new(gw.loop, &eo,
	    (int)config_int(&gw.cfg, CFG_CONNECT_TIMEOUT_MS));

	ho.host = config_str(&gw.cfg, CFG_HOST);
	ho.port = (int)config_int(&gw.cfg, CFG_PORT);
	ho.engine_path = "/socket.io/";
	ho.max_body = eo.max_payload;
	ho.allowed_origins = config_str(&gw.cfg, CFG_ALLOWED_ORIGINS);
	gw.httpd = httpd_new(gw.loop, &ho, sio_server_engine(gw.sio));
	if (gw.httpd == NULL)
		fatalx("cannot start the HTTP server");
	endpoints_register(&gw);
	namespace_register(&gw);

	ev_signal_init(&sigint, on_stop_signal, SIGINT);
	ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
	ev_signal_init(&sighup, on_reload_signal, SIGHUP);
	sigint.data = sigterm.data = sighup.data = &gw;
	ev_signal_start(gw.loop, &sigint);
	ev_signal_start(gw.loop, &sigterm);
	ev_signal_start(gw.loop, &sighup);

	log_info("listening on %s:%d (%s mode, CoUp API %s)",
	    ho.host && *ho.host ? ho.host : "*", ho.port,
	    config_str(&gw.cfg, CFG_NODE_ENV),
	    config_str(&gw.cfg, CFG_NEXTJS_URL));
	ev_run(gw.loop, 0);

	log_info("stopped");
	httpd_free(gw.httpd);
	sio_server_free(gw.sio);
	rooms_shutdown(&gw);
	coupapi_free(gw.api);
	config_free(&gw.cfg);
	return 0;
}
