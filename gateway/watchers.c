/*
 * watchers.c - the core's side of watchers.h: a short list of registered
 * observers, each told in turn.
 */
#include "log.h"
#include "watchers.h"

#define WATCHERS_MAX	4

static const struct watcher *watchers[WATCHERS_MAX];
static int nwatchers;

void
watchers_register(const struct watcher *w)
{
	if (nwatchers == WATCHERS_MAX)
		fatalx("watchers_register: more than %d watchers", WATCHERS_MAX);
	watchers[nwatchers++] = w;
}

void
watchers_joined(struct membership *m, int first)
{
	for (int i = 0; i < nwatchers; i++)
		watchers[i]->joined(watchers[i]->ctx, m, first);
}

void
watchers_left(struct room *r, struct client *c, int reason, const char *why,
    int last)
{
	for (int i = 0; i < nwatchers; i++)
		watchers[i]->left(watchers[i]->ctx, r, c, reason, why, last);
}
