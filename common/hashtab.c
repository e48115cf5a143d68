/*
 * hashtab.c - an intrusive, chained, growing hash table (see hashtab.h).
 */
#include <stdlib.h>

#include "hashtab.h"
#include "log.h"
#include "xmalloc.h"

#define HASHTAB_MIN	16

static void
rehash(struct hashtab *t, size_t n)
{
	struct hnode **b = xcalloc(n, sizeof(*b)), *e, *next;

	for (size_t i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

void
hashtab_insert(struct hashtab *t, struct hnode *e, uint64_t hash)
{
	size_t slot;

	if (t->count >= t->nbuckets)
		rehash(t, t->nbuckets ? t->nbuckets * 2 : HASHTAB_MIN);
	e->hash = hash;
	slot = hash & (t->nbuckets - 1);
	e->next = t->buckets[slot];
	t->buckets[slot] = e;
	t->count++;
}

void
hashtab_remove(struct hashtab *t, struct hnode *e)
{
	struct hnode **pp;

	if (t->nbuckets == 0)
		return;
	for (pp = &t->buckets[e->hash & (t->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			t->count--;
			return;
		}
}

struct hnode *
hashtab_chain(const struct hashtab *t, uint64_t hash)
{
	return t->nbuckets ? t->buckets[hash & (t->nbuckets - 1)] : NULL;
}

void
hashtab_walk(struct hashtab *t, void (*fn)(struct hnode *, void *), void *arg)
{
	struct hnode *e, *next;

	for (size_t i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			fn(e, arg);
		}
}

void
hashtab_free(struct hashtab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}
