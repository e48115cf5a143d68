/*
 * random_id.c - see random_id.h.
 */
#include <stdint.h>
#include <sys/random.h>

#include "log.h"
#include "random_id.h"

void
random_id(char *out, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t rnd[64];

	if (len > sizeof(rnd))
		fatalx("random_id: %zu characters is too many", len);
	if (getrandom(rnd, len, 0) != (ssize_t)len)
		fatal("getrandom");
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[rnd[i] & 63];
	out[len] = '\0';
}

uint64_t
random_u64(unsigned bits)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		fatal("getrandom");
	return bits >= 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}
