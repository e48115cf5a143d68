/*
 * keymap.h - a hash table from byte-string keys to pointers that also
 * remembers insertion order, so the oldest entry can be found at once.
 *
 * coupapi.c keeps its caches (bounded: the oldest entry goes first, and
 * with one TTL per cache the oldest is also the first to expire) and its
 * table of calls in flight in it.  Keys come from clients (user and study
 * ids), so buckets are chosen with SipHash under a random key: nobody can
 * aim many keys at one chain.
 */
#ifndef COUP_KEYMAP_H
#define COUP_KEYMAP_H

#include <stddef.h>

struct keymap;

struct keymap	*keymap_new(void);
/* Frees the table and its keys; free_value (may be NULL) gets each value. */
void		 keymap_free(struct keymap *, void (*free_value)(void *));
void		*keymap_get(const struct keymap *, const void *key, size_t len);
/* Adds key (copied) as the newest entry.  The key must not be present. */
void		 keymap_put(struct keymap *, const void *key, size_t len,
		    void *value);
/* Removes key; returns its value, or NULL when it was not there. */
void		*keymap_remove(struct keymap *, const void *key, size_t len);
/* The value of the oldest entry (NULL when empty), and its removal. */
void		*keymap_oldest(const struct keymap *);
void		*keymap_remove_oldest(struct keymap *);
size_t		 keymap_count(const struct keymap *);

#endif
