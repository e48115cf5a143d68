/*
 * conformance_server.c - a server built on the protocol layer alone, set up
 * the way the public Engine.IO and Socket.IO conformance suites expect, and
 * used by our own end-to-end tests.
 *
 * Default: Socket.IO on /socket.io/ with namespaces "/" and "/custom".
 *   connect:  emits "auth" with the CONNECT payload; auth.refuse (string)
 *             refuses with that message; auth.delayMs answers later (the
 *             asynchronous path authentication takes in the gateway).
 *   events:   "message" -> "message-back" with the same arguments;
 *             "message-with-ack" -> ack with the same arguments;
 *             "broadcast" -> "broadcast" to every socket of the namespace;
 *             "request-ack" -> emits "ack-request" with an ack id, and
 *             "ack-response" with whatever the client answers;
 *             "disconnect-me" -> server-side disconnect.
 * --engineio: Engine.IO echo on /engine.io/.
 *
 * Configuration as for coup-gateway (KEY=VALUE, long options, environment).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "eio_server.h"
#include "httpd.h"
#include "log.h"
#include "sio_server.h"

/* ---------------------------------------------------------------- Engine.IO */

static void
echo_message(void *arg, struct eio_session *se, const uint8_t *data,
    size_t len, int binary)
{
	struct eio_msg *m = eio_msg_new(binary, len);

	memcpy(eio_msg_payload(m), data, len);
	eio_send(se, m);
	eio_msg_unref(m);
}

/* ---------------------------------------------------------------- Socket.IO */

/* Per socket: the CONNECT payload and, when the answer is delayed, the
 * timer that gives it. */
struct sock_state {
	struct sio_socket	*sock;
	cJSON			*auth;
	char			*refuse;
	ev_timer		 timer;
};

/*
 * The public Socket.IO suite reads the CONNECT answer and then awaits the
 * "auth" event; its WebSocket client (ws 8.5) emits every frame of one TCP
 * read synchronously, so a frame that arrives in the same read as the one
 * awaited is lost to the test.  The reference server's write path happens
 * to leave a gap between the two; we leave one on purpose.
 */
#define AUTH_EMIT_DELAY	0.005

static struct ev_loop *loop;

static void
emit_auth(struct ev_loop *l, ev_timer *w, int revents)
{
	struct sock_state *st = w->data;

	sio_emit(st->sock, "auth", st->auth, NULL);
}

static void
connect_answer(struct sock_state *st)
{
	struct sio_socket *s = st->sock;

	if (st->refuse != NULL) {
		sio_refuse_message(s, st->refuse);	/* frees st */
		return;
	}
	sio_accept(s);
	ev_timer_stop(loop, &st->timer);
	ev_timer_init(&st->timer, emit_auth, AUTH_EMIT_DELAY, 0.);
	st->timer.data = st;
	ev_timer_start(loop, &st->timer);
}

static void
delayed_connect(struct ev_loop *l, ev_timer *w, int revents)
{
	connect_answer(w->data);
}

static void
on_connect(struct sio_socket *s, const cJSON *auth, void *arg)
{
	const cJSON *refuse = cJSON_GetObjectItemCaseSensitive(auth, "refuse");
	const cJSON *delay = cJSON_GetObjectItemCaseSensitive(auth, "delayMs");
	struct sock_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		fatal("calloc");
	st->sock = s;
	st->auth = auth ? cJSON_Duplicate(auth, 1) : cJSON_CreateObject();
	if (cJSON_IsString(refuse) &&
	    (st->refuse = strdup(refuse->valuestring)) == NULL)
		fatal("strdup");
	ev_timer_init(&st->timer, delayed_connect, 0., 0.);
	st->timer.data = st;
	sio_socket_set_data(s, st);
	if (cJSON_IsNumber(delay) && delay->valuedouble > 0 &&
	    delay->valuedouble <= 10000) {
		ev_timer_set(&st->timer, delay->valuedouble / 1000.0, 0.);
		ev_timer_start(loop, &st->timer);
		return;
	}
	connect_answer(st);
}

static void
broadcast_one(struct sio_socket *s, void *arg)
{
	sio_send(s, arg);
}

static void
on_ack_response(struct sio_socket *s, cJSON *args,
    const struct sio_bins *bins, void *arg)
{
	if (args != NULL)
		sio_emit(s, "ack-response", args, bins);
}

static void
on_event(struct sio_socket *s, const struct sio_event *ev, void *arg)
{
	const char *name = ev->name;
	cJSON *args = ev->args;
	const struct sio_bins *bins = ev->bins;

	if (strcmp(name, "message") == 0)
		sio_emit(s, "message-back", args, bins);
	else if (strcmp(name, "message-with-ack") == 0 && ev->ack_id >= 0)
		sio_ack(s, ev->ack_id, args, bins);
	else if (strcmp(name, "broadcast") == 0) {
		struct sio_out *o = sio_out_event(sio_socket_nsp(s),
		    "broadcast", args, bins, -1);

		sio_nsp_foreach(sio_socket_nsp(s), broadcast_one, o);
		sio_out_free(o);
	} else if (strcmp(name, "request-ack") == 0)
		sio_emit_with_ack(s, "ack-request", args, bins,
		    on_ack_response, NULL);
	else if (strcmp(name, "disconnect-me") == 0)
		sio_disconnect(s);
}

static void
on_disconnect(struct sio_socket *s, const char *reason, void *arg)
{
	struct sock_state *st = sio_socket_data(s);

	if (st == NULL)
		return;
	ev_timer_stop(loop, &st->timer);
	cJSON_Delete(st->auth);
	free(st->refuse);
	free(st);
	sio_socket_set_data(s, NULL);
}

/* ---------------------------------------------------------------- main */

static void
on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	static const struct eio_callbacks echo = {
		NULL, echo_message, NULL, NULL,
	};
	static const struct sio_nsp_ops ops = {
		on_connect, on_event, on_disconnect,
	};
	struct config cfg;
	struct config_cli cli;
	struct eio_opts eo;
	struct httpd_opts ho;
	struct eio_server *eio;
	struct sio_server *sio = NULL;
	struct httpd *h;
	ev_signal sigint, sigterm;
	char err[512];
	int engineio = 0, n = 1;

	/* --engineio is ours; everything else is configuration. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--engineio") == 0)
			engineio = 1;
		else
			argv[n++] = argv[i];
	argc = n;

	log_init("conformance", LOG_LEVEL_INFO);
	if (config_load(&cfg, argc, argv, &cli, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_set_level(log_level_from_name(config_str(&cfg, CFG_LOG_LEVEL)));

	loop = EV_DEFAULT;
	eo.ping_interval_ms = (int)config_int(&cfg, CFG_PING_INTERVAL_MS);
	eo.ping_timeout_ms = (int)config_int(&cfg, CFG_PING_TIMEOUT_MS);
	eo.max_payload = (size_t)config_int(&cfg, CFG_MAX_PAYLOAD);
	eo.send_queue_max = (size_t)config_int(&cfg, CFG_SEND_QUEUE_MAX);
	eo.max_sessions = (unsigned)config_int(&cfg, CFG_MAX_CONNECTIONS);
	eo.cookie_names = NULL;
	if (engineio)
		eio = eio_server_new(loop, &eo, &echo, NULL);
	else {
		struct sio_opts so = {
			(int)config_int(&cfg, CFG_CONNECT_TIMEOUT_MS),
			(double)config_int(&cfg, CFG_RATE_LIMIT_CONNECTS),
			(int)config_int(&cfg, CFG_RECOVERY_WINDOW_MS),
			(size_t)config_int(&cfg, CFG_RECOVERY_BUFFER_BYTES),
		};

		sio = sio_server_new(loop, &eo, &so);
		eio = sio_server_engine(sio);
		sio_namespace(sio, "/", &ops, NULL);
		sio_namespace(sio, "/custom", &ops, NULL);
	}

	ho.host = config_str(&cfg, CFG_HOST);
	ho.port = (int)config_int(&cfg, CFG_PORT);
	ho.request_timeout_ms = (int)config_int(&cfg, CFG_HTTP_TIMEOUT_MS);
	ho.engine_path = engineio ? "/engine.io/" : "/socket.io/";
	ho.max_body = eo.max_payload;
	ho.allowed_origins = config_str(&cfg, CFG_ALLOWED_ORIGINS);
	ho.allow_same_origin = 0;
	if ((h = httpd_new(loop, &ho, eio_server_transport(), eio)) == NULL)
		fatalx("cannot listen");

	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	log_info("listening on %s:%d (%s)", ho.host && *ho.host ? ho.host :
	    "*", ho.port, engineio ? "Engine.IO echo" : "Socket.IO");
	ev_run(loop, 0);

	httpd_free(h);
	if (sio != NULL)
		sio_server_free(sio);
	else
		eio_server_free(eio);
	config_free(&cfg);
	return 0;
}
