/*
 * control_req.c - one control request line, parsed and checked (protocol
 * in control.h).
 *
 * This is all of what control.c believes about a request: the JSON, the
 * version, the command and the type, count, length and bytes of every
 * argument.  It needs no gateway and does no I/O, so that
 * tests/fuzz/fuzz_control.c can call it directly; the command handlers
 * only ever see a struct control_req that passed here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "control_req.h"
#include "json.h"
#include "log.h"

/* Longer than any command or level name: not worth echoing. */
#define NAME_MAX_LEN	32

const char *
control_cmd_name(enum control_cmd cmd)
{
	if ((int)cmd < 0 || cmd >= CONTROL__COUNT)
		return "?";
	return control_cmds[cmd].name;
}

static int
refuse(struct control_req *req, const char *code, char *err, size_t errlen,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The answer's code and message for the caller; returns -1. */
static int
refuse(struct control_req *req, const char *code, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list ap;

	req->code = code;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
has_control_char(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Copy one argument of `what` (a room name, ...) into req->arg. */
static int
take_arg(struct control_req *req, const char *s, const char *what,
    size_t max, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0)
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "the %s is empty", what);
	if (len > max)
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "the %s is longer than %zu bytes", what, max);
	if (has_control_char(s))
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "the %s contains a control character", what);
	memcpy(req->arg, s, len + 1);
	return 0;
}

/* The arguments of the command in req->cmd: argc of them in argv. */
static int
check_args(struct control_req *req, int argc, const char *const *argv,
    char *err, size_t errlen)
{
	const char *usage = control_cmds[req->cmd].usage;

	switch (control_cmds[req->cmd].args) {
	case CONTROL_ARGS_NONE:
		if (argc == 0)
			return 0;
		break;
	case CONTROL_ARGS_ROOM:
		if (argc == 1)
			return take_arg(req, argv[0], "room name",
			    CONTROL_ROOM_MAX, err, errlen);
		break;
	case CONTROL_ARGS_USER:
		if (argc == 1)
			return take_arg(req, argv[0], "user id",
			    CONTROL_USER_MAX, err, errlen);
		break;
	case CONTROL_ARGS_KICK:
		if (argc == 2 && strcmp(argv[0], "--user") == 0) {
			req->by_user = 1;
			return take_arg(req, argv[1], "user id",
			    CONTROL_USER_MAX, err, errlen);
		}
		/* "--user" alone is a missing id, not a socket. */
		if (argc == 1 && strcmp(argv[0], "--user") != 0)
			return take_arg(req, argv[0], "socket id",
			    CONTROL_SOCKET_MAX, err, errlen);
		break;
	case CONTROL_ARGS_LEVEL:
		if (argc != 1)
			break;
		if (take_arg(req, argv[0], "log level", NAME_MAX_LEN, err,
		    errlen) == -1)
			return -1;
		/* The names LOG_LEVEL takes, and only those. */
		if ((req->level = log_level_from_name(req->arg)) == -1)
			return refuse(req, "BAD_REQUEST", err, errlen,
			    "\"%s\" is not a log level (%s)", req->arg,
			    config_defs[CFG_LOG_LEVEL].choices);
		return 0;
	}
	return refuse(req, "BAD_REQUEST", err, errlen, "usage: %s", usage);
}

/* The command and its arguments, from the members of a parsed request. */
static int
check_request(const cJSON *json, struct control_req *req, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "version", "command", "args" };
	const cJSON *member[3] = { NULL, NULL, NULL }, *ver, *cmd, *args, *a;
	const char *argv[2] = { NULL, NULL };
	int argc = 0, k;

	if (!cJSON_IsObject(json))
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "the request is not a JSON object");
	/* cJSON would find the first of two; a reader may take the last. */
	cJSON_ArrayForEach(a, json)
		for (k = 0; k < 3; k++)
			if (strcmp(a->string, keys[k]) == 0) {
				if (member[k] != NULL)
					return refuse(req, "BAD_REQUEST", err,
					    errlen, "the request has two "
					    "\"%s\"", keys[k]);
				member[k] = a;
			}
	ver = member[0];
	cmd = member[1];
	args = member[2];

	if (!cJSON_IsNumber(ver) || ver->valuedouble != CONTROL_VERSION)
		return refuse(req, "BAD_VERSION", err, errlen, "this gateway "
		    "speaks control protocol version %d", CONTROL_VERSION);
	if (!cJSON_IsString(cmd) || (args != NULL && !cJSON_IsArray(args)))
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "command and args expected");
	/* No command takes more than two: the rest are only counted. */
	cJSON_ArrayForEach(a, args) {
		if (!cJSON_IsString(a))
			return refuse(req, "BAD_REQUEST", err, errlen,
			    "argument %d is not a string", argc + 1);
		if (argc < 2)
			argv[argc] = a->valuestring;
		argc++;
	}

	for (k = 0; k < CONTROL__COUNT; k++)
		if (strcmp(control_cmds[k].name, cmd->valuestring) == 0)
			break;
	if (k == CONTROL__COUNT) {
		if (strlen(cmd->valuestring) > NAME_MAX_LEN ||
		    has_control_char(cmd->valuestring))
			return refuse(req, "UNKNOWN_COMMAND", err, errlen,
			    "unknown command");
		return refuse(req, "UNKNOWN_COMMAND", err, errlen,
		    "unknown command %s", cmd->valuestring);
	}
	req->cmd = (enum control_cmd)k;
	return check_args(req, argc, argv, err, errlen);
}

int
control_parse(const char *line, size_t len, struct control_req *req,
    char *err, size_t errlen)
{
	cJSON *json;
	int rc;

	memset(req, 0, sizeof(*req));
	req->level = -1;
	if (len > CONTROL_REQUEST_MAX)
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "a request is at most %d bytes", CONTROL_REQUEST_MAX);
	/* Not cJSON alone: it reads "\u00zz", or a raw NUL, as the end. */
	if ((json = json_parse_strict(line, len, NULL)) == NULL)
		return refuse(req, "BAD_REQUEST", err, errlen,
		    "the request is not JSON");
	rc = check_request(json, req, err, errlen);
	cJSON_Delete(json);
	return rc;
}
