/*
 * control_proto.h - the protocol of the gateway's control socket, shared
 * by the gateway (gateway/control.c, control_req.c) and coupctl(8), so
 * that the two cannot drift apart: its version, its sizes, its commands
 * and what each takes (control_proto.c).  The socket itself, its
 * permissions and the commands' data are described in gateway/control.h.
 *
 *   request:  {"version":1,"command":"<name>","args":["..."]}
 *   answer:   {"ok":true,"data":<command's result>}
 *          or {"ok":false,"error":"<message>","code":"<CODE>"}
 */
#ifndef COUP_CONTROL_PROTO_H
#define COUP_CONTROL_PROTO_H

#include "bounds.h"

#define CONTROL_VERSION		1
/* Longest request line accepted. */
#define CONTROL_REQUEST_MAX	4096
/* Longest answer a client takes (rooms of a large gateway fit). */
#define CONTROL_ANSWER_MAX	(16 * 1024 * 1024)
/* A client that sends no whole request within this is dropped. */
#define CONTROL_IDLE_SECS	10.0

/*
 * The longest argument of each kind: the bounds every input is held to
 * (bounds.h); a longer one names nothing that can exist, so it is
 * refused (BAD_REQUEST) rather than looked up.
 */
#define CONTROL_ROOM_MAX	BOUND_ROOM_NAME
#define CONTROL_SOCKET_MAX	BOUND_SOCKET_ID
#define CONTROL_USER_MAX	BOUND_USER_ID
#define CONTROL_ARG_MAX		BOUND_ROOM_NAME

enum control_cmd {
	CONTROL_STATUS,
	CONTROL_ROOMS,
	CONTROL_ROOM,
	CONTROL_USER,
	CONTROL_KICK,
	CONTROL_CLOSE_ROOM,
	CONTROL_RESTART_ROOM,
	CONTROL_LOG_LEVEL,
	CONTROL_RELOAD,
	CONTROL_DRAIN,
	CONTROL_SHOW_CONFIG,
	CONTROL_CLUSTER,
	CONTROL__COUNT
};

/* What a command takes after its name. */
enum control_args {
	CONTROL_ARGS_NONE,
	CONTROL_ARGS_ROOM,	/* NAME */
	CONTROL_ARGS_USER,	/* ID */
	CONTROL_ARGS_KICK,	/* SOCKET, or --user ID */
	CONTROL_ARGS_LEVEL,	/* LEVEL */
};

struct control_cmd_def {
	const char		*name;		/* on the wire */
	enum control_args	 args;
	const char		*usage;		/* "room NAME" */
	int			 min_args, max_args;
};

extern const struct control_cmd_def control_cmds[CONTROL__COUNT];

#endif
