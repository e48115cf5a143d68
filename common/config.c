/*
 * config.c - load, validate and print the configuration table.
 *
 * Every key is described once, in COUP_CONFIG_KEYS (config.h); this file
 * turns that table into config_defs[] and reads values from four places in
 * rising order of precedence: the defaults, a KEY=VALUE file (--config; a
 * Next.js .env file works), the environment and the command line.  Each
 * value goes through config_set(), so an invalid value is rejected the same
 * way wherever it came from, with a message that names the key.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "xmalloc.h"

/* A configuration file larger than this is surely not one. */
#define CONFIG_FILE_MAX	(1024 * 1024)

const struct config_def config_defs[CFG__COUNT] = {
#define CONFIG_DEF_ENTRY(name, type, defval, min, max, choices, reload, doc) \
	[CFG_##name] = { #name, type, defval, min, max, choices, reload, doc },
	COUP_CONFIG_KEYS(CONFIG_DEF_ENTRY)
#undef CONFIG_DEF_ENTRY
};

static const char *const source_names[] = {
	[CONFIG_SRC_DEFAULT] = "default",
	[CONFIG_SRC_FILE] = "file",
	[CONFIG_SRC_ENV] = "environment",
	[CONFIG_SRC_CLI] = "command line",
};

static const char *const http_schemes[] = { "http://", "https://", NULL };
static const char *const redis_schemes[] = {
	"redis://", "rediss://", "unix:", NULL
};

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write the message for the caller, if it gave room for one; return -1. */
static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A key by a name that need not be NUL-terminated ("PORT" of "PORT=1"). */
static int
key_by_name_len(const char *name, size_t len)
{
	for (int k = 0; k < CFG__COUNT; k++)
		if (strlen(config_defs[k].name) == len &&
		    memcmp(name, config_defs[k].name, len) == 0)
			return k;
	return -1;
}

int
config_key_by_name(const char *name)
{
	if (name == NULL)
		return -1;
	return key_by_name_len(name, strlen(name));
}

/* "PING_INTERVAL_MS" -> "ping-interval-ms", the key's long option. */
static void
long_option_name(int key, char *out, size_t outlen)
{
	const char *s = config_defs[key].name;
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = s[i] == '_' ? '-' :
		    (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') :
		    s[i];
	out[i] = '\0';
}

static int
key_by_long_option(const char *opt, size_t len)
{
	char name[64];

	for (int k = 0; k < CFG__COUNT; k++) {
		long_option_name(k, name, sizeof(name));
		if (strlen(name) == len && memcmp(opt, name, len) == 0)
			return k;
	}
	return -1;
}

/*
 * Parse a decimal integer: an optional sign and digits, nothing else, so
 * "4000 " and "0x10" are refused rather than half-read as strtoll would.
 * Returns 0, or -1 if it is not a number; an overflow saturates *out, which
 * the bounds check then reports as out of range.
 */
static int
parse_int(const char *s, long long *out)
{
	int neg = 0;
	long long v = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		int d;

		if (*s < '0' || *s > '9')
			return -1;
		d = *s - '0';
		if (!neg && v > (LLONG_MAX - d) / 10)
			v = LLONG_MAX;
		else if (neg && v < (LLONG_MIN + d) / 10)
			v = LLONG_MIN;
		else
			v = v * 10 + (neg ? -d : d);
	}
	*out = v;
	return 0;
}

static int
check_int(const struct config_def *d, const char *value, long long *out,
    char *err, size_t errlen)
{
	if (parse_int(value, out) == -1)
		return fail(err, errlen, "%s: \"%s\" is not a number", d->name,
		    value);
	if (*out < d->min)
		return fail(err, errlen, "%s: %s is below the minimum %lld",
		    d->name, value, d->min);
	if (*out > d->max)
		return fail(err, errlen, "%s: %s is above the maximum %lld",
		    d->name, value, d->max);
	return 0;
}

static int
check_enum(const struct config_def *d, const char *value, long long *out,
    char *err, size_t errlen)
{
	const char *c = d->choices;
	size_t vlen = strlen(value);

	for (long long idx = 0; ; idx++) {
		size_t clen = strcspn(c, "|");

		if (clen == vlen && memcmp(c, value, vlen) == 0) {
			*out = idx;
			return 0;
		}
		if (c[clen] == '\0')
			break;
		c += clen + 1;
	}
	return fail(err, errlen, "%s: \"%s\" is not one of %s", d->name, value,
	    d->choices);
}

/* Index of the scheme `url` starts with (case does not matter), or -1. */
static int
match_scheme(const char *url, const char *const *schemes)
{
	for (int i = 0; schemes[i] != NULL; i++)
		if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
			return i;
	return -1;
}

static int
check_url(int key, const char *value, char *err, size_t errlen)
{
	const char *name = config_defs[key].name;
	const char *const *schemes;
	const char *auth, *end, *at, *host, *host_end, *port;
	int s;

	schemes = key == CFG_REDIS_URL ? redis_schemes : http_schemes;
	s = match_scheme(value, schemes);
	if (s == -1)
		return fail(err, errlen, "%s: \"%s\" is not %s URL", name,
		    value, key == CFG_REDIS_URL ?
		    "a redis://, rediss:// or unix:" :
		    "an http:// or https://");
	if (strchr(value, ' ') != NULL)
		return fail(err, errlen, "%s: \"%s\" contains a space", name,
		    value);

	auth = value + strlen(schemes[s]);
	if (strcmp(schemes[s], "unix:") == 0) {
		if (*auth == '\0')
			return fail(err, errlen, "%s: \"%s\" has no socket path",
			    name, value);
		return 0;
	}

	/* scheme://[userinfo@]host[:port][/path][?query][#fragment] */
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	host = at != NULL ? at + 1 : auth;
	if (*host == '[') {
		/* An IPv6 literal, whose colons are not the port's. */
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL || host_end == host + 1)
			return fail(err, errlen, "%s: \"%s\" has no host",
			    name, value);
		port = host_end + 1;
		if (port < end && *port != ':')
			return fail(err, errlen,
			    "%s: \"%s\" has text after the IPv6 address",
			    name, value);
	} else {
		host_end = memchr(host, ':', (size_t)(end - host));
		if (host_end == NULL)
			host_end = end;
		if (host_end == host)
			return fail(err, errlen, "%s: \"%s\" has no host",
			    name, value);
		port = host_end;
	}
	if (port < end) {
		/* port points at ':'; what follows must be 1..65535. */
		long v = 0;
		const char *p;

		for (p = port + 1; p < end && p - port <= 5; p++) {
			if (*p < '0' || *p > '9')
				break;
			v = v * 10 + (*p - '0');
		}
		if (p != end || p == port + 1 || v < 1 || v > 65535)
			return fail(err, errlen, "%s: \"%s\" has an invalid port",
			    name, value);
	}
	return 0;
}

int
config_set(struct config *cfg, int key, const char *value,
    enum config_source src, char *err, size_t errlen)
{
	const struct config_def *d;
	struct config_value *v;
	long long i = 0;
	char *copy = NULL;

	if (key < 0 || key >= CFG__COUNT)
		return fail(err, errlen, "no configuration key number %d", key);
	d = &config_defs[key];
	v = &cfg->v[key];
	if (value == NULL)
		value = "";

	/*
	 * A newline would break config_dump()'s one line per key and could
	 * forge lines in a file written from it; no key needs one.
	 */
	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(err, errlen,
			    "%s: the value contains a control character",
			    d->name);

	switch (d->type) {
	case CONFIG_INT:
		if (check_int(d, value, &i, err, errlen) == -1)
			return -1;
		break;
	case CONFIG_ENUM:
		if (check_enum(d, value, &i, err, errlen) == -1)
			return -1;
		break;
	case CONFIG_URL:
		/* An optional URL (no default) is unset by an empty value. */
		if (*value == '\0' && d->defval == NULL) {
			value = NULL;
			break;
		}
		if (check_url(key, value, err, errlen) == -1)
			return -1;
		break;
	case CONFIG_STRING:
		if ((long long)strlen(value) < d->min)
			return fail(err, errlen,
			    "%s: the value is too short (%zu bytes, at least "
			    "%lld)", d->name, strlen(value), d->min);
		if ((long long)strlen(value) > d->max)
			return fail(err, errlen,
			    "%s: the value is too long (%zu bytes, at most "
			    "%lld)", d->name, strlen(value), d->max);
		break;
	}

	if (value != NULL)
		copy = xstrdup(value);
	free(v->s);
	v->s = copy;
	v->i = i;
	v->src = src;
	return 0;
}

void
config_init(struct config *cfg)
{
	char err[256];

	memset(cfg, 0, sizeof(*cfg));
	for (int k = 0; k < CFG__COUNT; k++) {
		if (config_defs[k].defval == NULL)
			continue;
		/* A default that fails its own check is a bug in config.h. */
		if (config_set(cfg, k, config_defs[k].defval,
		    CONFIG_SRC_DEFAULT, err, sizeof(err)) == -1)
			fatalx("bad default in config.h: %s", err);
	}
}

void
config_free(struct config *cfg)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		free(cfg->v[k].s);
		cfg->v[k].s = NULL;
	}
}

long long
config_int(const struct config *cfg, int key)
{
	return cfg->v[key].i;
}

const char *
config_str(const struct config *cfg, int key)
{
	return cfg->v[key].s;
}

/* ------------------------------------------------------------ the file */

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* The whole file; NULL with errno set on failure. */
static char *
read_whole_file(const char *path, size_t *lenp)
{
	FILE *fp;
	char *data;
	size_t len = 0, n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	data = xmalloc(CONFIG_FILE_MAX + 1);
	while ((n = fread(data + len, 1, CONFIG_FILE_MAX + 1 - len, fp)) > 0)
		len += n;
	if (ferror(fp) || len > CONFIG_FILE_MAX) {
		int e = ferror(fp) ? errno : EFBIG;

		fclose(fp);
		free(data);
		errno = e;
		return NULL;
	}
	fclose(fp);
	*lenp = len;
	return data;
}

/*
 * Parse one KEY=VALUE entry starting at *pp (just after leading blanks) and
 * apply it.  On return *pp is the start of the next line and *linep has been
 * advanced past any lines a quoted value spanned.
 */
static int
parse_entry(struct config *cfg, const char *path, char **pp, char *end,
    unsigned *linep, char *err, size_t errlen)
{
	unsigned line = *linep;
	char *p = *pp, *eol, *key, *key_end, *val, *val_end, *next, *q;
	char inner[512];
	int k;

	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	next = eol < end ? eol + 1 : end;
	if (eol > p && eol[-1] == '\r')		/* files edited on Windows */
		eol--;

	if (strncmp(p, "export", 6) == 0 && p + 6 < eol && is_blank(p[6])) {
		p += 6;
		while (p < eol && is_blank(*p))
			p++;
	}

	key = p;
	q = memchr(p, '=', (size_t)(eol - p));
	if (q == NULL)
		return fail(err, errlen, "%s:%u: expected KEY=VALUE", path,
		    line);
	key_end = q;
	while (key_end > key && is_blank(key_end[-1]))
		key_end--;
	for (char *c = key; c < key_end; c++)
		if (!is_key_char((unsigned char)*c))
			return fail(err, errlen, "%s:%u: \"%.*s\" is not a key",
			    path, line, (int)(key_end - key), key);
	if (key_end == key)
		return fail(err, errlen, "%s:%u: no key before '='", path,
		    line);

	val = q + 1;
	while (val < eol && is_blank(*val))
		val++;
	if (val < eol && (*val == '"' || *val == '\'' || *val == '`')) {
		/*
		 * Quoted.  The closing quote may be lines away: .env files
		 * shared with the Next.js app hold multi-line values (PEM
		 * keys), which we must step over even if we never use them.
		 */
		char quote = *val++;

		val_end = memchr(val, quote, (size_t)(end - val));
		if (val_end == NULL)
			return fail(err, errlen, "%s:%u: %.*s: no closing %c",
			    path, line, (int)(key_end - key), key, quote);
		for (char *c = val; c < val_end; c++)
			if (*c == '\n')
				(*linep)++;
		eol = memchr(val_end, '\n', (size_t)(end - val_end));
		if (eol == NULL)
			eol = end;
		next = eol < end ? eol + 1 : end;
		if (eol > val_end && eol[-1] == '\r')
			eol--;
		/* After the quote: nothing, or a comment. */
		for (q = val_end + 1; q < eol && is_blank(*q); q++)
			;
		if (q < eol && *q != '#' &&
		    memchr(val, '\n', (size_t)(val_end - val)) != NULL)
			/* A quote left open swallowed the next lines. */
			return fail(err, errlen,
			    "%s:%u: %.*s: no closing %c on this line", path,
			    line, (int)(key_end - key), key, quote);
		if (q < eol && *q != '#')
			return fail(err, errlen,
			    "%s:%u: %.*s: text after the closing %c", path,
			    line, (int)(key_end - key), key, quote);
	} else {
		/*
		 * Unquoted: " #" starts a comment, as in dotenv.  A '#' with
		 * no blank before it stays, for URLs with a fragment.  (q[-1]
		 * is at worst the '='.)
		 */
		val_end = val;
		for (q = val; q < eol; q++) {
			if (*q == '#' && is_blank(q[-1]))
				break;
			val_end = q + 1;
		}
		while (val_end > val && is_blank(val_end[-1]))
			val_end--;
	}
	*pp = next;

	/* The buffer is ours, so the pieces are terminated in place. */
	*key_end = '\0';
	*val_end = '\0';
	if ((k = config_key_by_name(key)) == -1) {
		/* Shared .env files hold the web app's keys too. */
		log_warnx("%s:%u: unknown key %s ignored", path, line, key);
		return 0;
	}
	if (memchr(val, '\n', (size_t)(val_end - val)) != NULL)
		/* Only unknown keys may have multi-line values; ours cannot. */
		return fail(err, errlen, "%s:%u: %s: no closing %c on this "
		    "line", path, line, key, val[-1]);
	if (config_set(cfg, k, val, CONFIG_SRC_FILE, inner,
	    sizeof(inner)) == -1)
		return fail(err, errlen, "%s:%u: %s", path, line, inner);
	return 0;
}

int
config_parse_text(struct config *cfg, const char *text, size_t len,
    const char *name, char *err, size_t errlen)
{
	char *data, *p, *end;
	unsigned line = 0;
	int rc = 0;

	if (memchr(text, '\0', len) != NULL)
		return fail(err, errlen, "%s: contains a NUL byte, not text",
		    name);
	/* parse_entry() terminates the key and the value in place. */
	data = xmalloc(len + 1);
	memcpy(data, text, len);
	data[len] = '\0';

	p = data;
	end = data + len;
	/* Editors on Windows may start the file with a UTF-8 BOM. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && rc == 0) {
		line++;
		while (p < end && is_blank(*p))
			p++;
		if (p < end && (*p == '\n' || *p == '\r' || *p == '#')) {
			/* A blank line or a comment. */
			char *eol = memchr(p, '\n', (size_t)(end - p));

			p = eol != NULL ? eol + 1 : end;
			continue;
		}
		if (p < end)
			rc = parse_entry(cfg, name, &p, end, &line, err,
			    errlen);
	}
	free(data);
	return rc;
}

int
config_load_file(struct config *cfg, const char *path, char *err,
    size_t errlen)
{
	char *data;
	size_t len;
	int rc;

	if ((data = read_whole_file(path, &len)) == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	rc = config_parse_text(cfg, data, len, path, err, errlen);
	free(data);
	return rc;
}

/* ----------------------------------------------- environment, argv */

int
config_load_env(struct config *cfg, char *err, size_t errlen)
{
	char inner[512];

	for (int k = 0; k < CFG__COUNT; k++) {
		const char *value = getenv(config_defs[k].name);

		if (value == NULL)
			continue;
		if (config_set(cfg, k, value, CONFIG_SRC_ENV, inner,
		    sizeof(inner)) == -1)
			return fail(err, errlen, "environment: %s", inner);
	}
	return 0;
}

struct cli_setting {
	int		 key;
	const char	*value;
};

/*
 * Read argv into `cli` and `set`; nothing is applied yet, because the
 * --config file must be read first even when it comes last.
 */
static int
parse_args(int argc, char **argv, struct config_cli *cli,
    struct cli_setting *set, int *nsetp, char *err, size_t errlen)
{
	int options_done = 0;

	*nsetp = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *opt, *eq, *value;
		size_t optlen;
		int k;

		if (options_done || arg[0] != '-') {
			eq = strchr(arg, '=');
			if (eq == NULL || eq == arg)
				return fail(err, errlen, "unexpected argument "
				    "\"%s\" (settings are KEY=VALUE)", arg);
			k = key_by_name_len(arg, (size_t)(eq - arg));
			if (k == -1)
				return fail(err, errlen,
				    "command line: unknown key %.*s",
				    (int)(eq - arg), arg);
			set[*nsetp].key = k;
			set[*nsetp].value = eq + 1;
			(*nsetp)++;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = 1;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cli->help = 1;
			continue;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			cli->version = 1;
			continue;
		}
		if (strcmp(arg, "--check-config") == 0) {
			cli->check_config = 1;
			continue;
		}
		if (strcmp(arg, "-d") == 0 || strcmp(arg, "--daemon") == 0) {
			cli->daemon = 1;
			continue;
		}
		if (arg[1] != '-')
			return fail(err, errlen, "unknown option \"%s\"", arg);

		/* --name VALUE or --name=VALUE */
		opt = arg + 2;
		eq = strchr(opt, '=');
		optlen = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
		if (optlen == 6 && strncmp(opt, "config", 6) == 0)
			k = -2;
		else if ((k = key_by_long_option(opt, optlen)) == -1)
			return fail(err, errlen, "unknown option \"%s\"", arg);
		if (eq != NULL)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];	/* even "-1": let it be judged */
		else
			return fail(err, errlen, "option --%.*s needs a value",
			    (int)optlen, opt);

		if (k == -2) {
			if (*value == '\0')
				return fail(err, errlen,
				    "option --config needs a file name");
			cli->config_file = value;	/* the last one wins */
		} else {
			set[*nsetp].key = k;
			set[*nsetp].value = value;
			(*nsetp)++;
		}
	}
	return 0;
}

int
config_load(struct config *cfg, int argc, char **argv,
    struct config_cli *cli, char *err, size_t errlen)
{
	struct cli_setting *set;
	char inner[512];
	int nset, rc = -1;

	memset(cli, 0, sizeof(*cli));
	/* First, so that cfg can be freed whatever happens below. */
	config_init(cfg);

	set = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof(*set));
	if (parse_args(argc, argv, cli, set, &nset, err, errlen) == -1)
		goto out;

	/* --help and --version must work even with a broken configuration. */
	if (cli->help || cli->version) {
		rc = 0;
		goto out;
	}

	if (cli->config_file != NULL &&
	    config_load_file(cfg, cli->config_file, err, errlen) == -1)
		goto out;
	if (config_load_env(cfg, err, errlen) == -1)
		goto out;
	for (int i = 0; i < nset; i++)
		if (config_set(cfg, set[i].key, set[i].value, CONFIG_SRC_CLI,
		    inner, sizeof(inner)) == -1) {
			fail(err, errlen, "command line: %s", inner);
			goto out;
		}
	rc = 0;
out:
	free(set);
	return rc;
}

/* ------------------------------------------------------------ printing */

const char *
config_file_quote(const char *s)
{
	size_t len = strlen(s);
	int need;

	if (len == 0)
		return "";
	need = is_blank(s[0]) || is_blank(s[len - 1]) || s[0] == '"' ||
	    s[0] == '\'' || s[0] == '`';
	/* Unquoted, a blank and a '#' start a comment; a bare '#' stays. */
	for (size_t i = 1; !need && i < len; i++)
		need = s[i] == '#' && is_blank(s[i - 1]);
	if (!need)
		return "";
	/* No escapes: a value with all three quotes cannot be quoted. */
	return strchr(s, '"') == NULL ? "\"" :
	    strchr(s, '\'') == NULL ? "'" : "`";
}

/*
 * Print a URL with the password in its userinfo replaced by "***":
 * config_dump() output reaches terminals, bug reports and coupctl.
 */
static void
print_url_masked(FILE *fp, const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at = NULL, *colon, *keep;

	if (auth == NULL) {
		fputs(url, fp);
		return;
	}
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL) {
		fputs(url, fp);
		return;
	}
	/* Keep "user:" of "user:pass@"; a bare "secret@" is all password. */
	colon = memchr(auth, ':', (size_t)(at - auth));
	keep = colon != NULL ? colon + 1 : auth;
	fprintf(fp, "%.*s***%s", (int)(keep - url), url, at);
}

int
config_is_secret(int k)
{
	const char *n = config_defs[k].name;
	size_t len = strlen(n);

	return len > 7 && strcmp(n + len - 7, "_SECRET") == 0;
}

void
config_dump(const struct config *cfg, FILE *fp)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct config_def *d = &config_defs[k];
		const char *s = cfg->v[k].s != NULL ? cfg->v[k].s : "";
		/* So that the output can serve as a file. */
		const char *quote = config_file_quote(s);

		fprintf(fp, "%s=%s", d->name, quote);
		if (d->type == CONFIG_URL)
			print_url_masked(fp, s);
		else if (config_is_secret(k) && *s != '\0')
			fputs("(set)", fp);
		else
			fputs(s, fp);
		fprintf(fp, "%s  # %s\n", quote, source_names[cfg->v[k].src]);
	}
}

/*
 * Words of `text` after `indent` spaces, in lines of at most `width`
 * columns (a word longer than that gets a line of its own).
 */
static void
print_wrapped(FILE *fp, const char *text, int indent, int width)
{
	int col = 0;

	while (*text != '\0') {
		size_t n;

		while (*text == ' ')
			text++;
		n = strcspn(text, " ");
		if (n == 0)
			break;
		if (col > 0 && col + 1 + (int)n > width) {
			fputc('\n', fp);
			col = 0;
		}
		if (col == 0)
			col = fprintf(fp, "%*s", indent, "");
		else
			col += fprintf(fp, " ");
		col += fprintf(fp, "%.*s", (int)n, text);
		text += n;
	}
	fputc('\n', fp);
}

void
config_usage(FILE *fp, const char *progname)
{
	char opt[64], line[512];
	size_t used;

	fprintf(fp,
	    "Usage: %s [OPTION]... [KEY=VALUE]...\n"
	    "\n"
	    "Options:\n"
	    "  --config FILE    read KEY=VALUE lines from FILE "
	    "(a .env file will do)\n"
	    "  --check-config   check the configuration, print it and exit\n"
	    "  -d, --daemon     detach, write PID_FILE, log to syslog\n"
	    "  -h, --help       print this help and exit\n"
	    "  -V, --version    print the version and exit\n"
	    "\n"
	    "Each setting comes from the first of: the command line "
	    "(KEY=VALUE or\n"
	    "--key-name VALUE), the environment (KEY), the --config file, "
	    "the default.\n"
	    "\n"
	    "Settings:\n", progname);

	for (int k = 0; k < CFG__COUNT; k++) {
		const struct config_def *d = &config_defs[k];
		const char *meta = "";

		long_option_name(k, opt, sizeof(opt));
		switch (d->type) {
		case CONFIG_INT:
			meta = "N";
			break;
		case CONFIG_STRING:
			meta = "TEXT";
			break;
		case CONFIG_ENUM:
			meta = d->choices;
			break;
		case CONFIG_URL:
			meta = "URL";
			break;
		}
		fprintf(fp, "  %s, --%s %s\n", d->name, opt, meta);
		print_wrapped(fp, d->doc, 8, 78);

		switch (d->type) {
		case CONFIG_INT:
			snprintf(line, sizeof(line), "An integer from %lld to "
			    "%lld", d->min, d->max);
			break;
		case CONFIG_STRING:
			if (d->min > 0)
				snprintf(line, sizeof(line), "Text of %lld to "
				    "%lld bytes", d->min, d->max);
			else
				snprintf(line, sizeof(line), "Text of at most "
				    "%lld bytes", d->max);
			break;
		case CONFIG_ENUM:
			snprintf(line, sizeof(line), "One of %s", d->choices);
			break;
		case CONFIG_URL:
			snprintf(line, sizeof(line), "%s URL",
			    k == CFG_REDIS_URL ?
			    "A redis://, rediss:// or unix:" :
			    "An http:// or https://");
			break;
		}
		used = strlen(line);
		if (d->defval == NULL)
			snprintf(line + used, sizeof(line) - used,
			    "; unset by default.");
		else if (*d->defval == '\0')
			snprintf(line + used, sizeof(line) - used,
			    "; empty by default.");
		else
			snprintf(line + used, sizeof(line) - used,
			    "; default %s.", d->defval);
		print_wrapped(fp, line, 8, 78);
		if (d->reloadable)
			fprintf(fp, "        SIGHUP may change it.\n");
	}
}
