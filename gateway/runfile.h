/*
 * runfile.h - the run directory, the pid file and the control socket's
 * file, made as root without following a link anyone else could have
 * planted (runfile.c).
 */
#ifndef COUP_RUNFILE_H
#define COUP_RUNFILE_H

#include <sys/types.h>

/*
 * A file of ours named by its directory, held open, and its last
 * component: nothing done to it goes through its path again.  All zero
 * (path NULL) is "none".
 */
struct runfile {
	int	 dirfd;		/* the directory it is in */
	int	 fd;		/* the pid file itself, open and locked */
	char	*path;		/* for messages */
	char	*name;		/* in dirfd */
	dev_t	 dev;		/* what we made there, to remove at exit */
	ino_t	 ino;		/* (0: nothing yet) */
};

/*
 * RUN_DIR, opened (a descriptor) and made if need be: root's and mode
 * 0755 when we run as root, so RUN_USER cannot put anything in it.  One
 * that an older version gave to run_uid is taken back.  -1 (logged) if
 * it cannot be made; fatal if it is a link, not a directory, or one
 * that someone other than root (or our own user) can change.
 */
int	runfile_dir(const char *dir, uid_t run_uid);
/*
 * f is path, or name in the run directory rundir (from runfile_dir, -1
 * if there is none, whose path is run_dir) if path is empty.  Its
 * directory must be one that no one but root or our own user can change,
 * or a sticky one like /tmp.  -1 with err set otherwise; what (a key's
 * name) starts the message.
 */
int	runfile_init(struct runfile *f, const char *what, const char *path,
	    int rundir, const char *run_dir, const char *name, char *err,
	    size_t errlen);
/* 1 if the gateway that wrote the pid file still runs (it holds a lock
 * on it for as long), with the pid it wrote in pid (0 if none). */
int	runfile_pid_held(const struct runfile *f, long *pid);
/* Write our pid as a new file (the old one removed, never opened). */
int	runfile_write_pid(struct runfile *f);
/* 1 if a socket there answers a connect. */
int	runfile_socket_in_use(const struct runfile *f);
/* Bind socket s there, mode 0660, group group ((gid_t)-1: keep ours);
 * -1 with errno set. */
int	runfile_bind(struct runfile *f, int s, gid_t group);
/* Remove what we made if it is still there and we still may, and let
 * go of f. */
void	runfile_close(struct runfile *f);

#endif
