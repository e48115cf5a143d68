/*
 * procstat.c - RSS and CPU time of a process tree, from /proc.
 *
 * Descendants are found through /proc/<pid>/task/<tid>/children (every
 * thread's list: a child belongs to the thread that forked it). CPU time
 * adds the root's cutime+cstime, so a child that dies between two samples
 * still counts: before, its own time was in the live sum; after, in the
 * root's reaped total.
 */
#include "procstat.h"
#include "bench.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A server forks a bounded number of children; guard against loops. */
#define MAX_TREE	100000

static uint64_t
read_rss(pid_t pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* utime+stime (and, when with_reaped, cutime+cstime) in clock ticks. */
static int
read_cpu(pid_t pid, int with_reaped, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long long cut, cst;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the
	 * last ')', then fields 3.. follow. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu %lld %lld", &ut, &st, &cut, &cst) != 4)
		return -1;
	*ticks = ut + st;
	if (with_reaped)
		*ticks += (uint64_t)(cut + cst);
	return 0;
}

/* Appends pid's children to list[*n..]; returns -1 when full. */
static int
add_children(pid_t pid, pid_t *list, int *n)
{
	char path[64], cpath[320];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int child;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children",
		    (int)pid, de->d_name);
		if ((f = fopen(cpath, "r")) == NULL)
			continue;
		while (fscanf(f, "%d", &child) == 1) {
			if (*n >= MAX_TREE) {
				fclose(f);
				closedir(d);
				return -1;
			}
			list[(*n)++] = (pid_t)child;
		}
		fclose(f);
	}
	closedir(d);
	return 0;
}

int
tree_sample(pid_t pid, struct tree_sample *out)
{
	static pid_t *list;
	int n = 0, i;
	uint64_t t;

	memset(out, 0, sizeof(*out));
	out->t = now_s();
	if (pid <= 0)
		return -1;
	if (list == NULL && (list = malloc(sizeof(*list) * MAX_TREE)) == NULL)
		return -1;
	list[n++] = pid;
	/* Breadth first: list grows as each member's children are added. */
	for (i = 0; i < n; i++)
		if (add_children(list[i], list, &n) < 0)
			break;
	for (i = 0; i < n; i++) {
		if (read_cpu(list[i], i == 0, &t) < 0) {
			if (i == 0)
				return -1;
			continue;	/* a child that just exited */
		}
		out->cpu_ticks += t;
		out->rss_bytes += read_rss(list[i]);
		out->processes++;
	}
	out->ok = 1;
	return 0;
}

double
tree_cpu_percent(const struct tree_sample *a, const struct tree_sample *b)
{
	double dt = b->t - a->t, hz = (double)sysconf(_SC_CLK_TCK);

	if (!a->ok || !b->ok || dt <= 0 || hz <= 0)
		return 0.0;
	return 100.0 * ((double)(b->cpu_ticks - a->cpu_ticks) / hz) / dt;
}
