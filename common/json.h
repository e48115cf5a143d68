/*
 * json.h - JSON read as strictly as JSON.parse() (json.c).
 */
#ifndef COUP_JSON_H
#define COUP_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* ' ', '\t', '\n' or '\r': the blanks JSON allows between tokens. */
int	json_is_blank(char);
/*
 * The one JSON value in `len` bytes at s (no NUL needed), or NULL if they
 * are not exactly that in JSON.parse()'s grammar.  \u0000 and lone UTF-16
 * surrogates, which JSON.parse() takes and cJSON cannot, come out as
 * U+FFFD.  Free the result with cJSON_Delete().
 */
cJSON	*json_parse_strict(const char *s, size_t len);

#endif
