/*
 * daemon.c - what makes coup-gateway a well-behaved daemon: detaching
 * (--daemon) and becoming RUN_USER once the port is bound.  The run
 * directory and the pid file, made before that as root, are runfile.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

int
daemon_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	if (name == NULL || *name == '\0')
		return -1;
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/*
 * The parent stays until the daemon says it is serving (or dies), so the
 * exit status of `coup-gateway --daemon` says whether it started: an init
 * script can trust it.
 */
int
daemon_detach(void)
{
	pid_t pid;
	int fd, pfd[2];
	char ok = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		fatal("pipe");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		close(pfd[1]);
		while (read(pfd[0], &ok, 1) < 0 && errno == EINTR)
			;
		_exit(ok == '1' ? 0 : 1);
	}
	close(pfd[0]);
	if (setsid() < 0)
		fatal("setsid");
	/* A second fork: never again a session leader, never a terminal. */
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /");
	umask(022);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return pfd[1];
}

void
daemon_ready(int fd)
{
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			log_warn("telling the starting process we are ready");
		close(fd);
	}
}

void
daemon_drop_privileges(const char *user, uid_t uid, gid_t gid)
{
	if (initgroups(user, gid) < 0)
		fatal("initgroups %s", user);
	if (setgid(gid) < 0)
		fatal("setgid %ld", (long)gid);
	if (setuid(uid) < 0)
		fatal("setuid %ld", (long)uid);
	if (setuid(0) == 0)
		fatalx("could regain root after becoming %s", user);
	log_info("running as %s", user);
}
