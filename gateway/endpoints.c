/*
 * endpoints.c - the gateway's plain HTTP endpoints (contract section 7).
 *
 * GET /health answers as the Node.js server did.  GET /metrics gives the
 * same JSON shape, with memory split into the gateway and the room
 * processes; with "Accept: text/plain" (or at /metrics/prometheus) the
 * same figures come in the Prometheus text format.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/coupapi.h"
#include "endpoints.h"
#include "figures.h"
#include "gateway.h"
#include "httpd.h"
#include "peers.h"
#include "rooms.h"
#include "sio_server.h"
#include "webhooks.h"
#include "timestamp.h"

/* Seconds since start, to the millisecond, like process.uptime(). */
static double
uptime(const struct gateway *gw)
{
	return (double)(long long)((timestamp_mono() - gw->started) * 1000) /
	    1000;
}

static void
respond_json(struct httpd_req *req, cJSON *obj)
{
	char *text = cJSON_PrintUnformatted(obj);

	httpd_respond(req, 200, "application/json; charset=utf-8", text,
	    strlen(text));
	cJSON_free(text);
	cJSON_Delete(obj);
}

static void
health(struct httpd_req *req, void *arg)
{
	struct gateway *gw = arg;
	cJSON *o = cJSON_CreateObject();
	char ts[TIMESTAMP_ISO_LEN];

	timestamp_iso(ts);
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddNumberToObject(o, "connections",
	    sio_server_connections(gw->sio));
	cJSON_AddNumberToObject(o, "uptime", uptime(gw));
	cJSON_AddStringToObject(o, "timestamp", ts);
	respond_json(req, o);
}

/* One Prometheus sample with its HELP and TYPE lines. */
static void
prom(struct buf *b, const char *name, const char *type, const char *help,
    double value)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help,
	    name, type, name, value);
}

/* Connection state recovery (RECOVERY_WINDOW_MS). */
static void
recovery_prometheus(struct buf *b, const struct sio_recovery_stats *r)
{
	prom(b, "coup_sessions_held", "gauge", "Sessions whose connection "
	    "was lost, kept for their client to come back.", r->held);
	prom(b, "coup_sessions_recovered_total", "counter", "Sessions a "
	    "reconnecting client got back.", (double)r->recovered);
	prom(b, "coup_sessions_expired_total", "counter", "Held sessions "
	    "whose client did not come back in time.", (double)r->expired);
	buf_printf(b, "# HELP coup_sessions_refused_total Reconnections "
	    "that asked for a session and got a new one.\n"
	    "# TYPE coup_sessions_refused_total counter\n"
	    "coup_sessions_refused_total{reason=\"unknown\"} %llu\n"
	    "coup_sessions_refused_total{reason=\"user\"} %llu\n"
	    "coup_sessions_refused_total{reason=\"offset\"} %llu\n"
	    "coup_sessions_refused_total{reason=\"overflow\"} %llu\n",
	    r->refused_unknown, r->refused_user, r->refused_offset,
	    r->overflowed);
}

static cJSON *
recovery_json(const struct sio_recovery_stats *r)
{
	cJSON *o = cJSON_CreateObject(), *refused;

	cJSON_AddNumberToObject(o, "held", r->held);
	cJSON_AddNumberToObject(o, "recovered", (double)r->recovered);
	cJSON_AddNumberToObject(o, "expired", (double)r->expired);
	refused = cJSON_AddObjectToObject(o, "refused");
	cJSON_AddNumberToObject(refused, "unknown", (double)r->refused_unknown);
	cJSON_AddNumberToObject(refused, "user", (double)r->refused_user);
	cJSON_AddNumberToObject(refused, "offset", (double)r->refused_offset);
	cJSON_AddNumberToObject(refused, "overflow", (double)r->overflowed);
	return o;
}

static void
metrics_prometheus(struct httpd_req *req, struct gateway *gw)
{
	const struct coupapi_stats *as = coupapi_stats(gw->api);
	const struct webhook_stats *ws;
	struct supervisor_stats st;
	struct buf b = BUF_INIT;
	long long rss = figures_self_rss(ev_now(gw->loop));

	supervisor_stats(gw->supervisor, &st);
	prom(&b, "coup_connections", "gauge", "Connected Socket.IO sockets.",
	    sio_server_connections(gw->sio));
	prom(&b, "coup_engine_sessions", "gauge", "Open Engine.IO sessions.",
	    eio_server_count(sio_server_engine(gw->sio)));
	prom(&b, "coup_rooms", "gauge", "Live rooms.", rooms_count(gw));
	prom(&b, "coup_room_processes", "gauge", "Running coup-roomd "
	    "processes serving a room.", st.processes);
	prom(&b, "coup_room_spare_processes", "gauge", "coup-roomd processes "
	    "started ahead of need (ROOM_SPARES).", st.spares);
	prom(&b, "coup_room_spare_processes_ready", "gauge", "Spare coup-roomd "
	    "processes ready to take a room.", st.spares_ready);
	buf_printf(&b, "# HELP coup_memory_rss_bytes Resident memory.\n"
	    "# TYPE coup_memory_rss_bytes gauge\n"
	    "coup_memory_rss_bytes{process=\"gateway\"} %lld\n"
	    "coup_memory_rss_bytes{process=\"rooms\"} %lld\n"
	    "coup_memory_rss_bytes{process=\"spares\"} %lld\n", rss,
	    st.rss_bytes, st.spare_rss_bytes);
	prom(&b, "coup_events_total", "counter", "Events received from "
	    "clients.", (double)gw->stats.events);
	prom(&b, "coup_events_ignored_total", "counter", "Events with unknown "
	    "names.", (double)gw->stats.events_ignored);
	prom(&b, "coup_errors_total", "counter", "Error replies sent to "
	    "clients.", (double)gw->stats.errors);
	prom(&b, "coup_rate_limited_total", "counter", "Events refused by the "
	    "rate limit.", (double)gw->stats.rate_limited);
	prom(&b, "coup_connects_total", "counter", "Accepted Socket.IO "
	    "connects.", (double)gw->stats.connects);
	prom(&b, "coup_connects_refused_total", "counter", "Refused Socket.IO "
	    "connects.", (double)gw->stats.connects_refused);
	prom(&b, "coup_auth_calls_total", "counter", "Verify calls made to the "
	    "CoUp API.", (double)as->auth_calls);
	prom(&b, "coup_auth_cache_hits_total", "counter", "Verifications "
	    "answered from the cache.", (double)as->auth_cache_hits);
	prom(&b, "coup_auth_failures_total", "counter", "Verify calls that "
	    "got no usable answer.", (double)as->auth_failures);
	buf_printf(&b, "# HELP coup_auth_latency_seconds Time of verify "
	    "calls.\n# TYPE coup_auth_latency_seconds summary\n"
	    "coup_auth_latency_seconds_sum %.6f\n"
	    "coup_auth_latency_seconds_count %llu\n", as->auth_latency_sum,
	    as->auth_latency_count);
	prom(&b, "coup_member_calls_total", "counter", "Membership checks made "
	    "to the CoUp API.", (double)as->member_calls);
	prom(&b, "coup_room_process_starts_total", "counter", "Room processes "
	    "started.", (double)st.started);
	prom(&b, "coup_room_spares_used_total", "counter", "Rooms that took "
	    "a spare process instead of starting one.",
	    (double)st.spares_used);
	prom(&b, "coup_room_process_restarts_total", "counter", "Room "
	    "processes restarted after dying.", (double)st.restarts);
	prom(&b, "coup_room_process_kills_total", "counter", "Room processes "
	    "killed for misbehaving.", (double)st.killed);
	prom(&b, "coup_room_messages_dropped_total", "counter", "Messages "
	    "dropped because room processes died on them, twice.",
	    (double)st.poisoned);
	prom(&b, "coup_room_process_start_seconds_last", "gauge", "Fork to "
	    "HELLO of the latest room process.", st.start_ms_last / 1000);
	prom(&b, "coup_room_process_start_seconds_max", "gauge", "Slowest "
	    "fork to HELLO of a room process.", st.start_ms_max / 1000);
	prom(&b, "coup_uptime_seconds", "gauge", "Seconds since start.",
	    uptime(gw));
	recovery_prometheus(&b, sio_server_recovery_stats(gw->sio));
	if ((ws = webhooks_stats()) != NULL) {
		prom(&b, "coup_webhooks_total", "counter", "Webhooks made.",
		    (double)ws->queued);
		prom(&b, "coup_webhooks_sent_total", "counter", "Webhooks the "
		    "app took (2xx).", (double)ws->sent);
		prom(&b, "coup_webhooks_failures_total", "counter", "Webhook "
		    "attempts the app did not take (tried again).",
		    (double)ws->failures);
		prom(&b, "coup_webhooks_dropped_total", "counter", "Webhooks "
		    "dropped, oldest first, WEBHOOK_QUEUE_MAX waiting.",
		    (double)ws->dropped);
		prom(&b, "coup_webhooks_waiting", "gauge", "Webhooks waiting "
		    "to be sent.", (double)webhooks_waiting());
	}
	peers_prometheus(gw, &b);
	httpd_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    b.data, b.len);
	buf_free(&b);
}

static void
add_room_detail(struct room *r, void *arg)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "name", r->name);
	cJSON_AddNumberToObject(d, "participants", r->count);
	if (peers_active(r->gw))
		cJSON_AddNumberToObject(d, "remoteParticipants",
		    peers_remote_count(r->gw, r->name));
	cJSON_AddItemToArray(arg, d);
}

static void
metrics(struct httpd_req *req, void *arg)
{
	struct gateway *gw = arg;
	struct supervisor_stats st;
	const struct webhook_stats *ws;
	cJSON *o, *mem, *g, *r, *details;
	long long rss;

	if ((req->accept != NULL &&
	    strncmp(req->accept, "text/plain", 10) == 0) ||
	    strcmp(req->path, "/metrics/prometheus") == 0) {
		metrics_prometheus(req, gw);
		return;
	}
	rss = figures_self_rss(ev_now(gw->loop));
	supervisor_stats(gw->supervisor, &st);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "connections",
	    sio_server_connections(gw->sio));
	cJSON_AddNumberToObject(o, "rooms", rooms_count(gw));
	details = cJSON_AddArrayToObject(o, "roomDetails");
	rooms_foreach(gw, add_room_detail, details);
	mem = cJSON_AddObjectToObject(o, "memory");
	cJSON_AddNumberToObject(mem, "rss", (double)(rss + st.rss_bytes +
	    st.spare_rss_bytes));
	g = cJSON_AddObjectToObject(mem, "gateway");
	cJSON_AddNumberToObject(g, "rss", (double)rss);
	r = cJSON_AddObjectToObject(mem, "rooms");
	cJSON_AddNumberToObject(r, "rss", (double)st.rss_bytes);
	cJSON_AddNumberToObject(r, "processes", st.processes);
	r = cJSON_AddObjectToObject(mem, "spares");
	cJSON_AddNumberToObject(r, "rss", (double)st.spare_rss_bytes);
	cJSON_AddNumberToObject(r, "processes", st.spares);
	cJSON_AddNumberToObject(r, "ready", st.spares_ready);
	cJSON_AddNumberToObject(o, "uptime", uptime(gw));
	cJSON_AddItemToObject(o, "recovery",
	    recovery_json(sio_server_recovery_stats(gw->sio)));
	if ((ws = webhooks_stats()) != NULL) {
		cJSON *w = cJSON_AddObjectToObject(o, "webhooks");

		cJSON_AddNumberToObject(w, "queued", (double)ws->queued);
		cJSON_AddNumberToObject(w, "sent", (double)ws->sent);
		cJSON_AddNumberToObject(w, "failures", (double)ws->failures);
		cJSON_AddNumberToObject(w, "dropped", (double)ws->dropped);
		cJSON_AddNumberToObject(w, "waiting",
		    (double)webhooks_waiting());
	}
	if ((g = peers_status(gw)) != NULL)
		cJSON_AddItemToObject(o, "cluster", g);
	respond_json(req, o);
}

void
endpoints_register(struct gateway *gw)
{
	httpd_route(gw->httpd, "/health", health, gw);
	httpd_route(gw->httpd, "/metrics", metrics, gw);
	httpd_route(gw->httpd, "/metrics/prometheus", metrics, gw);
}
