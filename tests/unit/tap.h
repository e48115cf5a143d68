/*
 * tap.h - just enough of the Test Anything Protocol for our C unit tests.
 *
 * automake's tap-driver.sh reads the output; a test program calls ok()/is()
 * as it goes and returns tap_done() from main().
 */
#ifndef COUP_TAP_H
#define COUP_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static inline int
tap_ok(int cond, const char *file, int line, const char *what)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, what);
	if (!cond)
		printf("# failed at %s:%d\n", file, line);
	return cond;
}

#define ok(cond, what)	tap_ok(!!(cond), __FILE__, __LINE__, (what))

/* Compare two strings, printing both when they differ. */
#define is_str(got, want, what) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int c_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;	\
	if (!tap_ok(c_, __FILE__, __LINE__, (what)))			\
		printf("#   got:  '%s'\n#   want: '%s'\n",		\
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)");		\
} while (0)

#define is_int(got, want, what) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (!tap_ok(g_ == w_, __FILE__, __LINE__, (what)))		\
		printf("#   got:  %lld\n#   want: %lld\n", g_, w_);	\
} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
