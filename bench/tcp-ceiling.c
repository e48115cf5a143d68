/*
 * tcp-ceiling.c - how many small messages this machine carries over
 * loopback TCP, one send() per message, from one process to another.
 *
 * A fan-out is, at bottom, one small write per delivery to one of many TCP
 * sockets, and one read for it on the client's side.  This measures that
 * floor with no server at all: a writer process sends SIZE-byte messages
 * round-robin over N connections (TCP_NODELAY, as WebSocket servers set
 * it) as fast as it can, a reader process drains them with epoll, for a
 * bounded time.  No server, in any language, delivers more messages per
 * second than this on the same machine while its load generator runs
 * there too; bench/RESULTS.md compares the fan-out figures with it.
 *
 *   tcp-ceiling [--conns N] [--size BYTES] [--seconds S] [--json]
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX	4096

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_seconds(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	    (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* N connected pairs over 127.0.0.1: out[i] to write, in[i] to read. */
static void
connect_pairs(int n, int *out, int *in)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int lfd, one = 1;

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, n) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		die("listen on 127.0.0.1");
	for (int i = 0; i < n; i++) {
		if ((out[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    connect(out[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    (in[i] = accept(lfd, NULL, NULL)) < 0)
			die("connect over loopback");
		setsockopt(out[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(lfd);
}

/* Reads until every connection is closed; exits with nothing to say. */
static void
reader(int n, const int *in, int report_fd)
{
	static char buf[65536];
	struct epoll_event ev, evs[256];
	unsigned long long bytes = 0;
	int ep = epoll_create1(0), open_conns = n;

	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < n; i++) {
		ev.events = EPOLLIN;
		ev.data.fd = in[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, in[i], &ev) < 0)
			die("epoll_ctl");
	}
	while (open_conns > 0) {
		int k = epoll_wait(ep, evs, 256, 10000);

		if (k <= 0)
			break;		/* 10 s of nothing: the writer is gone */
		for (int j = 0; j < k; j++) {
			ssize_t r = read(evs[j].data.fd, buf, sizeof(buf));

			if (r > 0)
				bytes += (unsigned long long)r;
			else if (r == 0 || errno != EAGAIN) {
				epoll_ctl(ep, EPOLL_CTL_DEL, evs[j].data.fd,
				    NULL);
				open_conns--;
			}
		}
	}
	if (write(report_fd, &bytes, sizeof(bytes)) != sizeof(bytes))
		die("write");
	_exit(0);
}

int
main(int argc, char **argv)
{
	int n = 400, size = 120, json = 0, pfd[2];
	double seconds = 5, t0, t1, spent;
	static int out[CONNS_MAX], in[CONNS_MAX];
	static char msg[65536];
	unsigned long long skipped = 0, bytes = 0;
	struct rusage self, kid;
	pid_t pid;
	int status;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			size = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr, "usage: tcp-ceiling [--conns N] "
			    "[--size BYTES] [--seconds S] [--json]\n");
			return 2;
		}
	}
	if (n < 1 || n > CONNS_MAX || size < 1 || size > (int)sizeof(msg) ||
	    seconds <= 0 || seconds > 600) {
		fprintf(stderr, "tcp-ceiling: --conns 1..%d, --size 1..%zu, "
		    "--seconds up to 600\n", CONNS_MAX, sizeof(msg));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(msg, 'x', sizeof(msg));
	connect_pairs(n, out, in);
	if (pipe(pfd) < 0)
		die("pipe");
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		for (int i = 0; i < n; i++)
			close(out[i]);
		reader(n, in, pfd[1]);
	}
	for (int i = 0; i < n; i++)
		close(in[i]);

	/* The writer: round-robin, never blocking; a full socket is
	 * skipped (the reader is behind), not waited for. */
	t0 = now_mono();
	do {
		for (int i = 0; i < n; i++) {
			ssize_t w = send(out[i], msg, (size_t)size,
			    MSG_DONTWAIT);

			if (w != size)
				skipped++;
		}
	} while ((t1 = now_mono()) - t0 < seconds);
	for (int i = 0; i < n; i++)
		close(out[i]);
	if (read(pfd[0], &bytes, sizeof(bytes)) != sizeof(bytes))
		die("read from the reader");
	spent = now_mono() - t0;
	waitpid(pid, &status, 0);
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kid);

	if (json)
		printf("{\"conns\":%d,\"size\":%d,\"seconds\":%.2f,"
		    "\"messages_per_s\":%.0f,\"writer_cpu_percent\":%.1f,"
		    "\"reader_cpu_percent\":%.1f,\"full_skips\":%llu}\n", n,
		    size, spent, (double)bytes / size / spent,
		    100 * cpu_seconds(&self) / spent,
		    100 * cpu_seconds(&kid) / spent, skipped);
	else
		printf("%d connections, %d-byte messages, %.1f s: %.0f "
		    "messages/s delivered (writer %.0f%% of a core, reader "
		    "%.0f%%; %llu sends skipped on a full socket)\n", n, size,
		    spent, (double)bytes / size / spent,
		    100 * cpu_seconds(&self) / spent,
		    100 * cpu_seconds(&kid) / spent, skipped);
	return 0;
}
