/*
 * test_cookie.c - protocol/cookie.c: which cookies of a Cookie header are
 * kept for an authentication by session, and which never are.
 */
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "log.h"
#include "tap.h"

static const char *NAMES = "next-auth.session-token, __Secure-next-auth.session-token";

static void
check(const char *header, const char *want, const char *what)
{
	char *got = cookie_filter(header, NAMES, 64);

	if (want == NULL)
		ok(got == NULL, what);
	else
		is_str(got ? got : "(none)", want, what);
	free(got);
}

int
main(void)
{
	log_init("test_cookie", LOG_LEVEL_WARN);
	check("next-auth.session-token=abc", "next-auth.session-token=abc",
	    "the session cookie alone");
	check("theme=dark; next-auth.session-token=abc; _ga=GA1.2",
	    "next-auth.session-token=abc", "among others: only it");
	check("  next-auth.session-token = abc ;theme=dark",
	    "next-auth.session-token = abc", "spaces around are not part of it");
	check("__Secure-next-auth.session-token=x; next-auth.session-token=y",
	    "__Secure-next-auth.session-token=x; next-auth.session-token=y",
	    "two wanted names: both, in their order");
	check("theme=dark; _ga=1", NULL, "none of the names: nothing");
	check("", NULL, "an empty header: nothing");
	check("next-auth.session-token", NULL, "a name without a value: nothing");
	check("xnext-auth.session-token=1; next-auth.session-tokenx=2", NULL,
	    "names that only contain a wanted one: nothing");
	check("next-auth.session-token=a\x01" "b", NULL,
	    "a control character in a kept cookie: nothing");
	check("next-auth.session-token=0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789", NULL,
	    "over the bound: nothing");
	check(";;; ; next-auth.session-token=v;;", "next-auth.session-token=v",
	    "empty pairs are skipped");
	ok(cookie_filter(NULL, NAMES, 64) == NULL, "no header: nothing");
	return tap_done();
}
