/*
 * json.h - JSON as the JavaScript peers read it, and the raw text of its
 * parts.
 *
 * json_parse_strict() holds text to JSON.parse()'s grammar where cJSON is
 * looser, for every JSON that comes from outside (a client's packet, a
 * Redis peer's message).  The span functions find the text of one member
 * or element in JSON that json_parse_strict() accepted, so that what a
 * client wrote can be handed on as it was written: cJSON would print it
 * again, and not always as short (1e14 comes out as 100000000000000).
 */
#ifndef COUP_JSON_H
#define COUP_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Some bytes of a JSON text: one whole value. */
struct json_span {
	const char	*p;
	size_t		 len;
};

/*
 * Parse s[0..len) as JSON.parse() would take it: raw control characters
 * in strings, bad \u escapes, numbers outside JSON's grammar and control
 * characters between tokens are refused.  Two escapes that JSON.parse()
 * takes and cJSON cannot are softened first: \u0000 and a lone surrogate
 * become \ufffd (same length).  Returns the tree, or NULL if the text is
 * not JSON.  With text != NULL, *text gets the softened text the tree
 * was built from (NUL-terminated, same length; the caller frees it), in
 * which the span functions below find what the tree holds.
 */
cJSON	*json_parse_strict(const char *s, size_t len, char **text);

/*
 * Makes cJSON allocate with xmalloc (fatal on failure), so no cJSON_Create*,
 * cJSON_Add* or cJSON_Print* returns NULL for want of memory and callers
 * need not check.  Once, first thing in every program's main().
 */
void	 json_use_xmalloc(void);

/*
 * In text that json_parse_strict() accepted (or printed by cJSON): the
 * value of the member `key` of the object in s (the first one of that
 * name, as cJSON_GetObjectItemCaseSensitive() finds; escapes in names
 * count as what they stand for), or element i of the array in s.
 * Return 0 with *out set, or -1 if there is none (or s is not an object,
 * an array).
 */
int	json_member(const char *s, size_t len, const char *key,
	    struct json_span *out);
int	json_element(const char *s, size_t len, unsigned i,
	    struct json_span *out);

/*
 * d as an integer if it is one that a double holds exactly
 * (|d| <= 2^53): 0 and *out set, else -1.  Range first: casting a double
 * outside long long's range is undefined.
 */
int	json_safe_integer(double d, long long *out);

#endif
