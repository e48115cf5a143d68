/*
 * buf.h - a growable byte buffer.
 *
 * Used wherever we assemble bytes of unknown final size: HTTP bodies,
 * long-polling payloads, encoded packets.  Allocation failure is fatal
 * (like the rest of the server, we do not try to limp on without memory).
 */
#ifndef COUP_BUF_H
#define COUP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Make room for at least `extra` more bytes; returns pointer to the end. */
uint8_t	*buf_reserve(struct buf *, size_t extra);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_append_str(struct buf *, const char *);
void	 buf_append_byte(struct buf *, uint8_t);
/* printf-style append. */
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_reset(struct buf *);	/* len = 0, keeps memory */
void	 buf_free(struct buf *);	/* releases memory */
/* Hand the bytes over to the caller (NUL-terminated); buffer becomes empty. */
char	*buf_release(struct buf *, size_t *lenp);

#endif
