/*
 * figures.c - resident memory of the gateway and its room processes, from
 * /proc/<pid>/statm: the one place it is read (see figures.h).
 */
#include <stdio.h>
#include <unistd.h>

#include "figures.h"

long long
figures_rss(pid_t pid)
{
	char path[64];
	long long pages = 0, resident = 0;
	FILE *fp;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/statm");
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%lld %lld", &pages, &resident) != 2)
		resident = 0;
	fclose(fp);
	return resident * sysconf(_SC_PAGESIZE);
}

long long
figures_self_rss(double now)
{
	static long long rss;
	static double at = -1e9;

	if (now - at >= FIGURES_MAX_AGE) {
		rss = figures_rss(0);
		at = now;
	}
	return rss;
}
