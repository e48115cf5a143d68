/*
 * fuzz_control.c - libFuzzer target for the control socket's request
 * parser.
 *
 * The input is one request line, without its newline, as the gateway
 * hands it to control_parse().  It must return 0 or -1; on -1 with one of
 * the protocol's codes and a message; on 0 the line must be what
 * control.h describes, checked here against a second reading of the JSON
 * (by json_parse_strict(): cJSON alone reads \u0000 otherwise): a JSON
 * object of version 1, a known command, string arguments of the number
 * it takes, each non-empty, within its kind's maximum and free of control
 * characters, and req must say the same.  The request written again the
 * way coupctl writes it must parse to the same req.  Any broken promise
 * aborts, which libFuzzer reports as a crash; leaks are LeakSanitizer's.
 * Built with replay_main.c, the same code replays the seed corpus under
 * `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "control_req.h"
#include "fuzz.h"
#include "json.h"
#include "log.h"

/* The longest argument of cmd (0: it takes none), as control.h says. */
static size_t
arg_max(const struct control_req *req)
{
	switch (req->cmd) {
	case CONTROL_ROOM:
	case CONTROL_CLOSE_ROOM:
	case CONTROL_RESTART_ROOM:
		return CONTROL_ROOM_MAX;
	case CONTROL_USER:
		return CONTROL_USER_MAX;
	case CONTROL_KICK:
		return req->by_user ? CONTROL_USER_MAX : CONTROL_SOCKET_MAX;
	case CONTROL_LOG_LEVEL:
		return strlen("debug");
	default:
		return 0;
	}
}

/* A request that passed, read again. */
static void
check_accepted(const char *line, size_t len, const struct control_req *req)
{
	const cJSON *ver, *cmd, *args;
	cJSON *json;
	int n;

	CHECK(len <= CONTROL_REQUEST_MAX);
	CHECK(memchr(line, '\0', len) == NULL);
	CHECK((int)req->cmd >= 0 && req->cmd < CONTROL__COUNT);
	CHECK(memchr(req->arg, '\0', sizeof(req->arg)) != NULL);
	CHECK(printable(req->arg));
	CHECK(strlen(req->arg) <= arg_max(req));
	CHECK((arg_max(req) == 0) == (req->arg[0] == '\0'));
	CHECK(!req->by_user || req->cmd == CONTROL_KICK);
	if (req->cmd == CONTROL_LOG_LEVEL)
		CHECK(req->level >= 0 &&
		    req->level == log_level_from_name(req->arg));
	if (req->cmd == CONTROL_KICK && !req->by_user)
		CHECK(strcmp(req->arg, "--user") != 0);

	CHECK((json = json_parse_strict(line, len, NULL)) != NULL);
	CHECK(cJSON_IsObject(json));
	ver = cJSON_GetObjectItemCaseSensitive(json, "version");
	cmd = cJSON_GetObjectItemCaseSensitive(json, "command");
	args = cJSON_GetObjectItemCaseSensitive(json, "args");
	CHECK(cJSON_IsNumber(ver) && ver->valuedouble == CONTROL_VERSION);
	CHECK(cJSON_IsString(cmd));
	CHECK(strcmp(cmd->valuestring, control_cmd_name(req->cmd)) == 0);
	CHECK(args == NULL || cJSON_IsArray(args));
	n = args != NULL ? cJSON_GetArraySize(args) : 0;
	if (req->by_user) {
		CHECK(n == 2);
		CHECK(strcmp(cJSON_GetArrayItem(args, 0)->valuestring,
		    "--user") == 0);
		CHECK(strcmp(cJSON_GetArrayItem(args, 1)->valuestring,
		    req->arg) == 0);
	} else if (arg_max(req) > 0) {
		CHECK(n == 1);
		CHECK(strcmp(cJSON_GetArrayItem(args, 0)->valuestring,
		    req->arg) == 0);
	} else
		CHECK(n == 0);
	cJSON_Delete(json);
}

/* Written as coupctl writes it, the request reads back the same. */
static void
check_rewritten(const struct control_req *req)
{
	struct control_req again;
	cJSON *json = cJSON_CreateObject(), *args;
	char err[256], *text;

	CHECK(json != NULL);
	cJSON_AddNumberToObject(json, "version", CONTROL_VERSION);
	cJSON_AddStringToObject(json, "command", control_cmd_name(req->cmd));
	args = cJSON_AddArrayToObject(json, "args");
	if (req->by_user)
		cJSON_AddItemToArray(args, cJSON_CreateString("--user"));
	if (req->arg[0] != '\0')
		cJSON_AddItemToArray(args, cJSON_CreateString(req->arg));
	CHECK((text = cJSON_PrintUnformatted(json)) != NULL);
	cJSON_Delete(json);

	/* A user id at its maximum, escaped, may not fit in a line. */
	if (strlen(text) <= CONTROL_REQUEST_MAX) {
		CHECK(control_parse(text, strlen(text), &again, err,
		    sizeof(err)) == 0);
		CHECK(again.cmd == req->cmd && again.by_user == req->by_user &&
		    again.level == req->level &&
		    strcmp(again.arg, req->arg) == 0);
	}
	cJSON_free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct control_req req, other;
	char err[256], tiny[1];
	int rc;

	memset(err, 'X', sizeof(err));		/* no NUL but what it writes */
	rc = control_parse(line, size, &req, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		CHECK(req.code != NULL);
		CHECK(strcmp(req.code, "BAD_REQUEST") == 0 ||
		    strcmp(req.code, "BAD_VERSION") == 0 ||
		    strcmp(req.code, "UNKNOWN_COMMAND") == 0);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(err[0] != '\0');
	} else {
		check_accepted(line, size, &req);
		check_rewritten(&req);
	}

	/* The same outcome with no room for a message, or one byte. */
	CHECK(control_parse(line, size, &other, NULL, 0) == rc);
	CHECK(rc == 0 || strcmp(other.code, req.code) == 0);
	tiny[0] = 'X';
	CHECK(control_parse(line, size, &other, tiny, sizeof(tiny)) == rc);
	CHECK(rc == 0 ? tiny[0] == 'X' : tiny[0] == '\0');
	return 0;
}
