/*
 * hashtab.h - the one hash table (hashtab.c): intrusive (the node lives
 * in the object, so an entry costs no allocation), chained, and growing
 * (buckets double when there are more entries than buckets), for every
 * table of the server whatever its size: sessions, clients, rooms, rooms
 * across gateways, the API's caches (keymap.h, built on it).
 *
 * The caller hashes (hash.h: a plain hash for ids the server made, the
 * keyed one for keys a client chooses) and compares keys; the table
 * keeps the hash in the node, so a chain is walked comparing numbers
 * first.
 */
#ifndef COUP_HASHTAB_H
#define COUP_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode	*next;
	uint64_t	 hash;
};

struct hashtab {
	struct hnode	**buckets;
	size_t		 nbuckets;	/* 0, or a power of two */
	size_t		 count;
};

#define HASHTAB_INIT	{ NULL, 0, 0 }

/* The object a node is in. */
#define hashtab_entry(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

void		 hashtab_insert(struct hashtab *, struct hnode *, uint64_t hash);
void		 hashtab_remove(struct hashtab *, struct hnode *);
/* The chain where `hash` would be: walk it with ->next, comparing
 * node->hash, then the key. */
struct hnode	*hashtab_chain(const struct hashtab *, uint64_t hash);
/* fn for every node; fn may remove the node it is given (not others). */
void		 hashtab_walk(struct hashtab *, void (*fn)(struct hnode *,
		    void *), void *arg);
void		 hashtab_free(struct hashtab *);	/* the buckets only */

/*
 * A loop over every node: n the node at hand, next a struct hnode * the
 * loop keeps.  The body may remove n (not others) and must not insert
 * (a growing table moves its chains).  `break` leaves one chain only.
 */
#define hashtab_foreach(t, n, next)					\
	for (size_t hashtab_i_ = 0; hashtab_i_ < (t)->nbuckets;		\
	    hashtab_i_++)						\
		for ((n) = (t)->buckets[hashtab_i_];			\
		    (n) != NULL && (((next) = (n)->next), 1); (n) = (next))

/* A 64-bit id spread over the bits (splitmix64's finisher). */
static inline uint64_t
hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif
