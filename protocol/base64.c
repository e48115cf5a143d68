/*
 * base64.c - standard base64 (RFC 4648, alphabet "+/", "=" padding).
 *
 * The decoder is strict because its input comes from the network: only the
 * 64 alphabet characters, a length that is a multiple of 4, at most two "="
 * and only at the very end, and zero bits in the unused part of the last
 * character (so every byte string has exactly one accepted encoding).
 */
#include <limits.h>

#include "base64.h"

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
base64_encode(char *dst, const uint8_t *src, size_t n)
{
	uint32_t v;

	for (; n >= 3; n -= 3, src += 3) {
		v = (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8 | src[2];
		*dst++ = alphabet[v >> 18];
		*dst++ = alphabet[(v >> 12) & 0x3f];
		*dst++ = alphabet[(v >> 6) & 0x3f];
		*dst++ = alphabet[v & 0x3f];
	}
	if (n == 0)
		return;
	v = (uint32_t)src[0] << 16;
	if (n == 2)
		v |= (uint32_t)src[1] << 8;
	*dst++ = alphabet[v >> 18];
	*dst++ = alphabet[(v >> 12) & 0x3f];
	*dst++ = n == 2 ? alphabet[(v >> 6) & 0x3f] : '=';
	*dst = '=';
}

/* Value of one alphabet character, or -1. */
static int
sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(uint8_t *dst, const char *src, size_t len)
{
	size_t	 i, out = 0;
	int	 s[4], pad, k;
	uint32_t v;

	if (len % 4 != 0 || len / 4 > LONG_MAX / 3)
		return -1;
	for (i = 0; i < len; i += 4) {
		/* Padding only in the last group: "xx==" or "xxx=". */
		pad = 0;
		if (i + 4 == len) {
			if (src[i + 3] == '=')
				pad = src[i + 2] == '=' ? 2 : 1;
		}
		for (k = 0; k < 4 - pad; k++)
			if ((s[k] = sextet((unsigned char)src[i + k])) < 0)
				return -1;
		for (; k < 4; k++)
			s[k] = 0;
		v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 |
		    (uint32_t)s[2] << 6 | (uint32_t)s[3];
		/*
		 * All four characters are read before any byte is written:
		 * with dst == src, output byte 3n+2 never overtakes input
		 * character 4n+3 of the group being decoded.
		 */
		dst[out++] = (uint8_t)(v >> 16);
		if (pad == 2) {
			if (v & 0xffff)
				return -1;	/* non-zero unused bits */
			break;
		}
		dst[out++] = (uint8_t)(v >> 8);
		if (pad == 1) {
			if (v & 0xff)
				return -1;
			break;
		}
		dst[out++] = (uint8_t)v;
	}
	return (long)out;
}
