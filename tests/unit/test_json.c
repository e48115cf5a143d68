/*
 * test_json.c - strict JSON parsing, the raw text of members and
 * elements (what relays hand on as the client wrote it), and the range
 * check that keeps doubles from being cast out of range.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

/* The span as a C string (for is_str). */
static const char *
span(const struct json_span *v)
{
	static char out[256];
	size_t n = v->len < sizeof(out) - 1 ? v->len : sizeof(out) - 1;

	memcpy(out, v->p, n);
	out[n] = '\0';
	return out;
}

static const char *
member(const char *s, const char *key)
{
	struct json_span v;

	if (json_member(s, strlen(s), key, &v) < 0)
		return "(none)";
	return span(&v);
}

static const char *
element(const char *s, unsigned i)
{
	struct json_span v;

	if (json_element(s, strlen(s), i, &v) < 0)
		return "(none)";
	return span(&v);
}

static void
test_strict(void)
{
	char *text = NULL;
	cJSON *j;
	const char *raw_ctl = "{\"a\":\"x\001y\"}";

	ok(json_parse_strict(raw_ctl, strlen(raw_ctl), NULL) == NULL,
	    "a raw control character in a string is refused");
	ok(json_parse_strict("[01]", 4, NULL) == NULL, "01 is refused");
	ok(json_parse_strict("[1.]", 4, NULL) == NULL, "1. is refused");
	ok(json_parse_strict("[\"\\uzzzz\"]", 10, NULL) == NULL,
	    "a bad \\u escape is refused");
	ok(json_parse_strict("[1] x", 5, NULL) == NULL,
	    "text after the value is refused");
	const char *soft = "[\"a\\u0000b\",\"\\ud800\"]";

	j = json_parse_strict(soft, strlen(soft), &text);
	if (!ok(j != NULL, "\\u0000 and a lone surrogate are taken"))
		return;
	is_str(text, "[\"a\\ufffdb\",\"\\ufffd\"]",
	    "  softened to U+FFFD in the text, same length");
	is_str(cJSON_GetArrayItem(j, 0)->valuestring, "a\xef\xbf\xbd" "b",
	    "  and in the tree");
	cJSON_Delete(j);
	free(text);
}

static void
test_member(void)
{
	const char *o = "{ \"to\" : \"abc\", \"offer\":{\"sdp\":\"v=0 {[\\\"]}\","
	    "\"n\":1e14} ,\"x\":[1,[2,{}]], \"to\":\"second\"}";

	is_str(member(o, "to"), "\"abc\"", "a string member");
	is_str(member(o, "offer"), "{\"sdp\":\"v=0 {[\\\"]}\",\"n\":1e14}",
	    "an object member, brackets and quotes in its strings");
	is_str(member(o, "x"), "[1,[2,{}]]", "a nested array");
	is_str(member(o, "nope"), "(none)", "an absent member");
	is_str(member("{\"\\u006fffer\":7,\"offer\":8}", "offer"), "7",
	    "an escaped name is the name it stands for (the first, as cJSON)");
	is_str(member("{\"a\\\"b\":1}", "a\"b"), "1", "an escaped quote");
	is_str(member("{}", "a"), "(none)", "an empty object");
	is_str(member("[1]", "a"), "(none)", "not an object");
	is_str(member("{\"a\":1", "a"), "(none)", "an unterminated object");
	is_str(member("{\"a\":-0.5e-3}", "a"), "-0.5e-3",
	    "a number exactly as written");
	is_str(member("{\"a\":true,\"b\":null}", "b"), "null", "null");
}

static void
test_element(void)
{
	const char *a = "[\"video:offer\",{\"to\":\"x\"} , 3,\"]\"]";

	is_str(element(a, 0), "\"video:offer\"", "element 0");
	is_str(element(a, 1), "{\"to\":\"x\"}", "element 1, an object");
	is_str(element(a, 2), "3", "element 2");
	is_str(element(a, 3), "\"]\"", "a string holding a bracket");
	is_str(element(a, 4), "(none)", "past the end");
	is_str(element("[]", 0), "(none)", "an empty array");
}

static void
test_safe_integer(void)
{
	long long n = 0;

	is_int(json_safe_integer(42, &n), 0, "42 is an integer");
	is_int(n, 42, "  42");
	is_int(json_safe_integer(9007199254740992.0, &n), 0, "2^53 is one");
	is_int(json_safe_integer(-9007199254740992.0, &n), 0, "-2^53 is one");
	is_int(json_safe_integer(9007199254740994.0, &n), -1,
	    "2^53 + 2 is not (a double has lost integers by then)");
	is_int(json_safe_integer(1e300, &n), -1, "1e300 is refused, not cast");
	is_int(json_safe_integer(-1e300, &n), -1, "-1e300 too");
	is_int(json_safe_integer(0.5, &n), -1, "0.5 is not an integer");
}

int
main(void)
{
	test_strict();
	test_member();
	test_element();
	test_safe_integer();
	return tap_done();
}
