/*
 * confdoc.c - print the documentation of every configuration key from the
 * one table in common/config.h, so the man page and the example file
 * cannot drift from what coup-gateway accepts.
 *
 *   confdoc --man              the mdoc .Bl -tag list of the keys
 *   confdoc --man TEMPLATE     TEMPLATE with its "@KEYS@" line replaced
 *                              by that list (man/coup-signaling.conf.5.in)
 *   confdoc --conf             the commented example configuration file
 *                              (etc/coup-signaling.conf)
 *   confdoc --keys             one line per key: its name, then 1 if
 *                              SIGHUP may change it, else 0
 *
 * tests/tools/check-docs compares the committed files with this output;
 * `tests/tools/check-docs --update` rewrites them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Width of the example file's comment lines and the man page's text. */
#define CONF_WIDTH	72
#define TEXT_WIDTH	72

/* ------------------------------------------------------------ mdoc */

/*
 * Body text as roff input, filled to TEXT_WIDTH: a backslash is written
 * \e, a line that would start with a control character gets \& first, a
 * word with a hyphen inside gets \% so it is not broken there
 * ("coup-gateway"), and every sentence starts a new line (mandoc warns
 * otherwise).
 */
static void
man_text(FILE *fp, const char *s)
{
	size_t col = 0;

	for (;;) {
		size_t len;
		int hyphen = 0, stop;

		while (*s == ' ')
			s++;
		if ((len = strcspn(s, " ")) == 0)
			break;
		for (size_t i = 1; i + 1 < len; i++)
			if (s[i] == '-' && isalnum((unsigned char)s[i - 1]) &&
			    isalnum((unsigned char)s[i + 1]))
				hyphen = 1;
		if (col > 0 && col + 1 + len > TEXT_WIDTH) {
			fputc('\n', fp);
			col = 0;
		}
		if (col > 0) {
			fputc(' ', fp);
			col++;
		}
		if (col == 0 && (*s == '.' || *s == '\''))
			col += (size_t)fprintf(fp, "\\&");
		if (hyphen)
			col += (size_t)fprintf(fp, "\\%%");
		for (size_t i = 0; i < len; i++)
			if (s[i] == '\\')
				col += (size_t)fprintf(fp, "\\e");
			else {
				fputc(s[i], fp);
				col++;
			}
		stop = strchr(".?!", s[len - 1]) != NULL;
		s += len;
		if (stop && col > 0) {
			fputc('\n', fp);
			col = 0;
		}
	}
	if (col > 0)
		fputc('\n', fp);
}

/*
 * One argument of a macro line: \& keeps it from being read as a macro
 * name or a delimiter, and quotes keep blanks inside it.
 */
static void
man_arg(FILE *fp, const char *s)
{
	int quote = strpbrk(s, " \t") != NULL;

	fputs(quote ? "\"\\&" : "\\&", fp);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '"')
			fputs("\\(dq", fp);
		else
			fputc(*s, fp);
	}
	if (quote)
		fputc('"', fp);
}

/* "a|b|c" as ".Cm a ,\n.Cm b\nor\n.Cm c" followed by `punct`. */
static void
man_choices(FILE *fp, const char *choices, const char *punct)
{
	char *copy = strdup(choices), *word, *save = NULL;
	int n = 0, total = 1;

	if (copy == NULL) {
		perror("confdoc");
		exit(1);
	}
	for (const char *p = choices; *p != '\0'; p++)
		total += *p == '|';
	for (word = strtok_r(copy, "|", &save); word != NULL;
	    word = strtok_r(NULL, "|", &save)) {
		n++;
		if (n > 1 && n == total)
			fputs("or\n", fp);
		fputs(".Cm ", fp);
		man_arg(fp, word);
		if (n < total - 1)
			fputs(" ,", fp);
		if (n == total && *punct != '\0')
			fprintf(fp, " %s", punct);
		fputc('\n', fp);
	}
	free(copy);
}

static const char *
man_meta(int k)
{
	switch (config_defs[k].type) {
	case CONFIG_INT:
		return "number";
	case CONFIG_ENUM:
		return "word";
	case CONFIG_URL:
		return "url";
	case CONFIG_STRING:
		break;
	}
	return "text";
}

static void
man_key(FILE *fp, int k)
{
	const struct config_def *d = &config_defs[k];

	fprintf(fp, ".It Ev %s Ns = Ns Ar %s\n", d->name, man_meta(k));
	man_text(fp, d->doc);

	switch (d->type) {
	case CONFIG_INT:
		fprintf(fp, "An integer from %lld to %lld.\n", d->min, d->max);
		break;
	case CONFIG_STRING:
		if (d->min > 0)
			fprintf(fp, "Text of %lld to %lld bytes.\n", d->min,
			    d->max);
		else
			fprintf(fp, "Text of at most %lld bytes.\n", d->max);
		break;
	case CONFIG_ENUM:
		fputs("One of\n", fp);
		man_choices(fp, d->choices, ".");
		break;
	case CONFIG_URL:
		if (k == CFG_REDIS_URL)
			fputs("A\n.Li redis:// ,\n.Li rediss://\nor\n"
			    ".Li unix\\&:\nURL.\n", fp);
		else
			fputs("An\n.Li http://\nor\n.Li https://\nURL.\n", fp);
		break;
	}

	if (d->defval == NULL)
		fputs("Unset by default.\n", fp);
	else if (*d->defval == '\0')
		fputs("Empty by default.\n", fp);
	else {
		fputs("The default is\n.Ql ", fp);
		man_arg(fp, d->defval);
		fputs(" .\n", fp);
	}

	if (d->reloadable)
		fputs(".Dv SIGHUP\napplies a change at run time.\n", fp);
	else
		fputs("A change needs a restart.\n", fp);
}

static void
man_list(FILE *fp)
{
	fputs(".Bl -tag -width Ds\n", fp);
	for (int k = 0; k < CFG__COUNT; k++)
		man_key(fp, k);
	fputs(".El\n", fp);
}

/* Copy the template, the list in place of its one "@KEYS@" line. */
static int
man_page(FILE *fp, const char *template)
{
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int found = 0;

	if ((in = fopen(template, "r")) == NULL) {
		perror(template);
		return 1;
	}
	while ((n = getline(&line, &cap, in)) != -1) {
		if (strcmp(line, "@KEYS@\n") == 0 || strcmp(line, "@KEYS@") == 0) {
			man_list(fp);
			found++;
		} else
			fputs(line, fp);
	}
	free(line);
	if (ferror(in)) {
		perror(template);
		fclose(in);
		return 1;
	}
	fclose(in);
	if (found != 1) {
		fprintf(stderr, "confdoc: %s: expected one @KEYS@ line, found "
		    "%d\n", template, found);
		return 1;
	}
	return 0;
}

/* ----------------------------------------------------- example file */

/* Comment text wrapped at CONF_WIDTH, each line starting "# ". */
static void
conf_comment(FILE *fp, const char *s)
{
	size_t col = 0;

	while (*s != '\0') {
		size_t len;

		while (*s == ' ')
			s++;
		len = strcspn(s, " ");
		if (len == 0)
			break;
		if (col > 0 && col + 1 + len > CONF_WIDTH) {
			fputc('\n', fp);
			col = 0;
		}
		if (col == 0) {
			fputs("#", fp);
			col = 1;
		}
		fprintf(fp, " %.*s", (int)len, s);
		col += 1 + len;
		s += len;
	}
	if (col > 0)
		fputc('\n', fp);
}

/* The default as config_load_file() would read it back. */
static void
conf_value(FILE *fp, const char *s)
{
	const char *q = config_file_quote(s);

	fprintf(fp, "%s%s%s", q, s, q);
}

static void
conf_key(FILE *fp, int k)
{
	const struct config_def *d = &config_defs[k];
	char text[1024], kind[256];

	switch (d->type) {
	case CONFIG_INT:
		snprintf(kind, sizeof(kind), "An integer from %lld to %lld.",
		    d->min, d->max);
		break;
	case CONFIG_STRING:
		if (d->min > 0)
			snprintf(kind, sizeof(kind), "Text of %lld to %lld "
			    "bytes.", d->min, d->max);
		else
			snprintf(kind, sizeof(kind), "Text of at most %lld "
			    "bytes.", d->max);
		break;
	case CONFIG_ENUM: {
		/* "a|b|c" -> "One of: a, b, c." */
		size_t o = (size_t)snprintf(kind, sizeof(kind), "One of: ");

		for (const char *p = d->choices; *p != '\0' &&
		    o + 3 < sizeof(kind); p++) {
			if (*p == '|') {
				kind[o++] = ',';
				kind[o++] = ' ';
			} else
				kind[o++] = *p;
		}
		snprintf(kind + o, sizeof(kind) - o, ".");
		break;
	}
	case CONFIG_URL:
		snprintf(kind, sizeof(kind), "%s URL.", k == CFG_REDIS_URL ?
		    "A redis://, rediss:// or unix:" :
		    "An http:// or https://");
		break;
	}
	snprintf(text, sizeof(text), "%s %s%s %s", d->doc, kind,
	    d->defval == NULL ? " Unset by default." : "",
	    d->reloadable ? "SIGHUP applies a change." :
	    "A change needs a restart.");

	conf_comment(fp, text);
	fprintf(fp, "#%s=", d->name);
	if (d->defval != NULL)
		conf_value(fp, d->defval);
	fputc('\n', fp);
}

static void
conf_file(FILE *fp)
{
	fputs(
"# coup-signaling.conf - configuration of the CoUp signaling server.\n"
"#\n"
"# coup-gateway(8) reads this file when started with --config FILE (the\n"
"# init script passes it), and coupctl(8) --config FILE reads it to find\n"
"# the control socket.  One KEY=VALUE a line; '#' starts a comment;\n"
"# values may be quoted.  Every key is listed below, commented out at its\n"
"# default: remove the '#' and change the value to set one.  A key set in\n"
"# the environment or on coup-gateway's command line overrides this file.\n"
"# The format and every key: coup-signaling.conf(5).\n"
"#\n"
"# Generated from common/config.h by tests/tools/confdoc --conf.\n", fp);
	for (int k = 0; k < CFG__COUNT; k++) {
		fputc('\n', fp);
		conf_key(fp, k);
	}
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *fp)
{
	fputs("usage: confdoc --man [TEMPLATE] | --conf | --keys\n", fp);
}

int
main(int argc, char **argv)
{
	int rc = 0;

	if (argc == 2 && strcmp(argv[1], "--conf") == 0)
		conf_file(stdout);
	else if (argc == 2 && strcmp(argv[1], "--keys") == 0)
		for (int k = 0; k < CFG__COUNT; k++)
			printf("%s %d\n", config_defs[k].name,
			    config_defs[k].reloadable ? 1 : 0);
	else if (argc == 2 && strcmp(argv[1], "--man") == 0)
		man_list(stdout);
	else if (argc == 3 && strcmp(argv[1], "--man") == 0)
		rc = man_page(stdout, argv[2]);
	else if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	} else {
		usage(stderr);
		return 2;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("confdoc: stdout");
		return 1;
	}
	return rc;
}
