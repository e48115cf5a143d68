/*
 * coupctl.c - coupctl(8), the administrator's client of the gateway's
 * control socket (gateway/control.h).
 *
 * It finds the socket (-s, else CONTROL_SOCKET / RUN_DIR from --config
 * FILE and the environment, else the default), sends one request line,
 * reads one answer line and prints the answer's data: as aligned tables
 * and "key: value" lines for people, or as pretty JSON with --json.
 *
 * Exit status: 0 success, 1 the gateway refused (ok:false), 2 usage
 * error, 3 the gateway could not be reached (not running, permission
 * denied by the socket's mode or by the gateway's FORBIDDEN) or gave no
 * usable answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "autoconfig.h"
#include "config.h"
#include "control_proto.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

#define EXIT_OK		0
#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_UNREACHABLE 3

/* The whole exchange (connect, send, answer) gets this long. */
#define EXCHANGE_TIMEOUT_MS	10000

static const char *progname = "coupctl";

/* ------------------------------------------------------------ messages */

static void
errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "Usage: %s [-s PATH | --socket PATH] [--config FILE] [--json] "
	    "COMMAND [ARGS]\n"
	    "\n"
	    "Commands:\n"
	    "  status               the gateway's figures\n"
	    "  rooms                every room: members, process, memory\n"
	    "  room NAME            the members of one room "
	    "(video:ROOM or study:STUDY)\n"
	    "  user ID              the connections of one user\n"
	    "  kick SOCKET          disconnect one connection\n"
	    "  kick --user ID       disconnect every connection of a user\n"
	    "  close-room NAME      remove every member from a room\n"
	    "  restart-room NAME    restart a room's process (members stay)\n"
	    "  log-level LEVEL      set the log level: debug|info|warn|error\n"
	    "  reload               re-read the configuration (like SIGHUP)\n"
	    "  drain                close every session, then exit\n"
	    "  show config          the configuration in force\n"
	    "  cluster              multi-server mode: the nodes and rooms\n"
	    "\n"
	    "Options:\n"
	    "  -s, --socket PATH    the control socket (default: "
	    "CONTROL_SOCKET, else\n"
	    "                       RUN_DIR/coup-gateway.sock)\n"
	    "  --config FILE        read CONTROL_SOCKET and RUN_DIR from FILE\n"
	    "  --json               print the answer's data as JSON\n"
	    "  -h, --help           print this help and exit\n"
	    "  -V, --version        print the version and exit\n"
	    "\n"
	    "Exit status: 0 done, 1 the gateway refused, 2 usage error, "
	    "3 the gateway\n"
	    "could not be reached.\n", progname);
}

/* ------------------------------------------------------ the socket path */

/*
 * The control socket's path, the way the gateway computes it: the same
 * table, file parser and precedence (environment over file over default).
 * Only the two keys that matter are taken from the environment, so that
 * an unrelated bad variable in the admin's shell does not stop coupctl.
 * Returns a malloc'd path, or NULL after printing why.
 */
static char *
socket_path_from_config(const char *config_file, int *offp)
{
	static const int keys[] = { CFG_RUN_DIR, CFG_CONTROL_SOCKET };
	struct config cfg;
	char err[512], *path = NULL;
	const char *sock, *dir;

	*offp = 0;
	config_init(&cfg);
	if (config_file != NULL &&
	    config_load_file(&cfg, config_file, err, sizeof(err)) == -1) {
		errmsg("%s", err);
		goto out;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = getenv(config_defs[keys[i]].name);

		if (v != NULL && config_set(&cfg, keys[i], v, CONFIG_SRC_ENV,
		    err, sizeof(err)) == -1) {
			errmsg("environment: %s", err);
			goto out;
		}
	}
	sock = config_str(&cfg, CFG_CONTROL_SOCKET);
	dir = config_str(&cfg, CFG_RUN_DIR);
	if (sock != NULL && strcmp(sock, "off") == 0) {
		*offp = 1;
		errmsg("the gateway's control socket is off (CONTROL_SOCKET=off)");
		goto out;
	}
	if (sock != NULL && *sock != '\0')
		path = xstrdup(sock);
	else
		path = xasprintf("%s/coup-gateway.sock",
		    dir != NULL ? dir : "/run/coup-signaling");
out:
	config_free(&cfg);
	return path;
}

/* ------------------------------------------------------------ exchange */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining_ms(long long deadline)
{
	long long left = deadline - now_ms();

	return left < 0 ? 0 : (int)left;
}

/*
 * Connect to the control socket.  The gateway's socket is 0660, so a user
 * outside its group gets EACCES here: say so, distinctly from "not
 * running".  Returns the descriptor or -1 after printing why.
 */
static int
connect_control(const char *path)
{
	struct sockaddr_un sun;
	struct timeval tv = { EXCHANGE_TIMEOUT_MS / 1000, 0 };
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errmsg("%s: the socket path is too long (at most %zu bytes)",
		    path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		errmsg("socket: %s", strerror(errno));
		return -1;
	}
	/* Bounds a connect that waits on a full listen queue (Linux). */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	e = errno;
	close(fd);
	switch (e) {
	case ENOENT:
		errmsg("cannot reach the gateway: %s does not exist "
		    "(is coup-gateway running?)", path);
		break;
	case ECONNREFUSED:
		errmsg("cannot reach the gateway: nothing listens on %s "
		    "(coup-gateway is not running)", path);
		break;
	case EACCES:
	case EPERM:
		errmsg("cannot reach the gateway: permission denied on %s "
		    "(run as root, as the gateway's user or as a member of "
		    "the socket's group)", path);
		break;
	case ENOTDIR:
	case ENOTSOCK:
		errmsg("cannot reach the gateway: %s is not a socket", path);
		break;
	case EAGAIN:
	case ETIMEDOUT:
		errmsg("cannot reach the gateway: %s: timed out (the gateway "
		    "is busy)", path);
		break;
	default:
		errmsg("cannot reach the gateway: %s: %s", path, strerror(e));
		break;
	}
	return -1;
}

/* Wait for `events` on fd until the deadline: 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&pfd, 1, remaining_ms(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		return n > 0;
	}
}

/*
 * Returns 0, -1 after printing why, or -2 (nothing printed) when the
 * gateway hung up first: it may have answered before reading, as it does
 * to a client it refuses, so the caller reads on.
 */
static int
send_all(int fd, const char *data, size_t len, long long deadline,
    const char *path)
{
	while (len > 0) {
		ssize_t n;
		int r = wait_fd(fd, POLLOUT, deadline);

		if (r == 0) {
			errmsg("%s: timed out sending the request", path);
			return -1;
		}
		if (r == -1) {
			errmsg("%s: poll: %s", path, strerror(errno));
			return -1;
		}
		/* MSG_NOSIGNAL: a gateway that hung up is an error, not a kill. */
		n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return -2;
		if (n == -1) {
			errmsg("%s: sending the request: %s", path,
			    strerror(errno));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read the answer line: up to the first newline (the gateway closes the
 * connection after it, and a final line without one is accepted too), at
 * most CONTROL_ANSWER_MAX bytes, before the deadline.  Returns a malloc'd
 * NUL-terminated string without the newline, or NULL after printing why
 * (unless quiet).
 */
static char *
read_answer(int fd, long long deadline, const char *path, int quiet)
{
	char *buf = NULL, *nl, why[256];
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;
		int r;

		if (cap - len < 4096 + 1) {
			size_t ncap = cap == 0 ? 8192 : cap * 2;

			if (ncap > CONTROL_ANSWER_MAX + 4096 + 1)
				ncap = CONTROL_ANSWER_MAX + 4096 + 1;
			buf = xreallocarray(buf, ncap, 1);
			cap = ncap;
		}
		r = wait_fd(fd, POLLIN, deadline);
		if (r == 0) {
			snprintf(why, sizeof(why), "%s: no answer from the "
			    "gateway within %d s", path,
			    EXCHANGE_TIMEOUT_MS / 1000);
			goto fail;
		}
		if (r == -1) {
			snprintf(why, sizeof(why), "%s: poll: %s", path,
			    strerror(errno));
			goto fail;
		}
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			snprintf(why, sizeof(why), "%s: reading the answer: %s",
			    path, strerror(errno));
			goto fail;
		}
		if (n == 0) {
			if (len == 0) {
				snprintf(why, sizeof(why), "%s: the gateway "
				    "closed the connection without an answer",
				    path);
				goto fail;
			}
			buf[len] = '\0';
			return buf;
		}
		/* Only the new bytes can hold the first newline. */
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl != NULL) {
			*nl = '\0';
			len = (size_t)(nl - buf);
		}
		if (len > CONTROL_ANSWER_MAX) {
			snprintf(why, sizeof(why), "%s: the answer is larger "
			    "than %d bytes", path, CONTROL_ANSWER_MAX);
			goto fail;
		}
		if (nl != NULL)
			return buf;
	}
fail:
	if (!quiet)
		errmsg("%s", why);
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------ printing */

/*
 * Columns on a terminal: text from users (display names) may be Korean or
 * hold emoji, which take two columns, so byte counts would misalign the
 * tables.  A small table of the wide ranges is enough here; it does not
 * depend on the locale the admin's shell happens to have.
 */
static int
codepoint_width(unsigned long c)
{
	if ((c >= 0x0300 && c <= 0x036f) || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0xfe00 && c <= 0xfe0f))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

/* Decode one UTF-8 sequence at s; returns its length (1 for bad bytes). */
static size_t
utf8_next(const unsigned char *s, unsigned long *cp)
{
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, *cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, *cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, *cp = s[0] & 0x07;
	else {
		*cp = 0xfffd;
		return 1;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return n;
}

static int
display_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int w = 0;

	while (*p != '\0') {
		unsigned long cp;

		p += utf8_next(p, &cp);
		w += codepoint_width(cp);
	}
	return w;
}

/*
 * A copy of s with control characters replaced by '?': names and ids come
 * from users and must not be able to move the admin's cursor or recolour
 * the terminal.
 */
static char *
sanitize(const char *s)
{
	char *out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	/* C1 controls (U+0080..U+009F) include CSI: blank them too. */
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)p[0] == 0xc2 && (unsigned char)p[1] >= 0x80 &&
		    (unsigned char)p[1] <= 0x9f) {
			p[0] = '?';
			p[1] = '?';
		}
	return out;
}

/* The text of a JSON scalar for a table cell; "-" for null or missing. */
static char *
cell_text(const cJSON *v)
{
	char *s = NULL;

	if (v == NULL || cJSON_IsNull(v))
		s = xstrdup("-");
	else if (cJSON_IsString(v) && v->valuestring[0] == '\0')
		s = xstrdup("-");	/* an empty cell would shift the columns */
	else if (cJSON_IsString(v))
		return sanitize(v->valuestring);
	else if (cJSON_IsBool(v))
		s = xstrdup(cJSON_IsTrue(v) ? "yes" : "no");
	else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		long long n;

		if (json_safe_integer(d, &n) == 0)
			s = xasprintf("%lld", n);
		else
			s = xasprintf("%g", d);
	} else {
		/* An array or object: compact JSON, sanitized. */
		char *j = cJSON_PrintUnformatted(v);

		s = sanitize(j);
		free(j);
	}
	return s;
}

/* Bytes as people read them: 512, 13.4K, 2.1M, 1.0G. */
static char *
human_bytes(const cJSON *v)
{
	static const char units[] = "KMGT";
	double d;
	int u = -1;

	if (!cJSON_IsNumber(v))
		return cell_text(v);
	d = v->valuedouble;
	while (d >= 1024 && u < 3) {
		d /= 1024;
		u++;
	}
	return u < 0 ? xasprintf("%.0f", d) : xasprintf("%.1f%c", d, units[u]);
}

static char *
flag_text(const cJSON *v, const char *yes, const char *no)
{
	char *s;

	if (!cJSON_IsBool(v))
		return cell_text(v);
	s = xstrdup(cJSON_IsTrue(v) ? yes : no);
	return s;
}

/* A table: a header row and rows of owned cells, printed aligned. */
struct table {
	int	  ncols;
	int	  nrows;
	char	**cells;	/* nrows * ncols, row 0 the header */
};

static void
table_init(struct table *t, int ncols, const char *const *header)
{
	t->ncols = ncols;
	t->nrows = 1;
	t->cells = xcalloc((size_t)ncols, sizeof(char *));
	for (int c = 0; c < ncols; c++)
		t->cells[c] = xstrdup(header[c]);
}

/* Add a row of ncols cells, taking ownership of them. */
static void
table_add(struct table *t, char **row)
{
	t->cells = xreallocarray(t->cells,
	    (size_t)(t->nrows + 1) * (size_t)t->ncols, sizeof(char *));
	memcpy(&t->cells[t->nrows * t->ncols], row,
	    (size_t)t->ncols * sizeof(char *));
	t->nrows++;
}

static void
table_print(struct table *t)
{
	int *width = xcalloc((size_t)t->ncols, sizeof(int));
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			int w = display_width(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, stdout);
			/* Two spaces between columns, no trailing blanks. */
			if (c + 1 < t->ncols)
				printf("%*s", width[c] - display_width(s) + 2,
				    "");
		}
		putchar('\n');
	}
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(width);
}

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* "key: value" lines, nested objects as "parent.key", keys aligned. */
static void
print_kv_lines(const cJSON *obj, const char *prefix, int width)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, obj) {
		char *key, *val;

		key = xasprintf("%s%s:", prefix,
		    it->string != NULL ? it->string : "?");
		if (cJSON_IsObject(it)) {
			char *sub;

			key[strlen(key) - 1] = '.';
			sub = sanitize(key);
			print_kv_lines(it, sub, width);
			free(sub);
			free(key);
			continue;
		}
		val = cell_text(it);
		{
			char *k = sanitize(key);

			printf("%-*s %s\n", width, k, val);
			free(k);
		}
		free(key);
		free(val);
	}
}

/* Width of the longest "prefix.key:" in obj, for print_kv_lines. */
static int
kv_width(const cJSON *obj, int prefix_len)
{
	const cJSON *it;
	int w = 0;

	cJSON_ArrayForEach(it, obj) {
		int kw = prefix_len + (it->string != NULL ?
		    (int)strlen(it->string) : 1) + 1;

		if (cJSON_IsObject(it))
			kw = kv_width(it, kw);
		if (kw > w)
			w = kw;
	}
	return w;
}

static int
print_status(const cJSON *data)
{
	if (!cJSON_IsObject(data))
		return -1;
	print_kv_lines(data, "", kv_width(data, 0));
	return 0;
}

static int
print_rooms(const cJSON *data)
{
	static const char *const hdr[] = {
		"NAME", "MEMBERS", "PID", "RSS", "RESTARTS"
	};
	struct table t;
	const cJSON *r;

	if (!cJSON_IsArray(data))
		return -1;
	if (cJSON_GetArraySize(data) == 0) {
		printf("no rooms\n");
		return 0;
	}
	table_init(&t, 5, hdr);
	cJSON_ArrayForEach(r, data) {
		char *row[5];

		row[0] = cell_text(get(r, "name"));
		row[1] = cell_text(get(r, "members"));
		row[2] = cell_text(get(r, "pid"));
		row[3] = human_bytes(get(r, "rss"));
		row[4] = cell_text(get(r, "restarts"));
		table_add(&t, row);
	}
	table_print(&t);
	return 0;
}

static int
print_room(const cJSON *data)
{
	static const char *const hdr[] = {
		"SOCKET", "USER", "NAME", "TRANSPORT", "MUTED", "VIDEO",
		"SHARING", "JOINED"
	};
	const cJSON *members = get(data, "members"), *m;
	char *name, *pid;
	struct table t;

	if (!cJSON_IsObject(data))
		return -1;
	name = cell_text(get(data, "name"));
	pid = cell_text(get(data, "pid"));
	printf("room %s, pid %s, %d member%s\n", name, pid,
	    cJSON_GetArraySize(members),
	    cJSON_GetArraySize(members) == 1 ? "" : "s");
	free(name);
	free(pid);
	if (cJSON_GetArraySize(members) == 0)
		return 0;
	table_init(&t, 8, hdr);
	cJSON_ArrayForEach(m, members) {
		char *row[8];

		row[0] = cell_text(get(m, "socketId"));
		row[1] = cell_text(get(m, "userId"));
		row[2] = cell_text(get(m, "name"));
		row[3] = cell_text(get(m, "transport"));
		row[4] = flag_text(get(m, "isMuted"), "yes", "no");
		/* The wire says "video off"; the column says whether it is on. */
		row[5] = flag_text(get(m, "isVideoOff"), "off", "on");
		row[6] = flag_text(get(m, "isSharingScreen"), "yes", "no");
		row[7] = cell_text(get(m, "joinedAt"));
		table_add(&t, row);
	}
	table_print(&t);
	return 0;
}

/* The names of an array of strings, comma-separated; "-" when empty. */
static char *
joined_names(const cJSON *arr)
{
	const cJSON *it;
	size_t len = 0;
	char *out;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			len += strlen(it->valuestring) + 1;
	if (len == 0)
		return cell_text(NULL);
	out = xcalloc(1, len);
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it)) {
			if (*out != '\0')
				strcat(out, ",");
			strcat(out, it->valuestring);
		}
	{
		char *s = sanitize(out);

		free(out);
		return s;
	}
}

static int
print_user(const cJSON *data)
{
	static const char *const hdr[] = {
		"SOCKET", "TRANSPORT", "PEER", "ROOMS"
	};
	const cJSON *conns = get(data, "connections"), *c;
	struct table t;
	char *id;

	if (!cJSON_IsObject(data))
		return -1;
	id = cell_text(get(data, "userId"));
	printf("user %s, %d connection%s\n", id, cJSON_GetArraySize(conns),
	    cJSON_GetArraySize(conns) == 1 ? "" : "s");
	free(id);
	if (cJSON_GetArraySize(conns) == 0)
		return 0;
	table_init(&t, 4, hdr);
	cJSON_ArrayForEach(c, conns) {
		char *row[4];

		row[0] = cell_text(get(c, "socketId"));
		row[1] = cell_text(get(c, "transport"));
		row[2] = cell_text(get(c, "peer"));
		row[3] = joined_names(get(c, "rooms"));
		table_add(&t, row);
	}
	table_print(&t);
	return 0;
}

/*
 * KEY=VALUE  # source, quoted like config_dump(), so that it reads back as
 * a file and looks like coup-gateway --check-config.
 */
static int
print_config(const cJSON *data)
{
	const cJSON *list = get(data, "config"), *e;

	if (!cJSON_IsArray(list))
		return -1;
	cJSON_ArrayForEach(e, list) {
		char *key = cell_text(get(e, "key"));
		const cJSON *vj = get(e, "value");
		/* Not cell_text(): an empty value is KEY=, not KEY=-. */
		char *val = vj == NULL || cJSON_IsNull(vj) ? xstrdup("") :
		    cJSON_IsString(vj) ? sanitize(vj->valuestring) :
		    cell_text(vj);
		char *src = cell_text(get(e, "source"));
		const char *quote = "";
		size_t len = strlen(val);

		if (len > 0 && (val[0] == ' ' || val[0] == '\t' ||
		    val[len - 1] == ' ' || val[len - 1] == '\t' ||
		    strchr(val, '#') != NULL || val[0] == '"' ||
		    val[0] == '\'' || val[0] == '`'))
			quote = strchr(val, '"') == NULL ? "\"" :
			    strchr(val, '\'') == NULL ? "'" : "`";
		printf("%s=%s%s%s  # %s\n", key, quote, val, quote, src);
		free(key);
		free(val);
		free(src);
	}
	return 0;
}

static int
number_field(const cJSON *data, const char *field, long long *out)
{
	const cJSON *v = get(data, field);

	if (!cJSON_IsNumber(v))
		return -1;
	return json_safe_integer(v->valuedouble, out);
}

/* ------------------------------------------------------------ commands */

/*
 * The commands as typed: each is a command of the protocol
 * (control_proto.h: its name on the wire and how many arguments it
 * takes), but for "show config", which is show-config said as words.
 */
struct cmd {
	const char	*name;		/* as typed */
	const char	*wire;		/* as sent */
	int		 min_args, max_args;
	const char	*args_usage;
};

static struct cmd cmds[] = {
	{ "status", NULL, 0, 0, "" },
	{ "rooms", NULL, 0, 0, "" },
	{ "room", NULL, 0, 0, "NAME" },
	{ "user", NULL, 0, 0, "ID" },
	{ "kick", NULL, 0, 0, "SOCKET | --user ID" },
	{ "close-room", NULL, 0, 0, "NAME" },
	{ "restart-room", NULL, 0, 0, "NAME" },
	{ "log-level", NULL, 0, 0, "debug|info|warn|error" },
	{ "reload", NULL, 0, 0, "" },
	{ "drain", NULL, 0, 0, "" },
	{ "show", "show-config", 1, 1, "config" },
	{ "show-config", NULL, 0, 0, "" },
	{ "cluster", NULL, 0, 0, "" },
};

/* The protocol's word on each command (a typed name it does not know is
 * this program's bug). */
static void
cmds_from_protocol(void)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (cmds[i].wire != NULL)
			continue;	/* an alias, with its own arguments */
		for (int k = 0; k < CONTROL__COUNT; k++)
			if (strcmp(control_cmds[k].name, cmds[i].name) == 0) {
				cmds[i].wire = control_cmds[k].name;
				cmds[i].min_args = control_cmds[k].min_args;
				cmds[i].max_args = control_cmds[k].max_args;
			}
		if (cmds[i].wire == NULL)
			fatalx("coupctl: no command %s in the protocol",
			    cmds[i].name);
	}
}

static const struct cmd *
find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	usage(stderr);
	return EXIT_USAGE;
}

/*
 * Check a command's arguments; returns 0, or the exit status of a usage
 * error (already reported).  `args` are the words after the command.
 */
static int
check_args(const struct cmd *c, int nargs, char **args)
{
	if (nargs < c->min_args)
		return usage_error("%s: missing argument (%s %s)", c->name,
		    c->name, c->args_usage);
	if (nargs > c->max_args)
		return usage_error("%s: too many arguments (%s%s%s)", c->name,
		    c->name, *c->args_usage != '\0' ? " " : "",
		    c->args_usage);
	if (strcmp(c->name, "show") == 0 && strcmp(args[0], "config") != 0)
		return usage_error("show: unknown object \"%s\" (show config)",
		    args[0]);
	if (strcmp(c->name, "kick") == 0) {
		if (nargs == 2 && strcmp(args[0], "--user") != 0)
			return usage_error("kick: expected SOCKET or --user ID");
		if (nargs == 1 && strcmp(args[0], "--user") == 0)
			return usage_error("kick --user: missing user id");
	}
	if (strcmp(c->name, "log-level") == 0 &&
	    log_level_from_name(args[0]) == -1)
		return usage_error("log-level: \"%s\" is not one of "
		    "debug|info|warn|error", args[0]);
	for (int i = 0; i < nargs; i++)
		if (*args[i] == '\0')
			return usage_error("%s: empty argument", c->name);
	return 0;
}

/* The one-line summaries of the commands that change something. */
static int
print_summary(const struct cmd *c, int nargs, char **args, const cJSON *data)
{
	long long n;

	if (strcmp(c->wire, "kick") == 0) {
		if (number_field(data, "kicked", &n) == -1)
			return -1;
		printf("kicked %lld connection%s%s%s\n", n, n == 1 ? "" : "s",
		    nargs == 2 ? " of user " : "",
		    nargs == 2 ? args[1] : "");
	} else if (strcmp(c->wire, "close-room") == 0) {
		if (number_field(data, "removed", &n) == -1)
			return -1;
		printf("closed %s: removed %lld member%s\n", args[0], n,
		    n == 1 ? "" : "s");
	} else if (strcmp(c->wire, "restart-room") == 0) {
		char *pid = cell_text(get(data, "pid"));

		printf("restarted %s (old pid %s)\n", args[0], pid);
		free(pid);
	} else if (strcmp(c->wire, "log-level") == 0) {
		char *lvl = cell_text(get(data, "level"));

		printf("log level: %s\n", lvl);
		free(lvl);
	} else if (strcmp(c->wire, "reload") == 0) {
		char *changed = joined_names(get(data, "changed"));
		char *restart = joined_names(get(data, "restartNeeded"));

		if (!cJSON_IsObject(data)) {
			free(changed);
			free(restart);
			return -1;
		}
		printf("reloaded: changed: %s; restart needed: %s\n",
		    strcmp(changed, "-") == 0 ? "none" : changed,
		    strcmp(restart, "-") == 0 ? "none" : restart);
		free(changed);
		free(restart);
	} else if (strcmp(c->wire, "drain") == 0) {
		if (number_field(data, "sessions", &n) == -1)
			return -1;
		printf("draining: closing %lld session%s, then exiting\n", n,
		    n == 1 ? "" : "s");
	} else
		return -1;
	return 0;
}

/* "1.2 s ago" from a heartbeat time and Redis's clock, both in ms. */
static char *
ago_text(const cJSON *then, const cJSON *now)
{
	char *s;

	if (!cJSON_IsNumber(then) || !cJSON_IsNumber(now))
		return xstrdup("-");
	s = xasprintf("%.1f s ago", (now->valuedouble - then->valuedouble) /
	    1000);
	return s;
}

/* "node-a 2, node-b 1": members of a room per node. */
static char *
per_node_text(const cJSON *nodes)
{
	const cJSON *it;
	char *s = xstrdup(""), *t;

	cJSON_ArrayForEach(it, nodes) {
		char *n = cell_text(it);

		t = xasprintf("%s%s%s %s", s, *s ? ", " : "",
		    it->string ? it->string : "?", n);
		free(n);
		free(s);
		s = t;
	}
	if (*s == '\0') {
		free(s);
		s = xstrdup("-");
	}
	t = sanitize(s);
	free(s);
	return t;
}

static int
print_cluster(const cJSON *data)
{
	static const char *const nhdr[] = {
		"NODE", "STATE", "LAST BEAT", "ADDRESS", "PID", "CONNECTIONS",
		"ROOMS"
	};
	static const char *const rhdr[] = { "ROOM", "MEMBERS", "PER NODE" };
	const cJSON *redis = get(data, "redis"), *it;
	struct table t;
	char *node, *addr;

	if (!cJSON_IsObject(data))
		return -1;
	node = cell_text(get(data, "node"));
	addr = cell_text(get(redis, "address"));
	printf("this node: %s\nredis: %s, %s\n", node, addr,
	    cJSON_IsTrue(get(redis, "connected")) ? "connected" :
	    "NOT connected");
	free(node);
	free(addr);
	if (!cJSON_IsTrue(get(redis, "connected")) && get(redis, "error")) {
		char *e = cell_text(get(redis, "error"));

		printf("redis error: %s\n", e);
		free(e);
	}
	putchar('\n');
	table_init(&t, 7, nhdr);
	cJSON_ArrayForEach(it, get(data, "nodes")) {
		char *row[7];
		char *host = cell_text(get(it, "host"));
		char *port = cell_text(get(it, "port"));

		row[0] = cell_text(get(it, "id"));
		row[1] = xstrdup(cJSON_IsTrue(get(it, "alive")) ? "alive" :
		    "dead");
		row[2] = ago_text(get(it, "beat"), get(data, "now"));
		row[3] = xasprintf("%s:%s", host, port);
		row[4] = cell_text(get(it, "pid"));
		row[5] = cell_text(get(it, "connections"));
		row[6] = cell_text(get(it, "rooms"));
		free(host);
		free(port);
		table_add(&t, row);
	}
	table_print(&t);
	putchar('\n');
	if (cJSON_GetArraySize(get(data, "rooms")) == 0) {
		printf("no rooms in the cluster\n");
		return 0;
	}
	table_init(&t, 3, rhdr);
	cJSON_ArrayForEach(it, get(data, "rooms")) {
		char *row[3];

		row[0] = cell_text(get(it, "name"));
		row[1] = cell_text(get(it, "members"));
		row[2] = per_node_text(get(it, "nodes"));
		table_add(&t, row);
	}
	table_print(&t);
	return 0;
}

static int
print_human(const struct cmd *c, int nargs, char **args, const cJSON *data)
{
	const char *w = c->wire;

	if (strcmp(w, "status") == 0)
		return print_status(data);
	if (strcmp(w, "rooms") == 0)
		return print_rooms(data);
	if (strcmp(w, "room") == 0)
		return print_room(data);
	if (strcmp(w, "user") == 0)
		return print_user(data);
	if (strcmp(w, "show-config") == 0)
		return print_config(data);
	if (strcmp(w, "cluster") == 0)
		return print_cluster(data);
	return print_summary(c, nargs, args, data);
}

/* {"version":1,"command":"...","args":[...]} and its newline. */
static char *
build_request(const struct cmd *c, int nargs, char **args)
{
	cJSON *req = cJSON_CreateObject(), *arr;
	char *text, *line;

	cJSON_AddNumberToObject(req, "version", CONTROL_VERSION);
	cJSON_AddStringToObject(req, "command", c->wire);
	arr = cJSON_AddArrayToObject(req, "args");
	/* "show config" is the command "show-config", with no arguments. */
	if (strcmp(c->name, "show") != 0)
		for (int i = 0; i < nargs; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(args[i]));
	text = cJSON_PrintUnformatted(req);
	line = xasprintf("%s\n", text);
	free(text);
	cJSON_Delete(req);
	return line;
}

int
main(int argc, char **argv)
{
	const char *sock_opt = NULL, *config_file = NULL;
	const struct cmd *c;
	char *path = NULL, *request = NULL, *answer = NULL;
	char **args;
	cJSON *root = NULL;
	const cJSON *ok, *data;
	int json = 0, opts_done = 0, i, nargs, fd = -1, off;
	int rc = EXIT_UNREACHABLE;
	long long deadline;

	cmds_from_protocol();
	/* config_load_file() warns about foreign .env keys: not our business. */
	log_init(progname, LOG_LEVEL_ERROR);
	json_use_xmalloc();

	/* The global options, before the command (and after it: below). */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			opts_done = 1;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("coupctl %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			json = 1;
			continue;
		}
		if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 ||
		    strcmp(a, "--config") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return usage_error("option %s needs a value", a);
			if (strcmp(a, "--config") == 0)
				config_file = argv[++i];
			else
				sock_opt = argv[++i];
			continue;
		}
		if (strncmp(a, "--socket=", 9) == 0 && a[9] != '\0') {
			sock_opt = a + 9;
			continue;
		}
		if (strncmp(a, "--config=", 9) == 0 && a[9] != '\0') {
			config_file = a + 9;
			continue;
		}
		return usage_error("unknown option \"%s\"", a);
	}
	if (i >= argc)
		return usage_error("no command given");
	if ((c = find_cmd(argv[i])) == NULL)
		return usage_error("unknown command \"%s\"", argv[i]);

	/*
	 * The command's words.  The global options may follow the command
	 * too (admins append --json or -s to a recalled line); "--" ends
	 * them.  Other words, even with a dash (socket ids may start with
	 * one), are the command's arguments, and kick's --user is its own.
	 */
	args = xcalloc((size_t)argc, sizeof(char *));
	nargs = 0;
	for (i++; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || strcmp(a, "--user") == 0) {
			args[nargs++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			opts_done = 1;
		} else if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			/* "coupctl kick --help" asks for help, not a kick. */
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 ||
		    strcmp(a, "--config") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0') {
				rc = usage_error("option %s needs a value", a);
				goto out;
			}
			if (strcmp(a, "--config") == 0)
				config_file = argv[++i];
			else
				sock_opt = argv[++i];
		} else if (strncmp(a, "--socket=", 9) == 0 && a[9] != '\0') {
			sock_opt = a + 9;
		} else if (strncmp(a, "--config=", 9) == 0 && a[9] != '\0') {
			config_file = a + 9;
		} else {
			/* A socket id may start with '-': an argument. */
			args[nargs++] = argv[i];
		}
	}
	if ((rc = check_args(c, nargs, args)) != 0)
		goto out;
	rc = EXIT_UNREACHABLE;

	if (sock_opt != NULL)
		path = xstrdup(sock_opt);
	else if ((path = socket_path_from_config(config_file, &off)) == NULL) {
		/* A broken --config file is the caller's mistake. */
		rc = off ? EXIT_UNREACHABLE : EXIT_USAGE;
		goto out;
	}
	request = build_request(c, nargs, args);

	deadline = now_ms() + EXCHANGE_TIMEOUT_MS;
	if ((fd = connect_control(path)) == -1)
		goto out;
	switch (send_all(fd, request, strlen(request), deadline, path)) {
	case -1:
		goto out;
	case -2:
		if ((answer = read_answer(fd, deadline, path, 1)) == NULL) {
			errmsg("%s: the gateway closed the connection before "
			    "the request was sent", path);
			goto out;
		}
		break;
	default:
		if ((answer = read_answer(fd, deadline, path, 0)) == NULL)
			goto out;
		break;
	}

	root = cJSON_Parse(answer);
	ok = get(root, "ok");
	if (root == NULL || !cJSON_IsObject(root) || !cJSON_IsBool(ok)) {
		errmsg("%s: the gateway's answer is not understood: %.200s",
		    path, answer);
		goto out;
	}
	if (!cJSON_IsTrue(ok)) {
		const cJSON *e = get(root, "error"), *code = get(root, "code");
		char *msg = cJSON_IsString(e) ? sanitize(e->valuestring) :
		    xstrdup("the gateway refused the command");

		/*
		 * Refused by the gateway's peer-credential check: the same
		 * failure as a socket whose mode keeps us out, so the same
		 * exit status and words.
		 */
		if (cJSON_IsString(code) &&
		    strcmp(code->valuestring, "FORBIDDEN") == 0) {
			errmsg("cannot reach the gateway: permission denied on "
			    "%s (%s; run as root, as the gateway's user or as a "
			    "member of the socket's group)", path,
			    msg != NULL ? msg : "refused");
			free(msg);
			goto out;
		}
		errmsg("%s", msg != NULL ? msg : "refused");
		free(msg);
		rc = EXIT_REFUSED;
		goto out;
	}
	data = get(root, "data");
	if (json) {
		char *text = data != NULL ? cJSON_Print(data) : NULL;

		printf("%s\n", text != NULL ? text : "null");
		free(text);
	} else if (print_human(c, nargs, args, data) == -1) {
		char *text = cJSON_PrintUnformatted(data);

		/* Still show what came, but say it was not what we expected. */
		errmsg("unexpected data for %s: %.500s", c->name,
		    text != NULL ? text : "null");
		free(text);
		goto out;
	}
	rc = EXIT_OK;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		errmsg("writing the output: %s", strerror(errno));
		rc = EXIT_REFUSED;
	}
out:
	if (fd != -1)
		close(fd);
	cJSON_Delete(root);
	free(answer);
	free(request);
	free(path);
	free(args);
	return rc;
}
