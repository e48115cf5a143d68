/*
 * test_config.c - unit tests for the configuration table, the log helpers
 * and the ISO timestamps they print.
 *
 * Every expected value is written out by hand from contract section 8 and
 * the table in config.h, not computed with the code under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * By path, not "config.h": in the automake build -I. comes first and
 * holds autoconf's own config.h.
 */
#include "../../common/config.h"
#include "../../common/log.h"
#include "../../common/timestamp.h"
#include "tap.h"

static char err[1024];

/* Each test starts from a clean environment, whatever the shell had. */
static void
clear_env(void)
{
	for (int k = 0; k < CFG__COUNT; k++)
		unsetenv(config_defs[k].name);
}

/* Write `text` to a new temporary file; the caller unlinks it. */
static char *
temp_file(const char *text)
{
	static char paths[8][64];
	static int next;
	char *path = paths[next++ % 8];
	int fd;

	snprintf(path, 64, "/tmp/test_config.XXXXXX");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(99);
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("write");
		exit(99);
	}
	close(fd);
	return path;
}

/* Read a whole small file into a static buffer. */
static const char *
slurp(const char *path)
{
	static char text[8192];
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
	}
	text[n] = '\0';
	return text;
}

/* Capture what the code under test writes to stderr (the log). */
static int saved_stderr = -1;
static char capture_path[64];

static void
capture_start(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path),
	    "/tmp/test_config.log.XXXXXX");
	if ((fd = mkstemp(capture_path)) == -1) {
		perror("mkstemp");
		exit(99);
	}
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static const char *
capture_end(void)
{
	const char *text;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	text = slurp(capture_path);
	unlink(capture_path);
	return text;
}

static void
test_defaults(void)
{
	struct config cfg;

	config_init(&cfg);
	is_int(config_int(&cfg, CFG_PORT), 4000, "default PORT 4000");
	is_str(config_str(&cfg, CFG_PORT), "4000", "PORT text");
	is_int(cfg.v[CFG_PORT].src, CONFIG_SRC_DEFAULT, "PORT from default");
	is_str(config_str(&cfg, CFG_HOST), "", "default HOST empty");
	is_int(config_int(&cfg, CFG_NODE_ENV), 0, "NODE_ENV index 0");
	is_str(config_str(&cfg, CFG_NODE_ENV), "development",
	    "default NODE_ENV development");
	is_str(config_str(&cfg, CFG_NEXTJS_URL), "http://localhost:3000",
	    "default NEXTJS_URL");
	ok(config_str(&cfg, CFG_REDIS_URL) == NULL, "REDIS_URL unset");
	is_str(config_str(&cfg, CFG_ALLOWED_ORIGINS), "http://localhost:3000",
	    "default ALLOWED_ORIGINS");
	is_int(config_int(&cfg, CFG_LOG_LEVEL), 1, "LOG_LEVEL index of info");
	is_str(config_str(&cfg, CFG_LOG_LEVEL), "info", "default LOG_LEVEL");
	is_int(config_int(&cfg, CFG_PING_INTERVAL_MS), 25000,
	    "default PING_INTERVAL_MS");
	is_int(config_int(&cfg, CFG_PING_TIMEOUT_MS), 60000,
	    "default PING_TIMEOUT_MS");
	is_int(config_int(&cfg, CFG_MAX_PAYLOAD), 1000000,
	    "default MAX_PAYLOAD");
	is_int(config_int(&cfg, CFG_CONNECT_TIMEOUT_MS), 45000,
	    "default CONNECT_TIMEOUT_MS");
	is_int(config_int(&cfg, CFG_SEND_QUEUE_MAX), 4194304,
	    "default SEND_QUEUE_MAX");
	is_int(config_int(&cfg, CFG_MAX_CONNECTIONS), 100000,
	    "default MAX_CONNECTIONS");
	config_free(&cfg);

	is_int(config_key_by_name("PING_TIMEOUT_MS"), CFG_PING_TIMEOUT_MS,
	    "key by name");
	is_int(config_key_by_name("port"), -1, "key names are case-sensitive");
	is_int(config_key_by_name("NOPE"), -1, "unknown key name");
	is_str(config_defs[CFG_MAX_PAYLOAD].name, "MAX_PAYLOAD",
	    "table name from the X-macro");
	is_int(config_defs[CFG_MAX_PAYLOAD].min, 1024, "table bounds");
}

/* Set `value` on `key` and expect an error message, exactly. */
static void
expect_error(int key, const char *value, const char *want, const char *what)
{
	struct config cfg;

	config_init(&cfg);
	err[0] = '\0';
	is_int(config_set(&cfg, key, value, CONFIG_SRC_CLI, err, sizeof(err)),
	    -1, what);
	is_str(err, want, "  and says so");
	config_free(&cfg);
}

static void
test_int(void)
{
	struct config cfg;
	char num[32];

	config_init(&cfg);
	is_int(config_set(&cfg, CFG_PORT, "8080", CONFIG_SRC_CLI, err,
	    sizeof(err)), 0, "PORT 8080 accepted");
	is_int(config_int(&cfg, CFG_PORT), 8080, "PORT is 8080");
	is_int(cfg.v[CFG_PORT].src, CONFIG_SRC_CLI, "PORT from command line");
	is_int(config_set(&cfg, CFG_PORT, "1", CONFIG_SRC_CLI, err,
	    sizeof(err)), 0, "PORT at its minimum");
	is_int(config_set(&cfg, CFG_PORT, "65535", CONFIG_SRC_CLI, err,
	    sizeof(err)), 0, "PORT at its maximum");
	/* MAX_PAYLOAD is bounded by what a room process's channel carries. */
	snprintf(num, sizeof(num), "%d", BOUND_PAYLOAD);
	is_int(config_set(&cfg, CFG_MAX_PAYLOAD, num, CONFIG_SRC_CLI,
	    err, sizeof(err)), 0, "MAX_PAYLOAD at its maximum");
	is_int(config_int(&cfg, CFG_MAX_PAYLOAD), BOUND_PAYLOAD, "MAX_PAYLOAD");
	snprintf(num, sizeof(num), "%d", BOUND_PAYLOAD + 1);
	is_int(config_set(&cfg, CFG_MAX_PAYLOAD, num, CONFIG_SRC_CLI,
	    err, sizeof(err)), -1, "MAX_PAYLOAD over what the IPC carries");
	is_int(config_int(&cfg, CFG_MAX_PAYLOAD), BOUND_PAYLOAD, "  unchanged");
	is_int(config_set(&cfg, CFG_PORT, "abc", CONFIG_SRC_CLI, err,
	    sizeof(err)), -1, "a failed set...");
	is_int(config_int(&cfg, CFG_PORT), 65535, "  leaves the old value");
	is_str(config_str(&cfg, CFG_PORT), "65535", "  and its text");
	config_free(&cfg);

	expect_error(CFG_PORT, "abc", "PORT: \"abc\" is not a number",
	    "PORT abc refused");
	expect_error(CFG_PORT, "", "PORT: \"\" is not a number",
	    "empty PORT refused");
	expect_error(CFG_PORT, "4000 ", "PORT: \"4000 \" is not a number",
	    "trailing space refused");
	expect_error(CFG_PORT, "40x", "PORT: \"40x\" is not a number",
	    "trailing junk refused");
	expect_error(CFG_PORT, "0x10", "PORT: \"0x10\" is not a number",
	    "hexadecimal refused");
	expect_error(CFG_PORT, "-", "PORT: \"-\" is not a number",
	    "a lone sign refused");
	expect_error(CFG_PORT, "-1", "PORT: -1 is below the minimum 1",
	    "negative PORT refused");
	expect_error(CFG_PORT, "0", "PORT: 0 is below the minimum 1",
	    "PORT 0 refused");
	expect_error(CFG_PORT, "65536", "PORT: 65536 is above the maximum 65535",
	    "PORT 65536 refused");
	expect_error(CFG_PORT, "99999999999999999999",
	    "PORT: 99999999999999999999 is above the maximum 65535",
	    "overflow refused as too large");
	expect_error(CFG_MAX_CONNECTIONS, "-99999999999999999999",
	    "MAX_CONNECTIONS: -99999999999999999999 is below the minimum 1",
	    "negative overflow refused as too small");
	expect_error(CFG_PING_INTERVAL_MS, "10",
	    "PING_INTERVAL_MS: 10 is below the minimum 50",
	    "PING_INTERVAL_MS 10 refused");
	expect_error(CFG_SEND_QUEUE_MAX, "-5",
	    "SEND_QUEUE_MAX: -5 is below the minimum 65536",
	    "negative limit refused");
}

static void
test_enum(void)
{
	struct config cfg;

	config_init(&cfg);
	is_int(config_set(&cfg, CFG_NODE_ENV, "production", CONFIG_SRC_ENV,
	    err, sizeof(err)), 0, "NODE_ENV production accepted");
	is_int(config_int(&cfg, CFG_NODE_ENV), 1, "production is index 1");
	is_str(config_str(&cfg, CFG_NODE_ENV), "production", "and its text");
	is_int(config_set(&cfg, CFG_LOG_LEVEL, "debug", CONFIG_SRC_ENV, err,
	    sizeof(err)), 0, "LOG_LEVEL debug accepted");
	is_int(config_int(&cfg, CFG_LOG_LEVEL), 0, "debug is index 0");
	is_int(config_set(&cfg, CFG_LOG_LEVEL, "error", CONFIG_SRC_ENV, err,
	    sizeof(err)), 0, "LOG_LEVEL error accepted");
	is_int(config_int(&cfg, CFG_LOG_LEVEL), 3, "error is index 3");
	config_free(&cfg);

	expect_error(CFG_NODE_ENV, "staging",
	    "NODE_ENV: \"staging\" is not one of development|production",
	    "NODE_ENV staging refused");
	expect_error(CFG_NODE_ENV, "",
	    "NODE_ENV: \"\" is not one of development|production",
	    "empty NODE_ENV refused");
	expect_error(CFG_NODE_ENV, "develop",
	    "NODE_ENV: \"develop\" is not one of development|production",
	    "a prefix of a choice refused");
	expect_error(CFG_LOG_LEVEL, "verbose",
	    "LOG_LEVEL: \"verbose\" is not one of debug|info|warn|error",
	    "unknown log level refused");
	expect_error(CFG_LOG_LEVEL, "DEBUG",
	    "LOG_LEVEL: \"DEBUG\" is not one of debug|info|warn|error",
	    "choices are case-sensitive");
}

static void
test_url(void)
{
	static const char *const good_http[] = {
		"https://coup.example.com",
		"http://localhost:3000/api",
		"HTTPS://coup.example.com/",
		"http://user:pw@[::1]:3000/x?y#z",
		"http://10.0.0.1",
	};
	static const char *const good_redis[] = {
		"redis://localhost:6379",
		"rediss://:secret@redis.example.com:6380/0",
		"unix:/run/redis/redis.sock",
	};
	struct config cfg;

	config_init(&cfg);
	for (size_t i = 0; i < sizeof(good_http) / sizeof(good_http[0]); i++) {
		is_int(config_set(&cfg, CFG_NEXTJS_URL, good_http[i],
		    CONFIG_SRC_FILE, err, sizeof(err)), 0, good_http[i]);
		is_str(config_str(&cfg, CFG_NEXTJS_URL), good_http[i],
		    "  stored as given");
	}
	for (size_t i = 0; i < sizeof(good_redis) / sizeof(good_redis[0]);
	    i++) {
		is_int(config_set(&cfg, CFG_REDIS_URL, good_redis[i],
		    CONFIG_SRC_FILE, err, sizeof(err)), 0, good_redis[i]);
		is_str(config_str(&cfg, CFG_REDIS_URL), good_redis[i],
		    "  stored as given");
	}
	is_int(config_set(&cfg, CFG_REDIS_URL, "", CONFIG_SRC_ENV, err,
	    sizeof(err)), 0, "empty REDIS_URL accepted");
	ok(config_str(&cfg, CFG_REDIS_URL) == NULL, "  and means unset");
	is_int(cfg.v[CFG_REDIS_URL].src, CONFIG_SRC_ENV,
	    "  by the environment");
	config_free(&cfg);

	expect_error(CFG_NEXTJS_URL, "ftp://example.com",
	    "NEXTJS_URL: \"ftp://example.com\" is not an http:// or https:// URL",
	    "ftp URL refused");
	expect_error(CFG_NEXTJS_URL, "localhost:3000",
	    "NEXTJS_URL: \"localhost:3000\" is not an http:// or https:// URL",
	    "URL without a scheme refused");
	expect_error(CFG_NEXTJS_URL, "",
	    "NEXTJS_URL: \"\" is not an http:// or https:// URL",
	    "empty NEXTJS_URL refused (it has a default)");
	expect_error(CFG_NEXTJS_URL, "http://",
	    "NEXTJS_URL: \"http://\" has no host", "URL without a host refused");
	expect_error(CFG_NEXTJS_URL, "http://:3000/",
	    "NEXTJS_URL: \"http://:3000/\" has no host",
	    "URL with a port but no host refused");
	expect_error(CFG_NEXTJS_URL, "http://user@/x",
	    "NEXTJS_URL: \"http://user@/x\" has no host",
	    "URL with user info but no host refused");
	expect_error(CFG_NEXTJS_URL, "http://host:99999",
	    "NEXTJS_URL: \"http://host:99999\" has an invalid port",
	    "URL with port 99999 refused");
	expect_error(CFG_NEXTJS_URL, "http://host:80a",
	    "NEXTJS_URL: \"http://host:80a\" has an invalid port",
	    "URL with a bad port refused");
	expect_error(CFG_NEXTJS_URL, "http://a b",
	    "NEXTJS_URL: \"http://a b\" contains a space",
	    "URL with a space refused");
	expect_error(CFG_REDIS_URL, "http://localhost:6379",
	    "REDIS_URL: \"http://localhost:6379\" is not a redis://, "
	    "rediss:// or unix: URL", "REDIS_URL over http refused");
	expect_error(CFG_REDIS_URL, "redis://",
	    "REDIS_URL: \"redis://\" has no host", "redis:// without host");
	expect_error(CFG_REDIS_URL, "unix:",
	    "REDIS_URL: \"unix:\" has no socket path", "unix: without a path");
}

static void
test_string(void)
{
	struct config cfg;
	char long_host[300], want[64];

	config_init(&cfg);
	is_int(config_set(&cfg, CFG_HOST, "127.0.0.1", CONFIG_SRC_FILE, err,
	    sizeof(err)), 0, "HOST accepted");
	is_str(config_str(&cfg, CFG_HOST), "127.0.0.1", "HOST stored");
	memset(long_host, 'h', 255);
	long_host[255] = '\0';
	is_int(config_set(&cfg, CFG_HOST, long_host, CONFIG_SRC_FILE, err,
	    sizeof(err)), 0, "HOST of 255 bytes accepted");
	is_int(strlen(config_str(&cfg, CFG_HOST)), 255, "  all of it");
	config_free(&cfg);

	long_host[255] = 'h';
	long_host[256] = '\0';
	expect_error(CFG_HOST, long_host,
	    "HOST: the value is too long (256 bytes, at most 255)",
	    "HOST of 256 bytes refused");
	expect_error(CFG_ALLOWED_ORIGINS, "http://a\nhttp://b",
	    "ALLOWED_ORIGINS: the value contains a control character",
	    "a newline in a value refused");
	snprintf(want, sizeof(want), "no configuration key number %d",
	    CFG__COUNT);
	expect_error(CFG__COUNT, "1", want, "key out of the table refused");
}

static void
test_file(void)
{
	struct config cfg;
	const char *path, *log;
	char want[256];

	clear_env();
	path = temp_file(
	    "# CoUp settings, shared with the Next.js app\n"
	    "\n"
	    "   \t\n"
	    "export PORT=5000\n"
	    "  NODE_ENV = \"production\"  \n"
	    "NEXTJS_URL='https://coup.example.com'   # the API\n"
	    "ALLOWED_ORIGINS=https://a.example, https://b.example # two\n"
	    "NEXTAUTH_SECRET=whatever\n"
	    "PRIVATE_KEY=\"-----BEGIN KEY-----\n"
	    "abc=def\n"
	    "-----END KEY-----\"\n"
	    "LOG_LEVEL=warn\n"
	    "HOST=`::1`\n"
	    "MAX_CONNECTIONS=500\n"
	    "MAX_CONNECTIONS=600\n"
	    "REDIS_URL=\n"
	    "SEND_QUEUE_MAX=65536");		/* no final newline */
	config_init(&cfg);
	capture_start();
	is_int(config_load_file(&cfg, path, err, sizeof(err)), 0,
	    ".env file loads");
	log = capture_end();
	is_int(config_int(&cfg, CFG_PORT), 5000, "export PORT=5000");
	is_int(cfg.v[CFG_PORT].src, CONFIG_SRC_FILE, "PORT from the file");
	is_str(config_str(&cfg, CFG_NODE_ENV), "production",
	    "double quotes and blanks around = and the line");
	is_str(config_str(&cfg, CFG_NEXTJS_URL), "https://coup.example.com",
	    "single quotes, then a comment");
	is_str(config_str(&cfg, CFG_ALLOWED_ORIGINS),
	    "https://a.example, https://b.example",
	    "unquoted value with a space, comment cut off");
	is_str(config_str(&cfg, CFG_LOG_LEVEL), "warn",
	    "key after a multi-line value of another key");
	is_str(config_str(&cfg, CFG_HOST), "::1", "backquotes");
	is_int(config_int(&cfg, CFG_MAX_CONNECTIONS), 600,
	    "a repeated key: the last line wins");
	ok(config_str(&cfg, CFG_REDIS_URL) == NULL, "REDIS_URL= is unset");
	is_int(config_int(&cfg, CFG_SEND_QUEUE_MAX), 65536,
	    "last line without a newline");
	is_int(cfg.v[CFG_PING_INTERVAL_MS].src, CONFIG_SRC_DEFAULT,
	    "a key not in the file keeps its default");
	snprintf(want, sizeof(want), "%s:8: unknown key NEXTAUTH_SECRET ignored",
	    path);
	ok(strstr(log, want) != NULL, "unknown key is a warning with file:line");
	ok(strstr(log, " warn: ") != NULL, "  at warn level");
	ok(strstr(log, "PRIVATE_KEY ignored") != NULL,
	    "multi-line unknown value is skipped whole");
	ok(strstr(log, "abc") == NULL, "  not read as a line of its own");
	config_free(&cfg);
	unlink(path);

	/* Windows line ends, and the byte order mark some editors add. */
	path = temp_file("\xef\xbb\xbfPORT=4100\r\nNODE_ENV=production\r\n");
	config_init(&cfg);
	is_int(config_load_file(&cfg, path, err, sizeof(err)), 0,
	    "CRLF file loads");
	is_int(config_int(&cfg, CFG_PORT), 4100, "  PORT");
	is_str(config_str(&cfg, CFG_NODE_ENV), "production", "  NODE_ENV");
	config_free(&cfg);
	unlink(path);
}

/* Load `text` as a file and expect the error "<path>:<want>". */
static void
expect_file_error(const char *text, const char *want, const char *what)
{
	struct config cfg;
	char full[512];
	const char *path = temp_file(text);

	config_init(&cfg);
	err[0] = '\0';
	is_int(config_load_file(&cfg, path, err, sizeof(err)), -1, what);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	is_str(err, full, "  and names file, line and key");
	config_free(&cfg);
	unlink(path);
}

static void
test_file_errors(void)
{
	struct config cfg;

	expect_file_error("# ports\n\nPORT=abc\n",
	    "3: PORT: \"abc\" is not a number", "bad value in a file");
	expect_file_error("PORT=4000\njust words\n",
	    "2: expected KEY=VALUE", "line without '='");
	expect_file_error("PORT=4000\n=5\n", "2: no key before '='",
	    "line without a key");
	expect_file_error("MY KEY=5\n", "1: \"MY KEY\" is not a key",
	    "key with a space");
	expect_file_error("NODE_ENV=\"production\n",
	    "1: NODE_ENV: no closing \"", "quote left open");
	expect_file_error("NODE_ENV='production' x\n",
	    "1: NODE_ENV: text after the closing '", "text after a quote");
	expect_file_error("PORT=\"4000\nHOST=\"x\"\n",
	    "1: PORT: no closing \" on this line",
	    "quote left open swallowing the next line");
	expect_file_error("# a\nHOST='x\ny'\n",
	    "2: HOST: no closing ' on this line",
	    "a multi-line value for one of our keys");
	expect_file_error("# a\nLOG_LEVEL=loud\n",
	    "2: LOG_LEVEL: \"loud\" is not one of debug|info|warn|error",
	    "bad level in a file");

	config_init(&cfg);
	is_int(config_load_file(&cfg, "/nonexistent/coup.env", err,
	    sizeof(err)), -1, "missing file is an error");
	is_str(err, "/nonexistent/coup.env: No such file or directory",
	    "  naming the file");
	config_free(&cfg);
}

/* The parser over a buffer: no file, no NUL terminator, nothing written. */
static void
test_parse_text(void)
{
	struct config cfg;
	char text[] = "PORT=5000\nHOST=abcdef\nLOG_LEVEL=loud\n";
	const char *cut = "PORT=5000\nHOST=abc";

	clear_env();
	config_init(&cfg);
	is_int(config_parse_text(&cfg, text, strlen(cut), "t.env", err,
	    sizeof(err)), 0, "parse_text: the first len bytes only");
	is_int(config_int(&cfg, CFG_PORT), 5000, "  PORT");
	is_str(config_str(&cfg, CFG_HOST), "abc", "  HOST ends at len");
	is_int(cfg.v[CFG_HOST].src, CONFIG_SRC_FILE, "  from the file");
	is_int(cfg.v[CFG_LOG_LEVEL].src, CONFIG_SRC_DEFAULT,
	    "  the line past len is not read");
	is_str(text, "PORT=5000\nHOST=abcdef\nLOG_LEVEL=loud\n",
	    "  the text is left as it was");
	config_free(&cfg);

	config_init(&cfg);
	is_int(config_parse_text(&cfg, text, strlen(text), "t.env", err,
	    sizeof(err)), -1, "parse_text: a bad line");
	is_str(err, "t.env:3: LOG_LEVEL: \"loud\" is not one of "
	    "debug|info|warn|error", "  names the text and the line");
	is_int(config_int(&cfg, CFG_PORT), 5000,
	    "  the lines before it are applied");
	config_free(&cfg);

	config_init(&cfg);
	is_int(config_parse_text(&cfg, "PORT=1\0", 7, "t.env", err,
	    sizeof(err)), -1, "parse_text: a NUL byte within len");
	is_str(err, "t.env: contains a NUL byte, not text", "  is not text");
	is_int(config_int(&cfg, CFG_PORT), 4000, "  and nothing is applied");
	is_int(config_parse_text(&cfg, "PORT=1\0", 6, "t.env", err,
	    sizeof(err)), 0, "parse_text: a NUL just past len is not read");
	is_int(config_int(&cfg, CFG_PORT), 1, "  PORT");
	is_int(config_parse_text(&cfg, "", 0, "t.env", err, sizeof(err)), 0,
	    "parse_text: empty text");
	is_int(config_parse_text(&cfg, "PORT=x", 6, "t.env", NULL, 0), -1,
	    "parse_text: an error with no room for its message");
	config_free(&cfg);
}

/* The quotes config_dump() and the example file put around values. */
static void
test_file_quote(void)
{
	struct config cfg, again;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	is_str(config_file_quote(""), "", "quote: empty needs none");
	is_str(config_file_quote("http://a/#x"), "",
	    "quote: a '#' after no blank stays without");
	is_str(config_file_quote("a #x"), "\"",
	    "quote: a blank and a '#' would start a comment");
	is_str(config_file_quote("a\t#x"), "\"", "  a tab too");
	is_str(config_file_quote(" a"), "\"", "quote: a leading blank");
	is_str(config_file_quote("a\t"), "\"", "quote: a trailing blank");
	is_str(config_file_quote("\"a"), "'", "quote: a leading quote");
	is_str(config_file_quote("'a\""), "`", "  one the value lacks");
	is_str(config_file_quote("x#\"'`"), "",
	    "quote: all three quotes, none needed");

	/* Found by fuzz_config: this one came back as "text after `". */
	config_init(&cfg);
	is_int(config_set(&cfg, CFG_HOST, "x#\"'`", CONFIG_SRC_CLI, err,
	    sizeof(err)), 0, "HOST with '#' and every quote");
	fp = open_memstream(&text, &len);
	config_dump(&cfg, fp);
	fclose(fp);
	ok(strstr(text, "\nHOST=x#\"'`  # command line\n") != NULL,
	    "  dumped unquoted");
	config_init(&again);
	is_int(config_parse_text(&again, text, len, "dump", err, sizeof(err)),
	    0, "  and the dump reads back");
	is_str(config_str(&again, CFG_HOST), "x#\"'`", "  the same");
	config_free(&again);
	config_free(&cfg);
	free(text);
}

static void
test_env(void)
{
	struct config cfg;

	clear_env();
	setenv("PORT", "6000", 1);
	setenv("NODE_ENV", "production", 1);
	setenv("REDIS_URL", "", 1);
	config_init(&cfg);
	is_int(config_load_env(&cfg, err, sizeof(err)), 0, "environment loads");
	is_int(config_int(&cfg, CFG_PORT), 6000, "PORT from the environment");
	is_int(cfg.v[CFG_PORT].src, CONFIG_SRC_ENV, "  marked environment");
	is_str(config_str(&cfg, CFG_NODE_ENV), "production", "NODE_ENV");
	ok(config_str(&cfg, CFG_REDIS_URL) == NULL, "REDIS_URL= means unset");
	is_int(cfg.v[CFG_HOST].src, CONFIG_SRC_DEFAULT, "HOST not in env");

	setenv("PORT", "abc", 1);
	is_int(config_load_env(&cfg, err, sizeof(err)), -1,
	    "bad PORT in the environment");
	is_str(err, "environment: PORT: \"abc\" is not a number",
	    "  names the key");
	config_free(&cfg);
	clear_env();
}

/* config_load() with a NULL-terminated list of arguments. */
static int
load_args(struct config *cfg, struct config_cli *cli, const char **args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"coup-gateway";
	for (; *args != NULL; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = '\0';
	return config_load(cfg, argc, argv, cli, err, sizeof(err));
}

static void
test_precedence(void)
{
	struct config cfg;
	struct config_cli cli;
	const char *path;

	clear_env();
	path = temp_file(
	    "PORT=5000\n"
	    "LOG_LEVEL=warn\n"
	    "NODE_ENV=production\n"
	    "MAX_CONNECTIONS=10\n");
	setenv("PORT", "6000", 1);
	setenv("LOG_LEVEL", "error", 1);

	/* The setting comes before --config: the file must still lose. */
	is_int(load_args(&cfg, &cli, (const char *[]){ "PORT=7000",
	    "--config", path, NULL }), 0, "file + env + argv load");
	is_int(config_int(&cfg, CFG_PORT), 7000, "command line beats all");
	is_int(cfg.v[CFG_PORT].src, CONFIG_SRC_CLI, "  marked command line");
	is_str(config_str(&cfg, CFG_LOG_LEVEL), "error",
	    "environment beats the file");
	is_int(cfg.v[CFG_LOG_LEVEL].src, CONFIG_SRC_ENV, "  marked environment");
	is_str(config_str(&cfg, CFG_NODE_ENV), "production",
	    "file beats the default");
	is_int(cfg.v[CFG_NODE_ENV].src, CONFIG_SRC_FILE, "  marked file");
	is_int(config_int(&cfg, CFG_MAX_CONNECTIONS), 10, "MAX_CONNECTIONS");
	is_int(config_int(&cfg, CFG_PING_TIMEOUT_MS), 60000, "default stays");
	is_int(cfg.v[CFG_PING_TIMEOUT_MS].src, CONFIG_SRC_DEFAULT,
	    "  marked default");
	is_str(cli.config_file, path, "cli.config_file set");
	ok(!cli.check_config && !cli.help && !cli.version, "no flags");
	config_free(&cfg);

	unsetenv("PORT");
	is_int(load_args(&cfg, &cli, (const char *[]){ "--config", path,
	    NULL }), 0, "without PORT in the environment");
	is_int(config_int(&cfg, CFG_PORT), 5000, "  the file's PORT");
	config_free(&cfg);

	unlink(path);
	clear_env();
}

static void
test_args(void)
{
	struct config cfg;
	struct config_cli cli;
	const char *path;
	char want[256];

	clear_env();
	is_int(load_args(&cfg, &cli, (const char *[]){ "--port=4001",
	    "--log-level=debug", "--ping-interval-ms", "300", "--node-env",
	    "production", "HOST=::", NULL }), 0, "long options load");
	is_int(config_int(&cfg, CFG_PORT), 4001, "--port=4001");
	is_str(config_str(&cfg, CFG_LOG_LEVEL), "debug", "--log-level=debug");
	is_int(config_int(&cfg, CFG_PING_INTERVAL_MS), 300,
	    "--ping-interval-ms 300");
	is_str(config_str(&cfg, CFG_NODE_ENV), "production",
	    "--node-env production");
	is_str(config_str(&cfg, CFG_HOST), "::", "KEY=VALUE argument");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--port", "4002",
	    NULL }), 0, "--port 4002");
	is_int(config_int(&cfg, CFG_PORT), 4002, "  PORT 4002");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "PORT=1", "--port",
	    "2", "PORT=3", "--port=4", NULL }), 0, "repeated settings");
	is_int(config_int(&cfg, CFG_PORT), 4, "  the last one wins");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--redis-url=",
	    "--max-connections", "-1", NULL }), -1, "negative limit");
	is_str(err, "command line: MAX_CONNECTIONS: -1 is below the minimum 1",
	    "  names the key");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--port=abc", NULL }),
	    -1, "bad option value");
	is_str(err, "command line: PORT: \"abc\" is not a number",
	    "  names the key");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "FOO=1", NULL }), -1,
	    "unknown KEY=VALUE");
	is_str(err, "command line: unknown key FOO", "  names it");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "port=1", NULL }), -1,
	    "lower-case key");
	is_str(err, "command line: unknown key port", "  is unknown");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--nope", NULL }), -1,
	    "unknown option");
	is_str(err, "unknown option \"--nope\"", "  names it");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--PORT=1", NULL }), -1,
	    "upper-case long option");
	is_str(err, "unknown option \"--PORT=1\"", "  is unknown");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "-x", NULL }), -1,
	    "unknown short option");
	is_str(err, "unknown option \"-x\"", "  names it");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--port", NULL }), -1,
	    "option without its value");
	is_str(err, "option --port needs a value", "  says so");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "stray", NULL }), -1,
	    "stray argument");
	is_str(err, "unexpected argument \"stray\" (settings are KEY=VALUE)",
	    "  names it");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--", "PORT=9", NULL }),
	    0, "-- then a setting");
	is_int(config_int(&cfg, CFG_PORT), 9, "  applied");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--check-config", "-V",
	    NULL }), 0, "flags");
	ok(cli.check_config && cli.version && !cli.help,
	    "--check-config and -V");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--version", "-h",
	    NULL }), 0, "more flags");
	ok(cli.version && cli.help, "--version and -h");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--help", "--config",
	    "/nonexistent/coup.env", NULL }), 0,
	    "--help works with a broken configuration");
	ok(cli.help, "  help asked for");
	config_free(&cfg);

	/* --config twice: the last one wins, the first is never opened. */
	path = temp_file("PORT=4444\n");
	is_int(load_args(&cfg, &cli, (const char *[]){ "--config",
	    "/nonexistent/coup.env", "--config", path, NULL }), 0,
	    "--config twice");
	is_str(cli.config_file, path, "  the last one wins");
	is_int(config_int(&cfg, CFG_PORT), 4444, "  and is read");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--config=/nonexistent/a",
	    NULL }), -1, "--config=FILE that does not exist");
	is_str(err, "/nonexistent/a: No such file or directory",
	    "  names the file");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ "--config", NULL }), -1,
	    "--config without a file");
	is_str(err, "option --config needs a value", "  says so");
	config_free(&cfg);

	snprintf(want, sizeof(want), "--config=%s", path);
	is_int(load_args(&cfg, &cli, (const char *[]){ "--config=", want,
	    NULL }), -1, "--config= empty");
	is_str(err, "option --config needs a file name", "  says so");
	config_free(&cfg);

	is_int(load_args(&cfg, &cli, (const char *[]){ want, NULL }), 0,
	    "--config=FILE");
	is_int(config_int(&cfg, CFG_PORT), 4444, "  is read");
	config_free(&cfg);
	unlink(path);
}

static void
test_dump_usage(void)
{
	struct config cfg, again;
	struct config_cli cli;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	const char *path;
	int found;

	clear_env();
	is_int(load_args(&cfg, &cli, (const char *[]){ "--port=4500",
	    "REDIS_URL=redis://coup:hunter2@redis.local:6379/1",
	    "ALLOWED_ORIGINS=https://a.example #x", NULL }), 0, "load for dump");
	is_int(config_set(&cfg, CFG_WEBHOOK_SECRET, "hush", CONFIG_SRC_ENV,
	    NULL, 0), 0, "a secret set");
	fp = open_memstream(&text, &len);
	config_dump(&cfg, fp);
	fclose(fp);
	is_str(text,
	    "PORT=4500  # command line\n"
	    "HOST=  # default\n"
	    "NODE_ENV=development  # default\n"
	    "NEXTJS_URL=http://localhost:3000  # default\n"
	    "REDIS_URL=redis://coup:***@redis.local:6379/1  # command line\n"
	    "REDIS_TIMEOUT_MS=2000  # default\n"
	    "CLUSTER_NODE_TIMEOUT_MS=6000  # default\n"
	    "ALLOWED_ORIGINS=\"https://a.example #x\"  # command line\n"
	    "LOG_LEVEL=info  # default\n"
	    "PING_INTERVAL_MS=25000  # default\n"
	    "PING_TIMEOUT_MS=60000  # default\n"
	    "MAX_PAYLOAD=1000000  # default\n"
	    "CONNECT_TIMEOUT_MS=45000  # default\n"
	    "RECOVERY_WINDOW_MS=30000  # default\n"
	    "RECOVERY_BUFFER_BYTES=1048576  # default\n"
	    "SEND_QUEUE_MAX=4194304  # default\n"
	    "MAX_CONNECTIONS=100000  # default\n"
	    "HTTP_TIMEOUT_MS=30000  # default\n"
	    "AUTH_SOURCE=verify  # default\n"
	    "AUTH_COOKIE_NAMES=next-auth.session-token,"
	    "__Secure-next-auth.session-token,authjs.session-token,"
	    "__Secure-authjs.session-token  # default\n"
	    "TURN_URLS=  # default\n"
	    "TURN_SECRET=  # default\n"
	    "TURN_SECRET_FILE=  # default\n"
	    "TURN_TTL=86400  # default\n"
	    "WEBHOOK_URL=  # default\n"
	    "WEBHOOK_SECRET=(set)  # environment\n"
	    "WEBHOOK_QUEUE_MAX=10000  # default\n"
	    "AUTH_TIMEOUT_MS=5000  # default\n"
	    "AUTH_CACHE_TTL=0  # default\n"
	    "MEMBER_CACHE_TTL=60  # default\n"
	    "VIDEO_ROOM_MAX=16  # default\n"
	    "CHAT_MAX_LENGTH=4000  # default\n"
	    "RATE_LIMIT_EVENTS=100  # default\n"
	    "RATE_LIMIT_CONNECTS=5  # default\n"
	    "ROOM_IDLE_TIMEOUT=30  # default\n"
	    "MAX_ROOMS=10000  # default\n"
	    "USER_ROOMS_MAX=64  # default\n"
	    "ROOM_SPARES=1  # default\n"
	    "ROOMD_PATH=  # default\n"
	    "RUN_DIR=/run/coup-signaling  # default\n"
	    "CONTROL_SOCKET=  # default\n"
	    "CONTROL_GROUP=  # default\n"
	    "PID_FILE=  # default\n"
	    "RUN_USER=  # default\n"
	    "DRAIN_TIMEOUT_MS=10000  # default\n"
	    "DEMO=auto  # default\n"
	    "DEMO_DIR=  # default\n",
	    "dump: one line per key, password hidden, odd value quoted");

	/* What dump prints (passwords aside) reads back the same. */
	path = temp_file(text);
	free(text);
	config_init(&again);
	is_int(config_load_file(&again, path, err, sizeof(err)), 0,
	    "dump reads back as a file");
	is_str(config_str(&again, CFG_ALLOWED_ORIGINS), "https://a.example #x",
	    "  quoted value intact");
	is_int(config_int(&again, CFG_PORT), 4500, "  PORT intact");
	ok(config_str(&again, CFG_REDIS_URL) != NULL, "  REDIS_URL still set");
	config_free(&again);
	unlink(path);
	config_free(&cfg);

	config_init(&cfg);
	config_set(&cfg, CFG_REDIS_URL, "rediss://hunter2@r.local", CONFIG_SRC_ENV,
	    err, sizeof(err));
	text = NULL;
	fp = open_memstream(&text, &len);
	config_dump(&cfg, fp);
	fclose(fp);
	ok(strstr(text, "REDIS_URL=rediss://***@r.local  # environment\n") !=
	    NULL, "bare password hidden too");
	ok(strstr(text, "hunter2") == NULL, "  and nowhere else");
	free(text);
	config_free(&cfg);

	text = NULL;
	fp = open_memstream(&text, &len);
	config_usage(fp, "coup-gateway");
	fclose(fp);
	ok(strncmp(text, "Usage: coup-gateway ", 20) == 0, "usage: program name");
	ok(strstr(text, "  PORT, --port N\n") != NULL, "usage: PORT line");
	ok(strstr(text, "An integer from 1 to 65535; default 4000.") != NULL,
	    "usage: PORT bounds and default");
	ok(strstr(text, "  PING_INTERVAL_MS, --ping-interval-ms N\n") != NULL,
	    "usage: long option spelled from the key");
	ok(strstr(text, "  LOG_LEVEL, --log-level debug|info|warn|error\n") !=
	    NULL, "usage: choices");
	ok(strstr(text, "Redis for multi-server mode; unset means a single "
	    "server.") != NULL, "usage: doc line");
	ok(strstr(text, "unset by default") != NULL, "usage: unset default");
	ok(strstr(text, "SIGHUP may change it") != NULL, "usage: reloadable");
	ok(strstr(text, "--check-config") != NULL, "usage: --check-config");
	found = 0;
	for (int k = 0; k < CFG__COUNT; k++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  %s, --", config_defs[k].name);
		found += strstr(text, line) != NULL;
	}
	is_int(found, CFG__COUNT, "usage: every key listed");
	free(text);
}

static void
test_log(void)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	const char *text;
	char want[128];
	int e;

	for (int i = 0; i < 4; i++) {
		is_int(log_level_from_name(names[i]), i, names[i]);
		is_str(log_level_name(i), names[i], "  and back");
	}
	is_int(LOG_LEVEL_ERROR, 0, "error is the least level");
	is_int(LOG_LEVEL_DEBUG, 3, "debug is the most");
	is_int(log_level_from_name("verbose"), -1, "unknown level -> -1");
	is_int(log_level_from_name("DEBUG"), -1, "upper case is unknown");
	is_int(log_level_from_name(""), -1, "empty is unknown");
	is_int(log_level_from_name(NULL), -1, "NULL is unknown");
	is_str(log_level_name(7), "unknown", "name of a bad level");
	is_int(log_level_current, LOG_LEVEL_INFO, "default level info");

	log_init("gateway", LOG_LEVEL_INFO);
	capture_start();
	errno = ENOENT;
	log_warn("open %s", "/etc/coup.env");
	e = errno;
	log_debug("not shown at info");
	log_warnx("forged\nline");
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown at debug");
	log_set_level(LOG_LEVEL_INFO);
	text = capture_end();

	is_int(e, ENOENT, "log_warn keeps errno");
	ok(strlen(text) > 24 && text[4] == '-' && text[10] == 'T' &&
	    text[19] == '.' && text[23] == 'Z' && text[24] == ' ',
	    "line starts with an ISO time");
	snprintf(want, sizeof(want),
	    " gateway[%ld] warn: open /etc/coup.env: No such file or "
	    "directory\n", (long)getpid());
	ok(strncmp(text + 24, want, strlen(want)) == 0,
	    "name, pid, level, message, strerror");
	ok(strstr(text, "not shown") == NULL, "debug off at info");
	ok(strstr(text, " warn: forged?line\n") != NULL,
	    "a newline in a message cannot start a line");
	ok(strstr(text, " debug: shown at debug\n") != NULL, "debug when on");
}

static void
test_timestamp(void)
{
	char s[TIMESTAMP_ISO_LEN];
	long long now;
	double t0, t1;

	timestamp_iso_from_ms(s, 0);
	is_str(s, "1970-01-01T00:00:00.000Z", "epoch");
	timestamp_iso_from_ms(s, 1000000000000LL);
	is_str(s, "2001-09-09T01:46:40.000Z", "1e12 ms");
	timestamp_iso_from_ms(s, 951782400123LL);
	is_str(s, "2000-02-29T00:00:00.123Z", "leap day with ms");
	timestamp_iso_from_ms(s, -1);
	is_str(s, "1969-12-31T23:59:59.999Z", "one ms before the epoch");
	timestamp_iso_from_ms(s, 253402300799999LL);
	is_str(s, "9999-12-31T23:59:59.999Z", "last four-digit year");
	timestamp_iso_from_ms(s, 253402300800000LL);
	is_str(s, "+010000-01-01T00:00:00.000Z", "year 10000 as JS prints it");
	timestamp_iso_from_ms(s, -62198755200000LL);
	is_str(s, "-000001-01-01T00:00:00.000Z", "year -1 as JS prints it");
	timestamp_iso_from_ms(s, 8640000000000000LL);
	is_str(s, "+275760-09-13T00:00:00.000Z", "the last JS date");
	timestamp_iso_from_ms(s, 9000000000000000LL);
	is_str(s, "+275760-09-13T00:00:00.000Z", "beyond it, clamped");

	now = timestamp_now_ms();
	ok(now > 1700000000000LL, "now is after 2023");
	timestamp_iso(s);
	is_int(strlen(s), 24, "now in ISO form");
	ok(s[10] == 'T' && s[23] == 'Z', "  shaped like one");
	t0 = timestamp_mono();
	t1 = timestamp_mono();
	ok(t1 >= t0 && t0 > 0, "monotonic clock moves forward");
}

int
main(void)
{
	test_defaults();
	test_int();
	test_enum();
	test_url();
	test_string();
	test_file();
	test_file_errors();
	test_parse_text();
	test_file_quote();
	test_env();
	test_precedence();
	test_args();
	test_dump_usage();
	test_log();
	test_timestamp();
	return tap_done();
}
