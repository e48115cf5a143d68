/*
 * fuzz_config.c - libFuzzer target for the configuration file parser.
 *
 * The input is the text of a --config file (or a Next.js .env file), read
 * by config_parse_text() over the defaults.  It must return 0 or -1; on -1
 * err holds a message that names the file; on 0 every key holds a value
 * its line of the table in config.h allows, checked here by hand rather
 * than with config.c's own checks.  What config_dump() prints for that
 * configuration must then read back to the same values, as its comment
 * promises.  Any broken promise aborts, which libFuzzer reports as a
 * crash; leaks are LeakSanitizer's.  Built with replay_main.c, the same
 * code replays the seed corpus under `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

#define NAME		"fuzz.env"

/* An optional sign, then decimal digits, and nothing else. */
static int
decimal(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '\0')
		return 0;
	return strspn(s, "0123456789") == strlen(s);
}

/* Index of s in the '|'-separated choices, or -1. */
static long long
choice_index(const char *choices, const char *s)
{
	size_t len = strlen(s);
	long long i = 0;

	for (;;) {
		size_t n = strcspn(choices, "|");

		if (n == len && strncmp(choices, s, n) == 0)
			return i;
		if (choices[n] == '\0')
			return -1;
		choices += n + 1;
		i++;
	}
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* The value of key k as config.h defines it. */
static void
check_value(const struct config *cfg, int k)
{
	const struct config_def *d = &config_defs[k];
	const struct config_value *v = &cfg->v[k];

	CHECK(v->src == CONFIG_SRC_DEFAULT || v->src == CONFIG_SRC_FILE);
	if (v->src == CONFIG_SRC_DEFAULT)
		CHECK(d->defval == NULL ? v->s == NULL :
		    v->s != NULL && strcmp(v->s, d->defval) == 0);
	if (v->s == NULL) {
		/* Only a URL without a default may be unset. */
		CHECK(d->type == CONFIG_URL && d->defval == NULL);
		return;
	}
	CHECK(printable(v->s));
	switch (d->type) {
	case CONFIG_INT:
		CHECK(decimal(v->s));
		CHECK(v->i >= d->min && v->i <= d->max);
		CHECK(strtoll(v->s, NULL, 10) == v->i);
		break;
	case CONFIG_ENUM:
		CHECK(choice_index(d->choices, v->s) == v->i);
		CHECK(v->i >= 0);
		break;
	case CONFIG_URL:
		CHECK(strchr(v->s, ' ') == NULL);
		if (k == CFG_REDIS_URL)
			CHECK(starts_with(v->s, "redis://") ||
			    starts_with(v->s, "rediss://") ||
			    (starts_with(v->s, "unix:") && v->s[5] != '\0'));
		else
			CHECK(starts_with(v->s, "http://") ||
			    starts_with(v->s, "https://"));
		break;
	case CONFIG_STRING:
		CHECK((long long)strlen(v->s) >= d->min &&
		    (long long)strlen(v->s) <= d->max);
		break;
	}
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Whether a file can hold the value s at all.  The format has no escapes,
 * so one with all three quote characters must stand unquoted: then it may
 * not start with a quote or a blank, end with a blank, or hold a blank
 * and a '#' (a comment).
 */
static int
representable(const char *s)
{
	size_t len;

	if (s == NULL || strchr(s, '"') == NULL || strchr(s, '\'') == NULL ||
	    strchr(s, '`') == NULL)
		return 1;
	len = strlen(s);
	if (blank(s[0]) || blank(s[len - 1]) || strchr("\"'`", s[0]) != NULL)
		return 0;
	for (size_t i = 1; i < len; i++)
		if (s[i] == '#' && blank(s[i - 1]))
			return 0;
	return 1;
}

/* config_dump()'s output reads back to the same configuration. */
static void
check_dump(const struct config *cfg)
{
	struct config again;
	char err[1024], *text = NULL;
	size_t len = 0;
	FILE *fp;
	int k;

	for (k = 0; k < CFG__COUNT; k++)
		if (!representable(cfg->v[k].s))
			return;
	CHECK((fp = open_memstream(&text, &len)) != NULL);
	config_dump(cfg, fp);
	CHECK(fclose(fp) == 0);

	config_init(&again);
	err[0] = '\0';
	if (config_parse_text(&again, text, len, "dump", err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "config_dump output does not read back: %s\n"
		    "%s", err, text);
		abort();
	}
	for (k = 0; k < CFG__COUNT; k++) {
		const char *a = cfg->v[k].s, *b = again.v[k].s;

		/* A password in a URL is printed as "***", a secret as
		 * "(set)". */
		if (config_defs[k].type == CONFIG_URL && a != NULL &&
		    strchr(a, '@') != NULL)
			continue;
		if (config_is_secret(k) && a != NULL && *a != '\0')
			continue;
		CHECK(a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
		CHECK(cfg->v[k].i == again.v[k].i);
	}
	config_free(&again);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[512], tiny[1];
	int rc, k;

	/* Unknown keys are warnings: not worth a line per run. */
	log_set_level(LOG_LEVEL_ERROR);

	config_init(&cfg);
	memset(err, 'X', sizeof(err));		/* no NUL but what it writes */
	rc = config_parse_text(&cfg, (const char *)data, size, NAME, err,
	    sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
		CHECK(strlen(err) > strlen(NAME ":"));
	}
	/* What was applied before a bad line is still checked. */
	for (k = 0; k < CFG__COUNT; k++)
		check_value(&cfg, k);
	if (rc == 0)
		check_dump(&cfg);
	config_free(&cfg);

	/* The same outcome with no room for a message, or one byte. */
	config_init(&cfg);
	CHECK(config_parse_text(&cfg, (const char *)data, size, NAME, NULL,
	    0) == rc);
	config_free(&cfg);
	config_init(&cfg);
	tiny[0] = 'X';
	CHECK(config_parse_text(&cfg, (const char *)data, size, NAME, tiny,
	    sizeof(tiny)) == rc);
	CHECK(rc == 0 ? tiny[0] == 'X' : tiny[0] == '\0');
	config_free(&cfg);
	return 0;
}
