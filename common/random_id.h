/*
 * random_id.h - unguessable ids: Engine.IO session ids and Socket.IO
 * socket ids, from the kernel's random generator, in the URL-safe base64
 * alphabet (so they travel in query strings as they are).
 */
#ifndef COUP_RANDOM_ID_H
#define COUP_RANDOM_ID_H

#include <stddef.h>
#include <stdint.h>

/* Fill out with len random characters and a NUL (out has len + 1). */
void	random_id(char *out, size_t len);
/* A random number below 2^bits (bits 1..64). */
uint64_t random_u64(unsigned bits);

#endif
