/*
 * fuzz.h - what every fuzz target (fuzz_*.c) and replay_main.c share.
 *
 * A target checks its promises with CHECK(): a broken one aborts, which
 * libFuzzer reports as a crash and a replay as a failed test.
 */
#ifndef COUP_FUZZ_H
#define COUP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* No control characters (below 0x20, or DEL), as config and control want. */
static inline int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

#endif
