/*
 * daemon.h - detaching and dropping privileges (daemon.c).
 */
#ifndef COUP_DAEMON_H
#define COUP_DAEMON_H

#include <sys/types.h>

/* RUN_USER's ids; -1 if there is no such user (or name is empty). */
int	daemon_lookup_user(const char *name, uid_t *uid, gid_t *gid);
/* Fork twice, new session, stdio on /dev/null; the starting process
 * waits until daemon_ready() on the returned descriptor, and exits 0 (or
 * 1 if the daemon died first). */
int	daemon_detach(void);
void	daemon_ready(int fd);
/* Become user for good (fatal if it cannot). */
void	daemon_drop_privileges(const char *user, uid_t uid, gid_t gid);

#endif
