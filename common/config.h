/*
 * config.h - the one table that drives configuration.
 *
 * Every key lives in COUP_CONFIG_KEYS below: its name, type, default,
 * bounds, whether SIGHUP may change it, and a line of documentation.  The
 * file parser, the environment, the command line, --check-config and the
 * man page's list all read this table, so they cannot drift apart.
 *
 * Precedence (contract section 8): command line > environment > file >
 * default.  An invalid value is an error that names the key.
 */
#ifndef COUP_CONFIG_H
#define COUP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "bounds.h"

enum config_type {
	CONFIG_INT,		/* integer within [min, max] */
	CONFIG_STRING,		/* free text (may be empty unless min > 0) */
	CONFIG_ENUM,		/* one of a '|'-separated list in `choices` */
	CONFIG_URL,		/* http:// or https:// (redis:// for REDIS_URL) */
};

/*
 * X(NAME, TYPE, DEFAULT, MIN, MAX, CHOICES, RELOADABLE, DOC)
 * DEFAULT is a string, parsed like any other value; NULL means unset.
 */
#define COUP_CONFIG_KEYS(X)						\
	X(PORT, CONFIG_INT, "4000", 1, 65535, NULL, 0,			\
	    "TCP port for HTTP: long-polling, WebSocket, /health and "	\
	    "/metrics.")						\
	X(HOST, CONFIG_STRING, "", 0, 255, NULL, 0,			\
	    "Address to listen on, or the name of an interface or of a "	\
	    "host (then each of its addresses); empty means every "	\
	    "interface, IPv6 and IPv4.")				\
	X(NODE_ENV, CONFIG_ENUM, "development", 0, 0,			\
	    "development|production", 0,				\
	    "In development, users get in with a warning when the CoUp " \
	    "API cannot be reached; production refuses them.")		\
	X(NEXTJS_URL, CONFIG_URL, "http://localhost:3000", 0, 0, NULL, 1,	\
	    "Base URL of the CoUp Next.js app, whose API decides who "	\
	    "may connect and who is a member of a study.")		\
	X(REDIS_URL, CONFIG_URL, NULL, 0, 0, NULL, 0,			\
	    "Redis for multi-server mode; unset means a single server.") \
	X(REDIS_TIMEOUT_MS, CONFIG_INT, "2000", 100, 60000, NULL, 0,	\
	    "Multi-server mode: time Redis has to connect or to answer "	\
	    "a command before the gateway counts it as gone and "	\
	    "reconnects (ms).")						\
	X(CLUSTER_NODE_TIMEOUT_MS, CONFIG_INT, "6000", 600, 60000, NULL, 0, \
	    "Multi-server mode: a gateway whose heartbeat is this old "	\
	    "is dead, and the others remove its users; heartbeats go "	\
	    "every third of it (ms).")					\
	X(ALLOWED_ORIGINS, CONFIG_STRING, "http://localhost:3000", 0, 4096, \
	    NULL, 1,							\
	    "Comma-separated origins allowed by CORS and for WebSocket " \
	    "upgrades; * allows any origin.")				\
	X(LOG_LEVEL, CONFIG_ENUM, "info", 0, 0, "debug|info|warn|error", 1, \
	    "Least severe level of the messages that are logged.")	\
	X(PING_INTERVAL_MS, CONFIG_INT, "25000", 50, 3600000, NULL, 0,	\
	    "Engine.IO heartbeat: how often each client is pinged (ms).") \
	X(PING_TIMEOUT_MS, CONFIG_INT, "60000", 50, 3600000, NULL, 0,	\
	    "Time a client has to answer a ping before its session is "	\
	    "closed (ms).")						\
	X(MAX_PAYLOAD, CONFIG_INT, "1000000", 1024, BOUND_PAYLOAD, NULL, 0, \
	    "Largest Engine.IO packet or long-polling request body, as " \
	    "Socket.IO's maxHttpBufferSize (bytes).")			\
	X(CONNECT_TIMEOUT_MS, CONFIG_INT, "45000", 100, 3600000, NULL, 0,	\
	    "Time a new session has to send its Socket.IO CONNECT "	\
	    "before it is closed (ms).")				\
	X(RECOVERY_WINDOW_MS, CONFIG_INT, "30000", 0, 600000, NULL, 0,	\
	    "Time a client whose connection was lost (not closed on "	\
	    "purpose) keeps its session, rooms and missed events for "	\
	    "Socket.IO connection state recovery (ms), on this gateway "	\
	    "or, with REDIS_URL, on another it reconnects to; 0 turns "	\
	    "recovery off.")							\
	X(RECOVERY_BUFFER_BYTES, CONFIG_INT, "1048576", 1024, 67108864, \
	    NULL, 0,							\
	    "Bytes of recent events kept per session for recovery; a "	\
	    "client that missed more starts a new session.")		\
	X(SEND_QUEUE_MAX, CONFIG_INT, "4194304", 65536, 1073741824, NULL, 0, \
	    "Bytes queued for one client before it is dropped as too "	\
	    "slow.")							\
	X(MAX_CONNECTIONS, CONFIG_INT, "100000", 1, 10000000, NULL, 0,	\
	    "Engine.IO sessions accepted at once; more get HTTP 503.")	\
	X(HTTP_TIMEOUT_MS, CONFIG_INT, "30000", 100, 3600000, NULL, 0,	\
	    "Time an HTTP request has to arrive, headers and body, "	\
	    "counted from the opening of its connection or the end of "	\
	    "the previous answer; a slower one is closed (ms).")	\
	X(AUTH_SOURCE, CONFIG_ENUM, "verify", 0, 0,			\
	    "verify|session|session-or-verify", 0,			\
	    "Who a connecting user is: verify asks the CoUp API about "	\
	    "the userId the client claims; session sends the "	\
	    "handshake's session cookie to GET NEXTJS_URL/api/auth/me "	\
	    "and refuses a claim that is not its user; "		\
	    "session-or-verify uses the session when a cookie came, "	\
	    "else verify.")						\
	X(AUTH_COOKIE_NAMES, CONFIG_STRING, "next-auth.session-token,"	\
	    "__Secure-next-auth.session-token,authjs.session-token,"	\
	    "__Secure-authjs.session-token", 1, 1024, NULL, 0,		\
	    "Comma-separated names of the cookies forwarded to "	\
	    "/api/auth/me (AUTH_SOURCE session); no other cookie of "	\
	    "the handshake is kept or sent.")				\
	X(TURN_URLS, CONFIG_STRING, "", 0, 1024, NULL, 0,		\
	    "Comma-separated turn: and turns: URLs of a TURN server "	\
	    "using coturn's REST API credentials (use-auth-secret); "	\
	    "empty: calls get no ICE servers from the gateway.")	\
	X(TURN_SECRET, CONFIG_STRING, "", 0, 1024, NULL, 0,		\
	    "The TURN server's static-auth-secret, from which each "	\
	    "user's credentials are made; shown as (set).")		\
	X(TURN_SECRET_FILE, CONFIG_STRING, "", 0, 4096, NULL, 0,	\
	    "A file holding TURN_SECRET (its first line), so the "	\
	    "secret need not be in the environment.")			\
	X(TURN_TTL, CONFIG_INT, "86400", 60, 2592000, NULL, 0,		\
	    "Seconds TURN credentials stay valid, longer than any "	\
	    "study session; video:get-ice-servers gives fresh ones.")	\
	X(WEBHOOK_URL, CONFIG_URL, NULL, 0, 0, NULL, 0,			\
	    "The CoUp app's endpoint for webhooks: signed POSTs of "	\
	    "room_started, room_finished, participant_joined, "		\
	    "participant_left, study_online, study_offline; unset: "	\
	    "none.")							\
	X(WEBHOOK_SECRET, CONFIG_STRING, "", 0, 1024, NULL, 0,		\
	    "Key of the webhooks' HMAC-SHA256 signature (the "	\
	    "X-CoUp-Signature header); shown as (set).")		\
	X(WEBHOOK_QUEUE_MAX, CONFIG_INT, "10000", 1, 1000000, NULL, 0,	\
	    "Webhooks kept while the endpoint is down or slow; beyond "	\
	    "that the oldest are dropped (and counted).")		\
	X(AUTH_TIMEOUT_MS, CONFIG_INT, "5000", 100, 120000, NULL, 1,	\
	    "Time a CoUp API call (verify, check-member) may take "	\
	    "before it counts as failed (ms).")				\
	X(AUTH_CACHE_TTL, CONFIG_INT, "0", 0, 86400, NULL, 1,		\
	    "Seconds a verified user is remembered, sparing the API a "	\
	    "call on reconnect; 0 turns the cache off.")		\
	X(MEMBER_CACHE_TTL, CONFIG_INT, "60", 0, 86400, NULL, 1,	\
	    "Seconds a membership answer is remembered; 0 turns the "	\
	    "cache off.")						\
	X(VIDEO_ROOM_MAX, CONFIG_INT, "16", 1, 1000, NULL, 1,		\
	    "Members a video room holds; a join beyond that gets "	\
	    "ROOM_FULL.")						\
	X(CHAT_MAX_LENGTH, CONFIG_INT, "4000", 1, 1000000, NULL, 1,	\
	    "Longest chat message in characters; a longer one gets "	\
	    "BAD_REQUEST.")						\
	X(RATE_LIMIT_EVENTS, CONFIG_INT, "100", 1, 1000000, NULL, 1,	\
	    "Events a connection may send per second, in bursts of up "	\
	    "to three times that; more get RATE_LIMITED.")		\
	X(RATE_LIMIT_CONNECTS, CONFIG_INT, "5", 1, 100000, NULL, 0,	\
	    "Socket.IO CONNECT and DISCONNECT packets one connection may " \
	    "send per second, in bursts of up to three times that; more " \
	    "CONNECTs are refused without asking the CoUp API, and a "	\
	    "connection over the limit for 10 s is closed.")		\
	X(ROOM_IDLE_TIMEOUT, CONFIG_INT, "30", 0, 86400, NULL, 1,	\
	    "Seconds an empty room's process lives on before it exits.") \
	X(MAX_ROOMS, CONFIG_INT, "10000", 1, 1000000, NULL, 1,		\
	    "Live rooms at most (each has a process, about 1.6 MB); a "	\
	    "join that would open one more closes an empty room first, " \
	    "else gets ROOM_UNAVAILABLE.")				\
	X(USER_ROOMS_MAX, CONFIG_INT, "64", 1, 100000, NULL, 1,		\
	    "Rooms (calls and studies) one connection, and one user over " \
	    "all of its connections, may be in at once; a join beyond "	\
	    "that gets ROOM_UNAVAILABLE.")				\
	X(ROOM_SPARES, CONFIG_INT, "1", 0, 64, NULL, 1,			\
	    "Room processes started ahead of need, so that a new room's " \
	    "first join waits for none to start; 0 starts each on "	\
	    "demand.")							\
	X(ROOMD_PATH, CONFIG_STRING, "", 0, 4096, NULL, 0,		\
	    "Path of the coup-roomd binary; empty means the one next to " \
	    "coup-gateway, else the one in libexec.")			\
	X(RUN_DIR, CONFIG_STRING, "/run/coup-signaling", 1, 1024, NULL, 0,	\
	    "Directory of the control socket and the pid file, created " \
	    "at start-up: root's, mode 0755, so RUN_USER cannot put "	\
	    "anything in it (one an older version gave RUN_USER is "	\
	    "taken back); the gateway refuses to start if it is a link " \
	    "or anyone else can change it.")				\
	X(CONTROL_SOCKET, CONFIG_STRING, "", 0, 1024, NULL, 0,		\
	    "Path of the control socket for coupctl; empty means "	\
	    "RUN_DIR/coup-gateway.sock, off means none. Made as "	\
	    "PID_FILE is, in a directory only root can change or a "	\
	    "sticky one.")						\
	X(CONTROL_GROUP, CONFIG_STRING, "", 0, 64, NULL, 0,		\
	    "Group of the control socket (mode 0660), whose members may " \
	    "use coupctl; empty means the gateway's own.")		\
	X(PID_FILE, CONFIG_STRING, "", 0, 1024, NULL, 0,		\
	    "Pid file, written with --daemon or when set; empty means "	\
	    "RUN_DIR/coup-gateway.pid. Its directory must be one only "	\
	    "root can change, or a sticky one like /tmp; whatever is "	\
	    "at the path (a link too) is removed, never written "	\
	    "through, and a new file made.")				\
	X(RUN_USER, CONFIG_STRING, "", 0, 64, NULL, 0,			\
	    "User to become once the port, RUN_DIR, the control socket " \
	    "and the pid file are set up (they stay root's: this user " \
	    "cannot remove them at exit, the init script removes the "	\
	    "pid file and the next start the socket); empty means "	\
	    "stay.")							\
	X(DRAIN_TIMEOUT_MS, CONFIG_INT, "10000", 0, 600000, NULL, 1,	\
	    "On SIGTERM, SIGINT or coupctl drain: time sessions and "	\
	    "room processes get to finish before the gateway exits, "	\
	    "and, with REDIS_URL and recovery on, for other gateways "	\
	    "to take its sessions over (ms).")				\
	X(DEMO, CONFIG_ENUM, "auto", 0, 0, "auto|on|off", 0,		\
	    "The demo video call page at /demo: auto serves it in "	\
	    "development mode only.")					\
	X(DEMO_DIR, CONFIG_STRING, "", 0, 4096, NULL, 0,		\
	    "Directory of the demo page's files; empty means demo/ next " \
	    "to coup-gateway, else the one in the data directory.")

enum config_key {
#define CONFIG_ENUM_ENTRY(name, ...) CFG_##name,
	COUP_CONFIG_KEYS(CONFIG_ENUM_ENTRY)
#undef CONFIG_ENUM_ENTRY
	CFG__COUNT
};

enum config_source {
	CONFIG_SRC_DEFAULT = 0,
	CONFIG_SRC_FILE,
	CONFIG_SRC_ENV,
	CONFIG_SRC_CLI,
};

struct config_def {
	const char		*name;
	enum config_type	 type;
	const char		*defval;
	long long		 min, max;
	const char		*choices;
	int			 reloadable;
	const char		*doc;
};

extern const struct config_def config_defs[CFG__COUNT];

struct config_value {
	long long		 i;	/* CONFIG_INT; index for CONFIG_ENUM */
	char			*s;	/* every type: the text (NULL = unset) */
	enum config_source	 src;
};

struct config {
	struct config_value	 v[CFG__COUNT];
};

/* What the command line asked for besides KEY=VALUE settings. */
struct config_cli {
	const char	*config_file;	/* --config FILE */
	int		 check_config;	/* --check-config */
	int		 help;		/* --help, -h */
	int		 version;	/* --version, -V */
	int		 daemon;	/* --daemon, -d */
};

void	config_init(struct config *);		/* all defaults */
void	config_free(struct config *);
/* Look a key up by name ("PORT"); -1 if unknown. */
int	config_key_by_name(const char *);
/*
 * Set one key from text, validating it.  On error returns -1 and writes a
 * message naming the key into err.
 */
int	config_set(struct config *, int key, const char *value,
	    enum config_source, char *err, size_t errlen);
/*
 * KEY=VALUE lines, '#' comments, optional quotes and "export " (.env), in
 * `len` bytes of `text` (not NUL-terminated; a NUL byte is an error).
 * Each value goes through config_set(), so cfg may hold the lines before
 * a bad one.  Errors are "<name>:<line>: <why>", `name` being the file's
 * for the messages; unknown keys are logged and skipped.  No I/O.
 */
int	config_parse_text(struct config *, const char *text, size_t len,
	    const char *name, char *err, size_t errlen);
/* config_parse_text() over a file of at most 1 MB. */
int	config_load_file(struct config *, const char *path,
	    char *err, size_t errlen);
/* Every table key present in the environment. */
int	config_load_env(struct config *, char *err, size_t errlen);
/*
 * The whole load: defaults, then --config FILE, then the environment, then
 * KEY=VALUE arguments and long options (--port 4000, --port=4000,
 * --log-level=debug).  Unknown options are errors.
 */
int	config_load(struct config *, int argc, char **argv,
	    struct config_cli *, char *err, size_t errlen);

long long	 config_int(const struct config *, int key);
const char	*config_str(const struct config *, int key); /* NULL if unset */
/*
 * The quote a file needs around `value` for config_parse_text() to read it
 * back unchanged: "" for none, else "\"", "'" or "`" (one the value does
 * not hold; a value that holds all three and needs one cannot be written).
 */
const char	*config_file_quote(const char *value);
/* Whether key k holds a secret (its name ends in _SECRET): shown as
 * "(set)", never as its value. */
int	config_is_secret(int k);
/* Print every key, its value and where it came from (--check-config). */
void	config_dump(const struct config *, FILE *);
/* Print the usage text listing every key (--help). */
void	config_usage(FILE *, const char *progname);

#endif
