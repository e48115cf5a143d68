/*
 * siphash.h - SipHash-2-4 (see siphash.c).
 */
#ifndef COUP_SIPHASH_H
#define COUP_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t	 siphash24(uint64_t k0, uint64_t k1, const void *, size_t);
/* A string's hash under this process's own random key. */
unsigned	 hash_keyed_str(const char *);

#endif
