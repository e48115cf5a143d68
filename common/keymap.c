/*
 * keymap.c - byte-string keys to pointers, with insertion order.
 *
 * The one hash table (hashtab.h) holds entries that carry their key, and
 * a doubly linked list keeps them in insertion order so that the oldest
 * entry is found and removed in constant time.  See keymap.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hashtab.h"
#include "keymap.h"
#include "log.h"
#include "siphash.h"
#include "xmalloc.h"

struct kentry {
	struct hnode	 node;
	struct kentry	*older, *newer;	/* insertion order */
	void		*value;
	size_t		 len;
	unsigned char	 key[];
};

struct keymap {
	struct hashtab	 table;
	struct kentry	*oldest, *newest;
	uint64_t	 k0, k1;	/* SipHash key */
};

/* ------------------------------------------------------------------ table */

struct keymap *
keymap_new(void)
{
	struct keymap *m = xcalloc(1, sizeof(*m));
	uint64_t key[2];

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		fatal("getrandom");
	m->k0 = key[0];
	m->k1 = key[1];
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
	hashtab_free(&m->table);
	free(m);
}

static struct kentry *
find(const struct keymap *m, const void *key, size_t len, uint64_t h)
{
	for (struct hnode *n = hashtab_chain(&m->table, h); n; n = n->next) {
		struct kentry *e = hashtab_entry(n, struct kentry, node);

		if (n->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

void *
keymap_get(const struct keymap *m, const void *key, size_t len)
{
	struct kentry *e = find(m, key, len, siphash24(m->k0, m->k1, key, len));

	return e ? e->value : NULL;
}

void
keymap_put(struct keymap *m, const void *key, size_t len, void *value)
{
	struct kentry *e;

	if (len > SIZE_MAX - sizeof(*e))
		fatalx("keymap: key too long");
	e = xmalloc(sizeof(*e) + len);
	memcpy(e->key, key, len);
	e->len = len;
	e->value = value;
	hashtab_insert(&m->table, &e->node, siphash24(m->k0, m->k1, key, len));
	e->newer = NULL;
	e->older = m->newest;
	if (m->newest)
		m->newest->newer = e;
	else
		m->oldest = e;
	m->newest = e;
}

static void *
unlink_entry(struct keymap *m, struct kentry *e)
{
	void *value = e->value;

	hashtab_remove(&m->table, &e->node);
	if (e->older)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		m->newest = e->older;
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
	return m->table.count;
}
