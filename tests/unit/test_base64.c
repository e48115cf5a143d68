/*
 * test_base64.c - base64 against the RFC 4648 test vectors and hand-worked
 * bit patterns, and the strict decoder against every malformed form it must
 * refuse (Engine.IO polling payloads come from the network).
 */
#include <string.h>

#include "base64.h"
#include "tap.h"

/* Encode and compare; also check that exactly the announced length is
 * written (no NUL, nothing past it). */
static void
enc(const void *src, size_t n, const char *want, const char *what)
{
	char out[64];
	size_t len = BASE64_ENCODED_LEN(n);

	memset(out, '#', sizeof(out));
	base64_encode(out, src, n);
	ok(out[len] == '#', "encode writes nothing past its length");
	out[len] = '\0';
	is_str(out, want, what);
}

/* Decode a string that must be accepted into the given bytes. */
static void
dec(const char *src, const void *want, long wantlen, const char *what)
{
	uint8_t out[64];
	long n;

	n = base64_decode(out, src, strlen(src));
	is_int(n, wantlen, what);
	ok(n == wantlen && memcmp(out, want, (size_t)wantlen) == 0,
	    "... bytes match");
}

/* Decode len characters that must be refused. */
static void
bad(const char *src, size_t len, const char *what)
{
	uint8_t out[64];

	is_int(base64_decode(out, src, len), -1, what);
}

static void
test_lengths(void)
{
	is_int(BASE64_ENCODED_LEN(0), 0, "encoded length of 0");
	is_int(BASE64_ENCODED_LEN(1), 4, "encoded length of 1");
	is_int(BASE64_ENCODED_LEN(2), 4, "encoded length of 2");
	is_int(BASE64_ENCODED_LEN(3), 4, "encoded length of 3");
	is_int(BASE64_ENCODED_LEN(4), 8, "encoded length of 4");
	is_int(BASE64_ENCODED_LEN(300), 400, "encoded length of 300");
}

static void
test_encode(void)
{
	/* RFC 4648 section 10. */
	enc("", 0, "", "encode \"\"");
	enc("f", 1, "Zg==", "encode f");
	enc("fo", 2, "Zm8=", "encode fo");
	enc("foo", 3, "Zm9v", "encode foo");
	enc("foob", 4, "Zm9vYg==", "encode foob");
	enc("fooba", 5, "Zm9vYmE=", "encode fooba");
	enc("foobar", 6, "Zm9vYmFy", "encode foobar");
	/* The Engine.IO spec's example: <01 02 03 04>. */
	enc("\x01\x02\x03\x04", 4, "AQIDBA==", "encode 01 02 03 04");
	/* The last two alphabet characters, worked out by hand. */
	enc("\xfb\xff", 2, "+/8=", "encode fb ff uses + and /");
	enc("\xff\xfe\xfd", 3, "//79", "encode ff fe fd");
	enc("\0", 1, "AA==", "encode one NUL byte");
	enc("\0\0\0", 3, "AAAA", "encode three NUL bytes");
	enc("\x1e\x1e\x1e", 3, "Hh4e", "encode three separators");
}

static void
test_decode(void)
{
	uint8_t buf[16];

	dec("", "", 0, "decode \"\"");
	dec("Zg==", "f", 1, "decode Zg==");
	dec("Zm8=", "fo", 2, "decode Zm8=");
	dec("Zm9v", "foo", 3, "decode Zm9v");
	dec("Zm9vYg==", "foob", 4, "decode Zm9vYg==");
	dec("Zm9vYmE=", "fooba", 5, "decode Zm9vYmE=");
	dec("Zm9vYmFy", "foobar", 6, "decode Zm9vYmFy");
	dec("AQIDBA==", "\x01\x02\x03\x04", 4, "decode AQIDBA==");
	dec("+/8=", "\xfb\xff", 2, "decode +/8=");
	dec("//79", "\xff\xfe\xfd", 3, "decode //79");
	dec("AAAA", "\0\0\0", 3, "decode AAAA");

	/* In place: dst == src. */
	memcpy(buf, "Zm9vYmFyYg==", 12);
	is_int(base64_decode(buf, (const char *)buf, 12), 7, "decode in place");
	ok(memcmp(buf, "foobarb", 7) == 0, "... gives the bytes");

	is_int(base64_decode(NULL, "", 0), 0, "decode 0 characters into NULL");
}

static void
test_malformed(void)
{
	bad("Z", 1, "length 1");
	bad("Zg", 2, "length 2");
	bad("Zg=", 3, "length 3");
	bad("Zm9vY", 5, "length 5");
	bad("Zm9v\n", 5, "trailing newline");
	bad("Zm9v!AAA", 8, "bad character !");
	bad("Zm9-", 4, "url-safe - refused");
	bad("Zm9_", 4, "url-safe _ refused");
	bad("Zm 9", 4, "space inside");
	bad("Zm\09", 4, "NUL inside");
	bad("Zm\xc3\xa9", 4, "non-ASCII bytes");
	bad("====", 4, "only padding");
	bad("Z===", 4, "three padding characters");
	bad("=Zg=", 4, "padding first");
	bad("Zg=A", 4, "padding before data");
	bad("Zg==Zg==", 8, "padding in a group that is not the last");
	bad("Zm8=Zm9v", 8, "single padding in the middle");
	/* Unused bits must be zero: 'h' = 100001, 'Zh==' leaves 0001. */
	bad("Zh==", 4, "non-zero bits under double padding");
	/* '9' = 111101, 'Zm9=' leaves 01. */
	bad("Zm9=", 4, "non-zero bits under single padding");
	bad("AB==", 4, "AB== is not canonical (AA== is)");
}

static void
test_all_bytes(void)
{
	uint8_t src[256], out[256];
	char text[BASE64_ENCODED_LEN(256)];
	long n;
	int i;

	for (i = 0; i < 256; i++)
		src[i] = (uint8_t)i;
	base64_encode(text, src, sizeof(src));
	/* 00 01 02 -> AAEC, hand-worked; 256 = 85*3 + 1 so one "==". */
	ok(memcmp(text, "AAEC", 4) == 0, "all bytes: first group");
	ok(memcmp(text + sizeof(text) - 4, "/w==", 4) == 0,
	    "all bytes: last group is ff plus padding");
	n = base64_decode(out, text, sizeof(text));
	is_int(n, 256, "all bytes: decoded length");
	ok(memcmp(out, src, 256) == 0, "all bytes: round trip");
}

int
main(void)
{
	test_lengths();
	test_encode();
	test_decode();
	test_malformed();
	test_all_bytes();
	return tap_done();
}
