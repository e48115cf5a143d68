/*
 * control_req.h - one control request line parsed and checked, with no
 * gateway needed (control_req.c; fuzzed alone).
 */
#ifndef COUP_CONTROL_REQ_H
#define COUP_CONTROL_REQ_H

#include <stddef.h>

#include "control_proto.h"

/* One request line, parsed and checked. */
struct control_req {
	enum control_cmd cmd;
	/*
	 * The one argument: NAME, ID, SOCKET (or the ID of kick --user) or
	 * LEVEL; "" for the commands that take none.  Never empty otherwise,
	 * within its kind's maximum, no control characters.
	 */
	char		 arg[CONTROL_ARG_MAX + 1];
	int		 by_user;	/* kick --user ID */
	int		 level;		/* log-level: enum log_level */
	const char	*code;		/* on error: the answer's code */
};

/*
 * Parse and check one request line of `len` bytes (without its newline),
 * with no gateway needed.  Returns 0, or -1 with req->code (BAD_REQUEST,
 * BAD_VERSION or UNKNOWN_COMMAND) and a message in err.
 */
int	control_parse(const char *line, size_t len, struct control_req *req,
	    char *err, size_t errlen);
const char *control_cmd_name(enum control_cmd);

#endif
