/*
 * replay_main.c - run a fuzz target over its seed corpus, without libFuzzer.
 *
 * Linked with one fuzz_NAME.c file this makes replay_NAME (replay_eio,
 * replay_config, ...), which `make check` runs on every build (with the
 * sanitizers when configured so), so the targets and their corpora never
 * rot even where clang is missing.  Usage: replay_NAME [corpus-dir]; the default directory is
 * $top_srcdir/tests/fuzz/corpus/NAME, or corpus/NAME beside the program
 * when top_srcdir is unset.  Output is TAP, one line per file; a crash or
 * a sanitizer report ends the program and so fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"


/* Longest seed we accept: seeds are meant to be small. */
#define SEED_MAX	(1 << 20)

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "replay_eio" -> "eio", from the last path component of argv[0]. */
static const char *
target_name(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	if (strncmp(base, "replay_", 7) == 0)
		return base + 7;
	return base;
}

/* The whole file in an exactly sized heap block (so ASan sees overreads). */
static uint8_t *
read_file(const char *path, size_t *lenp)
{
	struct stat st;
	uint8_t *data;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(f), &st) != 0 || st.st_size > SEED_MAX ||
	    (data = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*lenp = fread(data, 1, (size_t)st.st_size, f);
	if (ferror(f) || *lenp != (size_t)st.st_size) {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

int
main(int argc, char **argv)
{
	char dir[4096], path[8192], **names = NULL;
	const char *top, *name = target_name(argv[0]);
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i, len;
	uint8_t *data;
	int failed = 0;
	DIR *d;

	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else if ((top = getenv("top_srcdir")) != NULL && *top != '\0')
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top,
		    name);
	else {
		/* Beside the program: right for an in-tree build. */
		const char *slash = strrchr(argv[0], '/');
		int dlen = slash ? (int)(slash - argv[0]) : 1;

		snprintf(dir, sizeof(dir), "%.*s/corpus/%s", dlen,
		    slash ? argv[0] : ".", name);
	}

	if ((d = opendir(dir)) == NULL) {
		printf("Bail out! cannot open corpus %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		/* Seeds only: no dot files, no subdirectories. */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	if (n == 0) {
		printf("Bail out! corpus %s is empty\n", dir);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp_names);

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((data = read_file(path, &len)) == NULL) {
			printf("not ok %zu - corpus file %s (unreadable)\n",
			    i + 1, names[i]);
			failed = 1;
		} else {
			fflush(stdout);	/* our lines before any crash report */
			LLVMFuzzerTestOneInput(data, len);
			free(data);
			printf("ok %zu - corpus file %s\n", i + 1, names[i]);
		}
		free(names[i]);
	}
	free(names);
	printf("1..%zu\n", n);
	return failed;
}
