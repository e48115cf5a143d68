/*
 * runfile.c - the files coup-gateway makes as root before it becomes
 * RUN_USER: the run directory, the pid file and the control socket.
 *
 * Each may lie in a directory someone else can write to (a RUN_DIR that
 * an older version gave to RUN_USER, a PID_FILE in /tmp), where a link
 * put in place of our file would have root truncate, chmod or chown
 * whatever it points to.  So a path is never used twice: a directory is
 * reached one component at a time with O_NOFOLLOW, checked, and held
 * open; a file in it is removed and made afresh relative to that
 * descriptor (O_CREAT | O_EXCL opens neither a link nor a file someone
 * else made); the socket is bound from within its directory with a umask
 * that gives its mode, and its group is set with AT_SYMLINK_NOFOLLOW.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "runfile.h"
#include "xmalloc.h"

/* As many links as the kernel follows in one path (MAXSYMLINKS). */
#define LINKS_MAX	40
/* open_dir() refused what it found on the way (err says what). */
#define REFUSED		(-2)

/* Root, or the user we run as: whose files and links we may trust. */
static int
trusted_uid(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* "uid 65534 (nobody)", for messages. */
static const char *
who(uid_t uid)
{
	static char buf[96];
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, sizeof(buf), "uid %lu (%s)", (unsigned long)uid,
		    pw->pw_name);
	else
		snprintf(buf, sizeof(buf), "uid %lu", (unsigned long)uid);
	return buf;
}

/* Writable by group or others: anyone who can write there may remove
 * and rename entries, unless the sticky bit keeps them to their own. */
static int
writable_by_others(const struct stat *st)
{
	return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* A directory whose entries no one but root or we can change (others
 * may add theirs to a sticky one, like /tmp, but not touch ours). */
static int
check_dir(int fd, const char *seen, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", seen, strerror(errno));
		return -1;
	}
	if (!trusted_uid(st.st_uid)) {
		snprintf(err, errlen, "%s is owned by %s, who could put a "
		    "link in it", seen, who(st.st_uid));
		return REFUSED;
	}
	if (writable_by_others(&st) && (st.st_mode & S_ISVTX) == 0) {
		snprintf(err, errlen, "%s is writable by others and not "
		    "sticky (mode %04o)", seen, (unsigned)(st.st_mode & 07777));
		return REFUSED;
	}
	return 0;
}

/* seen/comp, for messages. */
static void
seen_add(char *seen, size_t len, const char *comp)
{
	size_t n = strlen(seen);

	snprintf(seen + n, len - n, "%s%s",
	    n > 0 && seen[n - 1] == '/' ? "" : "/", comp);
}

/*
 * The directory path names, opened (O_PATH) one component at a time,
 * each with O_NOFOLLOW, every directory on the way checked.  A symbolic
 * link on the way is followed only if root or we own it: in a directory
 * that passed, nobody else could have put it there (/var/run -> /run).
 * A descriptor, or -1 (err says why) or REFUSED (err says what).
 */
static int
open_dir(const char *path, char *err, size_t errlen)
{
	char rest[PATH_MAX], next[PATH_MAX], seen[PATH_MAX];
	char target[PATH_MAX], link[PATH_MAX], comp[NAME_MAX + 1];
	struct stat st;
	const char *p;
	size_t len;
	ssize_t n;
	int fd = -1, nfd, links = 0, rv, saved;

	if ((size_t)snprintf(rest, sizeof(rest), "%s", path) >= sizeof(rest)) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	p = rest;
	for (;;) {
		if (fd < 0) {
			/* The start, and again after a link to an
			 * absolute path. */
			snprintf(seen, sizeof(seen), "%s", *p == '/' ? "/" : ".");
			fd = open(seen, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				snprintf(err, errlen, "%s: %s", seen,
				    strerror(errno));
				return -1;
			}
			if ((rv = check_dir(fd, seen, err, errlen)) < 0) {
				close(fd);
				return rv;
			}
		}
		while (*p == '/')
			p++;
		if (*p == '\0')
			return fd;
		if ((len = strcspn(p, "/")) > NAME_MAX) {
			snprintf(err, errlen, "%s: %s", path,
			    strerror(ENAMETOOLONG));
			break;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		if (strcmp(comp, ".") == 0)
			continue;
		nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		saved = errno;
		if (nfd < 0 && (saved == ENOTDIR || saved == ELOOP) &&
		    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode)) {
			snprintf(link, sizeof(link), "%s", seen);
			seen_add(link, sizeof(link), comp);
			if (!trusted_uid(st.st_uid)) {
				snprintf(err, errlen, "%s is a symbolic link "
				    "owned by %s, who could point it anywhere; "
				    "not following it", link, who(st.st_uid));
				close(fd);
				return REFUSED;
			}
			n = readlinkat(fd, comp, target, sizeof(target));
			if (++links > LINKS_MAX || n < 0 ||
			    (size_t)n >= sizeof(target)) {
				snprintf(err, errlen, "%s: %s", link,
				    strerror(n < 0 ? errno : ELOOP));
				break;
			}
			target[n] = '\0';
			/* The link's text, then what was left of ours; a
			 * relative one from the link's directory, fd. */
			if ((size_t)snprintf(next, sizeof(next), "%s/%s",
			    target, p) >= sizeof(next)) {
				snprintf(err, errlen, "%s: %s", link,
				    strerror(ENAMETOOLONG));
				break;
			}
			memcpy(rest, next, strlen(next) + 1);
			p = rest;
			if (*p == '/') {
				close(fd);
				fd = -1;
			}
			continue;
		}
		seen_add(seen, sizeof(seen), comp);
		if (nfd < 0) {
			snprintf(err, errlen, "%s: %s", seen, strerror(saved));
			break;
		}
		close(fd);
		fd = nfd;
		if ((rv = check_dir(fd, seen, err, errlen)) < 0) {
			close(fd);
			return rv;
		}
	}
	close(fd);
	return -1;
}

/* path's directory and last component; -1 if it ends in no name. */
static int
split_path(const char *path, char *dir, size_t dirlen, char *name,
    size_t namelen)
{
	size_t len = strlen(path), base;

	while (len > 1 && path[len - 1] == '/')
		len--;
	for (base = len; base > 0 && path[base - 1] != '/'; base--)
		;
	if (len == base || len - base >= namelen || base >= dirlen)
		return -1;
	memcpy(name, path + base, len - base);
	name[len - base] = '\0';
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -1;
	if (base == 0)
		snprintf(dir, dirlen, ".");
	else if (base == 1)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(base - 1), path);
	return 0;
}

int
runfile_dir(const char *dir, uid_t run_uid)
{
	char parent[PATH_MAX], name[NAME_MAX + 1], err[PATH_MAX + 128];
	struct passwd *pw;
	struct stat st;
	int pfd, fd, made = 0, saved;

	if (split_path(dir, parent, sizeof(parent), name, sizeof(name)) < 0)
		fatalx("RUN_DIR %s: not a directory the gateway can make its "
		    "own; set RUN_DIR", dir);
	if ((pfd = open_dir(parent, err, sizeof(err))) == REFUSED)
		fatalx("RUN_DIR %s: %s; refusing it (its path must go "
		    "through directories only root can change)", dir, err);
	if (pfd < 0) {
		log_warnx("cannot create the run directory %s: %s", dir, err);
		return -1;
	}
	if (mkdirat(pfd, name, 0755) == 0)
		made = 1;
	else if (errno != EEXIST) {
		log_warn("cannot create the run directory %s", dir);
		close(pfd);
		return -1;
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	saved = errno;
	if (fd < 0 && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			fatalx("RUN_DIR %s is a symbolic link; refusing to "
			    "follow it (remove it: the gateway makes the "
			    "directory itself)", dir);
		if (!S_ISDIR(st.st_mode))
			fatalx("RUN_DIR %s is not a directory; remove it, or "
			    "set RUN_DIR", dir);
	}
	close(pfd);
	if (fd < 0) {
		errno = saved;
		log_warn("cannot open the run directory %s", dir);
		return -1;
	}
	if (fstat(fd, &st) < 0)
		fatal("fstat %s", dir);
	if (geteuid() == 0 && st.st_uid != 0 && st.st_uid == run_uid) {
		/* Versions before this one gave it to RUN_USER, who could
		 * then plant links in it: take it back. */
		pw = getpwuid(st.st_uid);
		log_warnx("RUN_DIR %s belongs to %s, as an older coup-gateway "
		    "left it; making it root's again, mode 0755", dir,
		    pw != NULL ? pw->pw_name : "RUN_USER");
		if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0755) < 0)
			fatal("RUN_DIR %s: taking it back", dir);
	} else if (made && fchmod(fd, 0755) < 0)	/* whatever the umask */
		fatal("chmod %s", dir);
	if (fstat(fd, &st) < 0)
		fatal("fstat %s", dir);
	if (!trusted_uid(st.st_uid))
		fatalx("RUN_DIR %s is owned by %s, not root; refusing to use "
		    "it (chown root: it, or remove it)", dir, who(st.st_uid));
	if (writable_by_others(&st))
		fatalx("RUN_DIR %s is writable by others (mode %04o); refusing "
		    "to use it (chmod 755 it)", dir,
		    (unsigned)(st.st_mode & 07777));
	return fd;
}

int
runfile_init(struct runfile *f, const char *what, const char *path,
    int rundir, const char *run_dir, const char *name, char *err,
    size_t errlen)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], why[PATH_MAX + 128];
	int fd;

	memset(f, 0, sizeof(*f));
	f->dirfd = f->fd = -1;
	if (*path == '\0') {
		if (rundir < 0) {
			snprintf(err, errlen, "%s %s/%s: no run directory "
			    "(see above)", what, run_dir, name);
			return -1;
		}
		if ((fd = fcntl(rundir, F_DUPFD_CLOEXEC, 0)) < 0)
			fatal("dup");
		f->path = xasprintf("%s/%s", run_dir, name);
	} else {
		if (split_path(path, dir, sizeof(dir), base,
		    sizeof(base)) < 0) {
			snprintf(err, errlen, "%s %s: not a file name", what,
			    path);
			return -1;
		}
		if ((fd = open_dir(dir, why, sizeof(why))) < 0) {
			snprintf(err, errlen, "%s %s: %s", what, path, why);
			return -1;
		}
		f->path = xstrdup(path);
		name = base;
	}
	f->name = xstrdup(name);
	f->dirfd = fd;
	return 0;
}

int
runfile_pid_held(const struct runfile *f, long *pid)
{
	struct stat st, st2;
	char line[32];
	ssize_t n;
	int fd, held = 0;

	*pid = 0;
	/* Only a file as a gateway leaves it is opened at all. */
	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1)
		return 0;
	fd = openat(f->dirfd, f->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st2) == 0 && st2.st_dev == st.st_dev &&
	    st2.st_ino == st.st_ino && flock(fd, LOCK_SH | LOCK_NB) < 0 &&
	    errno == EWOULDBLOCK) {
		held = 1;
		if ((n = read(fd, line, sizeof(line) - 1)) > 0) {
			line[n] = '\0';
			*pid = strtol(line, NULL, 10);
		}
	}
	close(fd);
	return held;
}

int
runfile_write_pid(struct runfile *f)
{
	struct stat st;
	char line[32];
	int fd, n;

	/* Whatever is there goes, unopened: a link, a hard link to someone
	 * else's file, a file someone made for us to write into. */
	if (unlinkat(f->dirfd, f->name, 0) < 0 && errno != ENOENT) {
		log_warn("pid file %s: cannot remove the old one", f->path);
		return -1;
	}
	fd = openat(f->dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			log_warnx("pid file %s: made again by someone else as "
			    "soon as the old one was removed; not writing it "
			    "(who else writes there?)", f->path);
		else
			log_warn("cannot write the pid file %s", f->path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || fchmod(fd, 0644) < 0)
		fatal("pid file %s", f->path);
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	/* Held for as long as we run: a second gateway given this pid file
	 * sees that it is taken (runfile_pid_held). */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		log_warn("pid file %s: lock", f->path);
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n) {
		log_warn("write %s", f->path);
		return -1;
	}
	return 0;
}

/* bind(2) or connect(2) s to name in the directory dirfd.  A socket's
 * address is a path and there is no bindat(2): from within that
 * directory then, and back. */
static int
socket_at(int dirfd, const char *name, int s, int bind_it)
{
	struct sockaddr_un sun;
	int cwd, rv, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(name) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, name, strlen(name) + 1);
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fchdir(dirfd) < 0) {
		saved = errno;
		close(cwd);
		errno = saved;
		return -1;
	}
	if (bind_it)
		rv = bind(s, (struct sockaddr *)&sun, sizeof(sun));
	else
		rv = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	if (fchdir(cwd) < 0)
		fatal("cannot return to the working directory");
	close(cwd);
	errno = saved;
	return rv;
}

int
runfile_socket_in_use(const struct runfile *f)
{
	struct stat st, dir;
	int s, rv;

	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	/* In a directory others write to (a sticky one), whoever owns the
	 * socket could swap it for a link before we connect: only ours
	 * are asked, the others are removed as stale. */
	if (!trusted_uid(st.st_uid) && (fstat(f->dirfd, &dir) < 0 ||
	    writable_by_others(&dir)))
		return 0;
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rv = socket_at(f->dirfd, f->name, s, 0) == 0;
	close(s);
	return rv;
}

int
runfile_bind(struct runfile *f, int s, gid_t group)
{
	struct stat st;
	mode_t old;
	int rv;

	/* A socket left by a gateway that did not exit cleanly, or whatever
	 * else was put there: removed, never followed. */
	if (unlinkat(f->dirfd, f->name, 0) < 0 && errno != ENOENT)
		return -1;
	/* bind(2) makes the file with the umask's mode: 0660 at once, no
	 * chmod by path afterwards. */
	old = umask(0117);
	rv = socket_at(f->dirfd, f->name, s, 1);
	umask(old);
	if (rv < 0)
		return -1;
	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		/* Not what we bound: someone changes our directory. */
		errno = EEXIST;
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (group != (gid_t)-1 && st.st_gid != group &&
	    fchownat(f->dirfd, f->name, (uid_t)-1, group,
	    AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	return 0;
}

void
runfile_close(struct runfile *f)
{
	struct stat st;

	if (f->path == NULL)
		return;
	if (f->ino != 0 &&
	    fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == f->dev && st.st_ino == f->ino &&
	    unlinkat(f->dirfd, f->name, 0) < 0) {
		if (errno == EACCES || errno == EPERM)
			/* As RUN_USER in root's directory: the init script
			 * removes the pid file, the next start the socket. */
			log_debug("leaving %s: no longer allowed to remove it",
			    f->path);
		else
			log_warn("unlink %s", f->path);
	}
	if (f->fd >= 0)
		close(f->fd);
	close(f->dirfd);
	free(f->path);
	free(f->name);
	memset(f, 0, sizeof(*f));
}
