/*
 * control_proto.c - the control socket's commands and what each takes
 * (see control_proto.h): one table, read by the gateway's parser and by
 * coupctl.
 */
#include "control_proto.h"

const struct control_cmd_def control_cmds[CONTROL__COUNT] = {
	[CONTROL_STATUS] = { "status", CONTROL_ARGS_NONE, "status", 0, 0 },
	[CONTROL_ROOMS] = { "rooms", CONTROL_ARGS_NONE, "rooms", 0, 0 },
	[CONTROL_ROOM] = { "room", CONTROL_ARGS_ROOM, "room NAME", 1, 1 },
	[CONTROL_USER] = { "user", CONTROL_ARGS_USER, "user ID", 1, 1 },
	[CONTROL_KICK] = { "kick", CONTROL_ARGS_KICK,
	    "kick SOCKET | kick --user ID", 1, 2 },
	[CONTROL_CLOSE_ROOM] = { "close-room", CONTROL_ARGS_ROOM,
	    "close-room NAME", 1, 1 },
	[CONTROL_RESTART_ROOM] = { "restart-room", CONTROL_ARGS_ROOM,
	    "restart-room NAME", 1, 1 },
	[CONTROL_LOG_LEVEL] = { "log-level", CONTROL_ARGS_LEVEL,
	    "log-level LEVEL", 1, 1 },
	[CONTROL_RELOAD] = { "reload", CONTROL_ARGS_NONE, "reload", 0, 0 },
	[CONTROL_DRAIN] = { "drain", CONTROL_ARGS_NONE, "drain", 0, 0 },
	[CONTROL_SHOW_CONFIG] = { "show-config", CONTROL_ARGS_NONE,
	    "show-config", 0, 0 },
	[CONTROL_CLUSTER] = { "cluster", CONTROL_ARGS_NONE, "cluster", 0, 0 },
};
