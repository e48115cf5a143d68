/*
 * watchers.h - who is told what happens in the rooms, beyond the rooms
 * themselves: observers that register a struct watcher from main.c at
 * start (webhooks.c), as the cluster registers its peers.h hooks.  The
 * core calls watchers_*(); with nothing registered they do nothing.
 */
#ifndef COUP_WATCHERS_H
#define COUP_WATCHERS_H

struct client;
struct membership;
struct room;

struct watcher {
	/* A client joined room (linked already); first: the user's first
	 * connection there. */
	void	(*joined)(void *ctx, struct membership *, int first);
	/* A client left room (unlinked already; reason an IPC_LEAVE_*, why
	 * the client's end when it is gone: "session expired", "kicked by
	 * an administrator", ...); last: the user's last connection there. */
	void	(*left)(void *ctx, struct room *, struct client *, int reason,
		    const char *why, int last);
	void	*ctx;
};

void	watchers_register(const struct watcher *);
void	watchers_joined(struct membership *, int first);
void	watchers_left(struct room *, struct client *, int reason,
	    const char *why, int last);

#endif
