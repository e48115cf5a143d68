/*
 * scenarios.c - the five coup-bench scenarios: connect, idle, fanout,
 * relay, churn.
 *
 * Each is written as a sequence of phases (connect the clients, join the
 * rooms, send for a while, drain), each phase running the loop until its
 * work is done or its bound passes (run_until). Sending is paced by a 1 ms
 * ev_timer that tops the number sent up to rate x elapsed, round-robin
 * over the senders, so the rate holds even when a tick comes late.
 * Latency is measured inside this one process: a message carries its
 * CLOCK_MONOTONIC send time in ns, the receiver subtracts it from now.
 */
#include "bench.h"
#include "procstat.h"
#include "sioclient.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

/* Per-client scenario state, indexed like the clients. */
struct member {
	int		 room;		/* fanout, relay: room number */
	int		 peer;		/* relay: the other client's index */
	int		 joining;	/* a join is in flight */
	int		 joined;
	long		 join_ack;
	uint64_t	 join_sent;	/* ns */
	long long	 churn_room;	/* churn: current room, or -1 */
};

static struct sioc *cl;
static struct member *mem;
static int ncl;

/* Connection phase. */
static int target, started, in_flight, n_ready, n_failed, n_refused, n_lost;
static uint64_t t_first_start, t_last_ready;
static char first_failure[160];
static ev_check starter;
static struct hist h_connect;

/* Room phases. */
static int joins_pending, joins_done, joins_failed;
static struct hist h_join;
static char first_error[200];
static uint64_t n_errors, n_rate_limited;

/* Measured traffic. */
static int measuring;
static struct hist h_lat;
static uint64_t deliveries, delivered_in_window, sent, t_last_delivery;

static double gen_cpu_percent;	/* this process, over the last traffic() */
static const char *scenario_name;
static char room_prefix[48];	/* differs per run: rooms are always new */

/* ------------------------------------------------------------- helpers */

static const char *
room_id(char *buf, size_t n, long long r)
{
	snprintf(buf, n, "%s-%lld", room_prefix, r);
	return buf;
}

/* Parses the decimal ns after `key` in json; 0 when absent. */
static uint64_t
stamp_after(const char *json, size_t len, const char *key)
{
	const char *p = memmem(json, len, key, strlen(key));
	uint64_t v = 0;

	if (p == NULL)
		return 0;
	p += strlen(key);
	if (*p == '"')
		p++;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

static int
event_is(const char *json, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n + 3 && json[0] == '[' && json[1] == '"' &&
	    memcmp(json + 2, name, n) == 0 && json[n + 2] == '"';
}

static void
latency_sample(uint64_t sent_ns)
{
	uint64_t now = now_ns();

	deliveries++;
	t_last_delivery = now;
	if (sent_ns == 0 || sent_ns > now)
		return;
	if (measuring) {
		delivered_in_window++;
		hist_add(&h_lat, now - sent_ns);
	}
}

static void
join_finished(struct sioc *c, int ok)
{
	struct member *m = &mem[c->idx];

	if (!m->joining)
		return;
	m->joining = 0;
	joins_pending--;
	if (ok) {
		m->joined = 1;
		joins_done++;
		hist_add(&h_join, now_ns() - m->join_sent);
	} else
		joins_failed++;
}

/* -------------------------------------------------------- client events */

static void
on_ready(struct sioc *c)
{
	n_ready++;
	in_flight--;
	t_last_ready = now_ns();
	hist_add(&h_connect, c->t_ready - c->t_start);
}

static void
on_refused(struct sioc *c, const char *json, size_t len)
{
	n_refused++;
	if (first_failure[0] == '\0')
		snprintf(first_failure, sizeof(first_failure),
		    "client %d refused: %.*s", c->idx, (int)(len > 120 ? 120 :
		    len), json);
}

static void
on_closed(struct sioc *c, const char *why)
{
	if (c->was_ready) {
		n_lost++;
		if (mem[c->idx].joining)
			join_finished(c, 0);
		return;
	}
	n_failed++;
	in_flight--;
	if (first_failure[0] == '\0')
		snprintf(first_failure, sizeof(first_failure), "client %d: %s",
		    c->idx, why ? why : "closed");
}

static void
on_event(struct sioc *c, const char *json, size_t len)
{
	if (event_is(json, len, "chat:video-message-received"))
		latency_sample(stamp_after(json, len, "\"message\":\""));
	else if (event_is(json, len, "video:ice-candidate"))
		latency_sample(stamp_after(json, len, "\"t\":"));
	else if (event_is(json, len, "video:room-state"))
		/* The Node server has no acks: its answer to a join is
		 * room-state; ours sends room-state, then the ack. */
		join_finished(c, 1);
	else if (event_is(json, len, "error")) {
		n_errors++;
		if (memmem(json, len, "RATE_LIMITED", 12))
			n_rate_limited++;
		if (first_error[0] == '\0')
			snprintf(first_error, sizeof(first_error), "%.*s",
			    (int)(len > 180 ? 180 : len), json);
		if (mem[c->idx].joining)
			join_finished(c, 0);
	}
}

static void
on_ack(struct sioc *c, long id, const char *json, size_t len)
{
	struct member *m = &mem[c->idx];

	if (m->joining && id == m->join_ack)
		join_finished(c, memmem(json, len, "\"ok\":false", 10) == NULL);
}

static const struct sioc_ops ops = {
	on_ready, on_refused, on_event, on_ack, on_closed
};

/* ------------------------------------------------------ phase: connect */

static void
starter_cb(struct ev_loop *l, ev_check *w, int revents)
{
	(void)l; (void)revents;
	while (started < target && in_flight < opt.concurrency) {
		struct sioc *c = &cl[started++];

		if (t_first_start == 0)
			t_first_start = now_ns();
		in_flight++;	/* before: a failure may be reported at once */
		(void)sioc_connect(c);
	}
	if (started >= target)
		ev_check_stop(loop, w);
}

static int
connect_done(void)
{
	return n_ready + n_failed >= target;
}

/* Connects clients [0, n); 0 when all are in namespace "/". */
static int
connect_clients(int n)
{
	/* Generous: a server accepting 500 connections/s passes. */
	double bound = 15.0 + n / 500.0;
	int rc;

	target = n;
	ev_check_init(&starter, starter_cb);
	ev_check_start(loop, &starter);
	rc = run_until(connect_done, bound);
	ev_check_stop(loop, &starter);
	if (opt.verbose)
		fprintf(stderr, "coup-bench: %d connected, %d failed\n",
		    n_ready, n_failed);
	if (rc < 0) {
		report_note("the server did not connect %d clients within "
		    "%.0f s (%d connected, %d failed, %d pending)", n, bound,
		    n_ready, n_failed, n - n_ready - n_failed);
		return -1;
	}
	if (n_failed) {
		report_note("%d of %d clients failed to connect; first: %s",
		    n_failed, n, first_failure);
		return -1;
	}
	return 0;
}

static void
report_connect(void)
{
	double secs = t_last_ready > t_first_start ?
	    (double)(t_last_ready - t_first_start) / 1e9 : 0;

	report_int("clients", target, "");
	report_int("connected", n_ready, "");
	report_int("failed", n_failed, "");
	report_int("refused", n_refused, "");
	report_num("connect_seconds", secs, "s");
	report_num("connections_per_s", secs > 0 ? n_ready / secs : 0,
	    "conn/s");
	report_latency("connect_latency_ms", &h_connect);
}

/* ------------------------------------------------------- phase: rooms */

static int
joins_settled(void)
{
	return joins_pending == 0;
}

static void
send_join(int i, const char *room)
{
	struct member *m = &mem[i];
	char payload[192];

	snprintf(payload, sizeof(payload),
	    "{\"studyId\":\"bench\",\"roomId\":\"%s\"}", room);
	m->join_ack = cl[i].next_ack++;
	m->join_sent = now_ns();
	if (sioc_emit(&cl[i], "video:join-room", payload, m->join_ack) < 0) {
		joins_failed++;
		return;
	}
	m->joining = 1;
	joins_pending++;
}

/* Every client joins room mem[i].room; 0 when all joined. */
static int
join_rooms(void)
{
	double bound = 10.0 + ncl / 200.0;
	char room[96];
	int i;

	for (i = 0; i < ncl; i++)
		send_join(i, room_id(room, sizeof(room), mem[i].room));
	if (run_until(joins_settled, bound) < 0) {
		report_note("the server did not answer %d of %d joins within "
		    "%.0f s", joins_pending, ncl, bound);
		return -1;
	}
	if (joins_failed) {
		report_note("%d of %d joins failed; first error: %s",
		    joins_failed, ncl, first_error[0] ? first_error : "-");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------- phase: traffic */

typedef void (*send_fn)(int client);

static ev_timer pacer;
static double pace_rate, pace_t0;
static uint64_t pace_sent;
static int pace_next;
static send_fn pace_send;

static void
pacer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	uint64_t due = (uint64_t)(pace_rate * (now_s() - pace_t0));
	int tries;

	(void)l; (void)w; (void)revents;
	/* Catch up to the schedule, but never by more than a second's
	 * worth in one go: a stalled generator reports a low rate rather
	 * than a burst. */
	if (due > pace_sent + (uint64_t)pace_rate + 1)
		pace_sent = due - (uint64_t)pace_rate - 1;
	while (pace_sent < due) {
		for (tries = 0; tries < ncl; tries++) {
			int i = pace_next;

			pace_next = (pace_next + 1) % ncl;
			if (cl[i].state == SIOC_READY) {
				pace_send(i);
				break;
			}
		}
		if (tries == ncl)
			return;		/* nobody left to send */
		pace_sent++;
	}
}

/* Sends at `rate` per second for `secs`, then drains up to `drain` s or
 * until `expect` deliveries (0 = no expectation). */
static double
traffic(double rate, double secs, send_fn fn, uint64_t per_send,
    double drain)
{
	uint64_t base_deliveries = deliveries;
	struct rusage r0, r1;
	double t0, t1;

	getrusage(RUSAGE_SELF, &r0);
	hist_reset(&h_lat);
	delivered_in_window = 0;
	sent = 0;
	pace_rate = rate;
	pace_send = fn;
	pace_sent = 0;
	pace_t0 = t0 = now_s();
	measuring = 1;
	ev_timer_init(&pacer, pacer_cb, 0.001, 0.001);
	ev_timer_start(loop, &pacer);
	run_for(secs);
	ev_timer_stop(loop, &pacer);
	t1 = now_s();
	/* The drain: deliveries of what was sent still count. */
	{
		double end = now_s() + drain;

		while (now_s() < end &&
		    deliveries - base_deliveries < sent * per_send)
			ev_run(loop, EVRUN_ONCE);
	}
	measuring = 0;
	/* The generator's own CPU: near 100% means the figures measure this
	 * single-threaded client, not the server. */
	getrusage(RUSAGE_SELF, &r1);
	gen_cpu_percent = 100.0 * ((double)(r1.ru_utime.tv_sec -
	    r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	    (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
	    r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6) /
	    (now_s() - t0);
	return t1 - t0;
}

static void
send_video_message(int i)
{
	char payload[160], room[96];

	snprintf(payload, sizeof(payload),
	    "{\"roomId\":\"%s\",\"message\":\"%llu\"}",
	    room_id(room, sizeof(room), mem[i].room),
	    (unsigned long long)now_ns());
	if (sioc_emit(&cl[i], "chat:video-message", payload, -1) == 0)
		sent++;
}

static void
send_ice(int i)
{
	char payload[200];

	snprintf(payload, sizeof(payload),
	    "{\"to\":\"%s\",\"candidate\":{\"t\":\"%llu\"}}",
	    cl[mem[i].peer].sid, (unsigned long long)now_ns());
	if (sioc_emit(&cl[i], "video:ice-candidate", payload, -1) == 0)
		sent++;
}

/* ------------------------------------------------------------- server */

static struct tree_sample s_before;

static void
sample(struct tree_sample *s)
{
	if (opt.server_pid > 0 && tree_sample(opt.server_pid, s) < 0)
		report_note("cannot read /proc/%d (--server-pid)",
		    opt.server_pid);
}

static void
report_rss(const struct tree_sample *a, const struct tree_sample *b, int n)
{
	if (!a->ok || !b->ok)
		return;
	report_int("server_rss_before_bytes", (long long)a->rss_bytes, "B");
	report_int("server_rss_after_bytes", (long long)b->rss_bytes, "B");
	report_int("server_processes", b->processes, "");
	if (n > 0)
		report_num("rss_per_conn_bytes",
		    ((double)b->rss_bytes - (double)a->rss_bytes) / n, "B");
}

static void
report_errors(void)
{
	report_int("connections_lost", n_lost, "");
	report_int("server_errors", (long long)n_errors, "");
	report_int("rate_limited", (long long)n_rate_limited, "");
	report_int("generator_dropped_sends",
	    (long long)sioc_count.dropped_sends, "");
	if (first_error[0])
		report_str("first_error", first_error);
}

/* ----------------------------------------------------------- scenarios */

static int
all_closed(void)
{
	int i;

	for (i = 0; i < started; i++)
		if (cl[i].state != SIOC_CLOSED)
			return 0;
	return 1;
}

/* Closes every client with a close frame (bounded), then lws. */
static void
teardown(void)
{
	int i;

	for (i = 0; i < started; i++)
		sioc_close(&cl[i]);
	(void)run_until(all_closed, 3.0);
	sioc_fini();
}

static int
setup(int n)
{
	ncl = n;
	cl = calloc((size_t)n, sizeof(*cl));
	mem = calloc((size_t)n, sizeof(*mem));
	if (cl == NULL || mem == NULL) {
		perror("coup-bench");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		cl[i].idx = i;
		mem[i].churn_room = -1;
	}
	snprintf(room_prefix, sizeof(room_prefix), "bench-%s-%d-%lld",
	    scenario_name, (int)getpid(), (long long)(now_ns() / 1000000) %
	    100000);
	if (sioc_init(loop, opt.url, n, opt.sources, &ops) < 0)
		return -1;
	if (opt.sources > 0)
		report_int("source_addresses", opt.sources, "");
	return 0;
}

static int
run_connect(int idle)
{
	struct tree_sample s_conn, s0, s1;
	int rc = 0;

	if (setup(opt.clients) < 0)
		return 2;
	sample(&s_before);
	if (connect_clients(opt.clients) < 0)
		rc = 1;
	sample(&s_conn);
	report_connect();
	if (s_before.ok && s_conn.ok)
		report_num("server_cpu_percent_connecting",
		    tree_cpu_percent(&s_before, &s_conn), "% of a core");
	if (!idle) {
		/* Let the server finish its per-connection work (auth
		 * answers, buffers) before reading its memory. */
		run_for(1.0);
		sample(&s1);
		report_rss(&s_before, &s1, n_ready);
	} else {
		uint64_t pings = sioc_count.pings;
		int lost0 = n_lost;

		sample(&s0);
		run_for(opt.duration);
		sample(&s1);
		report_num("idle_seconds", s1.t - s0.t, "s");
		report_int("pings_answered", (long long)(sioc_count.pings -
		    pings), "");
		report_int("held", n_ready - n_lost, "");
		report_rss(&s_before, &s1, n_ready);
		if (s0.ok && s1.ok)
			report_num("server_cpu_percent",
			    tree_cpu_percent(&s0, &s1), "% of a core");
		if (n_lost > lost0) {
			report_note("%d connections dropped while idle",
			    n_lost - lost0);
			rc = 1;
		}
	}
	report_errors();
	teardown();
	return rc;
}

/* One fanout run at `rate` messages/s per member; fills the figures of
 * one step. Returns p99 ns; *ok says whether the step held: the
 * generator kept the rate, every delivery arrived, no connection was
 * lost and p99 stayed under 5 ms. *dps gets the deliveries/s carried. */
static uint64_t
fanout_step(double rate, int *ok, double *dps)
{
	int n = ncl, lost0 = n_lost;
	uint64_t base = deliveries, got, expected, p99;
	double secs, span;

	secs = traffic(rate * n, opt.duration, send_video_message,
	    (uint64_t)opt.members, 5.0);
	got = deliveries - base;
	expected = sent * (uint64_t)opt.members;
	p99 = hist_quantile(&h_lat, 0.99);
	report_num("rate_per_member", rate, "msg/s");
	report_num("send_seconds", secs, "s");
	report_int("messages_sent", (long long)sent, "");
	report_num("send_rate", sent / secs, "msg/s");
	report_int("deliveries", (long long)got, "");
	report_int("deliveries_expected", (long long)expected, "");
	/* Over the time from the first send to the last delivery (the
	 * send time at least): what the server actually carried. */
	span = (double)t_last_delivery / 1e9 - pace_t0;
	*dps = got / (span > secs ? span : secs);
	report_num("deliveries_per_s", *dps, "deliveries/s");
	report_latency("latency_ms", &h_lat);
	report_num("generator_cpu_percent", gen_cpu_percent, "% of a core");
	*ok = got >= expected && n_lost == lost0 &&
	    sent >= (uint64_t)(0.95 * rate * n * secs) && p99 < 5000000;
	if (got < expected)
		report_note("%.0f msg/s per member: %llu of %llu deliveries "
		    "missing after the drain", rate,
		    (unsigned long long)(expected - got),
		    (unsigned long long)expected);
	return p99;
}

/* One step of a --find-max search: run at `rate`, say whether it held,
 * and a figure to keep of the best step that held. */
typedef void (*find_step)(double rate, int *ok, double *figure);

/*
 * --find-max: double the rate until a step fails, then bisect between the
 * last good and the first bad rate, to within 10%; at most 14 steps, and
 * only while --max-seconds (less `reserve` seconds for the end) leaves
 * time for one more step (--duration plus `slack`).  A lost connection,
 * or a rate under `min_rate`, ends it; `settle` seconds pass between
 * steps.  Each step is one item of "steps" in the report.  Returns the
 * highest rate that held (0: none), and that step's figure in *figure.
 */
static double
find_max(find_step step, double rate, double min_rate, double reserve,
    double slack, double settle, double *figure)
{
	double good = 0, bad = 0, fig = 0, r = rate, t_start = now_s();
	struct tree_sample s0, s1;
	int ok;

	for (int n = 0; n < 14; n++) {
		double left = opt.max_seconds - (now_s() - t_start) - reserve;

		if (left < opt.duration + slack) {
			report_note("--find-max stopped early: --max-seconds "
			    "leaves no time for a step");
			break;
		}
		report_begin_array_item("steps");
		sample(&s0);
		step(r, &ok, &fig);
		sample(&s1);
		if (s0.ok && s1.ok)
			report_num("server_cpu_percent",
			    tree_cpu_percent(&s0, &s1), "% of a core");
		report_str("held", ok ? "yes" : "no");
		report_end_array_item();
		if (ok) {
			good = r;
			if (figure != NULL)
				*figure = fig;
		} else
			bad = r;
		if (n_lost > 0)
			break;
		if (bad == 0)
			r *= 2;
		else if (good == 0)
			r /= 2;	/* even the first rate failed */
		else if (bad - good <= good * 0.1)
			break;	/* within 10%: good enough */
		else
			r = (good + bad) / 2;
		if (r < min_rate)
			break;
		if (settle > 0)
			run_for(settle);
	}
	return good;
}

static void
fanout_find_step(double rate, int *ok, double *dps)
{
	(void)fanout_step(rate, ok, dps);
}

static int
run_fanout(void)
{
	int n = opt.rooms * opt.members, i, rc = 0, ok;
	double rate = opt.rate_set ? opt.rate : 10.0, dps;
	struct tree_sample s0, s1;

	if (setup(n) < 0)
		return 2;
	for (i = 0; i < n; i++)
		mem[i].room = i / opt.members;
	sample(&s_before);
	if (connect_clients(n) < 0 || join_rooms() < 0) {
		report_connect();
		report_errors();
		teardown();
		return 1;
	}
	report_connect();
	report_int("rooms", opt.rooms, "");
	report_int("members", opt.members, "");
	deliveries = 0;
	if (!opt.find_max) {
		sample(&s0);
		(void)fanout_step(rate, &ok, &dps);
		sample(&s1);
		if (s0.ok && s1.ok)
			report_num("server_cpu_percent",
			    tree_cpu_percent(&s0, &s1), "% of a core");
		report_rss(&s_before, &s1, n_ready);
		if (deliveries < sent * (uint64_t)opt.members)
			rc = 1;
	} else {
		double good_dps = 0;
		/* A failed step's backlog clears before the next one. */
		double good = find_max(fanout_find_step, rate, 0.1, 15.0, 7.0,
		    1.0, &good_dps);

		report_num("max_rate_per_member_p99_under_5ms", good,
		    "msg/s");
		report_num("max_deliveries_per_s_p99_under_5ms", good_dps,
		    "deliveries/s");
		sample(&s1);
		report_rss(&s_before, &s1, n_ready);
	}
	report_errors();
	teardown();
	return rc;
}

/* One relay run at `rate`; fills the figures of one step. Returns p99 ns,
 * or UINT64_MAX when the step failed (losses, or a rate not reached). */
static uint64_t
relay_step(double rate, int *ok)
{
	uint64_t base = deliveries, got, p99;
	double secs;

	secs = traffic(rate, opt.duration, send_ice, 1, 3.0);
	got = deliveries - base;
	p99 = hist_quantile(&h_lat, 0.99);
	report_num("rate_target", rate, "relays/s");
	report_num("rate_sent", sent / secs, "relays/s");
	report_num("relays_per_s", delivered_in_window / secs, "relays/s");
	report_int("relays_sent", (long long)sent, "");
	report_int("relays_delivered", (long long)got, "");
	report_latency("latency_ms", &h_lat);
	report_num("generator_cpu_percent", gen_cpu_percent, "% of a core");
	/* A step counts only when the generator kept the rate and nothing
	 * was lost: else its p99 says nothing about the server at `rate`. */
	*ok = got >= sent && sent >= (uint64_t)(0.95 * rate * secs) &&
	    p99 < 5000000;
	return p99;
}

static void
relay_find_step(double rate, int *ok, double *unused)
{
	(void)unused;
	(void)relay_step(rate, ok);
}

static int
run_relay(void)
{
	int n = 2 * opt.pairs, i, rc = 0, ok;
	double rate = opt.rate_set ? opt.rate : 1000.0;
	struct tree_sample s0, s1;

	if (setup(n) < 0)
		return 2;
	for (i = 0; i < n; i++) {
		mem[i].room = i / 2;
		mem[i].peer = i ^ 1;
	}
	sample(&s_before);
	if (connect_clients(n) < 0 || join_rooms() < 0) {
		report_connect();
		report_errors();
		teardown();
		return 1;
	}
	report_connect();
	report_int("pairs", opt.pairs, "");
	if (rate / n > 100)
		report_note("%.0f relays/s from %d clients is %.0f events/s "
		    "each: over coup-gateway's default RATE_LIMIT_EVENTS "
		    "(100); raise it on the server or use more --pairs",
		    rate, n, rate / n);
	if (!opt.find_max) {
		sample(&s0);
		(void)relay_step(rate, &ok);
		sample(&s1);
		if (s0.ok && s1.ok)
			report_num("server_cpu_percent",
			    tree_cpu_percent(&s0, &s1), "% of a core");
		report_rss(&s_before, &s1, n_ready);
		if (deliveries < sent) {
			report_note("%llu relays not delivered",
			    (unsigned long long)(sent - deliveries));
			rc = 1;
		}
	} else {
		double good = find_max(relay_find_step, rate, 1.0, 10.0, 5.0,
		    0.0, NULL);

		report_num("max_rate_p99_under_5ms", good, "relays/s");
	}
	report_errors();
	teardown();
	return rc;
}

/* churn: clients take turns joining a new room (and leaving the last). */
static long long churn_next_room;
static int churn_next_client;

static void
churn_tick(int unused)
{
	char room[96], payload[160];
	int tries;

	(void)unused;
	for (tries = 0; tries < ncl; tries++) {
		int i = churn_next_client;
		struct member *m = &mem[i];

		churn_next_client = (churn_next_client + 1) % ncl;
		if (cl[i].state != SIOC_READY || m->joining)
			continue;
		if (m->churn_room >= 0) {
			snprintf(payload, sizeof(payload), "{\"roomId\":\"%s\"}",
			    room_id(room, sizeof(room), m->churn_room));
			(void)sioc_emit(&cl[i], "video:leave-room", payload,
			    -1);
		}
		m->churn_room = churn_next_room++;
		send_join(i, room_id(room, sizeof(room), m->churn_room));
		sent++;
		return;
	}
}

static int
run_churn(void)
{
	double rate = opt.rate_set ? opt.rate : 50.0, secs;
	struct tree_sample s0, s1;
	int rc = 0;

	if (setup(opt.clients) < 0)
		return 2;
	sample(&s_before);
	if (connect_clients(opt.clients) < 0) {
		report_connect();
		report_errors();
		teardown();
		return 1;
	}
	report_connect();
	report_num("rate_target", rate, "joins/s");
	sample(&s0);
	hist_reset(&h_join);
	joins_done = joins_failed = 0;
	secs = traffic(rate, opt.duration, churn_tick, 0, 0);
	/* The joins still in flight: up to 5 s more. */
	if (run_until(joins_settled, 5.0) < 0) {
		report_note("%d joins unanswered 5 s after the last was sent",
		    joins_pending);
		rc = 1;
	}
	sample(&s1);
	report_num("send_seconds", secs, "s");
	report_int("joins_sent", (long long)sent, "");
	report_int("joins", joins_done, "");
	report_int("joins_failed", joins_failed, "");
	report_num("joins_per_s", joins_done / secs, "joins/s");
	report_latency("join_latency_ms", &h_join);
	report_num("generator_cpu_percent", gen_cpu_percent, "% of a core");
	if (s0.ok && s1.ok) {
		report_num("server_cpu_percent", tree_cpu_percent(&s0, &s1),
		    "% of a core");
		report_int("server_processes", s1.processes, "");
	}
	report_errors();
	if (joins_failed)
		rc = 1;
	teardown();
	return rc;
}

static const struct {
	const char *name;
} names[] = { { "connect" }, { "idle" }, { "fanout" }, { "relay" },
    { "churn" } };

int
scenario_known(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return 1;
	return 0;
}

int
scenario_clients(const char *name)
{
	if (strcmp(name, "fanout") == 0)
		return opt.rooms * opt.members;
	if (strcmp(name, "relay") == 0)
		return 2 * opt.pairs;
	return opt.clients;
}

int
scenario_run(const char *name)
{
	scenario_name = name;
	if (strcmp(name, "connect") == 0)
		return run_connect(0);
	if (strcmp(name, "idle") == 0)
		return run_connect(1);
	if (strcmp(name, "fanout") == 0)
		return run_fanout();
	if (strcmp(name, "relay") == 0)
		return run_relay();
	if (strcmp(name, "churn") == 0)
		return run_churn();
	return 2;
}
