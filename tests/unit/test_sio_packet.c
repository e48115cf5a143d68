/*
 * test_sio_packet.c - the Socket.IO packet codec: every example of the v5
 * spec both ways, then the malformed packets socket.io-parser refuses (and
 * the few it lets through that we refuse on purpose).  Expected values are
 * written out by hand; cJSON only builds inputs and prints payloads.
 */
#include <stdlib.h>
#include <string.h>

#include "sio_packet.h"
#include "tap.h"

/* A string literal and its length in bytes, NULs and all. */
#define L(lit)	(lit), (sizeof(lit) - 1)

#define PH(n)	"{\"_placeholder\":true,\"num\":" #n "}"

/* Decode from a heap copy of exactly len bytes, so ASan sees overreads. */
static int
decode(const char *text, size_t len, struct sio_packet *p, const char **why)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, text, len);
	rc = sio_decode(copy, len, p, why);
	free(copy);
	return rc;
}

/*
 * A packet that must decode to these fields; json is the payload as
 * cJSON_PrintUnformatted() writes it, or NULL for no payload.
 */
static void
good(const char *text, size_t len, int type, int attachments,
    const char *nsp, long long id, const char *json, const char *what)
{
	struct sio_packet p;
	const char *why = "unset";
	char *printed = NULL;

	if (!ok(decode(text, len, &p, &why) == 0, what)) {
		printf("#   why: %s\n", why ? why : "(null)");
		return;
	}
	ok(why == NULL, "... why is NULL on success");
	is_int(p.type, type, "... type");
	is_int(p.attachments, attachments, "... attachments");
	is_str(p.nsp, nsp, "... namespace");
	is_int(p.id, id, "... ack id");
	if (p.data != NULL)
		printed = cJSON_PrintUnformatted(p.data);
	is_str(printed, json, "... payload");
	cJSON_free(printed);
	sio_packet_clear(&p);
	ok(p.data == NULL, "... clear drops the payload");
}

/* A packet that must be refused; want_why, if not NULL, is the reason. */
static void
bad_why(const char *text, size_t len, const char *want_why,
    const char *what)
{
	struct sio_packet p;
	const char *why = NULL;

	p.data = (cJSON *)&p;	/* must be reset by the decoder */
	is_int(decode(text, len, &p, &why), -1, what);
	ok(why != NULL && p.data == NULL, "... with a reason and no payload");
	if (want_why != NULL)
		is_str(why, want_why, "... reason");
}

static void
bad(const char *text, size_t len, const char *what)
{
	bad_why(text, len, NULL, what);
}

static void
test_spec_examples(void)
{
	/* "Packet encoding / Examples" of the v5 spec, in order. */
	good(L("0"), SIO_CONNECT, 0, "/", SIO_NO_ACK, NULL,
	    "CONNECT to the main namespace");
	good(L("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}"), SIO_CONNECT, 0,
	    "/admin", SIO_NO_ACK, "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
	    "CONNECT to /admin with a payload");
	good(L("4{\"message\":\"Not authorized\"}"), SIO_CONNECT_ERROR, 0, "/",
	    SIO_NO_ACK, "{\"message\":\"Not authorized\"}", "CONNECT_ERROR");
	good(L("2[\"foo\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK, "[\"foo\"]",
	    "EVENT");
	good(L("2/admin,[\"bar\"]"), SIO_EVENT, 0, "/admin", SIO_NO_ACK,
	    "[\"bar\"]", "EVENT in /admin");
	good(L("51-[\"baz\"," PH(0) "]"), SIO_BINARY_EVENT, 1, "/",
	    SIO_NO_ACK, "[\"baz\"," PH(0) "]", "BINARY_EVENT");
	good(L("52-/admin,[\"baz\"," PH(0) "," PH(1) "]"), SIO_BINARY_EVENT,
	    2, "/admin", SIO_NO_ACK, "[\"baz\"," PH(0) "," PH(1) "]",
	    "BINARY_EVENT with two attachments in /admin");
	good(L("212[\"foo\"]"), SIO_EVENT, 0, "/", 12, "[\"foo\"]",
	    "EVENT with ack id 12");
	good(L("3/admin,13[\"bar\"]"), SIO_ACK, 0, "/admin", 13, "[\"bar\"]",
	    "ACK 13 in /admin");
	good(L("61-15[\"bar\"," PH(0) "]"), SIO_BINARY_ACK, 1, "/", 15,
	    "[\"bar\"," PH(0) "]", "BINARY_ACK 15");
	good(L("1"), SIO_DISCONNECT, 0, "/", SIO_NO_ACK, NULL, "DISCONNECT");
	good(L("1/admin,"), SIO_DISCONNECT, 0, "/admin", SIO_NO_ACK, NULL,
	    "DISCONNECT from /admin");

	/* The sample session. */
	good(L("0/admin,"), SIO_CONNECT, 0, "/admin", SIO_NO_ACK, NULL,
	    "CONNECT to /admin without payload");
	good(L("0/admin,{\"sid\":\"-G5j-67EZFp-q59rADQM\"}"), SIO_CONNECT, 0,
	    "/admin", SIO_NO_ACK, "{\"sid\":\"-G5j-67EZFp-q59rADQM\"}",
	    "CONNECT answer in /admin");
	good(L("2/admin,1[\"tellme\"]"), SIO_EVENT, 0, "/admin", 1,
	    "[\"tellme\"]", "EVENT with ack in /admin");
	good(L("61-/admin,1[" PH(0) "]"), SIO_BINARY_ACK, 1, "/admin", 1,
	    "[" PH(0) "]", "BINARY_ACK whose first element is a placeholder");
	good(L("2[\"hey\",\"Jude\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"hey\",\"Jude\"]", "EVENT with two arguments");
}

static void
test_more_good(void)
{
	good(L("0{\"token\":\"123\"}"), SIO_CONNECT, 0, "/", SIO_NO_ACK,
	    "{\"token\":\"123\"}", "CONNECT with auth payload");
	good(L("0{}"), SIO_CONNECT, 0, "/", SIO_NO_ACK, "{}",
	    "CONNECT with empty object");
	good(L("0/admin"), SIO_CONNECT, 0, "/admin", SIO_NO_ACK, NULL,
	    "namespace running to the end, no comma");
	good(L("0/"), SIO_CONNECT, 0, "/", SIO_NO_ACK, NULL,
	    "namespace \"/\" written out");
	good(L("2/,[\"a\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK, "[\"a\"]",
	    "namespace \"/\" with comma");
	/* No comma: the namespace takes everything, as in socket.io-parser. */
	good(L("0/admin{\"a\":1}"), SIO_CONNECT, 0, "/admin{\"a\":1}",
	    SIO_NO_ACK, NULL, "namespace without comma swallows the payload");
	good(L("2/12,3[\"a\"]"), SIO_EVENT, 0, "/12", 3, "[\"a\"]",
	    "digits in the namespace, then an ack id");
	good(L("2/a/b-c.d_e,[\"a\"]"), SIO_EVENT, 0, "/a/b-c.d_e", SIO_NO_ACK,
	    "[\"a\"]", "namespace with punctuation");
	good(L("20[\"a\"]"), SIO_EVENT, 0, "/", 0, "[\"a\"]", "ack id 0");
	good(L("2007[\"a\"]"), SIO_EVENT, 0, "/", 7, "[\"a\"]",
	    "ack id with leading zeros");
	good(L("2000000000000000000000000000001[\"a\"]"), SIO_EVENT, 0, "/", 1,
	    "[\"a\"]", "many leading zeros are not a large id");
	good(L("29007199254740991[\"a\"]"), SIO_EVENT, 0, "/",
	    9007199254740991LL, "[\"a\"]", "largest ack id, 2^53-1");
	good(L("012"), SIO_CONNECT, 0, "/", 12, NULL, "CONNECT with an id");
	good(L("17"), SIO_DISCONNECT, 0, "/", 7, NULL,
	    "DISCONNECT with an id, no payload");
	good(L("3[]"), SIO_ACK, 0, "/", SIO_NO_ACK, "[]", "ACK with []");
	good(L("31[]"), SIO_ACK, 0, "/", 1, "[]", "ACK 1 with []");
	good(L("3/admin,13[null,1,{\"x\":[true]}]"), SIO_ACK, 0, "/admin", 13,
	    "[null,1,{\"x\":[true]}]", "ACK with mixed values");
	good(L("4\"not allowed\""), SIO_CONNECT_ERROR, 0, "/", SIO_NO_ACK,
	    "\"not allowed\"", "CONNECT_ERROR with a string (v4 style)");
	good(L("4/admin,{\"message\":\"x\",\"data\":{\"code\":1}}"),
	    SIO_CONNECT_ERROR, 0, "/admin", SIO_NO_ACK,
	    "{\"message\":\"x\",\"data\":{\"code\":1}}",
	    "CONNECT_ERROR with data in /admin");
	good(L("2[\"Connect\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"Connect\"]", "reserved names are case sensitive");
	good(L("2[\"connect \"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"connect \"]", "a reserved name plus a space is not reserved");
	good(L("2[\"h\xc3\xa9llo\",\"\\u00e9\"]"), SIO_EVENT, 0, "/",
	    SIO_NO_ACK, "[\"h\xc3\xa9llo\",\"\xc3\xa9\"]",
	    "UTF-8 and \\u escapes");
	good(L("2[\"\\u0001\\uD83D\\uDE00\\u00Ff\"]"), SIO_EVENT, 0, "/",
	    SIO_NO_ACK, "[\"\\u0001\xf0\x9f\x98\x80\xc3\xbf\"]",
	    "\\u escapes: control, surrogate pair, mixed case hex");
	good(L("2[\"a\",1e999,-1e999,123456789012345678901234567890]"),
	    SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"a\",null,null,1.2345678901234568e+29]",
	    "huge numbers in the payload");
	good(L("2[\"a\"] "), SIO_EVENT, 0, "/", SIO_NO_ACK, "[\"a\"]",
	    "JSON whitespace after the payload");
	good(L("2[\t\"a\"\n,\r\"b\" ]\n"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"a\",\"b\"]", "tab, newline, return are JSON whitespace");
	good(L("2[\"a\",-0.5e-3,0,1E+2,-0,10.25]"), SIO_EVENT, 0, "/",
	    SIO_NO_ACK, "[\"a\",-0.0005,0,100,-0,10.25]",
	    "numbers of every JSON form");
	good(L("2[\"01\",\"1.\",\"-\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"01\",\"1.\",\"-\"]", "number-like strings are strings");
	good(L("2[\"a\\\"b\\\\\",\"c\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"a\\\"b\\\\\",\"c\"]", "escaped quote and backslash");
	good(L("2[\"a\",{\"k1\":[1,{\"2\":3}]}]"), SIO_EVENT, 0, "/",
	    SIO_NO_ACK, "[\"a\",{\"k1\":[1,{\"2\":3}]}]",
	    "digits in keys are not numbers");
	good(L("2[\"a\",{\"_placeholder\":true,\"num\":9}]"), SIO_EVENT, 0,
	    "/", SIO_NO_ACK, "[\"a\"," PH(9) "]",
	    "placeholders are not checked in a plain EVENT");

	/* Binary packets. */
	good(L("5001-[\"a\"," PH(0) "]"), SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK,
	    "[\"a\"," PH(0) "]", "attachment count with leading zeros");
	good(L("564-[\"a\"," PH(63) "]"), SIO_BINARY_EVENT, 64, "/",
	    SIO_NO_ACK, "[\"a\"," PH(63) "]", "64 attachments, placeholder 63");
	good(L("52-/room,7[\"up\",{\"f\":[" PH(1) "]}," PH(0) "]"),
	    SIO_BINARY_EVENT, 2, "/room", 7,
	    "[\"up\",{\"f\":[" PH(1) "]}," PH(0) "]",
	    "placeholders nested in objects and arrays");
	good(L("61-[]"), SIO_BINARY_ACK, 1, "/", SIO_NO_ACK, "[]",
	    "BINARY_ACK with [] (attachments need not be used)");
	good(L("51-[\"a\",{\"_placeholder\":false,\"num\":99}]"),
	    SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK,
	    "[\"a\",{\"_placeholder\":false,\"num\":99}]",
	    "_placeholder false is an ordinary object");
	good(L("51-[\"a\",{\"_placeholder\":\"true\",\"num\":99}]"),
	    SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK,
	    "[\"a\",{\"_placeholder\":\"true\",\"num\":99}]",
	    "_placeholder \"true\" (a string) is an ordinary object");
	good(L("51-[\"a\",{\"_placeholder\":true,\"num\":5,\"num\":0}]"),
	    SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK,
	    "[\"a\",{\"_placeholder\":true,\"num\":5,\"num\":0}]",
	    "duplicate num: the last one counts, as in JSON.parse");
	good(L("51-[\"a\",{\"_placeholder\":true,\"num\":0,"
	    "\"x\":" PH(99) "}]"), SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK,
	    "[\"a\",{\"_placeholder\":true,\"num\":0,\"x\":" PH(99) "}]",
	    "inside a placeholder nothing is checked (it is replaced whole)");
	good(L("51-[\"a\",{\"_placeholder\":true,\"num\":0.0}]"),
	    SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK, "[\"a\"," PH(0) "]",
	    "num 0.0 is the integer 0");
	good(L("51-[\"a\",{\"_placeholder\":true,\"num\":-0}]"),
	    SIO_BINARY_EVENT, 1, "/", SIO_NO_ACK, "[\"a\"," PH(-0) "]",
	    "num -0 is the integer 0");
}

static void
test_bad_header(void)
{
	char text[600], want[SIO_MAX_NSP_LEN + 1];

	bad_why(L(""), "empty packet", "empty input");
	bad_why(L("7"), "unknown packet type", "type 7");
	bad(L("8[\"a\"]"), "type 8");
	bad(L("9"), "type 9");
	bad(L("/"), "'/' (below '0')");
	bad(L(":"), "':' (above '9')");
	bad(L("a"), "a letter");
	bad(L(" 2[\"a\"]"), "leading space");
	bad(L("\0" "2[\"a\"]"), "leading NUL");
	bad(L("\xb2"), "high byte");
	bad(L("42[\"a\"]"),
	    "an Engine.IO prefix left on (CONNECT_ERROR, id 2, an array)");

	/* Attachment counts. */
	bad_why(L("5[\"a\"]"), "illegal attachments",
	    "BINARY_EVENT without '-'");
	bad_why(L("51[\"a\"]"), "illegal attachments", "count without '-'");
	bad_why(L("51"), "illegal attachments", "count then end of input");
	bad_why(L("5"), "illegal attachments", "type 5 alone");
	bad_why(L("6"), "illegal attachments", "type 6 alone");
	bad_why(L("5-[\"a\"]"), "illegal attachments", "empty count");
	bad_why(L("50-[\"a\"]"), "illegal attachments",
	    "0 attachments (socket.io-parser 4.2.7 refuses them)");
	bad_why(L("600-[]"), "illegal attachments", "00 attachments");
	bad_why(L("5a-[\"a\"]"), "illegal attachments", "letter for a count");
	bad_why(L("51a-[\"a\"]"), "illegal attachments", "digit then letter");
	bad_why(L("5+1-[\"a\"]"), "illegal attachments", "signed count");
	bad_why(L("51e1-[\"a\"]"), "illegal attachments",
	    "exponent in the count");
	bad_why(L("5 1-[\"a\"]"), "illegal attachments", "space in the count");
	bad_why(L("565-[\"a\"]"), "too many attachments", "65 attachments");
	bad_why(L("599999999999999999999999999-[\"a\"]"),
	    "too many attachments",
	    "huge attachment count");
	bad(L("51-"), "count but no payload");
	bad(L("61-15"), "BINARY_ACK with id but no payload");

	/* Namespaces. */
	text[0] = '2';
	text[1] = '/';
	memset(text + 2, 'n', 255);
	memcpy(text + 257, ",[\"a\"]", 6);
	want[0] = '/';
	memset(want + 1, 'n', 255);
	want[256] = '\0';
	good(text, 263, SIO_EVENT, 0, want, SIO_NO_ACK, "[\"a\"]",
	    "namespace of 256 bytes");
	memset(text + 2, 'n', 256);
	memcpy(text + 258, ",[\"a\"]", 6);
	bad_why(text, 264, "namespace too long", "namespace of 257 bytes");
	memset(text + 2, 'n', 500);
	bad_why(text, 502, "namespace too long",
	    "namespace of 501 bytes running to the end");
	bad_why(L("2/ad\0min,[\"a\"]"), "NUL in namespace", "NUL in namespace");
	bad(L("2/admin[\"a\"]"),
	    "no comma after the namespace: an EVENT without payload");
	bad(L("2/admin,"), "EVENT in a namespace without payload");

	/* Ack ids. */
	bad_why(L("29007199254740992[\"a\"]"), "ack id too large",
	    "ack id 2^53");
	bad_why(L("299999999999999999999999999999[\"a\"]"), "ack id too large",
	    "huge ack id");
	bad_why(L("218446744073709551617[\"a\"]"), "ack id too large",
	    "ack id past 2^64");
	bad_why(L("2abc[\"a\"]"), "invalid JSON payload", "letters for an id");
	bad_why(L("212abc[\"a\"]"), "invalid JSON payload",
	    "digits then letters");
	bad_why(L("2-1[\"a\"]"), "invalid JSON payload", "negative id");
	bad_why(L("21.5[\"a\"]"), "invalid JSON payload", "fractional id");
}

static void
test_bad_payload(void)
{
	char *deep;
	size_t i, n;

	/* Not JSON, or more than one JSON value. */
	bad_why(L("2[\"a\""), "invalid JSON payload", "truncated array");
	bad_why(L("2[\"a\",]"), "invalid JSON payload", "trailing comma");
	bad_why(L("2[\"a\"]x"), "invalid JSON payload", "garbage after JSON");
	bad_why(L("2[\"a\"][\"b\"]"), "invalid JSON payload", "two arrays");
	bad_why(L("2[\"a\"]\0"), "invalid JSON payload", "NUL after JSON");
	bad_why(L("2[\"a\0\"]"), "invalid JSON payload", "NUL in a string");
	bad_why(L("2[\"a\"]\0garbage"), "invalid JSON payload",
	    "NUL then garbage after JSON");
	bad_why(L("2\x01[\"a\"]"), "invalid JSON payload",
	    "control character before JSON");
	bad_why(L("2[\x01\"a\"]"), "invalid JSON payload",
	    "control character inside JSON");
	bad_why(L("2[\"a\x1f\"]"), "invalid JSON payload",
	    "raw control character in a string");
	bad_why(L("2['a']"), "invalid JSON payload", "single quotes");
	bad_why(L("2 "), "blank before JSON payload", "only whitespace");
	bad_why(L("2/admin, "), "blank before JSON payload",
	    "only whitespace after a namespace");
	bad_why(L("2 [\"a\"]"), "blank before JSON payload",
	    "space before the payload (socket.io-parser reads it as id 0)");
	bad_why(L("2\n[\"a\"]"), "blank before JSON payload",
	    "newline before the payload");
	bad_why(L("21\t[\"a\"]"), "blank before JSON payload",
	    "tab between ack id and payload");
	bad_why(L("2[\"a\",01]"), "invalid JSON payload", "leading zero");
	bad_why(L("2[\"a\",-01]"), "invalid JSON payload",
	    "negative leading zero");
	bad_why(L("2[\"a\",1.]"), "invalid JSON payload", "1. (no fraction)");
	bad_why(L("2[\"a\",.5]"), "invalid JSON payload", ".5 (no integer)");
	bad_why(L("2[\"a\",-.5]"), "invalid JSON payload", "-.5");
	bad_why(L("2[\"a\",+1]"), "invalid JSON payload", "+1");
	bad_why(L("2[\"a\",-]"), "invalid JSON payload", "a lone minus");
	bad_why(L("2[\"a\",1e]"), "invalid JSON payload", "1e");
	bad_why(L("2[\"a\",1e+]"), "invalid JSON payload", "1e+");
	bad_why(L("2[\"a\",1.2.3]"), "invalid JSON payload", "1.2.3");
	bad_why(L("2[\"a\",1e5e5]"), "invalid JSON payload", "1e5e5");
	bad_why(L("2[\"a\",0x10]"), "invalid JSON payload", "hexadecimal");
	bad_why(L("2[\"a\",1-2]"), "invalid JSON payload", "1-2");
	bad_why(L("2[\"a\",NaN]"), "invalid JSON payload", "NaN");
	bad_why(L("2[\"a\",Infinity]"), "invalid JSON payload", "Infinity");
	bad_why(L("2[\"a\tb\"]"), "invalid JSON payload",
	    "raw tab inside a string");
	bad_why(L("2[\"a\nb\"]"), "invalid JSON payload",
	    "raw newline inside a string");
	bad_why(L("2[\"a\\\"]"), "invalid JSON payload",
	    "string whose closing quote is escaped");
	bad_why(L("2[\"a\\"), "invalid JSON payload",
	    "input ending in a backslash inside a string");
	bad_why(L("2[\"a\\x\"]"), "invalid JSON payload", "unknown escape");
	bad_why(L("2[\"a\\u12\"]"), "invalid JSON payload", "short \\u escape");
	bad_why(L("2[\"a\\u12"), "invalid JSON payload",
	    "\\u escape cut by the end of input");
	bad_why(L("2[\"a\\uthor\"]"), "invalid JSON payload",
	    "\\u with letters (cJSON would read \\u0000)");
	bad_why(L("2[\"a\\u00G0\"]"), "invalid JSON payload",
	    "\\u with a non-hex digit");
	/* Valid JSON that cJSON cannot hold as sent: U+FFFD stands in. */
	good(L("2[\"x\\u0000y\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"x\xef\xbf\xbdy\"]", "\\u0000 becomes U+FFFD (no cut string)");
	good(L("2[\"a\\ud800\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"a\xef\xbf\xbd\"]", "lone high surrogate becomes U+FFFD");
	good(L("2[\"a\\udc00b\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"a\xef\xbf\xbd" "b\"]", "lone low surrogate becomes U+FFFD");
	good(L("2[\"\\ud83d\\ude00\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"\xf0\x9f\x98\x80\"]", "a surrogate pair is kept");
	good(L("2[\"\\\\u0000\"]"), SIO_EVENT, 0, "/", SIO_NO_ACK,
	    "[\"\\\\u0000\"]", "an escaped backslash before u0000 is text");

	/* CONNECT: an object or nothing. */
	bad_why(L("0[]"), "CONNECT payload is not an object",
	    "CONNECT with an array");
	bad_why(L("0[\"a\"]"), "CONNECT payload is not an object",
	    "CONNECT with a non-empty array");
	bad(L("0\"token\""), "CONNECT with a string");
	bad(L("0null"), "CONNECT with null");
	bad(L("0true"), "CONNECT with true");
	bad(L("0/admin,[]"), "CONNECT to /admin with an array");

	/* DISCONNECT: nothing. */
	bad_why(L("1{}"), "DISCONNECT carries a payload", "DISCONNECT with {}");
	bad(L("1[]"), "DISCONNECT with []");
	bad(L("1/admin,{}"), "DISCONNECT from /admin with {}");
	bad(L("1\"bye\""), "DISCONNECT with a string");
	bad(L("1null"), "DISCONNECT with null");

	/* EVENT: a non-empty array starting with a string. */
	bad_why(L("2"), "event payload is not an array",
	    "EVENT without payload");
	bad_why(L("2{}"), "event payload is not an array", "EVENT with {}");
	bad(L("2\"a\""), "EVENT with a string");
	bad(L("2null"), "EVENT with null");
	bad_why(L("2[]"), "event payload is an empty array", "EVENT with []");
	bad_why(L("2[1]"), "event name is not a string",
	    "EVENT named by a number");
	bad(L("2[null]"), "EVENT named null");
	bad(L("2[[\"a\"]]"), "EVENT named by an array");
	bad(L("2[{\"a\":1}]"), "EVENT named by an object");
	bad(L("212"), "EVENT with id and no payload");
	bad_why(L("2[\"connect\"]"), "event name is reserved",
	    "reserved name connect");
	bad(L("2[\"connect_error\"]"), "reserved name connect_error");
	bad(L("2[\"disconnect\",\"x\"]"), "reserved name disconnect");
	bad(L("2[\"disconnecting\"]"), "reserved name disconnecting");
	bad(L("2[\"newListener\"]"), "reserved name newListener");
	bad(L("2[\"removeListener\"]"), "reserved name removeListener");
	bad(L("51-[]"), "BINARY_EVENT with []");
	bad(L("51-[" PH(0) "]"), "BINARY_EVENT named by a placeholder");

	/* ACK: an array. */
	bad_why(L("3"), "ack payload is not an array", "ACK without payload");
	bad_why(L("31"), "ack payload is not an array",
	    "ACK 1 without payload");
	bad(L("3{}"), "ACK with {}");
	bad(L("3\"a\""), "ACK with a string");
	bad(L("61-1{}"), "BINARY_ACK with {}");

	/* CONNECT_ERROR: an object or a string. */
	bad_why(L("4"), "CONNECT_ERROR payload is not an object or string",
	    "CONNECT_ERROR without payload");
	bad(L("4[]"), "CONNECT_ERROR with []");
	bad(L("4null"), "CONNECT_ERROR with null");
	bad(L("4false"), "CONNECT_ERROR with false");

	/* Placeholders of binary packets. */
	bad_why(L("51-[\"a\"," PH(1) "]"), "illegal attachment placeholder",
	    "placeholder num equal to the count");
	bad(L("51-[\"a\"," PH(-1) "]"), "placeholder num -1");
	bad(L("51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]"),
	    "placeholder num 0.5");
	bad(L("51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]"),
	    "placeholder num as a string");
	bad(L("51-[\"a\",{\"_placeholder\":true,\"num\":null}]"),
	    "placeholder num null");
	bad(L("51-[\"a\",{\"_placeholder\":true}]"), "placeholder without num");
	bad(L("51-[\"a\",{\"_placeholder\":true,\"num\":1e999}]"),
	    "placeholder num infinite");
	bad(L("51-[\"a\",{\"_placeholder\":true,\"num\":4294967296}]"),
	    "placeholder num 2^32");
	bad(L("51-[\"a\",{\"_placeholder\":true,\"num\":[0]}]"),
	    "placeholder num an array");
	bad(L("52-[\"a\",{\"k\":[[{\"z\":" PH(2) "}]]}]"),
	    "bad placeholder nested deep");
	bad(L("51-[\"a\",{\"_placeholder\":false,\"_placeholder\":true,"
	    "\"num\":5}]"), "duplicate _placeholder: the last (true) counts");
	bad(L("61-[" PH(0) "," PH(1) "]"),
	    "BINARY_ACK with one good and one bad placeholder");

	/* Nesting: cJSON stops at 1000 levels; we must not crash on more. */
	n = 20000;
	deep = malloc(n + 8);
	memcpy(deep, "2[\"a\",", 6);
	for (i = 0; i < n; i++)
		deep[6 + i] = '[';
	deep[6 + n] = ']';
	bad(deep, 7 + n, "20000 nested arrays (unbalanced)");
	free(deep);

	/* 999 levels inside the event array: 1000 in all, cJSON's limit. */
	n = 999;
	deep = malloc(2 * n + 64);
	memcpy(deep, "51-[\"a\",", 8);
	for (i = 0; i < n - 1; i++)
		deep[8 + i] = '[';
	memcpy(deep + 8 + n - 1, PH(0), sizeof(PH(0)) - 1);
	i = 8 + n - 1 + sizeof(PH(0)) - 1;
	memset(deep + i, ']', n);
	{
		struct sio_packet p;

		ok(decode(deep, i + n, &p, NULL) == 0,
		    "placeholder under 1000 levels of nesting");
		sio_packet_clear(&p);
	}
	deep[8 + n - 1 + sizeof(PH(0)) - 3] = '1';	/* "num":1 */
	bad(deep, i + n, "bad placeholder under 1000 levels");
	free(deep);
}

/* Encode with data given as JSON text (or NULL) after "x"; compare. */
static void
enc(int type, const char *nsp, long long id, int attachments,
    const char *json, const char *want, const char *what)
{
	struct buf b = BUF_INIT;
	cJSON *data = json ? cJSON_Parse(json) : NULL;
	char *s;

	buf_append_str(&b, "x");
	sio_encode(&b, (enum sio_type)type, nsp, id, attachments, data);
	s = buf_release(&b, NULL);
	is_str(s + 1, want, what);
	ok(s[0] == 'x', "... appended after what was there");
	free(s);
	cJSON_Delete(data);
}

static void
test_encode(void)
{
	/* The spec's examples, in order. */
	enc(SIO_CONNECT, "/", SIO_NO_ACK, 0, NULL, "0", "encode CONNECT");
	enc(SIO_CONNECT, "/admin", SIO_NO_ACK, 0,
	    "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
	    "0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
	    "encode CONNECT to /admin with sid");
	enc(SIO_CONNECT_ERROR, "/", SIO_NO_ACK, 0,
	    "{\"message\":\"Not authorized\"}",
	    "4{\"message\":\"Not authorized\"}",
	    "encode CONNECT_ERROR");
	enc(SIO_EVENT, "/", SIO_NO_ACK, 0, "[\"foo\"]", "2[\"foo\"]",
	    "encode EVENT");
	enc(SIO_EVENT, "/admin", SIO_NO_ACK, 0, "[\"bar\"]",
	    "2/admin,[\"bar\"]",
	    "encode EVENT in /admin");
	enc(SIO_BINARY_EVENT, "/", SIO_NO_ACK, 1, "[\"baz\"," PH(0) "]",
	    "51-[\"baz\"," PH(0) "]", "encode BINARY_EVENT");
	enc(SIO_BINARY_EVENT, "/admin", SIO_NO_ACK, 2,
	    "[\"baz\"," PH(0) "," PH(1) "]",
	    "52-/admin,[\"baz\"," PH(0) "," PH(1) "]",
	    "encode BINARY_EVENT with two attachments in /admin");
	enc(SIO_EVENT, "/", 12, 0, "[\"foo\"]", "212[\"foo\"]",
	    "encode EVENT with ack id");
	enc(SIO_ACK, "/admin", 13, 0, "[\"bar\"]", "3/admin,13[\"bar\"]",
	    "encode ACK in /admin");
	enc(SIO_BINARY_ACK, "/", 15, 1, "[\"bar\"," PH(0) "]",
	    "61-15[\"bar\"," PH(0) "]", "encode BINARY_ACK");
	enc(SIO_DISCONNECT, "/", SIO_NO_ACK, 0, NULL, "1", "encode DISCONNECT");
	enc(SIO_DISCONNECT, "/admin", SIO_NO_ACK, 0, NULL, "1/admin,",
	    "encode DISCONNECT from /admin");

	/* The sample session. */
	enc(SIO_CONNECT, "/admin", SIO_NO_ACK, 0, NULL, "0/admin,",
	    "encode CONNECT to /admin: trailing comma");
	enc(SIO_BINARY_ACK, "/admin", 1, 1, "[" PH(0) "]",
	    "61-/admin,1[" PH(0) "]", "encode BINARY_ACK in /admin");
	enc(SIO_CONNECT, "/", SIO_NO_ACK, 0,
	    "{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}",
	    "0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", "encode CONNECT answer");

	/* Edges. */
	enc(SIO_CONNECT, "/custom", SIO_NO_ACK, 0, NULL, "0/custom,",
	    "encode CONNECT to /custom");
	enc(SIO_EVENT, NULL, SIO_NO_ACK, 0, "[\"a\"]", "2[\"a\"]",
	    "namespace NULL means /");
	enc(SIO_EVENT, "", SIO_NO_ACK, 0, "[\"a\"]", "2[\"a\"]",
	    "namespace \"\" means /");
	enc(SIO_EVENT, "/", 0, 0, "[\"a\"]", "20[\"a\"]",
	    "ack id 0 is written");
	enc(SIO_EVENT, "/", -5, 0, "[\"a\"]", "2[\"a\"]",
	    "any negative id means none");
	enc(SIO_ACK, "/", 9007199254740991LL, 0, "[]", "39007199254740991[]",
	    "largest ack id");
	enc(SIO_EVENT, "/", SIO_NO_ACK, 3, "[\"a\"]", "2[\"a\"]",
	    "attachments are not written for EVENT");
	enc(SIO_BINARY_EVENT, "/", SIO_NO_ACK, 0, "[\"a\"]", "50-[\"a\"]",
	    "0 attachments are written for BINARY_EVENT");
	enc(SIO_CONNECT_ERROR, "/", SIO_NO_ACK, 0, "\"nope\"", "4\"nope\"",
	    "encode CONNECT_ERROR with a string");
	enc(SIO_EVENT, "/", SIO_NO_ACK, 0, "[ \"a\" , { \"k\" : [ 1 , 2 ] } ]",
	    "2[\"a\",{\"k\":[1,2]}]", "payload written without spaces");
	enc(SIO_EVENT, "/", SIO_NO_ACK, 0, "[\"line\\nbreak\\u0001\\\"q\"]",
	    "2[\"line\\nbreak\\u0001\\\"q\"]", "escapes written back");
	enc(SIO_ACK, "/", 3, 0, "[1.5,-2,1e+300]", "33[1.5,-2,1e+300]",
	    "numbers");
}

static void
test_placeholders(void)
{
	cJSON *arr, *obj;

	is_int(sio_check_placeholders(NULL, 0), 0, "check: NULL data");
	arr = cJSON_Parse("[\"a\"," PH(0) "]");
	is_int(sio_check_placeholders(arr, 1), 0, "check: num 0 of 1");
	is_int(sio_check_placeholders(arr, 0), -1, "check: num 0 of 0");
	cJSON_Delete(arr);

	obj = cJSON_Parse(PH(2));
	is_int(sio_check_placeholders(obj, 3), 0, "check: root placeholder ok");
	is_int(sio_check_placeholders(obj, 2), -1,
	    "check: root placeholder bad");
	cJSON_Delete(obj);

	/* Only data and below: not the siblings of the item passed. */
	arr = cJSON_Parse("[\"x\"," PH(5) "]");
	is_int(sio_check_placeholders(arr->child, 1), 0,
	    "check: a sibling of the root is not examined");
	is_int(sio_check_placeholders(arr, 1), -1,
	    "check: but it is from above");
	cJSON_Delete(arr);

	arr = cJSON_Parse("[[],{},[[]],{\"a\":{}},1,\"s\",null]");
	is_int(sio_check_placeholders(arr, 0), 0, "check: no placeholders");
	cJSON_Delete(arr);

	/* A hand-built tree deeper than cJSON would ever parse. */
	{
		cJSON *root = cJSON_CreateArray(), *cur = root, *next;
		int i;

		for (i = 0; i < 1100; i++) {
			next = cJSON_CreateArray();
			cJSON_AddItemToArray(cur, next);
			cur = next;
		}
		is_int(sio_check_placeholders(root, 1), -1,
		    "check: 1100 levels built by hand are refused");
		cJSON_Delete(root);
	}
}

int
main(void)
{
	test_spec_examples();
	test_more_good();
	test_bad_header();
	test_bad_payload();
	test_encode();
	test_placeholders();
	return tap_done();
}
