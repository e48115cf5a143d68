/*
 * hash.h - the string hash our small tables use (FNV-1a, 32 bits).
 *
 * The tables it serves are keyed by ids the server made itself (session
 * and socket ids are random), so a plain, fast hash is enough; tables
 * whose keys a client chooses (room names, keymap.c's) use siphash.h's
 * keyed hash instead.
 */
#ifndef COUP_HASH_H
#define COUP_HASH_H

static inline unsigned
hash_str(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
