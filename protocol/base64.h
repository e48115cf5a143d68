/*
 * base64.h - standard base64 (RFC 4648, with padding), as Engine.IO's
 * long-polling transport uses for binary packets ("b" + base64).
 */
#ifndef COUP_BASE64_H
#define COUP_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to encode n bytes (no NUL). */
#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4)

/* Encode n bytes of src into dst (BASE64_ENCODED_LEN(n) bytes). */
void	base64_encode(char *dst, const uint8_t *src, size_t n);
/*
 * Decode len characters; dst may equal src (decoding in place is safe, the
 * output is never longer than the input).  Rejects bad characters, bad
 * padding and lengths that are not a multiple of 4.  Returns the decoded
 * length, or -1 (dst may then hold part of the output).
 */
long	base64_decode(uint8_t *dst, const char *src, size_t len);

#endif
