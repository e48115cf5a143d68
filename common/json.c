/*
 * json.c - JSON read as JSON.parse() reads it, where cJSON is looser.
 *
 * Our peers write JSON with JSON.stringify() and read it with
 * JSON.parse(); cJSON takes more than that grammar and reads some of it
 * differently (see json_tokens_ok()).  json_parse_strict() reads what
 * clients and administrators send: the Socket.IO packets (sio_packet.c)
 * and the control socket's requests (gateway/control_req.c).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
json_is_blank(char c)
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
		} else if (c < 0x20 && !json_is_blank((char)c)) {
			return 0;
		} else
			i++;
	}
	return 1;
}

/*
 * A copy with a NUL gives cJSON the terminated string its whole-input
 * check wants (one value, then only blanks), and keeps it from ever
 * looking past our bytes (cJSON 1.7.15 as released reads one byte past
 * the given length when an object ends in a comma).
 */
cJSON *
json_parse_strict(const char *s, size_t len)
{
	cJSON	*json;
	char	*copy;

	if (!json_tokens_ok(s, len))
		return NULL;
	if ((copy = malloc(len + 1)) == NULL)
		fatal("json_parse_strict: malloc");
	memcpy(copy, s, len);
	copy[len] = '\0';
	soften_escapes(copy, len);
	json = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
	free(copy);
	return json;
}
