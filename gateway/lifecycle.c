/*
 * lifecycle.c - what can be asked of the whole gateway once it runs: a
 * reload of the configuration (SIGHUP, coupctl reload) and a drain
 * (SIGTERM, coupctl drain).  Called by main.c's signal handlers and by
 * control.c, so that neither calls the other.
 */
#include <string.h>

#include "api/coupapi.h"
#include "config.h"
#include "eio_server.h"
#include "gateway.h"
#include "httpd.h"
#include "lifecycle.h"
#include "log.h"
#include "peers.h"
#include "rooms.h"
#include "sio_server.h"
#include "spares.h"
#include "supervisor.h"

void
gateway_api_opts(const struct config *cfg, struct coupapi_opts *ao)
{
	ao->base_url = config_str(cfg, CFG_NEXTJS_URL);
	ao->timeout_ms = (int)config_int(cfg, CFG_AUTH_TIMEOUT_MS);
	ao->auth_cache_ttl = (int)config_int(cfg, CFG_AUTH_CACHE_TTL);
	ao->member_cache_ttl = (int)config_int(cfg, CFG_MEMBER_CACHE_TTL);
}

int
gateway_reload(struct gateway *gw, cJSON *changed, cJSON *restart,
    char *err, size_t errlen)
{
	struct config fresh;
	struct config_cli cli;
	struct coupapi_opts ao;

	if (config_load(&fresh, gw->argc, gw->argv, &cli, err, errlen) < 0) {
		log_warnx("reload: configuration not reloaded: %s", err);
		config_free(&fresh);
		return -1;
	}
	for (int k = 0; k < CFG__COUNT; k++) {
		const char *a = config_str(&gw->cfg, k);
		const char *b = config_str(&fresh, k);
		const char *name = config_defs[k].name;

		if ((a == NULL) == (b == NULL) && (a == NULL ||
		    strcmp(a, b) == 0))
			continue;
		if (!config_defs[k].reloadable) {
			log_warnx("reload: %s changed but needs a restart",
			    name);
			if (restart != NULL)
				cJSON_AddItemToArray(restart,
				    cJSON_CreateString(name));
			continue;
		}
		log_info("reload: %s is now %s", name, b ? b : "(unset)");
		config_set(&gw->cfg, k, b, fresh.v[k].src, err, errlen);
		if (changed != NULL)
			cJSON_AddItemToArray(changed, cJSON_CreateString(name));
	}
	config_free(&fresh);
	log_set_level(log_level_from_name(config_str(&gw->cfg, CFG_LOG_LEVEL)));
	supervisor_set_log_level(gw->supervisor, log_level_current);
	httpd_set_origins(gw->httpd, config_str(&gw->cfg, CFG_ALLOWED_ORIGINS));
	supervisor_set_spares(gw->supervisor, gw->draining ? 0 :
	    (unsigned)config_int(&gw->cfg, CFG_ROOM_SPARES));
	gateway_api_opts(&gw->cfg, &ao);
	coupapi_set_opts(gw->api, &ao);
	return 0;
}

/* Every client gone and every room process exited: done. */
static void
drain_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gateway *gw = w->data;
	struct supervisor_stats st;

	supervisor_stats(gw->supervisor, &st);
	if (eio_server_count(sio_server_engine(gw->sio)) == 0 &&
	    sio_server_recovery_stats(gw->sio)->held == 0 &&
	    st.processes == 0 && st.spares == 0) {
		log_info("drained");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (ev_now(loop) - gw->started_drain >= gw->drain_secs) {
		log_warnx("drain: %u sessions (%u of them held) and %u room "
		    "processes left after %.1f s; stopping anyway",
		    eio_server_count(sio_server_engine(gw->sio)) +
		    sio_server_recovery_stats(gw->sio)->held,
		    sio_server_recovery_stats(gw->sio)->held,
		    st.processes + st.spares,
		    gw->drain_secs);
		ev_break(loop, EVBREAK_ALL);
	}
}

void
gateway_drain(struct gateway *gw, const char *why)
{
	struct eio_server *eio = sio_server_engine(gw->sio);

	if (gw->draining) {
		ev_break(gw->loop, EVBREAK_ALL);	/* asked twice: now */
		return;
	}
	gw->draining = 1;
	gw->drain_secs = config_int(&gw->cfg, CFG_DRAIN_TIMEOUT_MS) / 1000.0;
	gw->started_drain = ev_now(gw->loop);
	log_info("%s: draining: refusing new clients, closing %u sessions, "
	    "at most %.1f s", why, eio_server_count(eio), gw->drain_secs);
	eio_server_refuse_new(eio, 1);
	/* The rooms empty now: no idle grace for their processes. */
	config_set(&gw->cfg, CFG_ROOM_IDLE_TIMEOUT, "0", CONFIG_SRC_DEFAULT,
	    NULL, 0);
	/* An Engine.IO close: socket.io clients see "transport close" and
	 * reconnect, to another gateway behind the load balancer.  With
	 * peers and recovery on, that gateway takes each session over: they
	 * are held here until it has (the drain waits for that, up to its
	 * timeout), so a drain is a rolling restart nobody in a call sees.
	 * Alone, a session held here could never come back: those leave
	 * now, as disconnects. */
	if (peers_active(gw) && config_int(&gw->cfg,
	    CFG_RECOVERY_WINDOW_MS) > 0)
		eio_server_lose_all(eio, "server draining");
	else {
		eio_server_close_all(eio, "server draining");
		sio_drop_held(gw->sio, "server shutting down");
	}
	rooms_retire_empty(gw);
	supervisor_set_spares(gw->supervisor, 0);	/* none while draining */
	ev_timer_init(&gw->drain_timer, drain_check, 0.05, 0.05);
	gw->drain_timer.data = gw;
	ev_timer_start(gw->loop, &gw->drain_timer);
}
