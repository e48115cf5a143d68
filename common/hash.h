/*
 * hash.h - the string hash our small tables use (FNV-1a, 32 bits).
 *
 * The tables it serves are keyed by ids the server made itself (session
 * and socket ids are random) or by room names that only index memberships
 * the server checked, so a plain, fast hash is enough; keymap.c, whose
 * keys come straight from clients, seeds its own.
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
