/*
 * main.c - coup-gateway: start-up, signals and the event loop.
 *
 * Reads the configuration (command line > environment > file), raises the
 * open-file limit before libwebsockets sizes its tables, builds the
 * Socket.IO server on one libev loop, registers the CoUp namespace and the
 * HTTP endpoints, and runs until SIGINT or SIGTERM.  SIGHUP re-reads the
 * configuration and applies the keys that may change at run time.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "autoconfig.h"
#include "config.h"
#include "api/coupapi.h"
#include "cluster/cluster.h"
#include "control.h"
#include "daemon.h"
#include "demo.h"
#include "endpoints.h"
#include "gateway.h"
#include "httpd.h"
#include "events.h"
#include "lifecycle.h"
#include "log.h"
#include "namespace.h"
#include "peers.h"
#include "rooms.h"
#include "runfile.h"
#include "sio_server.h"
#include "timestamp.h"
#include "turn.h"
#include "webhooks.h"
#include "json.h"
#include "xmalloc.h"


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
on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	char why[32];

	snprintf(why, sizeof(why), "signal %d", w->signum);
	gateway_drain(w->data, why);
}

static void
on_reload_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	char err[512];

	log_info("SIGHUP: reloading the configuration");
	gateway_reload(w->data, NULL, NULL, err, sizeof(err));
}

int
main(int argc, char **argv)
{
	struct gateway gw;
	struct config_cli cli;
	struct eio_opts eo;
	struct sio_opts so;
	struct httpd_opts ho;
	struct coupapi_opts ao;
	ev_signal sigint, sigterm, sighup;
	char err[512], why[PATH_MAX + 256];
	const char *user, *run_dir;
	long pid;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int ready_fd = -1;

	memset(&gw, 0, sizeof(gw));
	log_init("gateway", LOG_LEVEL_INFO);
	json_use_xmalloc();
	gw.argc = argc;
	gw.argv = argv;
	if (config_load(&gw.cfg, argc, argv, &cli, err, sizeof(err)) < 0) {
		fprintf(stderr, "coup-gateway: %s\n", err);
		fprintf(stderr, "Try 'coup-gateway --help'.\n");
		config_free(&gw.cfg);
		return 2;
	}
	/* What the configuration names beyond itself (a secret's file),
	 * checked by --check-config too. */
	if (!cli.help && !cli.version &&
	    turn_configure(&gw.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "coup-gateway: %s\n", err);
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
	user = config_str(&gw.cfg, CFG_RUN_USER);
	if (*user != '\0' && daemon_lookup_user(user, &uid, &gid) < 0) {
		fprintf(stderr, "coup-gateway: RUN_USER: no user \"%s\"\n", user);
		config_free(&gw.cfg);
		return 2;
	}
	/* Root's work that may refuse, before detaching so that the refusal
	 * is said where the gateway was started: the run directory, where
	 * the pid file goes, and whether a gateway holds it already. */
	run_dir = config_str(&gw.cfg, CFG_RUN_DIR);
	gw.run_dir = runfile_dir(run_dir, uid);
	if (cli.daemon || *config_str(&gw.cfg, CFG_PID_FILE) != '\0') {
		if (*config_str(&gw.cfg, CFG_PID_FILE) == '\0' &&
		    gw.run_dir < 0)
			fatalx("no pid file without the run directory %s; not "
			    "starting (set RUN_DIR or PID_FILE)", run_dir);
		if (runfile_init(&gw.pid_file, "pid file",
		    config_str(&gw.cfg, CFG_PID_FILE), gw.run_dir, run_dir,
		    "coup-gateway.pid", why, sizeof(why)) < 0)
			fatalx("%s; not starting without a pid file (PID_FILE "
			    "must be in a directory only root can change, or "
			    "a sticky one)", why);
		if (runfile_pid_held(&gw.pid_file, &pid))
			fatalx("pid file %s belongs to a gateway that runs "
			    "(pid %ld); not starting another (stop that one, "
			    "or give this one a PID_FILE of its own)",
			    gw.pid_file.path, pid);
	}
	if (cli.daemon) {
		ready_fd = daemon_detach();
		log_to_syslog(1);
		gw.syslog = 1;
	}
	raise_nofile();

	gw.loop = EV_DEFAULT;
	gw.started = timestamp_mono();
	gw.development = strcmp(config_str(&gw.cfg, CFG_NODE_ENV),
	    "development") == 0;
	gateway_api_opts(&gw.cfg, &ao);
	gw.api = coupapi_new(gw.loop, &ao);
	rooms_init(&gw);
	cluster_start(&gw);
	webhooks_start(&gw);
	eo.ping_interval_ms = (int)config_int(&gw.cfg, CFG_PING_INTERVAL_MS);
	eo.ping_timeout_ms = (int)config_int(&gw.cfg, CFG_PING_TIMEOUT_MS);
	eo.max_payload = (size_t)config_int(&gw.cfg, CFG_MAX_PAYLOAD);
	eo.send_queue_max = (size_t)config_int(&gw.cfg, CFG_SEND_QUEUE_MAX);
	eo.max_sessions = (unsigned)config_int(&gw.cfg, CFG_MAX_CONNECTIONS);
	/* Cookies are kept from a handshake only to authenticate by them. */
	eo.cookie_names = strcmp(config_str(&gw.cfg, CFG_AUTH_SOURCE),
	    "verify") != 0 ? config_str(&gw.cfg, CFG_AUTH_COOKIE_NAMES) : NULL;
	so.connect_timeout_ms = (int)config_int(&gw.cfg,
	    CFG_CONNECT_TIMEOUT_MS);
	so.connect_rate = (double)config_int(&gw.cfg, CFG_RATE_LIMIT_CONNECTS);
	so.recovery_window_ms = (int)config_int(&gw.cfg,
	    CFG_RECOVERY_WINDOW_MS);
	so.recovery_buffer_bytes = (size_t)config_int(&gw.cfg,
	    CFG_RECOVERY_BUFFER_BYTES);
	gw.sio = sio_server_new(gw.loop, &eo, &so);

	ho.host = config_str(&gw.cfg, CFG_HOST);
	ho.port = (int)config_int(&gw.cfg, CFG_PORT);
	ho.request_timeout_ms = (int)config_int(&gw.cfg, CFG_HTTP_TIMEOUT_MS);
	ho.engine_path = "/socket.io/";
	ho.max_body = eo.max_payload;
	ho.allowed_origins = config_str(&gw.cfg, CFG_ALLOWED_ORIGINS);
	ho.allow_same_origin = demo_enabled(&gw);
	gw.httpd = httpd_new(gw.loop, &ho, eio_server_transport(),
	    sio_server_engine(gw.sio));
	if (gw.httpd == NULL)
		fatalx("cannot start the HTTP server");
	endpoints_register(&gw);
	demo_register(&gw);
	namespace_register(&gw);
	events_init(&gw);

	/* The rest of root's work now that the port is bound (httpd_new):
	 * a second gateway on that port stopped there, before it could
	 * touch the files of the one that serves.  Then become RUN_USER
	 * for good. */
	if (gw.pid_file.path != NULL && runfile_write_pid(&gw.pid_file) < 0)
		fatalx("not running without the pid file %s",
		    gw.pid_file.path);
	control_start(&gw);
	if (*user != '\0')
		daemon_drop_privileges(user, uid, gid);

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
	daemon_ready(ready_fd);
	ev_run(gw.loop, 0);

	log_info("stopped");
	peers_stop(&gw);
	control_stop(&gw);
	runfile_close(&gw.pid_file);
	if (gw.run_dir >= 0)
		close(gw.run_dir);
	httpd_free(gw.httpd);
	demo_free();
	sio_server_free(gw.sio);
	rooms_shutdown(&gw);
	webhooks_stop();
	coupapi_free(gw.api);
	turn_free();
	config_free(&gw.cfg);
	return 0;
}
