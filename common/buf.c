/*
 * buf.c - a growable byte buffer.
 *
 * The buffer always keeps one spare byte past `len`, so buf_release() can
 * hand out a NUL-terminated string without growing.  Running out of memory
 * is fatal, as everywhere else in the server.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

/* Smallest allocation; avoids a string of tiny reallocs on first use. */
#define BUF_MIN_CAP	64

uint8_t *
buf_reserve(struct buf *b, size_t extra)
{
	size_t	 need, cap;

	/* len + extra + 1 (the spare byte for the NUL), without wrapping. */
	if (extra > SIZE_MAX - 1 - b->len)
		fatalx("buf: size overflow (%zu + %zu)", b->len, extra);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return b->data + b->len;

	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
	return b->data + b->len;
}

void
buf_append(struct buf *b, const void *src, size_t n)
{
	uint8_t	*end;

	if (n == 0)
		return;		/* src may be NULL then */
	end = buf_reserve(b, n);
	memcpy(end, src, n);
	b->len += n;
}

void
buf_append_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_append_byte(struct buf *b, uint8_t c)
{
	*buf_reserve(b, 1) = c;
	b->len++;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room;
	int	 n;

	/* Try in whatever room is left; retry once with the exact size. */
	buf_reserve(b, 0);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("buf_printf: bad format \"%s\"", fmt);
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		n = vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatal("buf_printf: bad format \"%s\"", fmt);
	}
	b->len += (size_t)n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
buf_release(struct buf *b, size_t *lenp)
{
	char	*s;

	buf_reserve(b, 0);	/* allocates when empty; room for the NUL */
	b->data[b->len] = '\0';
	s = (char *)b->data;
	if (lenp != NULL)
		*lenp = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}
