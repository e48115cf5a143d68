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

#include "gateway.h"
#include "httpd.h"
#include "rooms.h"
#include "sio_server.h"
#include "timestamp.h"

/* Resident set size of this process, from /proc. */
static long long
self_rss_bytes(void)
{
	long long pages = 0, resident = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%lld %lld", &pages, &resident) != 2)
		resident = 0;
	fclose(fp);
	return resident * sysconf(_SC_PAGESIZE);
}

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

static void
metrics_prometheus(struct httpd_req *req, struct gateway *gw)
{
	char body[2048];
	long long rss = self_rss_bytes();
	int n = snprintf(body, sizeof(body),
	    "# HELP coup_connections Connected Socket.IO sockets.\n"
	    "# TYPE coup_connections gauge\n"
	    "coup_connections %u\n"
	    "# HELP coup_engine_sessions Open Engine.IO sessions.\n"
	    "# TYPE coup_engine_sessions gauge\n"
	    "coup_engine_sessions %u\n"
	    "# HELP coup_rooms Live rooms.\n"
	    "# TYPE coup_rooms gauge\n"
	    "coup_rooms 0\n"
	    "# HELP coup_memory_rss_bytes Resident memory.\n"
	    "# TYPE coup_memory_rss_bytes gauge\n"
	    "coup_memory_rss_bytes{process=\"gateway\"} %lld\n"
	    "coup_memory_rss_bytes{process=\"rooms\"} 0\n"
	    "# HELP coup_events_total Events received from clients.\n"
	    "# TYPE coup_events_total counter\n"
	    "coup_events_total %llu\n"
	    "# HELP coup_events_ignored_total Events with unknown names.\n"
	    "# TYPE coup_events_ignored_total counter\n"
	    "coup_events_ignored_total %llu\n"
	    "# HELP coup_connects_total Accepted Socket.IO connects.\n"
	    "# TYPE coup_connects_total counter\n"
	    "coup_connects_total %llu\n"
	    "# HELP coup_connects_refused_total Refused Socket.IO connects.\n"
	    "# TYPE coup_connects_refused_total counter\n"
	    "coup_connects_refused_total %llu\n"
	    "# HELP coup_uptime_seconds Seconds since start.\n"
	    "# TYPE coup_uptime_seconds gauge\n"
	    "coup_uptime_seconds %.3f\n",
	    sio_server_connections(gw->sio),
	    eio_server_count(sio_server_engine(gw->sio)), rss,
	    gw->stats.events, gw->stats.events_ignored, gw->stats.connects,
	    gw->stats.connects_refused, uptime(gw));

	httpd_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    body, (size_t)n);
}

static void
add_room_detail(struct room *r, void *arg)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "name", r->name);
	cJSON_AddNumberToObject(d, "participants", r->count);
	cJSON_AddItemToArray(arg, d);
}

static void
metrics(struct httpd_req *req, void *arg)
{
	struct gateway *gw = arg;
	struct supervisor_stats st;
	cJSON *o, *mem, *g, *r, *details;
	long long rss;

	if (strncmp(req->accept, "text/plain", 10) == 0 ||
	    strcmp(req->path, "/metrics/prometheus") == 0) {
		metrics_prometheus(req, gw);
		return;
	}
	rss = self_rss_bytes();
	supervisor_stats(gw->rooms, &st);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "connections",
	    sio_server_connections(gw->sio));
	cJSON_AddNumberToObject(o, "rooms", rooms_count(gw));
	details = cJSON_AddArrayToObject(o, "roomDetails");
	rooms_foreach(gw, add_room_detail, details);
	mem = cJSON_AddObjectToObject(o, "memory");
	cJSON_AddNumberToObject(mem, "rss", (double)(rss + st.rss_bytes));
	g = cJSON_AddObjectToObject(mem, "gateway");
	cJSON_AddNumberToObject(g, "rss", (double)rss);
	r = cJSON_AddObjectToObject(mem, "rooms");
	cJSON_AddNumberToObject(r, "rss", (double)st.rss_bytes);
	cJSON_AddNumberToObject(r, "processes", st.processes);
	cJSON_AddNumberToObject(o, "uptime", uptime(gw));
	respond_json(req, o);
}

void
endpoints_register(struct gateway *gw)
{
	httpd_route(gw->httpd, "/health", health, gw);
	httpd_route(gw->httpd, "/metrics", metrics, gw);
	httpd_route(gw->httpd, "/metrics/prometheus", metrics, gw);
}
