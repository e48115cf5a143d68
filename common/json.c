/*
 * json.c - JSON as the JavaScript peers read it (JSON.parse()'s grammar,
 * where cJSON is looser), and the raw text of one member or element of a
 * JSON text, so that what a client wrote can be handed on as written.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "xmalloc.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_json_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Length of the JSON number at s, or 0 if it is not one.  cJSON collects
 * any run of "0-9+-.eE" and hands it to strtod(), so it takes "01", "1.",
 * "-.5" and "1e5e5"-style runs that JSON.parse() refuses; the grammar here
 * is JSON's, and the number must end where cJSON's run would.
 */
static size_t
json_number_len(const char *s, size_t len)
{
	static const char run[] = "0123456789+-.eE";
	size_t i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i == len || !is_digit(s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < len && is_digit(s[i]))
			i++;
	if (i < len && s[i] == '.') {
		if (++i == len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && memchr(run, s[i], sizeof(run) - 1) != NULL)
		return 0;
	return i;
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The four hex digits after "\u".  cJSON reads bad ones ("\uthor") as
 * \u0000, which would hand on a string other than the one sent, so they
 * are refused.  (\u0000 itself and lone surrogates are valid JSON that
 * JSON.stringify() writes; soften_escapes() deals with them.)
 */
static int
unicode_escape_ok(const char *s, size_t len)
{
	int i;

	if (len < 4)
		return 0;
	for (i = 0; i < 4; i++)
		if (!is_hex(s[i]))
			return 0;
	return 1;
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++)
		v = v * 16 + (unsigned)(is_digit(s[i]) ? s[i] - '0' :
		    (s[i] | 0x20) - 'a' + 10);
	return v;
}

/*
 * Two escapes that JSON.parse() takes and cJSON cannot: \u0000 (it would
 * cut the C string short) and a lone UTF-16 surrogate (cJSON refuses the
 * whole text).  Both become U+FFFD, the replacement character, in place
 * (same length), as a UTF-8 encoder in JavaScript would do with a lone
 * surrogate.  Runs after json_tokens_ok(), so every \u has four hex
 * digits and every string is terminated.
 */
static void
soften_escapes(char *s, size_t len)
{
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			in_string = !in_string;
			continue;
		}
		if (!in_string || s[i] != '\\')
			continue;
		if (s[++i] != 'u')
			continue;
		unsigned v = hex4(s + i + 1);
		int lone = 0;

		if (v >= 0xd800 && v <= 0xdbff) {
			/* A high surrogate wants a low one right after. */
			if (i + 10 < len && s[i + 5] == '\\' &&
			    s[i + 6] == 'u') {
				unsigned w = hex4(s + i + 7);

				if (w >= 0xdc00 && w <= 0xdfff) {
					i += 10;	/* a good pair */
					continue;
				}
			}
			lone = 1;
		} else if (v >= 0xdc00 && v <= 0xdfff)
			lone = 1;
		if (v == 0 || lone)
			memcpy(s + i + 1, "fffd", 4);
		i += 4;
	}
}

/*
 * The tokens cJSON is looser about than JSON.parse(), the parser the Node
 * server and its clients use: it skips any control character as a blank,
 * keeps raw control characters in strings (a NUL silently cuts a string
 * short), reads a bad \u escape as \u0000, and reads numbers with
 * strtod().  A packet the Node server would close the connection on must
 * not get through here, so strings and numbers are checked first; cJSON
 * then checks the structure.
 */
static int
json_tokens_ok(const char *s, size_t len)
{
	size_t i = 0, n;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)s[i];
		if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if ((unsigned char)s[i] < 0x20)
					return 0;
				if (s[i] != '\\')
					continue;
				if (++i == len)
					return 0;
				/* cJSON checks the one-letter escapes. */
				if (s[i] == 'u') {
					if (!unicode_escape_ok(s + i + 1,
					    len - i - 1))
						return 0;
					i += 4;
				}
			}
			if (i == len)
				return 0;	/* unterminated */
			i++;
		} else if (c == '-' || is_digit((char)c)) {
			if ((n = json_number_len(s + i, len - i)) == 0)
				return 0;
			i += n;
		} else if (c < 0x20 && !is_json_blank((char)c)) {
			return 0;
		} else
			i++;
	}
	return 1;
}

cJSON *
json_parse_strict(const char *s, size_t len, char **text)
{
	cJSON	*json;
	char	*copy;

	if (text != NULL)
		*text = NULL;
	if (!json_tokens_ok(s, len))
		return NULL;
	/* A copy with a NUL gives cJSON the terminated string its
	 * whole-input check wants (one value, then only blanks), and keeps
	 * it from ever looking past our bytes. */
	copy = xmalloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	soften_escapes(copy, len);
	json = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
	if (json != NULL && text != NULL)
		*text = copy;
	else
		free(copy);
	return json;
}

/* ---------------------------------------------------------------- spans */

/*
 * The scanner below walks text that is already known to be JSON, so it
 * only has to find where values end; every step is still bounded by len,
 * so text that is not JSON after all ends in -1, never past the end.
 */

static size_t
skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && is_json_blank(s[i]))
		i++;
	return i;
}

/* s[i] is '"': the index just past the closing quote, or len. */
static size_t
skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

/* The index just past the value at s[i], or len if it does not end. */
static size_t
skip_value(const char *s, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return len;
	if (s[i] == '"')
		return skip_string(s, len, i);
	if (s[i] != '{' && s[i] != '[') {
		while (i < len && strchr(",:]} \t\r\n", s[i]) == NULL)
			i++;
		return i;
	}
	/* Nesting by counting brackets: strings are skipped whole. */
	while (i < len) {
		char c = s[i];

		if (c == '"') {
			i = skip_string(s, len, i);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return len;
}

/* Does the raw name k[0..n) (between its quotes) say `want` (ASCII)? */
static int
name_is(const char *k, size_t n, const char *want)
{
	size_t i = 0;
	unsigned c;

	while (i < n) {
		if (k[i] != '\\') {
			c = (unsigned char)k[i++];
		} else if (i + 1 >= n) {
			return 0;
		} else {
			switch (k[i + 1]) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				if (i + 6 > n)
					return 0;
				c = hex4(k + i + 2);
				i += 4;
				break;
			default: c = (unsigned char)k[i + 1]; break;
			}
			i += 2;
		}
		if (*want == '\0' || (unsigned char)*want != c)
			return 0;
		want++;
	}
	return *want == '\0';
}

/*
 * The value that starts at s[v]: *end is just past it.  Inside an object
 * or array a value is always followed by something (',', '}' or ']'), so
 * one that runs to the end of the text is not one.
 */
static int
value_at(const char *s, size_t len, size_t v, size_t *end)
{
	size_t i = skip_value(s, len, v);

	if (i >= len || i == v)
		return -1;
	*end = i;
	return 0;
}

/* From the end of a value to the start of the next item: -1 at the end
 * of the object or array. */
static int
next_item(const char *s, size_t len, size_t *i)
{
	*i = skip_blanks(s, len, *i);
	if (*i >= len || s[*i] != ',')
		return -1;
	(*i)++;
	return 0;
}

int
json_member(const char *s, size_t len, const char *key, struct json_span *out)
{
	size_t i = skip_blanks(s, len, 0), k, kend, v;

	if (i >= len || s[i] != '{')
		return -1;
	for (i++;; ) {
		i = skip_blanks(s, len, i);
		if (i >= len || s[i] != '"')
			return -1;		/* '}' (or not JSON): not there */
		k = i + 1;
		kend = skip_string(s, len, i);
		i = skip_blanks(s, len, kend);
		if (i >= len || s[i] != ':')
			return -1;
		v = skip_blanks(s, len, i + 1);
		if (value_at(s, len, v, &i) < 0)
			return -1;
		if (name_is(s + k, kend - 1 - k, key)) {
			out->p = s + v;
			out->len = i - v;
			return 0;
		}
		if (next_item(s, len, &i) < 0)
			return -1;
	}
}

int
json_element(const char *s, size_t len, unsigned n, struct json_span *out)
{
	size_t i = skip_blanks(s, len, 0), v;

	if (i >= len || s[i] != '[')
		return -1;
	for (i++;; n--) {
		v = skip_blanks(s, len, i);
		if (v >= len || s[v] == ']' || value_at(s, len, v, &i) < 0)
			return -1;
		if (n == 0) {
			out->p = s + v;
			out->len = i - v;
			return 0;
		}
		if (next_item(s, len, &i) < 0)
			return -1;
	}
}

int
json_safe_integer(double d, long long *out)
{
	/* 2^53: beyond it a double no longer holds every integer. */
	if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
	    d != (double)(long long)d)
		return -1;
	*out = (long long)d;
	return 0;
}

/* cJSON's hook takes a size_t and returns void *: xmalloc's own shape. */
void
json_use_xmalloc(void)
{
	cJSON_Hooks hooks = { .malloc_fn = xmalloc, .free_fn = free };

	cJSON_InitHooks(&hooks);
}
