/*
 * test_buf.c - the growable byte buffer: appends, printf, growth across
 * many reallocations, reset, release and free.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

/* The buffer's bytes as a C string, for is_str(); len is unchanged. */
static const char *
str(struct buf *b)
{
	buf_reserve(b, 1);
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

static void
test_empty(void)
{
	struct buf b = BUF_INIT;
	size_t len = 99;
	char *s;

	ok(b.data == NULL && b.len == 0 && b.cap == 0, "BUF_INIT is empty");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0, "buf_free on an empty buffer");

	s = buf_release(&b, &len);
	ok(s != NULL, "release of an empty buffer gives a string");
	is_str(s, "", "... and it is empty");
	is_int(len, 0, "... of length 0");
	ok(b.data == NULL && b.len == 0 && b.cap == 0,
	    "... and leaves the buffer empty");
	free(s);

	s = buf_release(&b, NULL);
	is_str(s, "", "release with lenp NULL");
	free(s);

	buf_append(&b, NULL, 0);
	is_int(b.len, 0, "appending 0 bytes from NULL is a no-op");
	buf_free(&b);
}

static void
test_appends(void)
{
	struct buf b = BUF_INIT;
	uint8_t *end;

	buf_append(&b, "abc", 3);
	is_int(b.len, 3, "append 3 bytes");
	ok(b.cap > b.len, "capacity keeps a spare byte for release's NUL");
	is_str(str(&b), "abc", "contents after append");

	buf_append_str(&b, "def");
	is_str(str(&b), "abcdef", "append_str");
	buf_append_str(&b, "");
	is_int(b.len, 6, "append_str of \"\" adds nothing");

	buf_append_byte(&b, 'g');
	buf_append_byte(&b, 0x1e);
	is_int(b.len, 8, "append_byte twice");
	ok(b.data[6] == 'g' && b.data[7] == 0x1e, "append_byte values");

	buf_append(&b, "\0x\0", 3);
	is_int(b.len, 11, "append with embedded NULs");
	ok(memcmp(b.data, "abcdefg\x1e\0x\0", 11) == 0, "binary contents kept");

	end = buf_reserve(&b, 100);
	ok(end == b.data + b.len, "reserve returns the end");
	ok(b.cap >= b.len + 100, "reserve makes the room");
	is_int(b.len, 11, "reserve does not change len");
	memcpy(end, "hi", 2);
	b.len += 2;
	ok(memcmp(b.data + 11, "hi", 2) == 0, "write through reserve pointer");

	buf_reset(&b);
	is_int(b.len, 0, "reset empties");
	ok(b.data != NULL && b.cap > 0, "reset keeps the memory");
	buf_append_str(&b, "new");
	is_str(str(&b), "new", "append after reset");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "buf_free resets all");
}

static void
test_growth(void)
{
	struct buf b = BUF_INIT;
	size_t i, bad = 0;
	char *s;
	size_t len;

	/* 100000 single bytes force many reallocations. */
	for (i = 0; i < 100000; i++)
		buf_append_byte(&b, (uint8_t)('a' + i % 26));
	is_int(b.len, 100000, "100000 single-byte appends");
	for (i = 0; i < 100000; i++)
		if (b.data[i] != (uint8_t)('a' + i % 26))
			bad++;
	is_int(bad, 0, "every byte in place after growth");

	/* One large append into a buffer that already has data. */
	{
		static uint8_t big[1 << 20];

		memset(big, 0x5a, sizeof(big));
		buf_append(&b, big, sizeof(big));
		is_int(b.len, 100000 + (1 << 20), "1 MiB append");
		ok(b.data[99999] == 'a' + 99999 % 26 &&
		    b.data[100000] == 0x5a && b.data[b.len - 1] == 0x5a,
		    "old and new bytes in place");
	}

	s = buf_release(&b, &len);
	is_int(len, 100000 + (1 << 20), "release gives the length");
	ok(s[len] == '\0', "released bytes are NUL-terminated");
	ok(b.data == NULL && b.len == 0, "buffer empty after release");
	free(s);
}

static void
test_printf(void)
{
	struct buf b = BUF_INIT;
	char want[1200], *s;
	size_t len;

	buf_printf(&b, "%d-%s,", 42, "/admin");
	is_str(str(&b), "42-/admin,", "printf into an empty buffer");
	buf_printf(&b, "%lld", 9007199254740991LL);
	is_str(str(&b), "42-/admin,9007199254740991", "printf appends");
	buf_printf(&b, "%s", "");
	is_int(b.len, 26, "printf of nothing adds nothing");

	/* Longer than any room left: the retry path. */
	buf_reset(&b);
	buf_append_str(&b, "x");
	memset(want, 'y', 1000);
	want[1000] = '\0';
	buf_printf(&b, "%s|%d", want, 7);
	is_int(b.len, 1 + 1000 + 2, "long printf length");
	ok(b.data[0] == 'x' && b.data[1] == 'y' && b.data[1000] == 'y' &&
	    memcmp(b.data + 1001, "|7", 2) == 0, "long printf contents");

	/* Exactly filling the room left (output + NUL == room). */
	buf_free(&b);
	buf_reserve(&b, 0);
	{
		size_t room = b.cap - b.len;	/* room including the NUL */

		memset(want, 'z', room - 1);
		want[room - 1] = '\0';
		buf_printf(&b, "%s", want);
		is_int(b.len, room - 1, "printf filling the room exactly");
		buf_printf(&b, "%c", 'q');
		is_int(b.len, room, "and one more byte after it");
		ok(b.data[room - 1] == 'q', "the extra byte is in place");
	}

	s = buf_release(&b, &len);
	ok(s[len] == '\0' && len == strlen(s),
	    "released printf text is a string");
	free(s);
}

int
main(void)
{
	test_empty();
	test_appends();
	test_growth();
	test_printf();
	return tap_done();
}
