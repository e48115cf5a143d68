/*
 * test_hashtab.c - the one hash table: entries found after the table has
 * grown many times, removed (also while walking), the walk visiting each
 * exactly once; and keymap.h on top of it, with its insertion order.
 */
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"
#include "keymap.h"
#include "log.h"
#include "tap.h"

struct item {
	struct hnode	 node;
	uint64_t	 key;
	int		 seen;
};

#define N	5000

static struct item items[N];

static struct item *
find(struct hashtab *t, uint64_t key)
{
	uint64_t h = hash_u64(key);

	for (struct hnode *n = hashtab_chain(t, h); n != NULL; n = n->next) {
		struct item *it = hashtab_entry(n, struct item, node);

		if (n->hash == h && it->key == key)
			return it;
	}
	return NULL;
}

static void
mark(struct hnode *n, void *arg)
{
	struct item *it = hashtab_entry(n, struct item, node);

	it->seen++;
	/* Removing the node given is allowed: every odd one goes. */
	if (it->key % 2)
		hashtab_remove(arg, n);
}

static void
test_table(void)
{
	struct hashtab t = HASHTAB_INIT;
	int found = 0, seen_once = 1;

	ok(hashtab_chain(&t, 42) == NULL, "an empty table has no chains");
	for (int i = 0; i < N; i++) {
		items[i].key = (uint64_t)i * 7919;
		hashtab_insert(&t, &items[i].node, hash_u64(items[i].key));
	}
	is_int(t.count, N, "5000 entries");
	ok(t.nbuckets >= N && (t.nbuckets & (t.nbuckets - 1)) == 0,
	    "the buckets grew, a power of two, at least one per entry");
	for (int i = 0; i < N; i++)
		found += find(&t, items[i].key) == &items[i];
	is_int(found, N, "every one found after the growth");
	ok(find(&t, 3) == NULL, "a key not there is not found");
	hashtab_walk(&t, mark, &t);
	for (int i = 0; i < N; i++)
		seen_once &= items[i].seen == 1;
	ok(seen_once, "the walk visits each entry once, while removing");
	is_int(t.count, (N + 1) / 2, "the odd ones removed by the walk");
	ok(find(&t, items[1].key) == NULL && find(&t, items[2].key) ==
	    &items[2], "an odd one gone, an even one there");
	hashtab_free(&t);
	is_int(t.count, 0, "freed");
}

static void
test_keymap(void)
{
	struct keymap *m = keymap_new();
	char key[16];
	int ok_all = 1;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		keymap_put(m, key, strlen(key), (void *)(intptr_t)(i + 1));
	}
	is_int(keymap_count(m), 1000, "keymap: 1000 keys");
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ok_all &= keymap_get(m, key, strlen(key)) ==
		    (void *)(intptr_t)(i + 1);
	}
	ok(ok_all, "  every value found");
	is_int((intptr_t)keymap_oldest(m), 1, "  the oldest is the first put");
	is_int((intptr_t)keymap_remove_oldest(m), 1, "  and goes first");
	is_int((intptr_t)keymap_remove(m, "k500", 4), 501, "  a key removed");
	ok(keymap_get(m, "k500", 4) == NULL, "  and gone");
	is_int(keymap_count(m), 998, "  998 left");
	keymap_free(m, NULL);
}

int
main(void)
{
	log_init("test_hashtab", LOG_LEVEL_WARN);
	test_table();
	test_keymap();
	return tap_done();
}
