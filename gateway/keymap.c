/*
 * keymap.c - byte-string keys to pointers, with insertion order.
 *
 * Chained buckets whose number doubles when the table holds more entries
 * than buckets, and a doubly linked list in insertion order so that the
 * oldest entry is found and removed in constant time.  See keymap.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "keymap.h"
#include "log.h"
#include "siphash.h"

#define KEYMAP_MIN_BUCKETS	64

struct kentry {
	struct kentry	*hnext;		/* bucket chain */
	struct kentry	*older, *newer;	/* insertion order */
	uint64_t	 hash;
	void		*value;
	size_t		 len;
	unsigned char	 key[];
};

struct keymap {
	struct kentry	**buckets;
	size_t		 nbuckets;	/* a power of two */
	size_t		 count;
	struct kentry	*oldest, *newest;
	uint64_t	 k0, k1;	/* SipHash key */
};

/* ------------------------------------------------------------------ table */

static struct kentry **
alloc_buckets(size_t n)
{
	struct kentry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		fatal("calloc");
	return b;
}

struct keymap *
keymap_new(void)
{
	struct keymap *m = calloc(1, sizeof(*m));
	uint64_t key[2];

	if (m == NULL)
		fatal("calloc");
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		fatal("getrandom");
	m->k0 = key[0];
	m->k1 = key[1];
	m->nbuckets = KEYMAP_MIN_BUCKETS;
	m->buckets = alloc_buckets(m->nbuckets);
	return m;
}

void
keymap_free(struct keymap *m, void (*free_value)(void *))
{
	struct kentry *e, *next;

	if (m == NULL)
		return;
	for (e = m->oldest; e != NULL; e = next) {
		next = e->newer;
		if (free_value != NULL)
			free_value(e->value);
		free(e);
	}
	free(m->buckets);
	free(m);
}

static struct kentry *
find(const struct keymap *m, const void *key, size_t len, uint64_t h)
{
	struct kentry *e;

	for (e = m->buckets[h & (m->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

void *
keymap_get(const struct keymap *m, const void *key, size_t len)
{
	struct kentry *e = find(m, key, len, siphash24(m->k0, m->k1, key, len));

	return e ? e->value : NULL;
}

static void
grow(struct keymap *m)
{
	size_t n = m->nbuckets * 2;
	struct kentry **b = alloc_buckets(n);
	struct kentry *e;

	/* Walking the order list visits every entry exactly once. */
	for (e = m->oldest; e != NULL; e = e->newer) {
		e->hnext = b[e->hash & (n - 1)];
		b[e->hash & (n - 1)] = e;
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void
keymap_put(struct keymap *m, const void *key, size_t len, void *value)
{
	struct kentry *e;
	size_t slot;

	if (len > SIZE_MAX - sizeof(*e))
		fatalx("keymap: key too long");
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		fatal("malloc");
	memcpy(e->key, key, len);
	e->len = len;
	e->value = value;
	e->hash = siphash24(m->k0, m->k1, key, len);
	if (m->count >= m->nbuckets)
		grow(m);
	slot = e->hash & (m->nbuckets - 1);
	e->hnext = m->buckets[slot];
	m->buckets[slot] = e;
	e->newer = NULL;
	e->older = m->newest;
	if (m->newest)
		m->newest->newer = e;
	else
		m->oldest = e;
	m->newest = e;
	m->count++;
}

static void *
unlink_entry(struct keymap *m, struct kentry *e)
{
	struct kentry **pp = &m->buckets[e->hash & (m->nbuckets - 1)];
	void *value = e->value;

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	m->count--;
	free(e);
	return value;
}

void *
keymap_remove(struct keymap *m, const void *key, size_t len)
{
	struct kentry *e = find(m, key, len, siphash24(m->k0, m->k1, key, len));

	return e ? unlink_entry(m, e) : NULL;
}

void *
keymap_oldest(const struct keymap *m)
{
	return m->oldest ? m->oldest->value : NULL;
}

void *
keymap_remove_oldest(struct keymap *m)
{
	return m->oldest ? unlink_entry(m, m->oldest) : NULL;
}

size_t
keymap_count(const struct keymap *m)
{
	return m->count;
}
