/*
 * demo.c - the demo video call page at /demo: a few static files.
 *
 * The page (index.html, demo.js, demo.css, speaking-worklet.js, and
 * socket.io-client's own bundle, socket.io.min.js, which `make` copies
 * from demo/node_modules)
 * lets anyone try a real call against this gateway with nothing but a
 * browser.  It is on in development mode and off in production unless
 * DEMO=on, since a production gateway has no business serving pages.
 *
 * The files come from one flat directory, found the way the room
 * processes' binary is: DEMO_DIR, else demo/ next to coup-gateway (the
 * build tree), else the installed $(pkgdatadir)/demo.  Only plain names
 * with a known extension are served, so no request can leave it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "demo.h"
#include "gateway.h"
#include "httpd.h"
#include "log.h"
#include "xmalloc.h"

#define DEMO_PREFIX	"/demo"
#define DEMO_BUNDLE	"socket.io.min.js"
/* Larger than any file of the page; a bigger one is not ours. */
#define DEMO_FILE_MAX	(8 * 1024 * 1024)

/*
 * What the page needs and nothing more: its own scripts and styles (no
 * inline ones), the Socket.IO connection back to us, camera and screen
 * streams in <video>.  'self' in connect-src covers ws: to this origin.
 */
static const char demo_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob: mediastream:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

static char *demo_dir;	/* where the files are; NULL when off */

static const struct {
	const char	*ext;
	const char	*type;
} demo_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".map", "application/json; charset=utf-8" },
};

int
demo_enabled(const struct gateway *gw)
{
	const char *mode = config_str(&gw->cfg, CFG_DEMO);

	if (strcmp(mode, "on") == 0)
		return 1;
	if (strcmp(mode, "off") == 0)
		return 0;
	return gw->development;
}

/* The Content-Type of a name we serve, or NULL for any other name. */
static const char *
type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(demo_types) / sizeof(demo_types[0]); i++)
		if (strcmp(dot, demo_types[i].ext) == 0)
			return demo_types[i].type;
	return NULL;
}

/*
 * A plain file name: letters, digits, '.', '-', '_', not starting with a
 * dot.  With no '/' and no leading '.', neither "..", a hidden file nor a
 * subdirectory can be named, however the path was encoded.
 */
static int
plain_name(const char *name)
{
	if (*name == '\0' || *name == '.' || strlen(name) > NAME_MAX)
		return 0;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return 0;
	return 1;
}

static void
not_found(struct httpd_req *req, const char *msg)
{
	httpd_respond(req, 404, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* Read a regular file whole; -1 with errno set otherwise. */
static int
read_file(const char *path, struct buf *out)
{
	struct stat st;
	char chunk[16384];
	ssize_t n;
	int fd;

	/* O_NOFOLLOW: a symlink planted in the directory is not followed. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DEMO_FILE_MAX) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		buf_append(out, chunk, (size_t)n);
		if (out->len > DEMO_FILE_MAX) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	return 0;
}

static void
serve(struct httpd_req *req, void *arg)
{
	const char *name = req->path + strlen(DEMO_PREFIX);
	const char *type;
	char path[PATH_MAX];
	struct buf body = BUF_INIT;

	(void)arg;
	/* /demo and /demo/ are the page; the page names its files in full
	 * (/demo/demo.js), so both work. */
	if (*name == '\0' || strcmp(name, "/") == 0)
		name = "index.html";
	else
		name++;		/* past the '/' */
	if (!plain_name(name) || (type = type_of(name)) == NULL) {
		log_debug("demo: %s refused (not a file of the page)",
		    req->path);
		not_found(req, "Not Found");
		return;
	}
	if (snprintf(path, sizeof(path), "%s/%s", demo_dir, name) >=
	    (int)sizeof(path)) {
		not_found(req, "Not Found");
		return;
	}
	if (read_file(path, &body) < 0) {
		if (strcmp(name, DEMO_BUNDLE) == 0) {
			log_warnx("demo: %s is missing: run ./install-deps "
			    "(npm ci in demo/), then make", path);
			not_found(req, "socket.io.min.js is missing on the "
			    "server: run ./install-deps (npm ci in demo/), "
			    "then make\n");
		} else {
			log_debug("demo: %s: %s", path, strerror(errno));
			not_found(req, "Not Found");
		}
		buf_free(&body);
		return;
	}
	httpd_add_header(req, "content-security-policy:", demo_csp);
	httpd_add_header(req, "x-content-type-options:", "nosniff");
	httpd_add_header(req, "referrer-policy:", "no-referrer");
	httpd_add_header(req, "x-frame-options:", "DENY");
	httpd_respond(req, 200, type, body.data, body.len);
	buf_free(&body);
}

/* The directory of our own binary, or "" if /proc does not say. */
static void
self_dir(char *out, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", out, n - 1);
	char *slash;

	out[len > 0 ? len : 0] = '\0';
	if ((slash = strrchr(out, '/')) != NULL)
		*slash = '\0';
	else
		out[0] = '\0';
}

/* DEMO_DIR, else demo/ next to our binary if it has the page, else the
 * installed copy. */
static char *
find_demo_dir(struct gateway *gw)
{
	const char *conf = config_str(&gw->cfg, CFG_DEMO_DIR);
	char self[PATH_MAX], probe[PATH_MAX + 32];
	char *dir;

	self_dir(self, sizeof(self));
	snprintf(probe, sizeof(probe), "%s/demo/index.html", self);
	if (conf != NULL && *conf != '\0')
		dir = xstrdup(conf);
	else if (self[0] != '\0' && access(probe, R_OK) == 0) {
		*strrchr(probe, '/') = '\0';
		dir = xstrdup(probe);
	} else
		dir = xstrdup(PKGDATADIR "/demo");
	return dir;
}

void
demo_register(struct gateway *gw)
{
	char probe[PATH_MAX + 32];

	if (!demo_enabled(gw)) {
		log_debug("demo page: off (DEMO=%s, %s mode)",
		    config_str(&gw->cfg, CFG_DEMO),
		    config_str(&gw->cfg, CFG_NODE_ENV));
		return;
	}
	free(demo_dir);
	demo_dir = find_demo_dir(gw);
	snprintf(probe, sizeof(probe), "%s/index.html", demo_dir);
	if (access(probe, R_OK) != 0)
		log_warn("demo page: %s (set DEMO_DIR, or DEMO=off)", probe);
	snprintf(probe, sizeof(probe), "%s/" DEMO_BUNDLE, demo_dir);
	if (access(probe, R_OK) != 0)
		log_warnx("demo page: %s is missing, the page cannot connect: "
		    "run ./install-deps (npm ci in demo/), then make", probe);
	httpd_route_prefix(gw->httpd, DEMO_PREFIX, serve, gw);
	log_info("demo page: /demo (files in %s)", demo_dir);
}

void
demo_free(void)
{
	free(demo_dir);
	demo_dir = NULL;
}
