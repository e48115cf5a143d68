/*
 * coup-bench.c - a load generator for servers of the CoUp signaling
 * contract (coup-gateway, or the Node.js Socket.IO server it replaces).
 *
 * One process, one libev loop, many libwebsockets clients (sioclient.c);
 * the scenarios are in scenarios.c. This file holds the options, the
 * bounds every run obeys (--max-seconds, the open-file limit), the loop
 * helpers and the report: a table for people, or one JSON object.
 */
#include "bench.h"
#include "stats.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <ev.h>

struct options opt = {
	.url = "http://127.0.0.1:4000",
	.scenario = "connect",
	.clients = 100,
	.duration = 5.0,
	.rooms = 10,
	.members = 10,
	.pairs = 50,
	.max_seconds = 300.0,
	.concurrency = 256,
};
struct ev_loop *loop;

/* ---------------------------------------------------------------- report */

struct row {
	char	*key, *value, *unit;
};
static struct row *rows;
static size_t nrows, rows_cap;
static cJSON *root, *cur;	/* cur: where figures go (root or a step) */
static char prefix[64];		/* table prefix for array items */

static void
add_row(const char *key, const char *value, const char *unit)
{
	if (nrows == rows_cap) {
		rows_cap = rows_cap ? rows_cap * 2 : 64;
		rows = realloc(rows, rows_cap * sizeof(*rows));
		if (rows == NULL) {
			perror("coup-bench");
			exit(2);
		}
	}
	rows[nrows].key = malloc(strlen(prefix) + strlen(key) + 1);
	if (rows[nrows].key == NULL) {
		perror("coup-bench");
		exit(2);
	}
	strcpy(rows[nrows].key, prefix);
	strcat(rows[nrows].key, key);
	rows[nrows].value = strdup(value);
	rows[nrows].unit = strdup(unit ? unit : "");
	nrows++;
}

void
report_num(const char *key, double v, const char *unit)
{
	char buf[64];

	/* Rounded for both outputs: more digits would be noise. */
	if (v == (double)(long long)v && v < 1e15 && v > -1e15)
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
	else if (v >= 100 || v <= -100)
		snprintf(buf, sizeof(buf), "%.1f", v);
	else
		snprintf(buf, sizeof(buf), "%.3f", v);
	cJSON_AddNumberToObject(cur, key, strtod(buf, NULL));
	add_row(key, buf, unit);
}

void
report_int(const char *key, long long v, const char *unit)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	cJSON_AddNumberToObject(cur, key, (double)v);
	add_row(key, buf, unit);
}

void
report_str(const char *key, const char *v)
{
	cJSON_AddStringToObject(cur, key, v);
	add_row(key, v, "");
}

void
report_latency(const char *key, const struct hist *h)
{
	static const struct { const char *name; double q; } qs[] = {
		{ "p50", 0.50 }, { "p99", 0.99 }, { "p999", 0.999 },
	};
	cJSON *o = cJSON_AddObjectToObject(cur, key);
	char label[96], buf[32];
	size_t i;
	double v;

	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		v = (double)hist_quantile(h, qs[i].q) / 1e6;
		snprintf(buf, sizeof(buf), "%.3f", v);
		cJSON_AddNumberToObject(o, qs[i].name, strtod(buf, NULL));
		snprintf(label, sizeof(label), "%s %s", key, qs[i].name);
		add_row(label, buf, "ms");
	}
	snprintf(buf, sizeof(buf), "%.3f", (double)h->max / 1e6);
	cJSON_AddNumberToObject(o, "max", strtod(buf, NULL));
	snprintf(label, sizeof(label), "%s max", key);
	add_row(label, buf, "ms");
	snprintf(buf, sizeof(buf), "%.3f", hist_mean(h) / 1e6);
	cJSON_AddNumberToObject(o, "mean", strtod(buf, NULL));
	cJSON_AddNumberToObject(o, "samples", (double)h->count);
	snprintf(label, sizeof(label), "%s samples", key);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)h->count);
	add_row(label, buf, "");
}

void
report_begin_array_item(const char *array)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(root, array);

	if (a == NULL)
		a = cJSON_AddArrayToObject(root, array);
	cur = cJSON_CreateObject();
	cJSON_AddItemToArray(a, cur);
	snprintf(prefix, sizeof(prefix), "%s[%d].", array,
	    cJSON_GetArraySize(a) - 1);
}

void
report_end_array_item(void)
{
	cur = root;
	prefix[0] = '\0';
}

void
report_note(const char *fmt, ...)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "notes");
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (a == NULL)
		a = cJSON_AddArrayToObject(root, "notes");
	cJSON_AddItemToArray(a, cJSON_CreateString(buf));
	fprintf(stderr, "coup-bench: %s\n", buf);
}

static void
report_print(void)
{
	FILE *out = opt.json ? stderr : stdout;
	size_t i, kw = 6, vw = 5;
	char *s;

	for (i = 0; i < nrows; i++) {
		if (strlen(rows[i].key) > kw)
			kw = strlen(rows[i].key);
		if (strlen(rows[i].value) > vw)
			vw = strlen(rows[i].value);
	}
	/* With --json the table still goes to stderr, for the person
	 * watching; stdout carries only the JSON object. */
	fprintf(out, "%-*s  %*s  %s\n", (int)kw, "figure", (int)vw, "value",
	    "unit");
	for (i = 0; i < nrows; i++)
		fprintf(out, "%-*s  %*s  %s\n", (int)kw, rows[i].key, (int)vw,
		    rows[i].value, rows[i].unit);
	if (opt.json) {
		s = cJSON_PrintUnformatted(root);
		if (s) {
			printf("%s\n", s);
			free(s);
		}
	}
	fflush(stdout);
}

/* ------------------------------------------------------------- the loop */

static ev_timer tick, hard_stop;

/* Keeps ev_run(EV_RUN_ONCE) from sleeping past a deadline check. */
static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
}

static void
hard_stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	fprintf(stderr, "coup-bench: %s: hard stop after --max-seconds %.0f "
	    "s; figures so far:\n", opt.scenario, opt.max_seconds);
	report_str("error", "hard stop (--max-seconds)");
	report_print();
	_exit(3);
}

int
run_until(int (*done)(void), double seconds)
{
	double end = now_s() + seconds;

	while (!done()) {
		if (now_s() >= end)
			return -1;
		ev_run(loop, EVRUN_ONCE);
	}
	return 0;
}

static int
never(void)
{
	return 0;
}

void
run_for(double seconds)
{
	(void)run_until(never, seconds);
}

/* --------------------------------------------------------------- main */

/* Descriptors kept free for the loop, lws and reading /proc: with every
 * descriptor a socket, the /proc reads fail. */
#define FD_RESERVE	64

/* Raise the open-file limit to what N clients need: the soft limit to
 * the hard one, and the hard one too when allowed (CAP_SYS_RESOURCE).
 * Returns -1, with a message, when N clients cannot fit. */
static int
raise_nofile(int need)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)need + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit up = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
	}
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		fprintf(stderr, "coup-bench: the open-file limit (%llu, hard "
		    "limit; raising it needs CAP_SYS_RESOURCE) allows at most "
		    "%llu clients, not %d\n", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)(rl.rlim_cur > FD_RESERVE ?
		    rl.rlim_cur - FD_RESERVE : 0), need);
		return -1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: coup-bench [options]\n"
"  --url URL[,URL...]  server (http://127.0.0.1:4000; loopback only); several\n"
"                      gateways of one cluster: client i uses URL i mod n,\n"
"                      so relay pairs and room members span gateways\n"
"  --scenario NAME     connect | idle | fanout | relay | churn\n"
"  --clients N         connect, idle, churn: clients (100)\n"
"  --duration S        idle: hold time; fanout, relay, churn: send time\n"
"                      (and each --find-max step) (5)\n"
"  --rate R            fanout: messages/s per member (10);\n"
"                      relay: relays/s in total (1000, the first step of\n"
"                      --find-max); churn: joins/s in total (50)\n"
"  --rooms R --members M   fanout: R rooms of M members (10 x 10)\n"
"  --pairs P           relay: pairs, one room each (50)\n"
"  --find-max          relay, fanout: step the rate up (doubling, then\n"
"                      bisecting; --rate is the first step), report the\n"
"                      highest whose p99 is under 5 ms with nothing lost\n"
"                      (fanout: per member, and the deliveries/s it gives)\n"
"  --server-pid PID    read the server's RSS and CPU (with descendants)\n"
"  --sources N         bind clients to N source addresses 127.1.x.y\n"
"                      (to pass one address's ephemeral ports)\n"
"  --concurrency N     connections being set up at once (256)\n"
"  --max-seconds S     hard stop of the whole run, exit 3 (300)\n"
"  --json              one JSON object on stdout (the table on stderr)\n"
"  --verbose           lws warnings and progress on stderr\n"
"Exit: 0 done, 1 the server failed a bound (figures still printed),\n"
"2 usage or set-up error, 3 hard stop.\n");
}

static double
num_arg(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "coup-bench: --%s %s: want a number in "
		    "[%g, %g]\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "scenario", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "rooms", required_argument, NULL, 'R' },
		{ "members", required_argument, NULL, 'M' },
		{ "pairs", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "server-pid", required_argument, NULL, 'p' },
		{ "max-seconds", required_argument, NULL, 'x' },
		{ "sources", required_argument, NULL, 'S' },
		{ "concurrency", required_argument, NULL, 'C' },
		{ "find-max", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': opt.url = optarg; break;
		case 's': opt.scenario = optarg; break;
		case 'c':
			opt.clients = (int)num_arg("clients", optarg, 1, 1e6);
			break;
		case 'd':
			opt.duration = num_arg("duration", optarg, 0.1, 3600);
			break;
		case 'r':
			opt.rate = num_arg("rate", optarg, 0.01, 1e7);
			opt.rate_set = 1;
			break;
		case 'R':
			opt.rooms = (int)num_arg("rooms", optarg, 1, 1e5);
			break;
		case 'M':
			opt.members = (int)num_arg("members", optarg, 1, 1000);
			break;
		case 'P':
			opt.pairs = (int)num_arg("pairs", optarg, 1, 5e5);
			break;
		case 'j': opt.json = 1; break;
		case 'p':
			opt.server_pid = (int)num_arg("server-pid", optarg, 1,
			    1e9);
			break;
		case 'x':
			opt.max_seconds = num_arg("max-seconds", optarg, 1,
			    86400);
			break;
		case 'S':
			opt.sources = (int)num_arg("sources", optarg, 0,
			    254 * 256);
			break;
		case 'C':
			opt.concurrency = (int)num_arg("concurrency", optarg,
			    1, 1e5);
			break;
		case 'f': opt.find_max = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "coup-bench: unexpected argument %s\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!scenario_known(opt.scenario)) {
		fprintf(stderr, "coup-bench: unknown scenario %s\n",
		    opt.scenario);
		usage(stderr);
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (raise_nofile(scenario_clients(opt.scenario)) < 0)
		return 2;

	loop = ev_default_loop(EVFLAG_AUTO);
	ev_timer_init(&tick, tick_cb, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	ev_timer_init(&hard_stop, hard_stop_cb, opt.max_seconds, 0);
	ev_timer_start(loop, &hard_stop);

	root = cur = cJSON_CreateObject();
	report_str("scenario", opt.scenario);
	report_str("url", opt.url);
	rc = scenario_run(opt.scenario);
	report_print();
	return rc;
}
