/*
 * cookie.c - see cookie.h.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cookie.h"
#include "xmalloc.h"

/* Is name (n bytes) one of the comma-separated names? */
static int
wanted(const char *names, const char *name, size_t n)
{
	const char *p = names;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		{
			size_t l = len;

			while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
				l--;
			if (l == n && n > 0 && memcmp(p, name, n) == 0)
				return 1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

char *
cookie_filter(const char *header, const char *names, size_t max)
{
	struct buf out = BUF_INIT;
	const char *p = header;
	char *s;

	if (header == NULL || names == NULL)
		return NULL;
	while (*p != '\0') {
		size_t len = strcspn(p, ";"), nlen;
		const char *eq;

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		eq = memchr(p, '=', len);
		nlen = eq != NULL ? (size_t)(eq - p) : 0;
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
		if (eq != NULL && wanted(names, p, nlen)) {
			size_t l = len;

			while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
				l--;
			for (size_t i = 0; i < l; i++)
				if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
					buf_free(&out);
					return NULL;
				}
			if (out.len > 0)
				buf_append_str(&out, "; ");
			buf_append(&out, p, l);
			if (out.len > max) {
				buf_free(&out);
				return NULL;
			}
		}
		p += len;
		if (*p == ';')
			p++;
	}
	if (out.len == 0) {
		buf_free(&out);
		return NULL;
	}
	s = xstrndup((const char *)out.data, out.len);
	buf_free(&out);
	return s;
}
