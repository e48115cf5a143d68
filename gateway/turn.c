/*
 * turn.c - ICE servers for a user's calls (turn.h).
 *
 * The TURN server (coturn with use-auth-secret and static-auth-secret)
 * shares one secret with us and checks, for each allocation, that the
 * password is base64(HMAC-SHA1(secret, username)) and that the expiry at
 * the head of the username has not passed: credentials made here are
 * never stored anywhere, and cost nothing to make.  STUN is asked of the
 * same servers (coturn answers both on its port).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64.h"
#include "config.h"
#include "turn.h"
#include "xmalloc.h"

#define TURN_URLS_MAX	16
#define SECRET_MAX	1024

static struct {
	char	*turn[TURN_URLS_MAX];	/* turn:host:port[?transport=...] */
	char	*stun[TURN_URLS_MAX];	/* stun:host:port, one per host */
	int	 nturn, nstun;
	char	*secret;
	size_t	 secret_len;
	long	 ttl;
} t;

static int
fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg);
	return -1;
}

/* The first line of path, without its end of line. */
static int
read_secret(const char *path, char *err, size_t errlen)
{
	char buf[SECRET_MAX + 2];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return fail(err, errlen, "TURN_SECRET_FILE: cannot open %s",
		    path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return fail(err, errlen, "TURN_SECRET_FILE: cannot read %s",
		    path);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0' || strlen(buf) > SECRET_MAX)
		return fail(err, errlen, "TURN_SECRET_FILE: %s holds no "
		    "secret on its first line (1 to 1024 bytes)", path);
	t.secret = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* "turn:host:port?transport=tcp" -> "stun:host:port" (NULL for turns:,
 * which has no plain STUN on its port). */
static char *
stun_of(const char *url)
{
	size_t n;

	if (strncmp(url, "turn:", 5) != 0)
		return NULL;
	n = strcspn(url + 5, "?");
	return xasprintf("stun:%.*s", (int)n, url + 5);
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int
add_url(const char *u, size_t n, char *err, size_t errlen)
{
	char *url = xstrndup(u, n), *stun;

	if (t.nturn == TURN_URLS_MAX) {
		free(url);
		return fail(err, errlen, "TURN_URLS: more than %s URLs", "16");
	}
	if ((strncmp(url, "turn:", 5) != 0 && strncmp(url, "turns:", 6) != 0) ||
	    url[strcspn(url, ":") + 1] == '\0' || strpbrk(url, " \t\"\\") !=
	    NULL || has_control(url)) {
		snprintf(err, errlen, "TURN_URLS: \"%.200s\" is not a turn: or "
		    "turns: URL", url);
		free(url);
		return -1;
	}
	t.turn[t.nturn++] = url;
	if ((stun = stun_of(url)) != NULL) {
		for (int i = 0; i < t.nstun; i++)
			if (strcmp(t.stun[i], stun) == 0) {
				free(stun);
				return 0;
			}
		t.stun[t.nstun++] = stun;
	}
	return 0;
}

int
turn_configure(const struct config *cfg, char *err, size_t errlen)
{
	const char *urls = config_str(cfg, CFG_TURN_URLS);
	const char *secret = config_str(cfg, CFG_TURN_SECRET);
	const char *file = config_str(cfg, CFG_TURN_SECRET_FILE);
	const char *p;

	turn_free();
	t.ttl = config_int(cfg, CFG_TURN_TTL);
	if (*secret != '\0' && *file != '\0')
		return fail(err, errlen, "TURN_SECRET and TURN_SECRET_FILE are "
		    "both set%s: set one", "");
	if (*urls == '\0') {
		if (*secret != '\0' || *file != '\0')
			return fail(err, errlen, "TURN_SECRET%s is set but "
			    "TURN_URLS is not", *file ? "_FILE" : "");
		return 0;
	}
	for (p = urls; *p != '\0';) {
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && add_url(p, n, err, errlen) < 0) {
			turn_free();
			return -1;
		}
		p += strcspn(p, ",");
	}
	if (*file != '\0' ? read_secret(file, err, errlen) < 0 :
	    (*secret == '\0' ? fail(err, errlen, "TURN_URLS is set but "
	    "neither TURN_SECRET nor TURN_SECRET_FILE%s", "") : 0) < 0) {
		turn_free();
		return -1;
	}
	if (t.secret == NULL)
		t.secret = xstrdup(secret);
	t.secret_len = strlen(t.secret);
	return 0;
}

int
turn_enabled(void)
{
	return t.nturn > 0;
}

static cJSON *
url_list(char *const *v, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

cJSON *
turn_ice_servers(const char *user_id)
{
	cJSON *list = cJSON_CreateArray(), *o;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *username, pass[BASE64_ENCODED_LEN(EVP_MAX_MD_SIZE) + 1];

	if (t.nturn == 0)
		return list;
	if (t.nstun > 0) {
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "urls", url_list(t.stun, t.nstun));
		cJSON_AddItemToArray(list, o);
	}
	username = xasprintf("%lld:%s", (long long)time(NULL) + t.ttl,
	    user_id);
	if (HMAC(EVP_sha1(), t.secret, (int)t.secret_len,
	    (const unsigned char *)username, strlen(username), mac,
	    &maclen) == NULL)
		maclen = 0;
	base64_encode(pass, mac, maclen);
	pass[BASE64_ENCODED_LEN(maclen)] = '\0';
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "urls", url_list(t.turn, t.nturn));
	cJSON_AddStringToObject(o, "username", username);
	cJSON_AddStringToObject(o, "credential", pass);
	cJSON_AddItemToArray(list, o);
	free(username);
	return list;
}

void
turn_free(void)
{
	for (int i = 0; i < t.nturn; i++)
		free(t.turn[i]);
	for (int i = 0; i < t.nstun; i++)
		free(t.stun[i]);
	if (t.secret != NULL) {
		explicit_bzero(t.secret, strlen(t.secret));
		free(t.secret);
	}
	memset(&t, 0, sizeof(t));
}
